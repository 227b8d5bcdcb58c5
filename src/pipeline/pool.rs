//! The fixed pool of packs (Heka's input and inject pools, §8.1).
//!
//! `poolsize` packs are allocated at start-up and circulate forever: a [`PooledPack`] is
//! exclusively owned (inputs and decoders write into it); the router turns it into a
//! [`SharedPack`] for fan-out, and the last holder to drop it sends it home. Taking a pack
//! from an empty pool waits, which is how back-pressure reaches the inputs.

use super::ack::AckToken;
use super::pack::Pack;
use super::ring::{self as channel, Receiver, Sender};
use std::ops::{Deref, DerefMut};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

/// A pool slot: the pack plus the count of its current shared holders.
#[derive(Debug)]
pub struct Slot {
    pack: Pack,
    holders: AtomicUsize,
    /// Completes the message at its source when the pack is recycled (see `ack.rs`).
    ack: Mutex<Option<AckToken>>,
    /// The pool's free ring. Kept in the slot, not in each handle, so handing a pack out
    /// and sharing it costs no reference counting on the ring. The ring holds free slots
    /// and each slot holds the ring: [`PoolRing`]'s drop breaks that cycle.
    home: Sender<Arc<Slot>>,
}

impl Slot {
    fn ack(&self) -> std::sync::MutexGuard<'_, Option<AckToken>> {
        self.ack.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Returns the slot to its pool, completing its acknowledgement first.
    fn recycle(mut slot: Arc<Slot>) {
        // The last holder usually holds the only reference: then the token is taken
        // without the lock (one atomic operation instead of two).
        let token = match Arc::get_mut(&mut slot) {
            Some(exclusive) => exclusive
                .ack
                .get_mut()
                .unwrap_or_else(|e| e.into_inner())
                .take(),
            None => slot.ack().take(),
        };
        drop(token);
        // The ring is borrowed from the slot that is being sent: send a second reference
        // (the claimer waits until this one is dropped, see [`claim`]).
        let _ = slot.home.try_send(slot.clone());
    }
}

/// The receiving end of a pool's free ring, shared by the pool's clones.
#[derive(Debug)]
struct PoolRing {
    free: Receiver<Arc<Slot>>,
    size: usize,
}

impl Drop for PoolRing {
    /// Closes the ring and drops the free slots in it, which hold the ring; slots still
    /// out are dropped when their last holder fails to send them home.
    fn drop(&mut self) {
        self.free.close_and_drain();
    }
}

/// A fixed set of recycled packs.
#[derive(Debug, Clone)]
pub struct PackPool {
    ring: Arc<PoolRing>,
}

impl PackPool {
    /// Allocates `size` packs, each with `buffer_capacity` bytes of message space.
    pub fn new(size: usize, buffer_capacity: usize) -> PackPool {
        let size = size.max(1);
        let (free_tx, free) = channel::bounded(size);
        for _ in 0..size {
            let slot = Arc::new(Slot {
                pack: Pack::with_capacity(buffer_capacity),
                holders: AtomicUsize::new(0),
                ack: Mutex::new(None),
                home: free_tx.clone(),
            });
            // The channel has room for exactly `size` slots.
            let _ = free_tx.try_send(slot);
        }
        PackPool {
            ring: Arc::new(PoolRing { free, size }),
        }
    }

    /// Waits for a free pack; `None` only if the pool was closed.
    pub async fn acquire(&self) -> Option<PooledPack> {
        let slot = self.ring.free.recv().await.ok()?;
        Some(claim(slot))
    }

    /// A free pack if one is available now.
    pub fn try_acquire(&self) -> Option<PooledPack> {
        self.ring.free.try_recv().ok().map(claim)
    }

    /// Packs currently free (Heka's InChanLength of a recycle channel).
    pub fn free(&self) -> usize {
        self.ring.free.len()
    }

    /// Total packs (Heka's InChanCapacity of a recycle channel).
    pub fn size(&self) -> usize {
        self.ring.size
    }
}

fn claim(mut slot: Arc<Slot>) -> PooledPack {
    // The last holder sent the slot home a moment before dropping its own reference; wait
    // out that window so the pack is exclusively ours.
    loop {
        if let Some(exclusive) = Arc::get_mut(&mut slot) {
            exclusive.pack.reset();
            break;
        }
        std::thread::yield_now();
    }
    PooledPack { slot: Some(slot) }
}

/// An exclusively owned pack; returns to its pool when dropped.
#[derive(Debug)]
pub struct PooledPack {
    slot: Option<Arc<Slot>>,
}

impl PooledPack {
    /// Attaches the source's acknowledgement: it completes when the pack is recycled.
    pub fn set_ack(&mut self, token: AckToken) {
        let Some(slot) = self.slot.as_mut() else {
            return;
        };
        // Exclusively ours (see `claim`), so no lock is needed; the lock remains the
        // fallback, never dropping the token (that would complete the message at once).
        match Arc::get_mut(slot) {
            Some(slot) => *slot.ack.get_mut().unwrap_or_else(|e| e.into_inner()) = Some(token),
            None => *slot.ack() = Some(token),
        }
    }

    /// Hands the pack to one or more readers; see [`SharedPack`].
    pub fn into_shared(mut self) -> SharedPack {
        let slot = self.slot.take();
        if let Some(slot) = &slot {
            slot.holders.store(1, Ordering::Release);
        }
        SharedPack { slot }
    }
}

impl Deref for PooledPack {
    type Target = Pack;
    fn deref(&self) -> &Pack {
        match &self.slot {
            Some(slot) => &slot.pack,
            None => unreachable!("a PooledPack holds its slot until dropped"),
        }
    }
}

impl DerefMut for PooledPack {
    fn deref_mut(&mut self) -> &mut Pack {
        match self.slot.as_mut().and_then(Arc::get_mut) {
            Some(slot) => &mut slot.pack,
            None => unreachable!("a PooledPack is the only reference to its slot"),
        }
    }
}

impl Drop for PooledPack {
    fn drop(&mut self) {
        if let Some(slot) = self.slot.take() {
            Slot::recycle(slot);
        }
    }
}

impl SharedPack {
    /// Takes over the acknowledgement: the caller completes it (by dropping the token)
    /// when the message is really delivered, e.g. acknowledged by a TCP peer.
    pub fn take_ack(&self) -> Option<AckToken> {
        self.slot.as_ref().and_then(|slot| slot.ack().take())
    }

    /// Whether the message came from a source that can replay it (it carries an
    /// acknowledgement), so a plugin that holds acknowledgements until delivery may take
    /// it without a disk queue in between.
    pub fn has_ack(&self) -> bool {
        self.slot.as_ref().is_some_and(|slot| slot.ack().is_some())
    }

    /// A hold on the acknowledgement past this pack (a disk queue keeps one until its
    /// fsync): the message completes at its source only when the returned token is
    /// dropped too. The last holder of the pack gets the token itself, which saves the
    /// tracker a clone and a completion; others get a clone.
    pub fn hold_ack(&self) -> Option<AckToken> {
        let slot = self.slot.as_ref()?;
        // Only holders can make new holders: with one left, it is this one for good.
        if slot.holders.load(Ordering::Acquire) == 1 {
            slot.ack().take()
        } else {
            slot.ack().clone()
        }
    }
}

/// A read-only pack shared by the plugins a message was routed to. Cloning is an atomic
/// increment, never an allocation; the last clone dropped returns the pack to its pool.
#[derive(Debug)]
pub struct SharedPack {
    slot: Option<Arc<Slot>>,
}

impl Clone for SharedPack {
    fn clone(&self) -> Self {
        if let Some(slot) = &self.slot {
            slot.holders.fetch_add(1, Ordering::AcqRel);
        }
        SharedPack {
            slot: self.slot.clone(),
        }
    }
}

impl Deref for SharedPack {
    type Target = Pack;
    fn deref(&self) -> &Pack {
        match &self.slot {
            Some(slot) => &slot.pack,
            None => unreachable!("a SharedPack holds its slot until dropped"),
        }
    }
}

impl Drop for SharedPack {
    fn drop(&mut self) {
        if let Some(slot) = self.slot.take() {
            if slot.holders.fetch_sub(1, Ordering::AcqRel) == 1 {
                Slot::recycle(slot);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn packs_come_back_after_the_last_holder_drops() {
        let pool = PackPool::new(2, 64);
        let mut a = pool.try_acquire().expect("free pack");
        a.msg.extend_from_slice(b"hello");
        let b = pool.try_acquire().expect("second pack");
        assert!(pool.try_acquire().is_none(), "pool is exhausted");
        let shared = a.into_shared();
        let copy = shared.clone();
        drop(shared);
        assert_eq!(pool.free(), 0, "one holder remains");
        assert_eq!(copy.msg, b"hello");
        drop(copy);
        assert_eq!(pool.free(), 1);
        drop(b);
        let again = pool.try_acquire().expect("recycled");
        assert!(again.msg.is_empty(), "recycled packs are reset");
    }
}
