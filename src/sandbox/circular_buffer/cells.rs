//! The cells of a circular buffer. In a sandbox they are allocated with the Lua state's
//! own allocator, so they count in its memory use and against its `memory_limit` like
//! any Lua value: a buffer too large for the limit fails to be made.

use mlua::{ffi, Lua};
use std::ffi::c_void;
use std::ops::{Deref, DerefMut};
use std::ptr::NonNull;

/// A fixed number of `f64`s, all NaN when made.
pub enum Cells {
    /// On Rust's heap (tests, and Lua-less use).
    Heap(Box<[f64]>),
    /// From a Lua state's allocator.
    Lua(LuaBlock),
}

impl Cells {
    /// `len` NaN cells on Rust's heap.
    pub fn heap(len: usize) -> Cells {
        Cells::Heap(vec![f64::NAN; len].into_boxed_slice())
    }

    /// `len` NaN cells counted in the memory of `lua`, or `None` when that would pass its
    /// memory limit (after a full collection freed what it could).
    ///
    /// The cells must be dropped before the state closes: keep them in a userdata of
    /// that state (which Lua drops when it collects or closes).
    pub fn in_lua(lua: &Lua, len: usize) -> Option<Cells> {
        if len == 0 {
            return Some(Cells::heap(0));
        }
        let bytes = len
            .checked_mul(std::mem::size_of::<f64>())
            .filter(|&b| b <= isize::MAX as usize)?;
        let mut ud: *mut c_void = std::ptr::null_mut();
        let mut alloc: Option<ffi::lua_Alloc> = None;
        // SAFETY: only reads the state's allocator and its data pointer.
        unsafe { lua.exec_raw::<()>((), |l| alloc = Some(ffi::lua_getallocf(l, &mut ud))) }.ok()?;
        let alloc = alloc?;
        // SAFETY: a fresh allocation through the state's allocator (mlua's, which
        // returns null past the memory limit rather than failing the state).
        let mut ptr = unsafe { alloc(ud, std::ptr::null_mut(), 0, bytes) };
        if ptr.is_null() {
            // Lua 5.1 has no emergency collection: buffers nobody holds may still be
            // waiting for the collector.
            lua.gc_collect().ok()?;
            // SAFETY: as above.
            ptr = unsafe { alloc(ud, std::ptr::null_mut(), 0, bytes) };
        }
        let ptr = NonNull::new(ptr.cast::<f64>())?;
        // SAFETY: `ptr` holds `len` f64s (aligned to at least 8: mlua's allocator aligns
        // to its SYS_MIN_ALIGN) and nothing else uses it; NaN makes every one valid.
        unsafe { std::slice::from_raw_parts_mut(ptr.as_ptr(), len).fill(f64::NAN) };
        Some(Cells::Lua(LuaBlock {
            ptr,
            len,
            alloc,
            ud,
        }))
    }
}

/// Cells allocated by a Lua state's allocator, given back to it when dropped.
pub struct LuaBlock {
    ptr: NonNull<f64>,
    len: usize,
    alloc: ffi::lua_Alloc,
    ud: *mut c_void,
}

impl Drop for LuaBlock {
    fn drop(&mut self) {
        // SAFETY: allocated by `alloc` with this size, and the state is still open (see
        // `Cells::in_lua`).
        unsafe {
            (self.alloc)(
                self.ud,
                self.ptr.as_ptr().cast(),
                self.len * std::mem::size_of::<f64>(),
                0,
            );
        }
    }
}

impl Deref for Cells {
    type Target = [f64];

    fn deref(&self) -> &[f64] {
        match self {
            Cells::Heap(cells) => cells,
            // SAFETY: `len` initialised f64s owned by this block.
            Cells::Lua(b) => unsafe { std::slice::from_raw_parts(b.ptr.as_ptr(), b.len) },
        }
    }
}

impl DerefMut for Cells {
    fn deref_mut(&mut self) -> &mut [f64] {
        match self {
            Cells::Heap(cells) => cells,
            // SAFETY: as in `deref`, borrowed mutably through `self`.
            Cells::Lua(b) => unsafe { std::slice::from_raw_parts_mut(b.ptr.as_ptr(), b.len) },
        }
    }
}
