//! Memory accounting: a global allocator that counts the bytes in use, so INFO's
//! `used_memory` (and later maxmemory) comes from the real allocator, as Redis's zmalloc.
//! The binary installs it with `#[global_allocator]`; without it the counter stays at 0.

use std::alloc::{GlobalAlloc, Layout};

use std::cell::Cell;
use std::sync::atomic::{AtomicIsize, AtomicUsize, Ordering};
use tikv_jemallocator::Jemalloc;

/// Per-thread counters of allocated bytes, so the hot path needs no atomic read-modify-write:
/// each thread owns one slot and updates it with a plain load and store. Threads past the
/// last slot share it with atomic adds. `allocated()` sums the slots.
const SLOTS: usize = 64;
static COUNTERS: [AtomicIsize; SLOTS] = [const { AtomicIsize::new(0) }; SLOTS];
static NEXT_SLOT: AtomicUsize = AtomicUsize::new(0);

thread_local! {
    /// This thread's slot (`usize::MAX` until assigned). Const-initialised: touching it never
    /// allocates, which the allocator itself relies on.
    static SLOT: Cell<usize> = const { Cell::new(usize::MAX) };
}

#[inline]
fn count(delta: isize) {
    let slot = SLOT
        .try_with(|s| {
            let mut i = s.get();
            if i == usize::MAX {
                i = NEXT_SLOT.fetch_add(1, Ordering::Relaxed).min(SLOTS - 1);
                s.set(i);
            }
            i
        })
        // During thread teardown the thread-local is gone: use the shared last slot.
        .unwrap_or(SLOTS - 1);
    let c = &COUNTERS[slot];
    if slot == SLOTS - 1 {
        c.fetch_add(delta, Ordering::Relaxed);
    } else {
        // Only this thread writes this slot.
        c.store(c.load(Ordering::Relaxed) + delta, Ordering::Relaxed);
    }
}

/// jemalloc, counting. jemalloc, as in Redis: against glibc's malloc it takes ~5% fewer
/// instructions per EVALSHA (Lua allocates and frees small blocks all the time) and 8-18%
/// less RSS for a million small values (bench/cgcost.py, bench/smallvalues.py).
pub struct CountingAlloc;

// SAFETY: every method forwards to `Jemalloc` with the same arguments and only adds counting,
// which neither allocates nor panics.
unsafe impl GlobalAlloc for CountingAlloc {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        // SAFETY: same contract as the caller's.
        let p = unsafe { Jemalloc.alloc(layout) };
        if !p.is_null() {
            count(layout.size() as isize);
        }
        p
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: same contract as the caller's.
        unsafe { Jemalloc.dealloc(ptr, layout) };
        count(-(layout.size() as isize));
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        // SAFETY: same contract as the caller's.
        let p = unsafe { Jemalloc.alloc_zeroed(layout) };
        if !p.is_null() {
            count(layout.size() as isize);
        }
        p
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        // SAFETY: same contract as the caller's.
        let p = unsafe { Jemalloc.realloc(ptr, layout, new_size) };
        if !p.is_null() {
            count(new_size as isize - layout.size() as isize);
        }
        p
    }
}

/// Bytes currently allocated through [`CountingAlloc`] (0 when it is not installed).
pub fn allocated() -> usize {
    let total: isize = COUNTERS.iter().map(|c| c.load(Ordering::Relaxed)).sum();
    total.max(0) as usize
}

/// Resident set size of the process, from /proc (0 where unavailable).
pub fn rss() -> usize {
    std::fs::read_to_string("/proc/self/statm")
        .ok()
        .and_then(|s| s.split_whitespace().nth(1)?.parse::<usize>().ok())
        .map(|pages| pages * page_size())
        .unwrap_or(0)
}

fn page_size() -> usize {
    // SAFETY: sysconf has no preconditions.
    let n = unsafe { libc::sysconf(libc::_SC_PAGESIZE) };
    if n > 0 {
        n as usize
    } else {
        4096
    }
}

/// Total physical memory of the machine.
pub fn total_system_memory() -> u64 {
    // SAFETY: sysconf has no preconditions.
    let (pages, size) = unsafe {
        (
            libc::sysconf(libc::_SC_PHYS_PAGES),
            libc::sysconf(libc::_SC_PAGESIZE),
        )
    };
    if pages > 0 && size > 0 {
        pages as u64 * size as u64
    } else {
        0
    }
}

/// Redis's `bytesToHuman`: 919.09K, 6.52M, 0B.
pub fn human(n: u64) -> String {
    let d = n as f64;
    if n < 1024 {
        format!("{n}B")
    } else if n < 1024 * 1024 {
        format!("{:.2}K", d / 1024.0)
    } else if n < 1024 * 1024 * 1024 {
        format!("{:.2}M", d / (1024.0 * 1024.0))
    } else if n < 1024u64.pow(4) {
        format!("{:.2}G", d / 1024f64.powi(3))
    } else if n < 1024u64.pow(5) {
        format!("{:.2}T", d / 1024f64.powi(4))
    } else {
        format!("{:.2}P", d / 1024f64.powi(5))
    }
}
