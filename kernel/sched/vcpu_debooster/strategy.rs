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
    /// Make the target eligible, paid by the yielder, which goes behind it
    /// only, its deadline kept, instead of forfeiting its request.
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

    /// Where the strategy for this reason sits in [`Controls`].
    const fn shift(self) -> u32 {
        match self {
            Reason::Any => 8,
            Reason::IpiReceiver => 16,
        }
    }
}

impl TryFrom<u32> for Reason {
    type Error = Error;

    fn try_from(v: u32) -> Result<Self> {
        Self::ALL.into_iter().find(|r| *r as u32 == v).ok_or(EINVAL)
    }
}

/// The run-time controls, as one word: the switch and the selection of
/// each [`Reason`].
///
/// The yield path reads them with one load, so that a yield sees one state
/// of all three, and the debugfs files write them with compare-and-exchange.
///
/// # Invariants
///
/// Bit 0 is the switch; bits 8 to 15 hold a [`Strategy`] (the selection of
/// [`Reason::Any`]), bits 16 to 23 a [`Strategy`] or [`SAME`] (that of
/// [`Reason::IpiReceiver`]); every other bit is 0.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Controls(u32);

/// Where [`Controls`] live. Written only through debugfs, read by every
/// `yield_to()` past the hook's key: read-mostly, like KVM's parameters.
#[link_section = ".data..read_mostly"]
static CONTROLS: Atomic<u32> = Atomic::new(Controls::DEFAULT.0);

impl Controls {
    /// The boot defaults: the switch on, `donate` for every yield without a
    /// reason of its own, `handoff` for the yields to an IPI's receiver.
    ///
    /// `handoff` there because such a receiver needs the CPU now, to
    /// answer, but not the rest of the sender's slice, which `donate` would
    /// give it and which one that computes between IPIs spends while the
    /// sender waits; and the sender, instead of going behind every other
    /// task on its CPU, goes behind the receiver only: still eligible, it
    /// keeps its place and runs again once the receiver has run; just past
    /// the queue's average, once the average has moved on about a sixteenth
    /// of a slice.
    const DEFAULT: Controls = Controls(
        1 | (Strategy::Donate as u32) << Reason::Any.shift()
            | (Strategy::Handoff as u32) << Reason::IpiReceiver.shift(),
    );

    /// The controls as they are now.
    pub(crate) fn load() -> Self {
        // INVARIANT: Only `update` stores, and only values that keep them.
        Self(CONTROLS.load(Relaxed))
    }

    /// Replaces the controls by what `f` makes of them, as one step against
    /// concurrent writes of the other files; an error of `f` leaves them as
    /// they were.
    fn update(f: impl Fn(Self) -> Result<Self>) -> Result {
        let mut old = Self::load();
        loop {
            let new = f(old)?;
            match CONTROLS.cmpxchg(old.0, new.0, Relaxed) {
                Ok(_) => return Ok(()),
                Err(now) => old = Self(now),
            }
        }
    }

    /// The same controls with `choice` selected for `reason`: a
    /// [`Strategy`] as `u32` or, for a reason other than [`Reason::Any`],
    /// [`SAME`]; anything else is rejected.
    pub(crate) fn with_choice(self, reason: Reason, choice: u32) -> Result<Self> {
        let valid = Strategy::try_from(choice).is_ok() || (choice == SAME && reason != Reason::Any);
        if !valid {
            return Err(EINVAL);
        }
        // INVARIANT: `choice` is valid for `reason` and at most `SAME`, so
        // it fits and lands in `reason`'s bits alone.
        Ok(Self(
            (self.0 & !(0xff << reason.shift())) | choice << reason.shift(),
        ))
    }

    /// The same controls with the switch `on` or off.
    pub(crate) fn with_enabled(self, on: bool) -> Self {
        // INVARIANT: Only bit 0 changes.
        Self((self.0 & !1) | u32::from(on))
    }

    /// Whether the switch is on.
    pub(crate) fn enabled(self) -> bool {
        self.0 & 1 != 0
    }

    /// What is selected for `reason`: a [`Strategy`] as `u32`, or [`SAME`].
    pub(crate) fn selected(self, reason: Reason) -> u32 {
        (self.0 >> reason.shift()) & 0xff
    }

    /// The strategy for a yield with `reason`; `mainline` when the switch
    /// is off.
    pub(crate) fn strategy(self, reason: Reason) -> Strategy {
        if !self.enabled() {
            return Strategy::Mainline;
        }
        let mut choice = self.selected(reason);
        if choice == SAME {
            choice = self.selected(Reason::Any);
        }
        // By the type invariants, `Reason::Any` holds a `Strategy`.
        Strategy::try_from(choice).unwrap_or(Strategy::Mainline)
    }
}

// Every choice fits the 8 bits the controls give it.
const _: () = assert!(SAME <= 0xff);

/// In the selection of a reason other than [`Reason::Any`]: whatever that
/// of [`Reason::Any`] is.
pub(crate) const SAME: u32 = bindings::sched_vcpu_yield_strategy_SCHED_VCPU_YIELD_NR;

/// The name of [`SAME`] in `vcpu_ipi_yield_strategy`.
pub(crate) const SAME_NAME: &[u8] = b"same";

/// What is selected for `reason`: a [`Strategy`] as `u32`, or [`SAME`].
pub(crate) fn selected(reason: Reason) -> u32 {
    Controls::load().selected(reason)
}

/// Selects `choice`, a [`Strategy`] as `u32` or, for a reason other than
/// [`Reason::Any`], [`SAME`]; anything else is rejected.
pub(crate) fn select(reason: Reason, choice: u32) -> Result {
    Controls::update(|c| c.with_choice(reason, choice))
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
    Controls::load().strategy(reason)
}

/// Whether a strategy may act on some yield: the switch is on, and the
/// strategy of some reason is not `mainline`.
pub(crate) fn any_active() -> bool {
    let c = Controls::load();
    Reason::ALL
        .into_iter()
        .any(|r| c.strategy(r) != Strategy::Mainline)
}

/// Whether the debooster may act. On by default. A yield that races with a
/// write sees either value.
pub(crate) fn enabled() -> bool {
    Controls::load().enabled()
}

/// Switches the debooster on or off.
pub(crate) fn set_enabled(on: bool) {
    // `with_enabled` cannot fail.
    let _ = Controls::update(|c| Ok(c.with_enabled(on)));
}

/// Parses a value written to `vcpu_debooster_enabled`: only 0 and 1 are valid.
pub(crate) fn parse_enabled(val: u64) -> Result<bool> {
    match val {
        0 => Ok(false),
        1 => Ok(true),
        _ => Err(EINVAL),
    }
}

#[cfg(CONFIG_VCPU_BOOST_KUNIT_TEST)]
#[kernel::macros::kunit_tests(vcpu_boost_sched_strategy)]
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
    fn controls_are_one_word() {
        let d = Controls::DEFAULT;
        assert!(d.enabled());
        assert_eq!(d.selected(Reason::Any), Strategy::Donate as u32);
        assert_eq!(d.selected(Reason::IpiReceiver), Strategy::Handoff as u32);
        assert_eq!(d.strategy(Reason::IpiReceiver), Strategy::Handoff);
        // Each write changes its own field alone.
        let c = d.with_choice(Reason::IpiReceiver, SAME);
        assert_eq!(c, Ok(Controls(d.0 & !(0xff << 16) | SAME << 16)));
        let c = c.unwrap_or(d);
        assert_eq!(c.strategy(Reason::IpiReceiver), Strategy::Donate);
        let c = c
            .with_choice(Reason::Any, Strategy::Deboost as u32)
            .unwrap_or(d);
        assert_eq!((c.enabled(), c.selected(Reason::IpiReceiver)), (true, SAME));
        assert_eq!(c.strategy(Reason::IpiReceiver), Strategy::Deboost);
        let off = c.with_enabled(false);
        assert_eq!(off.0, c.0 & !1);
        assert_eq!(off.strategy(Reason::Any), Strategy::Mainline);
        assert_eq!(off.selected(Reason::Any), Strategy::Deboost as u32);
        assert_eq!(off.with_enabled(true), c);
        // Invalid choices are refused, whatever their bits.
        assert_eq!(d.with_choice(Reason::Any, SAME), Err(EINVAL));
        assert_eq!(d.with_choice(Reason::Any, SAME + 1), Err(EINVAL));
        assert_eq!(d.with_choice(Reason::IpiReceiver, 0x100), Err(EINVAL));
        assert_eq!(d.with_choice(Reason::IpiReceiver, u32::MAX), Err(EINVAL));
        // The largest valid choice of each reason stays in its field.
        for (r, top) in [
            (Reason::Any, Strategy::Mainline as u32),
            (Reason::IpiReceiver, SAME),
        ] {
            let c = d.with_choice(r, top).unwrap_or(d);
            assert_eq!(c.selected(r), top);
            assert_eq!(c.0 & !(0xff << r.shift()), d.0 & !(0xff << r.shift()));
        }
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
