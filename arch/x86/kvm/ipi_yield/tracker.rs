// SPDX-License-Identifier: GPL-2.0

//! The IPI tracker: the unicast fixed IPI each vCPU sent last, until the
//! receiver's EOI acknowledges it.
//!
//! Each vCPU's record of its last IPI is one 64-bit word ([`Sent`]), so that
//! a reader sees one IPI whole and the EOI clears exactly the IPI it looked
//! at, with a compare-and-exchange. The receiver keeps a link back to the
//! sender ([`Link`]) that names the IPI by its sequence number. [`Ctx`]
//! views one vCPU's `struct kvm_ipi_ctx` as these two atomics.

use crate::params::{TRACKING_ENABLED, WINDOW_NS};
use kernel::{
    bindings,
    prelude::*,
    sync::atomic::{Acquire, Atomic, Relaxed, Release},
};

/// Why a delivery is not recorded.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Skip {
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
    /// A vector above 255 or a vCPU index that [`Sent`] cannot hold.
    OutOfRange,
    /// The receiver's EOIs do not exit (APICv, AVIC): nothing would ever
    /// acknowledge the record, which would then steer directed yield for
    /// the whole window after the IPI was answered.
    EoiInvisible,
}

/// Whether a delivery is a unicast fixed IPI from one vCPU to another;
/// returns the receiver's index and the vector.
pub(crate) fn classify(d: &bindings::kvm_ipi_delivery) -> Result<(u16, u8), Skip> {
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
    } else if !d.eoi_exits {
        Err(Skip::EoiInvisible)
    } else {
        match (u16::try_from(d.dst_idx), u8::try_from(d.vector)) {
            (Ok(dst), Ok(vector)) if Link::new(d.src_idx, 0).is_some() => Ok((dst, vector)),
            _ => Err(Skip::OutOfRange),
        }
    }
}

/// Send times are kept in units of 2^10 ns (1.024 µs), 32 bits of them: the
/// window is judged to that granularity, and the stamp wraps after about
/// 73 minutes, far beyond the largest window.
const STAMP_SHIFT: u32 = 10;

/// The stamp of a clock reading; only differences of stamps are used.
fn stamp(ns: u64) -> u32 {
    // Truncation intended: the stamp wraps.
    (ns >> STAMP_SHIFT) as u32
}

/// How far a clock read may come out before a send time and still count as
/// no time passed: 1024 stamps, about 1 ms, far more than the fast clocks
/// of two CPUs differ, far less than the stamp's wrap.
const SKEW_STAMPS: u32 = 1024;

/// `window` in stamp units, rounded up so that no window is empty.
fn window_stamps(window: u64) -> u32 {
    u32::try_from(window.saturating_add((1 << STAMP_SHIFT) - 1) >> STAMP_SHIFT).unwrap_or(u32::MAX)
}

/// The last IPI a vCPU sent, packed into one word:
///
/// | bits   | field                                            |
/// |--------|--------------------------------------------------|
/// | 0..32  | send time, in units of 2^10 ns ([`stamp`])        |
/// | 32..48 | receiver's vcpu_idx                              |
/// | 48..56 | vector                                           |
/// | 56     | pending: the receiver has not EOI'd it yet       |
/// | 57..64 | sequence number, one more for each IPI recorded  |
///
/// Zero is "nothing sent". The sequence number makes every record differ
/// from the ones before it, so that a compare-and-exchange against a word
/// observed earlier fails once a newer IPI replaced it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Sent(u64);

impl Sent {
    pub(crate) const NONE: Sent = Sent(0);
    const PENDING: u64 = 1 << 56;
    const SEQ_SHIFT: u32 = 57;
    const SEQ_MASK: u64 = 0x7f;

    /// A pending IPI to `receiver` with `vector`, sent at `now`, the next
    /// in sequence after `prev`.
    fn next(prev: Sent, receiver: u16, vector: u8, now: u64) -> Sent {
        let seq = (prev.seq() + 1) & Self::SEQ_MASK;
        Sent(
            (seq << Self::SEQ_SHIFT)
                | Self::PENDING
                | (u64::from(vector) << 48)
                | (u64::from(receiver) << 32)
                | u64::from(stamp(now)),
        )
    }

    /// The record from its C word (`kvm_ipi_tracker_deliver()`'s result).
    pub(crate) fn from_raw(word: u64) -> Sent {
        Sent(word)
    }

    /// The C word of the record.
    pub(crate) fn raw(self) -> u64 {
        self.0
    }

    fn seq(self) -> u64 {
        (self.0 >> Self::SEQ_SHIFT) & Self::SEQ_MASK
    }

    /// The IPI awaits the receiver's EOI.
    pub(crate) fn pending(self) -> bool {
        self.0 & Self::PENDING != 0
    }

    /// The receiver's vcpu_idx.
    pub(crate) fn receiver(self) -> u32 {
        ((self.0 >> 32) & 0xffff) as u32
    }

    /// The vector.
    pub(crate) fn vector(self) -> u32 {
        ((self.0 >> 48) & 0xff) as u32
    }

    /// The same IPI, acknowledged.
    fn acked(self) -> Sent {
        Sent(self.0 & !Self::PENDING)
    }

    /// Whether it was sent at most `window` ns before `now` (judged in
    /// stamps: up to two stamps, about 2 µs, longer, never shorter). A
    /// clock read that comes out at most [`SKEW_STAMPS`] before the send
    /// time (the fast clock of another CPU) counts as no time passed.
    pub(crate) fn recent(self, now: u64, window: u64) -> bool {
        let age = stamp(now).wrapping_sub(self.0 as u32);
        age <= window_stamps(window) || age.wrapping_neg() <= SKEW_STAMPS
    }

    /// The receiver of this IPI while it is pending and recent.
    pub(crate) fn pending_receiver(self, now: u64, window: u64) -> Option<u32> {
        (self.pending() && self.recent(now, window)).then(|| self.receiver())
    }
}

/// The receiver's link back to the sender of the last tracked IPI it got:
/// the sender's vcpu_idx plus one in bits 8..25 and the IPI's sequence
/// number in bits 0..7. Zero is no link. Naming the IPI lets an EOI remove
/// the link only while it still names the IPI that EOI dealt with.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Link(u32);

impl Link {
    pub(crate) const NONE: Link = Link(0);

    /// The link to `sender`'s IPI of sequence number `seq`; `None` when the
    /// index does not fit.
    fn new(sender: i32, seq: u64) -> Option<Link> {
        let idx = u16::try_from(sender).ok()?;
        Some(Link(
            ((u32::from(idx) + 1) << 8) | (seq & Sent::SEQ_MASK) as u32,
        ))
    }

    /// The link from its C word.
    pub(crate) fn from_raw(word: u32) -> Link {
        Link(word)
    }

    /// The C word of the link.
    pub(crate) fn raw(self) -> u32 {
        self.0
    }

    /// The sender's vcpu_idx, if any.
    pub(crate) fn sender(self) -> Option<i32> {
        (self.0 >> 8)
            .checked_sub(1)
            .and_then(|i| i32::try_from(i).ok())
    }

    fn names(self, sender: i32, sent: Sent) -> bool {
        Link::new(sender, sent.seq()) == Some(self)
    }
}

/// Atomic views of one vCPU's `struct kvm_ipi_ctx`.
///
/// # Invariants
///
/// Both fields of the context are only ever accessed atomically, through
/// views of this type.
pub(crate) struct Ctx<'a> {
    sent: &'a Atomic<u64>,
    link: &'a Atomic<u32>,
}

impl<'a> Ctx<'a> {
    /// FFI helper: views of the context at `ctx`, for the exported entry
    /// points that receive it from C.
    ///
    /// # Safety
    ///
    /// `ctx` points to a `struct kvm_ipi_ctx` that stays valid for `'a` and
    /// whose fields are accessed only through such views meanwhile.
    pub(crate) unsafe fn from_raw(ctx: *const bindings::kvm_ipi_ctx) -> Ctx<'a> {
        let ctx = ctx.cast_mut();
        // INVARIANT: every access in this object is atomic.
        // SAFETY: `ctx` is valid and aligned for `'a`, by the caller; the
        // fields are a `u64` and a `u32`, accessed only atomically.
        unsafe {
            Ctx {
                sent: Atomic::from_ptr(&raw mut (*ctx).sent),
                link: Atomic::from_ptr(&raw mut (*ctx).link),
            }
        }
    }

    pub(crate) fn reset(&self) {
        self.sent.store(0, Relaxed);
        self.link.store(0, Relaxed);
    }

    /// The last IPI sent. Acquire pairs with the release of
    /// [`Ctx::record`]: nothing else is published with it today, but a
    /// reader must never see a word older than one it acts on.
    pub(crate) fn sent(&self) -> Sent {
        Sent(self.sent.load(Acquire))
    }

    /// Records an IPI to `receiver`, sent at `now`, and returns it. Only the
    /// sender's own thread records, so reading the previous sequence number
    /// first cannot race with another record; an EOI that meanwhile clears
    /// `pending` keeps the sequence number.
    fn record(&self, receiver: u16, vector: u8, now: u64) -> Sent {
        let sent = Sent::next(self.sent(), receiver, vector, now);
        self.sent.store(sent.0, Release);
        sent
    }

    /// Clears `pending` of `sent` if it is still the record; returns
    /// whether it did.
    fn ack(&self, sent: Sent) -> bool {
        self.sent.cmpxchg(sent.0, sent.acked().0, Relaxed).is_ok()
    }

    fn link(&self) -> Link {
        Link(self.link.load(Relaxed))
    }

    /// Links the receiver to `sender`'s IPI `sent`. Only a hint for the
    /// receiver's EOI: relaxed, as WRITE_ONCE would be.
    fn set_link(&self, sender: i32, sent: Sent) {
        if let Some(l) = Link::new(sender, sent.seq()) {
            self.link.store(l.0, Relaxed);
        }
    }

    /// Removes the link if it is still `l`.
    fn unlink(&self, l: Link) {
        let _ = self.link.cmpxchg(l.0, Link::NONE.0, Relaxed);
    }
}

/// Records `d`, sent at `now()`, when tracking is on and it is a unicast
/// fixed IPI between two vCPUs: the sender's record, then the receiver's
/// link. Returns the record, or [`Sent::NONE`].
pub(crate) fn record(
    d: &bindings::kvm_ipi_delivery,
    src: &Ctx<'_>,
    dst: &Ctx<'_>,
    now: impl FnOnce() -> u64,
) -> Sent {
    if !TRACKING_ENABLED.load(Relaxed) {
        return Sent::NONE;
    }
    let Ok((receiver, vector)) = classify(d) else {
        return Sent::NONE;
    };
    let sent = src.record(receiver, vector, now());
    dst.set_link(d.src_idx, sent);
    sent
}

/// Undoes the record `sent` of a delivery the receiver refused: it is no
/// longer pending unless something replaced it, and the receiver's link
/// goes if it still names it.
pub(crate) fn refused(src_idx: i32, sent: Sent, src: &Ctx<'_>, dst: &Ctx<'_>) {
    src.ack(sent);
    if let Some(l) = Link::new(src_idx, sent.seq()) {
        dst.unlink(l);
    }
}

/// What an EOI does to the IPI its receiver's link names.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum EoiAction {
    /// Acknowledge it (pending, to this receiver, with this vector, recent)
    /// and remove the link.
    Ack,
    /// It is still pending but out of the window: acknowledge it, as no EOI
    /// would match it any more, and remove the link.
    Expired,
    /// The link is stale: the sender's record is another IPI that is not
    /// pending to this receiver, or it was acknowledged. Remove the link.
    Stale,
    /// Unrelated to it: another vector (a timer's, a device's), or the
    /// sender is recording a newer IPI to this receiver whose link is not
    /// written yet. Leave everything.
    Keep,
}

/// How the EOI of `vector` by `receiver`, whose link `l` names `sender`, at
/// `now` treats the sender's record `sent`. A negative `vector` means
/// nothing was in service.
pub(crate) fn eoi_action(
    l: Link,
    sender: i32,
    sent: Sent,
    receiver: u32,
    vector: i32,
    now: u64,
    window: u64,
) -> EoiAction {
    let to_us = sent.pending() && sent.receiver() == receiver;
    if !l.names(sender, sent) {
        if to_us {
            EoiAction::Keep
        } else {
            EoiAction::Stale
        }
    } else if !to_us {
        EoiAction::Stale
    } else if !sent.recent(now, window) {
        EoiAction::Expired
    } else if u32::try_from(vector).is_ok_and(|v| v == sent.vector()) {
        EoiAction::Ack
    } else {
        EoiAction::Keep
    }
}

/// What an EOI did to the IPI its receiver's link names (`enum kvm_ipi_eoi`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Eoi {
    /// Nothing: no link, another vector, or a newer IPI.
    None,
    /// It acknowledged the sender's pending IPI.
    Cleared,
    /// The link was stale, or the IPI outlived the window.
    Unmatched,
}

impl Eoi {
    /// The C value.
    pub(crate) fn to_c(self) -> bindings::kvm_ipi_eoi {
        match self {
            Eoi::None => bindings::kvm_ipi_eoi_KVM_IPI_EOI_NONE,
            Eoi::Cleared => bindings::kvm_ipi_eoi_KVM_IPI_EOI_CLEARED,
            Eoi::Unmatched => bindings::kvm_ipi_eoi_KVM_IPI_EOI_UNMATCHED,
        }
    }
}

/// First half of an EOI by the receiver `receiver`: the sender its link
/// names, and the link. `None` while tracking is off or without a link.
pub(crate) fn eoi_begin(receiver: &Ctx<'_>) -> Option<(i32, Link)> {
    if !TRACKING_ENABLED.load(Relaxed) {
        return None;
    }
    let l = receiver.link();
    l.sender().map(|s| (s, l))
}

/// Second half, once the caller found the sender `eoi_begin` named: looks
/// at the sender's record once and acts on exactly what it saw, with
/// compare-and-exchanges, so that an IPI recorded meanwhile is neither
/// acknowledged nor unlinked by this EOI. `between` runs after each step
/// that touches shared state (the KUnit interleaving test runs a
/// concurrent record there); returns what to count.
#[allow(clippy::too_many_arguments)]
pub(crate) fn eoi_end(
    sender: &Ctx<'_>,
    sender_idx: i32,
    receiver: &Ctx<'_>,
    receiver_idx: u32,
    l: Link,
    vector: i32,
    now: u64,
    mut between: impl FnMut(),
) -> Eoi {
    let sent = sender.sent();
    between();
    let window = WINDOW_NS.load(Relaxed);
    let action = eoi_action(l, sender_idx, sent, receiver_idx, vector, now, window);
    let outcome = match action {
        EoiAction::Keep => return Eoi::None,
        // A newer IPI replaced it between the look and the exchange.
        EoiAction::Ack if !sender.ack(sent) => return Eoi::None,
        EoiAction::Ack => Eoi::Cleared,
        EoiAction::Expired => {
            sender.ack(sent);
            Eoi::Unmatched
        }
        EoiAction::Stale => Eoi::Unmatched,
    };
    between();
    receiver.unlink(l);
    outcome
}

/// The receiver of the IPI `sender` sent last while it is pending and was
/// sent at most `ipi_window_ns` before the time `now()` gives (`None` while
/// tracking is off). The clock is read only for a pending IPI: a spinner
/// asks on every PAUSE exit, most often with nothing pending.
pub(crate) fn pending_receiver(sender: &Ctx<'_>, now: impl FnOnce() -> u64) -> Option<u32> {
    if !TRACKING_ENABLED.load(Relaxed) {
        return None;
    }
    let sent = sender.sent();
    if !sent.pending() {
        return None;
    }
    sent.pending_receiver(now(), WINDOW_NS.load(Relaxed))
}

#[kunit_tests(vcpu_boost_kvm_ipi_tracker)]
mod tests {
    use super::*;
    use crate::params::{IPI_WINDOW_NS_DEFAULT, IPI_WINDOW_NS_MAX, IPI_WINDOW_NS_MIN};
    use crate::testing::next;
    use core::ptr::NonNull;

    const SRC: i32 = 2;
    const DST: i32 = 5;
    const VEC: u32 = 0xa6;
    /// A send time on a stamp boundary, so that window bounds are exact.
    const T0: u64 = 1 << 30;
    const CLEARED: Eoi = Eoi::Cleared;
    const UNMATCHED: Eoi = Eoi::Unmatched;
    const NOTHING: Eoi = Eoi::None;

    /// A vCPU's context, owned by the test; laid out as `kvm_ipi_ctx`, so
    /// that an exported function can be handed one.
    #[repr(C)]
    struct Slot {
        sent: Atomic<u64>,
        link: Atomic<u32>,
    }

    impl Slot {
        fn new() -> Self {
            Slot {
                sent: Atomic::new(0),
                link: Atomic::new(0),
            }
        }
        fn ctx(&self) -> Ctx<'_> {
            // INVARIANT: the test touches the fields only through views.
            Ctx {
                sent: &self.sent,
                link: &self.link,
            }
        }
        fn sent(&self) -> Sent {
            self.ctx().sent()
        }
        fn link(&self) -> Link {
            self.ctx().link()
        }
    }

    /// A unicast fixed IPI from vCPU `src` to vCPU `dst`. The context
    /// pointers are only tested for null: the views are passed beside.
    fn ipi(src: i32, dst: i32, vector: u32) -> bindings::kvm_ipi_delivery {
        let p = NonNull::<bindings::kvm_ipi_ctx>::dangling().as_ptr();
        bindings::kvm_ipi_delivery {
            src: p,
            dst: p,
            src_idx: src,
            dst_idx: dst,
            targets: 1,
            fixed: true,
            shorthand: false,
            vector,
            eoi_exits: true,
            path: bindings::kvm_ipi_path_KVM_IPI_PATH_FAST,
        }
    }

    fn send(d: &bindings::kvm_ipi_delivery, a: &Slot, b: &Slot, now: u64) -> Sent {
        record(d, &a.ctx(), &b.ctx(), || now)
    }

    /// A whole EOI of `vector` by `receiver` (vCPU `idx`), finding the
    /// sender in `vcpus` by index.
    fn eoi(vcpus: &[&Slot], receiver: &Slot, idx: u32, vector: i32, now: u64) -> Eoi {
        let Some((s, l)) = eoi_begin(&receiver.ctx()) else {
            return NOTHING;
        };
        let Some(sender) = usize::try_from(s).ok().and_then(|i| vcpus.get(i)) else {
            return NOTHING;
        };
        eoi_end(
            &sender.ctx(),
            s,
            &receiver.ctx(),
            idx,
            l,
            vector,
            now,
            || (),
        )
    }

    /// What C gets from `kvm_ipi_tracker_pending_receiver()` for `sender`:
    /// the receiver's index, -1 for none.
    fn exported_pending_receiver(sender: &Slot) -> i32 {
        // SAFETY: `sender` outlives the call, is laid out as `kvm_ipi_ctx`
        // and is only accessed atomically.
        unsafe { crate::kvm_ipi_tracker_pending_receiver(core::ptr::from_ref(sender).cast()) }
    }

    /// The outcomes C sees for each EOI outcome.
    #[test]
    fn eoi_outcomes_map_to_c() {
        assert_eq!(Eoi::None.to_c(), bindings::kvm_ipi_eoi_KVM_IPI_EOI_NONE);
        assert_eq!(
            Eoi::Cleared.to_c(),
            bindings::kvm_ipi_eoi_KVM_IPI_EOI_CLEARED
        );
        assert_eq!(
            Eoi::Unmatched.to_c(),
            bindings::kvm_ipi_eoi_KVM_IPI_EOI_UNMATCHED
        );
    }

    /// Runs `f` with tracking switched to `on`, then restores the switch.
    fn with_tracking(on: bool, f: impl FnOnce()) {
        let old = TRACKING_ENABLED.xchg(on, Relaxed);
        f();
        TRACKING_ENABLED.store(old, Relaxed);
    }

    /// Runs `f` with `ipi_window_ns` at `ns`, then restores it.
    fn with_window(ns: u64, f: impl FnOnce()) {
        let old = WINDOW_NS.xchg(ns, Relaxed);
        f();
        WINDOW_NS.store(old, Relaxed);
    }

    #[test]
    fn records_only_unicast_fixed_ipis_between_vcpus() {
        let good = ipi(SRC, DST, VEC);
        assert_eq!(classify(&good), Ok((DST as u16, VEC as u8)));
        type Spoil = fn(&mut bindings::kvm_ipi_delivery);
        let cases: [(Spoil, Skip); 12] = [
            (|d| d.src = core::ptr::null_mut(), Skip::NotFromVcpu),
            (|d| d.src_idx = -1, Skip::NotFromVcpu),
            (|d| d.fixed = false, Skip::NotFixed),
            (|d| d.shorthand = true, Skip::Shorthand),
            (|d| d.targets = 0, Skip::NotUnicast),
            (|d| d.targets = 2, Skip::NotUnicast),
            (|d| d.dst = core::ptr::null_mut(), Skip::NotUnicast),
            (|d| d.dst_idx = SRC, Skip::SelfIpi),
            (|d| d.vector = 256, Skip::OutOfRange),
            (|d| d.dst_idx = 65_536, Skip::OutOfRange),
            (|d| d.src_idx = 65_536, Skip::OutOfRange),
            (|d| d.eoi_exits = false, Skip::EoiInvisible),
        ];
        let (a, b) = (Slot::new(), Slot::new());
        for (spoil, why) in cases {
            let mut d = good;
            spoil(&mut d);
            assert_eq!(classify(&d), Err(why));
            with_tracking(true, || assert_eq!(send(&d, &a, &b, T0), Sent::NONE));
            assert_eq!((a.sent(), b.link()), (Sent::NONE, Link::NONE));
        }
        with_tracking(true, || {
            let sent = send(&good, &a, &b, T0);
            assert_eq!(a.sent(), sent);
            assert!(sent.pending());
            assert_eq!((sent.receiver(), sent.vector()), (DST as u32, VEC));
            assert_eq!(b.link().sender(), Some(SRC));
            assert!(b.link().names(SRC, sent));
            // The next IPI differs from it even at the same time.
            let again = send(&good, &a, &b, T0);
            assert_ne!(again, sent);
            assert!(!b.link().names(SRC, sent) && b.link().names(SRC, again));
        });
    }

    #[test]
    fn sequence_wraps_and_stays_distinct() {
        let (a, b) = (Slot::new(), Slot::new());
        let d = ipi(SRC, DST, VEC);
        with_tracking(true, || {
            let mut prev = send(&d, &a, &b, T0);
            for _ in 0..300 {
                let next = send(&d, &a, &b, T0);
                assert_ne!(next, prev);
                assert_eq!(next.seq(), (prev.seq() + 1) & Sent::SEQ_MASK);
                prev = next;
            }
        });
    }

    #[test]
    fn refused_delivery_is_undone() {
        let (a, b, c) = (Slot::new(), Slot::new(), Slot::new());
        let d = ipi(SRC, DST, VEC);
        with_tracking(true, || {
            let sent = send(&d, &a, &b, T0);
            refused(SRC, sent, &a.ctx(), &b.ctx());
            assert!(!a.sent().pending());
            assert_eq!(a.sent().pending_receiver(T0, IPI_WINDOW_NS_DEFAULT), None);
            assert_eq!(b.link(), Link::NONE);
            // Meanwhile another sender linked itself to the receiver: kept.
            let sent = send(&d, &a, &b, T0);
            let other = send(&ipi(7, DST, VEC), &c, &b, T0);
            refused(SRC, sent, &a.ctx(), &b.ctx());
            assert!(b.link().names(7, other));
        });
    }

    #[test]
    fn tracking_off_records_and_answers_nothing() {
        let (a, b) = (Slot::new(), Slot::new());
        let d = ipi(SRC, DST, VEC);
        with_tracking(false, || assert_eq!(send(&d, &a, &b, T0), Sent::NONE));
        assert_eq!(a.sent(), Sent::NONE);
        with_tracking(true, || assert!(send(&d, &a, &b, T0).pending()));
        with_tracking(false, || {
            assert_eq!(eoi_begin(&b.ctx()), None);
            assert_eq!(pending_receiver(&a.ctx(), || T0), None);
            assert_eq!(exported_pending_receiver(&a), -1);
        });
        with_tracking(true, || {
            assert_eq!(pending_receiver(&a.ctx(), || T0), Some(DST as u32));
        });
        // Nothing was cleared while off.
        assert!(a.sent().pending() && b.link().sender() == Some(SRC));
        // The export reads the real clock, long after T0: a new IPI, in the
        // largest window.
        with_tracking(true, || {
            with_window(IPI_WINDOW_NS_MAX, || {
                let sent = send(&ipi(SRC, DST, VEC), &a, &b, crate::now_ns());
                assert!(sent.pending());
                assert_eq!(exported_pending_receiver(&a), DST);
            });
        });
    }

    #[test]
    fn clock_is_read_only_for_a_pending_ipi() {
        let (a, b) = (Slot::new(), Slot::new());
        let reads = core::cell::Cell::new(0u32);
        let clock = || {
            reads.set(reads.get() + 1);
            T0
        };
        with_tracking(true, || {
            // Nothing sent, then an IPI acknowledged by its EOI.
            assert_eq!(pending_receiver(&a.ctx(), clock), None);
            let sent = send(&ipi(SRC, DST, VEC), &a, &b, T0);
            assert_eq!(pending_receiver(&a.ctx(), clock), Some(DST as u32));
            assert_eq!(reads.get(), 1);
            assert_eq!(eoi(&[&a, &a, &a], &b, DST as u32, VEC as i32, T0), CLEARED);
            assert_eq!(a.sent(), sent.acked());
            assert_eq!(pending_receiver(&a.ctx(), clock), None);
            assert_eq!(reads.get(), 1);
        });
    }

    #[test]
    fn window_bounds() {
        let w = IPI_WINDOW_NS_DEFAULT;
        let (a, b) = (Slot::new(), Slot::new());
        with_tracking(true, || {
            let s = send(&ipi(SRC, DST, VEC), &a, &b, T0);
            assert_eq!(s.pending_receiver(T0, w), Some(DST as u32));
            assert_eq!(s.pending_receiver(T0 + w, w), Some(DST as u32));
            // Judged to 1.024 µs: two units beyond the window is out.
            assert_eq!(s.pending_receiver(T0 + w + 2048, w), None);
            // A window of whole units is exact.
            let w = 1024 * 1000;
            assert!(s.recent(T0 + w, w) && s.recent(T0 + w + 1023, w));
            assert!(!s.recent(T0 + w + 1024, w));
            // The smallest window is one unit, never empty.
            assert!(s.recent(T0 + 1023, IPI_WINDOW_NS_MIN));
            assert!(!s.recent(T0 + 2048, IPI_WINDOW_NS_MIN));
            // A clock read a little behind the send time is no time passed;
            // half the stamp's range later is long past, not behind.
            assert!(s.recent(T0 - 5000, IPI_WINDOW_NS_MIN));
            assert!(s.recent(T0 - (1024 << STAMP_SHIFT), IPI_WINDOW_NS_MIN));
            assert!(!s.recent(T0 - (1026 << STAMP_SHIFT), IPI_WINDOW_NS_MIN));
            let far = T0 + (((1u64 << 31) + 5) << STAMP_SHIFT);
            assert_eq!(s.pending_receiver(far, IPI_WINDOW_NS_MAX), None);
            // Across the stamp's wrap.
            let late = (u64::from(u32::MAX) << STAMP_SHIFT) + 7;
            let s = send(&ipi(SRC, DST, VEC), &a, &b, late);
            assert!(s.recent(late + (4 << STAMP_SHIFT), IPI_WINDOW_NS_MIN * 5));
            assert!(!s.recent(late + w + (2 << STAMP_SHIFT), w));
        });
    }

    #[test]
    fn eoi_actions() {
        let w = IPI_WINDOW_NS_DEFAULT;
        let (a, b) = (Slot::new(), Slot::new());
        let v = VEC as i32;
        let r = DST as u32;
        with_tracking(true, || {
            let s = send(&ipi(SRC, DST, VEC), &a, &b, T0);
            let l = b.link();
            assert_eq!(eoi_action(l, SRC, s, r, v, T0 + w, w), EoiAction::Ack);
            // Another interrupt's EOI, or none in service: not about it.
            assert_eq!(eoi_action(l, SRC, s, r, v + 1, T0, w), EoiAction::Keep);
            assert_eq!(eoi_action(l, SRC, s, r, -1, T0, w), EoiAction::Keep);
            // Out of the window.
            assert_eq!(
                eoi_action(l, SRC, s, r, v, T0 + w + 2048, w),
                EoiAction::Expired
            );
            // Another receiver's EOI, or the IPI was acknowledged.
            assert_eq!(eoi_action(l, SRC, s, r + 1, v, T0, w), EoiAction::Stale);
            assert_eq!(eoi_action(l, SRC, s.acked(), r, v, T0, w), EoiAction::Stale);
            // The link names an older IPI: stale, unless the newer one goes
            // to this receiver too (its link is on its way).
            let newer = send(&ipi(SRC, DST, VEC), &a, &b, T0);
            assert_eq!(eoi_action(l, SRC, newer, r, v, T0, w), EoiAction::Keep);
            let elsewhere = send(&ipi(SRC, 7, VEC), &a, &b, T0);
            assert_eq!(eoi_action(l, SRC, elsewhere, r, v, T0, w), EoiAction::Stale);
            // Looked up under another sender than the link names: the
            // sender's IPI is left alone.
            assert_eq!(eoi_action(l, 3, s, r, v, T0, w), EoiAction::Keep);
        });
    }

    #[test]
    fn eoi_acknowledges_only_its_ipi() {
        let (o, a, b) = (Slot::new(), Slot::new(), Slot::new());
        let all: [&Slot; 6] = [&o, &o, &a, &o, &o, &b];
        let (a, b) = (&a, &b);
        let r = DST as u32;
        with_tracking(true, || {
            send(&ipi(SRC, DST, VEC), a, b, T0);
            // A timer's EOI: the IPI stays pending, the link stays.
            assert_eq!(eoi(&all, b, r, VEC as i32 + 1, T0), NOTHING);
            assert!(a.sent().pending() && b.link().sender() == Some(SRC));
            // Its own EOI clears it and the link.
            assert_eq!(eoi(&all, b, r, VEC as i32, T0 + 1), CLEARED);
            assert!(!a.sent().pending());
            assert_eq!(
                a.sent().pending_receiver(T0 + 1, IPI_WINDOW_NS_DEFAULT),
                None
            );
            assert_eq!(b.link(), Link::NONE);
            // A second EOI finds no sender.
            assert_eq!(eoi(&all, b, r, VEC as i32, T0 + 1), NOTHING);
            // The sender moved on to another receiver: the link is stale.
            send(&ipi(SRC, DST, VEC), a, b, T0);
            send(&ipi(SRC, 0, VEC), a, &o, T0);
            assert_eq!(eoi(&all, b, r, VEC as i32, T0), UNMATCHED);
            assert_eq!(b.link(), Link::NONE);
            assert_eq!(
                a.sent().pending_receiver(T0, IPI_WINDOW_NS_DEFAULT),
                Some(0)
            );
            // Out of the window: acknowledged, so it steers nothing later.
            send(&ipi(SRC, DST, VEC), a, b, T0);
            let late = T0 + IPI_WINDOW_NS_DEFAULT + 4096;
            assert_eq!(eoi(&all, b, r, VEC as i32, late), UNMATCHED);
            assert!(!a.sent().pending());
        });
    }

    #[test]
    fn eoi_keeps_the_receivers_own_ipi() {
        // b sent its own IPI to vCPU 7 before it EOIs a's IPI.
        let (a, b, c) = (Slot::new(), Slot::new(), Slot::new());
        let all: [&Slot; 6] = [&c, &c, &a, &c, &c, &b];
        with_tracking(true, || {
            send(&ipi(SRC, DST, VEC), &a, &b, T0);
            send(&ipi(DST, 7, VEC), &b, &c, T0);
            assert_eq!(eoi(&all, &b, DST as u32, VEC as i32, T0), CLEARED);
            assert_eq!(
                b.sent().pending_receiver(T0, IPI_WINDOW_NS_DEFAULT),
                Some(7)
            );
        });
    }

    #[test]
    fn reset_forgets_everything() {
        let (a, b) = (Slot::new(), Slot::new());
        with_tracking(true, || {
            send(&ipi(SRC, DST, VEC), &a, &b, T0);
        });
        a.ctx().reset();
        b.ctx().reset();
        assert_eq!(
            (a.sent(), a.link(), b.sent(), b.link()),
            (Sent::NONE, Link::NONE, Sent::NONE, Link::NONE)
        );
    }

    /// An EOI of IPI A (sender S, receiver R) races with S recording IPI B:
    /// to R with A's vector, to R with another vector, or to vCPU 7. The
    /// record's two steps (the word, then the receiver's link) go into
    /// every gap between the EOI's four steps (read the link, read the
    /// word, exchange the word, remove the link): 15 orders per case. The
    /// EOI may acknowledge B only when it read B's link and B has A's
    /// vector (an EOI names a vector, not an IPI); otherwise B stays
    /// pending, and R's link ends naming B exactly while B is pending.
    #[test]
    fn eoi_interleaved_with_a_record_at_every_step() {
        let r = DST as u32;
        for (dst_b, vec_b) in [(DST, VEC), (DST, VEC + 1), (7, VEC)] {
            for first in 0..5u32 {
                for second in first..5u32 {
                    let (s, rcv, other) = (Slot::new(), Slot::new(), Slot::new());
                    let all: [&Slot; 6] = [&other, &other, &s, &other, &other, &rcv];
                    let b_dst = if dst_b == DST { &rcv } else { &other };
                    let d_b = ipi(SRC, dst_b, vec_b);
                    with_tracking(true, || {
                        send(&ipi(SRC, DST, VEC), &s, &rcv, T0);
                        let mut b = Sent::NONE;
                        let mut gap = 0u32;
                        let mut link_seen = Link::NONE;
                        // Runs the record's steps that belong in this gap.
                        let step = |gap: u32, b: &mut Sent| {
                            if first == gap {
                                let (receiver, vector) = classify(&d_b).unwrap_or((0, 0));
                                *b = s.ctx().record(receiver, vector, T0);
                            }
                            if second == gap {
                                b_dst.ctx().set_link(SRC, *b);
                            }
                        };
                        step(gap, &mut b);
                        gap += 1;
                        let begun = eoi_begin(&rcv.ctx());
                        if let Some((_, l)) = begun {
                            link_seen = l;
                        }
                        step(gap, &mut b);
                        gap += 1;
                        let mut out = NOTHING;
                        if let Some((sender, l)) = begun {
                            let sender_slot = usize::try_from(sender).ok().and_then(|i| all.get(i));
                            assert!(sender_slot.is_some_and(|x| core::ptr::eq(*x, &s)));
                            if let Some(x) = sender_slot {
                                out = eoi_end(
                                    &x.ctx(),
                                    sender,
                                    &rcv.ctx(),
                                    r,
                                    l,
                                    VEC as i32,
                                    T0,
                                    || {
                                        step(gap, &mut b);
                                        gap += 1;
                                    },
                                );
                            }
                        }
                        while gap < 5 {
                            step(gap, &mut b);
                            gap += 1;
                        }
                        let read_b_link = link_seen.names(SRC, b);
                        let may_ack_b = dst_b == DST && vec_b == VEC && read_b_link;
                        let b_now = s.sent();
                        assert_eq!(b_now.seq(), b.seq());
                        assert_eq!(b_now.pending(), !may_ack_b);
                        if may_ack_b {
                            assert_eq!(out, CLEARED);
                        }
                        if dst_b == DST {
                            let expect = if b_now.pending() {
                                Link::new(SRC, b.seq())
                            } else {
                                Some(Link::NONE)
                            };
                            assert_eq!(Some(rcv.link()), expect);
                        } else {
                            assert!(other.link().names(SRC, b));
                        }
                    });
                }
            }
        }
    }

    /// Random deliveries (good, malformed and refused), EOIs of random
    /// vectors, resets and queries among four vCPUs, as a hostile guest may
    /// cause them: every vCPU index the tracker hands back (the sender an
    /// EOI names, the receiver directed yield tries) is a vCPU of the VM
    /// other than the one asking, an EOI that clears an IPI leaves its
    /// sender with nothing pending to that receiver, and a record refused
    /// by its APIC is not pending afterwards.
    #[test]
    fn fuzz_indices_stay_in_range() {
        const NR: i32 = 4;
        let slots = [Slot::new(), Slot::new(), Slot::new(), Slot::new()];
        let slot = |i: i32| slots.get(usize::try_from(i.rem_euclid(NR)).unwrap_or(0));
        let mut rng = 0x9e37_79b9_7f4a_7c15u64;
        let mut now = T0;
        let w = IPI_WINDOW_NS_DEFAULT;
        with_tracking(true, || {
            for _ in 0..300_000 {
                let r = next(&mut rng);
                now = now.wrapping_add((r >> 40) % 20_000_000);
                let (a, b) = (((r >> 8) % 5) as i32 - 1, ((r >> 12) % 4) as i32);
                let (Some(sb), Some(sa)) = (slot(b), slot(a)) else {
                    continue;
                };
                match r % 5 {
                    0 | 1 => {
                        let mut d = ipi(a, b, ((r >> 24) % 8 + 0x20) as u32);
                        if a < 0 {
                            d.src = core::ptr::null_mut();
                        }
                        d.targets = if r & (1 << 20) != 0 { 2 } else { 1 };
                        d.fixed = r & (1 << 21) == 0;
                        d.shorthand = r & (1 << 22) != 0 && r & (1 << 23) != 0;
                        let sent = send(&d, sa, sb, now);
                        if sent != Sent::NONE && r & (1 << 30) != 0 {
                            refused(a, sent, &sa.ctx(), &sb.ctx());
                            if sa.sent().seq() == sent.seq() {
                                assert!(!sa.sent().pending());
                            }
                        }
                    }
                    2 => {
                        // vCPU b EOIs a random vector (-1: nothing in service).
                        let vector = ((r >> 24) % 9) as i32 + 0x1f;
                        let vector = if vector == 0x1f { -1 } else { vector };
                        let Some((s, l)) = eoi_begin(&sb.ctx()) else {
                            continue;
                        };
                        assert!((0..NR).contains(&s) && s != b);
                        let Some(ss) = slot(s) else { continue };
                        let before = ss.sent();
                        let out = eoi_end(&ss.ctx(), s, &sb.ctx(), b as u32, l, vector, now, || ());
                        if out == CLEARED {
                            assert_eq!(before.receiver(), b as u32);
                            assert!(!ss.sent().pending());
                        }
                    }
                    3 if r & (1 << 40) != 0 => sb.ctx().reset(),
                    _ => {
                        if let Some(x) = sb.sent().pending_receiver(now, w) {
                            assert!(x < NR as u32 && x != b as u32);
                        }
                    }
                }
            }
        });
    }
}
