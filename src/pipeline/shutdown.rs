//! Process-wide stop signals: a broadcast "stop now" for inputs, a "reopen files" event
//! for SIGHUP, and the exit code a fatal plugin error sets.

use event_listener::Event;
use std::sync::atomic::{AtomicBool, AtomicI32, AtomicU64, Ordering};
use std::sync::Arc;

/// A one-way flag that any number of tasks can wait on. Waiting allocates nothing (the
/// listener lives in the waiting future), so a loop that races every read against it
/// costs no allocation per wait; a closed async-channel allocated a listener each time.
#[derive(Debug, Default)]
pub struct Signal {
    raised: AtomicBool,
    event: Event,
}

impl Signal {
    /// Raises the flag and wakes every waiter (idempotent).
    pub fn raise(&self) {
        self.raised.store(true, Ordering::SeqCst);
        self.event.notify(usize::MAX);
    }

    pub fn is_raised(&self) -> bool {
        self.raised.load(Ordering::SeqCst)
    }

    /// Resolves once the flag is raised.
    pub async fn raised(&self) {
        while !self.is_raised() {
            event_listener::listener!(self.event => listener);
            // Raised between the first look and listening: the notification was missed.
            if self.is_raised() {
                return;
            }
            listener.await;
        }
    }
}

/// Shared control state of one hekad run.
#[derive(Debug, Clone)]
pub struct Control {
    stop: Arc<Signal>,
    exit_code: Arc<AtomicI32>,
    reopen_generation: Arc<AtomicU64>,
}

impl Default for Control {
    fn default() -> Self {
        Self::new()
    }
}

impl Control {
    pub fn new() -> Control {
        Control {
            stop: Arc::default(),
            exit_code: Arc::new(AtomicI32::new(0)),
            reopen_generation: Arc::new(AtomicU64::new(0)),
        }
    }

    /// Starts a graceful shutdown (idempotent). `fatal` makes hekad exit with code 1.
    pub fn shutdown(&self, fatal: bool) {
        if fatal {
            self.exit_code.store(1, Ordering::SeqCst);
        }
        self.stop.raise();
    }

    /// Resolves once shutdown has started.
    pub async fn stopped(&self) {
        self.stop.raised().await;
    }

    pub fn is_stopping(&self) -> bool {
        self.stop.is_raised()
    }

    pub fn exit_code(&self) -> i32 {
        self.exit_code.load(Ordering::SeqCst)
    }

    /// SIGHUP: asks file outputs to reopen their files.
    pub fn request_reopen(&self) {
        self.reopen_generation.fetch_add(1, Ordering::SeqCst);
    }

    /// Increases each time a reopen is requested; outputs compare it with the last seen.
    pub fn reopen_generation(&self) -> u64 {
        self.reopen_generation.load(Ordering::SeqCst)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_waiter_wakes_once_the_signal_is_raised() {
        let signal = Arc::new(Signal::default());
        let waiters: Vec<_> = (0..3)
            .map(|_| {
                let s = signal.clone();
                std::thread::spawn(move || smol::block_on(s.raised()))
            })
            .collect();
        assert!(!signal.is_raised());
        signal.raise();
        for waiter in waiters {
            assert!(waiter.join().is_ok());
        }
        smol::block_on(signal.raised());
    }
}
