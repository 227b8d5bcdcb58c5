//! End-to-end acknowledgement of messages, so a source may only checkpoint what the rest of
//! the pipeline has finished with.
//!
//! A source that can replay (a tailed file, a disk queue) registers each message's resume
//! position with its [`AckTracker`] and attaches the returned [`AckToken`] to the pack. The
//! token completes when the pack returns to its pool, that is when the router and every
//! plugin it was routed to are done with it (for a disk-buffered plugin: once the message is
//! in the queue file). The source then checkpoints [`AckTracker::committed`]: the position
//! after the longest prefix of completed messages. A kill -9 can therefore never lose a
//! message that sat in a queue in memory; it only replays what was not yet committed.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex, MutexGuard};

/// A resume position: `(file or segment identity, byte offset after the message)`.
pub type Position = (u64, u64);

#[derive(Debug, Default)]
struct Entries {
    /// Sequence number of `pending[0]`.
    first_seq: u64,
    /// Positions in delivery order, each with the number of live tokens (0 = complete).
    /// The completed prefix is dropped as soon as it completes, so this holds only what
    /// is in flight (and completed entries behind it), however rarely the source asks.
    pending: VecDeque<(Position, u32)>,
    /// The position after the completed prefix dropped since the last
    /// [`AckTracker::committed`], and how many entries that was.
    completed: Option<(Position, u64)>,
}

impl Entries {
    fn drop_completed_prefix(&mut self) {
        while let Some(&(position, 0)) = self.pending.front() {
            self.pending.pop_front();
            self.first_seq += 1;
            let moved = self.completed.map_or(0, |(_, n)| n) + 1;
            self.completed = Some((position, moved));
        }
    }
}

/// Tracks the messages one source has in flight. Bounded: a source can only have as many
/// messages in flight as the pack pool holds, and consecutive completed entries fold into
/// one.
#[derive(Debug, Default)]
pub struct AckTracker {
    entries: Mutex<Entries>,
    /// Notified when the completed prefix moves (sources that acknowledge upstream as
    /// soon as it does: AMQPInput).
    progress: event_listener::Event,
}

/// Completes its message in the tracker when dropped (normally when its pack is recycled).
/// A clone (no allocation) holds the message open too: a disk queue writer keeps one until
/// its fsync, so the source cannot checkpoint past data a power loss could still take.
#[derive(Debug)]
pub struct AckToken {
    /// `None` once abandoned.
    tracker: Option<Arc<AckTracker>>,
    seq: u64,
}

impl AckTracker {
    /// A tracker with room for `in_flight` messages before it needs to grow.
    pub fn new(in_flight: usize) -> Arc<AckTracker> {
        Arc::new(AckTracker {
            entries: Mutex::new(Entries {
                first_seq: 0,
                pending: VecDeque::with_capacity(in_flight * 2 + 2),
                completed: None,
            }),
            progress: event_listener::Event::new(),
        })
    }

    fn lock(&self) -> MutexGuard<'_, Entries> {
        // A panic while holding the lock cannot leave the entries inconsistent.
        self.entries.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Registers a message that resumes at `position`; the token completes it.
    pub fn register(self: &Arc<Self>, position: Position) -> AckToken {
        let mut e = self.lock();
        e.pending.push_back((position, 1));
        let seq = e.first_seq + e.pending.len() as u64 - 1;
        AckToken {
            tracker: Some(self.clone()),
            seq,
        }
    }

    /// Records that everything up to `position` was consumed without a message in flight
    /// (a record dropped by the splitter or decoder).
    pub fn consumed(&self, position: Position) {
        let mut e = self.lock();
        match e.pending.back_mut() {
            Some((last, 0)) => *last = position,
            _ => e.pending.push_back((position, 0)),
        }
    }

    /// Adjusts the live-token count of `seq`.
    fn adjust(&self, seq: u64, add: bool) {
        let mut e = self.lock();
        let Some(index) = seq.checked_sub(e.first_seq) else {
            return;
        };
        let Some((_, refs)) = e.pending.get_mut(index as usize) else {
            return;
        };
        *refs = if add {
            refs.saturating_add(1)
        } else {
            refs.saturating_sub(1)
        };
        if index == 0 && *refs == 0 {
            e.drop_completed_prefix();
            drop(e);
            self.progress.notify(usize::MAX);
        }
    }

    /// The position after the longest completed prefix and how many entries it moved
    /// past, if it moved since the last call.
    pub fn committed(&self) -> Option<(Position, u64)> {
        let mut e = self.lock();
        e.drop_completed_prefix();
        e.completed.take()
    }

    /// Waits until the completed prefix moved, and returns it as [`AckTracker::committed`]
    /// does (immediately if it already moved).
    pub async fn next_committed(&self) -> (Position, u64) {
        loop {
            event_listener::listener!(self.progress => moved);
            if let Some(committed) = self.committed() {
                return committed;
            }
            moved.await;
        }
    }

    /// Messages registered and not yet completed.
    pub fn in_flight(&self) -> usize {
        self.lock()
            .pending
            .iter()
            .filter(|(_, refs)| *refs > 0)
            .count()
    }
}

impl AckToken {
    /// Whether this token completes a message of `tracker` (a disk queue tells its own
    /// messages from those passed straight through from their source).
    pub fn is_from(&self, tracker: &Arc<AckTracker>) -> bool {
        self.tracker
            .as_ref()
            .is_some_and(|t| Arc::ptr_eq(t, tracker))
    }

    /// Gives the message up without completing it: the source will never checkpoint past
    /// it in this run, so it is read again after a restart (a message hekad could not
    /// queue while shutting down).
    pub fn abandon(mut self) {
        self.tracker = None;
    }
}

impl Clone for AckToken {
    fn clone(&self) -> AckToken {
        if let Some(t) = &self.tracker {
            t.adjust(self.seq, true);
        }
        AckToken {
            tracker: self.tracker.clone(),
            seq: self.seq,
        }
    }
}

impl Drop for AckToken {
    fn drop(&mut self) {
        if let Some(t) = &self.tracker {
            t.adjust(self.seq, false);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn commits_only_the_completed_prefix() {
        let t = AckTracker::new(4);
        let a = t.register((1, 10));
        let b = t.register((1, 20));
        t.consumed((1, 25));
        let c = t.register((1, 30));
        assert_eq!(t.committed(), None);
        drop(b);
        assert_eq!(t.committed(), None, "a is still in flight");
        let held = a.clone();
        drop(a);
        assert_eq!(t.committed(), None, "a clone holds the message open");
        drop(held);
        assert_eq!(t.committed(), Some(((1, 25), 3)));
        drop(c);
        assert_eq!(t.committed(), Some(((1, 30), 1)));
        assert_eq!(t.committed(), None);
    }

    #[test]
    fn completed_messages_are_dropped_before_the_source_asks() {
        let t = AckTracker::new(4);
        let open = t.register((3, 0));
        for offset in 1..10_000 {
            drop(t.register((3, offset)));
        }
        assert_eq!(
            t.lock().pending.len(),
            10_000,
            "all wait behind the open one"
        );
        drop(open);
        assert!(
            t.lock().pending.is_empty(),
            "dropped when the prefix completed"
        );
        for offset in 10_000..20_000 {
            drop(t.register((3, offset)));
        }
        assert!(t.lock().pending.is_empty());
        assert_eq!(t.committed(), Some(((3, 19_999), 20_000)));
        assert_eq!(t.committed(), None);
    }

    #[test]
    fn an_abandoned_message_is_never_committed() {
        let t = AckTracker::new(4);
        drop(t.register((2, 1)));
        let a = t.register((2, 10));
        a.abandon();
        drop(t.register((2, 20)));
        assert_eq!(t.committed(), Some(((2, 1), 1)), "only what came before it");
        assert_eq!(t.committed(), None);
    }
}
