// SPDX-License-Identifier: GPL-2.0

//! IPI tracker: which vCPU did each vCPU last send a unicast fixed IPI to,
//! and has that receiver acknowledged it yet?
//!
//! A vCPU that spins after sending an IPI usually waits for the receiver to
//! act on it (a TLB shootdown, a function call). `kvm_vcpu_on_spin()` asks
//! [`kvm_ipi_tracker_is_receiver`] to prefer such a receiver.
//!
//! `lapic.c` reports every interrupt delivery from the APIC-map fast path,
//! its slow fallback and the PV send-IPI hypercall through
//! [`kvm_ipi_tracker_deliver`], and every EOI (trapped xAPIC write, x2APIC
//! MSR, PV EOI, accelerated EOI exit) through [`kvm_ipi_tracker_eoi_receiver`]
//! and [`kvm_ipi_tracker_eoi_sender`]. The C side passes what it saw and
//! counts what this object reports in KVM's per-vCPU binary stats; all
//! decisions are made here. The kvm module parameters
//! `ipi_tracking_enabled` and `ipi_window_ns` are defined here.
//!
//! IPIs that hardware delivers without a VM exit (Intel IPI virtualization,
//! AMD AVIC to a running vCPU) never reach these hooks; `x86.c` says so once
//! when a vCPU is created with APIC virtualization active.

use core::{fmt::Write, ptr::addr_of_mut};
use kernel::{
    bindings,
    error::code::{EINVAL, ERANGE},
    ffi::{c_char, c_int},
    page::PAGE_SIZE,
    prelude::*,
    seq_file::SeqFile,
    seq_print,
    str::{kstrtobool_bytes, parse_int::ParseInt, BStr, Formatter},
    sync::atomic::{Acquire, Atomic, AtomicType, Relaxed, Release},
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

/// No vCPU, in the `receiver` and `sender` fields of a context.
const NO_VCPU: i32 = -1;

/// `ipi_tracking_enabled`: record IPIs and let them steer directed yield.
///
/// Lockless: written by the parameter code, read on the delivery path; a
/// delivery racing with a write may use either value, so relaxed suffices.
static TRACKING_ENABLED: Atomic<bool> = Atomic::new(true);
/// `ipi_window_ns`, always within [`IPI_WINDOW_NS_MIN`, `IPI_WINDOW_NS_MAX`].
static WINDOW_NS: Atomic<u64> = Atomic::new(IPI_WINDOW_NS_DEFAULT);

/// Totals over all VMs, for `/sys/kernel/debug/kvm/ipi_yield_hooks`; they
/// outlive the VMs whose binary stats vanish with them. Statistics only:
/// relaxed.
struct Totals {
    deliver: [Atomic<u64>; bindings::kvm_ipi_path_KVM_IPI_PATH_NR as usize],
    eoi_trapped: Atomic<u64>,
    eoi_accelerated: Atomic<u64>,
    tracked: Atomic<u64>,
    eoi_cleared: Atomic<u64>,
    eoi_unmatched: Atomic<u64>,
}

static TOTALS: Totals = Totals {
    deliver: [Atomic::new(0), Atomic::new(0), Atomic::new(0)],
    eoi_trapped: Atomic::new(0),
    eoi_accelerated: Atomic::new(0),
    tracked: Atomic::new(0),
    eoi_cleared: Atomic::new(0),
    eoi_unmatched: Atomic::new(0),
};

/// Why a delivery is not recorded.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Skip {
    /// Not sent by a vCPU's LAPIC (KVM injected it: IOAPIC, MSI, timer).
    NotFromVcpu,
    /// Not a fixed delivery (NMI, INIT, SIPI, lowest priority, ...).
    NotFixed,
    /// Sent with a destination shorthand (self, all, all-but-self).
    Shorthand,
    /// Accepted by no vCPU or by several.
    NotUnicast,
    /// Sent by a vCPU to itself.
    SelfIpi,
}

/// Whether a delivery is a unicast fixed IPI from one vCPU to another.
pub fn classify(d: &bindings::kvm_ipi_delivery) -> Result<(), Skip> {
    if d.src.is_null() || d.src_idx < 0 {
        Err(Skip::NotFromVcpu)
    } else if !d.fixed {
        Err(Skip::NotFixed)
    } else if d.shorthand {
        Err(Skip::Shorthand)
    } else if d.targets != 1 || d.dst.is_null() || d.dst_idx < 0 {
        Err(Skip::NotUnicast)
    } else if d.dst_idx == d.src_idx {
        Err(Skip::SelfIpi)
    } else {
        Ok(())
    }
}

/// Whether an IPI sent at `sent` is still recent at `now`: at most
/// `window` ns old, bound included. A clock read that comes out before
/// `sent` (the fast clock read on another CPU) counts as no time passed.
pub fn within_window(sent: u64, now: u64, window: u64) -> bool {
    now.saturating_sub(sent) <= window
}

/// A snapshot of the sender side of a context.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Sent {
    /// The IPI awaits its EOI.
    pub pending: bool,
    /// vcpu_idx it went to.
    pub receiver: i32,
    /// Its vector.
    pub vector: u32,
    /// When it was sent.
    pub send_ns: u64,
}

/// What the EOI of `vector` by `receiver` at `now` does to the sender whose
/// last IPI is `sent`: clear it only when it is still pending, went to this
/// receiver, is inside `window` and carries the EOI'd vector. A negative
/// `vector` means nothing was in service.
pub fn eoi_verdict(
    sent: Sent,
    receiver: i32,
    vector: i32,
    now: u64,
    window: u64,
) -> bindings::kvm_ipi_eoi {
    let same_vector = u32::try_from(vector).is_ok_and(|v| v == sent.vector);
    if sent.pending
        && sent.receiver == receiver
        && same_vector
        && within_window(sent.send_ns, now, window)
    {
        bindings::kvm_ipi_eoi_KVM_IPI_EOI_CLEARED
    } else {
        bindings::kvm_ipi_eoi_KVM_IPI_EOI_UNMATCHED
    }
}

/// Atomic view of one field of a context.
///
/// # Safety
///
/// `field` points to a field of a live `kvm_ipi_ctx`, which is only ever
/// accessed through this function.
unsafe fn field<'a, T: AtomicType>(field: *mut T) -> &'a Atomic<T> {
    // SAFETY: Valid and aligned by the caller; all accesses are atomic.
    unsafe { Atomic::from_ptr(field) }
}

/// Atomic views of the fields of a `kvm_ipi_ctx`.
struct Ctx<'a> {
    send_ns: &'a Atomic<u64>,
    receiver: &'a Atomic<i32>,
    sender: &'a Atomic<i32>,
    vector: &'a Atomic<u32>,
    pending: &'a Atomic<bool>,
}

impl Ctx<'_> {
    /// # Safety
    ///
    /// `ctx` points to the context of a vCPU that stays valid while the
    /// result is used; every access to it goes through a `Ctx`.
    unsafe fn new(ctx: *const bindings::kvm_ipi_ctx) -> Self {
        let ctx = ctx.cast_mut();
        // SAFETY: The fields of a valid context, by the caller.
        unsafe {
            Ctx {
                send_ns: field(addr_of_mut!((*ctx).send_ns)),
                receiver: field(addr_of_mut!((*ctx).receiver)),
                sender: field(addr_of_mut!((*ctx).sender)),
                vector: field(addr_of_mut!((*ctx).vector)),
                pending: field(addr_of_mut!((*ctx).pending)),
            }
        }
    }

    fn reset(&self) {
        self.pending.store(false, Relaxed);
        self.receiver.store(NO_VCPU, Relaxed);
        self.sender.store(NO_VCPU, Relaxed);
        self.vector.store(0, Relaxed);
        self.send_ns.store(0, Relaxed);
    }

    /// Records an IPI to `receiver`. Only the sender's own thread calls
    /// this. The fields are published before `pending` with release, so a
    /// reader that sees `pending` with acquire sees this IPI's fields, or a
    /// later IPI's: never a receiver from before.
    fn record(&self, receiver: i32, vector: u32, now: u64) {
        self.receiver.store(receiver, Relaxed);
        self.vector.store(vector, Relaxed);
        self.send_ns.store(now, Relaxed);
        self.pending.store(true, Release);
    }

    fn sent(&self) -> Sent {
        let pending = self.pending.load(Acquire);
        Sent {
            pending,
            receiver: self.receiver.load(Relaxed),
            vector: self.vector.load(Relaxed),
            send_ns: self.send_ns.load(Relaxed),
        }
    }
}

/// Resets a vCPU's context: nothing sent, nothing received.
///
/// # Safety
///
/// `ctx` points to the context of a vCPU that stays valid for the call.
#[export]
pub unsafe extern "C" fn kvm_ipi_tracker_reset(ctx: *mut bindings::kvm_ipi_ctx) {
    // SAFETY: By the caller.
    unsafe { Ctx::new(ctx) }.reset();
}

/// Called by every LAPIC delivery path for each vCPU an interrupt goes to,
/// before it is delivered there. Records it on both vCPUs when it is a
/// unicast fixed IPI and tracking is on, and returns whether it did; the
/// caller then reports the outcome to [`kvm_ipi_tracker_delivered`].
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
/// `d` is valid for reads, and its contexts are null or belong to vCPUs that
/// stay valid for the call; `d.src` belongs to the calling vCPU thread.
#[export]
pub unsafe extern "C" fn kvm_ipi_tracker_deliver(d: *const bindings::kvm_ipi_delivery) -> bool {
    // SAFETY: Valid for reads by the caller.
    let d = unsafe { &*d };
    if let Some(c) = usize::try_from(d.path)
        .ok()
        .and_then(|i| TOTALS.deliver.get(i))
    {
        c.add(1, Relaxed);
    }
    // SAFETY: As for this function. The fast mono clock may be read in any
    // context; it is read only for an IPI that is recorded.
    unsafe { record(d, || bindings::ktime_get_mono_fast_ns()) }
}

/// Records `d` on both vCPUs, sent at `now()`, when tracking is on and it is
/// a unicast fixed IPI between two vCPUs; returns whether it did.
///
/// # Safety
///
/// As for [`kvm_ipi_tracker_deliver`]; `now` may be called.
unsafe fn record(d: &bindings::kvm_ipi_delivery, now: impl FnOnce() -> u64) -> bool {
    if !TRACKING_ENABLED.load(Relaxed) || classify(d).is_err() {
        return false;
    }
    // SAFETY: `classify` checked both are non-null; valid by the caller.
    let (src, dst) = unsafe { (Ctx::new(d.src), Ctx::new(d.dst)) };
    src.record(d.dst_idx, d.vector, now());
    // Only a hint for the receiver's EOI: relaxed, as WRITE_ONCE would be.
    dst.sender.store(d.src_idx, Relaxed);
    true
}

/// After a delivery [`kvm_ipi_tracker_deliver`] recorded: counts it when the
/// receiver `accepted` it and returns true; otherwise (an APIC that refused
/// it) undoes the record where nothing newer replaced it, and returns false.
///
/// # Safety
///
/// As for [`kvm_ipi_tracker_deliver`], with the same `d`.
#[export]
pub unsafe extern "C" fn kvm_ipi_tracker_delivered(
    d: *const bindings::kvm_ipi_delivery,
    accepted: bool,
) -> bool {
    // SAFETY: Valid for reads by the caller.
    let d = unsafe { &*d };
    if accepted {
        TOTALS.tracked.add(1, Relaxed);
        return true;
    }
    if d.src.is_null() || d.dst.is_null() {
        return false;
    }
    // SAFETY: Non-null, and valid by the caller.
    let (src, dst) = unsafe { (Ctx::new(d.src), Ctx::new(d.dst)) };
    // Only the sender's thread records into `src`: nothing newer can be
    // there. The receiver's link may meanwhile name another sender; keep it.
    src.pending.store(false, Relaxed);
    let _ = dst.sender.cmpxchg(d.src_idx, NO_VCPU, Relaxed);
    false
}

/// First half of an EOI, on the receiver: always forgets the sender of the
/// last tracked IPI it received and returns its vcpu_idx (-1: none, or
/// tracking is off). The receiver's own sent IPI is left alone: this EOI
/// says nothing about it.
///
/// # Safety
///
/// `ctx` points to the context of the calling vCPU.
#[export]
pub unsafe extern "C" fn kvm_ipi_tracker_eoi_receiver(
    ctx: *mut bindings::kvm_ipi_ctx,
    accelerated: bool,
) -> c_int {
    let counter = if accelerated {
        &TOTALS.eoi_accelerated
    } else {
        &TOTALS.eoi_trapped
    };
    counter.add(1, Relaxed);
    if !TRACKING_ENABLED.load(Relaxed) {
        return NO_VCPU;
    }
    // SAFETY: By the caller. Senders store into `sender` concurrently; the
    // exchange takes exactly the value it replaces.
    unsafe { Ctx::new(ctx) }.sender.xchg(NO_VCPU, Relaxed)
}

/// Second half of an EOI, on the sender [`kvm_ipi_tracker_eoi_receiver`]
/// returned: clears its pending IPI when it matches (see [`eoi_verdict`]).
///
/// A sender that records a new IPI between the check and the clear loses
/// that IPI's pending flag early; directed yield then falls back to its
/// ordinary order for it, which is all a stale or missing hint can cost.
///
/// # Safety
///
/// `sender` points to the context of a vCPU that stays valid for the call.
#[export]
pub unsafe extern "C" fn kvm_ipi_tracker_eoi_sender(
    sender: *mut bindings::kvm_ipi_ctx,
    receiver_idx: c_int,
    vector: c_int,
    now: u64,
) -> bindings::kvm_ipi_eoi {
    // SAFETY: By the caller.
    let ctx = unsafe { Ctx::new(sender) };
    let verdict = eoi_verdict(
        ctx.sent(),
        receiver_idx,
        vector,
        now,
        WINDOW_NS.load(Relaxed),
    );
    if verdict == bindings::kvm_ipi_eoi_KVM_IPI_EOI_CLEARED {
        ctx.pending.store(false, Relaxed);
        TOTALS.eoi_cleared.add(1, Relaxed);
    } else {
        TOTALS.eoi_unmatched.add(1, Relaxed);
    }
    verdict
}

/// `sender`'s last tracked IPI if it was sent inside `ipi_window_ns`
/// before `now`, pending or already EOI'd; `None` while tracking is off.
///
/// # Safety
///
/// `sender` points to the context of a vCPU that stays valid for the call.
unsafe fn recent(sender: *const bindings::kvm_ipi_ctx, now: u64) -> Option<Sent> {
    if !TRACKING_ENABLED.load(Relaxed) {
        return None;
    }
    // SAFETY: By the caller.
    let sent = unsafe { Ctx::new(sender) }.sent();
    within_window(sent.send_ns, now, WINDOW_NS.load(Relaxed)).then_some(sent)
}

/// Whether `receiver_idx` is the target of `sender`'s last IPI, still
/// pending and inside `ipi_window_ns` at `now`. Always false while tracking
/// is off.
///
/// # Safety
///
/// `sender` points to the context of a vCPU that stays valid for the call.
#[export]
pub unsafe extern "C" fn kvm_ipi_tracker_is_receiver(
    sender: *const bindings::kvm_ipi_ctx,
    receiver_idx: c_int,
    now: u64,
) -> bool {
    // SAFETY: By the caller.
    unsafe { recent(sender, now) }.is_some_and(|s| s.pending && s.receiver == receiver_idx)
}

/// The target of `sender`'s last tracked IPI if it was sent inside
/// `ipi_window_ns` before `now`, pending or already EOI'd; -1 otherwise,
/// and always while tracking is off. Directed yield starts from it: the
/// receiver of a pending IPI, or one that just acknowledged the IPI and may
/// still be at work on it.
///
/// # Safety
///
/// `sender` points to the context of a vCPU that stays valid for the call.
#[export]
pub unsafe extern "C" fn kvm_ipi_tracker_last_receiver(
    sender: *const bindings::kvm_ipi_ctx,
    now: u64,
) -> c_int {
    // SAFETY: By the caller.
    unsafe { recent(sender, now) }.map_or(NO_VCPU, |s| s.receiver)
}

/// Prints the totals into `/sys/kernel/debug/kvm/ipi_yield_hooks`.
///
/// # Safety
///
/// `m` must point to a valid `seq_file` used by no other thread for the call.
#[export]
pub unsafe extern "C" fn kvm_ipi_tracker_show(m: *mut bindings::seq_file) {
    // SAFETY: Guaranteed by the caller, a seq_file `show` callback.
    let m = unsafe { SeqFile::from_raw(m) };
    let [fast, slow, pv] = &TOTALS.deliver;
    for (name, c) in [
        ("deliver_fast", fast),
        ("deliver_slow", slow),
        ("deliver_pv", pv),
        ("eoi_trapped", &TOTALS.eoi_trapped),
        ("eoi_accelerated", &TOTALS.eoi_accelerated),
        ("ipi_tracked", &TOTALS.tracked),
        ("ipi_eoi_cleared", &TOTALS.eoi_cleared),
        ("ipi_eoi_unmatched", &TOTALS.eoi_unmatched),
    ] {
        seq_print!(m, "{name} {}\n", c.load(Relaxed));
    }
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
    let c = if TRACKING_ENABLED.load(Relaxed) {
        'Y'
    } else {
        'N'
    };
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

    const SRC: i32 = 2;
    const DST: i32 = 5;
    const VEC: u32 = 0xa6;
    const T0: u64 = 1_000_000_000;
    const EOI_CLEARED: bindings::kvm_ipi_eoi = bindings::kvm_ipi_eoi_KVM_IPI_EOI_CLEARED;
    const EOI_UNMATCHED: bindings::kvm_ipi_eoi = bindings::kvm_ipi_eoi_KVM_IPI_EOI_UNMATCHED;

    fn new_ctx() -> bindings::kvm_ipi_ctx {
        // SAFETY: All-zero is a valid value of this plain C struct.
        let mut c: bindings::kvm_ipi_ctx = unsafe { core::mem::zeroed() };
        // SAFETY: Local and exclusively ours.
        unsafe { kvm_ipi_tracker_reset(&mut c) };
        c
    }

    /// A unicast fixed IPI from vCPU `SRC` to vCPU `DST` at `T0`.
    fn ipi(
        src: &mut bindings::kvm_ipi_ctx,
        dst: &mut bindings::kvm_ipi_ctx,
    ) -> bindings::kvm_ipi_delivery {
        // SAFETY: All-zero is a valid value of this plain C struct.
        let mut d: bindings::kvm_ipi_delivery = unsafe { core::mem::zeroed() };
        d.src = src;
        d.dst = dst;
        d.src_idx = SRC;
        d.dst_idx = DST;
        d.targets = 1;
        d.fixed = true;
        d.shorthand = false;
        d.vector = VEC;
        d.path = bindings::kvm_ipi_path_KVM_IPI_PATH_FAST;
        d
    }

    /// Runs `f` with tracking switched to `on`, then restores the switch.
    fn with_tracking(on: bool, f: impl FnOnce()) {
        let old = TRACKING_ENABLED.xchg(on, Relaxed);
        f();
        TRACKING_ENABLED.store(old, Relaxed);
    }

    #[test]
    fn records_only_unicast_fixed_ipis_between_vcpus() {
        let (mut a, mut b) = (new_ctx(), new_ctx());
        let good = ipi(&mut a, &mut b);
        assert_eq!(classify(&good), Ok(()));
        type Spoil = fn(&mut bindings::kvm_ipi_delivery);
        let cases: [(Spoil, Skip); 7] = [
            (|d| d.src = core::ptr::null_mut(), Skip::NotFromVcpu),
            (|d| d.src_idx = -1, Skip::NotFromVcpu),
            (|d| d.fixed = false, Skip::NotFixed),
            (|d| d.shorthand = true, Skip::Shorthand),
            (|d| d.targets = 0, Skip::NotUnicast),
            (|d| d.targets = 2, Skip::NotUnicast),
            (|d| d.dst_idx = SRC, Skip::SelfIpi),
        ];
        for (spoil, why) in cases {
            let mut d = good;
            spoil(&mut d);
            assert_eq!(classify(&d), Err(why));
            with_tracking(true, || {
                // SAFETY: `d` and the contexts are local and ours.
                assert!(!unsafe { record(&d, || T0) });
            });
            assert!(!a.pending);
            assert_eq!((a.receiver, b.sender), (NO_VCPU, NO_VCPU));
        }
        for path in [
            bindings::kvm_ipi_path_KVM_IPI_PATH_FAST,
            bindings::kvm_ipi_path_KVM_IPI_PATH_SLOW,
            bindings::kvm_ipi_path_KVM_IPI_PATH_PV,
        ] {
            let (mut a, mut b) = (new_ctx(), new_ctx());
            let mut d = ipi(&mut a, &mut b);
            d.path = path;
            with_tracking(true, || {
                // SAFETY: As above.
                assert!(unsafe { record(&d, || T0) });
            });
            assert!(a.pending);
            assert_eq!(
                (a.receiver, a.vector, a.send_ns, b.sender),
                (DST, VEC, T0, SRC)
            );
        }
    }

    #[test]
    fn refused_delivery_is_undone() {
        let (mut a, mut b) = (new_ctx(), new_ctx());
        let d = ipi(&mut a, &mut b);
        with_tracking(true, || {
            // SAFETY: As above.
            unsafe {
                assert!(record(&d, || T0));
                assert!(!kvm_ipi_tracker_delivered(&d, false));
            }
        });
        assert!(!a.pending);
        assert_eq!(b.sender, NO_VCPU);
        with_tracking(true, || {
            // SAFETY: As above.
            unsafe {
                assert!(record(&d, || T0));
                assert!(kvm_ipi_tracker_delivered(&d, true));
                assert!(kvm_ipi_tracker_is_receiver(&a, DST, T0));
            }
        });
    }

    #[test]
    fn tracking_off_records_clears_and_answers_nothing() {
        let (mut a, mut b) = (new_ctx(), new_ctx());
        let d = ipi(&mut a, &mut b);
        with_tracking(false, || {
            // SAFETY: As above.
            assert!(!unsafe { record(&d, || T0) });
        });
        assert!(!a.pending);
        with_tracking(true, || {
            // SAFETY: As above.
            assert!(unsafe { record(&d, || T0) });
        });
        with_tracking(false, || {
            // SAFETY: As above.
            unsafe {
                assert!(!kvm_ipi_tracker_is_receiver(&a, DST, T0));
                assert_eq!(kvm_ipi_tracker_eoi_receiver(&mut b, false), NO_VCPU);
            }
        });
        // The EOI while off left the link; the IPI is still pending.
        assert_eq!(b.sender, SRC);
        assert!(a.pending);
    }

    #[test]
    fn window_bounds() {
        let w = IPI_WINDOW_NS_DEFAULT;
        assert!(within_window(T0, T0, w));
        assert!(within_window(T0, T0 + w - 1, w));
        assert!(within_window(T0, T0 + w, w));
        assert!(!within_window(T0, T0 + w + 1, w));
        // A clock read behind the send time is no time passed.
        assert!(within_window(T0, T0 - 5, w));
        assert!(!within_window(0, u64::MAX, IPI_WINDOW_NS_MAX));

        let (mut a, mut b) = (new_ctx(), new_ctx());
        let d = ipi(&mut a, &mut b);
        with_tracking(true, || {
            // SAFETY: As above.
            unsafe {
                assert!(record(&d, || T0));
                let win = WINDOW_NS.load(Relaxed);
                assert!(kvm_ipi_tracker_is_receiver(&a, DST, T0 + win));
                assert!(!kvm_ipi_tracker_is_receiver(&a, DST, T0 + win + 1));
                assert!(!kvm_ipi_tracker_is_receiver(&a, SRC, T0));
                assert!(!kvm_ipi_tracker_is_receiver(&b, SRC, T0));
                assert_eq!(kvm_ipi_tracker_last_receiver(&a, T0 + win), DST);
                assert_eq!(kvm_ipi_tracker_last_receiver(&a, T0 + win + 1), NO_VCPU);
                assert_eq!(kvm_ipi_tracker_last_receiver(&b, T0), NO_VCPU);
            }
        });
    }

    #[test]
    fn eoi_clears_sender_only_on_a_match() {
        let sent = Sent {
            pending: true,
            receiver: DST,
            vector: VEC,
            send_ns: T0,
        };
        let w = IPI_WINDOW_NS_DEFAULT;
        let v = VEC as i32;
        assert_eq!(eoi_verdict(sent, DST, v, T0 + w, w), EOI_CLEARED);
        assert_eq!(eoi_verdict(sent, DST, v + 1, T0, w), EOI_UNMATCHED);
        assert_eq!(eoi_verdict(sent, DST, -1, T0, w), EOI_UNMATCHED);
        assert_eq!(eoi_verdict(sent, DST, v, T0 + w + 1, w), EOI_UNMATCHED);
        assert_eq!(eoi_verdict(sent, DST + 1, v, T0, w), EOI_UNMATCHED);
        let cleared = Sent {
            pending: false,
            ..sent
        };
        assert_eq!(eoi_verdict(cleared, DST, v, T0, w), EOI_UNMATCHED);
    }

    #[test]
    fn eoi_always_clears_the_receiver_link() {
        let (mut a, mut b) = (new_ctx(), new_ctx());
        let d = ipi(&mut a, &mut b);
        with_tracking(true, || {
            // SAFETY: As above.
            unsafe {
                assert!(record(&d, || T0));
                // A mismatching EOI: the link goes, the sender stays pending.
                assert_eq!(kvm_ipi_tracker_eoi_receiver(&mut b, false), SRC);
                assert_eq!(b.sender, NO_VCPU);
                assert_eq!(
                    kvm_ipi_tracker_eoi_sender(&mut a, DST, VEC as i32 + 1, T0),
                    EOI_UNMATCHED
                );
                assert!(a.pending);
                // A second EOI finds no sender.
                assert_eq!(kvm_ipi_tracker_eoi_receiver(&mut b, true), NO_VCPU);

                // The next IPI, acknowledged with its vector: cleared.
                assert!(record(&d, || T0));
                assert_eq!(kvm_ipi_tracker_eoi_receiver(&mut b, true), SRC);
                assert_eq!(
                    kvm_ipi_tracker_eoi_sender(&mut a, DST, VEC as i32, T0 + 1),
                    EOI_CLEARED
                );
                assert!(!a.pending);
                assert!(!kvm_ipi_tracker_is_receiver(&a, DST, T0 + 1));
                // Acknowledged: no longer the pending receiver, still the last one.
                assert!(!kvm_ipi_tracker_is_receiver(&a, DST, T0 + 1));
                assert_eq!(kvm_ipi_tracker_last_receiver(&a, T0 + 1), DST);
                let late = T0 + WINDOW_NS.load(Relaxed) + 1;
                assert_eq!(kvm_ipi_tracker_last_receiver(&a, late), NO_VCPU);
            }
        });
    }

    #[test]
    fn eoi_keeps_the_receivers_own_ipi() {
        // b sent its own IPI to a third vCPU before it EOIs a's IPI.
        let (mut a, mut b, mut c) = (new_ctx(), new_ctx(), new_ctx());
        let to_b = ipi(&mut a, &mut b);
        let mut from_b = ipi(&mut b, &mut c);
        from_b.src_idx = DST;
        from_b.dst_idx = 7;
        with_tracking(true, || {
            // SAFETY: As above.
            unsafe {
                assert!(record(&to_b, || T0));
                assert!(record(&from_b, || T0));
                assert_eq!(kvm_ipi_tracker_eoi_receiver(&mut b, false), SRC);
                assert!(kvm_ipi_tracker_is_receiver(&b, 7, T0));
            }
        });
    }

    #[test]
    fn reset_forgets_everything() {
        let (mut a, mut b) = (new_ctx(), new_ctx());
        let d = ipi(&mut a, &mut b);
        with_tracking(true, || {
            // SAFETY: As above.
            unsafe {
                assert!(record(&d, || T0));
                kvm_ipi_tracker_reset(&mut a);
                kvm_ipi_tracker_reset(&mut b);
                assert!(!kvm_ipi_tracker_is_receiver(&a, DST, T0));
            }
        });
        assert!(!a.pending);
        assert_eq!(
            (a.receiver, a.sender, a.vector, a.send_ns),
            (NO_VCPU, NO_VCPU, 0, 0)
        );
        assert_eq!((b.receiver, b.sender), (NO_VCPU, NO_VCPU));
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

    /// xorshift64: the fuzz test's reproducible random numbers.
    fn next(state: &mut u64) -> u64 {
        *state ^= *state << 13;
        *state ^= *state >> 7;
        *state ^= *state << 17;
        *state
    }

    /// Random deliveries (good, malformed and refused), EOIs of random
    /// vectors and queries among four vCPUs, as a hostile guest may cause
    /// them: every vCPU index the tracker hands back (the sender an EOI
    /// names, the receiver directed yield starts from) is a real vCPU of
    /// the VM and never the vCPU asking, and a pending receiver is always
    /// the last receiver.
    #[test]
    fn fuzz_indices_stay_in_range() {
        const NR: i32 = 4;
        let mut ctxs = [new_ctx(), new_ctx(), new_ctx(), new_ctx()];
        let base = ctxs.as_mut_ptr();
        let ctx = |i: i32| base.wrapping_add(usize::try_from(i.rem_euclid(NR)).unwrap_or(0));
        let mut rng = 0x9e37_79b9_7f4a_7c15u64;
        let mut now = T0;
        with_tracking(true, || {
            for _ in 0..300_000 {
                let r = next(&mut rng);
                now = now.wrapping_add((r >> 40) % 20_000_000);
                let (a, b) = (((r >> 8) % 5) as i32 - 1, ((r >> 12) % 4) as i32);
                match r % 4 {
                    0 | 1 => {
                        // SAFETY: All-zero is a valid value of this plain C struct.
                        let mut d: bindings::kvm_ipi_delivery = unsafe { core::mem::zeroed() };
                        d.src = if a < 0 { core::ptr::null_mut() } else { ctx(a) };
                        d.dst = ctx(b);
                        d.src_idx = a;
                        d.dst_idx = b;
                        d.targets = if r & (1 << 20) != 0 { 2 } else { 1 };
                        d.fixed = r & (1 << 21) == 0;
                        d.shorthand = r & (1 << 22) != 0 && r & (1 << 23) != 0;
                        d.vector = ((r >> 24) % 8 + 0x20) as u32;
                        // SAFETY: The contexts are live locals; this thread is every vCPU.
                        unsafe {
                            if record(&d, || now) {
                                kvm_ipi_tracker_delivered(&d, r & (1 << 30) == 0);
                            }
                        }
                    }
                    2 => {
                        // vCPU b EOIs a random vector (-1: nothing in service).
                        let vector = ((r >> 24) % 9) as i32 + 0x1f;
                        let vector = if vector == 0x1f { -1 } else { vector };
                        // SAFETY: As above.
                        let sender = unsafe { kvm_ipi_tracker_eoi_receiver(ctx(b), false) };
                        if sender != NO_VCPU {
                            assert!((0..NR).contains(&sender) && sender != b);
                            // SAFETY: As above.
                            unsafe { kvm_ipi_tracker_eoi_sender(ctx(sender), b, vector, now) };
                        }
                    }
                    _ => {
                        let s = b;
                        // SAFETY: As above.
                        let last = unsafe { kvm_ipi_tracker_last_receiver(ctx(s), now) };
                        assert!(last == NO_VCPU || ((0..NR).contains(&last) && last != s));
                        for x in -1..=NR {
                            // SAFETY: As above.
                            if unsafe { kvm_ipi_tracker_is_receiver(ctx(s), x, now) } {
                                assert_eq!(x, last);
                            }
                        }
                    }
                }
            }
        });
    }
}
