// SPDX-License-Identifier: GPL-2.0

//! IPI-aware directed yield: the entry points that KVM's C code calls.
//!
//! A vCPU that spins right after sending an IPI usually waits for the
//! receiver to act on it (a TLB shootdown, a function call). The IPI
//! tracker remembers, per vCPU, the last unicast fixed IPI it sent; while
//! the receiver runs and the IPI was sent at most `ipi_hold_ns` ago, the
//! spinner keeps its CPU; while the receiver's APIC still holds that IPI's
//! vector (posted (PIR), in the IRR or in the ISR: not yet EOI'd) and it is
//! inside `ipi_window_ns`, `kvm_vcpu_on_spin()` tries its receiver before
//! mainline's scan when it was preempted on the spinner's CPU, not in a
//! spin of its own, and has not halted since the spinner last asked, and
//! with `enable_relaxed_boost` a relaxed round follows a scan that found
//! nobody.
//!
//! `lapic.c` offers the accepted deliveries of the APIC-map fast path, its
//! slow fallback and the PV send-IPI hypercall that a vCPU sent
//! ([`kvm_ipi_tracker_deliver`]) only while the tracking static key is on,
//! and answers the tracker's questions about the receiver's APIC
//! (`kvm_arch_dy_ipi_outstanding()`), whether it runs
//! (`kvm_arch_dy_running()`) and its halts (`kvm_arch_dy_halts()`);
//! nothing hooks the EOI paths.
//! `kvm_main.c`, while tracking or the relaxed round is on, calls
//! [`kvm_dy_receiver_first`] (through `lapic.c`, while tracking is on)
//! before mainline's scan, which stays in C, and [`kvm_dy_relaxed_round`]
//! after a scan that yielded to nobody; it registers the parameters. The C
//! side counts the outcomes in KVM's per-vCPU binary stats and traces them.
//!
//! IPIs that hardware delivers without a VM exit (Intel IPI virtualization,
//! AMD AVIC to a running vCPU) never reach these hooks.
//!
//! This file holds only the entry points and their FFI helpers, which turn
//! pointers into safe views; the rest is safe Rust, one concern a module:
//! [`tracker`] (the per-vCPU record of the last IPI), [`select`](mod@select)
//! (the steps around mainline's scan) and [`params`] (the module
//! parameters).

mod params;
mod select;
mod tracker;

use core::{fmt::Write, marker::PhantomData, ptr::NonNull};
use kernel::{
    bindings,
    error::code::EINVAL,
    ffi::{c_char, c_int},
    page::PAGE_SIZE,
    prelude::*,
    str::{BStr, Formatter},
    sync::atomic::{Atomic, Relaxed},
};
use params::{arg, set_bool, set_hold_ns, set_window_ns, show_bool, Flag, HOLD_NS, WINDOW_NS};
use select::{hold_for_receiver, receiver_first, relaxed_round, First, Spinner, Vcpus};
use tracker::{last_sent, outstanding, record, still_recent, Ctx, Sent};

/// The view of the IPI context at `ctx`.
///
/// # Safety
///
/// `ctx` points to a `struct kvm_ipi_ctx` that stays valid for reads and
/// writes for `'a` and whose words are accessed only atomically meanwhile.
unsafe fn ipi_ctx<'a>(ctx: *mut bindings::kvm_ipi_ctx) -> Ctx<'a> {
    // SAFETY: Valid for reads and writes, and aligned, for `'a`, by the
    // caller; the words are `u64`s, accessed only atomically.
    unsafe {
        Ctx::new(
            Atomic::from_ptr(&raw mut (*ctx).sent),
            Atomic::from_ptr(&raw mut (*ctx).seen),
        )
    }
}

/// Resets a vCPU's context: nothing sent.
///
/// # Safety
///
/// `ctx` points to the context of a vCPU that stays valid for the call.
#[export]
pub unsafe extern "C" fn kvm_ipi_tracker_reset(ctx: *mut bindings::kvm_ipi_ctx) {
    // SAFETY: `ctx` is a live vCPU's context for this call (this function's
    // safety requirements), whose words are only accessed through `Ctx`.
    unsafe { ipi_ctx(ctx) }.reset();
}

/// Called by every LAPIC delivery path for an interrupt a vCPU sent to
/// exactly one vCPU, which accepted it. Records it when it is a unicast
/// fixed IPI and tracking is on; returns whether it did.
///
/// # Safety
///
/// `d` is valid for reads and nothing writes it during the call; `d.src` is
/// null or points to the context of the calling vCPU, the sender.
#[export]
pub unsafe extern "C" fn kvm_ipi_tracker_deliver(d: *const bindings::kvm_ipi_delivery) -> bool {
    // SAFETY: Valid for reads and not written during the call (this
    // function's safety requirements).
    let d = unsafe { &*d };
    if d.src.is_null() {
        return false;
    }
    // SAFETY: Non-null, so the calling vCPU's context, live for the call
    // (this function's safety requirements); only accessed through `Ctx`.
    let src = unsafe { ipi_ctx(d.src) };
    record(d, &src, now_ns).recorded()
}

/// The clock of the tracker's send times: `local_clock()`, which reads
/// per-CPU and read-mostly data, not a line that the timekeeper writes at
/// every tick.
fn now_ns() -> u64 {
    // SAFETY: `local_clock()` takes no argument and may be called in any
    // context; it keeps itself on one CPU while it reads.
    unsafe { bindings::local_clock() }
}

/// The spinning vCPU, as an exported entry point received it: one word, so
/// that it is passed in a register.
///
/// # Invariants
///
/// Points to a vCPU of a live VM, valid for `'a`.
#[derive(Clone, Copy)]
struct Spinning<'a>(*mut bindings::kvm_vcpu, PhantomData<&'a ()>);

impl Spinning<'_> {
    /// Wraps `me`.
    ///
    /// # Safety
    ///
    /// `me` points to a vCPU of a live VM, valid for the lifetime chosen.
    unsafe fn new(me: *mut bindings::kvm_vcpu) -> Self {
        // INVARIANT: By the caller.
        Spinning(me, PhantomData)
    }
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
    /// The vCPU at `idx`: a step asks about one candidate several times in
    /// a row, and mainline looks each one up once.
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

    /// Whether the vCPU at `idx` has not yet EOI'd `vector`: posted to it
    /// and not yet in its IRR, or in its IRR or ISR.
    fn holds(&mut self, idx: u32, vector: u8) -> bool {
        // SAFETY: `v` comes from `vcpu()`: the vCPU in `last`, live by the
        // type invariant.
        self.vcpu(idx).is_some_and(|v| unsafe {
            bindings::kvm_arch_dy_ipi_outstanding(v.as_ptr(), vector.into())
        })
    }

    /// How often the vCPU at `idx` has halted.
    fn halts(&mut self, idx: u32) -> Option<u64> {
        // SAFETY: `v` comes from `vcpu()`: the vCPU in `last`, live by the
        // type invariant.
        self.vcpu(idx)
            .map(|v| unsafe { bindings::kvm_arch_dy_halts(v.as_ptr()) })
    }
}

impl Vcpus for KvmVcpus {
    fn facts(&mut self, idx: u32) -> Option<bindings::kvm_dy_facts> {
        let v = self.vcpu(idx)?;
        let mut f = bindings::kvm_dy_facts {
            ready: false,
            blocked: false,
            preempted: false,
            other_cpu: false,
            spinning: false,
        };
        // SAFETY: `me` and `v` are live vCPUs of one VM by the type
        // invariant; `f` is a local the call fills in.
        unsafe { bindings::kvm_dy_facts(self.me, v.as_ptr(), &mut f) };
        Some(f)
    }

    fn eligible(&mut self, idx: u32) -> bool {
        // SAFETY: `v` comes from `vcpu()`: the vCPU in `last`, live by the
        // type invariant.
        self.vcpu(idx)
            .is_some_and(|v| unsafe { bindings::kvm_dy_eligible(v.as_ptr()) })
    }

    fn running(&mut self, idx: u32) -> bool {
        // SAFETY: `v` comes from `vcpu()`: the vCPU in `last`, live by the
        // type invariant.
        self.vcpu(idx)
            .is_some_and(|v| unsafe { bindings::kvm_arch_dy_running(v.as_ptr()) })
    }

    fn yield_to(&mut self, idx: u32, ipi_receiver: bool) -> i32 {
        // SAFETY: `v` comes from `vcpu()`: the vCPU in `last`, live by the
        // type invariant.
        self.vcpu(idx).map_or(0, |v| unsafe {
            bindings::kvm_dy_yield(v.as_ptr(), ipi_receiver)
        })
    }
}

/// The spinner of a spin's state; `None` when its numbers are not indices.
fn spinner(dy: &bindings::kvm_dy_spin) -> Option<Spinner> {
    Some(Spinner {
        me: u32::try_from(dy.me).ok()?,
        nr: u32::try_from(dy.nr_vcpus).ok()?,
    })
}

/// Runs `step` on a spin's state with its budget of failed yields, and
/// stores what is left of the budget back.
fn with_tries<R>(dy: &mut bindings::kvm_dy_spin, step: impl FnOnce(&mut u32) -> R) -> R {
    let mut tries = u32::try_from(dy.tries).unwrap_or(0);
    let r = step(&mut tries);
    // Never more than it was, so it fits.
    dy.tries = c_int::try_from(tries).unwrap_or(0);
    r
}

/// Before mainline's scan in `kvm_vcpu_on_spin()`: keeps `me` on its CPU
/// (sets `dy.held`) while the receiver of the last IPI `me` sent, whose
/// record is `sender`, runs, within `ipi_hold_ns` of the IPI; otherwise
/// tries that receiver when it still owes the answer, could take the CPU
/// and has not halted since `me` last asked about it (recorded in
/// `sender`). Returns the `vcpu_idx` it yielded to, or -1; sets `dy.skip`
/// when the scan must skip the receiver, and counts a failed yield in
/// `dy.tries`.
///
/// # Safety
///
/// `me` points to the spinning vCPU, valid for the call; `sender` points to
/// its IPI context, valid for the call and whose words are only accessed
/// atomically; `dy` points to the state of its spin, on the spinner's
/// stack: valid for reads and writes, and accessed by nothing else during
/// the call.
#[export]
pub unsafe extern "C" fn kvm_dy_receiver_first(
    me: *mut bindings::kvm_vcpu,
    sender: *mut bindings::kvm_ipi_ctx,
    dy: *mut bindings::kvm_dy_spin,
) -> c_int {
    // SAFETY: `sender` is the calling vCPU's context, live for this call
    // (this function's safety requirements), only accessed through `Ctx`.
    let ctx = unsafe { ipi_ctx(sender) };
    let Some(sent) = last_sent(&ctx) else {
        return -1;
    };
    // SAFETY: Valid for reads and writes, and accessed by nothing else
    // during the call (this function's safety requirements).
    let dy = unsafe { &mut *dy };
    // SAFETY: `me` is the spinning vCPU, valid for the call (this function's
    // safety requirements).
    let me = unsafe { Spinning::new(me) };
    try_receiver(me, ctx, sent, dy)
}

/// [`kvm_dy_receiver_first`] once the spinner, whose context is `ctx`, has
/// sent an IPI since its reset: out of line, so that a spin exit with
/// nothing recorded returns without the frame this needs, and never reads
/// or writes the context's second word.
#[inline(never)]
fn try_receiver(
    me: Spinning<'_>,
    ctx: Ctx<'_>,
    sent: Sent,
    dy: &mut bindings::kvm_dy_spin,
) -> c_int {
    let (Some(s), Ok(receiver)) = (spinner(dy), c_int::try_from(sent.receiver())) else {
        return -1;
    };
    // INVARIANT: `me` points to a vCPU of a live VM for its lifetime (the
    // invariant of `Spinning`), which outlives this call and so `vcpus`.
    let mut vcpus = KvmVcpus {
        me: me.0,
        last: None,
    };
    let hold = HOLD_NS.load(Relaxed);
    let fresh = |_: &mut KvmVcpus| {
        let now = now_ns();
        still_recent(&ctx, sent, now) && sent.fresh(now, hold)
    };
    if hold_for_receiver(&mut vcpus, &s, sent.receiver(), hold > 0, fresh) {
        dy.held = true;
        return -1;
    }
    let held = |v: &mut KvmVcpus| outstanding(&ctx, sent, |r, vector| v.holds(r, vector));
    let recent = |_: &mut KvmVcpus| still_recent(&ctx, sent, now_ns());
    let quiet = |v: &mut KvmVcpus| {
        v.halts(sent.receiver())
            .is_some_and(|h| !ctx.halted_since_last_look(sent.receiver(), h))
    };
    match with_tries(dy, |tries| {
        receiver_first(&mut vcpus, &s, sent.receiver(), held, recent, quiet, tries)
    }) {
        First::Yielded => receiver,
        First::Tried => {
            dy.skip = receiver;
            -1
        }
        First::NotTried => -1,
    }
}

/// After mainline's scan in `kvm_vcpu_on_spin()` yielded to nobody, with
/// `enable_relaxed_boost`: tries the vCPUs in `dy.passed`. Returns the
/// `vcpu_idx` it yielded to, or -1, and counts failed yields in `dy.tries`.
///
/// # Safety
///
/// `me` points to the spinning vCPU, valid for the call; `dy` points to the
/// state of its spin, as for [`kvm_dy_receiver_first`].
#[export]
pub unsafe extern "C" fn kvm_dy_relaxed_round(
    me: *mut bindings::kvm_vcpu,
    dy: *mut bindings::kvm_dy_spin,
) -> c_int {
    // SAFETY: Valid for reads and writes, and accessed by nothing else
    // during the call (this function's safety requirements).
    let dy = unsafe { &mut *dy };
    let Some(s) = spinner(dy) else {
        return -1;
    };
    let passed = dy.passed;
    let n = usize::try_from(dy.nr_passed).unwrap_or(0);
    // A negative index becomes one that no VM has.
    let passed = passed
        .into_iter()
        .take(n)
        .map(|i| u32::try_from(i).unwrap_or(u32::MAX));
    // INVARIANT: `me` is valid for the call (this function's safety
    // requirements).
    let mut vcpus = KvmVcpus { me, last: None };
    with_tries(dy, |tries| relaxed_round(&mut vcpus, &s, passed, tries))
        .and_then(|idx| c_int::try_from(idx).ok())
        .unwrap_or(-1)
}

/// The string a parameter's `set` op was given, without `echo`'s newline;
/// `None` for a bare name on the command line (no `=`), which only the
/// booleans accept (`KERNEL_PARAM_OPS_FL_NOARG`).
///
/// # Safety
///
/// `val` is null or points to a NUL-terminated string valid for `'a`.
unsafe fn param_arg<'a>(val: *const c_char) -> Option<&'a BStr> {
    if val.is_null() {
        return None;
    }
    // SAFETY: Non-null here, and NUL-terminated and valid for `'a` by the
    // caller.
    Some(arg(unsafe { CStr::from_char_ptr(val) }.to_bytes()))
}

/// Formats a value, NUL-terminated, into the page-sized buffer of a
/// parameter's `get` op and returns its length, as `sysfs_emit()` would.
///
/// # Safety
///
/// `buf` must point to `PAGE_SIZE` initialized bytes, valid for reads and
/// writes, that nothing else accesses during the call.
unsafe fn param_emit(buf: *mut c_char, args: core::fmt::Arguments<'_>) -> c_int {
    // SAFETY: `PAGE_SIZE` initialized bytes, valid for reads and writes
    // and not accessed otherwise during the call, by the caller.
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

/// A boolean parameter's `set` op: stores the value, then switches the
/// flag's static key to it; 0, or the error of a value that is no boolean
/// (the old value kept).
///
/// # Safety
///
/// `val` is null or a NUL-terminated string valid for the call, and the
/// call runs where a static key may be switched (it may sleep): a
/// parameter's `set` op, in process context or in early boot after
/// `jump_label_init()`.
unsafe fn param_set_flag(flag: Flag, val: *const c_char) -> c_int {
    // SAFETY: `val` is null or a NUL-terminated string valid for the call,
    // by the caller.
    match set_bool(flag, unsafe { param_arg(val) }) {
        Ok(on) => {
            // SAFETY: The call may sleep here, by the caller; it takes no
            // pointer, and `flag.key()` is one of the keys it switches.
            unsafe { bindings::kvm_ipi_yield_set_key(flag.key(), on) };
            0
        }
        Err(e) => e.to_errno(),
    }
}

/// A nanosecond parameter's `set` op: `set` parses, checks and stores the
/// value; 0, or its error (the old value kept).
///
/// # Safety
///
/// `val` is null or a NUL-terminated string valid for the call.
unsafe fn param_set_ns(set: fn(Option<&BStr>) -> Result, val: *const c_char) -> c_int {
    // SAFETY: `val` is null or a NUL-terminated string valid for the call,
    // by the caller, as `param_arg` needs.
    match set(unsafe { param_arg(val) }) {
        Ok(()) => 0,
        Err(e) => e.to_errno(),
    }
}

/// `set` of `ipi_tracking_enabled`: a boolean as `kstrtobool()` reads it,
/// or the bare name on the command line for on; anything else is rejected
/// with `-EINVAL` and the old value kept.
///
/// # Safety
///
/// `val` is null or a NUL-terminated string valid for the call; called as
/// a parameter's `set` op.
#[export]
pub unsafe extern "C" fn kvm_ipi_tracking_enabled_set(
    val: *const c_char,
    _kp: *const bindings::kernel_param,
) -> c_int {
    // SAFETY: This function's safety requirements are `param_set_flag`'s.
    unsafe { param_set_flag(Flag::Tracking, val) }
}

/// `get` of `ipi_tracking_enabled`: `Y` or `N`.
///
/// # Safety
///
/// `buf` is a `get` op's buffer: `PAGE_SIZE` initialized bytes (sysfs
/// zeroes its page before the op), valid for reads and writes, that
/// nothing else accesses during the call.
#[export]
pub unsafe extern "C" fn kvm_ipi_tracking_enabled_get(
    buf: *mut c_char,
    _kp: *const bindings::kernel_param,
) -> c_int {
    // SAFETY: `buf` is `PAGE_SIZE` initialized bytes, valid for reads and
    // writes and used by nothing else during the op (this function's
    // safety requirements), as `param_emit` needs.
    unsafe { param_emit(buf, format_args!("{}\n", show_bool(Flag::Tracking))) }
}

/// `set` of `ipi_window_ns`: a decimal number of nanoseconds in
/// 1000 ..= 1000000000. Anything else is rejected (`-EINVAL` when it is no
/// decimal number, `-ERANGE` when out of range) and the old value kept.
///
/// # Safety
///
/// `val` is null or a NUL-terminated string valid for the call.
#[export]
pub unsafe extern "C" fn kvm_ipi_window_ns_set(
    val: *const c_char,
    _kp: *const bindings::kernel_param,
) -> c_int {
    // SAFETY: This function's safety requirements are `param_set_ns`'s.
    unsafe { param_set_ns(set_window_ns, val) }
}

/// `get` of `ipi_window_ns`.
///
/// # Safety
///
/// `buf` is a `get` op's buffer: `PAGE_SIZE` initialized bytes (sysfs
/// zeroes its page before the op), valid for reads and writes, that
/// nothing else accesses during the call.
#[export]
pub unsafe extern "C" fn kvm_ipi_window_ns_get(
    buf: *mut c_char,
    _kp: *const bindings::kernel_param,
) -> c_int {
    // SAFETY: `buf` is `PAGE_SIZE` initialized bytes, valid for reads and
    // writes and used by nothing else during the op (this function's
    // safety requirements), as `param_emit` needs.
    unsafe { param_emit(buf, format_args!("{}\n", WINDOW_NS.load(Relaxed))) }
}

/// `set` of `ipi_hold_ns`: a decimal number of nanoseconds in
/// 0 ..= 1000000 (0: no hold). Anything else is rejected (`-EINVAL` when it
/// is no decimal number, `-ERANGE` when out of range) and the old value
/// kept.
///
/// # Safety
///
/// `val` is null or a NUL-terminated string valid for the call.
#[export]
pub unsafe extern "C" fn kvm_ipi_hold_ns_set(
    val: *const c_char,
    _kp: *const bindings::kernel_param,
) -> c_int {
    // SAFETY: This function's safety requirements are `param_set_ns`'s.
    unsafe { param_set_ns(set_hold_ns, val) }
}

/// `get` of `ipi_hold_ns`.
///
/// # Safety
///
/// `buf` is a `get` op's buffer: `PAGE_SIZE` initialized bytes (sysfs
/// zeroes its page before the op), valid for reads and writes, that
/// nothing else accesses during the call.
#[export]
pub unsafe extern "C" fn kvm_ipi_hold_ns_get(
    buf: *mut c_char,
    _kp: *const bindings::kernel_param,
) -> c_int {
    // SAFETY: `buf` is `PAGE_SIZE` initialized bytes, valid for reads and
    // writes and used by nothing else during the op (this function's
    // safety requirements), as `param_emit` needs.
    unsafe { param_emit(buf, format_args!("{}\n", HOLD_NS.load(Relaxed))) }
}

/// `set` of `enable_relaxed_boost`: a boolean, or the bare name on the
/// command line for on; anything else is rejected with `-EINVAL` and the
/// old value kept.
///
/// # Safety
///
/// `val` is null or a NUL-terminated string valid for the call; called as
/// a parameter's `set` op.
#[export]
pub unsafe extern "C" fn kvm_relaxed_boost_set(
    val: *const c_char,
    _kp: *const bindings::kernel_param,
) -> c_int {
    // SAFETY: This function's safety requirements are `param_set_flag`'s.
    unsafe { param_set_flag(Flag::Relaxed, val) }
}

/// `get` of `enable_relaxed_boost`: `Y` or `N`.
///
/// # Safety
///
/// `buf` is a `get` op's buffer: `PAGE_SIZE` initialized bytes (sysfs
/// zeroes its page before the op), valid for reads and writes, that
/// nothing else accesses during the call.
#[export]
pub unsafe extern "C" fn kvm_relaxed_boost_get(
    buf: *mut c_char,
    _kp: *const bindings::kernel_param,
) -> c_int {
    // SAFETY: `buf` is `PAGE_SIZE` initialized bytes, valid for reads and
    // writes and used by nothing else during the op (this function's
    // safety requirements), as `param_emit` needs.
    unsafe { param_emit(buf, format_args!("{}\n", show_bool(Flag::Relaxed))) }
}

/// Reproducible random numbers for the fuzz tests.
#[cfg(CONFIG_VCPU_BOOST_KUNIT_TEST)]
mod testing {
    /// xorshift64: the next number of the sequence in `state`.
    pub(crate) fn next(state: &mut u64) -> u64 {
        *state ^= *state << 13;
        *state ^= *state >> 7;
        *state ^= *state << 17;
        *state
    }
}
