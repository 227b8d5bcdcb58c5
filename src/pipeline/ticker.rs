//! A plugin's `ticker_interval`, waited for together with its queue: what a filter or an
//! output with a `timer_event` waits on.

use super::deadline::Deadline;
use super::inbox::Inbox;
use super::pool::SharedPack;
use smol::future::FutureExt;
use std::time::{Duration, Instant};

/// Messages taken between two looks at the clock while the queue never runs empty (a
/// busy queue's `recv` completes at once, so the timer alone would never win the race).
const LOOK_EVERY: u32 = 32;

/// What a plugin does next.
pub enum Event {
    Message(SharedPack),
    /// `ticker_interval` has passed.
    Tick,
    /// The queue is closed and drained: the plugin stops.
    Closed,
}

/// The next tick of a plugin, if it has a ticker.
pub struct Ticker {
    every: Option<Duration>,
    next: Option<Instant>,
    /// One timer registration reused across waits (`deadline.rs`).
    deadline: Deadline,
    since_look: u32,
}

impl Ticker {
    /// Ticks every `every` from now; `None` never ticks.
    pub fn new(every: Option<Duration>) -> Ticker {
        Ticker {
            every,
            next: every.map(|every| Instant::now() + every),
            deadline: Deadline::new(),
            since_look: 0,
        }
    }

    /// The next message from `queue`, or a tick when one is due, or the end of the queue.
    pub async fn next(&mut self, queue: &Inbox) -> Event {
        if let Some(at) = self.next {
            self.since_look += 1;
            if self.since_look >= LOOK_EVERY {
                self.since_look = 0;
                if Instant::now() >= at {
                    return self.ticked();
                }
            }
        }
        let (deadline, next) = (&self.deadline, self.next);
        let received = async { Some(queue.recv().await) };
        let ticked = async {
            match next {
                Some(at) => deadline.until(at).await,
                None => std::future::pending().await,
            }
            None
        };
        match received.or(ticked).await {
            Some(Ok(pack)) => Event::Message(pack),
            Some(Err(_)) => Event::Closed,
            None => self.ticked(),
        }
    }

    /// Schedules the tick after this one: one interval later, or from now when the plugin
    /// fell behind by more than an interval (ticks are not made up).
    fn ticked(&mut self) -> Event {
        if let (Some(at), Some(every)) = (self.next.as_mut(), self.every) {
            *at = (*at + every).max(Instant::now());
        }
        self.since_look = 0;
        Event::Tick
    }
}

/// The ticks of a plugin that has no queue to wait on (an input that polls: a file,
/// a URL, a command, /proc): every `every` from its start until hekad stops.
#[derive(Debug)]
pub struct Polling {
    every: Duration,
    next: Instant,
    deadline: Deadline,
}

impl Polling {
    /// The first tick comes one interval from now.
    pub fn new(every: Duration) -> Polling {
        Polling {
            every,
            next: Instant::now() + every,
            deadline: Deadline::new(),
        }
    }

    /// Waits for the next tick (true) or for hekad to stop (false). A plugin that fell
    /// behind by more than an interval ticks again one interval after now (ticks are not
    /// made up).
    pub async fn tick(&mut self, control: &super::shutdown::Control) -> bool {
        let (deadline, next) = (&self.deadline, self.next);
        let ticked = async {
            deadline.until(next).await;
            true
        };
        let stopped = async {
            control.stopped().await;
            false
        };
        let ticked = ticked.or(stopped).await;
        self.next = (self.next + self.every).max(Instant::now());
        ticked
    }
}
