// SPDX-License-Identifier: GPL-2.0

//! vCPU debooster: a lasting advantage for the target of `yield_to()`.
//!
//! `yield_to_task_fair()` calls [`sched_vcpu_debooster_yield_to`] before the
//! yielder forfeits its slice. The run-time switch is
//! `/sys/kernel/debug/sched/vcpu_debooster_enabled`, and the counters are in
//! `/sys/kernel/debug/sched/vcpu_debooster_stats`.
//!
//! This object is the infrastructure: the hook, the switch and the counters.
//! It applies no penalty yet.

use kernel::{
    bindings,
    error::code::EINVAL,
    ffi::{c_int, c_void},
    prelude::*,
    seq_file::SeqFile,
    seq_print,
    sync::atomic::{Atomic, Relaxed},
};

/// Whether the debooster may act. On by default, as in the series.
///
/// Written by the debugfs file and read locklessly on the yield path; a
/// relaxed access is enough because a yield that still sees the old value
/// is as good as one that ran just before the write.
static ENABLED: Atomic<bool> = Atomic::new(true);

/// Event counters, shown by the stats file.
///
/// Each is a relaxed atomic: they are statistics, updated from many CPUs,
/// and never used to order other memory accesses.
struct Counters {
    /// `yield_to_task_fair()` calls that reached this object.
    hook_calls: Atomic<u64>,
}

static COUNTERS: Counters = Counters {
    hook_calls: Atomic::new(0),
};

/// Hook called by `yield_to_task_fair()`.
///
/// # Safety
///
/// Always safe to call; `unsafe` only because of `#[export]`.
#[export]
pub unsafe extern "C" fn sched_vcpu_debooster_yield_to() {
    COUNTERS.hook_calls.add(1, Relaxed);
}

/// Parses a value written to `vcpu_debooster_enabled`: only 0 and 1 are valid.
fn parse_enabled(val: u64) -> Result<bool> {
    match val {
        0 => Ok(false),
        1 => Ok(true),
        _ => Err(EINVAL),
    }
}

/// debugfs getter of `vcpu_debooster_enabled`.
///
/// # Safety
///
/// `val` must be valid for a write of a `u64`.
#[export]
pub unsafe extern "C" fn sched_vcpu_debooster_enabled_get(
    _data: *mut c_void,
    val: *mut u64,
) -> c_int {
    // SAFETY: The caller (the debugfs attribute code) passes a valid pointer.
    unsafe { val.write(u64::from(ENABLED.load(Relaxed))) };
    0
}

/// debugfs setter of `vcpu_debooster_enabled`. A value other than 0 or 1 is
/// rejected with `-EINVAL` and leaves the switch as it was.
///
/// # Safety
///
/// Always safe to call; `unsafe` only because of `#[export]`.
#[export]
pub unsafe extern "C" fn sched_vcpu_debooster_enabled_set(_data: *mut c_void, val: u64) -> c_int {
    match parse_enabled(val) {
        Ok(on) => {
            ENABLED.store(on, Relaxed);
            0
        }
        Err(e) => e.to_errno(),
    }
}

/// Prints the counters into the stats file.
///
/// # Safety
///
/// `m` must point to a valid `seq_file` that no other thread accesses during
/// the call, as in a seq_file `show` callback.
#[export]
pub unsafe extern "C" fn sched_vcpu_debooster_stats_show(
    m: *mut bindings::seq_file,
    _v: *mut c_void,
) -> c_int {
    // SAFETY: The seq_file core calls `show` with a valid, exclusively used file.
    let m = unsafe { SeqFile::from_raw(m) };
    seq_print!(m, "enabled {}\n", u8::from(ENABLED.load(Relaxed)));
    seq_print!(m, "hook_calls {}\n", COUNTERS.hook_calls.load(Relaxed));
    0
}

/// Number of `yield_to_task_fair()` calls that reached the debooster.
///
/// # Safety
///
/// Always safe to call; `unsafe` only because of `#[export]`.
#[export]
pub unsafe extern "C" fn sched_vcpu_debooster_hook_calls() -> u64 {
    COUNTERS.hook_calls.load(Relaxed)
}

#[kunit_tests(vcpu_boost_sched_debooster)]
mod tests {
    use super::*;

    #[test]
    fn enabled_accepts_only_0_and_1() {
        assert_eq!(parse_enabled(0), Ok(false));
        assert_eq!(parse_enabled(1), Ok(true));
        assert_eq!(parse_enabled(2), Err(EINVAL));
        assert_eq!(parse_enabled(u64::MAX), Err(EINVAL));
    }
}
