//! The runtime: packs and their pool, per-core executors, the router, plugin runners,
//! counters and shutdown. See `docs/ARCHITECTURE.md`.

pub mod assemble;
pub mod executors;
pub mod pack;
pub mod pool;
pub mod router;
pub mod shutdown;
pub mod signals;
pub mod stats;
pub mod supervise;

/// Receives from a queue, first trying without waiting and after yielding once to the
/// other tasks on this executor: waiting registers a listener, which allocates, so in a
/// busy pipeline the cheap retries keep the steady state allocation-free.
pub async fn recv<T>(queue: &smol::channel::Receiver<T>) -> Result<T, smol::channel::RecvError> {
    for _ in 0..4 {
        if let Ok(item) = queue.try_recv() {
            return Ok(item);
        }
        if queue.is_closed() {
            break;
        }
        smol::future::yield_now().await;
    }
    queue.recv().await
}

/// Sends to a queue, first trying without waiting (see [`recv`]); a few yields let the
/// consumer on this executor drain the queue before a waiter is registered.
pub async fn send<T>(
    queue: &smol::channel::Sender<T>,
    mut item: T,
) -> Result<(), smol::channel::SendError<T>> {
    for _ in 0..4 {
        match queue.try_send(item) {
            Ok(()) => return Ok(()),
            Err(smol::channel::TrySendError::Closed(back)) => {
                return Err(smol::channel::SendError(back))
            }
            Err(smol::channel::TrySendError::Full(back)) => item = back,
        }
        smol::future::yield_now().await;
    }
    queue.send(item).await
}
