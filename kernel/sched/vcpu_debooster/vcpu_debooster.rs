// SPDX-License-Identifier: GPL-2.0

//! vCPU debooster: a lasting advantage for the target of `yield_to()`.
//!
//! When a vCPU thread spins on a lock whose holder was preempted, KVM calls
//! `yield_to()` on the holder. The fair class then only sets the holder as
//! the next buddy, a preference that is gone after one pick. The strategy
//! selected at run time makes the advantage last, paid for by the yielder:
//! `donate` (the default) moves the yielder's forfeited slice to the
//! target, `deboost` (the series' debooster) pushes the yielder's vruntime
//! forward by a bounded penalty, `lag-credit` and `proportional` are the
//! alternatives from the review, `handoff` makes the target eligible and
//! keeps the yielder behind it only instead of the forfeit (for yields to
//! an IPI's receiver, which must answer, not run on), `mainline` does
//! nothing more.
//!
//! `yield_to_task_fair()` calls [`sched_vcpu_deboost_begin`] and
//! [`sched_vcpu_deboost_gate`], then the strategy's `_decide` function,
//! between the accounting of the yielder and its forfeit (`donate` and
//! `proportional`: after the forfeit), so that the vruntime gap is
//! measured on true values. The C side gathers what only `fair.c` can see
//! (the two sched entities, where their cgroup hierarchies meet, the
//! weights) and applies the result; every decision is made here.
//!
//! This file holds only the entry points that C calls, each turning its
//! pointers into safe views; the rest is safe Rust, one concern a module:
//! [`policy`] (the arithmetic of every decision), [`strategy`] (the
//! run-time controls) and [`state`] (the per-runqueue state, its counters
//! and the steps all strategies share).
//!
//! The run-time switch is `/sys/kernel/debug/sched/vcpu_debooster_enabled`,
//! the strategy `/sys/kernel/debug/sched/vcpu_yield_strategy`; the
//! counters are in `/sys/kernel/debug/sched/vcpu_debooster_stats`.

mod policy;
mod state;
mod strategy;

use core::ptr::addr_of_mut;
use kernel::{
    bindings,
    error::code::EINVAL,
    ffi::{c_char, c_int, c_void},
    prelude::*,
    seq_file::SeqFile,
    seq_print,
    str::BStr,
};
use policy::{
    credit_room, donation, hands_off, lag_credit, lag_credit_pay, penalty, proportional_push,
    step_back,
};
use state::{check, decide, Action, Counter, Counters, RqState};
use strategy::{
    active_strategy, any_active, enabled, parse_choice, parse_enabled, select, selected,
    set_enabled, Reason, Strategy, SAME, SAME_NAME,
};

/// First step, for every `yield_to()` that gets past the hook's static key
/// with the yielder not alone on its runqueue (alone, it forfeits nothing
/// and the hook does not run): counts the call (and by its reason) and
/// returns the strategy to apply to it, the one selected for its `reason`
/// (`enum yield_to_reason`; an unknown one counts as none given),
/// `mainline` when the switch is off (a write racing with the key). With
/// the switch off or `mainline` selected for every reason, the key keeps
/// `yield_to()` from calling this at all.
///
/// # Safety
///
/// `st` is the state of the runqueue whose lock the caller holds, valid for
/// the duration of the call.
#[export]
pub unsafe extern "C" fn sched_vcpu_deboost_begin(
    st: *mut bindings::sched_vcpu_deboost_rq,
    reason: u32,
) -> bindings::sched_vcpu_yield_strategy {
    let reason = Reason::try_from(reason).unwrap_or(Reason::Any);
    // SAFETY: The caller holds the lock of the runqueue that `st` belongs
    // to for this call (this function's safety requirements).
    if let Some(mut st) = unsafe { RqState::from_raw(st) } {
        st.bump(Counter::CALLS);
        if reason == Reason::IpiReceiver {
            st.bump(Counter::IPI_RECEIVER);
        }
    }
    active_strategy(reason) as u32
}

/// Whether a strategy may act: the switch is on and the strategy selected
/// for some reason is not `mainline`. The hook's static key follows it
/// (`sched_vcpu_yield_key_sync()`).
///
/// # Safety
///
/// Always safe to call; `unsafe` only because of `#[export]`.
#[export]
pub unsafe extern "C" fn sched_vcpu_deboost_active() -> bool {
    any_active()
}

/// Second step, for the strategy [`sched_vcpu_deboost_begin`] returned (in
/// `y.strategy`): checks the two tasks and the rate limit (for the
/// strategies that have one), and records the pair for the reverse-pair
/// debounce. Returns whether to go on with the strategy's decision:
/// [`sched_vcpu_deboost_decide`], [`sched_vcpu_lag_credit_decide`],
/// [`sched_vcpu_proportional_decide`] or [`sched_vcpu_donate_decide`].
///
/// The pair is recorded for every valid yield, also a rate-limited one: the
/// debounce looks for ping-pong between two tasks, which shows in yields
/// the rate limit refuses too. Were it recorded only with a penalty, the
/// last pair would always be older than the 6 ms rate limit and the 600 µs
/// debounce could never act.
///
/// # Safety
///
/// `st` is the state of the runqueue whose lock the caller holds, and `y`
/// is valid for reads and writes and used by no one else; both for the
/// duration of the call.
#[export]
pub unsafe extern "C" fn sched_vcpu_deboost_gate(
    st: *mut bindings::sched_vcpu_deboost_rq,
    y: *mut bindings::sched_vcpu_deboost_yield,
) -> bool {
    // SAFETY: This function's safety requirements are those of `views`.
    let Some((mut st, y)) = (unsafe { views(st, y) }) else {
        return false;
    };
    check(&mut st, y)
}

/// Third step for the strategy `deboost`: computes the penalty from the
/// facts the C hook added to `y`, and stores it in `y.penalty` (0: none),
/// with `y.need` and `y.debounced`. A penalty counts as applied and starts
/// the rate limit.
///
/// # Safety
///
/// As for [`sched_vcpu_deboost_gate`].
#[export]
pub unsafe extern "C" fn sched_vcpu_deboost_decide(
    st: *mut bindings::sched_vcpu_deboost_rq,
    y: *mut bindings::sched_vcpu_deboost_yield,
) {
    // SAFETY: This function's safety requirements are those of `views`.
    let Some((mut st, y)) = (unsafe { views(st, y) }) else {
        return;
    };
    decide(&mut st, y, |y| {
        // vruntime is a wrapping clock, compared through differences:
        // the C side adds the penalty with unsigned wrap-around, like
        // every other vruntime update.
        let p = penalty(y.gran, y.need, y.h_nr_queued, y.reverse_pair);
        y.penalty = p.penalty;
        y.debounced = p.debounced;
        (p.penalty != 0).then_some(Action::Penalty {
            debounced: p.debounced,
        })
    });
}

/// FFI helper: the views of the arguments of the exported steps.
///
/// # Safety
///
/// As for [`sched_vcpu_deboost_gate`], for `'a`.
unsafe fn views<'a>(
    st: *mut bindings::sched_vcpu_deboost_rq,
    y: *mut bindings::sched_vcpu_deboost_yield,
) -> Option<(RqState<'a>, &'a mut bindings::sched_vcpu_deboost_yield)> {
    // SAFETY: `st` belongs to the runqueue whose lock the caller holds for
    // `'a`, by the safety requirements.
    let st = unsafe { RqState::from_raw(st) }?;
    // SAFETY: `y` is null or valid and the caller's alone for `'a`, by the
    // safety requirements.
    let y = unsafe { y.as_mut() }?;
    Some((st, y))
}

/// Third step for the strategies `lag-credit` and `handoff`: computes the
/// lag to credit the target (`y.credit`, 0: none) from the queue's average
/// vruntime (`y.yielder_vruntime`) and the target's vruntime, and what the
/// yielder pays for it (`y.penalty`) from their weights, no more than keeps
/// the yielder within the lag EEVDF lets it keep (`y.own_lag_limit`, against
/// its deadline before the pay, `y.own_deadline`). For `handoff` also
/// whether the pick then takes the target, its next buddy (`y.buddy`), as
/// eligible, so that the yielder, instead of forfeiting the rest of its
/// request, steps back by `y.step` (0 while still eligible) from its
/// vruntime after the pay (`y.own_vruntime + y.penalty`) and keeps its
/// deadline (`y.own_deadline + y.penalty`, `y.keep_deadline`). A credit or
/// a hand-off counts as applied and starts the rate limit of the
/// strategies that have one.
///
/// # Safety
///
/// As for [`sched_vcpu_deboost_gate`].
#[export]
pub unsafe extern "C" fn sched_vcpu_lag_credit_decide(
    st: *mut bindings::sched_vcpu_deboost_rq,
    y: *mut bindings::sched_vcpu_deboost_yield,
) {
    // SAFETY: This function's safety requirements are those of `views`.
    let Some((mut st, y)) = (unsafe { views(st, y) }) else {
        return;
    };
    decide(&mut st, y, |y| {
        let room = credit_room(
            y.yielder_vruntime,
            y.own_deadline,
            y.own_lag_limit,
            y.target_weight,
            y.weight,
        );
        y.credit = lag_credit(y.need, y.gran, y.h_nr_queued).min(room);
        y.penalty = lag_credit_pay(y.credit, y.target_weight, y.weight);
        if y.strategy == Strategy::Handoff as u32 && hands_off(y.buddy, y.need, y.credit) {
            let vruntime = y.own_vruntime.wrapping_add(y.penalty);
            let deadline = y.own_deadline.wrapping_add(y.penalty);
            if let Some(step) = step_back(y.yielder_vruntime, vruntime, deadline, y.gran) {
                y.keep_deadline = true;
                y.step = step;
                return Some(Action::Handoff);
            }
        }
        (y.credit != 0).then_some(Action::Credit)
    });
}

/// Third step for the strategy `proportional`, called after
/// `yield_task_fair()` forfeited: computes the yielder's push (`y.penalty`,
/// 0: none) from its slice in virtual time (`y.gran`), the levels of its
/// hierarchy, its vruntime and the queue's average (`y.target_vruntime`).
/// A push counts as applied.
///
/// # Safety
///
/// As for [`sched_vcpu_deboost_gate`].
#[export]
pub unsafe extern "C" fn sched_vcpu_proportional_decide(
    st: *mut bindings::sched_vcpu_deboost_rq,
    y: *mut bindings::sched_vcpu_deboost_yield,
) {
    // SAFETY: This function's safety requirements are those of `views`.
    let Some((mut st, y)) = (unsafe { views(st, y) }) else {
        return;
    };
    decide(&mut st, y, |y| {
        // The wrapped difference, read as signed, is the comparison.
        let lag = y.target_vruntime.wrapping_sub(y.yielder_vruntime) as i64;
        let n = usize::try_from(y.nr_levels).unwrap_or(usize::MAX);
        let levels = y.levels.get(..n).unwrap_or(&y.levels);
        y.penalty = proportional_push(y.gran, levels, lag, y.weight, y.total_weight);
        (y.penalty != 0).then_some(Action::Push)
    });
}

/// Third step for the strategy `donate`, called after `yield_task_fair()`
/// forfeited: computes how far the target's vruntime moves back
/// (`y.credit`, 0: none) from the forfeit, the two weights, the target's
/// vruntime, the queue's average and the lag limit. A donation counts as
/// applied.
///
/// # Safety
///
/// As for [`sched_vcpu_deboost_gate`].
#[export]
pub unsafe extern "C" fn sched_vcpu_donate_decide(
    st: *mut bindings::sched_vcpu_deboost_rq,
    y: *mut bindings::sched_vcpu_deboost_yield,
) {
    // SAFETY: This function's safety requirements are those of `views`.
    let Some((mut st, y)) = (unsafe { views(st, y) }) else {
        return;
    };
    decide(&mut st, y, |y| {
        // The wrapped difference, read as signed, is the comparison.
        let lag = y.avg_vruntime.wrapping_sub(y.target_vruntime) as i64;
        y.credit = donation(y.forfeit, y.weight, y.target_weight, lag, y.lag_limit);
        (y.credit != 0).then_some(Action::Donate)
    });
}

/// Shows the strategy selected for `reason` (`enum yield_to_reason`):
/// `vcpu_yield_strategy` for none given, `vcpu_ipi_yield_strategy` for an
/// IPI's receiver, which also offers `same`. Every name, the selected one in
/// brackets; nothing for an unknown reason.
///
/// # Safety
///
/// `m` points to a valid `seq_file` that no other thread uses during the call.
#[export]
pub unsafe extern "C" fn sched_vcpu_yield_strategy_show(m: *mut bindings::seq_file, reason: u32) {
    // SAFETY: `m` is a valid `seq_file` that this call alone uses, by the
    // safety requirements.
    let m = unsafe { SeqFile::from_raw(m) };
    let Ok(reason) = Reason::try_from(reason) else {
        return;
    };
    let choice = selected(reason);
    let same = (reason != Reason::Any).then_some((SAME, SAME_NAME));
    let names = Iterator::chain(
        same.into_iter(),
        Strategy::ALL.into_iter().map(|s| (s as u32, s.name())),
    );
    for (i, (value, name)) in names.enumerate() {
        let sep = if i == 0 { "" } else { " " };
        let name = BStr::from_bytes(name);
        if value == choice {
            seq_print!(m, "{sep}[{name}]");
        } else {
            seq_print!(m, "{sep}{name}");
        }
    }
    seq_print!(m, "\n");
}

/// The name of `strategy`, for the tracepoint; `unknown` when it is none.
///
/// # Safety
///
/// Always safe to call; `unsafe` only because of `#[export]`.
#[export]
pub unsafe extern "C" fn sched_vcpu_yield_strategy_name(
    strategy: bindings::sched_vcpu_yield_strategy,
) -> *const c_char {
    Strategy::try_from(strategy)
        .map_or(c"unknown", Strategy::c_name)
        .as_char_ptr()
}

/// Selects the strategy for `reason` (`enum yield_to_reason`) by name.
/// Unknown names and reasons are rejected with `-EINVAL` and leave the
/// selection as it was.
///
/// # Safety
///
/// `buf` is valid for reads of `len` bytes.
#[export]
pub unsafe extern "C" fn sched_vcpu_yield_strategy_write(
    buf: *const c_char,
    len: usize,
    reason: u32,
) -> c_int {
    if buf.is_null() {
        return EINVAL.to_errno();
    }
    // SAFETY: `buf` is not null and valid for reads of `len` bytes, by the
    // safety requirements.
    let val = unsafe { core::slice::from_raw_parts(buf.cast::<u8>(), len) };
    let done = Reason::try_from(reason)
        .and_then(|r| parse_choice(r, val).and_then(|choice| select(r, choice)));
    match done {
        Ok(()) => 0,
        Err(e) => e.to_errno(),
    }
}

/// Loads every counter of `from` and adds it to `sum`.
///
/// # Safety
///
/// `sum` is valid for reads and writes and private to the caller; `from`
/// points to a live runqueue state.
#[export]
pub unsafe extern "C" fn sched_vcpu_deboost_stats_add(
    sum: *mut bindings::sched_vcpu_deboost_stats,
    from: *const bindings::sched_vcpu_deboost_rq,
) {
    if from.is_null() {
        return;
    }
    // SAFETY: `sum` is private to this call, so any access is fine, and
    // `from` is a live runqueue state, whose counters are only ever
    // accessed atomically (by the `RqState` of its lock holder and by this
    // function), by the safety requirements.
    let (Some(sum), Some(from)) = (unsafe { Counters::from_raw(sum) }, unsafe {
        Counters::from_raw(addr_of_mut!((*from.cast_mut()).stats))
    }) else {
        return;
    };
    for &c in Counter::ALL {
        sum.add(c, from.load(c));
    }
}

/// Prints summed counters into `/sys/kernel/debug/sched/vcpu_debooster_stats`.
///
/// # Safety
///
/// `m` points to a valid `seq_file` that no other thread uses during the
/// call, and `s` to valid counters that no other thread writes.
#[export]
pub unsafe extern "C" fn sched_vcpu_deboost_stats_print(
    m: *mut bindings::seq_file,
    s: *const bindings::sched_vcpu_deboost_stats,
) {
    // SAFETY: `m` is a valid `seq_file` that this call alone uses, by the
    // safety requirements.
    let m = unsafe { SeqFile::from_raw(m) };
    seq_print!(m, "enabled {}\n", u8::from(enabled()));
    // SAFETY: `s` is valid and nobody writes it during the call, by the
    // safety requirements; this view only loads.
    let Some(s) = (unsafe { Counters::from_raw(s.cast_mut()) }) else {
        return;
    };
    for &c in Counter::ALL {
        seq_print!(m, "{} {}\n", c.name, s.load(c));
    }
}

/// debugfs getter of `vcpu_debooster_enabled`.
///
/// # Safety
///
/// `val` must be valid for a write of a `u64`.
#[export]
pub unsafe extern "C" fn sched_vcpu_debooster_enabled_get(
    _data: *mut c_void,
    val: *mut u64,
) -> c_int {
    // SAFETY: `val` is valid for a write of a `u64` (this function's safety
    // requirements).
    unsafe { val.write(u64::from(enabled())) };
    0
}

/// debugfs setter of `vcpu_debooster_enabled`. A value other than 0 or 1 is
/// rejected with `-EINVAL` and leaves the switch as it was.
///
/// # Safety
///
/// Always safe to call; `unsafe` only because of `#[export]`.
#[export]
pub unsafe extern "C" fn sched_vcpu_debooster_enabled_set(_data: *mut c_void, val: u64) -> c_int {
    match parse_enabled(val) {
        Ok(on) => {
            set_enabled(on);
            0
        }
        Err(e) => e.to_errno(),
    }
}

#[cfg(CONFIG_VCPU_BOOST_KUNIT_TEST)]
#[kernel::macros::kunit_tests(vcpu_boost_sched_debooster)]
mod tests {
    use super::*;
    use crate::policy::{validate, Refusal, RATE_LIMIT_NS};

    const GRAN: u64 = 700_000;

    /// A valid yield of task 10 to task 20 at `now`.
    fn valid_yield(now: u64) -> bindings::sched_vcpu_deboost_yield {
        // SAFETY: All-zero is valid for this plain C struct of integers and bools.
        let mut y: bindings::sched_vcpu_deboost_yield = unsafe { core::mem::zeroed() };
        y.now = now;
        y.yielder_pid = 10;
        y.target_pid = 20;
        y.target_fair = true;
        y.same_rq = true;
        y.yielder_queued = true;
        y.target_queued = true;
        y
    }

    /// The hook's first two steps, as `__yield_to_boost()` in fair.c takes them.
    fn begin_and_gate(
        st: &mut bindings::sched_vcpu_deboost_rq,
        y: &mut bindings::sched_vcpu_deboost_yield,
    ) -> bool {
        // SAFETY: Both are exclusively ours for the calls.
        unsafe {
            y.strategy = sched_vcpu_deboost_begin(st, Reason::Any as u32);
            sched_vcpu_deboost_gate(st, y)
        }
    }

    fn zeroed_state() -> bindings::sched_vcpu_deboost_rq {
        // SAFETY: All-zero is the initial state, as in a zeroed struct rq.
        unsafe { core::mem::zeroed() }
    }

    #[test]
    fn refusals_by_reason() {
        assert_eq!(validate(&valid_yield(1)), Ok(()));
        type Spoil = fn(&mut bindings::sched_vcpu_deboost_yield);
        let cases: [(Spoil, Refusal); 6] = [
            (|y| y.target_pid = 0, Refusal::NoTarget),
            (|y| y.target_pid = y.yielder_pid, Refusal::SelfYield),
            (|y| y.target_fair = false, Refusal::TargetNotFair),
            (|y| y.same_rq = false, Refusal::OtherRq),
            (|y| y.yielder_queued = false, Refusal::NotQueued),
            (|y| y.target_queued = false, Refusal::NotQueued),
        ];
        for (spoil, why) in cases {
            let mut y = valid_yield(1);
            spoil(&mut y);
            assert_eq!(validate(&y), Err(why));
        }
    }

    #[test]
    fn stats_add_sums_every_counter() {
        let mut st = zeroed_state();
        st.stats.calls = 101;
        st.stats.applied = 102;
        st.stats.donated = 100;
        st.stats.not_queued = 113;
        // The stats file's sum: every counter of every runqueue.
        // SAFETY: All-zero is a valid, empty sum.
        let mut sum: bindings::sched_vcpu_deboost_stats = unsafe { core::mem::zeroed() };
        // SAFETY: `sum` and `st` are local; nothing else accesses them.
        unsafe {
            sched_vcpu_deboost_stats_add(&mut sum, &st);
            sched_vcpu_deboost_stats_add(&mut sum, &st);
        }
        assert_eq!((sum.calls, sum.applied, sum.donated), (202, 204, 200));
        assert_eq!((sum.not_queued, sum.rate_limited), (226, 0));
        // A null state adds nothing.
        // SAFETY: A null state is refused before any access.
        unsafe { sched_vcpu_deboost_stats_add(&mut sum, core::ptr::null()) };
        assert_eq!(sum.calls, 202);
    }

    #[test]
    fn donate_has_no_rate_limit_and_counts() {
        let mut st = zeroed_state();
        let t0 = 1_000_000;
        let _guard = StrategyGuard::select(Strategy::Donate);
        // A yield at `now`: a 2 ms forfeit at weight `wy`, to a target of
        // weight 1024 at `target_vruntime`, average 10 ms, lag limit 6 ms.
        let mut donate = |now: u64, wy: u64, target_vruntime: u64| {
            let mut y = valid_yield(now);
            assert!(begin_and_gate(&mut st, &mut y));
            y.h_nr_queued = 2;
            y.forfeit = 2_000_000;
            y.weight = wy;
            y.target_weight = 1024;
            y.avg_vruntime = 10_000_000;
            y.target_vruntime = target_vruntime;
            y.lag_limit = 6_000_000;
            // SAFETY: Both are local and exclusively ours.
            unsafe { sched_vcpu_donate_decide(&mut st, &mut y) };
            y.credit
        };
        for i in 0..3u64 {
            assert_eq!(donate(t0 + i * 1000, 2048, 10_000_000), 4_000_000);
        }
        // Already at its lag limit: nothing, and not counted as applied.
        assert_eq!(donate(t0 + 5000, 1024, 4_000_000), 0);
        assert_eq!(
            (st.stats.applied, st.stats.donated, st.stats.rate_limited),
            (3, 3, 0)
        );
    }

    /// A valid yield at `now`, through the gate, decided by
    /// `sched_vcpu_lag_credit_decide()` (`lag-credit` and `handoff`): to a
    /// target `need` ahead of the average 10 ms, both of weight 1024, three
    /// tasks queued, the target the next buddy if `buddy`; the yielder 100 ns
    /// behind the average, with `request` left to its deadline and `limit`
    /// the lag it may keep.
    fn credit_yield(
        st: &mut bindings::sched_vcpu_deboost_rq,
        now: u64,
        need: u64,
        buddy: bool,
        request: u64,
        limit: u64,
    ) -> bindings::sched_vcpu_deboost_yield {
        let mut y = valid_yield(now);
        assert!(begin_and_gate(st, &mut y));
        y.h_nr_queued = 3;
        y.gran = GRAN;
        y.yielder_vruntime = 10_000_000;
        y.target_vruntime = 10_000_000 + need;
        y.weight = 1024;
        y.target_weight = 1024;
        y.buddy = buddy;
        y.own_vruntime = 10_000_000 - 100;
        y.own_deadline = y.own_vruntime + request;
        y.own_lag_limit = limit;
        // SAFETY: Both are exclusively ours for the call.
        unsafe { sched_vcpu_lag_credit_decide(st, &mut y) };
        y
    }

    /// A yielder's lag bound in the tests that it never reaches.
    const LIMIT: u64 = 20 * GRAN;

    /// The yielder pays for no more credit than its lag bound leaves room
    /// for beyond its deadline: a need it cannot pay for in full gets what
    /// fits, and no hand-off; at the bound, none.
    #[test]
    fn credit_stops_at_the_yielders_lag_bound() {
        let mut st = zeroed_state();
        let t0 = 1_000_000;
        let _guard = StrategyGuard::select(Strategy::Handoff);
        // The deadline is GRAN - 100 past the average: 2200 ns of room, of
        // which the pay's rounding keeps 4.
        let y = credit_yield(&mut st, t0, 5000, true, GRAN, GRAN + 2100);
        assert_eq!((y.credit, y.penalty, y.keep_deadline), (2196, 2200, false));
        let y = credit_yield(&mut st, t0 + 1000, 5000, true, GRAN, GRAN - 100);
        assert_eq!((y.credit, y.penalty, y.keep_deadline), (0, 0, false));
        // A target that needs nothing is handed the CPU whatever the room.
        let y = credit_yield(&mut st, t0 + 2000, 0, true, GRAN, GRAN - 100);
        assert_eq!((y.credit, y.keep_deadline), (0, true));
    }

    #[test]
    fn handoff_steps_back_only_for_an_eligible_target() {
        let mut st = zeroed_state();
        let t0 = 1_000_000;
        let _guard = StrategyGuard::select(Strategy::Handoff);
        // Eligible already: no credit, and instead of the forfeit the
        // yielder, eligible too, stays where it is, the deadline kept. No
        // rate limit: the yields 1 us apart all act.
        let y = credit_yield(&mut st, t0, 0, true, GRAN, LIMIT);
        assert_eq!((y.credit, y.penalty), (0, 0));
        assert_eq!((y.keep_deadline, y.step), (true, 0));
        // Ahead: credited just past the need, paid by the yielder at least
        // in full; the pay takes the yielder past the average, so it steps
        // to a sixteenth of a slice past it, the pay counting toward that.
        let y = credit_yield(&mut st, t0 + 1000, 5000, true, GRAN, LIMIT);
        assert_eq!(y.credit, 5001);
        assert!(y.penalty >= y.credit && y.keep_deadline);
        assert_eq!(y.step, GRAN / 16 + 100 - y.penalty);
        // Beyond the queue-size cap: the credit falls short of eligibility,
        // and the yielder forfeits as under lag-credit.
        let y = credit_yield(&mut st, t0 + 2000, 100 * GRAN, true, GRAN, LIMIT);
        assert!(y.credit > 0 && y.credit < 100 * GRAN);
        assert_eq!((y.keep_deadline, y.step), (false, 0));
        assert_eq!(
            (
                st.stats.applied,
                st.stats.handed_off,
                st.stats.credited,
                st.stats.rate_limited
            ),
            (3, 2, 1, 0)
        );
        // Less request left than the step: the forfeit, after a credit
        // counted as lag-credit's.
        let y = credit_yield(&mut st, t0 + 2200, 5000, true, GRAN / 16 - 5000, LIMIT);
        assert_eq!((y.credit, y.keep_deadline, y.step), (5001, false, 0));
        assert_eq!(
            (st.stats.applied, st.stats.handed_off, st.stats.credited),
            (4, 2, 2)
        );
        // An eligible yielder with little request left keeps it: it does
        // not move.
        let y = credit_yield(&mut st, t0 + 2300, 0, true, 200, LIMIT);
        assert_eq!((y.credit, y.keep_deadline, y.step), (0, true, 0));
        assert_eq!((st.stats.applied, st.stats.handed_off), (5, 3));
        // Without the next buddy (an idle target, PICK_BUDDY off) the pick
        // may not take the target: the yielder forfeits, nothing counted.
        let y = credit_yield(&mut st, t0 + 2500, 0, false, GRAN, LIMIT);
        assert_eq!((y.credit, y.keep_deadline), (0, false));
        assert_eq!((st.stats.applied, st.stats.handed_off), (5, 3));
        // The same yield under lag-credit (past its rate limit) never keeps
        // the deadline.
        let _lag = StrategyGuard::select(Strategy::LagCredit);
        let y = credit_yield(&mut st, t0 + 3000 + RATE_LIMIT_NS, 5000, true, GRAN, LIMIT);
        assert_eq!((y.credit, y.keep_deadline, y.step), (5001, false, 0));
    }

    /// Selects a strategy for a reason until dropped, so that later tests
    /// and real yields see the old one. A failed assertion ends the test
    /// without dropping it; the suite has then failed anyway.
    struct StrategyGuard(Reason, u32);

    impl StrategyGuard {
        fn select(strategy: Strategy) -> Self {
            Self::choose(Reason::Any, strategy as u32)
        }

        fn choose(reason: Reason, choice: u32) -> Self {
            let guard = Self(reason, selected(reason));
            assert_eq!(select(reason, choice), Ok(()));
            guard
        }
    }

    impl Drop for StrategyGuard {
        fn drop(&mut self) {
            // What was selected before is valid again.
            let _ = select(self.0, self.1);
        }
    }

    /// What the hook's first step returns for `reason`.
    fn begin(st: &mut bindings::sched_vcpu_deboost_rq, reason: u32) -> Strategy {
        // SAFETY: `st` is exclusively ours for the call.
        let s = unsafe { sched_vcpu_deboost_begin(st, reason) };
        Strategy::try_from(s).unwrap_or(Strategy::Deboost)
    }

    #[test]
    fn each_reason_gets_its_strategy() {
        let mut st = zeroed_state();
        let (any, ipi) = (Reason::Any as u32, Reason::IpiReceiver as u32);
        let _any = StrategyGuard::select(Strategy::Mainline);
        let _ipi = StrategyGuard::choose(Reason::IpiReceiver, SAME);
        // SAFETY: Always safe; `unsafe` only because of `#[export]`.
        let active = || unsafe { sched_vcpu_deboost_active() };
        // "same" follows the default, mainline for both: the key goes off.
        assert_eq!(
            (begin(&mut st, any), begin(&mut st, ipi)),
            (Strategy::Mainline, Strategy::Mainline)
        );
        assert!(!active());
        // A strategy for IPI receivers alone: only their yields get it, and
        // the key must stay on for them.
        let _lag = StrategyGuard::choose(Reason::IpiReceiver, Strategy::LagCredit as u32);
        assert_eq!(begin(&mut st, ipi), Strategy::LagCredit);
        assert_eq!(begin(&mut st, any), Strategy::Mainline);
        assert!(active());
        // An unknown reason counts as none given.
        assert_eq!(begin(&mut st, 7), Strategy::Mainline);
        // The default no longer reaches them; with "same" again, it does.
        let _donate = StrategyGuard::select(Strategy::Donate);
        assert_eq!(begin(&mut st, ipi), Strategy::LagCredit);
        assert_eq!(select(Reason::IpiReceiver, SAME), Ok(()));
        assert_eq!(begin(&mut st, ipi), Strategy::Donate);
        // The default has no "same"; a refused choice changes nothing.
        assert_eq!(select(Reason::Any, SAME), Err(EINVAL));
        assert_eq!(select(Reason::Any, u32::MAX), Err(EINVAL));
        assert_eq!(begin(&mut st, any), Strategy::Donate);
        assert_eq!(st.stats.calls, 8);
        assert_eq!(st.stats.ipi_receiver, 4);
    }

    #[test]
    fn strategy_files_by_reason() {
        let _any = StrategyGuard::select(Strategy::Donate);
        let _ipi = StrategyGuard::choose(Reason::IpiReceiver, SAME);
        let write = |val: &[u8], reason: u32| {
            // SAFETY: `val` is valid for reads of its length.
            unsafe { sched_vcpu_yield_strategy_write(val.as_ptr().cast(), val.len(), reason) }
        };
        let (any, ipi) = (Reason::Any as u32, Reason::IpiReceiver as u32);
        assert_eq!(write(b"mainline\n", ipi), 0);
        assert_eq!(selected(Reason::IpiReceiver), Strategy::Mainline as u32);
        assert_eq!(selected(Reason::Any), Strategy::Donate as u32);
        assert_eq!(write(b"same", any), EINVAL.to_errno());
        assert_eq!(write(b"same", ipi), 0);
        assert_eq!(selected(Reason::IpiReceiver), SAME);
        // An unknown reason: refused, nothing selected.
        assert_eq!(write(b"deboost", 2), EINVAL.to_errno());
        assert_eq!(selected(Reason::Any), Strategy::Donate as u32);
        assert_eq!(selected(Reason::IpiReceiver), SAME);
    }

    #[test]
    fn proportional_has_no_rate_limit() {
        let mut st = zeroed_state();
        let t0 = 1_000_000;
        let _guard = StrategyGuard::select(Strategy::Proportional);
        for i in 0..3u64 {
            let mut y = valid_yield(t0 + i * 1000);
            assert!(begin_and_gate(&mut st, &mut y));
            y.h_nr_queued = 2;
            y.gran = 3_000_000;
            y.yielder_vruntime = 5000;
            y.target_vruntime = 5000;
            y.weight = 1024;
            y.total_weight = 2048;
            y.nr_levels = 1;
            y.levels[0] = bindings::sched_vcpu_prop_level {
                weight: 1024,
                group_weight: 2048,
            };
            // SAFETY: Both are local and exclusively ours.
            unsafe { sched_vcpu_proportional_decide(&mut st, &mut y) };
            assert_eq!(y.penalty, 1_500_000);
        }
        // An out-of-range level count is cut to the array.
        let mut y = valid_yield(t0 + 5000);
        assert!(begin_and_gate(&mut st, &mut y));
        y.h_nr_queued = 2;
        y.gran = 1000;
        y.weight = 1;
        y.total_weight = 2;
        y.nr_levels = u32::MAX;
        // Far behind the average: eligible at every level.
        y.target_vruntime = 1 << 40;
        let one = bindings::sched_vcpu_prop_level {
            weight: 1,
            group_weight: 1,
        };
        y.levels = [one; bindings::SCHED_VCPU_PROP_LEVELS as usize];
        // SAFETY: Both are local and exclusively ours.
        unsafe { sched_vcpu_proportional_decide(&mut st, &mut y) };
        assert_eq!(
            y.penalty,
            1000 * u64::from(bindings::SCHED_VCPU_PROP_LEVELS)
        );
        assert_eq!(
            (st.stats.applied, st.stats.pushed, st.stats.rate_limited),
            (4, 4, 0)
        );
    }

    #[test]
    fn gate_and_decide_keep_state_and_counters() {
        let mut st = zeroed_state();
        let t0 = 1_000_000;
        // deboost's gate: the rate limit applies (not to the default, donate).
        let _guard = StrategyGuard::select(Strategy::Deboost);

        // First yield: allowed, penalised.
        let mut y = valid_yield(t0);
        assert!(begin_and_gate(&mut st, &mut y));
        y.h_nr_queued = 2;
        y.gran = GRAN;
        y.yielder_vruntime = 1000;
        y.target_vruntime = 1000 + GRAN;
        // SAFETY: Both are local and exclusively ours.
        unsafe { sched_vcpu_deboost_decide(&mut st, &mut y) };
        assert_eq!(y.need, GRAN);
        assert_eq!(y.penalty, GRAN + GRAN + GRAN / 10);
        assert!(!y.debounced);
        assert_eq!(st.last_apply_ns, t0);
        assert_eq!(st.stats.applied, 1);

        // The reverse yield 100 us later: rate limited, but recorded.
        let mut back = valid_yield(t0 + 100_000);
        back.yielder_pid = 20;
        back.target_pid = 10;
        assert!(!begin_and_gate(&mut st, &mut back));
        assert!(back.reverse_pair);
        assert_eq!(st.stats.rate_limited, 1);
        assert_eq!((st.last_yielder, st.last_target), (20, 10));

        // Ping-pong goes on; 6 ms after the penalty the next one is allowed
        // and, coming 500 us after the reverse yield, it is debounced.
        let mut again = valid_yield(t0 + RATE_LIMIT_NS - 500_000);
        again.yielder_pid = 20;
        again.target_pid = 10;
        assert!(!begin_and_gate(&mut st, &mut again));
        let mut y = valid_yield(t0 + RATE_LIMIT_NS);
        assert!(begin_and_gate(&mut st, &mut y));
        assert!(y.reverse_pair);
        y.h_nr_queued = 2;
        y.gran = GRAN;
        y.yielder_vruntime = 0;
        y.target_vruntime = 4 * GRAN;
        // SAFETY: Both are local and exclusively ours.
        unsafe { sched_vcpu_deboost_decide(&mut st, &mut y) };
        assert_eq!(y.penalty, 4 * GRAN);
        assert!(y.debounced);
        assert_eq!((st.stats.applied, st.stats.debounced), (2, 1));

        // No contention and an invalid target are refused.
        let mut y = valid_yield(t0 + 2 * RATE_LIMIT_NS);
        assert!(begin_and_gate(&mut st, &mut y));
        y.h_nr_queued = 1;
        y.gran = GRAN;
        // SAFETY: Both are local and exclusively ours.
        unsafe { sched_vcpu_deboost_decide(&mut st, &mut y) };
        assert_eq!((y.penalty, st.stats.no_contention), (0, 1));
        let mut y = valid_yield(t0 + 3 * RATE_LIMIT_NS);
        y.target_fair = false;
        assert!(!begin_and_gate(&mut st, &mut y));
        assert_eq!(st.stats.target_not_fair, 1);
        assert_eq!(st.stats.calls, 6);
        assert_eq!(st.stats.applied, 2);

        // mainline, a value that is no strategy or a null state go no
        // further, and count nothing.
        for strategy in [Strategy::Mainline as u32, u32::MAX] {
            let mut y = valid_yield(t0 + 4 * RATE_LIMIT_NS);
            y.strategy = strategy;
            // SAFETY: Both are local and exclusively ours.
            assert!(!unsafe { sched_vcpu_deboost_gate(&mut st, &mut y) });
        }
        let mut y = valid_yield(t0 + 4 * RATE_LIMIT_NS);
        y.strategy = Strategy::Deboost as u32;
        // SAFETY: A null state is refused before any access.
        assert!(!unsafe { sched_vcpu_deboost_gate(core::ptr::null_mut(), &mut y) });
        assert_eq!(
            (st.last_yielder, st.last_pair_ns),
            (10, t0 + 2 * RATE_LIMIT_NS)
        );
        assert_eq!((st.stats.calls, st.stats.applied), (6, 2));
        assert_eq!(st.stats.target_not_fair, 1);
    }
}
