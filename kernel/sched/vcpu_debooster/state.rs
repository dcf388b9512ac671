// SPDX-License-Identifier: GPL-2.0

//! Per-runqueue state: the views the exported functions make of
//! `struct sched_vcpu_deboost_rq`, the table of its counters, and the
//! shared steps of every strategy (the gate's checks and the frame of a
//! decision).

use crate::{
    policy::{is_reverse_pair, need, rate_limited, validate, Refusal},
    strategy::Strategy,
};
use core::{
    marker::PhantomData,
    ptr::{addr_of_mut, NonNull},
};
use kernel::{
    bindings,
    sync::atomic::{Atomic, Relaxed},
};

/// A counter of `struct sched_vcpu_deboost_stats`: its name, which is the
/// field's and the line's in `vcpu_debooster_stats`, and where the field is.
///
/// # Invariants
///
/// `offset` is the offset of a `u64` field of `sched_vcpu_deboost_stats`:
/// the constants below are the only values.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Counter {
    /// The field's name.
    pub(crate) name: &'static str,
    /// The field's offset in the struct.
    offset: usize,
}

/// Defines one [`Counter`] constant per field, and the table of them all.
macro_rules! counters {
    ($($konst:ident: $field:ident),* $(,)?) => {
        impl Counter {
            $(
                #[doc = concat!("`", stringify!($field), "`.")]
                pub(crate) const $konst: Counter = Counter {
                    name: stringify!($field),
                    offset: core::mem::offset_of!(bindings::sched_vcpu_deboost_stats, $field),
                };
            )*
            /// Every counter, in the order of the struct.
            pub(crate) const ALL: &'static [Counter] = &[$(Counter::$konst),*];
        }
    };
}

counters!(
    CALLS: calls,
    APPLIED: applied,
    CREDITED: credited,
    PUSHED: pushed,
    DONATED: donated,
    HANDED_OFF: handed_off,
    DEBOUNCED: debounced,
    RATE_LIMITED: rate_limited,
    NO_CONTENTION: no_contention,
    NO_TARGET: no_target,
    SELF_YIELD: self_yield,
    TARGET_NOT_FAIR: target_not_fair,
    OTHER_RQ: other_rq,
    NOT_QUEUED: not_queued,
    IPI_RECEIVER: ipi_receiver,
);

// The table has every field of the struct, once and in its order: the
// struct holds nothing but counters, as many as the table, and the table's
// n-th counter is the n-th field.
const _: () = {
    let size = core::mem::size_of::<u64>();
    assert!(
        Counter::ALL.len() * size == core::mem::size_of::<bindings::sched_vcpu_deboost_stats>()
    );
    let mut i = 0;
    while i < Counter::ALL.len() {
        assert!(Counter::ALL[i].offset == i * size);
        i += 1;
    }
};

impl Refusal {
    /// The counter of this reason.
    fn counter(self) -> Counter {
        match self {
            Refusal::NoTarget => Counter::NO_TARGET,
            Refusal::SelfYield => Counter::SELF_YIELD,
            Refusal::TargetNotFair => Counter::TARGET_NOT_FAIR,
            Refusal::OtherRq => Counter::OTHER_RQ,
            Refusal::NotQueued => Counter::NOT_QUEUED,
            Refusal::RateLimited => Counter::RATE_LIMITED,
            Refusal::NoContention => Counter::NO_CONTENTION,
        }
    }
}

/// A view of one `struct sched_vcpu_deboost_stats` as atomic counters.
///
/// Every CPU may load a runqueue's counters at any time (the stats file
/// sums them without taking the runqueue locks), so they are never
/// accessed through a Rust reference to the struct or to a plain `u64`.
///
/// # Invariants
///
/// `ptr` points to a `sched_vcpu_deboost_stats` that is live for `'a` and
/// whose fields are only ever accessed atomically while it is shared.
pub(crate) struct Counters<'a> {
    ptr: NonNull<bindings::sched_vcpu_deboost_stats>,
    _lifetime: PhantomData<&'a bindings::sched_vcpu_deboost_stats>,
}

impl<'a> Counters<'a> {
    /// FFI helper: the view of the counters at `ptr`, for the exported
    /// functions that receive them from C.
    ///
    /// # Safety
    ///
    /// `ptr` is valid for reads and writes of a `sched_vcpu_deboost_stats`
    /// for `'a`, and its fields are only accessed atomically meanwhile.
    pub(crate) unsafe fn from_raw(ptr: *mut bindings::sched_vcpu_deboost_stats) -> Option<Self> {
        // INVARIANT: By the safety requirements.
        Some(Self {
            ptr: NonNull::new(ptr)?,
            _lifetime: PhantomData,
        })
    }

    /// The counter `c` as an atomic.
    fn get(&self, c: Counter) -> &Atomic<u64> {
        let field = self.ptr.as_ptr().cast::<u8>().wrapping_add(c.offset);
        // SAFETY: By the type invariants, the struct is live for the
        // lifetime of `self` and its fields are only accessed atomically;
        // `c.offset` is the offset of one of its `u64` fields (`Counter`'s
        // constants are the only values), so `field` is valid and aligned.
        unsafe { Atomic::from_ptr(field.cast::<u64>()) }
    }

    /// Loads counter `c`.
    pub(crate) fn load(&self, c: Counter) -> u64 {
        self.get(c).load(Relaxed)
    }

    /// Adds `n` to counter `c`. Not atomic as a whole: only for counters
    /// with one writer at a time, as WRITE_ONCE(c, READ_ONCE(c) + n) in C.
    pub(crate) fn add(&self, c: Counter, n: u64) {
        let a = self.get(c);
        a.store(a.load(Relaxed).wrapping_add(n), Relaxed);
    }
}

/// One runqueue's debooster state, as the holder of that runqueue's lock
/// sees it: the fields only the lock holder touches, by `&mut`, and the
/// counters, which other CPUs read, as atomics.
///
/// # Invariants
///
/// The fields view one live `sched_vcpu_deboost_rq` whose runqueue lock is
/// held for `'a`: nothing else accesses `last_*` meanwhile, and nothing
/// else writes `counters`.
pub(crate) struct RqState<'a> {
    last_apply_ns: &'a mut u64,
    last_pair_ns: &'a mut u64,
    last_yielder: &'a mut i32,
    last_target: &'a mut i32,
    counters: Counters<'a>,
}

impl<'a> RqState<'a> {
    /// FFI helper: the view of the state at `st`, for the exported
    /// functions that receive it from `fair.c`; `None` for a null pointer.
    ///
    /// # Safety
    ///
    /// `st` is null or points to the live `sched_vcpu_deboost_rq` of a
    /// runqueue whose lock the caller holds for `'a`.
    pub(crate) unsafe fn from_raw(st: *mut bindings::sched_vcpu_deboost_rq) -> Option<Self> {
        if st.is_null() {
            return None;
        }
        // SAFETY: `st` is valid and the runqueue lock is held for `'a`, by
        // the safety requirements; the lock holder is the only one to
        // access the `last_*` fields, so each may be borrowed uniquely.
        // None of these borrows covers `stats`, which other CPUs read.
        // INVARIANT: As just said; `counters` is written only under the
        // lock, atomically.
        unsafe {
            Some(Self {
                last_apply_ns: &mut *addr_of_mut!((*st).last_apply_ns),
                last_pair_ns: &mut *addr_of_mut!((*st).last_pair_ns),
                last_yielder: &mut *addr_of_mut!((*st).last_yielder),
                last_target: &mut *addr_of_mut!((*st).last_target),
                counters: Counters::from_raw(addr_of_mut!((*st).stats))?,
            })
        }
    }

    /// Counts one event in counter `c`; the lock makes this the only writer.
    pub(crate) fn bump(&mut self, c: Counter) {
        self.counters.add(c, 1);
    }
}

/// [`sched_vcpu_deboost_gate`], on the views of its arguments.
pub(crate) fn check(st: &mut RqState<'_>, y: &mut bindings::sched_vcpu_deboost_yield) -> bool {
    let strategy = Strategy::try_from(y.strategy).unwrap_or(Strategy::Mainline);
    if strategy == Strategy::Mainline {
        return false;
    }
    if let Err(why) = validate(y) {
        st.bump(why.counter());
        return false;
    }

    y.reverse_pair = is_reverse_pair(
        *st.last_yielder,
        *st.last_target,
        *st.last_pair_ns,
        y.yielder_pid,
        y.target_pid,
        y.now,
    );
    *st.last_yielder = y.yielder_pid;
    *st.last_target = y.target_pid;
    *st.last_pair_ns = y.now;

    if strategy.rate_limits() && rate_limited(y.now, *st.last_apply_ns) {
        st.bump(Refusal::RateLimited.counter());
        return false;
    }
    true
}

/// What a strategy did, for the counters.
pub(crate) enum Action {
    /// `deboost` pushed the yielder; the debounce may have cut the push.
    Penalty { debounced: bool },
    /// `lag-credit` credited the target, or `handoff` did, but left it short
    /// of what the pick takes without the forfeit, or found no room for
    /// the step back before the yielder's deadline.
    Credit,
    /// `proportional` pushed the yielder.
    Push,
    /// `donate` gave the target the yielder's forfeit.
    Donate,
    /// `handoff` left the target eligible: the yielder stays behind it
    /// (stepping back if it is just past the average) instead of forfeiting.
    Handoff,
}

impl Action {
    /// The counter of this kind of action, beside `applied`.
    fn counter(self) -> Option<Counter> {
        match self {
            Action::Penalty { debounced: false } => None,
            Action::Penalty { debounced: true } => Some(Counter::DEBOUNCED),
            Action::Credit => Some(Counter::CREDITED),
            Action::Push => Some(Counter::PUSHED),
            Action::Donate => Some(Counter::DONATED),
            Action::Handoff => Some(Counter::HANDED_OFF),
        }
    }
}

/// The frame of every strategy's decision: clears the outputs, measures
/// how far the target is ahead (`y.need`) and refuses, counted, when at
/// most one task is queued where the decision is made; otherwise runs
/// `strategy`, which fills its outputs in `y` and returns what it did, if
/// anything. An action starts the rate limit and counts as applied, and by
/// its kind.
pub(crate) fn decide(
    st: &mut RqState<'_>,
    y: &mut bindings::sched_vcpu_deboost_yield,
    strategy: impl FnOnce(&mut bindings::sched_vcpu_deboost_yield) -> Option<Action>,
) {
    y.penalty = 0;
    y.credit = 0;
    y.debounced = false;
    y.keep_deadline = false;
    y.step = 0;
    y.need = need(y.yielder_vruntime, y.target_vruntime);
    if y.h_nr_queued <= 1 {
        st.bump(Refusal::NoContention.counter());
        return;
    }
    if let Some(action) = strategy(y) {
        *st.last_apply_ns = y.now;
        st.bump(Counter::APPLIED);
        if let Some(c) = action.counter() {
            st.bump(c);
        }
    }
}

#[cfg(CONFIG_VCPU_BOOST_KUNIT_TEST)]
#[kernel::macros::kunit_tests(vcpu_boost_sched_state)]
mod tests {
    use super::*;

    #[test]
    fn counters_cover_every_field_once() {
        // SAFETY: All-zero is a valid set of counters.
        let mut stats: bindings::sched_vcpu_deboost_stats = unsafe { core::mem::zeroed() };
        stats.calls = 1;
        stats.applied = 2;
        stats.not_queued = 13;
        // SAFETY: `stats` is local and accessed only through this view
        // while the view is used.
        let view = unsafe { Counters::from_raw(&mut stats) };
        assert!(view.is_some());
        let Some(view) = view else { return };
        assert_eq!(view.load(Counter::CALLS), 1);
        assert_eq!(view.load(Counter::APPLIED), 2);
        assert_eq!(view.load(Counter::NOT_QUEUED), 13);
        // Distinct fields, the names of the C fields, in their order.
        for (i, c) in Counter::ALL.iter().enumerate() {
            assert_eq!(c.offset, i * core::mem::size_of::<u64>());
            view.add(*c, 100);
        }
        assert_eq!((stats.calls, stats.rate_limited), (101, 100));
        assert_eq!(stats.not_queued, 113);
        let name = |i: usize| Counter::ALL.get(i).map(|c| c.name);
        assert_eq!(name(0), Some("calls"));
        assert_eq!(name(5), Some("handed_off"));
        assert_eq!(name(7), Some("rate_limited"));
        assert_eq!(name(13), Some("not_queued"));
        assert_eq!(name(14), Some("ipi_receiver"));
        assert_eq!(name(15), None);
    }
}
