// SPDX-License-Identifier: GPL-2.0

//! Directed-yield candidate selection for `kvm_vcpu_on_spin()`.
//!
//! A vCPU that spins (PAUSE exits, or the arch's equivalent) hands its CPU
//! to another vCPU of its VM that is runnable but not running. Mainline
//! picks round robin among those that pass its filters. This object puts
//! first the vCPU the spinner is most likely waiting for:
//!
//! Round 1, tier by tier, each tier a scan from the vCPU after the last
//! boosted one:
//! 1. the receiver of the spinner's IPI, from the IPI tracker: while the
//!    IPI is pending (not yet EOI'd) and recent (`ipi_window_ns`), and
//!    also, beyond the series, after its EOI inside the window as long as
//!    the receiver has not blocked: guests acknowledge an IPI when they
//!    take it, before they do the work the sender waits for. When that
//!    receiver can run but the yield to it does not happen (it is running
//!    already, or on its way to a CPU), the spin yields to nobody: the
//!    vCPU it waits for is at work, and handing the CPU to another vCPU
//!    would only delay the spinner (also beyond the series);
//! 2. a vCPU with a pending interrupt (the arch's fast hint);
//! 3. any vCPU that passes mainline's preempted gate: not preempted, or
//!    preempted in kernel mode when the spinner asks for a kernel-mode
//!    yield.
//!
//! Round 2, only when round 1 yielded to nobody and `enable_relaxed_boost`
//! is on: any vCPU that is preempted, in whatever mode.
//!
//! Every tier keeps mainline's filters: the candidate is `ready`, is not
//! blocking without being runnable, passes the in-spin-loop eligibility
//! toggle, and the whole spin gives up after three failed `yield_to()`
//! calls (the `try` budget, shared by both rounds).
//!
//! Tier 3 is mainline's gate on purpose. The series required `preempted`
//! there and so dropped candidates that are `ready` but not preempted:
//! vCPUs that were just woken, for instance by the very IPI the spinner
//! sent, and wait for a CPU. Mainline keeps them, and so does this code.
//!
//! `kvm_main.c` calls [`kvm_vcpu_select_and_yield`] and counts the outcome
//! in KVM's binary stats; it reaches the vCPUs through small C helpers
//! (`kvm_dy_facts()` and friends). The kvm module parameter
//! `enable_relaxed_boost` is defined here.

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

/// Failed `yield_to()` calls after which a spin gives up, as in mainline.
const YIELD_TRIES: u32 = 3;

/// Totals over all VMs since boot, by tier, for
/// `/sys/kernel/debug/kvm/ipi_yield_hooks`. Statistics only: relaxed.
static TOTALS: [Atomic<u64>; 6] = [
    Atomic::new(0),
    Atomic::new(0),
    Atomic::new(0),
    Atomic::new(0),
    Atomic::new(0),
    Atomic::new(0),
];

/// A VM's vCPUs, as directed yield sees them. Indices are `vcpu_idx`
/// values below the VM's number of online vCPUs.
pub trait Vcpus {
    /// What is known about the vCPU at `idx`; `None` when there is none.
    fn facts(&mut self, idx: u32) -> Option<bindings::kvm_dy_facts>;
    /// Whether it was preempted in kernel mode.
    fn in_kernel(&mut self, idx: u32) -> bool;
    /// Mainline's in-spin-loop eligibility, which toggles on every call.
    fn eligible(&mut self, idx: u32) -> bool;
    /// `kvm_vcpu_yield_to()`: > 0 yielded, 0 not, < 0 failed.
    fn yield_to(&mut self, idx: u32) -> i32;
}

/// One spin of one vCPU.
#[derive(Clone, Copy, Debug)]
pub struct Spin {
    /// The spinning vCPU.
    pub me: u32,
    /// Online vCPUs of the VM.
    pub nr: u32,
    /// Where each scan starts, before wrapping (any value).
    pub start: u32,
    /// Target of the spinner's recent IPI, pending or already EOI'd.
    pub receiver: Option<u32>,
    /// The spinner asks for a vCPU preempted in kernel mode.
    pub kernel_mode: bool,
    /// Round 2 is allowed.
    pub relaxed: bool,
}

/// What happened to one candidate.
enum Attempt {
    Yielded,
    Skipped,
    /// `yield_to()` failed: the candidate runs on a CPU, or cannot run.
    Failed,
    /// The `try` budget is spent: stop the spin.
    GiveUp,
}

struct Selector<'a, V: Vcpus> {
    vcpus: &'a mut V,
    tries: u32,
}

impl<V: Vcpus> Selector<'_, V> {
    /// Mainline's filters before any tier: the candidate exists, is ready,
    /// and is not blocking without being runnable.
    fn usable(&mut self, idx: u32) -> Option<bindings::kvm_dy_facts> {
        self.vcpus.facts(idx).filter(|f| f.ready && !f.blocked)
    }

    /// Mainline's last steps: the eligibility toggle, then the yield.
    fn attempt(&mut self, idx: u32) -> Attempt {
        if !self.vcpus.eligible(idx) {
            return Attempt::Skipped;
        }
        match self.vcpus.yield_to(idx) {
            y if y > 0 => Attempt::Yielded,
            y if y < 0 => {
                self.tries = self.tries.saturating_sub(1);
                if self.tries == 0 {
                    Attempt::GiveUp
                } else {
                    Attempt::Failed
                }
            }
            _ => Attempt::Skipped,
        }
    }

    /// Scans every vCPU but `me` and `skip` from `start`, attempting those
    /// `pick` accepts. `Err(())` means the budget is spent.
    fn scan(
        &mut self,
        s: &Spin,
        skip: Option<u32>,
        mut pick: impl FnMut(&mut V, u32, &bindings::kvm_dy_facts) -> bool,
    ) -> Result<Option<u32>, ()> {
        for i in 0..s.nr {
            // `nr > 0` inside the loop; u32 remainder needs no 64-bit division.
            let idx = s.start.wrapping_add(i) % s.nr;
            if idx == s.me || Some(idx) == skip {
                continue;
            }
            let Some(f) = self.usable(idx) else { continue };
            if !pick(self.vcpus, idx, &f) {
                continue;
            }
            match self.attempt(idx) {
                Attempt::Yielded => return Ok(Some(idx)),
                Attempt::GiveUp => return Err(()),
                Attempt::Skipped | Attempt::Failed => {}
            }
        }
        Ok(None)
    }
}

/// Picks the vCPU to yield to and yields; returns the tier and the target
/// (`KVM_DY_NONE` when it yielded to nobody).
pub fn select<V: Vcpus>(vcpus: &mut V, s: &Spin) -> (bindings::kvm_dy_tier, u32) {
    let none = (bindings::kvm_dy_tier_KVM_DY_NONE, 0);
    if s.nr < 2 {
        return none;
    }
    let mut sel = Selector {
        vcpus,
        tries: YIELD_TRIES,
    };

    // Tier 1: the receiver of the spinner's IPI, pending or EOI'd inside
    // the window (guests EOI when they take an IPI, before they do the
    // work the sender waits for), when it is another vCPU of this VM that
    // can run. The spinner then yields to it or to nobody: if the receiver
    // is not `ready` it is running already, and if `yield_to()` does not
    // take it is on a CPU or about to be; either way the spinner's wait is
    // about to end, and giving the CPU to anybody else would only delay it.
    // A receiver that blocks (halted, done) leaves the spin to tiers 2 and 3.
    let receiver = s.receiver.filter(|&r| r < s.nr && r != s.me);
    if let Some(r) = receiver {
        let runs = (bindings::kvm_dy_tier_KVM_DY_RECEIVER_RUNS, r);
        match sel.vcpus.facts(r) {
            Some(f) if f.ready && !f.blocked => {
                return match sel.attempt(r) {
                    Attempt::Yielded => (bindings::kvm_dy_tier_KVM_DY_IPI_RECEIVER, r),
                    Attempt::Failed | Attempt::GiveUp | Attempt::Skipped => runs,
                };
            }
            Some(f) if !f.blocked => return runs,
            _ => {}
        }
    }

    // Tier 2: a pending interrupt.
    match sel.scan(s, receiver, |_, _, f| f.pending_interrupt) {
        Ok(Some(idx)) => return (bindings::kvm_dy_tier_KVM_DY_PENDING_IRQ, idx),
        Ok(None) => {}
        Err(()) => return none,
    }
    // Tier 3: mainline's gate, for those tier 2 did not take: not
    // preempted, or preempted in kernel mode when the spinner asks for it.
    // Whether it was in kernel mode costs a register read: ask last.
    let kernel_mode = s.kernel_mode;
    let gate = |v: &mut V, idx, f: &bindings::kvm_dy_facts| {
        !f.pending_interrupt && (!f.preempted || !kernel_mode || v.in_kernel(idx))
    };
    match sel.scan(s, receiver, gate) {
        Ok(Some(idx)) => return (bindings::kvm_dy_tier_KVM_DY_PREEMPTED, idx),
        Ok(None) => {}
        Err(()) => return none,
    }

    // Round 2: preempted alone.
    if s.relaxed {
        if let Ok(Some(idx)) = sel.scan(s, None, |_, _, f| f.preempted) {
            return (bindings::kvm_dy_tier_KVM_DY_RELAXED, idx);
        }
    }
    none
}

/// The vCPUs of a live VM, reached through `kvm_main.c`.
///
/// # Invariants
///
/// `me` points to a vCPU of the VM that stays valid while this exists.
struct KvmVcpus {
    me: *mut bindings::kvm_vcpu,
}

impl Vcpus for KvmVcpus {
    fn facts(&mut self, idx: u32) -> Option<bindings::kvm_dy_facts> {
        let idx = c_int::try_from(idx).ok()?;
        // SAFETY: All-zero is a valid value of this plain C struct.
        let mut f: bindings::kvm_dy_facts = unsafe { core::mem::zeroed() };
        // SAFETY: `me` is valid by the type invariant; `f` is ours.
        unsafe { bindings::kvm_dy_facts(self.me, idx, &mut f) }.then_some(f)
    }

    fn in_kernel(&mut self, idx: u32) -> bool {
        // SAFETY: `me` is valid by the type invariant.
        c_int::try_from(idx).is_ok_and(|i| unsafe { bindings::kvm_dy_in_kernel(self.me, i) })
    }

    fn eligible(&mut self, idx: u32) -> bool {
        // SAFETY: `me` is valid by the type invariant.
        c_int::try_from(idx).is_ok_and(|i| unsafe { bindings::kvm_dy_eligible(self.me, i) })
    }

    fn yield_to(&mut self, idx: u32) -> i32 {
        match c_int::try_from(idx) {
            // SAFETY: `me` is valid by the type invariant.
            Ok(i) => unsafe { bindings::kvm_dy_yield(self.me, i) },
            Err(_) => 0,
        }
    }
}

/// Called from `kvm_vcpu_on_spin()`: picks the vCPU `me` should yield to
/// and yields. Returns the tier and stores the target in `*target`.
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
    let (Ok(me_u), Ok(nr)) = (u32::try_from(me_idx), u32::try_from(nr_vcpus)) else {
        return bindings::kvm_dy_tier_KVM_DY_NONE;
    };
    let spin = Spin {
        me: me_u,
        nr,
        start: u32::try_from(start).unwrap_or(0),
        receiver: u32::try_from(receiver).ok(),
        kernel_mode: yield_to_kernel_mode,
        relaxed: RELAXED_BOOST.load(Relaxed),
    };
    // INVARIANT: `me` is valid for the call, by the caller.
    let (tier, idx) = select(&mut KvmVcpus { me }, &spin);
    if let Some(c) = usize::try_from(tier).ok().and_then(|t| TOTALS.get(t)) {
        c.add(1, Relaxed);
    }
    // SAFETY: Valid for a write, by the caller.
    unsafe { target.write(c_int::try_from(idx).unwrap_or(-1)) };
    tier
}

/// Prints the totals by tier into `/sys/kernel/debug/kvm/ipi_yield_hooks`.
///
/// # Safety
///
/// `m` must point to a valid `seq_file` used by no other thread for the call.
#[export]
pub unsafe extern "C" fn kvm_vcpu_select_show(m: *mut bindings::seq_file) {
    // SAFETY: Guaranteed by the caller, a seq_file `show` callback.
    let m = unsafe { SeqFile::from_raw(m) };
    let [none, receiver, pending, preempted, relaxed, runs] = &TOTALS;
    for (name, c) in [
        ("dy_ipi_receiver", receiver),
        ("dy_pending_irq", pending),
        ("dy_preempted", preempted),
        ("dy_relaxed", relaxed),
        ("dy_receiver_runs", runs),
        ("dy_no_target", none),
    ] {
        seq_print!(m, "{name} {}\n", c.load(Relaxed));
    }
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
    let text: &[u8] = if RELAXED_BOOST.load(Relaxed) {
        b"Y\n\0"
    } else {
        b"N\n\0"
    };
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

    const NONE: bindings::kvm_dy_tier = bindings::kvm_dy_tier_KVM_DY_NONE;
    const IPI: bindings::kvm_dy_tier = bindings::kvm_dy_tier_KVM_DY_IPI_RECEIVER;
    const IRQ: bindings::kvm_dy_tier = bindings::kvm_dy_tier_KVM_DY_PENDING_IRQ;
    const GATE: bindings::kvm_dy_tier = bindings::kvm_dy_tier_KVM_DY_PREEMPTED;
    const RELAXED: bindings::kvm_dy_tier = bindings::kvm_dy_tier_KVM_DY_RELAXED;

    /// One fake vCPU.
    #[derive(Clone, Copy)]
    struct Fake {
        ready: bool,
        blocked: bool,
        preempted: bool,
        pending_interrupt: bool,
        in_kernel: bool,
        eligible: bool,
        yield_result: i32,
    }

    /// A runnable vCPU preempted in user mode: round 2 material only, when
    /// the spinner asks for kernel mode.
    const USER: Fake = Fake {
        ready: true,
        blocked: false,
        preempted: true,
        pending_interrupt: false,
        in_kernel: false,
        eligible: true,
        yield_result: 1,
    };

    /// Eight fake vCPUs; records the yields asked for.
    struct FakeVm {
        vcpus: [Fake; 8],
        yields: [u32; 32],
        nr_yields: usize,
    }

    impl FakeVm {
        fn new() -> Self {
            FakeVm {
                vcpus: [USER; 8],
                yields: [0; 32],
                nr_yields: 0,
            }
        }
        fn get(&self, idx: u32) -> Option<&Fake> {
            self.vcpus.get(usize::try_from(idx).ok()?)
        }
    }

    impl Vcpus for FakeVm {
        fn facts(&mut self, idx: u32) -> Option<bindings::kvm_dy_facts> {
            self.get(idx).map(|v| bindings::kvm_dy_facts {
                ready: v.ready,
                blocked: v.blocked,
                preempted: v.preempted,
                pending_interrupt: v.pending_interrupt,
            })
        }
        fn in_kernel(&mut self, idx: u32) -> bool {
            self.get(idx).is_some_and(|v| v.in_kernel)
        }
        fn eligible(&mut self, idx: u32) -> bool {
            self.get(idx).is_some_and(|v| v.eligible)
        }
        fn yield_to(&mut self, idx: u32) -> i32 {
            if let Some(slot) = self.yields.get_mut(self.nr_yields) {
                *slot = idx;
                self.nr_yields += 1;
            }
            self.get(idx).map_or(0, |v| v.yield_result)
        }
    }

    /// vCPU 0 spins in kernel mode, scans start at vCPU 1, round 2 allowed.
    fn spin(receiver: Option<u32>) -> Spin {
        Spin {
            me: 0,
            nr: 8,
            start: 1,
            receiver,
            kernel_mode: true,
            relaxed: true,
        }
    }

    #[test]
    fn tiers_in_order() {
        let mut vm = FakeVm::new();
        vm.vcpus[2].in_kernel = true; // tier 3
        vm.vcpus[4].pending_interrupt = true; // tier 2

        // vCPU 6, the IPI receiver, comes last in scan order but first.
        assert_eq!(select(&mut vm, &spin(Some(6))), (IPI, 6));
        // Without a receiver, the pending interrupt beats the earlier gate.
        assert_eq!(select(&mut vm, &spin(None)), (IRQ, 4));
        vm.vcpus[4].pending_interrupt = false;
        assert_eq!(select(&mut vm, &spin(None)), (GATE, 2));
        // The scan starts after the last boosted vCPU, and wraps.
        vm.vcpus[7].in_kernel = true;
        let mut s = spin(None);
        s.start = 3;
        assert_eq!(select(&mut vm, &s), (GATE, 7));
        s.start = 11; // 11 % 8 == 3
        assert_eq!(select(&mut vm, &s), (GATE, 7));
    }

    #[test]
    fn running_receiver_holds_the_spin() {
        const RUNS: bindings::kvm_dy_tier = bindings::kvm_dy_tier_KVM_DY_RECEIVER_RUNS;
        // The receiver runs: not ready, not blocked. Nobody else gets the CPU.
        let mut vm = FakeVm::new();
        vm.vcpus[3].in_kernel = true;
        vm.vcpus[6].ready = false;
        assert_eq!(select(&mut vm, &spin(Some(6))), (RUNS, 6));
        assert_eq!(vm.nr_yields, 0);
        // yield_to() finds it on a CPU: the same.
        let mut vm = FakeVm::new();
        vm.vcpus[3].in_kernel = true;
        vm.vcpus[6].yield_result = -1;
        assert_eq!(select(&mut vm, &spin(Some(6))), (RUNS, 6));
        assert_eq!(&vm.yields[..vm.nr_yields], &[6]);
        // Without tracking there is no receiver, and vCPU 3 gets the CPU.
        assert_eq!(select(&mut vm, &spin(None)), (GATE, 3));
        // EOI'd already, still running: hold too. EOI'd and halted: go on.
        let mut vm = FakeVm::new();
        vm.vcpus[3].in_kernel = true;
        vm.vcpus[6].ready = false;
        let s = spin(Some(6));
        assert_eq!(select(&mut vm, &s), (RUNS, 6));
        vm.vcpus[6].blocked = true;
        assert_eq!(select(&mut vm, &s), (GATE, 3));
        // EOI'd and preempted before it finished: it gets the CPU.
        vm.vcpus[6] = USER;
        assert_eq!(select(&mut vm, &s), (IPI, 6));
    }

    #[test]
    fn receiver_that_cannot_take_the_cpu_holds_the_spin() {
        const RUNS: bindings::kvm_dy_tier = bindings::kvm_dy_tier_KVM_DY_RECEIVER_RUNS;
        // Not eligible, or yield_to() did not take: nobody else gets the CPU.
        for spoil in [
            |v: &mut Fake| v.eligible = false,
            |v: &mut Fake| v.yield_result = 0,
        ] {
            let mut vm = FakeVm::new();
            vm.vcpus[3].in_kernel = true;
            spoil(&mut vm.vcpus[6]);
            assert_eq!(select(&mut vm, &spin(Some(6))), (RUNS, 6));
            assert!(vm.nr_yields <= 1);
        }
    }

    #[test]
    fn receiver_keeps_mainline_filters() {
        for spoil in [
            |v: &mut Fake| {
                v.ready = false;
                v.blocked = true;
            },
            |v: &mut Fake| v.blocked = true,
        ] {
            let mut vm = FakeVm::new();
            vm.vcpus[3].in_kernel = true;
            spoil(&mut vm.vcpus[6]);
            vm.vcpus[6].in_kernel = true;
            let (tier, idx) = select(&mut vm, &spin(Some(6)));
            assert_eq!((tier, idx), (GATE, 3));
        }
        // A receiver that is the spinner itself, or no vCPU of the VM, is ignored.
        let mut vm = FakeVm::new();
        vm.vcpus[3].in_kernel = true;
        assert_eq!(select(&mut vm, &spin(Some(0))), (GATE, 3));
        assert_eq!(select(&mut vm, &spin(Some(8))), (GATE, 3));
        assert_eq!(select(&mut vm, &spin(Some(u32::MAX))), (GATE, 3));
    }

    #[test]
    fn round_two_only_after_an_empty_round_one() {
        // Everybody preempted in user mode: round 1 finds nobody.
        let mut vm = FakeVm::new();
        assert_eq!(select(&mut vm, &spin(None)), (RELAXED, 1));
        // Not preempted and not ready: nobody for round 2 either.
        let mut vm = FakeVm::new();
        for v in vm.vcpus.iter_mut() {
            v.preempted = false;
            v.ready = false;
        }
        assert_eq!(select(&mut vm, &spin(None)), (NONE, 0));
        assert_eq!(vm.nr_yields, 0);
        // A user-mode yield passes the gate in round 1 already.
        let mut vm = FakeVm::new();
        let mut s = spin(None);
        s.kernel_mode = false;
        assert_eq!(select(&mut vm, &s), (GATE, 1));
    }

    #[test]
    fn parameter_off_means_no_round_two() {
        let mut vm = FakeVm::new();
        let mut s = spin(None);
        s.relaxed = false;
        assert_eq!(select(&mut vm, &s), (NONE, 0));
        assert_eq!(vm.nr_yields, 0);
        // Round 1 is unchanged.
        vm.vcpus[5].pending_interrupt = true;
        assert_eq!(select(&mut vm, &s), (IRQ, 5));
    }

    #[test]
    fn ready_but_not_preempted_is_kept() {
        // A vCPU woken and waiting for a CPU: ready, not preempted. Mainline
        // yields to it; so does tier 3 (the series dropped it).
        let mut vm = FakeVm::new();
        vm.vcpus[5].preempted = false;
        assert_eq!(select(&mut vm, &spin(None)), (GATE, 5));
        // Round 2 wants preempted vCPUs only.
        let mut vm = FakeVm::new();
        for v in vm.vcpus.iter_mut() {
            v.preempted = false;
            v.eligible = false;
        }
        let mut s = spin(None);
        s.relaxed = true;
        assert_eq!(select(&mut vm, &s), (NONE, 0));
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
        assert_eq!(select(&mut vm, &spin(None)), (NONE, 0));
        assert_eq!(vm.nr_yields, 3);
        assert_eq!(&vm.yields[..3], &[1, 2, 3]);
        // A yield that merely did not happen (0) costs nothing.
        let mut vm = FakeVm::new();
        for v in vm.vcpus.iter_mut() {
            v.in_kernel = true;
            v.yield_result = 0;
        }
        vm.vcpus[7].yield_result = 1;
        assert_eq!(select(&mut vm, &spin(None)), (GATE, 7));
    }

    #[test]
    fn lone_vcpu_never_yields() {
        let mut vm = FakeVm::new();
        let mut s = spin(Some(1));
        s.nr = 1;
        assert_eq!(select(&mut vm, &s), (NONE, 0));
        s.nr = 0;
        assert_eq!(select(&mut vm, &s), (NONE, 0));
        assert_eq!(vm.nr_yields, 0);
    }

    #[test]
    fn relaxed_boost_parses_booleans_only() {
        assert_eq!(parse_bool(b"1\n"), Ok(true));
        assert_eq!(parse_bool(b"Y"), Ok(true));
        assert_eq!(parse_bool(b"off"), Ok(false));
        assert_eq!(parse_bool(b"0"), Ok(false));
        assert_eq!(parse_bool(b"maybe"), Err(EINVAL));
        assert_eq!(parse_bool(b""), Err(EINVAL));
    }

    /// xorshift64: the fuzz test's reproducible random numbers.
    fn next(state: &mut u64) -> u64 {
        *state ^= *state << 13;
        *state ^= *state >> 7;
        *state ^= *state << 17;
        *state
    }

    /// A random index: mostly small, sometimes far out of range, as a
    /// stale or hostile value would be.
    fn any_idx(state: &mut u64) -> u32 {
        let r = next(state);
        match r % 8 {
            0 => (r >> 32) as u32,
            1 => u32::MAX - (r >> 60) as u32,
            _ => ((r >> 8) % 10) as u32,
        }
    }

    /// Random VMs and spins, including receivers and starts out of range
    /// and VMs that claim more vCPUs than exist: whatever the input, every
    /// vCPU asked about or yielded to exists, is never the spinner, and a
    /// yield reported is one that `yield_to()` took; failures stop the spin
    /// after [`YIELD_TRIES`].
    #[test]
    fn fuzz_selection_invariants() {
        let mut rng = 0x2545_f491_4f6c_dd1du64;
        for _ in 0..1_000_000 {
            let mut vm = FakeVm::new();
            for v in vm.vcpus.iter_mut() {
                let r = next(&mut rng);
                *v = Fake {
                    ready: r & 1 != 0,
                    blocked: r & 2 != 0,
                    preempted: r & 4 != 0,
                    pending_interrupt: r & 8 != 0,
                    in_kernel: r & 16 != 0,
                    eligible: r & 32 != 0,
                    yield_result: ((r >> 6) % 3) as i32 - 1,
                };
            }
            let r = next(&mut rng);
            let s = Spin {
                me: any_idx(&mut rng),
                nr: ((r >> 8) % 11) as u32,
                start: any_idx(&mut rng),
                receiver: (r & 1 != 0).then(|| any_idx(&mut rng)),
                kernel_mode: r & 2 != 0,
                relaxed: r & 4 != 0,
            };
            let (tier, target) = select(&mut vm, &s);
            let asked = vm.yields.get(..vm.nr_yields).unwrap_or(&[]);
            for &idx in asked {
                assert!(idx < s.nr && idx != s.me && vm.get(idx).is_some());
            }
            let failed = asked
                .iter()
                .filter(|&&i| vm.get(i).is_some_and(|v| v.yield_result < 0))
                .count();
            assert!(failed <= YIELD_TRIES as usize);
            if s.nr < 2 {
                assert!(tier == NONE && asked.is_empty());
            }
            if tier == NONE {
                continue;
            }
            assert!(target < s.nr && target != s.me);
            let f = vm.get(target).copied();
            assert!(f.is_some_and(|f| !f.blocked));
            if tier == bindings::kvm_dy_tier_KVM_DY_RECEIVER_RUNS {
                assert_eq!(Some(target), s.receiver);
            } else {
                // A yield that took: the last one asked for, ready and eligible.
                assert_eq!(asked.last(), Some(&target));
                assert!(f.is_some_and(|f| f.ready && f.eligible && f.yield_result > 0));
            }
        }
    }
}
