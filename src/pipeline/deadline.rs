//! A reusable timeout for loops that wait for "the next item, or a deadline".
//!
//! async-io registers a timer with its reactor the first time the timer is polled, and
//! every registration wakes the reactor's thread (an eventfd write and a context switch).
//! A fresh `Timer::after` per wait therefore cost a busy disk queue about 7,000 reactor
//! wake-ups a second. A [`Deadline`] keeps its registration across waits: asked for a
//! deadline later than the one it is armed with, it waits for the armed one first and
//! re-arms only if that fires early. So a loop whose waits end before their timeouts
//! registers about once per timeout period, however often it waits.

use smol::Timer;
use std::cell::{Cell, RefCell};
use std::future::{poll_fn, Future};
use std::pin::Pin;
use std::time::{Duration, Instant};

/// A timer armed at most once per wait, reused across waits.
///
/// [`until`](Deadline::until) never completes before its instant (a timeout that must
/// have really elapsed); [`within`](Deadline::within) may complete early (a poll).
/// Waits take `&self` and borrow the timer only while polling it, so a wait that is
/// cancelled (dropped by a `race` it lost) leaves the timer armed in place for the next.
#[derive(Debug)]
pub struct Deadline {
    timer: RefCell<Timer>,
    /// When `timer` fires; `None` once it has fired (or was never armed).
    armed: Cell<Option<Instant>>,
}

impl Default for Deadline {
    fn default() -> Self {
        Deadline::new()
    }
}

impl Deadline {
    pub fn new() -> Deadline {
        Deadline {
            timer: RefCell::new(Timer::never()),
            armed: Cell::new(None),
        }
    }

    /// Completes at `at` (at once if it has passed).
    pub async fn until(&self, at: Instant) {
        loop {
            let now = Instant::now();
            if now >= at {
                return;
            }
            match self.armed.get() {
                // Armed no later than `at`, and not fired yet: wait for it, then look again.
                Some(armed) if armed <= at && armed > now => {}
                _ => {
                    self.timer.borrow_mut().set_at(at);
                    self.armed.set(Some(at));
                }
            }
            poll_fn(|cx| Pin::new(&mut *self.timer.borrow_mut()).poll(cx)).await;
            self.armed.set(None);
        }
    }

    /// Completes within `max` from now: at the armed deadline if that is no later, so a
    /// poll loop re-arms about once per `max` however often it waits.
    pub async fn within(&self, max: Duration) {
        let now = Instant::now();
        let at = match self.armed.get() {
            Some(armed) if armed > now && armed <= now + max => armed,
            _ => now + max,
        };
        self.until(at).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use smol::future::FutureExt;

    #[test]
    fn never_completes_early_and_survives_cancelled_waits() {
        smol::block_on(async {
            let deadline = Deadline::new();
            // A wait cancelled before its deadline leaves the timer armed...
            let start = Instant::now();
            let cancelled = async {
                deadline.until(start + Duration::from_millis(200)).await;
                false
            }
            .or(async {
                smol::Timer::after(Duration::from_millis(20)).await;
                true
            })
            .await;
            assert!(cancelled);
            // ...and a later wait with a later deadline still waits its full time.
            let second = Instant::now();
            deadline.until(second + Duration::from_millis(300)).await;
            assert!(second.elapsed() >= Duration::from_millis(300));
            // A deadline earlier than the armed one (left by another cancelled wait).
            let _ = async { deadline.within(Duration::from_secs(60)).await }
                .or(async {})
                .await;
            let third = Instant::now();
            deadline.until(third + Duration::from_millis(10)).await;
            assert!(third.elapsed() >= Duration::from_millis(10));
            assert!(start.elapsed() >= Duration::from_millis(330));
        });
    }
}
