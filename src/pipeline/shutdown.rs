//! Process-wide stop signals: a broadcast "stop now" for inputs, a "reopen files" event
//! for SIGHUP, and the exit code a fatal plugin error sets.

use smol::channel::{self, Receiver, Sender};
use std::sync::atomic::{AtomicI32, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

/// Shared control state of one hekad run.
#[derive(Debug, Clone)]
pub struct Control {
    stop_tx: Arc<Mutex<Option<Sender<()>>>>,
    stop_rx: Receiver<()>,
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
        let (tx, rx) = channel::bounded(1);
        Control {
            stop_tx: Arc::new(Mutex::new(Some(tx))),
            stop_rx: rx,
            exit_code: Arc::new(AtomicI32::new(0)),
            reopen_generation: Arc::new(AtomicU64::new(0)),
        }
    }

    /// Starts a graceful shutdown (idempotent). `fatal` makes hekad exit with code 1.
    pub fn shutdown(&self, fatal: bool) {
        if fatal {
            self.exit_code.store(1, Ordering::SeqCst);
        }
        self.stop_tx
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .take();
    }

    /// Resolves once shutdown has started.
    pub async fn stopped(&self) {
        let _ = self.stop_rx.recv().await;
    }

    pub fn is_stopping(&self) -> bool {
        self.stop_rx.is_closed()
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
