// SPDX-License-Identifier: GPL-2.0

//! vCPU debooster: a lasting advantage for the target of `yield_to()`.
//!
//! When a vCPU thread spins on a lock whose holder was preempted, KVM calls
//! `yield_to()` on the holder. The fair class then only sets the holder as
//! the next buddy, a preference that is gone after one pick. The debooster
//! also pushes the yielder's vruntime forward by a bounded penalty, so that
//! the holder keeps its advantage until it has made progress.
//!
//! `yield_to_task_fair()` calls [`sched_vcpu_deboost_begin`],
//! [`sched_vcpu_deboost_gate`] and then [`sched_vcpu_deboost_decide`],
//! before `yield_task_fair()` forfeits the yielder's slice, so that the
//! vruntime gap is measured on true values.
//! The C side gathers what only `fair.c` can see (the two sched entities,
//! where their cgroup hierarchies meet, the weights) and applies the result;
//! every decision is made here.
//!
//! Linux 7.3 picks from one flat EEVDF timeline per runqueue: every task
//! entity sits in `rq->cfs`, with a weight that already carries its groups'
//! shares, and group entities only track load. The penalty therefore moves
//! the yielder's own entity, scaled by its hierarchical weight, while the
//! level where both tasks' cgroup hierarchies meet (their lowest common
//! ancestor) decides whether there is contention and which queue-size band
//! bounds the penalty.
//!
//! The run-time switch is `/sys/kernel/debug/sched/vcpu_debooster_enabled`;
//! the counters are in `/sys/kernel/debug/sched/vcpu_debooster_stats`.

use core::{marker::PhantomData, num::NonZeroU16, ptr::addr_of_mut, ptr::NonNull};
use kernel::{
    bindings,
    error::code::EINVAL,
    ffi::{c_char, c_int, c_void},
    prelude::*,
    seq_file::SeqFile,
    seq_print,
    sync::atomic::{Atomic, Relaxed},
};

/// At most one penalty per runqueue in this many nanoseconds of rq clock.
pub const RATE_LIMIT_NS: u64 = 6_000_000;

/// A yield from B to A this soon after one from A to B is a reverse pair.
pub const DEBOUNCE_NS: u64 = 600_000;

/// The strategies of `enum sched_vcpu_yield_strategy`: what
/// `yield_to_task_fair()` does for the target beyond mainline's next buddy
/// and forfeit.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u32)]
pub enum Strategy {
    /// Push the yielder's vruntime by a bounded penalty (v2 series).
    Deboost = bindings::sched_vcpu_yield_strategy_SCHED_VCPU_YIELD_DEBOOST,
    /// Credit the target with lag; the yielder pays (v3 series).
    LagCredit = bindings::sched_vcpu_yield_strategy_SCHED_VCPU_YIELD_LAG_CREDIT,
    /// Push the yielder by its groups' shares (the review of v2).
    Proportional = bindings::sched_vcpu_yield_strategy_SCHED_VCPU_YIELD_PROPORTIONAL,
    /// Give the target what the yielder forfeits.
    Donate = bindings::sched_vcpu_yield_strategy_SCHED_VCPU_YIELD_DONATE,
    /// Nothing beyond mainline.
    Mainline = bindings::sched_vcpu_yield_strategy_SCHED_VCPU_YIELD_MAINLINE,
}

impl Strategy {
    /// Every strategy, in the order of the C enum: the array's type makes
    /// the build fail when the C enum gains one.
    pub const ALL: [Strategy; bindings::sched_vcpu_yield_strategy_SCHED_VCPU_YIELD_NR as usize] = [
        Strategy::Deboost,
        Strategy::LagCredit,
        Strategy::Proportional,
        Strategy::Donate,
        Strategy::Mainline,
    ];

    /// The name in `/sys/kernel/debug/sched/vcpu_yield_strategy`.
    pub const fn name(self) -> &'static str {
        match self {
            Strategy::Deboost => "deboost",
            Strategy::LagCredit => "lag-credit",
            Strategy::Proportional => "proportional",
            Strategy::Donate => "donate",
            Strategy::Mainline => "mainline",
        }
    }

    /// Parses a name written to `vcpu_yield_strategy` (one trailing newline
    /// allowed).
    pub fn parse(val: &[u8]) -> Result<Self> {
        let name = val.strip_suffix(b"\n").unwrap_or(val);
        Self::ALL
            .into_iter()
            .find(|s| s.name().as_bytes() == name)
            .ok_or(EINVAL)
    }

    /// Whether the strategy obeys the per-runqueue rate limit. The
    /// proposal behind `proportional` has none: its stop at ineligibility
    /// bounds it. `donate` has none: it moves virtual time from the yielder
    /// to the target and leaves the queue's weighted sum as it was, so
    /// repeating it cannot raise the pair's share above what the pair
    /// already has.
    fn rate_limits(self) -> bool {
        !matches!(self, Strategy::Proportional | Strategy::Donate)
    }
}

impl TryFrom<u32> for Strategy {
    type Error = Error;

    fn try_from(v: u32) -> Result<Self> {
        Self::ALL.into_iter().find(|s| *s as u32 == v).ok_or(EINVAL)
    }
}

/// The active strategy, a [`Strategy`] as `u32`. Written by the debugfs
/// file, read on the yield path: relaxed, like [`ENABLED`].
static STRATEGY: Atomic<u32> = Atomic::new(Strategy::Donate as u32);

/// The active strategy; `mainline` when the switch is off.
fn active_strategy() -> Strategy {
    if !ENABLED.load(Relaxed) {
        return Strategy::Mainline;
    }
    // Only [`Strategy`] values are ever stored.
    Strategy::try_from(STRATEGY.load(Relaxed)).unwrap_or(Strategy::Mainline)
}

/// Whether the debooster may act. On by default, as in the series.
///
/// Written by the debugfs file, read locklessly on the yield path: a yield
/// that races with a write may see either value, so relaxed is enough.
static ENABLED: Atomic<bool> = Atomic::new(true);

/// Why a yield got no penalty.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Refusal {
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
pub fn validate(y: &bindings::sched_vcpu_deboost_yield) -> Result<(), Refusal> {
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

/// Whether the rate limit refuses a penalty at `now`, the last one having
/// been applied at `last_apply` (0: never). Exactly [`RATE_LIMIT_NS`] after
/// the last penalty, the next one is allowed.
pub fn rate_limited(now: u64, last_apply: u64) -> bool {
    last_apply != 0 && now.saturating_sub(last_apply) < RATE_LIMIT_NS
}

/// Whether `yielder` → `target` at `now` reverses the last validated yield
/// (`last_yielder` → `last_target` at `last_ns`) within [`DEBOUNCE_NS`],
/// bound included.
pub fn is_reverse_pair(
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
///
/// vruntimes are compared through their wrapping difference, as the
/// scheduler does, so the result is right across a wrap of the clock.
pub fn need(yielder_vruntime: u64, target_vruntime: u64) -> u64 {
    // Reinterpreting the wrapped difference as signed is the comparison.
    let ahead = target_vruntime.wrapping_sub(yielder_vruntime) as i64;
    u64::try_from(ahead).unwrap_or(0)
}

/// `n / d` and `n % d` without a 64-bit division, which 32-bit targets
/// would have to call `__udivdi3` for: long division in 16-bit digits, each
/// step a 32-bit division. The divisor's type rules out division by zero.
pub fn div_small(n: u64, d: NonZeroU16) -> (u64, u16) {
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
pub fn tenth(n: u64) -> u64 {
    const TEN: NonZeroU16 = NonZeroU16::MIN.saturating_add(9);
    div_small(n, TEN).0
}

/// `a * num / den` for a fraction `num / den` of at most 1 (a larger `num`
/// counts as `den`), with the fraction rounded to 16 significant bits; 0
/// when `den` is 0. Never overflows, and needs no 64-bit division.
pub fn fraction(a: u64, num: u64, den: u64) -> u64 {
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
pub fn cap(h_nr_queued: u32, gran: u64) -> u64 {
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
pub fn floor(h_nr_queued: u32, gran: u64) -> u64 {
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
pub struct Penalty {
    /// vruntime push of the yielder.
    pub penalty: u64,
    /// The reverse-pair debounce made it smaller.
    pub debounced: bool,
}

/// The penalty for a yield whose target is `need` ahead, with `gran` the
/// base slice in the yielder's virtual time and `h_nr_queued` tasks below
/// the common level.
///
/// With `need > 0` it is `gran + need + need/10`, cut to `max(need, gran)`
/// for a reverse pair, then clamped to `[gran, cap]`. With `need == 0` it is
/// the queue-size [`floor`]. It never exceeds [`cap`] and never overflows.
pub fn penalty(gran: u64, need: u64, h_nr_queued: u32, reverse_pair: bool) -> Penalty {
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

/// A counter of `struct sched_vcpu_deboost_stats`: its name, which is the
/// field's and the line's in `vcpu_debooster_stats`, and where the field is.
///
/// # Invariants
///
/// `offset` is the offset of a `u64` field of `sched_vcpu_deboost_stats`:
/// the constants below are the only values.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Counter {
    /// The field's name.
    pub name: &'static str,
    /// The field's offset in the struct.
    offset: usize,
}

/// Defines one [`Counter`] constant per field, and the table of them all.
macro_rules! counters {
    ($($konst:ident: $field:ident),* $(,)?) => {
        impl Counter {
            $(
                #[doc = concat!("`", stringify!($field), "`.")]
                pub const $konst: Counter = Counter {
                    name: stringify!($field),
                    offset: core::mem::offset_of!(bindings::sched_vcpu_deboost_stats, $field),
                };
            )*
            /// Every counter, in the order of the struct.
            pub const ALL: &'static [Counter] = &[$(Counter::$konst),*];
        }
    };
}

counters!(
    CALLS: calls,
    APPLIED: applied,
    CREDITED: credited,
    PUSHED: pushed,
    DONATED: donated,
    DEBOUNCED: debounced,
    RATE_LIMITED: rate_limited,
    NO_CONTENTION: no_contention,
    NO_TARGET: no_target,
    SELF_YIELD: self_yield,
    TARGET_NOT_FAIR: target_not_fair,
    OTHER_RQ: other_rq,
    NOT_QUEUED: not_queued,
);

// The table has every field of the struct: it holds nothing but counters.
const _: () = assert!(
    Counter::ALL.len() * core::mem::size_of::<u64>()
        == core::mem::size_of::<bindings::sched_vcpu_deboost_stats>()
);

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
pub struct Counters<'a> {
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
    unsafe fn from_raw(ptr: *mut bindings::sched_vcpu_deboost_stats) -> Option<Self> {
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
    pub fn load(&self, c: Counter) -> u64 {
        self.get(c).load(Relaxed)
    }

    /// Adds `n` to counter `c`. Not atomic as a whole: only for counters
    /// with one writer at a time, as WRITE_ONCE(c, READ_ONCE(c) + n) in C.
    fn add(&self, c: Counter, n: u64) {
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
pub struct RqState<'a> {
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
    unsafe fn from_raw(st: *mut bindings::sched_vcpu_deboost_rq) -> Option<Self> {
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
    fn bump(&mut self, c: Counter) {
        self.counters.add(c, 1);
    }
}

/// First step, for every `yield_to()` that gets past the hook's static key:
/// counts the call and returns the strategy to apply to it, `mainline` when
/// the switch is off (a write racing with the key). With the switch off or
/// `mainline` selected, the key keeps `yield_to()` from calling this at all.
///
/// # Safety
///
/// `st` is the state of the runqueue whose lock the caller holds, valid for
/// the duration of the call.
#[export]
pub unsafe extern "C" fn sched_vcpu_deboost_begin(
    st: *mut bindings::sched_vcpu_deboost_rq,
) -> bindings::sched_vcpu_yield_strategy {
    // SAFETY: The caller holds the lock of the runqueue that `st` belongs
    // to for this call (this function's safety requirements).
    if let Some(mut st) = unsafe { RqState::from_raw(st) } {
        st.bump(Counter::CALLS);
    }
    active_strategy() as u32
}

/// Whether a strategy may act: the switch is on and the strategy is not
/// `mainline`. The hook's static key follows it (`sched_vcpu_yield_key_sync()`).
///
/// # Safety
///
/// Always safe to call; `unsafe` only because of `#[export]`.
#[export]
pub unsafe extern "C" fn sched_vcpu_deboost_active() -> bool {
    active_strategy() != Strategy::Mainline
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

/// [`sched_vcpu_deboost_gate`], on the views of its arguments.
fn check(st: &mut RqState<'_>, y: &mut bindings::sched_vcpu_deboost_yield) -> bool {
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

/// What a strategy did, for the counters.
enum Action {
    /// `deboost` pushed the yielder; the debounce may have cut the push.
    Penalty { debounced: bool },
    /// `lag-credit` credited the target.
    Credit,
    /// `proportional` pushed the yielder.
    Push,
    /// `donate` gave the target the yielder's forfeit.
    Donate,
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
        }
    }
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

/// The frame of every strategy's decision: clears the outputs, measures
/// how far the target is ahead (`y.need`) and refuses, counted, when at
/// most one task is queued where the decision is made; otherwise runs
/// `strategy`, which fills its outputs in `y` and returns what it did, if
/// anything. An action starts the rate limit and counts as applied, and by
/// its kind.
fn decide(
    st: &mut RqState<'_>,
    y: &mut bindings::sched_vcpu_deboost_yield,
    strategy: impl FnOnce(&mut bindings::sched_vcpu_deboost_yield) -> Option<Action>,
) {
    y.penalty = 0;
    y.credit = 0;
    y.debounced = false;
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

/// The lag to credit a target that is `need` ahead of the queue's average
/// vruntime, so that it becomes eligible: `need + 1`, bounded by the
/// queue-size [`cap`]; 0 when it is eligible already. The yielder pays for
/// it ([`lag_credit_pay`]), so the average stays where it is and the
/// credit needs no allowance for it moving.
pub fn lag_credit(need: u64, gran: u64, h_nr_queued: u32) -> u64 {
    if need == 0 {
        return 0;
    }
    need.saturating_add(1).min(cap(h_nr_queued, gran))
}

/// What the yielder pays, in its virtual time, for a credit of `credit` to
/// the target: `credit * w_target / w_yielder`, rounded up by more than
/// [`scale`] can round down, so that the queue's weighted sum, the average
/// and every other task's lag never move against the other tasks.
pub fn lag_credit_pay(credit: u64, w_target: u64, w_yielder: u64) -> u64 {
    if credit == 0 {
        return 0;
    }
    let p = scale(credit, w_target, w_yielder);
    p.saturating_add(p >> 13)
        .saturating_add(scale(2, w_target, w_yielder))
        .saturating_add(2)
}

/// Second step for the strategy `lag-credit`: computes the lag to credit
/// the target (`y.credit`, 0: none) from the queue's average vruntime
/// (`y.yielder_vruntime`) and the target's vruntime, and what the yielder
/// pays for it (`y.penalty`) from their weights. A credit counts as applied
/// and starts the rate limit.
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
        y.credit = lag_credit(y.need, y.gran, y.h_nr_queued);
        y.penalty = lag_credit_pay(y.credit, y.target_weight, y.weight);
        (y.credit != 0).then_some(Action::Credit)
    });
}

/// The push of strategy `proportional`, the proposal of the review of v2:
/// after the forfeit, every level of the yielder's cgroup hierarchy gives
/// up the yielding subtree's share of a slice, bottom up, until the yielder
/// is no longer eligible.
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
pub fn proportional_push(
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

/// Second step for the strategy `proportional`, called after
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

/// `a * num / den` for any ratio, never more: `num` and `den` are each
/// rounded to 16 significant bits (`num` down, `den` up), so the result is
/// short of the exact value by less than 2^-14 of it, plus what the final
/// scaling by a power of two cannot hold (at most `num / den`, plus one).
/// 0 when `den` or `num` is 0. Saturates, and needs no 64-bit division.
pub fn scale(a: u64, num: u64, den: u64) -> u64 {
    let bits = |x: u64| u64::BITS - x.leading_zeros();
    if den == 0 || num == 0 {
        return 0;
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
/// bound cuts off stays forfeited, as in mainline. 0 without a forfeit.
pub fn donation(forfeit: u64, w_yielder: u64, w_target: u64, lag: i64, limit: u64) -> u64 {
    let room = i64::try_from(limit).unwrap_or(i64::MAX).saturating_sub(lag);
    let room = u64::try_from(room).unwrap_or(0);
    scale(forfeit, w_yielder, w_target).min(room)
}

/// Second step for the strategy `donate`, called after `yield_task_fair()`
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

/// Shows `vcpu_yield_strategy`: every name, the selected one in brackets.
///
/// # Safety
///
/// `m` points to a valid `seq_file` that no other thread uses during the call.
#[export]
pub unsafe extern "C" fn sched_vcpu_yield_strategy_show(m: *mut bindings::seq_file) {
    // SAFETY: `m` is a valid `seq_file` that this call alone uses, by the
    // safety requirements.
    let m = unsafe { SeqFile::from_raw(m) };
    let selected = STRATEGY.load(Relaxed);
    for (i, s) in Strategy::ALL.into_iter().enumerate() {
        let sep = if i == 0 { "" } else { " " };
        let name = s.name();
        if s as u32 == selected {
            seq_print!(m, "{sep}[{name}]");
        } else {
            seq_print!(m, "{sep}{name}");
        }
    }
    seq_print!(m, "\n");
}

/// Selects a strategy by name. Unknown names are rejected with `-EINVAL`
/// and leave the strategy as it was.
///
/// # Safety
///
/// `buf` is valid for reads of `len` bytes.
#[export]
pub unsafe extern "C" fn sched_vcpu_yield_strategy_write(buf: *const c_char, len: usize) -> c_int {
    if buf.is_null() {
        return EINVAL.to_errno();
    }
    // SAFETY: `buf` is not null and valid for reads of `len` bytes, by the
    // safety requirements.
    let val = unsafe { core::slice::from_raw_parts(buf.cast::<u8>(), len) };
    match Strategy::parse(val) {
        Ok(s) => {
            STRATEGY.store(s as u32, Relaxed);
            0
        }
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
    seq_print!(m, "enabled {}\n", u8::from(ENABLED.load(Relaxed)));
    // SAFETY: `s` is valid and nobody writes it during the call, by the
    // safety requirements; this view only loads.
    let Some(s) = (unsafe { Counters::from_raw(s.cast_mut()) }) else {
        return;
    };
    for &c in Counter::ALL {
        seq_print!(m, "{} {}\n", c.name, s.load(c));
    }
}

/// Parses a value written to `vcpu_debooster_enabled`: only 0 and 1 are valid.
fn parse_enabled(val: u64) -> Result<bool> {
    match val {
        0 => Ok(false),
        1 => Ok(true),
        _ => Err(EINVAL),
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
    // SAFETY: The debugfs attribute code passes a valid pointer.
    unsafe { val.write(u64::from(ENABLED.load(Relaxed))) };
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
            ENABLED.store(on, Relaxed);
            0
        }
        Err(e) => e.to_errno(),
    }
}

#[kunit_tests(vcpu_boost_sched_debooster)]
mod tests {
    use super::*;

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

    /// The hook's first two steps, as `yield_to_boost()` in fair.c takes them.
    fn begin_and_gate(
        st: &mut bindings::sched_vcpu_deboost_rq,
        y: &mut bindings::sched_vcpu_deboost_yield,
    ) -> bool {
        // SAFETY: Both are exclusively ours for the calls.
        unsafe {
            y.strategy = sched_vcpu_deboost_begin(st);
            sched_vcpu_deboost_gate(st, y)
        }
    }

    fn zeroed_state() -> bindings::sched_vcpu_deboost_rq {
        // SAFETY: All-zero is the initial state, as in a zeroed struct rq.
        unsafe { core::mem::zeroed() }
    }

    #[test]
    fn enabled_accepts_only_0_and_1() {
        assert_eq!(parse_enabled(0), Ok(false));
        assert_eq!(parse_enabled(1), Ok(true));
        assert_eq!(parse_enabled(2), Err(EINVAL));
        assert_eq!(parse_enabled(u64::MAX), Err(EINVAL));
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
    fn strategy_names() {
        assert_eq!(Strategy::parse(b"deboost"), Ok(Strategy::Deboost));
        assert_eq!(Strategy::parse(b"lag-credit\n"), Ok(Strategy::LagCredit));
        assert_eq!(Strategy::parse(b"proportional"), Ok(Strategy::Proportional));
        assert_eq!(Strategy::parse(b"donate"), Ok(Strategy::Donate));
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
        assert_eq!(limited, [true, true, false, false, true]);
    }

    #[test]
    fn counters_cover_every_field_once() {
        let mut st = zeroed_state();
        st.stats.calls = 1;
        st.stats.applied = 2;
        st.stats.not_queued = 13;
        // SAFETY: `st` is local and accessed only through this view.
        let view = unsafe { Counters::from_raw(&mut st.stats) };
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
        assert_eq!((st.stats.calls, st.stats.rate_limited), (101, 100));
        assert_eq!(st.stats.not_queued, 113);
        let name = |i: usize| Counter::ALL.get(i).map(|c| c.name);
        assert_eq!(name(0), Some("calls"));
        assert_eq!(name(6), Some("rate_limited"));
        assert_eq!(name(12), Some("not_queued"));
        assert_eq!(name(13), None);

        // The stats file's sum: every counter of every runqueue.
        // SAFETY: All-zero is a valid, empty sum.
        let mut sum: bindings::sched_vcpu_deboost_stats = unsafe { core::mem::zeroed() };
        // SAFETY: `sum` and `st` are local; nothing else accesses them.
        unsafe {
            sched_vcpu_deboost_stats_add(&mut sum, &st);
            sched_vcpu_deboost_stats_add(&mut sum, &st);
        }
        assert_eq!((sum.calls, sum.applied, sum.donated), (202, 204, 200));
        assert_eq!(sum.not_queued, 226);
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
        // No forfeit, nothing to give.
        assert_eq!(donation(0, 1024, 1024, -5_000_000, LIMIT), 0);
        // The lag limit: up to it, nothing beyond.
        assert_eq!(donation(3_000_000, 1024, 1024, 8_000_000, LIMIT), 2_000_000);
        assert_eq!(donation(3_000_000, 1024, 1024, LIMIT as i64, LIMIT), 0);
        assert_eq!(donation(3_000_000, 1024, 1024, i64::MAX, LIMIT), 0);
        // A target far behind the average may take all of it.
        assert_eq!(donation(3_000_000, 1024, 1024, i64::MIN, LIMIT), 3_000_000);
        // scale() and its edges.
        assert_eq!(scale(1000, 3, 2), 1500);
        assert_eq!(scale(1000, 1, 0), 0);
        assert_eq!(scale(u64::MAX, 2, 1), u64::MAX);
        assert_eq!(scale(7, 0, 5), 0);
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
                let (q, r) = div_small(n, nz);
                assert_eq!((q, u64::from(r)), (n / u64::from(d), n % u64::from(d)));
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

    /// A random value of random magnitude, so that small and huge values
    /// and the edges all come up.
    fn any(state: &mut u64) -> u64 {
        let bits = next(state) % 65;
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

            // proportional: at most a slice per level, nothing when
            // ineligible, and never less for more lag.
            let mut levels = [level(0, 0); 8];
            let n = usize::try_from(next(&mut rng) % 9).unwrap_or(0);
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

    /// Selects a strategy until dropped, also when an assertion ends the
    /// test early, so that later tests and real yields see the old one.
    struct StrategyGuard(u32);

    impl StrategyGuard {
        fn select(strategy: Strategy) -> Self {
            let guard = Self(STRATEGY.load(Relaxed));
            STRATEGY.store(strategy as u32, Relaxed);
            guard
        }
    }

    impl Drop for StrategyGuard {
        fn drop(&mut self) {
            STRATEGY.store(self.0, Relaxed);
        }
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
            y.levels[0] = level(1024, 2048);
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
        y.levels = [level(1, 1); bindings::SCHED_VCPU_PROP_LEVELS as usize];
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
