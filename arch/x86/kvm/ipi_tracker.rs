// SPDX-License-Identifier: GPL-2.0

//! IPI tracker: which vCPU did each vCPU last send a unicast fixed IPI to?
//!
//! `lapic.c` reports every interrupt delivery from both LAPIC delivery paths
//! through [`kvm_ipi_tracker_deliver`] and every EOI through
//! [`kvm_ipi_tracker_eoi`]. The kvm module parameters `ipi_tracking_enabled`
//! and `ipi_window_ns` are defined here.
//!
//! This object is the infrastructure: hooks, parameters and hook counters.
//! It records nothing yet.

use core::fmt::Write;
use kernel::{
    bindings,
    error::code::{EINVAL, ERANGE},
    ffi::{c_char, c_int},
    page::PAGE_SIZE,
    prelude::*,
    seq_file::SeqFile,
    seq_print,
    str::{kstrtobool_bytes, parse_int::ParseInt, BStr, Formatter},
    sync::atomic::{Atomic, Relaxed},
};

/// Default recency window: an IPI older than this no longer steers directed
/// yield. 50 ms, as in the series.
pub const IPI_WINDOW_NS_DEFAULT: u64 = 50_000_000;
/// Smallest accepted `ipi_window_ns`: 1 µs. Shorter windows cannot outlive
/// the delivery itself.
pub const IPI_WINDOW_NS_MIN: u64 = 1_000;
/// Largest accepted `ipi_window_ns`: 1 s. Older IPIs say nothing about what
/// a spinning vCPU waits for.
pub const IPI_WINDOW_NS_MAX: u64 = 1_000_000_000;

/// `ipi_tracking_enabled`: record IPIs and let them steer directed yield.
///
/// Lockless: written by the parameter code, read on the delivery path; a
/// delivery racing with a write may use either value, so relaxed suffices.
static TRACKING_ENABLED: Atomic<bool> = Atomic::new(true);
/// `ipi_window_ns`, always within [`IPI_WINDOW_NS_MIN`, `IPI_WINDOW_NS_MAX`].
static WINDOW_NS: Atomic<u64> = Atomic::new(IPI_WINDOW_NS_DEFAULT);

/// How often each hook was reached. Statistics only: relaxed.
struct HookCounters {
    deliver_fast: Atomic<u64>,
    deliver_slow: Atomic<u64>,
    eoi_trapped: Atomic<u64>,
    eoi_accelerated: Atomic<u64>,
}

static HOOKS: HookCounters = HookCounters {
    deliver_fast: Atomic::new(0),
    deliver_slow: Atomic::new(0),
    eoi_trapped: Atomic::new(0),
    eoi_accelerated: Atomic::new(0),
};

/// Called by both LAPIC delivery paths after an interrupt was delivered.
///
/// # Safety
///
/// `src` and `dst` are null or point to vCPUs that stay valid for the call.
#[export]
pub unsafe extern "C" fn kvm_ipi_tracker_deliver(
    _src: *mut bindings::kvm_vcpu,
    _dst: *mut bindings::kvm_vcpu,
    _accepted: u32,
    _delivery_mode: u32,
    _shorthand: u32,
    _vector: u32,
    slow_path: bool,
) {
    let counter = if slow_path {
        &HOOKS.deliver_slow
    } else {
        &HOOKS.deliver_fast
    };
    counter.add(1, Relaxed);
}

/// Called on every EOI: trapped xAPIC writes, the x2APIC EOI MSR and
/// hardware-accelerated EOIs.
///
/// # Safety
///
/// `vcpu` points to a vCPU that stays valid for the call.
#[export]
pub unsafe extern "C" fn kvm_ipi_tracker_eoi(
    _vcpu: *mut bindings::kvm_vcpu,
    _vector: c_int,
    accelerated: bool,
) {
    let counter = if accelerated {
        &HOOKS.eoi_accelerated
    } else {
        &HOOKS.eoi_trapped
    };
    counter.add(1, Relaxed);
}

/// Prints the hook counters into `/sys/kernel/debug/kvm/ipi_yield_hooks`.
///
/// # Safety
///
/// `m` must point to a valid `seq_file` used by no other thread for the call.
#[export]
pub unsafe extern "C" fn kvm_ipi_tracker_show(m: *mut bindings::seq_file) {
    // SAFETY: Guaranteed by the caller, a seq_file `show` callback.
    let m = unsafe { SeqFile::from_raw(m) };
    seq_print!(m, "deliver_fast {}\n", HOOKS.deliver_fast.load(Relaxed));
    seq_print!(m, "deliver_slow {}\n", HOOKS.deliver_slow.load(Relaxed));
    seq_print!(m, "eoi_trapped {}\n", HOOKS.eoi_trapped.load(Relaxed));
    seq_print!(m, "eoi_accelerated {}\n", HOOKS.eoi_accelerated.load(Relaxed));
}

/// Returns the string written to a module parameter, without the newline
/// that `echo` appends.
///
/// # Safety
///
/// `val` is null or points to a NUL-terminated string valid for `'a`.
unsafe fn param_arg<'a>(val: *const c_char) -> Result<&'a BStr> {
    if val.is_null() {
        return Err(EINVAL);
    }
    // SAFETY: Non-null here, and NUL-terminated and valid by the caller.
    let s = unsafe { CStr::from_char_ptr(val) }.to_bytes();
    Ok(BStr::from_bytes(s.strip_suffix(b"\n").unwrap_or(s)))
}

/// Formats a parameter value, NUL-terminated, into the page-sized buffer of
/// a `get` callback and returns its length, as `sysfs_emit()` would.
///
/// # Safety
///
/// `buf` must be valid for writes of `PAGE_SIZE` bytes.
unsafe fn param_emit(buf: *mut c_char, args: core::fmt::Arguments<'_>) -> c_int {
    // SAFETY: The parameter code hands `get` a buffer of PAGE_SIZE bytes.
    let page = unsafe { core::slice::from_raw_parts_mut(buf.cast::<u8>(), PAGE_SIZE) };
    let (text, nul) = page.split_at_mut(PAGE_SIZE - 1);
    let mut f = Formatter::new(text);
    let len = match f.write_fmt(args) {
        Ok(()) => f.bytes_written(),
        Err(_) => return EINVAL.to_errno(),
    };
    match text.get_mut(len) {
        Some(b) => *b = 0,
        None => nul[0] = 0,
    }
    c_int::try_from(len).unwrap_or(0)
}

/// Parses and range-checks a value written to `ipi_window_ns`.
fn parse_window_ns(arg: &BStr) -> Result<u64> {
    let ns = u64::from_str(arg)?;
    if (IPI_WINDOW_NS_MIN..=IPI_WINDOW_NS_MAX).contains(&ns) {
        Ok(ns)
    } else {
        Err(ERANGE)
    }
}

/// `set` of the `ipi_tracking_enabled` parameter: a boolean as `kstrtobool()`
/// reads it; anything else is rejected and the old value kept.
///
/// # Safety
///
/// `val` is null or a NUL-terminated string valid for the call.
#[export]
pub unsafe extern "C" fn kvm_ipi_tracking_enabled_set(
    val: *const c_char,
    _kp: *const bindings::kernel_param,
) -> c_int {
    // SAFETY: Guaranteed by the caller.
    match unsafe { param_arg(val) }.and_then(|a| kstrtobool_bytes(a)) {
        Ok(on) => {
            TRACKING_ENABLED.store(on, Relaxed);
            0
        }
        Err(e) => e.to_errno(),
    }
}

/// `get` of the `ipi_tracking_enabled` parameter: `Y` or `N`.
///
/// # Safety
///
/// `buf` must be valid for writes of `PAGE_SIZE` bytes.
#[export]
pub unsafe extern "C" fn kvm_ipi_tracking_enabled_get(
    buf: *mut c_char,
    _kp: *const bindings::kernel_param,
) -> c_int {
    let c = if TRACKING_ENABLED.load(Relaxed) { 'Y' } else { 'N' };
    // SAFETY: Guaranteed by the caller.
    unsafe { param_emit(buf, format_args!("{c}\n")) }
}

/// `set` of the `ipi_window_ns` parameter: a decimal number of nanoseconds in
/// [`IPI_WINDOW_NS_MIN`, `IPI_WINDOW_NS_MAX`]. Anything else is rejected
/// (`-EINVAL` when it is no number, `-ERANGE` when out of range) and the old
/// value kept.
///
/// # Safety
///
/// `val` is null or a NUL-terminated string valid for the call.
#[export]
pub unsafe extern "C" fn kvm_ipi_window_ns_set(
    val: *const c_char,
    _kp: *const bindings::kernel_param,
) -> c_int {
    // SAFETY: Guaranteed by the caller.
    match unsafe { param_arg(val) }.and_then(parse_window_ns) {
        Ok(ns) => {
            WINDOW_NS.store(ns, Relaxed);
            0
        }
        Err(e) => e.to_errno(),
    }
}

/// `get` of the `ipi_window_ns` parameter.
///
/// # Safety
///
/// `buf` must be valid for writes of `PAGE_SIZE` bytes.
#[export]
pub unsafe extern "C" fn kvm_ipi_window_ns_get(
    buf: *mut c_char,
    _kp: *const bindings::kernel_param,
) -> c_int {
    // SAFETY: Guaranteed by the caller.
    unsafe { param_emit(buf, format_args!("{}\n", WINDOW_NS.load(Relaxed))) }
}

#[kunit_tests(vcpu_boost_kvm_ipi_tracker)]
mod tests {
    use super::*;

    fn b(s: &str) -> &BStr {
        BStr::from_bytes(s.as_bytes())
    }

    #[test]
    fn window_accepts_its_range_only() {
        assert_eq!(parse_window_ns(b("1000")), Ok(IPI_WINDOW_NS_MIN));
        assert_eq!(parse_window_ns(b("50000000")), Ok(IPI_WINDOW_NS_DEFAULT));
        assert_eq!(parse_window_ns(b("1000000000")), Ok(IPI_WINDOW_NS_MAX));
        assert_eq!(parse_window_ns(b("999")), Err(ERANGE));
        assert_eq!(parse_window_ns(b("0")), Err(ERANGE));
        assert_eq!(parse_window_ns(b("1000000001")), Err(ERANGE));
        assert_eq!(parse_window_ns(b("18446744073709551616")), Err(EINVAL));
        assert_eq!(parse_window_ns(b("-5")), Err(EINVAL));
        assert_eq!(parse_window_ns(b("abc")), Err(EINVAL));
        assert_eq!(parse_window_ns(b("")), Err(EINVAL));
    }
}
