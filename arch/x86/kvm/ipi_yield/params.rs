// SPDX-License-Identifier: GPL-2.0

//! The kvm module parameters of IPI-aware directed yield: their values,
//! how a written string is parsed and checked, and how a value is printed.
//!
//! `kvm_main.c` registers `ipi_tracking_enabled`, `ipi_window_ns` and
//! `enable_relaxed_boost` with `set`/`get` ops that are the crate root's
//! entry points. A rejected write returns an error and keeps the old value.
//! The two booleans also switch static keys, so that the C hooks call no
//! Rust while they are off.

use core::fmt::Write;
use kernel::{
    bindings,
    error::code::{EINVAL, ERANGE},
    ffi::{c_char, c_int},
    page::PAGE_SIZE,
    prelude::*,
    str::{kstrtobool_bytes, parse_int::ParseInt, BStr, Formatter},
    sync::atomic::{Atomic, Relaxed},
};

/// Default recency window: an IPI older than this no longer steers directed
/// yield. 50 ms: far longer than an IPI takes to be answered, so it ends
/// the priority only of a receiver that has owed the answer that long.
pub(crate) const IPI_WINDOW_NS_DEFAULT: u64 = 50_000_000;
/// Smallest accepted `ipi_window_ns`: 1 µs. Shorter windows cannot outlive
/// the delivery itself.
pub(crate) const IPI_WINDOW_NS_MIN: u64 = 1_000;
/// Largest accepted `ipi_window_ns`: 1 s. Older IPIs say nothing about what
/// a spinning vCPU waits for.
pub(crate) const IPI_WINDOW_NS_MAX: u64 = 1_000_000_000;

/// `ipi_tracking_enabled`. Relaxed: a delivery racing with a write may use
/// either value. The C hooks test the tracking static key, which
/// [`set_bool`] switches after this value. The parameters are read-mostly,
/// like KVM's own (`__read_mostly`): written only by the parameter files.
#[link_section = ".data..read_mostly"]
pub(crate) static TRACKING_ENABLED: Atomic<bool> = Atomic::new(true);
/// `ipi_window_ns`, always within [`IPI_WINDOW_NS_MIN`, `IPI_WINDOW_NS_MAX`].
#[link_section = ".data..read_mostly"]
pub(crate) static WINDOW_NS: Atomic<u64> = Atomic::new(IPI_WINDOW_NS_DEFAULT);
/// `enable_relaxed_boost`: when the scan yields to nobody, try the vCPUs it
/// passed over for being preempted in user mode. Off by default: a vCPU
/// spinning in kernel mode gains nothing from them. Only `get` reads it:
/// spins test the static key that [`set_bool`] switches after it.
#[link_section = ".data..read_mostly"]
pub(crate) static RELAXED_BOOST: Atomic<bool> = Atomic::new(false);

/// A boolean parameter: its value and the static key that follows it.
#[derive(Clone, Copy)]
pub(crate) enum Flag {
    /// `ipi_tracking_enabled`.
    Tracking,
    /// `enable_relaxed_boost`.
    Relaxed,
}

impl Flag {
    fn value(self) -> &'static Atomic<bool> {
        match self {
            Flag::Tracking => &TRACKING_ENABLED,
            Flag::Relaxed => &RELAXED_BOOST,
        }
    }

    fn key(self) -> bindings::kvm_ipi_yield_key {
        match self {
            Flag::Tracking => bindings::kvm_ipi_yield_key_KVM_IPI_YIELD_TRACKING,
            Flag::Relaxed => bindings::kvm_ipi_yield_key_KVM_IPI_YIELD_RELAXED,
        }
    }
}

/// `bytes` without the newline that `echo` appends.
pub(crate) fn arg(bytes: &[u8]) -> &BStr {
    BStr::from_bytes(bytes.strip_suffix(b"\n").unwrap_or(bytes))
}

/// FFI helper of the parameters' `set` ops: the string written, as [`arg`].
///
/// # Safety
///
/// `val` is null or points to a NUL-terminated string valid for `'a`.
pub(crate) unsafe fn param_arg<'a>(val: *const c_char) -> Result<&'a BStr> {
    if val.is_null() {
        return Err(EINVAL);
    }
    // SAFETY: Non-null here, and NUL-terminated and valid for `'a` by the
    // caller.
    Ok(arg(unsafe { CStr::from_char_ptr(val) }.to_bytes()))
}

/// FFI helper of the parameters' `get` ops: formats a value, NUL-terminated,
/// into the page-sized buffer of a `get` op and returns its length, as
/// `sysfs_emit()` would.
///
/// # Safety
///
/// `buf` must be valid for writes of `PAGE_SIZE` bytes.
pub(crate) unsafe fn param_emit(buf: *mut c_char, args: core::fmt::Arguments<'_>) -> c_int {
    // SAFETY: Valid for writes of `PAGE_SIZE` bytes, by the caller; nothing
    // else refers to the buffer during the op.
    let page = unsafe { core::slice::from_raw_parts_mut(buf.cast::<u8>(), PAGE_SIZE) };
    let (text, nul) = page.split_at_mut(PAGE_SIZE - 1);
    let mut f = Formatter::new(text);
    let len = match f.write_fmt(args) {
        Ok(()) => f.bytes_written(),
        Err(_) => return EINVAL.to_errno(),
    };
    if let Some(b) = text.get_mut(len).or(nul.first_mut()) {
        *b = 0;
    }
    c_int::try_from(len).unwrap_or(0)
}

/// A boolean as `kstrtobool()` reads it (`1`/`0`, `y`/`n`, `on`/`off`, ...).
pub(crate) fn parse_bool(arg: &BStr) -> Result<bool> {
    kstrtobool_bytes(arg)
}

/// Parses and range-checks a value written to `ipi_window_ns`.
pub(crate) fn parse_window_ns(arg: &BStr) -> Result<u64> {
    let ns = u64::from_str(arg)?;
    if (IPI_WINDOW_NS_MIN..=IPI_WINDOW_NS_MAX).contains(&ns) {
        Ok(ns)
    } else {
        Err(ERANGE)
    }
}

/// FFI helper of the boolean parameters' `set` ops: sets `flag` from the
/// written `arg`, then its static key; returns 0 or the error of a value
/// that is no boolean.
///
/// Switching a static key may sleep: call it in process context (a
/// parameter's `set` op, a KUnit test), or in early boot after
/// `jump_label_init()` (a parameter on the command line).
pub(crate) fn set_bool(flag: Flag, arg: Result<&BStr>) -> c_int {
    match arg.and_then(parse_bool) {
        Ok(on) => {
            flag.value().store(on, Relaxed);
            // SAFETY: `kvm_ipi_yield_set_key()` takes no pointer, and
            // `flag.key()` is one of the keys it switches.
            unsafe { bindings::kvm_ipi_yield_set_key(flag.key(), on) };
            0
        }
        Err(e) => e.to_errno(),
    }
}

/// The text `get` prints for `flag`: `Y` or `N`.
pub(crate) fn show_bool(flag: Flag) -> char {
    if flag.value().load(Relaxed) {
        'Y'
    } else {
        'N'
    }
}

/// Sets `ipi_window_ns` from the written `arg`; returns 0, or `-EINVAL` for
/// no number and `-ERANGE` for one out of range.
pub(crate) fn set_window_ns(arg: Result<&BStr>) -> c_int {
    match arg.and_then(parse_window_ns) {
        Ok(ns) => {
            WINDOW_NS.store(ns, Relaxed);
            0
        }
        Err(e) => e.to_errno(),
    }
}

#[kunit_tests(vcpu_boost_kvm_ipi_yield_params)]
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
        assert_eq!(parse_window_ns(arg(b"1000\n")), Ok(IPI_WINDOW_NS_MIN));
        assert_eq!(parse_window_ns(b("999")), Err(ERANGE));
        assert_eq!(parse_window_ns(b("0")), Err(ERANGE));
        assert_eq!(parse_window_ns(b("1000000001")), Err(ERANGE));
        assert_eq!(parse_window_ns(b("18446744073709551616")), Err(EINVAL));
        assert_eq!(parse_window_ns(b("-5")), Err(EINVAL));
        assert_eq!(parse_window_ns(b("abc")), Err(EINVAL));
        assert_eq!(parse_window_ns(b("")), Err(EINVAL));
    }

    #[test]
    fn booleans_parse_as_kstrtobool_only() {
        assert_eq!(parse_bool(arg(b"1\n")), Ok(true));
        assert_eq!(parse_bool(arg(b"Y")), Ok(true));
        assert_eq!(parse_bool(arg(b"off")), Ok(false));
        assert_eq!(parse_bool(arg(b"0")), Ok(false));
        assert_eq!(parse_bool(arg(b"maybe")), Err(EINVAL));
        assert_eq!(parse_bool(arg(b"")), Err(EINVAL));
    }

    /// A rejected write keeps the old value, whatever the error.
    #[test]
    fn rejected_writes_keep_the_value() {
        let old = WINDOW_NS.load(Relaxed);
        assert_eq!(set_window_ns(Ok(b("999"))), ERANGE.to_errno());
        assert_eq!(set_window_ns(Ok(b("x"))), EINVAL.to_errno());
        assert_eq!(set_window_ns(Err(EINVAL)), EINVAL.to_errno());
        assert_eq!(WINDOW_NS.load(Relaxed), old);
        let on = show_bool(Flag::Relaxed);
        let err = set_bool(Flag::Relaxed, Ok(b("perhaps")));
        assert_eq!(err, EINVAL.to_errno());
        assert_eq!(show_bool(Flag::Relaxed), on);
    }
}
