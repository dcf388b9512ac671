// SPDX-License-Identifier: GPL-2.0

//! Directed-yield candidate selection for `kvm_vcpu_on_spin()`.
//!
//! `kvm_main.c` calls [`kvm_vcpu_select_on_spin`] when a vCPU enters
//! `kvm_vcpu_on_spin()`. The kvm module parameter `enable_relaxed_boost` is
//! defined here.
//!
//! This object is the infrastructure: the hook, the parameter and a hook
//! counter. Selection is still mainline's.

use kernel::{
    bindings,
    error::code::EINVAL,
    ffi::c_char,
    ffi::c_int,
    page::PAGE_SIZE,
    prelude::*,
    seq_file::SeqFile,
    seq_print,
    str::kstrtobool_bytes,
    sync::atomic::{Atomic, Relaxed},
};

/// `enable_relaxed_boost`: when round 1 yields to nobody, scan again with
/// the preempted gate alone. On by default, as in the series. Relaxed: a
/// spin racing with a write may use either value.
static RELAXED_BOOST: Atomic<bool> = Atomic::new(true);

/// `kvm_vcpu_on_spin()` entries that reached this object. Statistics only.
static ON_SPIN_CALLS: Atomic<u64> = Atomic::new(0);

/// Called when `me` enters `kvm_vcpu_on_spin()`.
///
/// # Safety
///
/// `me` points to a vCPU that stays valid for the call.
#[export]
pub unsafe extern "C" fn kvm_vcpu_select_on_spin(_me: *mut bindings::kvm_vcpu) {
    ON_SPIN_CALLS.add(1, Relaxed);
}

/// Prints the hook counter into `/sys/kernel/debug/kvm/ipi_yield_hooks`.
///
/// # Safety
///
/// `m` must point to a valid `seq_file` used by no other thread for the call.
#[export]
pub unsafe extern "C" fn kvm_vcpu_select_show(m: *mut bindings::seq_file) {
    // SAFETY: Guaranteed by the caller, a seq_file `show` callback.
    let m = unsafe { SeqFile::from_raw(m) };
    seq_print!(m, "on_spin {}\n", ON_SPIN_CALLS.load(Relaxed));
}

/// Parses a boolean parameter value the way `kstrtobool()` does, ignoring
/// the newline that `echo` appends.
fn parse_bool(val: &[u8]) -> Result<bool> {
    kstrtobool_bytes(val.strip_suffix(b"\n").unwrap_or(val))
}

/// `set` of the `enable_relaxed_boost` parameter. A value that is no boolean
/// is rejected with `-EINVAL` and the old value kept.
///
/// # Safety
///
/// `val` is null or a NUL-terminated string valid for the call.
#[export]
pub unsafe extern "C" fn kvm_relaxed_boost_set(
    val: *const c_char,
    _kp: *const bindings::kernel_param,
) -> c_int {
    if val.is_null() {
        return EINVAL.to_errno();
    }
    // SAFETY: Non-null here; NUL-terminated and valid by the caller.
    let s = unsafe { CStr::from_char_ptr(val) };
    match parse_bool(s.to_bytes()) {
        Ok(on) => {
            RELAXED_BOOST.store(on, Relaxed);
            0
        }
        Err(e) => e.to_errno(),
    }
}

/// `get` of the `enable_relaxed_boost` parameter: `Y` or `N`.
///
/// # Safety
///
/// `buf` must be valid for writes of `PAGE_SIZE` bytes.
#[export]
pub unsafe extern "C" fn kvm_relaxed_boost_get(
    buf: *mut c_char,
    _kp: *const bindings::kernel_param,
) -> c_int {
    // SAFETY: The parameter code hands `get` a buffer of PAGE_SIZE bytes.
    let page = unsafe { core::slice::from_raw_parts_mut(buf.cast::<u8>(), PAGE_SIZE) };
    let text: &[u8] = if RELAXED_BOOST.load(Relaxed) { b"Y\n\0" } else { b"N\n\0" };
    match page.get_mut(..text.len()) {
        Some(dst) => {
            dst.copy_from_slice(text);
            // The length, as `sysfs_emit()` returns it, excludes the NUL.
            c_int::try_from(text.len() - 1).unwrap_or(0)
        }
        None => EINVAL.to_errno(),
    }
}

#[kunit_tests(vcpu_boost_kvm_vcpu_select)]
mod tests {
    use super::*;

    #[test]
    fn relaxed_boost_parses_booleans_only() {
        assert_eq!(parse_bool(b"1\n"), Ok(true));
        assert_eq!(parse_bool(b"Y"), Ok(true));
        assert_eq!(parse_bool(b"off"), Ok(false));
        assert_eq!(parse_bool(b"0"), Ok(false));
        assert_eq!(parse_bool(b"maybe"), Err(EINVAL));
        assert_eq!(parse_bool(b""), Err(EINVAL));
    }
}
