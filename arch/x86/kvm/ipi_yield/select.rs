// SPDX-License-Identifier: GPL-2.0

//! The steps IPI-aware directed yield adds around mainline's round-robin
//! scan in `kvm_vcpu_on_spin()`, which stays in C as it is.
//!
//! First, [`hold_for_receiver`] keeps the spinner on its CPU while the
//! receiver of the IPI it sent last, a moment ago, runs: the answer is on
//! its way, and no yield can bring it sooner: for `ipi_hold_ns` after the
//! IPI, the spin yields to nobody. Otherwise, before the scan,
//! [`receiver_first`] tries the receiver of the spinner's pending IPI when
//! it was preempted on the spinner's CPU, not in a spin of its own, and has
//! not halted since the spinner last looked; the scan then skips it, so
//! that its eligibility toggles once, as in mainline. After a scan that
//! yielded to nobody, [`relaxed_round`] tries the vCPUs the scan passed
//! over only for being preempted in user mode. Both spend mainline's
//! budget of failed yields. None makes a spin yield to nobody where
//! mainline would have yielded, but the hold, for at most `ipi_hold_ns`
//! after each IPI, and a failed yield to the receiver spending that budget.
//! They reach the vCPUs through the [`Vcpus`] trait:
//! the crate root implements it over `kvm_main.c`'s accessors, the tests
//! over a fake VM that logs every question asked.

use kernel::bindings;

/// A VM's vCPUs, as directed yield sees them. Indices are `vcpu_idx`
/// values below the VM's number of online vCPUs.
pub(crate) trait Vcpus {
    /// What is known about the vCPU at `idx`; `None` when there is none.
    fn facts(&mut self, idx: u32) -> Option<bindings::kvm_dy_facts>;
    /// Mainline's in-spin-loop eligibility, which toggles on every call.
    fn eligible(&mut self, idx: u32) -> bool;
    /// Whether the vCPU at `idx` runs: on a host CPU inside `KVM_RUN` (in
    /// the guest, handling an exit, or halt-polling).
    fn running(&mut self, idx: u32) -> bool;
    /// `kvm_vcpu_yield_to()`: > 0 yielded, 0 not, < 0 failed. With
    /// `ipi_receiver`, the scheduler is told that the target owes the
    /// spinner an IPI's answer (`YIELD_TO_IPI_RECEIVER`).
    fn yield_to(&mut self, idx: u32, ipi_receiver: bool) -> i32;
}

/// The spinner and its VM, for one spin.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Spinner {
    /// The spinning vCPU.
    pub(crate) me: u32,
    /// Online vCPUs of the VM.
    pub(crate) nr: u32,
}

impl Spinner {
    /// Another vCPU of the VM: one a step may ask about.
    fn other(&self, idx: u32) -> bool {
        idx < self.nr && idx != self.me
    }
}

/// Before the other steps: whether the spinner keeps its CPU, yielding to
/// nobody. It does when the hold is `on` (`ipi_hold_ns` above 0), the
/// `receiver` of the IPI it sent last is another vCPU of this VM that
/// runs, and the IPI is `fresh`, sent at most `ipi_hold_ns` ago (the
/// clock, read only for a receiver that runs). Such
/// a receiver takes the IPI, or already handles it, without help; a yield
/// could only hand the spinner's CPU to a third vCPU until that one hands
/// it back, while the answer arrives. The bound keeps a spinner that waits
/// for something else, a lock whose holder was preempted, from holding
/// longer than that after each IPI it sends; then mainline's scan decides.
pub(crate) fn hold_for_receiver<V: Vcpus>(
    vcpus: &mut V,
    s: &Spinner,
    receiver: u32,
    on: bool,
    fresh: impl FnOnce(&mut V) -> bool,
) -> bool {
    on && s.other(receiver) && vcpus.running(receiver) && fresh(vcpus)
}

/// What [`receiver_first`] did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum First {
    /// Left the receiver to the scan.
    NotTried,
    /// Tried it without a yield: the scan must skip it.
    Tried,
    /// Yielded to it.
    Yielded,
}

/// Mainline's first filters: the candidate exists, is ready, and is not
/// blocking without being runnable.
fn usable(f: Option<bindings::kvm_dy_facts>) -> Option<bindings::kvm_dy_facts> {
    f.filter(|f| f.ready && !f.blocked)
}

/// Mainline's last steps: the eligibility toggle, then the yield; a failed
/// yield spends one of `tries`. Whether it yielded.
fn attempt<V: Vcpus>(vcpus: &mut V, idx: u32, tries: &mut u32, ipi_receiver: bool) -> bool {
    if !vcpus.eligible(idx) {
        return false;
    }
    let yielded = vcpus.yield_to(idx, ipi_receiver);
    if yielded < 0 {
        *tries = tries.saturating_sub(1);
    }
    yielded > 0
}

/// Before the scan: the receiver of the spinner's last IPI, when it is another
/// vCPU of this VM that has not answered it yet (`held`: its APIC still holds
/// the vector), passes mainline's filters, was preempted, last ran on this CPU,
/// and got the IPI inside the window (`recent`: the clock, read after its
/// state). Most spins come long after their last IPI was answered, so the APIC
/// is asked first. A receiver that last ran on another CPU (and so most likely
/// waits there) is left to the scan: a yield cannot make another runqueue run
/// it, and the spinner would give its own CPU away for nothing. So is one
/// preempted while it yielded from a spin of its own: it waits for something
/// too, perhaps with interrupts off, and mainline's eligibility, which gives
/// such a vCPU every other turn, already rations it. So is one that the IPI
/// woke from a halt and that has not run since: the scheduler's wakeup already
/// decides when it runs, and yielding to it first bought nothing measurable.
/// So, last, is one that has halted since the spinner last asked about it
/// (`quiet`, which records what it read, is false): a receiver that halts
/// between IPIs hands the CPU back by itself once it has answered, and the
/// priority would only let the spinner come back and preempt it between its
/// answer and its halt.
pub(crate) fn receiver_first<V: Vcpus>(
    vcpus: &mut V,
    s: &Spinner,
    receiver: u32,
    held: impl FnOnce(&mut V) -> bool,
    recent: impl FnOnce(&mut V) -> bool,
    quiet: impl FnOnce(&mut V) -> bool,
    tries: &mut u32,
) -> First {
    if !s.other(receiver) || *tries == 0 || !held(vcpus) {
        return First::NotTried;
    }
    match usable(vcpus.facts(receiver)) {
        Some(f) if f.preempted && !f.other_cpu && !f.spinning => {}
        _ => return First::NotTried,
    }
    if !recent(vcpus) || !quiet(vcpus) {
        return First::NotTried;
    }
    if attempt(vcpus, receiver, tries, true) {
        First::Yielded
    } else {
        First::Tried
    }
}

/// After a scan that yielded to nobody: the vCPUs it `passed` over only for
/// being preempted in user mode, in scan order, while they are still
/// usable, until one takes the CPU or `tries` run out. Whom it yielded to.
pub(crate) fn relaxed_round<V: Vcpus>(
    vcpus: &mut V,
    s: &Spinner,
    passed: impl IntoIterator<Item = u32>,
    tries: &mut u32,
) -> Option<u32> {
    for idx in passed {
        if *tries == 0 {
            break;
        }
        if !s.other(idx) || usable(vcpus.facts(idx)).is_none() {
            continue;
        }
        if attempt(vcpus, idx, tries, false) {
            return Some(idx);
        }
    }
    None
}

#[cfg(CONFIG_VCPU_BOOST_KUNIT_TEST)]
#[kernel::macros::kunit_tests(vcpu_boost_kvm_vcpu_select)]
mod tests {
    use super::*;
    use crate::testing::next;

    const N: usize = 12;
    const LOG: usize = 96;

    /// Mainline's budget of failed yields, as `kvm_vcpu_on_spin()` sets it.
    const YIELD_TRIES: u32 = 3;
    /// The most vCPUs the relaxed round tries, as `kvm_dy_on_spin()` collects them.
    const RELAXED_MAX: usize = bindings::KVM_DY_RELAXED_MAX as usize;

    /// How a spin chose the vCPU it yielded to, as `kvm_dy_on_spin()` counts it.
    #[derive(Clone, Copy, Debug, PartialEq, Eq)]
    enum Tier {
        None,
        Held,
        IpiReceiver,
        PendingIrq,
        Mainline,
        Relaxed,
    }

    /// One fake vCPU.
    #[derive(Clone, Copy, PartialEq, Eq, Debug)]
    struct Fake {
        ready: bool,
        blocked: bool,
        preempted: bool,
        pending_interrupt: bool,
        in_kernel: bool,
        /// What the next eligibility check answers.
        eligible: bool,
        /// In a spin loop of its own (`in_spin_loop`): the answer toggles
        /// on every check, as mainline's
        /// `kvm_vcpu_eligible_for_directed_yield()` toggles `dy_eligible`,
        /// and step 1 leaves it to the scan.
        spinning: bool,
        /// Last ran on another host CPU than the spinner.
        other_cpu: bool,
        /// Halted since the spinner last asked about it.
        halted: bool,
        /// On a host CPU inside `KVM_RUN`.
        running: bool,
        yield_result: i32,
    }

    /// A runnable vCPU preempted in user mode: the relaxed round's material
    /// when the spinner asks for kernel mode.
    const USER: Fake = Fake {
        ready: true,
        blocked: false,
        preempted: true,
        pending_interrupt: false,
        in_kernel: false,
        eligible: true,
        spinning: false,
        other_cpu: false,
        halted: false,
        running: false,
        yield_result: 1,
    };

    impl Fake {
        /// Whether step 1 leaves it to the scan for its own state, whatever
        /// the IPI: not preempted, on another CPU, in a spin of its own, or
        /// halted since the last look.
        fn left_to_the_scan(&self) -> bool {
            !self.preempted || self.other_cpu || self.spinning || self.halted
        }
    }

    /// A question asked about a vCPU: `Facts` stands for mainline's reads
    /// of `ready`, blocking, `preempted` and pending interrupts, and for
    /// `kvm_dy_facts()`; `Held` for the read of the receiver's APIC,
    /// `Clock` for the tracker's window and `Halts` for the receiver's halt
    /// count against the spinner's last look, `Running` for whether it runs
    /// and `Fresh` for the clock against `ipi_hold_ns`, asked about the
    /// receiver.
    #[derive(Clone, Copy, PartialEq, Eq, Debug)]
    enum Ask {
        Facts,
        InKernel,
        Eligible,
        Yield,
        Held,
        Clock,
        Halts,
        Running,
        Fresh,
    }

    /// Fake vCPUs; logs every question asked, in order.
    #[derive(Clone)]
    struct FakeVm {
        vcpus: [Fake; N],
        log: [(Ask, u32); LOG],
        len: usize,
        /// Yields that told the scheduler the target owes an IPI's answer.
        ipi_yields: usize,
    }

    impl FakeVm {
        fn new() -> Self {
            FakeVm {
                vcpus: [USER; N],
                log: [(Ask::Facts, 0); LOG],
                len: 0,
                ipi_yields: 0,
            }
        }
        fn get(&self, idx: u32) -> Option<&Fake> {
            self.vcpus.get(usize::try_from(idx).ok()?)
        }
        fn note(&mut self, ask: Ask, idx: u32) {
            if let Some(slot) = self.log.get_mut(self.len) {
                *slot = (ask, idx);
            }
            self.len += 1;
        }
        fn asked(&self) -> &[(Ask, u32)] {
            self.log.get(..self.len).unwrap_or(&self.log)
        }
        /// The vCPUs asked to take the CPU, in order.
        fn yields(&self) -> impl Iterator<Item = u32> + '_ {
            self.asked()
                .iter()
                .filter(|a| a.0 == Ask::Yield)
                .map(|a| a.1)
        }
        fn count(&self, ask: Ask, idx: u32) -> usize {
            self.asked().iter().filter(|&&a| a == (ask, idx)).count()
        }
        /// Mainline's reads about a candidate in its scan.
        fn scan_facts(&mut self, idx: u32) -> Option<Fake> {
            self.note(Ask::Facts, idx);
            self.get(idx).copied()
        }
        fn in_kernel(&mut self, idx: u32) -> bool {
            self.note(Ask::InKernel, idx);
            self.get(idx).is_some_and(|v| v.in_kernel)
        }
    }

    impl Vcpus for FakeVm {
        fn facts(&mut self, idx: u32) -> Option<bindings::kvm_dy_facts> {
            self.note(Ask::Facts, idx);
            self.get(idx).map(|v| bindings::kvm_dy_facts {
                ready: v.ready,
                blocked: v.blocked,
                preempted: v.preempted,
                other_cpu: v.other_cpu,
                spinning: v.spinning,
            })
        }
        fn eligible(&mut self, idx: u32) -> bool {
            self.note(Ask::Eligible, idx);
            let Some(v) = usize::try_from(idx)
                .ok()
                .and_then(|i| self.vcpus.get_mut(i))
            else {
                return false;
            };
            let e = v.eligible;
            if v.spinning {
                v.eligible = !e;
            }
            e
        }
        fn running(&mut self, idx: u32) -> bool {
            self.note(Ask::Running, idx);
            self.get(idx).is_some_and(|v| v.running)
        }
        fn yield_to(&mut self, idx: u32, ipi_receiver: bool) -> i32 {
            self.note(Ask::Yield, idx);
            self.ipi_yields += usize::from(ipi_receiver);
            self.get(idx).map_or(0, |v| v.yield_result)
        }
    }

    /// One spin of one vCPU.
    #[derive(Clone, Copy, Debug)]
    struct Spin {
        me: u32,
        nr: u32,
        /// Where the scan starts, before wrapping (any value).
        start: u32,
        /// Receiver of the spinner's last IPI.
        receiver: Option<u32>,
        /// Whether its APIC still holds the IPI's vector.
        held: bool,
        /// Whether the IPI is inside the window.
        recent: bool,
        /// Whether the hold is on (`ipi_hold_ns` above 0).
        hold: bool,
        /// Whether it was sent at most `ipi_hold_ns` ago.
        fresh: bool,
        kernel_mode: bool,
        relaxed: bool,
    }

    impl Spin {
        fn spinner(&self) -> Spinner {
            Spinner {
                me: self.me,
                nr: self.nr,
            }
        }
    }

    /// What the scan passed over for the relaxed round, as `struct
    /// kvm_dy_spin` collects it.
    struct Passed {
        idx: [u32; RELAXED_MAX],
        len: usize,
    }

    impl Passed {
        fn as_slice(&self) -> &[u32] {
            self.idx.get(..self.len).unwrap_or(&[])
        }
    }

    /// `kvm_vcpu_dy_scan()`: mainline's loop in `kvm_vcpu_on_spin()`,
    /// statement for statement, over the same questions, with the hooks
    /// of IPI-aware directed yield when `skip` and `passed` are given.
    /// The target it yielded to.
    fn scan(
        v: &mut FakeVm,
        s: &Spin,
        tries: &mut u32,
        skip: Option<u32>,
        mut passed: Option<&mut Passed>,
    ) -> Option<u32> {
        // Mainline's start is the last boosted vCPU plus one, below `nr`.
        let start = s.start % s.nr;
        for i in 0..s.nr {
            let idx = (start + i) % s.nr;
            if idx == s.me || Some(idx) == skip {
                continue;
            }
            let Some(f) = v.scan_facts(idx) else { continue };
            if !f.ready {
                continue;
            }
            if f.blocked {
                continue;
            }
            if f.preempted && s.kernel_mode && !f.pending_interrupt && !v.in_kernel(idx) {
                if let Some(p) = passed.as_deref_mut() {
                    if let Some(slot) = p.idx.get_mut(p.len) {
                        *slot = idx;
                        p.len += 1;
                    }
                }
                continue;
            }
            if !v.eligible(idx) {
                continue;
            }
            let yielded = v.yield_to(idx, false);
            if yielded > 0 {
                return Some(idx);
            } else if yielded < 0 {
                *tries -= 1;
                if *tries == 0 {
                    break;
                }
            }
        }
        None
    }

    /// Mainline's loop in `kvm_vcpu_on_spin()`, statement for statement,
    /// transcribed apart from [`scan`]: the target it yielded to.
    fn mainline(v: &mut FakeVm, s: &Spin) -> Option<u32> {
        if s.nr < 2 {
            return None;
        }
        let mut tries = YIELD_TRIES;
        let start = s.start % s.nr;
        for i in 0..s.nr {
            let idx = (start + i) % s.nr;
            if idx == s.me {
                continue;
            }
            let Some(f) = v.scan_facts(idx) else { continue };
            if !f.ready {
                continue;
            }
            if f.blocked {
                continue;
            }
            if f.preempted && s.kernel_mode && !f.pending_interrupt && !v.in_kernel(idx) {
                continue;
            }
            if !v.eligible(idx) {
                continue;
            }
            let yielded = v.yield_to(idx, false);
            if yielded > 0 {
                return Some(idx);
            } else if yielded < 0 {
                tries -= 1;
                if tries == 0 {
                    break;
                }
            }
        }
        None
    }

    /// An answer about receiver `idx` (`Held`: its APIC; `Clock`: the
    /// window): `answer` while the vCPU exists (the APIC of a missing one
    /// holds nothing), the question logged.
    fn ask(what: Ask, idx: u32, answer: bool) -> impl FnOnce(&mut FakeVm) -> bool {
        move |v| {
            v.note(what, idx);
            answer && v.get(idx).is_some()
        }
    }

    /// Whether receiver `idx` has not halted since the spinner last asked
    /// (its `halted`), the question logged.
    fn quiet(idx: u32) -> impl FnOnce(&mut FakeVm) -> bool {
        move |v| {
            v.note(Ask::Halts, idx);
            v.get(idx).is_some_and(|f| !f.halted)
        }
    }

    /// [`receiver_first`] for a receiver `r` that still owes the answer
    /// inside the window, every question logged.
    fn first_owed(vm: &mut FakeVm, s: &Spinner, r: u32, tries: &mut u32) -> First {
        receiver_first(
            vm,
            s,
            r,
            ask(Ask::Held, r, true),
            ask(Ask::Clock, r, true),
            quiet(r),
            tries,
        )
    }

    /// `kvm_vcpu_on_spin()` with IPI-aware directed yield
    /// (`kvm_dy_on_spin()`): the hold, the receiver first, the scan, the
    /// relaxed round. The tier and the target (0 with [`Tier::None`] and
    /// [`Tier::Held`]).
    fn select(v: &mut FakeVm, s: &Spin) -> (Tier, u32) {
        const NONE: (Tier, u32) = (Tier::None, 0);
        if s.nr < 2 {
            return NONE;
        }
        let mut tries = YIELD_TRIES;
        let mut skip = None;
        if let Some(r) = s.receiver {
            if hold_for_receiver(v, &s.spinner(), r, s.hold, ask(Ask::Fresh, r, s.fresh)) {
                return (Tier::Held, 0);
            }
            let (held, recent) = (ask(Ask::Held, r, s.held), ask(Ask::Clock, r, s.recent));
            match receiver_first(v, &s.spinner(), r, held, recent, quiet(r), &mut tries) {
                First::Yielded => return (Tier::IpiReceiver, r),
                First::Tried => skip = Some(r),
                First::NotTried => {}
            }
        }
        if tries == 0 {
            return NONE;
        }
        let mut passed = Passed {
            idx: [0; RELAXED_MAX],
            len: 0,
        };
        if let Some(t) = scan(v, s, &mut tries, skip, Some(&mut passed)) {
            let pending = v.get(t).is_some_and(|f| f.pending_interrupt);
            return (
                if pending {
                    Tier::PendingIrq
                } else {
                    Tier::Mainline
                },
                t,
            );
        }
        if s.relaxed && tries > 0 && passed.len > 0 {
            if let Some(t) = relaxed_round(
                v,
                &s.spinner(),
                passed.as_slice().iter().copied(),
                &mut tries,
            ) {
                return (Tier::Relaxed, t);
            }
        }
        NONE
    }

    /// vCPU 0 spins in kernel mode among 8, the scan starts at vCPU 1, the
    /// relaxed round is allowed.
    fn spin(receiver: Option<u32>) -> Spin {
        Spin {
            me: 0,
            nr: 8,
            start: 1,
            receiver,
            held: true,
            recent: true,
            hold: true,
            fresh: true,
            kernel_mode: true,
            relaxed: true,
        }
    }

    /// vCPU 3 preempted in kernel mode (a lock holder, say) and vCPU 6, the
    /// IPI receiver, in kernel mode too, then changed by `spoil`.
    fn holder_and_receiver(spoil: fn(&mut Fake)) -> FakeVm {
        let mut vm = FakeVm::new();
        vm.vcpus[3].in_kernel = true;
        vm.vcpus[6].in_kernel = true;
        spoil(&mut vm.vcpus[6]);
        vm
    }

    #[test]
    fn receiver_first_then_mainline_scan() {
        let mut vm = FakeVm::new();
        vm.vcpus[2].in_kernel = true;
        vm.vcpus[4].pending_interrupt = true;

        // vCPU 6, the receiver of the pending IPI, comes last in scan order;
        // the scheduler is told why it gets the CPU.
        assert_eq!(select(&mut vm, &spin(Some(6))), (Tier::IpiReceiver, 6));
        assert_eq!(vm.ipi_yields, 1);
        // Without one, mainline's order: vCPU 1 is preempted in user mode,
        // vCPU 2 in kernel mode.
        assert_eq!(select(&mut vm, &spin(None)), (Tier::Mainline, 2));
        // A pending interrupt counts as kernel mode, in scan order.
        vm.vcpus[1].pending_interrupt = true;
        assert_eq!(select(&mut vm, &spin(None)), (Tier::PendingIrq, 1));
        vm.vcpus[1].pending_interrupt = false;
        // The scan starts after the last boosted vCPU, and wraps.
        let mut s = spin(None);
        s.start = 5;
        vm.vcpus[4].pending_interrupt = false;
        assert_eq!(select(&mut vm, &s), (Tier::Mainline, 2));
        s.start = 13; // 13 % 8 == 5
        assert_eq!(select(&mut vm, &s), (Tier::Mainline, 2));
    }

    #[test]
    fn receiver_that_cannot_take_the_cpu_leaves_the_scan_to_mainline() {
        // Running (not ready), yield_to() fails or does not take, or not
        // eligible: the scan goes on as mainline's, and vCPU 3, preempted in
        // kernel mode (the lock holder, say), gets the CPU.
        type Spoil = fn(&mut Fake);
        let spoils: [Spoil; 4] = [
            |v| v.ready = false,
            |v| v.yield_result = -1,
            |v| v.yield_result = 0,
            |v| v.eligible = false,
        ];
        for spoil in spoils {
            let mut vm = holder_and_receiver(spoil);
            assert_eq!(select(&mut vm, &spin(Some(6))), (Tier::Mainline, 3));
            assert_eq!(vm.yields().last(), Some(3));
            assert!(vm.yields().all(|i| i == 6 || i == 3) && vm.yields().count() <= 2);
            assert!(vm.count(Ask::Eligible, 6) <= 1);
        }
        // Tried first, the receiver is not asked again by the scan.
        let mut vm = FakeVm::new();
        for v in vm.vcpus.iter_mut() {
            v.ready = false;
        }
        vm.vcpus[6] = Fake {
            in_kernel: true,
            eligible: false,
            ..USER
        };
        assert_eq!(select(&mut vm, &spin(Some(6))), (Tier::None, 0));
        assert_eq!(vm.count(Ask::Eligible, 6), 1);
    }

    /// The receiver's APIC is asked first, its state next, the clock then
    /// and its halts last, only of one that could take the CPU; an IPI that
    /// was answered or is out of the window, or a receiver that halted
    /// since the last look, leaves the receiver to the scan as if nothing
    /// were pending: its eligibility is not asked, so the scan does not skip
    /// it.
    #[test]
    fn apic_then_state_then_clock_then_halts() {
        let s = Spinner { me: 0, nr: 8 };
        let mut tries = YIELD_TRIES;
        let mut first = |vm: &mut FakeVm, held: bool, recent: bool| {
            let (h, c) = (ask(Ask::Held, 6, held), ask(Ask::Clock, 6, recent));
            receiver_first(vm, &s, 6, h, c, quiet(6), &mut tries)
        };
        let (held, facts, clock) = ((Ask::Held, 6), (Ask::Facts, 6), (Ask::Clock, 6));
        let halts = (Ask::Halts, 6);
        let mut vm = holder_and_receiver(|_| {});
        assert_eq!(first(&mut vm, false, true), First::NotTried);
        assert_eq!(vm.asked(), [held]);
        let mut vm = holder_and_receiver(|_| {});
        assert_eq!(first(&mut vm, true, false), First::NotTried);
        assert_eq!(vm.asked(), [held, facts, clock]);
        let mut vm = holder_and_receiver(|v| v.halted = true);
        assert_eq!(first(&mut vm, true, true), First::NotTried);
        assert_eq!(vm.asked(), [held, facts, clock, halts]);
        let mut vm = holder_and_receiver(|_| {});
        assert_eq!(first(&mut vm, true, true), First::Yielded);
        assert_eq!(
            vm.asked(),
            [
                held,
                facts,
                clock,
                halts,
                (Ask::Eligible, 6),
                (Ask::Yield, 6)
            ]
        );
        type Spoil = fn(&mut Fake);
        let spoils: [Spoil; 5] = [
            |v| v.preempted = false,
            |v| v.other_cpu = true,
            |v| v.spinning = true,
            |v| v.ready = false,
            |v| v.blocked = true,
        ];
        for spoil in spoils {
            let mut vm = holder_and_receiver(spoil);
            assert_eq!(first(&mut vm, true, true), First::NotTried);
            assert_eq!(vm.asked(), [held, facts]);
        }
        assert_eq!(tries, YIELD_TRIES);
    }

    /// vCPU 6, the receiver, made by `spoil` one that step 1 leaves to the
    /// scan: not tried first, so the scan from vCPU 3 yields there before it
    /// reaches vCPU 6; from vCPU 4 the scan reaches it, reads it again, as
    /// mainline reads it, and asks its eligibility once. Returns the VM and
    /// the spin from vCPU 4.
    fn left_to_the_scan(spoil: fn(&mut Fake)) -> (FakeVm, Spin) {
        let mut vm = holder_and_receiver(spoil);
        let mut s = spin(Some(6));
        s.start = 3;
        assert_eq!(select(&mut vm, &s), (Tier::Mainline, 3));
        assert_eq!(vm.count(Ask::Eligible, 6), 0);
        assert_eq!(vm.count(Ask::Yield, 6), 0);
        vm.len = 0;
        s.start = 4;
        assert_eq!(select(&mut vm, &s), (Tier::Mainline, 6));
        assert_eq!(vm.count(Ask::Facts, 6), 2);
        assert_eq!(vm.count(Ask::Eligible, 6), 1);
        assert_eq!(vm.ipi_yields, 0);
        (vm, s)
    }

    #[test]
    fn receiver_on_another_cpu_is_left_to_the_scan() {
        // Ready, eligible, but last ran on another CPU.
        let (mut vm, s) = left_to_the_scan(|v| v.other_cpu = true);
        vm.len = 0;
        vm.vcpus[4].in_kernel = true;
        vm.vcpus[4].yield_result = 0;
        assert_eq!(select(&mut vm, &s), (Tier::Mainline, 6));
        assert!(vm.yields().eq([4, 6]));
        // Alone in the VM but for the spinner, the scan still takes it, as
        // mainline would, with its eligibility asked once.
        let mut vm = FakeVm::new();
        for v in vm.vcpus.iter_mut() {
            v.ready = false;
        }
        vm.vcpus[6] = Fake {
            other_cpu: true,
            ..USER
        };
        vm.vcpus[6].in_kernel = true;
        assert_eq!(select(&mut vm, &spin(Some(6))), (Tier::Mainline, 6));
        assert_eq!(vm.count(Ask::Eligible, 6), 1);
        assert_eq!(vm.count(Ask::Facts, 6), 2);
    }

    #[test]
    fn running_receiver_holds_the_spin_only_while_fresh() {
        // The receiver runs, here or on another CPU, and the IPI is fresh:
        // the spinner keeps its CPU, asking nothing more and yielding to
        // nobody, not even to vCPU 3, preempted in kernel mode.
        for other_cpu in [false, true] {
            let runs = |v: &mut Fake| {
                v.ready = false;
                v.preempted = false;
                v.running = true;
            };
            let mut vm = holder_and_receiver(runs);
            vm.vcpus[6].other_cpu = other_cpu;
            assert_eq!(select(&mut vm, &spin(Some(6))), (Tier::Held, 0));
            assert_eq!(vm.asked(), [(Ask::Running, 6), (Ask::Fresh, 6)]);
            // Once the IPI is older than ipi_hold_ns, the spinner yields
            // where mainline would; with the hold off it asks nothing of
            // it first.
            for off in [false, true] {
                let mut vm = holder_and_receiver(runs);
                vm.vcpus[6].other_cpu = other_cpu;
                let mut s = spin(Some(6));
                s.fresh = false;
                s.hold = !off;
                assert_eq!(select(&mut vm, &s), (Tier::Mainline, 3));
                assert_eq!(vm.count(Ask::Running, 6), usize::from(!off));
                assert_eq!(vm.count(Ask::Eligible, 6), 0);
                assert!(vm.yields().eq([3]));
            }
        }
        // A receiver that does not run (preempted, woken, halted or outside
        // KVM_RUN) never holds the spin, and the clock is not read for it.
        let mut vm = holder_and_receiver(|v| v.ready = false);
        assert_eq!(select(&mut vm, &spin(Some(6))), (Tier::Mainline, 3));
        assert_eq!(vm.count(Ask::Fresh, 6), 0);
        // Nor does the spinner itself, or a vCPU the VM does not have.
        for r in [0, 8, u32::MAX] {
            let mut vm = FakeVm::new();
            for v in vm.vcpus.iter_mut() {
                v.running = true;
            }
            vm.vcpus[3].in_kernel = true;
            assert_eq!(select(&mut vm, &spin(Some(r))), (Tier::Mainline, 3));
            assert_eq!(vm.count(Ask::Running, r), 0);
        }
        // Preempted (ready) on this CPU, but the yield does not take (0) or
        // fails (-1, tries left): the scan goes on to vCPU 3.
        for result in [0, -1] {
            let mut vm = FakeVm::new();
            vm.vcpus[3].in_kernel = true;
            vm.vcpus[6].yield_result = result;
            assert_eq!(select(&mut vm, &spin(Some(6))), (Tier::Mainline, 3));
            assert!(vm.yields().eq([6, 3]));
            assert_eq!(vm.count(Ask::Eligible, 6), 1);
        }
    }

    #[test]
    fn receiver_keeps_mainline_filters() {
        type Spoil = fn(&mut Fake);
        let spoils: [Spoil; 2] = [
            |v| {
                v.ready = false;
                v.blocked = true;
            },
            |v| v.blocked = true,
        ];
        for spoil in spoils {
            let mut vm = holder_and_receiver(spoil);
            assert_eq!(select(&mut vm, &spin(Some(6))), (Tier::Mainline, 3));
            assert_eq!(vm.count(Ask::Eligible, 6), 0);
        }
        // A receiver that is the spinner itself, or no vCPU of the VM, is ignored.
        let mut vm = FakeVm::new();
        vm.vcpus[3].in_kernel = true;
        for r in [0, 8, 11, u32::MAX] {
            assert_eq!(select(&mut vm, &spin(Some(r))), (Tier::Mainline, 3));
        }
        assert!(vm.yields().all(|i| i == 3));
    }

    #[test]
    fn relaxed_round_only_after_an_empty_scan() {
        // Everybody preempted in user mode: the scan finds nobody.
        let mut vm = FakeVm::new();
        assert_eq!(select(&mut vm, &spin(None)), (Tier::Relaxed, 1));
        assert_eq!(vm.ipi_yields, 0);
        // Not ready: nobody for the relaxed round either.
        let mut vm = FakeVm::new();
        for v in vm.vcpus.iter_mut() {
            v.ready = false;
        }
        assert_eq!(select(&mut vm, &spin(None)), (Tier::None, 0));
        assert_eq!(vm.yields().count(), 0);
        // A user-mode spin passes the gate in the scan already.
        let mut vm = FakeVm::new();
        let mut s = spin(None);
        s.kernel_mode = false;
        assert_eq!(select(&mut vm, &s), (Tier::Mainline, 1));
    }

    #[test]
    fn relaxed_round_tries_only_what_the_gate_kept_out() {
        // vCPU 2 passes the gate but is not eligible; vCPUs 1, 3.. are
        // preempted in user mode, and only vCPU 5 is eligible. The relaxed
        // round asks 1, 3, 4 and 5, never 2 again.
        let mut vm = FakeVm::new();
        for v in vm.vcpus.iter_mut() {
            v.eligible = false;
            v.spinning = true;
        }
        vm.vcpus[2].in_kernel = true;
        vm.vcpus[5].eligible = true;
        assert_eq!(select(&mut vm, &spin(None)), (Tier::Relaxed, 5));
        for i in 1..8 {
            assert_eq!(vm.count(Ask::Eligible, i), usize::from(i <= 5));
        }
        // It tries the first RELAXED_MAX of them in scan order, no more.
        let mut vm = FakeVm::new();
        for v in vm.vcpus.iter_mut() {
            v.eligible = false;
        }
        vm.vcpus[N - 1].eligible = true;
        let mut s = spin(None);
        s.nr = N as u32;
        assert_eq!(select(&mut vm, &s), (Tier::None, 0));
        for i in 1..N as u32 {
            let asked = i as usize <= RELAXED_MAX;
            assert_eq!(vm.count(Ask::Eligible, i), usize::from(asked));
        }
        // One that is not eligible is passed over.
        let mut vm = FakeVm::new();
        vm.vcpus[1].eligible = false;
        assert_eq!(select(&mut vm, &spin(None)), (Tier::Relaxed, 2));
    }

    #[test]
    fn parameter_off_means_no_relaxed_round() {
        let mut vm = FakeVm::new();
        let mut s = spin(None);
        s.relaxed = false;
        assert_eq!(select(&mut vm, &s), (Tier::None, 0));
        assert_eq!(vm.yields().count(), 0);
        // The scan is unchanged.
        vm.vcpus[5].pending_interrupt = true;
        assert_eq!(select(&mut vm, &s), (Tier::PendingIrq, 5));
    }

    #[test]
    fn receiver_that_halted_since_the_last_look_is_left_to_the_scan() {
        // Preempted on this CPU, owing the answer, but it halted since the
        // spinner last asked: it hands the CPU back by itself.
        let (mut vm, s) = left_to_the_scan(|v| v.halted = true);
        assert_eq!(vm.count(Ask::Halts, 6), 1);
        // Quiet since, it is tried first.
        vm.vcpus[6].halted = false;
        assert_eq!(select(&mut vm, &s), (Tier::IpiReceiver, 6));
        assert_eq!(vm.ipi_yields, 1);
    }

    #[test]
    fn receiver_woken_from_a_halt_is_left_to_the_scan() {
        // Woken by the IPI (ready, not preempted) on this CPU.
        let (mut vm, s) = left_to_the_scan(|v| v.preempted = false);
        // Preempted again, it is tried first.
        vm.vcpus[6].preempted = true;
        assert_eq!(select(&mut vm, &s), (Tier::IpiReceiver, 6));
        assert_eq!(vm.ipi_yields, 1);
    }

    #[test]
    fn receiver_spinning_itself_is_left_to_the_scan() {
        // Preempted on this CPU while it yielded from a spin of its own: it
        // waits for something too, and mainline's eligibility, which
        // toggles for it, decides whether it gets the CPU.
        let (mut vm, s) = left_to_the_scan(|v| v.spinning = true);
        assert_eq!(vm.count(Ask::Clock, 6), 0);
        // Back from its spin, it is tried first.
        vm.vcpus[6].spinning = false;
        vm.vcpus[6].eligible = true;
        assert_eq!(select(&mut vm, &s), (Tier::IpiReceiver, 6));
        assert_eq!(vm.ipi_yields, 1);
    }

    #[test]
    fn ready_but_not_preempted_is_kept() {
        // A vCPU woken and waiting for a CPU: ready, not preempted. Mainline
        // yields to it; so does the scan.
        let mut vm = FakeVm::new();
        vm.vcpus[5].preempted = false;
        assert_eq!(select(&mut vm, &spin(None)), (Tier::Mainline, 5));
        // The relaxed round takes none that the gate let through.
        let mut vm = FakeVm::new();
        for v in vm.vcpus.iter_mut() {
            v.preempted = false;
            v.eligible = false;
        }
        assert_eq!(select(&mut vm, &spin(None)), (Tier::None, 0));
        assert!((1..8).all(|i| vm.count(Ask::Eligible, i) == 1));
    }

    #[test]
    fn try_budget_is_shared_and_stops_the_spin() {
        let mut vm = FakeVm::new();
        for v in vm.vcpus.iter_mut() {
            v.in_kernel = true;
            v.yield_result = -1;
        }
        vm.vcpus[6].yield_result = 1;
        // 1, 2 and 3 fail: give up before 6.
        assert_eq!(select(&mut vm, &spin(None)), (Tier::None, 0));
        assert!(vm.yields().eq([1, 2, 3]));
        // The receiver's failure counts: 7, then 1 and 2.
        let mut vm2 = vm.clone();
        vm2.len = 0;
        assert_eq!(select(&mut vm2, &spin(Some(7))), (Tier::None, 0));
        assert!(vm2.yields().eq([7, 1, 2]));
        // A yield that merely did not happen (0) costs nothing.
        let mut vm = FakeVm::new();
        for v in vm.vcpus.iter_mut() {
            v.in_kernel = true;
            v.yield_result = 0;
        }
        vm.vcpus[7].yield_result = 1;
        assert_eq!(select(&mut vm, &spin(None)), (Tier::Mainline, 7));
    }

    /// Each step asks only about other vCPUs of the VM, and nothing once
    /// the budget of failed yields is spent.
    #[test]
    fn steps_ask_only_about_other_vcpus() {
        let s = Spinner { me: 2, nr: 8 };
        let mut vm = FakeVm::new();
        let mut tries = YIELD_TRIES;
        for r in [2, 8, 11, u32::MAX] {
            assert_eq!(first_owed(&mut vm, &s, r, &mut tries), First::NotTried);
        }
        let passed = [2, 8, u32::MAX, 11];
        assert_eq!(relaxed_round(&mut vm, &s, passed, &mut tries), None);
        assert_eq!(vm.len, 0);
        tries = 0;
        assert_eq!(first_owed(&mut vm, &s, 3, &mut tries), First::NotTried);
        assert_eq!(relaxed_round(&mut vm, &s, [3, 4], &mut tries), None);
        assert_eq!(vm.len, 0);
        // Failed yields spend the budget, one each, and stop the round.
        for v in vm.vcpus.iter_mut() {
            v.yield_result = -1;
        }
        tries = 2;
        assert_eq!(first_owed(&mut vm, &s, 3, &mut tries), First::Tried);
        assert_eq!(relaxed_round(&mut vm, &s, [4, 5, 6], &mut tries), None);
        assert!(vm.yields().eq([3, 4]) && tries == 0);
    }

    #[test]
    fn lone_vcpu_never_yields() {
        let mut vm = FakeVm::new();
        let mut s = spin(Some(1));
        s.nr = 1;
        assert_eq!(select(&mut vm, &s), (Tier::None, 0));
        s.nr = 0;
        assert_eq!(select(&mut vm, &s), (Tier::None, 0));
        assert_eq!(vm.len, 0);
    }

    /// A random index: mostly small, sometimes far out of range, as a
    /// stale or hostile value would be.
    fn any_idx(state: &mut u64) -> u32 {
        let r = next(state);
        match r % 8 {
            0 => (r >> 32) as u32,
            1 => u32::MAX - (r >> 60) as u32,
            _ => ((r >> 8) % (N as u64 + 2)) as u32,
        }
    }

    fn random_vm(rng: &mut u64) -> FakeVm {
        let mut vm = FakeVm::new();
        for v in vm.vcpus.iter_mut() {
            let r = next(rng);
            *v = Fake {
                ready: r & 1 != 0,
                blocked: r & 2 != 0 && r & 64 != 0,
                preempted: r & 4 != 0,
                pending_interrupt: r & 8 != 0 && r & 128 != 0,
                in_kernel: r & 16 != 0,
                eligible: r & 32 != 0 || r & 256 != 0,
                spinning: r & 512 != 0,
                other_cpu: r & (1 << 40) != 0,
                halted: r & (1 << 41) != 0 && r & (1 << 42) != 0,
                running: r & (1 << 43) != 0 && r & 1 == 0,
                yield_result: ((r >> 10) % 3) as i32 - 1,
            };
        }
        vm
    }

    fn random_spin(rng: &mut u64) -> Spin {
        let r = next(rng);
        Spin {
            me: any_idx(rng),
            nr: ((r >> 8) % (N as u64 + 3)) as u32,
            start: any_idx(rng),
            receiver: (r & 1 != 0).then(|| any_idx(rng)),
            held: r & 24 != 8,
            recent: r & 96 != 32,
            hold: r & (3 << 14) != 0,
            fresh: r & (3 << 12) != 0,
            kernel_mode: r & 2 != 0,
            relaxed: r & 4 != 0,
        }
    }

    /// With no pending IPI the selection is mainline's: over random VMs
    /// (spinning candidates whose eligibility toggles among them) and
    /// spins, it asks the same questions about the same vCPUs in the same
    /// order, leaves the same eligibility behind and yields to the same
    /// vCPU. Only when mainline yields to nobody may the relaxed round ask
    /// more, and then only about vCPUs the gate kept out, once each. Both
    /// sides are Rust: [`scan`] transcribes the C `kvm_vcpu_dy_scan()` and
    /// [`mainline`] 7.3.4's loop. That the C scan is mainline's loop is
    /// for review to see; the guest stage checks that it runs alone with
    /// both parameters off (no choice counted or traced).
    #[test]
    fn mainline_equivalence() {
        let mut rng = 0x5851_f42d_4c95_7f2du64;
        for _ in 0..200_000 {
            let vm = random_vm(&mut rng);
            let mut s = random_spin(&mut rng);
            s.receiver = None;
            let (mut ours, mut theirs) = (vm.clone(), vm);
            let (tier, target) = select(&mut ours, &s);
            let want = mainline(&mut theirs, &s);
            let (a, b) = (ours.asked(), theirs.asked());
            assert!(a.len() >= b.len() && a.get(..b.len()) == Some(b));
            match want {
                Some(t) => {
                    assert_eq!(target, t);
                    let pending = theirs.get(t).is_some_and(|v| v.pending_interrupt);
                    assert_eq!(
                        tier,
                        if pending {
                            Tier::PendingIrq
                        } else {
                            Tier::Mainline
                        }
                    );
                    assert_eq!(a, b);
                    assert_eq!(ours.vcpus, theirs.vcpus);
                }
                None if !s.relaxed || !s.kernel_mode => {
                    assert_eq!((tier, a), (Tier::None, b));
                    assert_eq!(ours.vcpus, theirs.vcpus);
                }
                None => {
                    assert!(tier == Tier::None || tier == Tier::Relaxed);
                    for &(ask, idx) in a.get(b.len()..).unwrap_or(&[]) {
                        // Kept out by the gate in the scan: asked whether
                        // in kernel mode, never whether eligible.
                        assert!(theirs.count(Ask::InKernel, idx) == 1);
                        assert!(theirs.count(Ask::Eligible, idx) == 0);
                        if ask == Ask::Eligible {
                            assert_eq!(ours.count(Ask::Eligible, idx), 1);
                        }
                    }
                }
            }
        }
    }

    /// How often `what` was asked, about any vCPU.
    fn count_of(vm: &FakeVm, what: Ask) -> usize {
        vm.asked().iter().filter(|a| a.0 == what).count()
    }

    /// Random VMs and spins, with receivers and scan starts out of range and
    /// VMs that claim more vCPUs than exist: every vCPU asked about exists,
    /// is never the spinner and has its eligibility asked at most once; a
    /// yield reported is one that `yield_to()` took; failures stop the spin
    /// after [`YIELD_TRIES`]; the spin holds its CPU exactly when the
    /// receiver of a fresh IPI runs, and then asks nothing more; after a
    /// receiver that is not taken, the spin yields where mainline's scan
    /// would (the target is compared, when mainline yields, not each
    /// question); an IPI answered or out of the window changes nothing.
    #[test]
    fn fuzz_selection_invariants() {
        let mut rng = 0x2545_f491_4f6c_dd1du64;
        for _ in 0..300_000 {
            let vm = random_vm(&mut rng);
            let s = random_spin(&mut rng);
            let mut ours = vm.clone();
            let (tier, target) = select(&mut ours, &s);
            for &(ask, idx) in ours.asked() {
                assert!(idx < s.nr && idx != s.me);
                // Only the first look at a vCPU (its facts, or whether a
                // receiver runs or holds the IPI) may find none.
                if ask != Ask::Facts && ask != Ask::Held && ask != Ask::Running {
                    assert!(vm.get(idx).is_some());
                }
                assert!(ours.count(Ask::Eligible, idx) <= 1);
            }
            let failed = ours
                .yields()
                .filter(|&i| vm.get(i).is_some_and(|v| v.yield_result < 0))
                .count();
            // The hold asks first whether the receiver runs, then the clock
            // only of one that does, and holds exactly when both say so; a
            // held spin asks nothing more and yields to nobody.
            let r = s.receiver.unwrap_or(u32::MAX);
            let runs = vm.get(r).is_some_and(|f| f.running);
            let hold = [(Ask::Running, r), (Ask::Fresh, r)];
            let asked_hold = match ours.asked().first().filter(|_| s.hold) {
                Some(&(Ask::Running, _)) if runs => 2,
                Some(&(Ask::Running, _)) => 1,
                _ => 0,
            };
            assert!(ours.asked().get(..asked_hold) == hold.get(..asked_hold));
            assert_eq!(
                ours.count(Ask::Running, r) + ours.count(Ask::Fresh, r),
                asked_hold
            );
            let holds = s.hold && s.nr >= 2 && r < s.nr && r != s.me && runs && s.fresh;
            assert_eq!((tier == Tier::Held), holds);
            if holds {
                assert_eq!((ours.asked(), target), (&hold[..], 0));
            }
            let rest = ours.asked().get(asked_hold..).unwrap_or(&[]);
            assert!(failed <= YIELD_TRIES as usize);
            if s.nr < 2 {
                assert!(tier == Tier::None && ours.len == 0);
            }
            if tier != Tier::None && tier != Tier::Held {
                assert!(target < s.nr && target != s.me);
                assert_eq!(ours.yields().last(), Some(target));
                let f = vm.get(target);
                assert!(f.is_some_and(|f| f.ready && !f.blocked && f.yield_result > 0));
            }
            // Yielding to nobody happens only when mainline would too (the
            // hold aside): no candidate it would have taken was skipped.
            if tier == Tier::None && failed < YIELD_TRIES as usize {
                let mut theirs = vm.clone();
                let mut plain = s;
                plain.receiver = None;
                assert_eq!(mainline(&mut theirs, &plain), None);
            }
            // The receiver's APIC is asked at most once and first, the
            // clock at most once, after its state, and only of one that
            // could take the CPU, its halts at most once, after the clock,
            // and only inside the window; an IPI answered or out of the
            // window, or a receiver that step 1 leaves to the scan (not
            // preempted, on another CPU, in a spin of its own, or halted
            // since the last look), changes nothing.
            let count = |what: Ask| count_of(&ours, what);
            assert!(count(Ask::Held) <= 1 && count(Ask::Clock) <= 1 && count(Ask::Halts) <= 1);
            if count(Ask::Held) == 1 {
                assert_eq!(rest.first().map(|a| a.0), Some(Ask::Held));
            }
            if count(Ask::Clock) == 1 {
                let order = [(Ask::Held, r), (Ask::Facts, r), (Ask::Clock, r)];
                assert!(rest.get(..3) == Some(&order[..]));
                let f = vm.get(r);
                assert!(f.is_some_and(|f| {
                    f.ready && !f.blocked && f.preempted && !f.other_cpu && !f.spinning
                }));
            }
            if count(Ask::Halts) == 1 {
                assert!(s.recent && count(Ask::Clock) == 1);
                assert!(rest.get(3) == Some(&(Ask::Halts, r)));
            }
            let left = s
                .receiver
                .and_then(|r| vm.get(r))
                .is_some_and(Fake::left_to_the_scan);
            if !holds && (!(s.held && s.recent) || left) {
                let mut alt = vm.clone();
                let mut plain = s;
                plain.receiver = None;
                assert_eq!(select(&mut alt, &plain), (tier, target));
            }
            if tier == Tier::IpiReceiver {
                assert_eq!(Some(target), s.receiver);
                // The receiver is yielded to first only when it was
                // preempted on the spinner's CPU, not in a spin of its own,
                // and has not halted since the last look.
                assert!(vm.get(target).is_some_and(|f| !f.left_to_the_scan()));
            }
            // Without the relaxed round, every vCPU's facts are asked at
            // most once, but the receiver's: again by the scan.
            if !s.relaxed {
                for &(_, idx) in ours.asked() {
                    let most = if Some(idx) == s.receiver { 2 } else { 1 };
                    assert!(ours.count(Ask::Facts, idx) <= most);
                }
            }
            // A receiver asked first and not taken: what follows is
            // mainline's scan of a VM in which it is not ready, or, when it
            // was left to the scan (not preempted, on another CPU, in a
            // spin of its own, or halted since the last look), of the VM
            // as it is.
            if let (Some(r), Some(&(Ask::Held, first))) = (s.receiver, rest.first()) {
                let taken = tier == Tier::IpiReceiver;
                if first == r && !taken && failed < YIELD_TRIES as usize {
                    let mut theirs = vm.clone();
                    if let Some(v) = theirs.vcpus.get_mut(r as usize) {
                        if !v.left_to_the_scan() && s.held && s.recent {
                            v.ready = false;
                        }
                    }
                    let mut plain = s;
                    plain.receiver = None;
                    plain.relaxed = false;
                    let want = mainline(&mut theirs, &plain);
                    if let Some(t) = want {
                        assert_eq!(target, t);
                    }
                }
            }
        }
    }
}
