//! Where a filter or output takes its messages from: its router queue in memory, or its
//! disk queue when `use_buffering` is on. Plugins read both the same way.

use super::ack::AckToken;
use super::pool::SharedPack;
use super::queue::reader::QueueReader;
use super::queue::QueueSettings;
use super::ring::Receiver;

/// The plugin's queue has closed and is drained: the plugin should stop.
#[derive(Debug)]
pub struct Closed;

/// A plugin's source of routed messages.
pub enum Inbox {
    Memory(Receiver<SharedPack>),
    Disk(Box<QueueReader>),
}

impl Inbox {
    /// The next message; `Err` once the pipeline is shutting down and the queue is drained.
    pub async fn recv(&self) -> Result<SharedPack, Closed> {
        match self {
            Inbox::Memory(rx) => rx.recv().await.map_err(|_| Closed),
            Inbox::Disk(reader) => reader.recv().await.map_err(|_| Closed),
        }
    }

    /// The next message if one is ready now.
    pub fn try_recv(&self) -> Option<SharedPack> {
        match self {
            Inbox::Memory(rx) => rx.try_recv().ok(),
            Inbox::Disk(reader) => reader.try_recv(),
        }
    }

    /// The next message if one is ready now or once the executor's other ready tasks have
    /// had a turn: a batching output gathers more than `plugin_chansize` messages per write.
    pub async fn try_recv_after_yield(&self) -> Option<SharedPack> {
        super::ring::after_yields(|| self.try_recv()).await
    }

    /// Whether the queue takes no more messages (memory: the router closed it; disk: the
    /// writer stopped and everything was read).
    pub fn is_closed(&self) -> bool {
        match self {
            Inbox::Memory(rx) => rx.is_closed(),
            Inbox::Disk(reader) => reader.is_closed(),
        }
    }

    /// Gives up the messages waiting in memory, for an output stopping without delivering
    /// them: those whose source sends them again at the next start (a tailed file) have
    /// their acknowledgements abandoned; returns how many others there were (lost). A disk
    /// queue keeps its messages: 0.
    pub fn give_up_waiting(&self) -> usize {
        let Inbox::Memory(rx) = self else {
            return 0;
        };
        let mut lost = 0;
        while let Ok(pack) = rx.try_recv() {
            match pack.hold_ack() {
                Some(token) => token.abandon(),
                None => lost += 1,
            }
        }
        lost
    }

    /// Messages waiting in memory (a disk queue reports its size in bytes elsewhere).
    pub fn waiting(&self) -> usize {
        match self {
            Inbox::Memory(rx) => rx.len(),
            Inbox::Disk(_) => 0,
        }
    }

    /// Whether undelivered messages survive a restart (they wait on disk).
    pub fn is_durable(&self) -> bool {
        matches!(self, Inbox::Disk(_))
    }

    /// The disk queue's settings (its directory, fsync policy), if there is one.
    pub fn queue_settings(&self) -> Option<&QueueSettings> {
        match self {
            Inbox::Memory(_) => None,
            Inbox::Disk(reader) => Some(reader.settings()),
        }
    }

    /// Whether `token` completes a message read from the disk queue's files, rather than
    /// one passed straight through from a source that can replay it.
    pub fn is_queued(&self, token: &AckToken) -> bool {
        match self {
            Inbox::Memory(_) => false,
            Inbox::Disk(reader) => reader.owns(token),
        }
    }
}
