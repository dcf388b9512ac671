// SPDX-License-Identifier: GPL-2.0

//! The IPI tracker: the unicast fixed IPI each vCPU sent last.
//!
//! A vCPU's record is one 64-bit word ([`Sent`]): receiver, vector, send
//! time and a mark, written whole. It is touched only under the vCPU's
//! mutex, or before the vCPU is published (its reset at creation): the
//! vCPU records the IPIs it sends (its own thread, or a host-initiated ICR
//! write through an ioctl), asks, marks and forgets on its PAUSE exits and
//! resets on its reset, so no two accesses race.
//!
//! Whether the receiver still owes the answer is not stored. At spin time
//! directed yield asks the receiver's APIC whether the vector is still
//! posted (PIR), in its IRR or in its ISR (`kvm_arch_dy_ipi_outstanding()`):
//! the EOI ends the receiver's priority without a hook on the EOI paths
//! keeping a copy of that state in step. The second spin in a row that
//! finds the IPI answered forgets the record ([`outstanding`]), so that the
//! spins after it stop there, as does a spin that reads the clock, for a
//! receiver it would try, and finds the IPI out of the window
//! ([`still_recent`]).
//!
//! Beside it, a second word ([`Seen`]) keeps the receiver's halt count as
//! the vCPU's last spin that asked about it read it, written by the vCPU's
//! own PAUSE exits: a receiver that halted since then answers and hands the
//! CPU back by itself. [`Ctx`] views a vCPU's `struct kvm_ipi_ctx` as the
//! two atomic words.

use crate::params::{TRACKING_ENABLED, WINDOW_NS};
use kernel::{
    bindings,
    prelude::*,
    sync::atomic::{Atomic, Relaxed},
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
    /// Addressed to no vCPU or to several.
    NotUnicast,
    /// Sent by a vCPU to itself.
    SelfIpi,
    /// A vector above 255 or a vCPU index that [`Sent`] cannot hold.
    OutOfRange,
}

/// Whether an accepted delivery is a unicast fixed IPI from one vCPU to
/// another; returns the receiver's index and the vector.
pub(crate) fn classify(d: &bindings::kvm_ipi_delivery) -> Result<(u16, u8), Skip> {
    if d.src.is_null() || d.src_idx < 0 {
        Err(Skip::NotFromVcpu)
    } else if !d.fixed {
        Err(Skip::NotFixed)
    } else if d.shorthand {
        Err(Skip::Shorthand)
    } else if d.targets != 1 || d.dst_idx < 0 {
        Err(Skip::NotUnicast)
    } else if d.dst_idx == d.src_idx {
        Err(Skip::SelfIpi)
    } else {
        match (u16::try_from(d.dst_idx), u8::try_from(d.vector)) {
            (Ok(dst), Ok(vector)) => Ok((dst, vector)),
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
/// no time passed: 2^15 stamps, about 34 ms. The vCPU may have moved to
/// another CPU since it sent, and `local_clock()` of two CPUs differs by up
/// to about two ticks (20 ms at HZ=100) when sched_clock is not stable; far
/// less than the stamp's wrap.
const SKEW_STAMPS: u32 = 1 << 15;

/// `window` in stamp units, rounded up so that no window is empty.
fn window_stamps(window: u64) -> u32 {
    u32::try_from(window.saturating_add((1 << STAMP_SHIFT) - 1) >> STAMP_SHIFT).unwrap_or(u32::MAX)
}

/// The last IPI a vCPU sent, packed into one word:
///
/// | bits   | field                                      |
/// |--------|--------------------------------------------|
/// | 0..32  | send time, in units of 2^10 ns ([`stamp`])  |
/// | 32..48 | receiver's vcpu_idx                        |
/// | 48..56 | vector                                     |
/// | 56     | set in every record, so that none is zero  |
/// | 57     | the last spin that asked found it answered |
///
/// Zero is "nothing sent".
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Sent(u64);

impl Sent {
    pub(crate) const NONE: Sent = Sent(0);
    const RECORDED: u64 = 1 << 56;
    const ANSWERED: u64 = 1 << 57;

    /// An IPI to `receiver` with `vector`, sent at `now`.
    fn new(receiver: u16, vector: u8, now: u64) -> Sent {
        Sent(
            Self::RECORDED
                | (u64::from(vector) << 48)
                | (u64::from(receiver) << 32)
                | u64::from(stamp(now)),
        )
    }

    /// Something was sent.
    pub(crate) fn recorded(self) -> bool {
        self.0 & Self::RECORDED != 0
    }

    /// The last spin that asked found it answered.
    fn answered(self) -> bool {
        self.0 & Self::ANSWERED != 0
    }

    /// The same IPI, marked as found answered or not.
    fn with_answered(self, answered: bool) -> Sent {
        if answered {
            Sent(self.0 | Self::ANSWERED)
        } else {
            Sent(self.0 & !Self::ANSWERED)
        }
    }

    /// The receiver's vcpu_idx.
    pub(crate) fn receiver(self) -> u32 {
        ((self.0 >> 32) & 0xffff) as u32
    }

    /// The vector.
    pub(crate) fn vector(self) -> u8 {
        ((self.0 >> 48) & 0xff) as u8
    }

    /// Whether it was sent at most `window` ns before `now` (judged in
    /// stamps: up to two stamps, about 2 µs, longer, never shorter). A
    /// clock read that comes out at most [`SKEW_STAMPS`] before the send
    /// time (the clock of another CPU) counts as no time passed.
    pub(crate) fn recent(self, now: u64, window: u64) -> bool {
        let age = stamp(now).wrapping_sub(self.0 as u32);
        age <= window_stamps(window) || age.wrapping_neg() <= SKEW_STAMPS
    }

    /// Whether it was sent at most `hold` ns before `now` (in stamps, as
    /// [`Sent::recent`]): the hold's bound. A clock read behind the send
    /// time counts as no time passed only up to the same bound, not
    /// [`SKEW_STAMPS`], which would stretch a hold of microseconds to
    /// milliseconds.
    pub(crate) fn fresh(self, now: u64, hold: u64) -> bool {
        let age = stamp(now).wrapping_sub(self.0 as u32);
        let bound = window_stamps(hold);
        age <= bound || age.wrapping_neg() <= bound
    }

    /// Whether it was sent at most `ipi_window_ns` before `now`.
    fn in_window(self, now: u64) -> bool {
        self.recent(now, WINDOW_NS.load(Relaxed))
    }
}

/// The halt count of the receiver a spinner last asked about, packed into
/// one word: bits 0..47 the count (truncated: only compared for equality),
/// bits 47..63 the receiver's vcpu_idx, bit 63 set. Zero, after a reset,
/// matches no look.
#[derive(Clone, Copy)]
struct Seen(u64);

impl Seen {
    const HALTS: u64 = (1 << 47) - 1;
    const LOOKED: u64 = 1 << 63;

    fn new(receiver: u32, halts: u64) -> Seen {
        Seen(Self::LOOKED | (u64::from(receiver & 0xffff) << 47) | (halts & Self::HALTS))
    }
}

/// An atomic view of one vCPU's `struct kvm_ipi_ctx`.
///
/// # Invariants
///
/// The context's words are only ever accessed atomically, through views of
/// this type.
pub(crate) struct Ctx<'a> {
    sent: &'a Atomic<u64>,
    seen: &'a Atomic<u64>,
}

impl<'a> Ctx<'a> {
    /// The view of a context whose two words are `sent` and `seen`.
    pub(crate) fn new(sent: &'a Atomic<u64>, seen: &'a Atomic<u64>) -> Ctx<'a> {
        // INVARIANT: atomics are only ever accessed atomically.
        Ctx { sent, seen }
    }

    pub(crate) fn reset(&self) {
        self.sent.store(0, Relaxed);
        self.seen.store(0, Relaxed);
    }

    /// Whether `receiver`, now at `halts` halts, has halted since this
    /// vCPU last looked; a receiver other than the last one looked at
    /// counts as halted. Records this look for the next question, so that
    /// asking changes the answer. Relaxed, as [`Ctx::sent`]: only the
    /// vCPU's own spins and its reset write the word.
    pub(crate) fn halted_since_last_look(&self, receiver: u32, halts: u64) -> bool {
        let now = Seen::new(receiver, halts);
        if self.seen.load(Relaxed) == now.0 {
            return false;
        }
        self.seen.store(now.0, Relaxed);
        true
    }

    /// The last IPI sent. Relaxed: every access holds the vCPU's mutex or
    /// comes before the vCPU is published (see the module's documentation).
    pub(crate) fn sent(&self) -> Sent {
        Sent(self.sent.load(Relaxed))
    }

    fn store(&self, sent: Sent) {
        self.sent.store(sent.0, Relaxed);
    }

    /// Replaces `old` with `new` if `old` is still the last IPI sent.
    /// Relaxed, as [`Ctx::sent`]: under the vCPU's mutex nothing records
    /// in between.
    fn replace(&self, old: Sent, new: Sent) {
        if self.sent() == old {
            self.store(new);
        }
    }

    /// Forgets `sent` if it is still the last IPI sent, marked or not.
    fn forget(&self, sent: Sent) {
        if self.sent().with_answered(false) == sent.with_answered(false) {
            self.store(Sent::NONE);
        }
    }
}

/// Records `d`, an interrupt the receiver's APIC accepted, sent at `now()`,
/// when tracking is on and it is a unicast fixed IPI between two vCPUs.
/// Returns the record, or [`Sent::NONE`].
pub(crate) fn record(
    d: &bindings::kvm_ipi_delivery,
    src: &Ctx<'_>,
    now: impl FnOnce() -> u64,
) -> Sent {
    if !TRACKING_ENABLED.load(Relaxed) {
        return Sent::NONE;
    }
    let Ok((receiver, vector)) = classify(d) else {
        return Sent::NONE;
    };
    let sent = Sent::new(receiver, vector, now());
    src.store(sent);
    sent
}

/// The IPI `sender` sent last; `None` while tracking is off, and when it
/// sent none since its reset.
pub(crate) fn last_sent(sender: &Ctx<'_>) -> Option<Sent> {
    if !TRACKING_ENABLED.load(Relaxed) {
        return None;
    }
    Some(sender.sent()).filter(|sent| sent.recorded())
}

/// Whether the receiver of `sent`, the last IPI `sender` sent, still owes
/// the answer: whether its APIC still `holds` the vector (posted, IRR or
/// ISR).
///
/// An IPI found answered by two spins in a row is forgotten, so that the
/// sender's later spins end at [`last_sent`] without asking the APIC: the
/// vector held again later is another IPI's. Not by one: the APIC is read
/// without its lock while the receiver may run, and for a moment the vector
/// is in neither register (the ack clears the IRR bit before it sets the
/// ISR bit; a posted interrupt leaves the PIR before it reaches the IRR).
pub(crate) fn outstanding(
    sender: &Ctx<'_>,
    sent: Sent,
    holds: impl FnOnce(u32, u8) -> bool,
) -> bool {
    let held = holds(sent.receiver(), sent.vector());
    match (held, sent.answered()) {
        (true, false) => {}
        (true, true) => sender.replace(sent, sent.with_answered(false)),
        (false, false) => sender.replace(sent, sent.with_answered(true)),
        (false, true) => sender.forget(sent),
    }
    held
}

/// Whether `sent`, the last IPI `sender` sent, was sent at most
/// `ipi_window_ns` before `now` ([`Sent::in_window`]). One that was not is
/// forgotten: its stamp wraps, and kept for 2^32 stamps (about 73 minutes)
/// it would look recent again.
pub(crate) fn still_recent(sender: &Ctx<'_>, sent: Sent, now: u64) -> bool {
    let recent = sent.in_window(now);
    if !recent {
        sender.forget(sent);
    }
    recent
}

#[cfg(CONFIG_VCPU_BOOST_KUNIT_TEST)]
#[kernel::macros::kunit_tests(vcpu_boost_kvm_ipi_tracker)]
mod tests {
    use super::*;
    use crate::params::{IPI_WINDOW_NS_DEFAULT, IPI_WINDOW_NS_MAX, IPI_WINDOW_NS_MIN};
    use crate::testing::next;
    use core::cell::Cell;
    use core::ptr::NonNull;

    const SRC: i32 = 2;
    const DST: i32 = 5;
    const VEC: u32 = 0xa6;
    /// A send time on a stamp boundary, so that window bounds are exact.
    const T0: u64 = 1 << 30;

    /// A vCPU's context, owned by the test; laid out as `kvm_ipi_ctx`.
    #[repr(C)]
    struct Slot {
        sent: Atomic<u64>,
        seen: Atomic<u64>,
    }

    impl Slot {
        fn new() -> Self {
            Slot {
                sent: Atomic::new(0),
                seen: Atomic::new(0),
            }
        }
        fn ctx(&self) -> Ctx<'_> {
            Ctx::new(&self.sent, &self.seen)
        }
        fn sent(&self) -> Sent {
            self.ctx().sent()
        }
    }

    /// An accepted unicast fixed IPI from vCPU `src` to vCPU `dst`. The
    /// context pointer is only tested for null: the view is passed beside.
    fn ipi(src: i32, dst: i32, vector: u32) -> bindings::kvm_ipi_delivery {
        bindings::kvm_ipi_delivery {
            src: NonNull::<bindings::kvm_ipi_ctx>::dangling().as_ptr(),
            src_idx: src,
            dst_idx: dst,
            targets: 1,
            fixed: true,
            shorthand: false,
            vector,
            path: bindings::kvm_ipi_path_KVM_IPI_PATH_FAST,
        }
    }

    fn send(d: &bindings::kvm_ipi_delivery, a: &Slot, now: u64) -> Sent {
        record(d, &a.ctx(), || now)
    }

    /// The receiver of `sender`'s last IPI while it owes the answer, as
    /// the Rust step of `kvm_vcpu_on_spin()` asks the tracker: [`last_sent`],
    /// [`outstanding`] (the receiver's APIC, `holds`), then the clock, only
    /// if it holds the vector, and [`still_recent`].
    fn pending_receiver(
        sender: &Ctx<'_>,
        holds: impl FnOnce(u32, u8) -> bool,
        now: impl FnOnce() -> u64,
    ) -> Option<u32> {
        last_sent(sender)
            .filter(|&sent| outstanding(sender, sent, holds) && still_recent(sender, sent, now()))
            .map(Sent::receiver)
    }

    /// The answer for `sender` at `now` when the receiver's APIC still
    /// holds the vector (`held`) or not.
    fn ask(sender: &Slot, held: bool, now: u64) -> Option<u32> {
        pending_receiver(&sender.ctx(), |_, _| held, || now)
    }

    /// Runs `f` with tracking switched to `on` and `ipi_window_ns` at its
    /// default (the tests' windows must not follow the command line), then
    /// restores both.
    fn with_tracking(on: bool, f: impl FnOnce()) {
        let old = TRACKING_ENABLED.xchg(on, Relaxed);
        let window = WINDOW_NS.xchg(IPI_WINDOW_NS_DEFAULT, Relaxed);
        f();
        WINDOW_NS.store(window, Relaxed);
        TRACKING_ENABLED.store(old, Relaxed);
    }

    #[test]
    fn records_only_unicast_fixed_ipis_between_vcpus() {
        let good = ipi(SRC, DST, VEC);
        assert_eq!(classify(&good), Ok((DST as u16, VEC as u8)));
        type Spoil = fn(&mut bindings::kvm_ipi_delivery);
        let cases: [(Spoil, Skip); 10] = [
            (|d| d.src = core::ptr::null_mut(), Skip::NotFromVcpu),
            (|d| d.src_idx = -1, Skip::NotFromVcpu),
            (|d| d.fixed = false, Skip::NotFixed),
            (|d| d.shorthand = true, Skip::Shorthand),
            (|d| d.targets = 0, Skip::NotUnicast),
            (|d| d.targets = 2, Skip::NotUnicast),
            (|d| d.dst_idx = -1, Skip::NotUnicast),
            (|d| d.dst_idx = SRC, Skip::SelfIpi),
            (|d| d.vector = 256, Skip::OutOfRange),
            (|d| d.dst_idx = 65_536, Skip::OutOfRange),
        ];
        let a = Slot::new();
        for (spoil, why) in cases {
            let mut d = good;
            spoil(&mut d);
            assert_eq!(classify(&d), Err(why));
            with_tracking(true, || assert_eq!(send(&d, &a, T0), Sent::NONE));
            assert_eq!(a.sent(), Sent::NONE);
        }
        with_tracking(true, || {
            let sent = send(&good, &a, T0);
            assert_eq!(a.sent(), sent);
            assert!(sent.recorded());
            assert_eq!((sent.receiver(), sent.vector()), (DST as u32, VEC as u8));
            // Receiver 0 with vector 0 at stamp 0 is still a record.
            let zero = send(&ipi(SRC, 0, 0), &a, 0);
            assert!(zero.recorded() && zero != Sent::NONE);
        });
    }

    /// A record replaces the whole previous one; a malformed delivery
    /// leaves the last good record in place.
    #[test]
    fn each_record_replaces_the_last_whole() {
        let a = Slot::new();
        with_tracking(true, || {
            send(&ipi(SRC, DST, VEC), &a, T0);
            let later = T0 + 5 * IPI_WINDOW_NS_DEFAULT;
            let second = send(&ipi(SRC, 7, VEC + 1), &a, later);
            assert_eq!((second.receiver(), second.vector()), (7, VEC as u8 + 1));
            assert!(second.recent(later, IPI_WINDOW_NS_MIN));
            let mut bad = ipi(SRC, DST, VEC);
            bad.targets = 3;
            assert_eq!(send(&bad, &a, later + 1), Sent::NONE);
            assert_eq!(a.sent(), second);
        });
    }

    #[test]
    fn tracking_off_records_and_answers_nothing() {
        let a = Slot::new();
        let d = ipi(SRC, DST, VEC);
        with_tracking(false, || assert_eq!(send(&d, &a, T0), Sent::NONE));
        assert_eq!(a.sent(), Sent::NONE);
        with_tracking(true, || assert!(send(&d, &a, T0).recorded()));
        let asked = Cell::new(false);
        with_tracking(false, || {
            let r = pending_receiver(
                &a.ctx(),
                |_, _| {
                    asked.set(true);
                    true
                },
                || T0,
            );
            assert_eq!(r, None);
        });
        assert!(!asked.get());
        // The record survived: on again, it answers.
        with_tracking(true, || assert_eq!(ask(&a, true, T0), Some(DST as u32)));
    }

    /// The receiver's APIC decides: it is asked about exactly the record's
    /// receiver and vector, once the record exists, and the clock is read
    /// only when the APIC still holds the vector.
    #[test]
    fn the_receivers_apic_ends_the_priority() {
        let a = Slot::new();
        let asked = &Cell::new(None);
        let reads = Cell::new(0u32);
        let clock = || {
            reads.set(reads.get() + 1);
            T0
        };
        let apic = |held: bool| {
            move |r: u32, v: u8| {
                asked.set(Some((r, v)));
                held
            }
        };
        with_tracking(true, || {
            // Nothing sent: neither the APIC nor the clock is asked.
            assert_eq!(pending_receiver(&a.ctx(), apic(true), clock), None);
            assert_eq!((asked.get(), reads.get()), (None, 0));
            send(&ipi(SRC, DST, VEC), &a, T0);
            // Not EOI'd yet: the receiver.
            assert_eq!(
                pending_receiver(&a.ctx(), apic(true), clock),
                Some(DST as u32)
            );
            assert_eq!(asked.get(), Some((DST as u32, VEC as u8)));
            assert_eq!(reads.get(), 1);
            // EOI'd: nobody, and no clock read.
            assert_eq!(pending_receiver(&a.ctx(), apic(false), clock), None);
            assert_eq!(reads.get(), 1);
            // Found answered twice in a row: forgotten, and the vector held
            // again (another sender's IPI) is not asked about.
            assert_eq!(pending_receiver(&a.ctx(), apic(false), clock), None);
            asked.set(None);
            assert_eq!(pending_receiver(&a.ctx(), apic(true), clock), None);
            assert_eq!((asked.get(), reads.get()), (None, 1));
            assert_eq!(a.sent(), Sent::NONE);
            // The next IPI is asked about, not the one before.
            send(&ipi(SRC, 3, 0x31), &a, T0);
            assert_eq!(pending_receiver(&a.ctx(), apic(true), clock), Some(3));
            assert_eq!(asked.get(), Some((3, 0x31)));
            // Still held, but out of the window: nobody, and forgotten.
            let late = T0 + IPI_WINDOW_NS_DEFAULT + 4096;
            assert_eq!(ask(&a, true, late), None);
            assert_eq!(a.sent(), Sent::NONE);
        });
    }

    /// An IPI found out of the window is forgotten, marked or not, so that
    /// its stamp cannot come round to look recent again, as it would a
    /// full wrap (2^42 ns) after it was sent.
    #[test]
    fn an_ipi_out_of_the_window_is_forgotten() {
        let a = Slot::new();
        let w = IPI_WINDOW_NS_DEFAULT;
        let wrap = 1u64 << (32 + STAMP_SHIFT);
        with_tracking(true, || {
            let sent = send(&ipi(SRC, DST, VEC), &a, T0);
            assert!(sent.recent(T0 + wrap, w));
            // In the window: kept.
            assert!(still_recent(&a.ctx(), sent, T0 + w));
            assert_eq!(a.sent(), sent);
            // Held out of it: forgotten, so that a wrap later nothing is.
            assert_eq!(ask(&a, true, T0 + 2 * w), None);
            assert_eq!(a.sent(), Sent::NONE);
            assert_eq!(ask(&a, true, T0 + wrap), None);
            // Found answered once, then held out of the window: forgotten.
            let sent = send(&ipi(SRC, DST, VEC), &a, T0);
            assert_eq!(ask(&a, false, T0 + 1024), None);
            assert!(a.sent().recorded() && a.sent() != sent);
            assert_eq!(ask(&a, true, T0 + 2 * w), None);
            assert_eq!(a.sent(), Sent::NONE);
            // An old IPI out of the window leaves the one sent since alone,
            // also one that differs from it in its send time only.
            let newer = send(&ipi(SRC, 7, VEC), &a, T0 + 3 * w);
            assert!(!still_recent(&a.ctx(), sent, T0 + 3 * w));
            assert_eq!(a.sent(), newer);
            assert_eq!(ask(&a, true, T0 + 3 * w), Some(7));
            let again = send(&ipi(SRC, DST, VEC), &a, T0 + 3 * w);
            assert!(!still_recent(&a.ctx(), sent, T0 + 3 * w));
            assert_eq!(a.sent(), again);
        });
    }

    /// An IPI is forgotten when two spins in a row find it answered: one
    /// that found the vector in neither register while the receiver was
    /// between them leaves it owed. A record sent since is kept.
    #[test]
    fn two_answers_in_a_row_forget_the_record() {
        let a = Slot::new();
        with_tracking(true, || {
            let first = send(&ipi(SRC, DST, VEC), &a, T0);
            assert!(outstanding(&a.ctx(), first, |_, _| true));
            assert_eq!(a.sent(), first);
            // Answered once, then held again: still the receiver.
            assert_eq!(ask(&a, false, T0 + 1024), None);
            assert!(a.sent().recorded() && a.sent() != first);
            assert_eq!(ask(&a, true, T0 + 2048), Some(DST as u32));
            assert_eq!(a.sent(), first);
            // Answered twice in a row: forgotten.
            assert_eq!(ask(&a, false, T0 + 3072), None);
            assert_eq!(ask(&a, false, T0 + 4096), None);
            assert_eq!(a.sent(), Sent::NONE);
            assert_eq!(ask(&a, true, T0 + 5120), None);
            // What a spin found about an IPI leaves the one sent since alone.
            let second = send(&ipi(SRC, 7, VEC), &a, T0 + 6144);
            let marked = first.with_answered(true);
            assert!(!outstanding(&a.ctx(), first, |_, _| false));
            assert!(!outstanding(&a.ctx(), marked, |_, _| false));
            assert!(outstanding(&a.ctx(), marked, |_, _| true));
            assert_eq!(a.sent(), second);
            assert_eq!(ask(&a, true, T0 + 7168), Some(7));
        });
    }

    #[test]
    fn window_bounds() {
        let w = IPI_WINDOW_NS_DEFAULT;
        let a = Slot::new();
        with_tracking(true, || {
            let s = send(&ipi(SRC, DST, VEC), &a, T0);
            assert!(s.recent(T0, w) && s.recent(T0 + w, w));
            assert_eq!(ask(&a, true, T0 + w), Some(DST as u32));
            // Judged to 1.024 µs: two units beyond the window is out.
            assert!(!s.recent(T0 + w + 2048, w));
            assert_eq!(ask(&a, true, T0 + w + 2048), None);
            // A window of whole units is exact.
            let w = 1024 * 1000;
            assert!(s.recent(T0 + w, w) && s.recent(T0 + w + 1023, w));
            assert!(!s.recent(T0 + w + 1024, w));
            // The smallest window is one unit, never empty.
            assert!(s.recent(T0 + 1023, IPI_WINDOW_NS_MIN));
            assert!(!s.recent(T0 + 2048, IPI_WINDOW_NS_MIN));
            // A clock read a little behind the send time is no time passed;
            // half the stamp's range later is long past, not behind.
            let skew = u64::from(SKEW_STAMPS) << STAMP_SHIFT;
            assert!(s.recent(T0 - 5000, IPI_WINDOW_NS_MIN));
            assert!(s.recent(T0 - skew, IPI_WINDOW_NS_MIN));
            assert!(!s.recent(T0 - skew - 2048, IPI_WINDOW_NS_MIN));
            let far = T0 + (((1u64 << 31) + 5) << STAMP_SHIFT);
            assert!(!s.recent(far, IPI_WINDOW_NS_MAX));
            // Across the stamp's wrap.
            let late = (u64::from(u32::MAX) << STAMP_SHIFT) + 7;
            let s = send(&ipi(SRC, DST, VEC), &a, late);
            assert!(s.recent(late + (4 << STAMP_SHIFT), IPI_WINDOW_NS_MIN * 5));
            assert!(!s.recent(late + w + (2 << STAMP_SHIFT), w));
        });
    }

    /// The hold's bound: the same stamps as the window, but a clock read
    /// behind the send time only up to the bound itself.
    #[test]
    fn hold_bounds() {
        let a = Slot::new();
        with_tracking(true, || {
            let s = send(&ipi(SRC, DST, VEC), &a, T0);
            let h = 50 * 1024;
            assert!(s.fresh(T0, h) && s.fresh(T0 + h, h) && s.fresh(T0 + h + 1023, h));
            assert!(!s.fresh(T0 + h + 1024, h));
            assert!(s.fresh(T0 - h, h) && !s.fresh(T0 - h - 1024, h));
            // Where the window's skew would still count as no time passed.
            let skew = u64::from(SKEW_STAMPS) << STAMP_SHIFT;
            assert!(s.recent(T0 - skew, h) && !s.fresh(T0 - skew, h));
            // A bound of 0 holds only within the send time's stamp.
            assert!(s.fresh(T0 + 1023, 0) && !s.fresh(T0 + 1024, 0));
            // Across the stamp's wrap.
            let late = (u64::from(u32::MAX) << STAMP_SHIFT) + 7;
            let s = send(&ipi(SRC, DST, VEC), &a, late);
            assert!(s.fresh(late + (4 << STAMP_SHIFT), h));
            assert!(!s.fresh(late + (60 << STAMP_SHIFT), h));
        });
    }

    #[test]
    fn reset_forgets_everything() {
        let a = Slot::new();
        with_tracking(true, || {
            send(&ipi(SRC, DST, VEC), &a, T0);
            assert!(a.ctx().halted_since_last_look(DST as u32, 7));
            a.ctx().reset();
            assert_eq!(a.sent(), Sent::NONE);
            assert_eq!(ask(&a, true, T0), None);
            assert!(a.ctx().halted_since_last_look(DST as u32, 7));
        });
    }

    #[test]
    fn halts_since_the_last_question_per_receiver() {
        let a = Slot::new();
        let ctx = a.ctx();
        // After a reset no receiver was looked at, vCPU 0 neither.
        assert!(ctx.halted_since_last_look(0, 0));
        assert!(!ctx.halted_since_last_look(0, 0));
        // A receiver first asked about counts as halted; then only a new
        // count does, however far it moved.
        assert!(ctx.halted_since_last_look(5, 40));
        assert!(!ctx.halted_since_last_look(5, 40));
        assert!(!ctx.halted_since_last_look(5, 40));
        assert!(ctx.halted_since_last_look(5, 41));
        assert!(!ctx.halted_since_last_look(5, 41));
        assert!(ctx.halted_since_last_look(5, u64::MAX));
        // Another receiver at the same count, then back: each change of
        // receiver counts as halted.
        assert!(ctx.halted_since_last_look(6, u64::MAX));
        assert!(ctx.halted_since_last_look(5, u64::MAX));
        // The highest index the record holds is its own receiver.
        assert!(ctx.halted_since_last_look(0xffff, 3));
        assert!(!ctx.halted_since_last_look(0xffff, 3));
        assert!(ctx.halted_since_last_look(0xfffe, 3));
        // The count is kept to 47 bits: counts apart by a multiple of
        // 2^47 are taken as equal, a false "not halted" after 2^47 halts.
        assert!(!ctx.halted_since_last_look(0xfffe, 3 + (1 << 47)));
        // Answers depend on the question alone, not on the IPI record.
        with_tracking(true, || {
            let sent = send(&ipi(SRC, DST, VEC), &a, T0);
            assert!(sent.recorded());
        });
        assert!(!ctx.halted_since_last_look(0xfffe, 3));
        // Nor do the questions touch the record.
        assert_eq!(a.sent().receiver(), DST as u32);
        assert_eq!(a.sent().vector(), VEC as u8);
    }

    /// Random deliveries (good and malformed), EOIs, resets and spins among
    /// four vCPUs, as a hostile guest may cause them, against a model: the
    /// answer is the receiver of the last well-formed IPI the spinner sent
    /// since its reset, exactly while that receiver's APIC still holds the
    /// vector and the IPI is in the window, until two spins in a row find
    /// it answered or one finds it held out of the window; tracking
    /// switched off now and then answers nothing and leaves the records as
    /// they are. The stored record is the model's after every step. The
    /// answer is never the spinner itself and always a vCPU of the VM.
    #[test]
    fn fuzz_against_a_model() {
        const NR: i32 = 4;
        let slots = [Slot::new(), Slot::new(), Slot::new(), Slot::new()];
        // Per vCPU: the last recorded (receiver, vector, send time, found
        // answered by the last spin).
        let mut model: [Option<(u32, u8, u64, bool)>; 4] = [None; 4];
        // Per vCPU: the vectors its APIC holds (IRR or ISR), 0x20..0x28.
        let mut held = [0u8; 4];
        let mut rng = 0x9e37_79b9_7f4a_7c15u64;
        let mut now = T0;
        let w = IPI_WINDOW_NS_DEFAULT;
        with_tracking(true, || {
            for _ in 0..300_000 {
                let r = next(&mut rng);
                now = now.wrapping_add((r >> 40) % 2_000_000);
                let (a, b) = (((r >> 8) % 4) as usize, ((r >> 12) % 4) as usize);
                let (Some(sa), Some(m)) = (slots.get(a), model.get_mut(a)) else {
                    continue;
                };
                let bit = ((r >> 24) % 8) as u8;
                let vector = 0x20 + u32::from(bit);
                // Now and then tracking switches: while it is off nothing is
                // recorded, asked, marked or forgotten.
                if r >> 58 == 0 {
                    TRACKING_ENABLED.store(!TRACKING_ENABLED.load(Relaxed), Relaxed);
                }
                let on = TRACKING_ENABLED.load(Relaxed);
                match r % 4 {
                    0 | 1 => {
                        let mut d = ipi(a as i32, b as i32, vector);
                        d.targets = if r & (1 << 20) != 0 { 2 } else { 1 };
                        d.fixed = r & (1 << 21) == 0;
                        d.shorthand = r & (1 << 22) != 0 && r & (1 << 23) != 0;
                        let good = d.targets == 1 && d.fixed && !d.shorthand && a != b;
                        let sent = send(&d, sa, now);
                        assert_eq!(sent.recorded(), good && on);
                        if good {
                            if on {
                                *m = Some((b as u32, vector as u8, now, false));
                            }
                            if let Some(h) = held.get_mut(b) {
                                *h |= 1 << bit;
                            }
                        }
                    }
                    2 if r & (1 << 40) != 0 => {
                        sa.ctx().reset();
                        *m = None;
                    }
                    2 => {
                        // vCPU b EOIs a vector.
                        if let Some(h) = held.get_mut(b) {
                            *h &= !(1 << bit);
                        }
                    }
                    _ => {
                        let holds = |rcv: u32, v: u8| {
                            let i = usize::try_from(rcv).unwrap_or(usize::MAX);
                            let h = held.get(i).copied().unwrap_or(0);
                            v.checked_sub(0x20)
                                .is_some_and(|s| s < 8 && h & (1 << s) != 0)
                        };
                        let got = pending_receiver(&sa.ctx(), holds, || now);
                        let want = m.filter(|_| on).and_then(|(rcv, v, t, _)| {
                            let age = now.wrapping_sub(t);
                            (holds(rcv, v) && age <= w + 2048).then_some((rcv, age))
                        });
                        // Found answered: marked, and forgotten the second
                        // time in a row; found held: unmarked, or forgotten
                        // out of the window (within two stamps of its end as
                        // the answer says).
                        if let Some((rcv, v, t, answered)) = m.filter(|_| on) {
                            let held = holds(rcv, v);
                            let age = now.wrapping_sub(t);
                            let late = held && age > w && (age > w + 2048 || got.is_none());
                            *m = (!late && (held || !answered)).then_some((rcv, v, t, !held));
                        }
                        // The record is the model's: forgotten, marked and
                        // unmarked exactly as it says.
                        let kept = sa.sent();
                        match *m {
                            Some((rcv, v, t, answered)) => {
                                assert!(kept.recorded() && kept.answered() == answered);
                                assert_eq!((kept.receiver(), kept.vector()), (rcv, v));
                                assert_eq!(kept.0 as u32, stamp(t));
                            }
                            None => assert_eq!(kept, Sent::NONE),
                        }
                        match (got, want) {
                            (Some(x), Some((rcv, _))) => assert_eq!(x, rcv),
                            // Within two stamps of the window's end either
                            // answer is right.
                            (None, Some((_, age))) => assert!(age > w),
                            (got, None) => assert_eq!(got, None),
                        }
                        if let Some(x) = got {
                            assert!(x < NR as u32 && x != a as u32);
                        }
                    }
                }
            }
        });
    }
}
