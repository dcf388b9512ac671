// SPDX-License-Identifier: GPL-2.0

//! The kvm module parameters of IPI-aware directed yield: their values,
//! how a written string is parsed and checked, and how a value is printed.
//!
//! `kvm_main.c` registers `ipi_tracking_enabled`, `ipi_window_ns`,
//! `ipi_hold_ns` and `enable_relaxed_boost` with `set`/`get` ops that are the crate root's
//! entry points. A rejected write returns an error and keeps the old value.
//! The two booleans also switch static keys, so that the C hooks call no
//! Rust while they are off.

use kernel::{
    bindings,
    error::code::{EINVAL, ERANGE},
    prelude::*,
    str::{kstrtobool_bytes, BStr},
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

/// Default hold: for 50 µs after sending an IPI, a spinning vCPU keeps its
/// CPU while the receiver runs. Longer than a running receiver takes to
/// answer, far shorter than a lock holder's wait once preempted (a
/// scheduler slice).
pub(crate) const IPI_HOLD_NS_DEFAULT: u64 = 50_000;
/// Largest accepted `ipi_hold_ns`: 1 ms. A spinner that still waits that
/// long after its IPI waits for something else.
pub(crate) const IPI_HOLD_NS_MAX: u64 = 1_000_000;

/// `ipi_tracking_enabled`. Relaxed: a delivery racing with a write may use
/// either value. The C hooks test the tracking static key, which
/// the `set` op switches after this value. The parameters are read-mostly,
/// like KVM's own (`__read_mostly`): written only by the parameter files.
#[link_section = ".data..read_mostly"]
pub(crate) static TRACKING_ENABLED: Atomic<bool> = Atomic::new(true);
/// `ipi_window_ns`, always within [`IPI_WINDOW_NS_MIN`, `IPI_WINDOW_NS_MAX`].
#[link_section = ".data..read_mostly"]
pub(crate) static WINDOW_NS: Atomic<u64> = Atomic::new(IPI_WINDOW_NS_DEFAULT);
/// `ipi_hold_ns`, always at most [`IPI_HOLD_NS_MAX`]; 0 turns the hold off.
#[link_section = ".data..read_mostly"]
pub(crate) static HOLD_NS: Atomic<u64> = Atomic::new(IPI_HOLD_NS_DEFAULT);
/// `enable_relaxed_boost`: when the scan yields to nobody, try the vCPUs it
/// passed over for being preempted in user mode. Off by default: a vCPU
/// spinning in kernel mode gains nothing from them. Only `get` reads it:
/// spins test the static key that the `set` op switches after it.
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

    /// The static key of `kvm_ipi_yield_set_key()` that follows the flag.
    pub(crate) fn key(self) -> bindings::kvm_ipi_yield_key {
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

/// A boolean as `kstrtobool()` reads it (`1`/`0`, `y`/`n`, `on`/`off`, ...).
pub(crate) fn parse_bool(arg: &BStr) -> Result<bool> {
    kstrtobool_bytes(arg)
}

/// A decimal number: digits only, no sign, base prefix or octal leading
/// zero (which `u64::from_str`, as `kstrtoull()` with base 0, would take:
/// `050000000` there is 10485760); `-EINVAL` for anything else, and
/// `-ERANGE` for a number beyond `u64`, as `kstrtoull()`.
fn parse_decimal(arg: &BStr) -> Result<u64> {
    if arg.is_empty() || !arg.iter().all(u8::is_ascii_digit) {
        return Err(EINVAL);
    }
    arg.iter().try_fold(0u64, |n, &c| {
        n.checked_mul(10)
            .and_then(|n| n.checked_add(u64::from(c - b'0')))
            .ok_or(ERANGE)
    })
}

/// Parses and range-checks a value written to `ipi_window_ns`.
pub(crate) fn parse_window_ns(arg: &BStr) -> Result<u64> {
    parse_decimal_in(arg, IPI_WINDOW_NS_MIN..=IPI_WINDOW_NS_MAX)
}

/// Parses and range-checks a value written to `ipi_hold_ns`.
pub(crate) fn parse_hold_ns(arg: &BStr) -> Result<u64> {
    parse_decimal_in(arg, 0..=IPI_HOLD_NS_MAX)
}

/// A decimal number ([`parse_decimal`]) within `range`; `-ERANGE` outside.
fn parse_decimal_in(arg: &BStr, range: core::ops::RangeInclusive<u64>) -> Result<u64> {
    let ns = parse_decimal(arg)?;
    if range.contains(&ns) {
        Ok(ns)
    } else {
        Err(ERANGE)
    }
}

/// The `set` op of a boolean parameter: sets `flag` from the written `arg`
/// (`None`: the parameter's bare name on the command line, which sets it,
/// as for any bool parameter); returns the new value, or `-EINVAL` for a
/// value that is no boolean. The caller switches the flag's static key
/// after it.
pub(crate) fn set_bool(flag: Flag, arg: Option<&BStr>) -> Result<bool> {
    let on = arg.map_or(Ok(true), parse_bool)?;
    flag.value().store(on, Relaxed);
    Ok(on)
}

/// The text `get` prints for `flag`: `Y` or `N`.
pub(crate) fn show_bool(flag: Flag) -> char {
    if flag.value().load(Relaxed) {
        'Y'
    } else {
        'N'
    }
}

/// Sets `ipi_window_ns` from the written `arg`, which it needs (`None`, a
/// bare name, is `-EINVAL`); `-EINVAL` for no decimal number and `-ERANGE`
/// for one out of range.
pub(crate) fn set_window_ns(arg: Option<&BStr>) -> Result {
    let ns = parse_window_ns(arg.ok_or(EINVAL)?)?;
    WINDOW_NS.store(ns, Relaxed);
    Ok(())
}

/// Sets `ipi_hold_ns` from the written `arg`, as [`set_window_ns`] sets
/// `ipi_window_ns`.
pub(crate) fn set_hold_ns(arg: Option<&BStr>) -> Result {
    let ns = parse_hold_ns(arg.ok_or(EINVAL)?)?;
    HOLD_NS.store(ns, Relaxed);
    Ok(())
}

#[cfg(CONFIG_VCPU_BOOST_KUNIT_TEST)]
#[kernel::macros::kunit_tests(vcpu_boost_kvm_ipi_yield_params)]
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
        assert_eq!(parse_window_ns(b("18446744073709551616")), Err(ERANGE));
        assert_eq!(parse_window_ns(b("-5")), Err(EINVAL));
        assert_eq!(parse_window_ns(b("abc")), Err(EINVAL));
        assert_eq!(parse_window_ns(b("")), Err(EINVAL));
        // Decimal only: no base prefix, sign or octal leading zero.
        assert_eq!(parse_window_ns(b("050000000")), Ok(IPI_WINDOW_NS_DEFAULT));
        assert_eq!(parse_window_ns(b("0x2faf080")), Err(EINVAL));
        assert_eq!(parse_window_ns(b("+50000000")), Err(EINVAL));
        assert_eq!(parse_window_ns(b(" 50000000")), Err(EINVAL));
    }

    #[test]
    fn hold_accepts_its_range_only() {
        assert_eq!(parse_hold_ns(b("0")), Ok(0));
        assert_eq!(parse_hold_ns(b("50000")), Ok(IPI_HOLD_NS_DEFAULT));
        assert_eq!(parse_hold_ns(arg(b"1000000\n")), Ok(IPI_HOLD_NS_MAX));
        assert_eq!(parse_hold_ns(b("1000001")), Err(ERANGE));
        assert_eq!(parse_hold_ns(b("18446744073709551616")), Err(ERANGE));
        assert_eq!(parse_hold_ns(b("-1")), Err(EINVAL));
        assert_eq!(parse_hold_ns(b("1e5")), Err(EINVAL));
        assert_eq!(parse_hold_ns(b("")), Err(EINVAL));
        let old = HOLD_NS.load(Relaxed);
        assert_eq!(set_hold_ns(Some(b("2000000"))), Err(ERANGE));
        assert_eq!(set_hold_ns(None), Err(EINVAL));
        assert_eq!(HOLD_NS.load(Relaxed), old);
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
        assert_eq!(set_window_ns(Some(b("999"))), Err(ERANGE));
        assert_eq!(set_window_ns(Some(b("x"))), Err(EINVAL));
        assert_eq!(set_window_ns(None), Err(EINVAL));
        assert_eq!(WINDOW_NS.load(Relaxed), old);
        let on = show_bool(Flag::Relaxed);
        assert_eq!(set_bool(Flag::Relaxed, Some(b("perhaps"))), Err(EINVAL));
        assert_eq!(show_bool(Flag::Relaxed), on);
    }

    /// A bare boolean name (`kvm.enable_relaxed_boost` on the command
    /// line, no `=`) sets it, as mainline's bool parameters do.
    #[test]
    fn bare_boolean_sets_it() {
        let on = show_bool(Flag::Relaxed);
        assert_eq!(set_bool(Flag::Relaxed, Some(b("0"))), Ok(false));
        assert_eq!(show_bool(Flag::Relaxed), 'N');
        assert_eq!(set_bool(Flag::Relaxed, None), Ok(true));
        assert_eq!(show_bool(Flag::Relaxed), 'Y');
        assert_eq!(
            set_bool(Flag::Relaxed, Some(b(if on == 'Y' { "1" } else { "0" }))),
            Ok(on == 'Y')
        );
    }
}
