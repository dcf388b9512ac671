// SPDX-License-Identifier: GPL-2.0

//! IPI-aware directed yield: the entry points that KVM's C code calls.
//!
//! A vCPU that spins right after sending an IPI usually waits for the
//! receiver to act on it (a TLB shootdown, a function call). The IPI
//! tracker remembers, per vCPU, the last unicast fixed IPI it sent until
//! the receiver's EOI acknowledges it; while that IPI is pending and inside
//! `ipi_window_ns`, `kvm_vcpu_on_spin()` tries its receiver before
//! mainline's scan, and with `enable_relaxed_boost` a relaxed round follows
//! a scan that found nobody.
//!
//! `lapic.c` offers the deliveries of the APIC-map fast path, its slow
//! fallback and the PV send-IPI hypercall that a vCPU sent
//! ([`kvm_ipi_tracker_deliver`]), and the EOIs of trapped xAPIC writes, the
//! x2APIC MSR, PV EOI and accelerated EOI exits
//! ([`kvm_ipi_tracker_eoi_begin`], [`kvm_ipi_tracker_eoi_end`]), only while
//! the tracking static key is on; `kvm_main.c` calls
//! [`kvm_vcpu_select_and_yield`] while tracking or the relaxed round is on,
//! and registers the parameters. The C side counts the outcomes in KVM's
//! per-vCPU binary stats and traces them.
//!
//! IPIs that hardware delivers without a VM exit (Intel IPI virtualization,
//! AMD AVIC to a running vCPU) never reach these hooks; `x86.c` says so once
//! when a vCPU is created with APIC virtualization active.
//!
//! This file holds only the entry points, each turning its pointers into
//! safe views; the rest is safe Rust, one concern a module: [`tracker`]
//! (the per-vCPU record of the last IPI and its EOI), [`select`](mod@select)
//! (the choice of the vCPU to yield to) and [`params`] (the module
//! parameters).

mod params;
mod select;
mod tracker;

use core::ptr::NonNull;
use kernel::{
    bindings,
    ffi::{c_char, c_int},
    prelude::*,
    sync::atomic::Relaxed,
};
use params::{
    param_arg, param_emit, set_bool, set_window_ns, show_bool, Flag, RELAXED_BOOST, WINDOW_NS,
};
use select::{select, Spin, Tier, Vcpus};
use tracker::{eoi_begin, eoi_end, pending_receiver, record, refused, Ctx, Eoi, Link, Sent};

/// Resets a vCPU's context: nothing sent, nothing received.
///
/// # Safety
///
/// `ctx` points to the context of a vCPU that stays valid for the call.
#[export]
pub unsafe extern "C" fn kvm_ipi_tracker_reset(ctx: *mut bindings::kvm_ipi_ctx) {
    // SAFETY: `ctx` is a live vCPU's context for this call (this function's
    // safety requirements), whose fields are only accessed through `Ctx`.
    unsafe { Ctx::from_raw(ctx) }.reset();
}

/// FFI helper of the delivery entry points: the delivery at `d` and views
/// of its two vCPUs' contexts; `None` when either context is missing.
///
/// # Safety
///
/// `d` is valid for reads for `'a` and nothing writes it meanwhile; `d.src`
/// and `d.dst` are null or point to the contexts of vCPUs that stay valid
/// for `'a`.
unsafe fn delivery<'a>(
    d: *const bindings::kvm_ipi_delivery,
) -> Option<(&'a bindings::kvm_ipi_delivery, Ctx<'a>, Ctx<'a>)> {
    // SAFETY: Valid for reads and not written for `'a` (this function's
    // safety requirements).
    let d = unsafe { &*d };
    if d.src.is_null() || d.dst.is_null() {
        return None;
    }
    // SAFETY: Non-null, so both are live vCPUs' contexts for `'a` (this
    // function's safety requirements); they are only accessed through `Ctx`.
    let (src, dst) = unsafe { (Ctx::from_raw(d.src), Ctx::from_raw(d.dst)) };
    Some((d, src, dst))
}

/// Called by every LAPIC delivery path for each vCPU that a vCPU's
/// interrupt goes to, before it is delivered there. Records it when it is a
/// unicast fixed IPI and tracking is on, and returns the record (zero: not
/// recorded). A record refused by the receiver's APIC is undone with
/// [`kvm_ipi_tracker_refused`].
///
/// Recording first matters: once delivered, the receiver may run its
/// handler and EOI on another CPU at once, and an EOI that overtook the
/// record would leave the sender pending until the window ends. (The slow
/// path learns its single target only by delivering, so it calls this
/// afterwards and keeps that race; it is used only when the APIC map
/// cannot resolve the destination.)
///
/// # Safety
///
/// `d` is valid for reads; `d.src` and `d.dst` are null or point to the
/// contexts of vCPUs that stay valid for the call, `d.src` the calling
/// vCPU's.
#[export]
pub unsafe extern "C" fn kvm_ipi_tracker_deliver(d: *const bindings::kvm_ipi_delivery) -> u64 {
    // SAFETY: `d` and its contexts are valid for the call, and `d` is the
    // caller's description of one delivery that nothing writes meanwhile
    // (this function's safety requirements), as `delivery` needs.
    let Some((d, src, dst)) = (unsafe { delivery(d) }) else {
        return Sent::NONE.raw();
    };
    record(d, &src, &dst, now_ns).raw()
}

/// The clock of the tracker's send times: the fast mono clock.
fn now_ns() -> u64 {
    // SAFETY: The fast mono clock may be read in any context, NMI included.
    unsafe { bindings::ktime_get_mono_fast_ns() }
}

/// Undoes `recorded`, what [`kvm_ipi_tracker_deliver`] returned for `d`,
/// after the receiver's APIC refused the interrupt.
///
/// # Safety
///
/// As for [`kvm_ipi_tracker_deliver`], with the same `d`.
#[export]
pub unsafe extern "C" fn kvm_ipi_tracker_refused(
    d: *const bindings::kvm_ipi_delivery,
    recorded: u64,
) {
    // SAFETY: As in `kvm_ipi_tracker_deliver` (this function's safety
    // requirements), as `delivery` needs.
    if let Some((d, src, dst)) = unsafe { delivery(d) } {
        if recorded != 0 {
            refused(d.src_idx, Sent::from_raw(recorded), &src, &dst);
        }
    }
}

/// First half of an EOI by the vCPU whose context is `receiver`: returns
/// the vcpu_idx of the sender its link names (-1: none, or tracking is
/// off) and stores the link in `*link` for [`kvm_ipi_tracker_eoi_end`].
///
/// # Safety
///
/// `receiver` points to the calling vCPU's context; `link` is valid for a
/// write.
#[export]
pub unsafe extern "C" fn kvm_ipi_tracker_eoi_begin(
    receiver: *const bindings::kvm_ipi_ctx,
    link: *mut u32,
) -> c_int {
    // SAFETY: `receiver` is the calling vCPU's context, live for this call
    // (this function's safety requirements), only accessed through `Ctx`.
    let receiver = unsafe { Ctx::from_raw(receiver) };
    let (sender, l) = eoi_begin(&receiver).unwrap_or((-1, Link::NONE));
    // SAFETY: `link` is valid for a write (this function's safety
    // requirements).
    unsafe { link.write(l.raw()) };
    sender
}

/// Second half of an EOI of `vector` (negative: none in service) by the
/// vCPU `receiver_idx`: acknowledges the IPI of `sender_idx` that `link`
/// names when the EOI matches it, drops a stale link, and says which.
///
/// # Safety
///
/// `sender` and `receiver` point to the contexts of those two vCPUs of one
/// VM, valid for the call, `receiver` the calling vCPU's.
#[export]
pub unsafe extern "C" fn kvm_ipi_tracker_eoi_end(
    sender: *mut bindings::kvm_ipi_ctx,
    sender_idx: c_int,
    receiver: *mut bindings::kvm_ipi_ctx,
    receiver_idx: c_int,
    link: u32,
    vector: c_int,
    now: u64,
) -> bindings::kvm_ipi_eoi {
    let Ok(receiver_idx) = u32::try_from(receiver_idx) else {
        return Eoi::None.to_c();
    };
    // SAFETY: Both are live vCPUs' contexts for this call (this function's
    // safety requirements), only accessed through `Ctx`.
    let (s, r) = unsafe { (Ctx::from_raw(sender), Ctx::from_raw(receiver)) };
    eoi_end(
        &s,
        sender_idx,
        &r,
        receiver_idx,
        Link::from_raw(link),
        vector,
        now,
        || (),
    )
    .to_c()
}

/// The receiver of `sender`'s last tracked IPI while that IPI is pending
/// and was sent at most `ipi_window_ns` ago; -1 otherwise, and while
/// tracking is off. Directed yield tries it first.
///
/// # Safety
///
/// `sender` points to the context of a vCPU that stays valid for the call.
#[export]
pub unsafe extern "C" fn kvm_ipi_tracker_pending_receiver(
    sender: *const bindings::kvm_ipi_ctx,
) -> c_int {
    // SAFETY: `sender` is a live vCPU's context for this call (this
    // function's safety requirements), only accessed through `Ctx`.
    let sender = unsafe { Ctx::from_raw(sender) };
    pending_receiver(&sender, now_ns)
        .and_then(|r| c_int::try_from(r).ok())
        .unwrap_or(-1)
}

/// The vCPUs of a live VM, reached through `kvm_main.c`.
///
/// # Invariants
///
/// `me` points to a vCPU of the VM that stays valid while this exists.
/// `last`, when set, is an index of that VM's online vCPUs and the vCPU at
/// it, which lives as long as the VM.
struct KvmVcpus {
    me: *mut bindings::kvm_vcpu,
    last: Option<(u32, NonNull<bindings::kvm_vcpu>)>,
}

impl KvmVcpus {
    /// The vCPU at `idx`: the selector asks about one candidate several
    /// times in a row, and mainline looks each one up once.
    fn vcpu(&mut self, idx: u32) -> Option<NonNull<bindings::kvm_vcpu>> {
        if let Some((i, v)) = self.last {
            if i == idx {
                return Some(v);
            }
        }
        let i = c_int::try_from(idx).ok()?;
        // SAFETY: `me` is a live vCPU by the type invariant.
        let v = NonNull::new(unsafe { bindings::kvm_dy_vcpu(self.me, i) })?;
        // INVARIANT: `kvm_dy_vcpu()` returned the online vCPU at `idx` of
        // `me`'s VM.
        self.last = Some((idx, v));
        Some(v)
    }
}

impl Vcpus for KvmVcpus {
    fn facts(&mut self, idx: u32) -> Option<bindings::kvm_dy_facts> {
        let v = self.vcpu(idx)?;
        let mut f = bindings::kvm_dy_facts {
            ready: false,
            blocked: false,
            preempted: false,
            pending_interrupt: false,
            other_cpu: false,
        };
        // SAFETY: `me` and `v` are live vCPUs of one VM by the type
        // invariant; `f` is a local the call fills in.
        unsafe { bindings::kvm_dy_facts(self.me, v.as_ptr(), &mut f) };
        Some(f)
    }

    fn in_kernel(&mut self, idx: u32) -> bool {
        // SAFETY: `v` is a live vCPU by the type invariant.
        self.vcpu(idx)
            .is_some_and(|v| unsafe { bindings::kvm_dy_in_kernel(v.as_ptr()) })
    }

    fn eligible(&mut self, idx: u32) -> bool {
        // SAFETY: `v` is a live vCPU by the type invariant.
        self.vcpu(idx)
            .is_some_and(|v| unsafe { bindings::kvm_dy_eligible(v.as_ptr()) })
    }

    fn yield_to(&mut self, idx: u32) -> i32 {
        // SAFETY: `v` is a live vCPU by the type invariant.
        self.vcpu(idx)
            .map_or(0, |v| unsafe { bindings::kvm_dy_yield(v.as_ptr()) })
    }
}

/// Called from `kvm_vcpu_on_spin()`: picks the vCPU `me` should yield to
/// and yields. Returns the tier and stores the target in `*target` (-1:
/// none).
///
/// # Safety
///
/// `me` points to the spinning vCPU, valid for the call; `target` is valid
/// for a write.
#[export]
pub unsafe extern "C" fn kvm_vcpu_select_and_yield(
    me: *mut bindings::kvm_vcpu,
    me_idx: c_int,
    nr_vcpus: c_int,
    start: c_int,
    receiver: c_int,
    yield_to_kernel_mode: bool,
    target: *mut c_int,
) -> bindings::kvm_dy_tier {
    let (tier, idx) = match (u32::try_from(me_idx), u32::try_from(nr_vcpus)) {
        (Ok(me_u), Ok(nr)) => {
            let spin = Spin {
                me: me_u,
                nr,
                start: u32::try_from(start).unwrap_or(0),
                receiver: u32::try_from(receiver).ok(),
                kernel_mode: yield_to_kernel_mode,
                relaxed: RELAXED_BOOST.load(Relaxed),
            };
            // INVARIANT: `me` is valid for the call, by the caller.
            select(&mut KvmVcpus { me, last: None }, &spin)
        }
        _ => (Tier::None, 0),
    };
    let t = match tier {
        Tier::None => -1,
        _ => c_int::try_from(idx).unwrap_or(-1),
    };
    // SAFETY: `target` is valid for a write (this function's safety
    // requirements).
    unsafe { target.write(t) };
    tier.to_c()
}

/// `set` of `ipi_tracking_enabled`: a boolean as `kstrtobool()` reads it;
/// anything else is rejected with `-EINVAL` and the old value kept.
///
/// # Safety
///
/// `val` is null or a NUL-terminated string valid for the call.
#[export]
pub unsafe extern "C" fn kvm_ipi_tracking_enabled_set(
    val: *const c_char,
    _kp: *const bindings::kernel_param,
) -> c_int {
    // SAFETY: `val` is null or a NUL-terminated string valid for the call
    // (this function's safety requirements), as `param_arg` needs; a `set`
    // op runs in process context or in early boot after jump_label_init(),
    // as `set_bool` needs.
    unsafe { set_bool(Flag::Tracking, param_arg(val)) }
}

/// `get` of `ipi_tracking_enabled`: `Y` or `N`.
///
/// # Safety
///
/// `buf` must be valid for writes of `PAGE_SIZE` bytes.
#[export]
pub unsafe extern "C" fn kvm_ipi_tracking_enabled_get(
    buf: *mut c_char,
    _kp: *const bindings::kernel_param,
) -> c_int {
    // SAFETY: `buf` is valid for writes of `PAGE_SIZE` bytes (this
    // function's safety requirements), as `param_emit` needs.
    unsafe { param_emit(buf, format_args!("{}\n", show_bool(Flag::Tracking))) }
}

/// `set` of `ipi_window_ns`: a decimal number of nanoseconds in
/// 1000 ..= 1000000000. Anything else is rejected (`-EINVAL` when it is no
/// number, `-ERANGE` when out of range) and the old value kept.
///
/// # Safety
///
/// `val` is null or a NUL-terminated string valid for the call.
#[export]
pub unsafe extern "C" fn kvm_ipi_window_ns_set(
    val: *const c_char,
    _kp: *const bindings::kernel_param,
) -> c_int {
    // SAFETY: `val` is null or a NUL-terminated string valid for the call
    // (this function's safety requirements), as `param_arg` needs.
    set_window_ns(unsafe { param_arg(val) })
}

/// `get` of `ipi_window_ns`.
///
/// # Safety
///
/// `buf` must be valid for writes of `PAGE_SIZE` bytes.
#[export]
pub unsafe extern "C" fn kvm_ipi_window_ns_get(
    buf: *mut c_char,
    _kp: *const bindings::kernel_param,
) -> c_int {
    // SAFETY: `buf` is valid for writes of `PAGE_SIZE` bytes (this
    // function's safety requirements), as `param_emit` needs.
    unsafe { param_emit(buf, format_args!("{}\n", WINDOW_NS.load(Relaxed))) }
}

/// `set` of `enable_relaxed_boost`: a boolean; anything else is rejected
/// with `-EINVAL` and the old value kept.
///
/// # Safety
///
/// `val` is null or a NUL-terminated string valid for the call.
#[export]
pub unsafe extern "C" fn kvm_relaxed_boost_set(
    val: *const c_char,
    _kp: *const bindings::kernel_param,
) -> c_int {
    // SAFETY: `val` is null or a NUL-terminated string valid for the call
    // (this function's safety requirements), as `param_arg` needs; a `set`
    // op runs in process context or in early boot after jump_label_init(),
    // as `set_bool` needs.
    unsafe { set_bool(Flag::Relaxed, param_arg(val)) }
}

/// `get` of `enable_relaxed_boost`: `Y` or `N`.
///
/// # Safety
///
/// `buf` must be valid for writes of `PAGE_SIZE` bytes.
#[export]
pub unsafe extern "C" fn kvm_relaxed_boost_get(
    buf: *mut c_char,
    _kp: *const bindings::kernel_param,
) -> c_int {
    // SAFETY: `buf` is valid for writes of `PAGE_SIZE` bytes (this
    // function's safety requirements), as `param_emit` needs.
    unsafe { param_emit(buf, format_args!("{}\n", show_bool(Flag::Relaxed))) }
}

/// Reproducible random numbers for the fuzz tests.
#[cfg(CONFIG_KUNIT = "y")]
mod testing {
    /// xorshift64: the next number of the sequence in `state`.
    pub(crate) fn next(state: &mut u64) -> u64 {
        *state ^= *state << 13;
        *state ^= *state >> 7;
        *state ^= *state << 17;
        *state
    }
}
