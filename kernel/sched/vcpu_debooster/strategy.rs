// SPDX-License-Identifier: GPL-2.0

//! The run-time controls: the switch and the selected strategy, read
//! locklessly on the yield path, and the Rust form of
//! `enum sched_vcpu_yield_strategy`.

use kernel::{
    bindings,
    error::code::EINVAL,
    prelude::*,
    sync::atomic::{Atomic, Relaxed},
};

/// The strategies of `enum sched_vcpu_yield_strategy`: what
/// `yield_to_task_fair()` does for the target beyond mainline's next buddy
/// and forfeit.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u32)]
pub(crate) enum Strategy {
    /// Push the yielder's vruntime by a bounded penalty, banded by the
    /// two tasks' lowest common cgroup.
    Deboost = bindings::sched_vcpu_yield_strategy_SCHED_VCPU_YIELD_DEBOOST,
    /// Credit the target with the lag it needs to be eligible; the yielder
    /// pays.
    LagCredit = bindings::sched_vcpu_yield_strategy_SCHED_VCPU_YIELD_LAG_CREDIT,
    /// Push the yielder by its share of each level of its cgroup
    /// hierarchy.
    Proportional = bindings::sched_vcpu_yield_strategy_SCHED_VCPU_YIELD_PROPORTIONAL,
    /// Give the target what the yielder forfeits.
    Donate = bindings::sched_vcpu_yield_strategy_SCHED_VCPU_YIELD_DONATE,
    /// Make the target eligible, paid by the yielder, which steps back
    /// behind it, its deadline kept, instead of forfeiting its request.
    Handoff = bindings::sched_vcpu_yield_strategy_SCHED_VCPU_YIELD_HANDOFF,
    /// Nothing beyond mainline.
    Mainline = bindings::sched_vcpu_yield_strategy_SCHED_VCPU_YIELD_MAINLINE,
}

impl Strategy {
    /// Every strategy, in the order of the C enum: the array's type makes
    /// the build fail when the C enum gains one.
    pub(crate) const ALL: [Strategy;
        bindings::sched_vcpu_yield_strategy_SCHED_VCPU_YIELD_NR as usize] = [
        Strategy::Deboost,
        Strategy::LagCredit,
        Strategy::Proportional,
        Strategy::Donate,
        Strategy::Handoff,
        Strategy::Mainline,
    ];

    /// The name in `/sys/kernel/debug/sched/vcpu_yield_strategy` and in
    /// the tracepoint.
    pub(crate) const fn c_name(self) -> &'static CStr {
        match self {
            Strategy::Deboost => c"deboost",
            Strategy::LagCredit => c"lag-credit",
            Strategy::Proportional => c"proportional",
            Strategy::Donate => c"donate",
            Strategy::Handoff => c"handoff",
            Strategy::Mainline => c"mainline",
        }
    }

    /// [`Strategy::c_name`] without the NUL.
    pub(crate) fn name(self) -> &'static [u8] {
        self.c_name().to_bytes()
    }

    /// Parses a name written to `vcpu_yield_strategy` (one trailing newline
    /// allowed).
    pub(crate) fn parse(val: &[u8]) -> Result<Self> {
        let name = val.strip_suffix(b"\n").unwrap_or(val);
        Self::ALL
            .into_iter()
            .find(|s| s.name() == name)
            .ok_or(EINVAL)
    }

    /// Whether the strategy obeys the per-runqueue rate limit. The
    /// proposal behind `proportional` has none: its stop at ineligibility
    /// bounds it. `donate` has none: it moves virtual time from the yielder
    /// to the target and leaves the queue's weighted sum as it was, so
    /// repeating it cannot raise the pair's share above what the pair
    /// already has. Nor has `handoff`, for the same reason: the yielder pays
    /// what the target gets.
    pub(crate) fn rate_limits(self) -> bool {
        !matches!(
            self,
            Strategy::Proportional | Strategy::Donate | Strategy::Handoff
        )
    }
}

impl TryFrom<u32> for Strategy {
    type Error = Error;

    fn try_from(v: u32) -> Result<Self> {
        Self::ALL.into_iter().find(|s| *s as u32 == v).ok_or(EINVAL)
    }
}

/// Why a task yields: the Rust form of `enum yield_to_reason`, which
/// `yield_to_reason()` records for the strategies.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u32)]
pub(crate) enum Reason {
    /// None given (`yield_to()`).
    Any = bindings::yield_to_reason_YIELD_TO_ANY,
    /// The target has not yet handled an IPI from the yielder (KVM).
    IpiReceiver = bindings::yield_to_reason_YIELD_TO_IPI_RECEIVER,
}

impl Reason {
    /// Every reason, in the order of the C enum.
    pub(crate) const ALL: [Reason; bindings::yield_to_reason_YIELD_TO_NR_REASONS as usize] =
        [Reason::Any, Reason::IpiReceiver];

    /// Where the strategy for this reason is selected.
    fn selected(self) -> &'static Atomic<u32> {
        match self {
            Reason::Any => &STRATEGY,
            Reason::IpiReceiver => &IPI_STRATEGY,
        }
    }
}

impl TryFrom<u32> for Reason {
    type Error = Error;

    fn try_from(v: u32) -> Result<Self> {
        Self::ALL.into_iter().find(|r| *r as u32 == v).ok_or(EINVAL)
    }
}

/// In [`IPI_STRATEGY`]: whatever [`STRATEGY`] selects.
pub(crate) const SAME: u32 = bindings::sched_vcpu_yield_strategy_SCHED_VCPU_YIELD_NR;

/// The name of [`SAME`] in `vcpu_ipi_yield_strategy`.
pub(crate) const SAME_NAME: &[u8] = b"same";

/// The strategy of every yield without its own, a [`Strategy`] as `u32`.
/// Written by the debugfs file, read on the yield path: relaxed, like
/// [`ENABLED`].
pub(crate) static STRATEGY: Atomic<u32> = Atomic::new(Strategy::Donate as u32);

/// The strategy of yields to an IPI's receiver ([`Reason::IpiReceiver`]), a
/// [`Strategy`] as `u32` or [`SAME`]; relaxed, like [`STRATEGY`].
///
/// `handoff` by default: such a receiver needs the CPU now, to answer,
/// but not the rest of the sender's slice, which `donate` would give it and
/// which one that computes between IPIs spends while the sender waits; and
/// the sender, instead of going behind every other task on its CPU, runs
/// again once the receiver has had about half a slice.
pub(crate) static IPI_STRATEGY: Atomic<u32> = Atomic::new(Strategy::Handoff as u32);

/// What is selected for `reason`: a [`Strategy`] as `u32`, or [`SAME`].
pub(crate) fn selected(reason: Reason) -> u32 {
    reason.selected().load(Relaxed)
}

/// Selects `choice`, a [`Strategy`] as `u32` or, for a reason other than
/// [`Reason::Any`], [`SAME`]; anything else is rejected.
pub(crate) fn select(reason: Reason, choice: u32) -> Result {
    let valid = Strategy::try_from(choice).is_ok() || (choice == SAME && reason != Reason::Any);
    if !valid {
        return Err(EINVAL);
    }
    reason.selected().store(choice, Relaxed);
    Ok(())
}

/// Parses a name written to the file of `reason`'s strategy: a strategy's
/// name, or [`SAME_NAME`] for a reason other than [`Reason::Any`].
pub(crate) fn parse_choice(reason: Reason, val: &[u8]) -> Result<u32> {
    let name = val.strip_suffix(b"\n").unwrap_or(val);
    if name == SAME_NAME && reason != Reason::Any {
        return Ok(SAME);
    }
    Strategy::parse(val).map(|s| s as u32)
}

/// The strategy for a yield with `reason`; `mainline` when the switch is off.
pub(crate) fn active_strategy(reason: Reason) -> Strategy {
    if !ENABLED.load(Relaxed) {
        return Strategy::Mainline;
    }
    let mut choice = selected(reason);
    if choice == SAME {
        choice = selected(Reason::Any);
    }
    // Only [`Strategy`] values and [`SAME`] are ever stored.
    Strategy::try_from(choice).unwrap_or(Strategy::Mainline)
}

/// Whether a strategy may act on some yield: the switch is on, and the
/// strategy of some reason is not `mainline`.
pub(crate) fn any_active() -> bool {
    Reason::ALL
        .into_iter()
        .any(|r| active_strategy(r) != Strategy::Mainline)
}

/// Whether the debooster may act. On by default.
///
/// Written by the debugfs file, read locklessly on the yield path: a yield
/// that races with a write may see either value, so relaxed is enough.
pub(crate) static ENABLED: Atomic<bool> = Atomic::new(true);

/// Parses a value written to `vcpu_debooster_enabled`: only 0 and 1 are valid.
pub(crate) fn parse_enabled(val: u64) -> Result<bool> {
    match val {
        0 => Ok(false),
        1 => Ok(true),
        _ => Err(EINVAL),
    }
}

#[kunit_tests(vcpu_boost_sched_strategy)]
mod tests {
    use super::*;

    #[test]
    fn enabled_accepts_only_0_and_1() {
        assert_eq!(parse_enabled(0), Ok(false));
        assert_eq!(parse_enabled(1), Ok(true));
        assert_eq!(parse_enabled(2), Err(EINVAL));
        assert_eq!(parse_enabled(u64::MAX), Err(EINVAL));
    }

    #[test]
    fn strategy_names() {
        assert_eq!(Strategy::parse(b"deboost"), Ok(Strategy::Deboost));
        assert_eq!(Strategy::parse(b"lag-credit\n"), Ok(Strategy::LagCredit));
        assert_eq!(Strategy::parse(b"proportional"), Ok(Strategy::Proportional));
        assert_eq!(Strategy::parse(b"donate"), Ok(Strategy::Donate));
        assert_eq!(Strategy::parse(b"handoff"), Ok(Strategy::Handoff));
        assert_eq!(Strategy::parse(b"mainline"), Ok(Strategy::Mainline));
        // The Rust enum is the C enum, value for value.
        for (i, s) in Strategy::ALL.into_iter().enumerate() {
            assert_eq!(s as u32 as usize, i);
            assert_eq!(Strategy::try_from(s as u32), Ok(s));
        }
        assert_eq!(
            Strategy::ALL.len(),
            bindings::sched_vcpu_yield_strategy_SCHED_VCPU_YIELD_NR as usize
        );
        assert_eq!(
            Strategy::parse(b"proportional").map(|s| s as u32),
            Ok(bindings::sched_vcpu_yield_strategy_SCHED_VCPU_YIELD_PROPORTIONAL)
        );
        assert_eq!(
            Strategy::try_from(bindings::sched_vcpu_yield_strategy_SCHED_VCPU_YIELD_NR),
            Err(EINVAL)
        );
        assert_eq!(Strategy::try_from(u32::MAX), Err(EINVAL));
        assert_eq!(Strategy::parse(b"lag_credit"), Err(EINVAL));
        assert_eq!(Strategy::parse(b"deboost\n\n"), Err(EINVAL));
        assert_eq!(Strategy::parse(b""), Err(EINVAL));
        assert_eq!(Strategy::parse(b"[deboost]"), Err(EINVAL));
        // Only deboost and lag-credit obey the rate limit.
        let limited = Strategy::ALL.map(Strategy::rate_limits);
        assert_eq!(limited, [true, true, false, false, false, true]);
    }

    #[test]
    fn reasons_and_their_choices() {
        // The Rust enum is the C enum, value for value.
        for (i, r) in Reason::ALL.into_iter().enumerate() {
            assert_eq!(r as u32 as usize, i);
            assert_eq!(Reason::try_from(r as u32), Ok(r));
        }
        assert_eq!(
            Reason::try_from(bindings::yield_to_reason_YIELD_TO_NR_REASONS),
            Err(EINVAL)
        );
        // "same" is a choice for a reason of its own, not for the default.
        assert_eq!(parse_choice(Reason::IpiReceiver, b"same\n"), Ok(SAME));
        assert_eq!(parse_choice(Reason::Any, b"same"), Err(EINVAL));
        assert_eq!(
            parse_choice(Reason::IpiReceiver, b"lag-credit"),
            Ok(Strategy::LagCredit as u32)
        );
        assert_eq!(parse_choice(Reason::IpiReceiver, b"sam"), Err(EINVAL));
        assert_eq!(parse_choice(Reason::IpiReceiver, b"same\n\n"), Err(EINVAL));
        assert_eq!(parse_choice(Reason::Any, b"donate\n\n"), Err(EINVAL));
        // SAME is no strategy, so it can never be taken for one.
        assert_eq!(Strategy::try_from(SAME), Err(EINVAL));
    }
}
