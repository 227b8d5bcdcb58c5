//! Fixed-size ring queues joining pipeline stages. A ring is a preallocated array
//! (`concurrent-queue`) plus lists of waiting tasks whose storage is reused, so neither
//! passing an item nor waiting for one allocates in steady state (async-channel, which
//! smol ships, allocates a listener each time a task has to wait).
//!
//! The API mirrors async-channel: [`bounded`] gives a [`Sender`] and a [`Receiver`], both
//! cloneable; the ring closes when every sender or every receiver is gone.

use concurrent_queue::{ConcurrentQueue, PopError, PushError};
use std::future::{poll_fn, Future};
use std::sync::atomic::{fence, AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Poll, Waker};

/// Turns a batching consumer gives the other tasks of its executor before it calls a ring
/// empty: an input's items reach an output through the router, two hops.
const YIELDS_BEFORE_EMPTY: usize = 2;

/// `try_now()`, or its result after the executor's other ready tasks (the router or input
/// that feeds a consumer, when they run on the same core) have had their turns. A consumer
/// that batches calls this until it returns `None`, so one system call carries many more
/// items than its queue holds.
pub async fn after_yields<T>(mut try_now: impl FnMut() -> Option<T>) -> Option<T> {
    for _ in 0..YIELDS_BEFORE_EMPTY {
        if let Some(item) = try_now() {
            return Some(item);
        }
        smol::future::yield_now().await;
    }
    try_now()
}

/// Tasks waiting for a ring to change; the Vec keeps its capacity.
///
/// `armed` lets the common case, nobody waiting, skip the lock: passing an item costs one
/// plain load of it. Why no wake-up is lost (a Dekker pattern, in the terms of the C++
/// memory model Rust uses):
/// - the side that changes the ring (a push, a pop, a close) does so with a sequentially
///   consistent (SeqCst) atomic operation, then loads `armed` with SeqCst. The ring is
///   `concurrent-queue` 2.5's bounded queue, whose successful push and pop are SeqCst
///   compare-exchanges of its tail and head, and `close` stores `closed` with SeqCst;
/// - the waiting side swaps `armed` to true (SeqCst) under the list's lock, issues a
///   SeqCst fence, and only then looks at the ring again (its emptiness and fullness
///   checks read the tail and head);
/// - in the single total order of SeqCst operations, either the waker's load comes after
///   the waiter's swap, and reads `true` (or a later swap to false by a waker that woke
///   this waiter), or it comes before it, and then the ring change precedes the waiter's
///   fence, so the waiter's re-check sees it.
///
/// A one-slot ring is `concurrent-queue`'s `Single` queue instead, whose pop ends with a
/// release store, not a SeqCst operation: its wakers issue a SeqCst fence before the load
/// (`fence_first`), the fence-to-fence form of the same argument.
///
/// Re-check this when `concurrent-queue` is upgraded (Cargo.lock pins it).
#[derive(Default)]
struct Waiters {
    armed: AtomicBool,
    list: Mutex<Vec<Waker>>,
    fence_first: bool,
}

impl Waiters {
    /// Waiters of a ring of `capacity` slots (see the type's doc for `fence_first`).
    fn for_capacity(capacity: usize) -> Waiters {
        Waiters {
            fence_first: capacity <= 1,
            ..Waiters::default()
        }
    }

    /// Registers `waker`; the caller must look at the ring again afterwards.
    fn register(&self, waker: &Waker) {
        let mut list = self.list.lock().unwrap_or_else(|p| p.into_inner());
        if !list.iter().any(|w| w.will_wake(waker)) {
            list.push(waker.clone());
        }
        self.armed.swap(true, Ordering::SeqCst);
        drop(list);
        fence(Ordering::SeqCst);
    }

    /// Wakes every waiter (waiters that went elsewhere just poll again); draining keeps
    /// the list's capacity, so registering stays allocation-free. Call it after the
    /// SeqCst operation that changed the ring.
    #[inline]
    fn wake_all(&self) {
        if self.fence_first {
            fence(Ordering::SeqCst);
        }
        if self.armed.load(Ordering::SeqCst) {
            self.wake_armed();
        }
    }

    /// The rare half of [`Waiters::wake_all`], kept out of line so passing an item stays
    /// a few instructions.
    #[cold]
    #[inline(never)]
    fn wake_armed(&self) {
        let mut list = self.list.lock().unwrap_or_else(|p| p.into_inner());
        // Under the lock, so a waiter registering now is either drained here or re-arms.
        self.armed.store(false, Ordering::SeqCst);
        list.drain(..).for_each(Waker::wake);
    }
}

struct Ring<T> {
    queue: ConcurrentQueue<T>,
    not_empty: Waiters,
    not_full: Waiters,
    senders: AtomicUsize,
    receivers: AtomicUsize,
    closed: AtomicBool,
}

impl<T> Ring<T> {
    fn close(&self) {
        self.closed.store(true, Ordering::SeqCst);
        // Items already queued can still be received; nothing more can be pushed.
        self.queue.close();
        self.not_empty.wake_all();
        self.not_full.wake_all();
    }
}

/// The sending side of a ring.
pub struct Sender<T>(Arc<Ring<T>>);
/// The receiving side of a ring.
pub struct Receiver<T>(Arc<Ring<T>>);

/// The ring is closed (all receivers gone); the item is handed back.
#[derive(Debug, PartialEq, Eq)]
pub struct SendError<T>(pub T);

/// Why [`Sender::try_send`] did not send.
#[derive(Debug, PartialEq, Eq)]
pub enum TrySendError<T> {
    Full(T),
    Closed(T),
}

/// The ring is closed and empty.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RecvError;

/// A ring of `capacity` slots (at least 1), allocated now.
pub fn bounded<T>(capacity: usize) -> (Sender<T>, Receiver<T>) {
    let ring = Arc::new(Ring {
        queue: ConcurrentQueue::bounded(capacity.max(1)),
        not_empty: Waiters::for_capacity(capacity),
        not_full: Waiters::for_capacity(capacity),
        senders: AtomicUsize::new(1),
        receivers: AtomicUsize::new(1),
        closed: AtomicBool::new(false),
    });
    (Sender(ring.clone()), Receiver(ring))
}

impl<T> Sender<T> {
    /// Sends now if there is room.
    #[inline]
    pub fn try_send(&self, item: T) -> Result<(), TrySendError<T>> {
        if self.0.closed.load(Ordering::SeqCst) {
            return Err(TrySendError::Closed(item));
        }
        match self.0.queue.push(item) {
            Ok(()) => {
                self.0.not_empty.wake_all();
                Ok(())
            }
            Err(PushError::Full(item)) => Err(TrySendError::Full(item)),
            Err(PushError::Closed(item)) => Err(TrySendError::Closed(item)),
        }
    }

    /// Sends, waiting for room.
    pub async fn send(&self, item: T) -> Result<(), SendError<T>> {
        // Room is the common case: no waiting future is set up for it.
        let item = match self.try_send(item) {
            Ok(()) => return Ok(()),
            Err(TrySendError::Closed(item)) => return Err(SendError(item)),
            Err(TrySendError::Full(item)) => item,
        };
        self.send_unless(item, std::future::pending())
            .await
            .map_err(SendError)
    }

    /// Sends, waiting for room until `give_up` completes; hands the item back if it did
    /// first, or if the ring is closed. A disk queue writer gives a message to the disk
    /// this way when its plugin does not take it in time.
    pub async fn send_unless(&self, item: T, give_up: impl Future<Output = ()>) -> Result<(), T> {
        let mut item = Some(item);
        let mut give_up = std::pin::pin!(give_up);
        poll_fn(|cx| {
            let Some(value) = item.take() else {
                return Poll::Ready(Ok(()));
            };
            let value = match self.try_send(value) {
                Ok(()) => return Poll::Ready(Ok(())),
                Err(TrySendError::Closed(v)) => return Poll::Ready(Err(v)),
                Err(TrySendError::Full(v)) => v,
            };
            self.0.not_full.register(cx.waker());
            // Re-check: room may have appeared before we registered.
            let value = match self.try_send(value) {
                Ok(()) => return Poll::Ready(Ok(())),
                Err(TrySendError::Closed(v)) => return Poll::Ready(Err(v)),
                Err(TrySendError::Full(v)) => v,
            };
            if give_up.as_mut().poll(cx).is_ready() {
                return Poll::Ready(Err(value));
            }
            item = Some(value);
            Poll::Pending
        })
        .await
    }

    pub fn len(&self) -> usize {
        self.0.queue.len()
    }
    pub fn is_empty(&self) -> bool {
        self.0.queue.is_empty()
    }
    pub fn capacity(&self) -> Option<usize> {
        self.0.queue.capacity()
    }
    pub fn is_closed(&self) -> bool {
        self.0.closed.load(Ordering::SeqCst)
    }
}

impl<T> Receiver<T> {
    /// Takes an item now if there is one.
    #[inline]
    pub fn try_recv(&self) -> Result<T, RecvError> {
        match self.0.queue.pop() {
            Ok(item) => {
                self.0.not_full.wake_all();
                Ok(item)
            }
            Err(PopError::Empty | PopError::Closed) => Err(RecvError),
        }
    }

    /// Takes an item now or after the other tasks' turns ([`after_yields`]).
    pub async fn try_recv_after_yield(&self) -> Option<T> {
        after_yields(|| self.try_recv().ok()).await
    }

    /// Waits until an item is queued or the ring is closed, taking nothing (a reader
    /// that must take items under a lock of its own).
    pub async fn ready(&self) {
        let ready = || !self.0.queue.is_empty() || self.0.closed.load(Ordering::SeqCst);
        poll_fn(|cx| {
            if ready() {
                return Poll::Ready(());
            }
            self.0.not_empty.register(cx.waker());
            match ready() {
                true => Poll::Ready(()),
                false => Poll::Pending,
            }
        })
        .await
    }

    /// Takes an item, waiting for one; `Err` once the ring is closed and drained.
    pub async fn recv(&self) -> Result<T, RecvError> {
        poll_fn(|cx| {
            if let Ok(item) = self.try_recv() {
                return Poll::Ready(Ok(item));
            }
            if self.0.closed.load(Ordering::SeqCst) {
                return Poll::Ready(self.try_recv());
            }
            self.0.not_empty.register(cx.waker());
            match self.try_recv() {
                Ok(item) => Poll::Ready(Ok(item)),
                Err(_) if self.0.closed.load(Ordering::SeqCst) => Poll::Ready(self.try_recv()),
                Err(_) => Poll::Pending,
            }
        })
        .await
    }

    pub fn len(&self) -> usize {
        self.0.queue.len()
    }
    pub fn is_empty(&self) -> bool {
        self.0.queue.is_empty()
    }
    pub fn capacity(&self) -> Option<usize> {
        self.0.queue.capacity()
    }
    /// True once every sender is gone (items may still be queued).
    pub fn is_closed(&self) -> bool {
        self.0.closed.load(Ordering::SeqCst)
    }

    /// Closes the ring for every sender and drops what it holds (a pool whose items
    /// refer back to the ring breaks the cycle this way).
    pub fn close_and_drain(&self) {
        self.0.close();
        while self.0.queue.pop().is_ok() {}
    }
}

/// How many items a ring holds now, read at report time without keeping the ring open
/// (a weak reference: 0 once the ring is gone).
pub type LengthProbe = Box<dyn Fn() -> usize + Send + Sync>;

fn length_probe<T: Send + 'static>(ring: &Arc<Ring<T>>) -> LengthProbe {
    let weak = Arc::downgrade(ring);
    Box::new(move || weak.upgrade().map_or(0, |r| r.queue.len()))
}

impl<T: Send + 'static> Sender<T> {
    /// A [`LengthProbe`] of this ring.
    pub fn length_probe(&self) -> LengthProbe {
        length_probe(&self.0)
    }
}

impl<T: Send + 'static> Receiver<T> {
    /// A [`LengthProbe`] of this ring.
    pub fn length_probe(&self) -> LengthProbe {
        length_probe(&self.0)
    }
}

impl<T> Clone for Sender<T> {
    fn clone(&self) -> Self {
        self.0.senders.fetch_add(1, Ordering::SeqCst);
        Sender(self.0.clone())
    }
}

impl<T> Clone for Receiver<T> {
    fn clone(&self) -> Self {
        self.0.receivers.fetch_add(1, Ordering::SeqCst);
        Receiver(self.0.clone())
    }
}

impl<T> Drop for Sender<T> {
    fn drop(&mut self) {
        if self.0.senders.fetch_sub(1, Ordering::SeqCst) == 1 {
            self.0.close();
        }
    }
}

impl<T> Drop for Receiver<T> {
    fn drop(&mut self) {
        if self.0.receivers.fetch_sub(1, Ordering::SeqCst) == 1 {
            self.0.close();
        }
    }
}

impl<T> std::fmt::Debug for Sender<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Sender({}/{:?})", self.len(), self.capacity())
    }
}

impl<T> std::fmt::Debug for Receiver<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Receiver({}/{:?})", self.len(), self.capacity())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn send_unless_hands_the_item_back_when_it_gives_up() {
        smol::block_on(async {
            let (tx, rx) = bounded(1);
            assert_eq!(tx.send_unless(1, std::future::pending()).await, Ok(()));
            // Full: the give-up future completes first, and the item comes back.
            assert_eq!(tx.send_unless(2, async {}).await, Err(2));
            assert_eq!(rx.try_recv(), Ok(1));
            assert_eq!(tx.send_unless(3, async {}).await, Ok(()), "room: sent");
        });
    }

    #[test]
    fn passes_items_in_order_and_closes() {
        let (tx, rx) = bounded(2);
        assert_eq!(tx.try_send(1), Ok(()));
        assert_eq!(tx.try_send(2), Ok(()));
        assert_eq!(tx.try_send(3), Err(TrySendError::Full(3)));
        let rx2 = rx.clone();
        smol::block_on(async {
            assert_eq!(rx.recv().await, Ok(1));
            drop(tx);
            assert_eq!(rx2.recv().await, Ok(2));
            assert_eq!(rx.recv().await, Err(RecvError));
        });
    }

    #[test]
    fn a_waiting_sender_and_receiver_are_woken() {
        let (tx, rx) = bounded::<u32>(1);
        let ex = smol::LocalExecutor::new();
        smol::block_on(ex.run(async {
            let producer = ex.spawn(async move {
                for i in 0..100 {
                    tx.send(i).await.expect("open");
                }
            });
            let mut got = Vec::new();
            while let Ok(i) = rx.recv().await {
                got.push(i);
            }
            producer.await;
            assert_eq!(got, (0..100).collect::<Vec<_>>());
        }));
    }

    #[test]
    fn no_wake_up_is_lost_between_threads() {
        // Small rings make both sides wait on nearly every item; a lost wake-up would
        // hang this test. One slot is concurrent-queue's `Single` queue, more its
        // `Bounded` one: the two wake-up arguments in `Waiters`' doc.
        for capacity in [1, 2, 3] {
            let (tx, rx) = bounded::<u32>(capacity);
            let producer = std::thread::spawn(move || {
                smol::block_on(async {
                    for i in 0..20_000 {
                        tx.send(i).await.expect("open");
                    }
                })
            });
            let sum = smol::block_on(async {
                let mut sum = 0u64;
                while let Ok(i) = rx.recv().await {
                    sum += u64::from(i);
                }
                sum
            });
            producer.join().expect("producer");
            assert_eq!(sum, (0..20_000u64).sum::<u64>(), "capacity {capacity}");
        }
    }
}
