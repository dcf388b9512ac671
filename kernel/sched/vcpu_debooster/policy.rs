// SPDX-License-Identifier: GPL-2.0

//! The policy of the yield strategies: pure functions of plain numbers,
//! each the arithmetic of one decision (the gate's checks, the
//! debooster's penalty and its bands, the lag credit, the hand-off and its
//! step back, the proportional push, the donation), saturating and free of
//! 64-bit division.
//!
//! Linux 7.3 picks from one flat EEVDF timeline per runqueue: every task
//! entity sits in `rq->cfs`, with a weight that already carries its groups'
//! shares, and group entities only track load. The penalty therefore moves
//! the yielder's own entity, scaled by its hierarchical weight, while the
//! level where both tasks' cgroup hierarchies meet (their lowest common
//! ancestor) decides whether there is contention and which queue-size band
//! bounds the penalty.

use core::num::NonZeroU16;
use kernel::{bindings, prelude::*};

/// At most one action of a rate-limited strategy per runqueue in this many
/// nanoseconds of rq clock.
pub(crate) const RATE_LIMIT_NS: u64 = 6_000_000;

/// A yield from B to A this soon after one from A to B is a reverse pair.
pub(crate) const DEBOUNCE_NS: u64 = 600_000;

/// Why a yield got no penalty.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Refusal {
    /// There is no target task.
    NoTarget,
    /// The yielder yields to itself.
    SelfYield,
    /// The target is not in the fair class.
    TargetNotFair,
    /// The target is on another runqueue.
    OtherRq,
    /// The yielder or the target is not queued.
    NotQueued,
    /// An action was taken on this runqueue less than [`RATE_LIMIT_NS`] ago.
    RateLimited,
    /// At most one task is queued below the common level: nobody to favour.
    NoContention,
}

/// Checks that a yield is one the debooster may act on.
pub(crate) fn validate(y: &bindings::sched_vcpu_deboost_yield) -> Result<(), Refusal> {
    if y.target_pid == 0 {
        Err(Refusal::NoTarget)
    } else if y.target_pid == y.yielder_pid {
        Err(Refusal::SelfYield)
    } else if !y.target_fair {
        Err(Refusal::TargetNotFair)
    } else if !y.same_rq {
        Err(Refusal::OtherRq)
    } else if !y.yielder_queued || !y.target_queued {
        Err(Refusal::NotQueued)
    } else {
        Ok(())
    }
}

/// Whether the rate limit refuses an action at `now`, the last one having
/// been taken at `last_apply` (0: never). Exactly [`RATE_LIMIT_NS`] after
/// the last action, the next one is allowed.
pub(crate) fn rate_limited(now: u64, last_apply: u64) -> bool {
    last_apply != 0 && now.saturating_sub(last_apply) < RATE_LIMIT_NS
}

/// Whether `yielder` → `target` at `now` reverses the last validated yield
/// (`last_yielder` → `last_target` at `last_ns`) within [`DEBOUNCE_NS`],
/// bound included.
pub(crate) fn is_reverse_pair(
    last_yielder: i32,
    last_target: i32,
    last_ns: u64,
    yielder: i32,
    target: i32,
    now: u64,
) -> bool {
    last_yielder == target && last_target == yielder && now.saturating_sub(last_ns) <= DEBOUNCE_NS
}

/// How far the target is ahead of the yielder in vruntime; 0 when it is not.
/// Also how far any virtual time is past another (a deadline past the
/// average, a step's goal past a vruntime).
///
/// vruntimes are compared through their wrapping difference, as the
/// scheduler does, so the result is right across a wrap of the clock.
pub(crate) fn need(yielder_vruntime: u64, target_vruntime: u64) -> u64 {
    // Reinterpreting the wrapped difference as signed is the comparison.
    let ahead = target_vruntime.wrapping_sub(yielder_vruntime) as i64;
    u64::try_from(ahead).unwrap_or(0)
}

/// `n / d` and `n % d` without a 64-bit division, which 32-bit targets
/// would have to call `__udivdi3` for: long division in 16-bit digits, each
/// step a 32-bit division. The divisor's type rules out division by zero.
pub(crate) fn div_small(n: u64, d: NonZeroU16) -> (u64, u16) {
    let d = u32::from(d.get());
    let mut quotient = 0u64;
    let mut rem = 0u32;
    for shift in [48u32, 32, 16, 0] {
        // `rem < d <= 0xffff`, so `rem << 16 | digit` fits in 32 bits.
        let digit = ((n >> shift) & 0xffff) as u32;
        let cur = (rem << 16) | digit;
        quotient = (quotient << 16) | u64::from(cur / d);
        rem = cur % d;
    }
    // `rem < d`, which is a `u16`.
    (quotient, rem as u16)
}

/// `n / 10`, see [`div_small`].
pub(crate) fn tenth(n: u64) -> u64 {
    const TEN: NonZeroU16 = NonZeroU16::MIN.saturating_add(9);
    div_small(n, TEN).0
}

/// `a * num / den` for a fraction `num / den` of at most 1 (a larger `num`
/// counts as `den`), with the fraction rounded to 16 significant bits; 0
/// when `den` is 0. Never overflows, and needs no 64-bit division.
pub(crate) fn fraction(a: u64, num: u64, den: u64) -> u64 {
    let num = num.min(den);
    // Shift both until the denominator fits in 16 bits.
    let shift = (u64::BITS - den.leading_zeros()).saturating_sub(16);
    let Some(d) = u16::try_from(den >> shift).ok().and_then(NonZeroU16::new) else {
        return 0;
    };
    // `num <= den`, so `n <= d` fits in 16 bits too.
    let n = (num >> shift) & 0xffff;
    // a * n / d = (a / d) * n + (a % d) * n / d, where (a % d) * n < 2^32
    // and the sum is at most `a`.
    let (q, r) = div_small(a, d);
    q.saturating_mul(n)
        .saturating_add(div_small(u64::from(r) * n, d).0)
}

/// Largest penalty for `h_nr_queued` tasks below the common level: the more
/// tasks, the smaller the bound, so that one yield cannot starve a crowd.
pub(crate) fn cap(h_nr_queued: u32, gran: u64) -> u64 {
    match h_nr_queued {
        0..=2 => gran.saturating_mul(6),
        3 => gran.saturating_mul(4),
        4..=6 => gran.saturating_mul(5) >> 1,
        7..=8 => gran.saturating_mul(2),
        9..=12 => gran.saturating_mul(3) >> 1,
        _ => gran,
    }
}

/// Penalty when the target is not ahead (`need == 0`): the yielder already
/// trails, so it only steps back by a share of `gran` that shrinks as the
/// queue grows.
///
/// The series computes these floors after clamping the penalty to at least
/// `gran`, which every floor is below, so there they never act; here they
/// are the penalty of the `need == 0` case, which is what they describe.
pub(crate) fn floor(h_nr_queued: u32, gran: u64) -> u64 {
    match h_nr_queued {
        3 => gran.saturating_mul(15) >> 4,
        4..=6 => gran.saturating_mul(5) >> 3,
        7..=8 => gran >> 1,
        9..=12 => gran.saturating_mul(3) >> 3,
        13.. => gran >> 2,
        _ => gran,
    }
}

/// A computed penalty.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Penalty {
    /// vruntime push of the yielder.
    pub(crate) penalty: u64,
    /// The reverse-pair debounce made it smaller.
    pub(crate) debounced: bool,
}

/// The penalty for a yield whose target is `need` ahead, with `gran` the
/// base slice in the yielder's virtual time and `h_nr_queued` tasks below
/// the common level.
///
/// With `need > 0` it is `gran + need + need/10`, cut to `max(need, gran)`
/// for a reverse pair, then clamped to `[gran, cap]`. With `need == 0` it is
/// the queue-size [`floor`]. It never exceeds [`cap`] and never overflows.
pub(crate) fn penalty(gran: u64, need: u64, h_nr_queued: u32, reverse_pair: bool) -> Penalty {
    if need == 0 {
        return Penalty {
            penalty: floor(h_nr_queued, gran).min(cap(h_nr_queued, gran)),
            debounced: false,
        };
    }
    let full = gran.saturating_add(need).saturating_add(tenth(need));
    let cut = if reverse_pair {
        full.min(need.max(gran))
    } else {
        full
    };
    Penalty {
        penalty: cut.clamp(gran, cap(h_nr_queued, gran).max(gran)),
        debounced: cut < full,
    }
}

/// The lag to credit a target that is `need` ahead of the queue's average
/// vruntime, so that it becomes eligible: `need + 1`, bounded by the
/// queue-size [`cap`]; 0 when it is eligible already. The yielder pays for
/// it ([`lag_credit_pay`]), so the average stays where it is and the
/// credit needs no allowance for it moving.
pub(crate) fn lag_credit(need: u64, gran: u64, h_nr_queued: u32) -> u64 {
    if need == 0 {
        return 0;
    }
    need.saturating_add(1).min(cap(h_nr_queued, gran))
}

/// The most credit of strategies `lag-credit` and `handoff` that the
/// yielder can pay for ([`lag_credit_pay`]) within `limit`, the lag EEVDF
/// lets it keep (`entity_lag()`'s bound, in its virtual time): its pay goes
/// on top of the debt that its `deadline` past the queue's average `avg`
/// leaves it (the forfeit moves it there, and a handoff's step back stays
/// short of the deadline after the pay). Debt beyond the bound is forgiven
/// as soon as the yielder's lag is clamped (its dequeue at the end of a
/// delayed one, a migration, a reweight), and the queue's other tasks pay
/// it instead.
/// 0 when the deadline alone is that far past the average.
pub(crate) fn credit_room(
    avg: u64,
    deadline: u64,
    limit: u64,
    w_target: u64,
    w_yielder: u64,
) -> u64 {
    let room = limit.saturating_sub(need(avg, deadline));
    // More than what the pay's rounding adds to the weighted credit.
    let margin = (room >> 12)
        .saturating_add(scale(2, w_target, w_yielder))
        .saturating_add(2);
    scale(room.saturating_sub(margin), w_yielder, w_target)
}

/// Strategy `handoff`: whether the pick takes the target without the
/// yielder's forfeit. It does when the target is its next buddy (`buddy`:
/// `PICK_BUDDY` on, and the buddy set, which an idle target never is) and
/// eligible: when it needed nothing, or when `credit` ([`lag_credit`]) went
/// past its `need`, which only the queue-size cap or the yielder's lag
/// bound ([`credit_room`]) can deny.
pub(crate) fn hands_off(buddy: bool, need: u64, credit: u64) -> bool {
    buddy && (need == 0 || credit > need)
}

/// How far past the queue's average `handoff` steps the yielder back: the
/// target's base slice shifted right by this, a sixteenth.
pub(crate) const STEP_SHIFT: u32 = bindings::SCHED_VCPU_HANDOFF_STEP_SHIFT;

/// Strategy `handoff`: how far the yielder's vruntime moves instead of the
/// forfeit, its deadline kept. A yielder still eligible after its pay (not
/// past the queue's average `avg` as it was before) does not move: the
/// pick takes the target, eligible and the next buddy, first anyway, and
/// the yielder keeps its lag instead of handing it to the queue's other
/// tasks, as a step or the forfeit would. One past the average, but by
/// less than a sixteenth of the target's base slice (`gran`, in virtual
/// time, [`STEP_SHIFT`]), goes to that point (0: it is that far already),
/// so that it stays ineligible while the target runs. With the deadline it
/// keeps, the yielder comes back soon after a target that only had to
/// answer, typically ahead of the others' requests.
/// `None` when the step would reach `deadline`: then it forfeits.
/// `vruntime` and `deadline` are the yielder's after its pay.
pub(crate) fn step_back(avg: u64, vruntime: u64, deadline: u64, gran: u64) -> Option<u64> {
    let step = if need(avg, vruntime) == 0 {
        0
    } else {
        need(vruntime, avg.wrapping_add(gran >> STEP_SHIFT))
    };
    (step < need(vruntime, deadline)).then_some(step)
}

/// What the yielder pays, in its virtual time, for a credit of `credit` to
/// the target: `credit * w_target / w_yielder`, rounded up by more than
/// [`scale`] can round down, so that the queue's weighted sum, the average
/// and every other task's lag never move against the other tasks.
pub(crate) fn lag_credit_pay(credit: u64, w_target: u64, w_yielder: u64) -> u64 {
    if credit == 0 {
        return 0;
    }
    let p = scale(credit, w_target, w_yielder);
    p.saturating_add(p >> 13)
        .saturating_add(scale(2, w_target, w_yielder))
        .saturating_add(2)
}

/// The push of strategy `proportional`: after the forfeit, every level of
/// the yielder's cgroup hierarchy gives up the yielding subtree's share of
/// a slice, bottom up, until the yielder is no longer eligible.
///
/// `levels[i]` is the weight of the yielder's i-th ancestor entity (level
/// 0: its own) and of the queue that entity sits on; the subtree's share at
/// level 0 is the yielder's weight over its queue's, and each level above
/// multiplies in the group's own share. A level's push is `slice` (in the
/// yielder's virtual time) times that share.
///
/// Linux 7.3 picks from one flat timeline, so the level's group entity has
/// no vruntime of its own to push or to test: the push moves the yielder's
/// entity in that timeline, and eligibility is the yielder's there. `lag`
/// is the queue's average vruntime minus the yielder's (eligible: `lag >=
/// 0`); a push `p` of the yielder, of weight `weight` in a queue of
/// `total`, moves the average by `p * weight / total` and so cuts the lag
/// by `p * (total - weight) / total`.
///
/// The result is at most `slice` per level; 0 when the yielder is at the
/// root (no level) or already ineligible.
pub(crate) fn proportional_push(
    slice: u64,
    levels: &[bindings::sched_vcpu_prop_level],
    lag: i64,
    weight: u64,
    total: u64,
) -> u64 {
    let mut lag = lag;
    let mut push = 0u64;
    // The yielding subtree's weight on the queue of the current level.
    let mut sub = levels.first().map_or(0, |l| l.weight);
    for (i, level) in levels.iter().enumerate() {
        if lag < 0 || sub == 0 {
            break;
        }
        let step = fraction(slice, sub, level.group_weight);
        push = push.saturating_add(step);
        let lag_cut = fraction(step, total.saturating_sub(weight), total);
        lag = lag.saturating_sub(i64::try_from(lag_cut).unwrap_or(i64::MAX));
        // One level up, the subtree is the group entity's share of it.
        sub = levels
            .get(i + 1)
            .map_or(0, |up| fraction(up.weight, sub, level.group_weight));
    }
    push
}

/// `a * num / den` for any ratio, never more: `num` and `den` are each
/// rounded to 16 significant bits (`num` down, `den` up), so the result is
/// short of the exact value by less than 2^-14 of it, plus what the final
/// scaling by a power of two cannot hold (at most `num / den`, plus one).
/// Exact, `a`, when `num == den`: two tasks of one weight, the common case.
/// 0 when `den` or `num` is 0. Saturates, and needs no 64-bit division.
pub(crate) fn scale(a: u64, num: u64, den: u64) -> u64 {
    let bits = |x: u64| u64::BITS - x.leading_zeros();
    if den == 0 || num == 0 {
        return 0;
    }
    if num == den {
        return a;
    }
    let sn = bits(num).saturating_sub(16);
    let n = num >> sn;
    // Rounding `den` up may carry into a 17th bit: one more shift then.
    let ceil = |s: u32| (den >> s) + u64::from(den & ((1u64 << s) - 1) != 0);
    let mut sd = bits(den).saturating_sub(16);
    if ceil(sd) > 0xffff {
        sd += 1;
    }
    let Some(d) = u16::try_from(ceil(sd)).ok().and_then(NonZeroU16::new) else {
        return 0;
    };
    // a * n / d = (a / d) * n + (a % d) * n / d, where (a % d) * n < 2^32.
    let (q, r) = div_small(a, d);
    let base = q
        .saturating_mul(n)
        .saturating_add(div_small(u64::from(r) * n, d).0);
    if sn >= sd {
        let k = sn - sd;
        if base > u64::MAX >> k {
            u64::MAX
        } else {
            base << k
        }
    } else {
        base >> (sd - sn)
    }
}

/// The donation of strategy `donate`: `yield_task_fair()` moved the
/// yielder's vruntime forward by `forfeit` (the rest of its slice, in its
/// virtual time); the target's vruntime moves back by the same weighted
/// amount, `forfeit * w_yielder / w_target`, so that the queue's weighted
/// sum of vruntimes, its average and every other task's lag end where they
/// were before the forfeit. (Under mainline the forfeit raises the average
/// and so hands the other tasks lag; here it goes to the target instead,
/// and the other tasks keep what they had.) Bounded so that the target's lag (`lag`, the
/// average minus its vruntime, after the forfeit) stays within `limit`, the
/// bound EEVDF puts on the lag an entity keeps (`entity_lag()`); what the
/// bound cuts off stays forfeited, as in mainline. 0 without a forfeit,
/// and for one that reads as negative (the difference of two vruntimes,
/// had the yielder moved back).
pub(crate) fn donation(forfeit: u64, w_yielder: u64, w_target: u64, lag: i64, limit: u64) -> u64 {
    if i64::try_from(forfeit).is_err() {
        return 0;
    }
    let room = i64::try_from(limit).unwrap_or(i64::MAX).saturating_sub(lag);
    let room = u64::try_from(room).unwrap_or(0);
    scale(forfeit, w_yielder, w_target).min(room)
}

#[cfg(CONFIG_VCPU_BOOST_KUNIT_TEST)]
#[kernel::macros::kunit_tests(vcpu_boost_sched_policy)]
mod tests {
    use super::*;

    const GRAN: u64 = 700_000;

    #[test]
    fn rate_limit_boundary_is_exactly_6ms() {
        let t = 1_000_000_000;
        assert!(!rate_limited(t, 0));
        assert!(rate_limited(t, t));
        assert!(rate_limited(t + RATE_LIMIT_NS - 1, t));
        assert!(!rate_limited(t + RATE_LIMIT_NS, t));
        assert!(!rate_limited(t + RATE_LIMIT_NS + 1, t));
        // A clock that went backwards never lifts the limit.
        assert!(rate_limited(t - 1, t));
    }

    #[test]
    fn debounce_inside_at_and_beyond_600us() {
        let t = 5_000_000;
        assert!(is_reverse_pair(10, 20, t, 20, 10, t + DEBOUNCE_NS - 1));
        assert!(is_reverse_pair(10, 20, t, 20, 10, t + DEBOUNCE_NS));
        assert!(!is_reverse_pair(10, 20, t, 20, 10, t + DEBOUNCE_NS + 1));
        // Same direction, or another pair, is no reverse pair.
        assert!(!is_reverse_pair(10, 20, t, 10, 20, t + 1));
        assert!(!is_reverse_pair(10, 20, t, 20, 30, t + 1));
        // The initial state (pids 0) matches no real pair.
        assert!(!is_reverse_pair(0, 0, 0, 20, 10, 1));

        // A reverse pair cuts gran + need + need/10 to max(need, gran).
        let need = 3 * GRAN;
        let p = penalty(GRAN, need, 2, true);
        assert_eq!(
            p,
            Penalty {
                penalty: need,
                debounced: true
            }
        );
        let p = penalty(GRAN, GRAN / 2, 2, true);
        assert_eq!(
            p,
            Penalty {
                penalty: GRAN,
                debounced: true
            }
        );
        let p = penalty(GRAN, need, 2, false);
        assert_eq!(
            p,
            Penalty {
                penalty: GRAN + need + need / 10,
                debounced: false
            }
        );
    }

    #[test]
    fn every_queue_size_band() {
        // (h_nr_queued, cap in eighths of gran, floor for need == 0 in sixteenths)
        let bands: [(u32, u64, u64); 12] = [
            (2, 48, 16),
            (3, 32, 15),
            (4, 20, 10),
            (6, 20, 10),
            (7, 16, 8),
            (8, 16, 8),
            (9, 12, 6),
            (12, 12, 6),
            (13, 8, 4),
            (100, 8, 4),
            (u32::MAX, 8, 4),
            (1, 48, 16),
        ];
        let gran = 16 * 8 * 1000;
        for (h, cap8, floor16) in bands {
            assert_eq!(cap(h, gran), gran / 8 * cap8);
            assert_eq!(floor(h, gran), gran / 16 * floor16);
            // need == 0: the floor.
            assert_eq!(penalty(gran, 0, h, false).penalty, gran / 16 * floor16);
            // A small need: gran + need + need/10, or the cap when that
            // is only gran (more than 12 queued).
            assert_eq!(
                penalty(gran, 10, h, false).penalty,
                (gran + 11).min(gran / 8 * cap8)
            );
            // A huge need: the cap.
            assert_eq!(
                penalty(gran, 1000 * gran, h, false).penalty,
                gran / 8 * cap8
            );
        }
    }

    #[test]
    fn penalty_bounds_and_overflow() {
        for h in [2u32, 3, 5, 8, 12, 40] {
            for need in [0u64, 1, GRAN / 3, GRAN, 7 * GRAN, u64::MAX / 2, u64::MAX] {
                for reverse in [false, true] {
                    let p = penalty(GRAN, need, h, reverse).penalty;
                    assert!(p <= cap(h, GRAN));
                    assert!(need == 0 || p >= GRAN);
                }
            }
        }
        // Near u64::MAX nothing wraps.
        assert_eq!(penalty(u64::MAX, u64::MAX, 2, false).penalty, u64::MAX);
        assert_eq!(penalty(u64::MAX - 5, 10, 3, false).penalty, u64::MAX);
        assert_eq!(penalty(u64::MAX - 5, 3, 3, false).penalty, u64::MAX - 2);
        assert_eq!(cap(2, u64::MAX / 2), u64::MAX);
        assert_eq!(floor(3, u64::MAX), u64::MAX >> 4);
    }

    #[test]
    fn donation_conserves_the_weighted_sum() {
        const LIMIT: u64 = 10_000_000;
        // Equal weights: the target gets the forfeit itself.
        assert_eq!(donation(3_000_000, 1024, 1024, 0, LIMIT), 3_000_000);
        // Weights differ: w_yielder * forfeit == w_target * donation, to
        // 16 significant bits of the ratio.
        for (wy, wt) in [
            (1024u64, 335),
            (335, 1024),
            (88_761, 15),
            (15, 88_761),
            (1 << 20, 3 << 19),
        ] {
            let forfeit = 2_999_999u64;
            let d = donation(forfeit, wy, wt, 0, u64::MAX >> 1);
            // The target never gets more than the yielder pays, and at
            // most 2^-13 of it less, plus the rounding of the last step.
            // Below 2^64 for these values.
            let (given, paid) = (d * wt, forfeit * wy);
            assert!(given <= paid);
            assert!(paid - given <= (paid >> 13) + wt + 2 * wy);
        }
        // No forfeit, nothing to give; nor for a move back.
        assert_eq!(donation(0, 1024, 1024, -5_000_000, LIMIT), 0);
        assert_eq!(donation(0u64.wrapping_sub(1000), 1024, 1024, 0, LIMIT), 0);
        assert_eq!(donation(1 << 63, 1024, 1024, i64::MIN, LIMIT), 0);
        // The lag limit: up to it, nothing beyond.
        assert_eq!(donation(3_000_000, 1024, 1024, 8_000_000, LIMIT), 2_000_000);
        assert_eq!(donation(3_000_000, 1024, 1024, LIMIT as i64, LIMIT), 0);
        assert_eq!(donation(3_000_000, 1024, 1024, i64::MAX, LIMIT), 0);
        // A target far behind the average may take all of it.
        assert_eq!(donation(3_000_000, 1024, 1024, i64::MIN, LIMIT), 3_000_000);
        // scale() and its edges.
        assert_eq!(scale(1000, 3, 2), 1500);
        // One weight: exact, where rounding `den` up would fall short
        // (more than 16 significant bits: nice -20's weight, 88761).
        assert_eq!(scale(u64::MAX, 0x1_0001, 0x1_0001), u64::MAX);
        assert_eq!(scale(3_000_007, 88_761, 88_761), 3_000_007);
        assert_eq!(scale(1000, 1, 0), 0);
        assert_eq!(scale(u64::MAX, 2, 1), u64::MAX);
        assert_eq!(scale(7, 0, 5), 0);
    }

    #[test]
    fn handoff_only_when_the_target_ends_eligible() {
        // Eligible already, or made so: the yielder need not forfeit.
        assert!(hands_off(true, 0, 0));
        assert!(hands_off(true, 1000, lag_credit(1000, GRAN, 2)));
        // The cap left it short: it forfeits, as lag-credit does.
        for h in [2u32, 3, 8, 40] {
            let need = 100 * GRAN;
            assert!(!hands_off(true, need, lag_credit(need, GRAN, h)));
            assert!(!hands_off(true, u64::MAX, lag_credit(u64::MAX, GRAN, h)));
        }
        // Exactly the need is not enough: eligibility is strict.
        assert!(!hands_off(true, 1000, 1000));
        // Without the buddy the pick may not take it: never.
        assert!(!hands_off(false, 0, 0));
        assert!(!hands_off(false, 1000, 1001));
    }

    #[test]
    fn handoff_keeps_an_eligible_yielder_and_steps_a_later_one_back() {
        let avg = 10_000_000u64;
        let s = GRAN >> STEP_SHIFT;
        assert_eq!(s, GRAN / 16);
        // Eligible, by 100 ns or exactly: it keeps its place and its lag.
        assert_eq!(step_back(avg, avg - 100, avg + GRAN, GRAN), Some(0));
        assert_eq!(step_back(avg, avg, avg + GRAN, GRAN), Some(0));
        // Past the average by less than the step: to a sixteenth of GRAN
        // past it, deadline kept.
        assert_eq!(step_back(avg, avg + 1, avg + GRAN, GRAN), Some(s - 1));
        assert_eq!(step_back(avg, avg + 100, avg + GRAN, GRAN), Some(s - 100));
        // Already that far past the average, or farther: no step.
        assert_eq!(step_back(avg, avg + s, avg + GRAN, GRAN), Some(0));
        assert_eq!(step_back(avg, avg + GRAN, avg + 2 * GRAN, GRAN), Some(0));
        // The step would reach the deadline, or it is past: the forfeit.
        assert_eq!(step_back(avg, avg + 1, avg + s, GRAN), None);
        assert_eq!(step_back(avg, avg + 1, avg + s + 1, GRAN), Some(s - 1));
        assert_eq!(step_back(avg, avg, avg, GRAN), None);
        assert_eq!(step_back(avg, avg + 5, avg, GRAN), None);
        // Across the wrap of the vruntime clock, and at the extremes.
        let w = u64::MAX - 100;
        assert_eq!(step_back(w, w - 10, w.wrapping_add(GRAN), GRAN), Some(0));
        assert_eq!(
            step_back(w, w.wrapping_add(10), w.wrapping_add(GRAN), GRAN),
            Some(s - 10)
        );
        assert_eq!(step_back(0, 0, u64::MAX, u64::MAX), None);
        assert_eq!(step_back(0, 0, 0, u64::MAX), None);
        assert_eq!(step_back(u64::MAX, 0, 0, 0), None);
    }

    #[test]
    fn lag_credit_makes_the_target_eligible_within_bounds() {
        // One past the need: the average does not move, the yielder pays.
        assert_eq!(lag_credit(1000, GRAN, 2), 1001);
        assert_eq!(lag_credit(1000, GRAN, 8), 1001);
        // Eligible already: nothing.
        assert_eq!(lag_credit(0, GRAN, 2), 0);
        // Bounded by the queue-size cap, and never overflowing.
        for h in [2u32, 3, 5, 8, 12, 40] {
            assert_eq!(lag_credit(100 * GRAN, GRAN, h), cap(h, GRAN));
            assert!(lag_credit(u64::MAX, GRAN, h) <= cap(h, GRAN));
            assert_eq!(lag_credit(u64::MAX, u64::MAX, h), cap(h, u64::MAX));
        }
        // The yielder pays at least the weighted credit, and not much more:
        // w_yielder * pay >= w_target * credit (values kept below 2^64).
        for (credit, wt, wy) in [
            (1001u64, 1024u64, 1024u64),
            (5000, 1024, 3072),
            (7, 88_761, 15),
            (123_456, 15, 88_761),
            (3_000_000, 1 << 20, 3 << 19),
        ] {
            let pay = lag_credit_pay(credit, wt, wy);
            assert!(pay * wy >= credit * wt);
            assert!(pay * wy <= credit * wt + ((credit * wt) >> 12) + 4 * wt + 2 * wy);
        }
        assert_eq!(lag_credit_pay(0, 1024, 1024), 0);
    }

    /// The worked case: a yielder whose request ends 1.4 ms past the
    /// average, under a bound of 2.4 ms, can pay for about 1 ms of credit
    /// at equal weights, twice that for a target of half its weight, and
    /// for nothing once its deadline is at the bound or beyond.
    #[test]
    fn credit_room_keeps_the_yielder_within_its_lag_bound() {
        let (avg, limit) = (1u64 << 40, 2_400_000u64);
        let deadline = avg + 1_400_000;
        let room = limit - 1_400_000;
        for (wt, wy) in [(1024u64, 1024u64), (512, 1024), (88_761, 15), (15, 88_761)] {
            let c = credit_room(avg, deadline, limit, wt, wy);
            assert!(lag_credit_pay(c, wt, wy) <= room);
            // Not much less than the exact room, for weights that keep it
            // above a few ns.
            if c > 1000 {
                assert!(lag_credit_pay(c + (c >> 10) + 8, wt, wy) > room);
            }
        }
        assert!(credit_room(avg, deadline, limit, 1024, 1024).abs_diff(room) <= room >> 11);
        assert!(credit_room(avg, deadline, limit, 512, 1024).abs_diff(2 * room) <= room >> 10);
        // A deadline at or behind the average leaves the whole bound.
        assert_eq!(
            credit_room(avg, avg - 5, limit, 1024, 1024),
            credit_room(avg, avg, limit, 1024, 1024)
        );
        // At the bound or beyond it, and across the wrap: nothing.
        assert_eq!(credit_room(avg, avg + limit, limit, 1024, 1024), 0);
        assert_eq!(credit_room(avg, avg + 2 * limit, limit, 1024, 1024), 0);
        assert_eq!(credit_room(u64::MAX - 10, 5 + limit, limit, 1024, 1024), 0);
        assert_eq!(credit_room(avg, deadline, 0, 1024, 1024), 0);
    }

    #[test]
    fn need_is_wrap_safe() {
        assert_eq!(need(100, 350), 250);
        assert_eq!(need(350, 100), 0);
        assert_eq!(need(5, 5), 0);
        assert_eq!(need(u64::MAX - 10, 20), 31);
        assert_eq!(need(20, u64::MAX - 10), 0);
    }

    #[test]
    fn tenth_divides_exactly() {
        for n in [
            0u64,
            9,
            10,
            11,
            99,
            12345,
            1 << 32,
            (1 << 48) + 7,
            u64::MAX,
            u64::MAX - 9,
        ] {
            let q = tenth(n);
            assert!(q.checked_mul(10).is_some_and(|t| t <= n && n - t < 10));
        }
    }

    #[test]
    fn div_small_and_fraction() {
        for d in [1u16, 2, 3, 10, 1000, 0xffff] {
            let nz = NonZeroU16::new(d).unwrap_or(NonZeroU16::MIN);
            for n in [0u64, 1, 65535, 65536, 1 << 40, u64::MAX] {
                // Checked by multiplying back: no 64-bit division.
                let (q, r) = div_small(n, nz);
                assert!(r < d);
                assert_eq!(q.checked_mul(u64::from(d)), Some(n - u64::from(r)));
            }
        }
        assert_eq!(fraction(3_000_000, 1024, 2048), 1_500_000);
        assert_eq!(fraction(3_000_000, 3, 4), 2_250_000);
        // A numerator above the denominator counts as the whole; no denominator: 0.
        assert_eq!(fraction(1000, 5, 4), 1000);
        assert_eq!(fraction(1000, 5, 0), 0);
        assert_eq!(fraction(u64::MAX, u64::MAX, u64::MAX), u64::MAX);
        // Wide weights lose precision past 16 significant bits only.
        let (num, den) = (1u64 << 40, 3u64 << 40);
        let got = fraction(3_000_000, num, den);
        assert!(got.abs_diff(1_000_000) <= 1_000_000 >> 15);
    }

    /// One level of a hierarchy: entity weight and the weight of its queue.
    fn level(weight: u64, group_weight: u64) -> bindings::sched_vcpu_prop_level {
        bindings::sched_vcpu_prop_level {
            weight,
            group_weight,
        }
    }

    #[test]
    fn proportional_shares_per_level() {
        const SLICE: u64 = 3_000_000;
        let w = 1024u64;
        let eligible = i64::MAX;
        // At the root there is no level to yield: mainline's forfeit only.
        assert_eq!(proportional_push(SLICE, &[], eligible, w, 2 * w), 0);
        // One of two equal tasks in a group: half a slice.
        let one = [level(w, 2 * w)];
        assert_eq!(
            proportional_push(SLICE, &one, eligible, w, 2 * w),
            SLICE / 2
        );
        // One level up, that group holds a quarter of its parent's weight:
        // the subtree's share there is 1/2 * 1/4.
        let two = [level(w, 2 * w), level(w, 4 * w)];
        assert_eq!(
            proportional_push(SLICE, &two, eligible, w, 2 * w),
            SLICE / 2 + SLICE / 8
        );
        // Alone in its group, under a group that is alone: a slice per level.
        let alone = [level(w, w), level(w, w), level(w, w)];
        assert_eq!(
            proportional_push(SLICE, &alone, eligible, w, 4 * w),
            3 * SLICE
        );
        // Zero weights (an empty queue) end the walk without a push.
        assert_eq!(
            proportional_push(SLICE, &[level(0, w)], eligible, w, 2 * w),
            0
        );
        assert_eq!(
            proportional_push(SLICE, &[level(w, 0)], eligible, w, 2 * w),
            0
        );
    }

    #[test]
    fn proportional_stops_at_ineligibility() {
        const SLICE: u64 = 3_000_000;
        let w = 1024u64;
        let two = [level(w, 2 * w), level(w, 2 * w)];
        // Ineligible after the forfeit: nothing; exactly at zero lag: eligible.
        assert_eq!(proportional_push(SLICE, &two, -1, w, 2 * w), 0);
        assert_eq!(proportional_push(SLICE, &two, 0, w, 2 * w), SLICE / 2);
        // Level 0 pushes SLICE/2, which cuts the lag by half of that (the
        // yielder is half the queue): 750 us of lag is exactly enough to
        // stay eligible for level 1, one ns less is not.
        assert_eq!(
            proportional_push(SLICE, &two, 750_000, w, 2 * w),
            SLICE / 2 + SLICE / 4
        );
        assert_eq!(proportional_push(SLICE, &two, 749_999, w, 2 * w), SLICE / 2);
    }

    /// xorshift64: the fuzz tests' reproducible random numbers.
    fn next(state: &mut u64) -> u64 {
        *state ^= *state << 13;
        *state ^= *state >> 7;
        *state ^= *state << 17;
        *state
    }

    /// A random number below `n`, from a u32 remainder: no 64-bit
    /// division, which 32-bit builds do not link.
    fn below(state: &mut u64, n: u32) -> u32 {
        u32::try_from(next(state) >> 32).unwrap_or(0) % n
    }

    /// A random value of random magnitude, so that small and huge values
    /// and the edges all come up.
    fn any(state: &mut u64) -> u64 {
        let bits = below(state, 65);
        let v = next(state);
        if bits == 64 {
            v
        } else {
            v & ((1u64 << bits) - 1)
        }
    }

    #[test]
    fn fuzz_policy_invariants() {
        let mut rng = 0x9e37_79b9_7f4a_7c15u64;
        for _ in 0..1_000_000 {
            let (gran, need) = (any(&mut rng), any(&mut rng));
            let h = u32::try_from(any(&mut rng) & 0xff).unwrap_or(u32::MAX);
            let reverse = next(&mut rng) & 1 == 1;

            // deboost: within [gran, cap] when the target is ahead, never
            // above the cap, and not smaller for a larger need.
            let p = penalty(gran, need, h, reverse).penalty;
            assert!(p <= cap(h, gran).max(gran));
            assert!(need == 0 || p >= gran);
            if !reverse && need > 0 {
                assert!(penalty(gran, need.saturating_add(1), h, false).penalty >= p);
            }

            // lag-credit: within the cap, past the need unless capped, and
            // the yielder pays at least what the target gets.
            let c = lag_credit(need, gran, h);
            assert!(c <= cap(h, gran));
            assert!(need == 0 || c >= need.saturating_add(1).min(cap(h, gran)));
            let (c, wt, wy) = (
                c >> 24,
                (any(&mut rng) >> 40) + 1,
                (any(&mut rng) >> 40) + 1,
            );
            if let (Some(paid), Some(given)) =
                (lag_credit_pay(c, wt, wy).checked_mul(wy), c.checked_mul(wt))
            {
                assert!(paid >= given);
            }

            // Capped by the yielder's room, the pay never takes its
            // deadline further past the average than the bound, and a
            // deadline at the bound or beyond pays for nothing.
            let (avg, deadline, limit) = (any(&mut rng), any(&mut rng), any(&mut rng) >> 20);
            let big = any(&mut rng);
            let room = credit_room(avg, deadline, limit, wt, wy);
            let pay = lag_credit_pay(c.min(room), wt, wy);
            assert!(lag_credit_pay(big.min(room), wt, wy) >= pay || big < c);
            let debt = u64::try_from(deadline.wrapping_sub(avg) as i64).unwrap_or(0);
            assert!(pay <= limit.saturating_sub(debt));
            assert!(lag_credit_pay(big.min(room), wt, wy) <= limit.saturating_sub(debt));

            // handoff's step: short of the deadline; none for an eligible
            // yielder, else exactly to a sixteenth of a slice past the
            // average, or none.
            let (avg, v, d) = (any(&mut rng), any(&mut rng), any(&mut rng));
            if let Some(s) = step_back(avg, v, d, gran) {
                assert!((d.wrapping_sub(v) as i64) > 0 && s < d.wrapping_sub(v));
                let goal = avg.wrapping_add(gran >> STEP_SHIFT).wrapping_sub(v) as i64;
                let eligible = (v.wrapping_sub(avg) as i64) <= 0;
                assert_eq!(
                    s,
                    if eligible {
                        0
                    } else {
                        u64::try_from(goal).unwrap_or(0)
                    }
                );
            }

            // proportional: at most a slice per level, nothing when
            // ineligible, and never less for more lag.
            let mut levels = [level(0, 0); 8];
            let n = usize::try_from(below(&mut rng, 9)).unwrap_or(0);
            for l in levels.iter_mut().take(n) {
                *l = level(any(&mut rng), any(&mut rng));
            }
            let levels = levels.get(..n).unwrap_or(&[]);
            let slice = any(&mut rng);
            let lag = any(&mut rng) as i64;
            let (w, total) = (any(&mut rng), any(&mut rng));
            let push = proportional_push(slice, levels, lag, w, total);
            let per_level = u64::try_from(n).unwrap_or(0);
            assert!(push <= slice.saturating_mul(per_level));
            if lag < 0 {
                assert_eq!(push, 0);
            } else {
                assert!(
                    proportional_push(slice, levels, lag.saturating_add(1 << 20), w, total) >= push
                );
            }

            // donate: never beyond the lag limit, nothing at or above it,
            // never less for a larger forfeit, and, where nothing caps
            // it, the yielder's weighted forfeit within rounding.
            let forfeit = any(&mut rng) >> 24;
            let (wy, wt) = ((any(&mut rng) >> 40) + 1, (any(&mut rng) >> 40) + 1);
            assert!(scale(forfeit, wy, wt) <= scale(forfeit.saturating_add(1), wy, wt));
            let limit = any(&mut rng) >> 24;
            let d = donation(forfeit, wy, wt, lag, limit);
            // `limit < 2^40`, so the room is exact in an i64.
            let room = (limit as i64).saturating_sub(lag).max(0) as u64;
            assert!(d <= room);
            assert!(donation(forfeit.saturating_add(1 << 10), wy, wt, lag, limit) >= d);
            if let (true, Some(given), Some(paid)) = (
                scale(forfeit, wy, wt) < room,
                d.checked_mul(wt),
                forfeit.checked_mul(wy),
            ) {
                assert!(given <= paid);
                assert!(paid - given <= (paid >> 13) + wt + 2 * wy);
            }
        }
    }
}
