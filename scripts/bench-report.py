#!/usr/bin/env python3
"""Turns the VB-BENCH lines of a make bench guest log into bench/REPORT.md
and PNG plots. Every number in the report is computed here from that log.

Usage: bench-report.py OUT_DIR GUEST_LOG...
       bench-report.py --kvm OUT_DIR KVM_LOG
       bench-report.py --filter OUT_DIR FILTER_LOG
The second form (VB_BENCH_PARTS=kvm make bench) rewrites only the section of
the kvm part, between its markers, and leaves the rest of the report as the
last whole make bench wrote it; the third the filter part's.
"""
import json
import os
import statistics
import sys
from collections import defaultdict
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

import report_section  # noqa: E402  (beside this script)
from benchlog import parse  # noqa: E402


def med(xs):
    return statistics.median(xs) if xs else float("nan")


def spread(xs):
    return f"{min(xs):.3g}–{max(xs):.3g}" if xs else "–"


def med_range(xs):
    """The median of xs with its range, for a table cell."""
    return f"{fmt(med(xs))} ({spread(xs)})"


def fmt(x, digits=3):
    if x != x:
        return "–"
    if abs(x) >= 1000:
        return f"{x:,.0f}"
    return f"{x:.{digits}g}"


# The yield strategies in the order of the tables, mainline (the reference)
# first; main() narrows this to the strategies the logs hold, and appends
# any the logs hold that are not named here.
STRATEGIES = ["mainline", "deboost", "lag-credit", "proportional", "donate", "handoff"]
COUNT_WORDS = {2: "two", 3: "three", 4: "four", 5: "five", 6: "six", 7: "seven", 8: "eight"}


def set_strategies(runs):
    """STRATEGIES and SETTINGS: the strategies the kernel and cost runs hold."""
    global STRATEGIES, SETTINGS
    seen = {r["cfg_strategy"] for r in runs if r.get("kind") == "kernel"}
    seen |= {r["cfg_setting"] for r in runs if r.get("kind") == "cost"} - {"unpatched", "off"}
    known = [st for st in STRATEGIES if st in seen or st == "mainline"]
    STRATEGIES = known + sorted(seen - set(known))
    SETTINGS = ["unpatched", "off"] + STRATEGIES


def count_word(n):
    return COUNT_WORDS.get(n, str(n))


# The hogs' share of the CPU by the cgroup weights, in %: flat, h hogs share
# the root with n other tasks; nested, the hogs' group and the workers' group
# have equal weights at /bench.
def hog_theory(place, hogs, others):
    return 100 * hogs / (hogs + others) if place == "flat" else 50.0


# (placement, hogs, workers) -> the hogs' CPU shares (%) over the repetitions
# when the workers spin without yielding, on this kernel in the kernel part
# (NOYIELD) and per kernel under instruction counting (NOYIELD_COST).
NOYIELD = defaultdict(list)
NOYIELD_COST = defaultdict(lambda: defaultdict(list))


def read_noyield(runs):
    for r in runs:
        if r.get("kind") != "noyield":
            continue
        key = (r["cfg_place"], int(r["hogs"]), int(r["threads"]))
        share = int(r["hog_ns"]) / int(r["ns"]) * 100
        if "cfg_icount" in r:
            NOYIELD_COST[key][r["cfg_kernel"]].append(share)
        else:
            NOYIELD[key].append(share)


# The hogs' fair share, in %: what they get when nobody yields, measured in
# the same boot, or by the weights where that was not measured. A strategy
# is fair to them when it leaves them that (it cannot undo how the scheduler
# weighs the groups).
def hog_fair(place, hogs, others):
    got = NOYIELD.get((place, hogs, others))
    return med(got) if got else hog_theory(place, hogs, others)
PLACEMENTS = {
    "flat": "every task in the root cgroup",
    "nested": "the workers in `/bench/vm/vcpus`, the hogs in `/bench/hogs` (cgroup v2, "
              "cpu controller, default weights): the workers are 3 levels deep, and the "
              "pair meets the hogs at `/bench`",
}


def noyield_table(places):
    """The hogs' share when nobody yields: the fair share the tables below use."""
    keys = sorted(k for k in NOYIELD if k[0] in places)
    if not keys:
        return ["### The hogs' fair share\n",
                "These logs hold no `spin` runs: the fair shares below are the cgroup "
                "weights'.\n"]
    md = ["### The hogs' share when nobody yields\n",
          "The fairness tables below compare what the hogs get next to yielding tasks "
          "with what they get next to the same number of tasks that spin and never "
          "yield, measured in the same boot (`spin` runs of the benchmark: each row "
          "once per placement and repetition). That is the share the scheduler itself "
          "gives them, which a strategy for `yield_to()` should leave alone. The "
          "fourth column is what the cgroup weights alone would give; the last repeats "
          "the nested rows under instruction counting on this kernel and on 7.3.4 "
          "without the series (cost part, 0.5 s runs).\n",
          "| placement | spinning tasks | hogs | hogs' share by the weights | hogs' share "
          "measured (median, range) | under instruction counting: this kernel / 7.3.4 "
          "without the series |",
          "|---|---|---|---|---|---|"]
    parts = []
    for k in keys:
        place, hogs, n = k
        got, weights = med(NOYIELD[k]), hog_theory(*k)
        cost = NOYIELD_COST.get(k, {})
        icount = " / ".join(f"{fmt(med(cost[c]))} %" if cost.get(c) else "–"
                            for c in ("patched", "unpatched"))
        md.append(f"| {place} | {n} | {hogs} | {fmt(weights)} % "
                  f"| {med_range(NOYIELD[k])} % | {icount} |")
        if abs(got - weights) <= FAIR_POINTS:
            continue
        part = (f"{place}, {n} tasks next to {hogs} hog{'s' if hogs > 1 else ''}: "
                f"{fmt(got)} % where the weights say {fmt(weights)} %")
        if cost.get("patched") and cost.get("unpatched"):
            a, b = med(cost["patched"]), med(cost["unpatched"])
            part += (f" (counted: {fmt(a)} % on this kernel, {fmt(b)} % without the series"
                     + (", the same)" if abs(a - b) <= FAIR_POINTS else ")"))
        parts.append((place, part))
    if parts:
        md.append("\nWithout any yield the hogs get other shares than the weights say: "
                  + "; ".join(p for _, p in parts) + "."
                  + (" 7.3 schedules cgroups on one run queue of tasks with hierarchical "
                     "weights, and a nested group of many busy tasks ends up with more than "
                     "its weight there; why is not analysed here."
                     if any(place == "nested" for place, _ in parts) else ""))
        md.append("\nThe tables below take the measured shares as the fair ones: what "
                  "the scheduler gives without any yield is no cost of a strategy.")
    md.append("")
    return md


def kernel_tables(runs, out):
    # (placement, scenario, n) -> strategy -> rep -> metrics; the lock next
    # to hogs is scenario "lockhog".
    data = defaultdict(lambda: defaultdict(dict))
    for r in runs:
        if r.get("kind") != "kernel":
            continue
        ns = int(r["ns"])
        place = r.get("cfg_place", "flat")
        if r["scenario"] == "pingpong":
            key = (place, "pingpong", int(r["hogs"]))
            work = int(r["handoffs"])
        else:
            hogs = int(r.get("hogs", 0))
            scenario = "lockhog" if r["scenario"] == "lock" and hogs else r["scenario"]
            key = (place, scenario, int(r["threads"]))
            work = int(r["cs"])
        # The lock among 4 and 8 tasks runs several times per repetition.
        data[key][r["cfg_strategy"]][(int(r["rep"]), int(r.get("sub", 1)))] = {
            "rate": work / (ns / 1e9),
            "ypw": int(r["yields"]) / work if work else float("nan"),
            # The hogs' share of the run's CPU time (0 without hogs).
            "extra": int(r.get("hog_ns", 0)) / ns,
            # Yields the strategy acted on (a penalty, credit, push or donation).
            "acts": int(r.get("acts", 0)) / int(r["yields"]) * 100 if int(r["yields"]) else 0.0,
        }
    places = [p for p in PLACEMENTS if any(k[0] == p for k in data)]

    def paired(key, st, metric):
        on, base = data[key][st], data[key]["mainline"]
        return med([on[k][metric] / base[k][metric] for k in on if k in base and base[k][metric]])

    def hog_pct(key, st):
        return med([m["extra"] * 100 for m in data[key][st].values()])

    md = noyield_table(places)
    md.append("### Two-task ping-pong on one CPU, next to CPU-bound hogs\n")
    md.append("Each side spins 20 times, then calls `yield_to()` on the other. "
              "The ideal is one yield per hand-off; next to *h* hogs the pair's fair "
              "share is what two tasks that never yield get there (the table above), "
              "and the ideal rate is that share of the "
              "no-hog rate of the same strategy and placement. The hogs' CPU share is the "
              "fairness case: what the strategy takes from tasks that do not yield. Flat, "
              "a hog is a task in the same cgroup as the yielding pair, the case the "
              "review asked about.\n")
    md.append("| placement | hogs | strategy | hand-offs/s (median, range) | % of fair-share ideal "
              "| yields per hand-off | hogs' CPU share | hogs' fair share | hogs' share − fair |")
    md.append("|---|---|---|---|---|---|---|---|---|")
    pp_plot = {}
    for place in places:
        for h in (0, 1, 2):
            for st in STRATEGIES:
                reps = data[(place, "pingpong", h)][st]
                share = 1 - hog_fair(place, h, 2) / 100 if h else 1.0
                base = data[(place, "pingpong", 0)][st]
                rates = [m["rate"] for m in reps.values()]
                ideal = [m["rate"] / (base[rep]["rate"] * share) * 100
                         for rep, m in reps.items() if rep in base]
                pp_plot[(place, h, st)] = med(ideal)
                hog = hog_pct((place, "pingpong", h), st)
                fair = hog_fair(place, h, 2) if h else float("nan")
                md.append(f"| {place} | {h} | {st} | {med_range(rates)} "
                          f"| {fmt(med(ideal))} % | {fmt(med([m['ypw'] for m in reps.values()]))} "
                          f"| {fmt(hog)} % | {fmt(fair)}{' %' if h else ''} "
                          f"| {f'{hog - fair:+.1f} points' if h else '–'} |")
    md.append("")

    md.append("### Lock holder on one CPU\n")
    md.append("*n* tasks take a test-and-set lock (held for 200 pause loops, 50 outside); "
              "a waiter yields to the holder after 20 spins. Ratios are to mainline "
              "within each repetition (and run), then the median.\n")
    lock_plot = {}

    def lock_table(scenario, sizes):
        """One row per placement, task count and strategy of a lock scenario."""
        md.append("| placement | tasks | strategy | critical sections/s (median, range) "
                  "| yields per critical section | CS/s ÷ mainline | yields/CS ÷ mainline "
                  "| yields acted on |")
        md.append("|---|---|---|---|---|---|---|---|")
        for place in places:
            for n in sizes:
                key = (place, scenario, n)
                if not data[key]:
                    continue
                for st in STRATEGIES:
                    reps = data[key][st]
                    rates = [m["rate"] for m in reps.values()]
                    ypw = [m["ypw"] for m in reps.values()]
                    lock_plot[(place, scenario, n, st)] = (med(rates), med(ypw))
                    ratio = (f"{fmt(paired(key, st, 'rate'))} | {fmt(paired(key, st, 'ypw'))}"
                             if st != "mainline" else " | ")
                    md.append(f"| {place} | {n} | {st} | {med_range(rates)} | {fmt(med(ypw))} "
                              f"| {ratio} | {fmt(med([m['acts'] for m in reps.values()]))} % |")
        md.append("")

    lock_table("lock", (2, 4, 8))

    # The lock next to a hog: the lock group's CPU share against its fair
    # share, and the hog's, which is the rest.
    hog_sizes = [n for n in (4, 8) if any(data[(p, "lockhog", n)] for p in places)]
    lockhog = {}
    if hog_sizes:
        md.append("### Lock next to a CPU-bound hog\n")
        md.append("The same lock among *n* tasks on one CPU, with one CPU-bound hog on that "
                  "CPU. The lock group's CPU share is 1 − the hog's CPU time ÷ the run's "
                  "length. Its fair share is what *n* tasks that never yield get next to "
                  "the hog (the table above); flat, the *n* lock tasks and the hog share "
                  "the root cgroup: the hog is a task in the same cgroup as the yielders, "
                  "the review's fairness case. The hog's fair share is the rest. Ratios are to "
                  "mainline within each repetition (and run), then the median.\n")
        md.append("| placement | tasks | strategy | lock group's CPU share (median, range) "
                  "| its fair share | hog's share − fair | critical sections/s (median, range) "
                  "| CS/s ÷ mainline | yields per critical section | yields/CS ÷ mainline "
                  "| yields acted on |")
        md.append("|---|---|---|---|---|---|---|---|---|---|---|")
        for place in places:
            for n in hog_sizes:
                key = (place, "lockhog", n)
                if not data[key]:
                    continue
                for st in STRATEGIES:
                    reps = data[key][st]
                    shares = [(1 - m["extra"]) * 100 for m in reps.values()]
                    fair = 100 - hog_fair(place, 1, n)
                    dev = hog_pct(key, st) - hog_fair(place, 1, n)
                    cs, ypw = paired(key, st, "rate"), paired(key, st, "ypw")
                    lockhog[(place, n, st)] = {"share": med(shares), "fair": fair, "dev": dev,
                                               "cs": cs, "ypw": ypw}
                    same = st == "mainline"
                    md.append(f"| {place} | {n} | {st} | {med_range(shares)} % | {fmt(fair)} % "
                              f"| {dev:+.1f} points | {med_range([m['rate'] for m in reps.values()])} "
                              f"| {'' if same else fmt(cs)} | {fmt(med([m['ypw'] for m in reps.values()]))} "
                              f"| {'' if same else fmt(ypw)} "
                              f"| {fmt(med([m['acts'] for m in reps.values()]))} % |")
        md.append("")

    md.append("### Lock holder on all CPUs\n")
    md.append("The same lock with its tasks spread round robin over the test kernel's "
              "CPUs. A waiter's `yield_to()` reaches the strategies only when the holder "
              "is queued on the waiter's own CPU; the rest are refused as *other "
              "runqueue*, which *yields acted on* shows.\n")
    lock_table("lockall", (4, 8))

    cols = 4 if hog_sizes else 3
    fig, axes = plt.subplots(len(places), cols, figsize=(4.4 * cols, 3.4 * len(places)),
                             squeeze=False)
    width = 0.8 / len(STRATEGIES)
    nan = (float("nan"), float("nan"))
    for i, place in enumerate(places):
        row = axes[i]
        for j, st in enumerate(STRATEGIES):
            off = (j - (len(STRATEGIES) - 1) / 2) * width
            row[0].bar([x + off for x in range(3)], [pp_plot[(place, h, st)] for h in (0, 1, 2)], width, label=st)
            row[1].bar([x + off for x in range(3)], [lock_plot.get((place, 'lock', n, st), nan)[0] for n in (2, 4, 8)], width, label=st)
            row[2].bar([x + off for x in range(3)], [lock_plot.get((place, 'lock', n, st), nan)[1] for n in (2, 4, 8)], width, label=st)
            if hog_sizes:
                row[3].bar([x + off for x in range(len(hog_sizes))],
                           [lockhog.get((place, n, st), {}).get("share", float("nan"))
                            / (lockhog.get((place, n, st), {}).get("fair", float("nan")) or float("nan")) * 100
                            for n in hog_sizes], width, label=st)
        row[0].set_xticks(range(3), [f"{h} hogs" for h in (0, 1, 2)])
        row[0].set_ylabel("% of fair-share ideal")
        row[0].set_title(f"{place}: ping-pong")
        for ax, label in ((row[1], "critical sections/s"), (row[2], "yields per critical section")):
            ax.set_xticks(range(3), [f"{n} tasks" for n in (2, 4, 8)])
            ax.set_title(f"{place}: lock, {label}")
        if hog_sizes:
            row[3].set_xticks(range(len(hog_sizes)), [f"{n} tasks + 1 hog" for n in hog_sizes])
            row[3].set_ylabel("% of the lock group's fair share")
            row[3].axhline(100, color="grey", linewidth=0.8)
            row[3].set_title(f"{place}: lock next to a hog, CPU share")
    # One legend for all: with six strategies a legend per plot hides bars.
    handles, labels = axes[0][0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="lower center", ncol=len(STRATEGIES), fontsize=8)
    fig.suptitle("yield strategies, kthreads on one CPU (medians)")
    fig.tight_layout(rect=(0, 0.05, 1, 1))
    fig.savefig(out / "kernel.png", dpi=100)
    md.append("![kthread benchmarks](kernel.png)\n")

    targets = {"places": places, "hog_sizes": hog_sizes}
    for place in places:
        for st in STRATEGIES:
            t = {"pp_hog": pp_plot[(place, 1, st)],
                 "acts8": med([m["acts"] for m in data[(place, "lock", 8)][st].values()]),
                 "hog_share": hog_pct((place, "pingpong", 1), st),
                 # Every hog's share against its fair one: (case, share, fair).
                 "hogs": [(f"ping-pong + {h} hog{'s' if h > 1 else ''}",
                           hog_pct((place, "pingpong", h), st), hog_fair(place, h, 2))
                          for h in (1, 2) if data[(place, "pingpong", h)][st]]
                 + [(f"lock {n} + 1 hog", hog_pct((place, "lockhog", n), st), hog_fair(place, 1, n))
                    for n in hog_sizes if data[(place, "lockhog", n)][st]],
                 "lockhog": {n: lockhog[(place, n, st)] for n in hog_sizes
                             if (place, n, st) in lockhog}}
            for n in (2, 4, 8):
                t[f"ypw{n}"] = paired((place, "lock", n), st, "ypw")
                t[f"cs{n}"] = paired((place, "lock", n), st, "rate")
            targets[(place, st)] = t
    return md, targets


SETTINGS = ["unpatched", "off"] + STRATEGIES
SETTING_NAMES = {"unpatched": "7.3.4 without the series", "off": "series, everything off"}


def costs(runs, out):
    """The runs under QEMU's instruction counting: ns there are instructions."""
    # (placement, scenario, n) -> setting -> (boot, rep) -> metrics: the
    # kernel without the series boots twice, and its runs are pooled.
    data = defaultdict(lambda: defaultdict(dict))
    ipi = defaultdict(dict)
    lengths = []
    for r in runs:
        boot = int(r.get("cfg_boot", 1))
        if r.get("kind") == "cost":
            ns, place, rep = int(r["ns"]), r["cfg_place"], (boot, int(r["rep"]))
            lengths.append(ns)
            if r["scenario"] == "pingpong":
                key, work = (place, "pingpong", int(r["hogs"])), int(r["handoffs"])
            else:
                scenario = "lockhog" if int(r.get("hogs", 0)) else "lock"
                key, work = (place, scenario, int(r["threads"])), int(r["cs"])
            data[key][r["cfg_setting"]][rep] = {
                "insn": ns / work, "rate": work / (ns / 1e9), "ypw": int(r["yields"]) / work,
                "work": work}
        elif r.get("kind") == "ipiinsn":
            ipi[r["cfg_setting"]][(boot, int(r["rep"]))] = int(r["ns"]) / int(r["ipis"])
    if not data:
        return [], {}
    places = [p for p in PLACEMENTS if any(k[0] == p for k in data)]

    def insn(key, st):
        return [m["insn"] for m in data[key][st].values()]

    def per_yield(key, st, ref):
        """Instructions st adds to one yield_to() over ref (medians)."""
        ypw = med([m["ypw"] for m in data[key][st].values()])
        return (med(insn(key, st)) - med(insn(key, ref))) / ypw if ypw else float("nan")

    def overlap(a, b):
        return bool(a and b) and min(a) <= max(b) and min(b) <= max(a)

    # A range needs two runs: with one (VB_COST_REPS=1, one boot) a point
    # outside the other side's range says nothing of their spread.
    def judged(a, b):
        return len(a) >= 2 and len(b) >= 2

    reps = max((len({rep for _, rep in v}) for d in data.values() for v in d.values()), default=0)
    boots = max((len({boot for boot, _ in v}) for d in data.values() for v in d.values()), default=0)
    # Logs of the cost flavour (jump labels) name each run's boot.
    jump = any("cfg_boot" in r for r in runs if r.get("kind") == "cost")
    md = ["## Costs in instructions, and the kernel without the series\n",
          "These runs boot under QEMU's instruction counting (`-icount shift=0,sleep=off`): "
          "the emulated clock advances 1 ns per instruction executed, so every time below "
          "is a count of instructions, and a run repeats almost exactly (the ranges show "
          "how exactly). The same scenarios run on this kernel (everything off, then each "
          "strategy with the KVM features at their defaults) and on the same 7.3.4 source without the "
          "series (`scripts/baseline.sh`: the patched kernel's `.config` less the series' "
          "four symbols, the same compilers, only the test-only PAUSE-exit patch and the "
          "benchmark module added)"
          + ("; both are built with jump labels (the `cost` flavour, "
             "`tests/kunit/cost.config`), as distribution kernels build static keys, where "
             "the other parts boot the test kernel without them" if jump else "")
          + (f", and the kernel without the series is booted {'twice' if boots == 2 else count_word(boots) + ' times'}: runs in one boot repeat almost exactly, "
             "but two boots of one kernel differ a little, so its runs from all its boots "
             "together are the reference and their range is the noise"
             if boots > 1 else "")
          + f". {reps} repetition{'s' if reps != 1 else ''} per boot, about {fmt(med(lengths) / 1e6)} ms "
          f"of emulated time ({fmt(med(lengths) / 1e6)} million instructions) per kthread "
          "run, halt polling off. These are instructions, "
          "not cycles: cache misses, atomics and VM-exit hardware costs of a real CPU do "
          "not appear.\n",
          "### What one `yield_to()` costs\n",
          "Ping-pong without hogs, one yield per hand-off: instructions per hand-off "
          "(median and range), and what a setting adds to each `yield_to()` against the "
          "kernel without the series and against the series with everything off.\n",
          "| placement | kernel / strategy | instructions per hand-off | yields per hand-off "
          "| added per `yield_to()` vs. unpatched | vs. everything off |",
          "|---|---|---|---|---|---|"]
    t = {"places": places}
    for place in places:
        key = (place, "pingpong", 0)
        for st in SETTINGS:
            if not data[key][st]:
                continue
            ypw = med([m["ypw"] for m in data[key][st].values()])
            vs_un = per_yield(key, st, "unpatched") if st != "unpatched" else None
            vs_off = per_yield(key, st, "off") if st not in ("unpatched", "off") else None
            t[(place, st, "yield")] = vs_un
            t[(place, st, "yield_off")] = vs_off
            if st == "off":
                # Everything off against the kernel without the series, per
                # yield_to(): within the noise when the ranges overlap.
                a, b = insn(key, "unpatched"), insn(key, "off")
                t[(place, "off_yield")] = {"added": vs_un,
                                           "seen": not overlap(a, b) if judged(a, b) else None,
                                           "un": spread(a), "off": spread(b)}
            md.append(f"| {place} | {SETTING_NAMES.get(st, st)} | {med_range(insn(key, st))} "
                      f"| {fmt(ypw)} | {'' if vs_un is None else fmt(vs_un)} "
                      f"| {'' if vs_off is None else fmt(vs_off)} |")
    md.append("")
    if boots > 1:
        def boot_meds(place):
            runs_by_boot = defaultdict(list)
            for (boot, _), m in data[(place, "pingpong", 0)]["unpatched"].items():
                runs_by_boot[boot].append(m["insn"])
            return " and ".join(f"{med(v):,.0f}" for _, v in sorted(runs_by_boot.items()))
        md.append(f"The kernel without the series, boot by boot (medians): "
                  + "; ".join(f"{p} {boot_meds(p)}" for p in places)
                  + " instructions per hand-off.\n")

    md += ["### Everything off against the kernel without the series\n",
           "Instructions per unit of work (hand-off or critical section), medians, and "
           "units of work per run (median and range). Where a run counts few units, as "
           "ping-pong next to a hog does (the hog takes nearly all of the CPU), where the "
           "pair's turns fall against the tick decides the count, which moves by whole "
           "turns from one run of the same code to the next; the kernel without the series "
           "moves so between its own boots too. The series' `mainline` setting shows how "
           "far within one boot: with the yields to an IPI's receiver under the same "
           "strategy, it leaves the hook's static key off, as everything off does, and "
           "runs the very same code, so *`mainline` ÷ off* is an A/A pair of that boot. "
           "*Measurable* means the ranges over the repetitions do not overlap"
           + (f" (the kernel without the series: over its {count_word(boots)} boots)"
              if boots > 1 else "") + " and the difference is larger than that A/A pair's; "
           "a side with a single run has no range, and the comparison is then not judged.\n",
           "| placement | scenario | unpatched | everything off | units per run "
           "(unpatched / off / `mainline`) | off ÷ unpatched | `mainline` ÷ off | measurable? |",
           "|---|---|---|---|---|---|---|---|"]
    def units(key, st):
        """Units of work per run of st: median and range."""
        w = [m["work"] for m in data[key][st].values()]
        if not w:
            return "–"
        lo, hi = min(w), max(w)
        return fmt(med(w)) + (f" ({lo:,}–{hi:,})" if lo != hi else "")

    diffs = []
    for place in places:
        for key in sorted(k for k in data if k[0] == place):
            a, b = insn(key, "unpatched"), insn(key, "off")
            if not a or not b:
                continue
            ratio = med(b) / med(a)
            m = insn(key, "mainline")
            path = med(m) / med(b) if m else None
            ok = judged(a, b)
            apart = ok and not overlap(a, b)
            # Without `mainline` runs there is no A/A pair of the boot to
            # read a difference against: the ranges alone judge.
            seen = apart and (path is None or abs(ratio - 1) > abs(path - 1))
            diffs.append((ratio, seen, ok))
            t["off_apart"] = t.get("off_apart", 0) + (apart and not seen)
            name = f"ping-pong, {key[2]} hog{'s' if key[2] != 1 else ''}" if key[1] == "pingpong" \
                else f"lock, {key[2]} tasks"
            if not ok:
                judge = "not judged (a single run)"
            elif seen:
                judge = "yes" if path is not None else "yes (no `mainline` runs: ranges only)"
            else:
                judge = "no: within that boot's A/A" if apart else "no"
            md.append(f"| {place} | {name} | {med_range(a)} | {med_range(b)} "
                      f"| {' / '.join(units(key, st) for st in ('unpatched', 'off', 'mainline'))} "
                      f"| {fmt(ratio, 4)} | {'–' if path is None else fmt(path, 4)} | {judge} |")
    md.append("")

    lock_ypw = med([m["ypw"] for m in data[("flat", "lock", 8)]["mainline"].values()])
    md += ["### The same comparisons, counted\n",
           "The strategies against `mainline` as in the tables above, but from these "
           "near-deterministic runs (medians of ratios). A different regime for the lock: "
           "counted, a pause loop is one instruction, so a holder is rarely preempted "
           f"inside its critical section ({fmt(lock_ypw)} yields per critical section with "
           "8 tasks under mainline, flat, against tenths in the timed runs above).\n",
           "| placement | strategy | lock 4: CS per 10⁹ instructions ÷ mainline | lock 8: ÷ mainline "
           "| lock 8: yields/CS ÷ mainline | ping-pong + 1 hog: % of fair-share ideal |",
           "|---|---|---|---|---|---|"]
    def ratio(a, b):
        return a / b if b else float("nan")

    for place in places:
        for st in STRATEGIES:
            if not any(data[k][st] for k in data if k[0] == place):
                continue
            cells = []
            for n in (4, 8):
                a = med([m["rate"] for m in data[(place, "lock", n)][st].values()])
                b = med([m["rate"] for m in data[(place, "lock", n)]["mainline"].values()])
                cells.append(fmt(ratio(a, b)))
            y = ratio(med([m["ypw"] for m in data[(place, "lock", 8)][st].values()]),
                      med([m["ypw"] for m in data[(place, "lock", 8)]["mainline"].values()]))
            share = 1 - hog_fair(place, 1, 2) / 100
            pp = ratio(med([m["rate"] for m in data[(place, "pingpong", 1)][st].values()]),
                       med([m["rate"] for m in data[(place, "pingpong", 0)][st].values()]) * share) * 100
            t[(place, st, "pp_hog")] = pp
            md.append(f"| {place} | {st} | {cells[0]} | {cells[1]} | {fmt(y)} | {fmt(pp)} % |")
    md.append("")

    md += ["### What IPI tracking costs\n",
           "`vcpu_boost_ipi_test -v 2 -n 2000 -H`, both vCPUs pinned to one CPU of the test "
           "kernel: vCPU 0 sends an IPI and halts until vCPU 1 answers with an IPI of its own, "
           "so a round trip is two tracked IPIs, two EOIs, two halts and two vCPU switches, "
           "and nothing spins. Instructions per round trip (of the test kernel and the "
           "nested guest together).\n",
           "| kernel / setting | instructions per round trip | added per round trip vs. unpatched "
           "| vs. everything off | added per IPI (÷ 2) vs. everything off |",
           "|---|---|---|---|---|"]
    ipi_names = {"unpatched": "7.3.4 without the series", "off": "series, everything off",
                 "deboost": "series, everything on (tracking on)"}
    v = {st: list(ipi[st].values()) for st in ipi_names if ipi.get(st)}
    for st, name in ipi_names.items():
        if st not in v:
            continue
        un = med(v[st]) - med(v["unpatched"]) if st != "unpatched" and "unpatched" in v else None
        off = med(v[st]) - med(v["off"]) if st == "deboost" and "off" in v else None
        md.append(f"| {name} | {med_range(v[st])} | {'' if un is None else fmt(un)} "
                  f"| {'' if off is None else fmt(off)} | {'' if off is None else fmt(off / 2)} |")
    md.append("")
    if "deboost" in v and "off" in v:
        t["ipi_added"] = med(v["deboost"]) - med(v["off"])
        t["ipi_pct"] = t["ipi_added"] / med(v["off"]) * 100
        t["ipi_off_ratio"] = med(v["off"]) / med(v["unpatched"]) if "unpatched" in v else float("nan")
        t["ipi_off_judged"] = "unpatched" in v and judged(v["off"], v["unpatched"])
        t["ipi_off_seen"] = t["ipi_off_judged"] and not overlap(v["off"], v["unpatched"])
    t["off_worst"] = max((abs(r - 1) for r, seen, _ in diffs if seen), default=0.0)
    t["off_seen"] = sum(1 for _, seen, _ in diffs if seen)
    t["off_judged"] = sum(1 for _, _, ok in diffs if ok)
    t["off_n"] = len(diffs)
    return md, t


def aa_noise(kt):
    """The A/A noise of the kthread runs: a strategy that acted on no yield
    is an A/A comparison, and its ratios to mainline measure the noise.
    Returns (noise, the inert (placement, strategy) pairs, their deviations);
    the noise is at least 5 %."""
    inert = [(place, st) for place in kt["places"] for st in STRATEGIES
             if st != "mainline" and kt[(place, st)]["acts8"] < 1]
    dev = [d for d in (abs(1 - kt[k][m]) for k in inert for m in ("cs4", "cs8")) if d == d]
    return max([0.05] + dev), inert, dev


def strategy_comparison(kt, ct):
    """The side-by-side table over both placements, and which strategy to use when."""
    n_st = count_word(len(STRATEGIES))
    hog_sizes = kt.get("hog_sizes", [])
    hog_col = bool(hog_sizes)
    md = [f"## The {n_st} strategies side by side\n",
          "Medians over the repetitions; ratios to `mainline` in the same repetition and run. "
          "*lock n*: critical sections/s and yields per critical section with *n* tasks; "
          "*yields acted on*: the share of `yield_to()` calls on which the strategy "
          "applied its penalty, credit, push or donation (the rest were rate-limited, "
          "refused, or needed nothing); "
          "*ping-pong*: % of the fair-share ideal next to 1 hog, and that hog's CPU share"
          + ("; *lock + 1 hog*: the lock group's CPU share next to a hog, and its fair share"
             if hog_col else "") + ".\n",
          "*instructions per `yield_to()`*: what the strategy adds to one call against the "
          "series with everything off, counted under QEMU's instruction counting (below).\n",
          "| placement | strategy | lock 4: CS/s ÷ mainline | lock 8: CS/s ÷ mainline | lock 8: yields/CS ÷ mainline | lock 8: yields acted on | ping-pong + 1 hog: % of ideal | hog's CPU share "
          + (f"| lock {' / '.join(map(str, hog_sizes))} + 1 hog: lock group's CPU share (fair) " if hog_col else "")
          + "| instructions per `yield_to()` |",
          "|---|---|---|---|---|---|---|---|---|" + ("---|" if hog_col else "")]
    for place in kt["places"]:
        for st in STRATEGIES:
            t = kt[(place, st)]
            same = "1" if st == "mainline" else None
            hog_cell = ""
            if hog_col:
                lh = [t["lockhog"].get(n, {}) for n in hog_sizes]
                hog_cell = (f"| {' / '.join(fmt(x.get('share', float('nan'))) for x in lh)} % "
                            f"({' / '.join(fmt(x.get('fair', float('nan'))) for x in lh)} %) ")
            md.append(f"| {place} | {st} | {same or fmt(t['cs4'])} | {same or fmt(t['cs8'])} "
                      f"| {same or fmt(t['ypw8'])} | {fmt(t['acts8'])} % | {fmt(t['pp_hog'])} % | {fmt(t['hog_share'])} % "
                      f"{hog_cell}| {fmt(ct.get((place, st, 'yield_off'), float('nan')))} |")
    md.append("")

    # Which strategy when: the lock benchmark (a spinning vCPU and a
    # preempted holder) decides; the ping-pong and the hogs' share are the
    # side conditions. Every claim below is computed from the table.
    md.append("### Which strategy when\n")
    noise, inert, dev = aa_noise(kt)
    if inert:
        md.append(f"Noise: {', '.join(f'`{st}` *{place}*' for place, st in inert)} acted on no "
                  "yield, so its ratios to mainline are an A/A comparison: they deviate from 1 by "
                  f"up to {fmt(max(dev, default=0) * 100)} %. Differences in throughput within "
                  f"{fmt(noise * 100)} % are read as noise below.\n")
    else:
        md.append("Noise: every strategy acted on some yields, so these runs hold no A/A "
                  f"comparison; differences in throughput within {fmt(noise * 100)} % are read "
                  "as noise below.\n")
    picks = {}
    for place in kt["places"]:
        t = {st: kt[(place, st)] for st in STRATEGIES}
        cands = [st for st in STRATEGIES if st != "mainline"]
        best = max(cands, key=lambda st: t[st]["cs8"] if t[st]["cs8"] == t[st]["cs8"] else -1)
        fewest = min(cands, key=lambda st: t[st]["ypw8"] if t[st]["ypw8"] == t[st]["ypw8"] else 1e9)
        pp_best = max(STRATEGIES, key=lambda st: t[st]["pp_hog"] if t[st]["pp_hog"] == t[st]["pp_hog"] else -1)
        lines = [f"- **{place}** ({PLACEMENTS[place]}): "]
        if t[best]["cs8"] > 1 + noise:
            picks[place] = best
            lines.append(f"`{best}` gives the most lock throughput at 8 tasks "
                         f"(× {fmt(t[best]['cs8'])} against mainline, × {fmt(t[best]['cs4'])} at 4). ")
        else:
            lines.append(f"no strategy moves lock throughput at 8 tasks beyond the noise "
                         f"(from × {fmt(min(t[st]['cs8'] for st in cands))} to × {fmt(t[best]['cs8'])}). ")
            # Within that noise band, fewer yields for the same work wins.
            if t[fewest]["ypw8"] < 0.8 and min(t[fewest]["cs4"], t[fewest]["cs8"]) >= 1 - noise:
                picks[place] = fewest
        lines.append(f"`{fewest}` needs the fewest yields per critical section "
                     f"(× {fmt(t[fewest]['ypw8'])} at 8 tasks, × {fmt(t[fewest]['ypw4'])} at 4), "
                     f"acting on {fmt(t[fewest]['acts8'])} % of the yields. ")
        # The hog next to the ping-pong pair against its fair share.
        fair = hog_fair(place, 1, 2)
        shares = [t[st]["hog_share"] for st in STRATEGIES if t[st]["hog_share"] == t[st]["hog_share"]]
        above = [st for st in STRATEGIES if t[st]["hog_share"] > fair + 5]
        near = [st for st in STRATEGIES if abs(t[st]["hog_share"] - fair) <= 5]
        below = [st for st in STRATEGIES if t[st]["hog_share"] < fair - 5]

        def names(sts):
            return ", ".join(f"`{st}`" for st in sts)
        parts = []
        if above:
            parts.append(f"{names(above)} leave{'s' if len(above) == 1 else ''} it more than 5 points "
                         "above (the pair does not get its share)")
        if near:
            parts.append(f"{names(near)} keep{'s' if len(near) == 1 else ''} it within 5 points")
        if below:
            parts.append(f"{names(below)} take{'s' if len(below) == 1 else ''} more than 5 points "
                         "of it (CPU taken from a task that never yields)")
        lines.append(f"Next to a hog, ping-pong reaches {fmt(t[pp_best]['pp_hog'])} % of its "
                     f"fair-share ideal at best (`{pp_best}`; mainline {fmt(t['mainline']['pp_hog'])} %); "
                     f"the hog gets {fmt(min(shares, default=float('nan')))}–"
                     f"{fmt(max(shares, default=float('nan')))} % of the CPU against a fair share "
                     f"of {fmt(fair)} %: " + "; ".join(parts) + ". ")
        if "proportional" in t:
            prop = t["proportional"]
            if prop["acts8"] < 1:
                why = (": at the root it has no level to yield" if place == "flat" else
                       ": after the forfeit the yielder is hardly ever still eligible")
                lines.append(f"`proportional` acts on {fmt(prop['acts8'])} % of the yields{why}. ")
            else:
                lines.append(f"`proportional` acts on {fmt(prop['acts8'])} % of the yields, after the "
                             f"forfeit, and changes lock throughput by × {fmt(prop['cs8'])} and "
                             f"yields per critical section by × {fmt(prop['ypw8'])}. ")
        md.append("".join(lines))
    md.append("")
    rec = []
    for place in kt["places"]:
        if place in picks:
            st = picks[place]
            rec.append(f"with vCPU threads placed *{place}*, `{st}` "
                       f"(× {fmt(kt[(place, st)]['cs8'])} critical sections/s and "
                       f"× {fmt(kt[(place, st)]['ypw8'])} yields per critical section at 8 tasks)")
        else:
            rec.append(f"with vCPU threads placed *{place}*, `mainline`: no strategy measurably helps there")
    verdicts = []
    for st in STRATEGIES:
        if st == "mainline" or st in picks.values():
            continue
        per = []
        for place in kt["places"]:
            t = kt[(place, st)]
            lo = min(t["cs4"], t["cs8"])
            if t["acts8"] < 1:
                per.append(f"never acts *{place}*")
            elif lo < 1 - noise:
                per.append(f"costs up to {fmt((1 - lo) * 100)} % of the lock throughput *{place}* "
                           f"(it acts on {fmt(t['acts8'])} % of the yields)")
            elif abs(t["ypw8"] - 1) <= 0.1 and max(t["cs4"], t["cs8"]) <= 1 + noise:
                per.append(f"changes neither throughput nor yields beyond the noise *{place}* "
                           f"(it acts on {fmt(t['acts8'])} % of the yields)")
            else:
                per.append(f"gives × {fmt(t['cs8'])} critical sections/s and × {fmt(t['ypw8'])} "
                           f"yields per critical section *{place}*")
        verdicts.append(f"`{st}` " + " and ".join(per))
    md += ["**Conclusion on the lock alone.** On these runs: " + "; ".join(rec) + ". "
           + ("Of the others, " + "; ".join(verdicts) + ". " if verdicts else "")
           + "A strategy that saves yields without costing throughput pays off on a host where "
           "each yield is a VM exit and a trip through the scheduler (what it adds to one "
           "`yield_to()` is in the last column); one that changes neither is not worth its "
           "cost. The switch exists so that this choice can be made per host, with "
           "`make bench` on that host: these are ratios of runs emulated by TCG, so check the "
           "ranking on the hardware before choosing a default there.\n"]
    md += strategy_goals(kt, ct, noise)
    return md


PP_FLOOR, PP_GOAL, FAIR_POINTS, YPW_CEIL = 50, 80, 5, 0.5


def strategy_goals(kt, ct, noise):
    """The goals of the scheduler strategies, one column per strategy, and
    the default they choose."""
    nan = float("nan")
    places = kt["places"]

    def ok(x):
        return x == x

    def verdict(met, known=True):
        return "no data" if not known else ("**met**" if met else "**missed**")

    g = {}
    for st in STRATEGIES:
        t = {p: kt[(p, st)] for p in places}
        # (a) ping-pong next to 1 hog, % of the fair-share ideal, worst placement.
        pp = [t[p]["pp_hog"] for p in places]
        a_known = bool(pp) and all(ok(x) for x in pp)
        a_val = min(pp) if a_known else nan
        # (b) every hog's share against its fair share, the worst case.
        devs = [(share - fair, case, p) for p in places for case, share, fair in t[p]["hogs"]]
        b_known = bool(devs) and all(ok(d) for d, _, _ in devs)
        worst = max(devs, key=lambda d: abs(d[0]) if ok(d[0]) else 1e9) if devs else (nan, "", "")
        # (c) the lock among 4 and 8 tasks, both placements.
        ypw = [t[p][f"ypw{n}"] for p in places for n in (4, 8)]
        cs = [t[p][f"cs{n}"] for p in places for n in (4, 8)]
        c_known = bool(ypw) and all(ok(x) for x in ypw + cs)
        c_ypw, c_cs = (max(ypw), min(cs)) if c_known else (nan, nan)
        g[st] = {
            "a": (a_known and a_val >= PP_FLOOR, a_known), "pp": pp, "pp_min": a_val,
            "b": (b_known and abs(worst[0]) <= FAIR_POINTS, b_known), "worst": worst,
            "c": (c_known and c_ypw <= YPW_CEIL and c_cs >= 1 - noise, c_known),
            "ypw_max": c_ypw, "cs_min": c_cs}
    # (d) everything off against the kernel without the series, per yield_to():
    # one measurement of the series, the same in every column.
    offs = {p: ct.get((p, "off_yield")) for p in places}
    d_known = bool(offs) and all(o and o["seen"] is not None for o in offs.values())
    d_met = d_known and not any(o["seen"] for o in offs.values())
    d_cell = ("; ".join(f"{p} {fmt(o['added'])} ({'ranges apart' if o['seen'] else 'ranges overlap'})"
                        for p, o in offs.items() if o) or "–") + f" {verdict(d_met, d_known)}"
    # make cost-profile splits the difference into the code's part and the
    # scheduler state's: where it has run, its verdict is the one.
    summary = os.environ.get("VB_PROFILE_SUMMARY")
    profiled = bool(summary) and os.path.exists(summary)
    if profiled:
        with open(summary) as f:
            prof = json.load(f)
        d_known, d_met = prof["known"], prof["met"]
        pl = [p for p in places if p in prof["places"]]
        counted = " / ".join(fmt(offs[p]["added"]) if offs.get(p) else "–" for p in pl)
        d_cell = (" / ".join(f"{fmt(prof['places'][p]['code'])} ± {fmt(prof['places'][p]['se'])}"
                             for p in pl)
                  + f" ({' / '.join(pl)}) {verdict(d_met, d_known)}; counted runs {counted}")
    for st in STRATEGIES:
        g[st]["d"] = (d_met, d_known)
        g[st]["met"] = sum(1 for k in "abcd" if g[st][k][0])

    def pp_cell(x):
        m, known = x["a"]
        if not known:
            return "– no data"
        reach = f", {PP_GOAL} % reached" if x["pp_min"] >= PP_GOAL else f", below the {PP_GOAL} % goal"
        return (" / ".join(f"{fmt(v)} %" for v in x["pp"]) + f" {verdict(m)}" + (reach if m else ""))

    def hog_cell(x):
        dv, case, p = x["worst"]
        if not x["b"][1]:
            return "– no data"
        return f"worst {dv:+.1f} points ({case}, {p}) {verdict(x['b'][0])}"

    def lock_cell(st, x):
        if not x["c"][1]:
            return "– no data"
        if st == "mainline":
            return f"the reference (× 1) {verdict(False)}"
        return (f"yields/CS ≤ × {fmt(x['ypw_max'])}, CS/s ≥ × {fmt(x['cs_min'])} "
                f"{verdict(x['c'][0])}")

    where = " / ".join(places)
    md = ["### Goals of the scheduler strategies\n",
          "Judged from the tables above, each goal in every placement (" + where + "); "
          "a strategy meets a goal only where it holds in all of them. "
          f"(a) ping-pong next to 1 hog reaches ≥ {PP_FLOOR} % of its fair-share ideal "
          f"(the goal is {PP_GOAL} %); the cell gives it per placement. "
          f"(b) every task that does not yield keeps its fair share within ±{FAIR_POINTS} "
          "points: the hogs next to the ping-pong pair (1 and 2 hogs) and "
          + (f"next to the lock ({' and '.join(map(str, kt['hog_sizes']))} tasks)"
             if kt.get("hog_sizes") else "(the lock next to a hog: not in these logs)")
          + ", their share against what they get when the others never yield (measured "
          "in the same boot, *The hogs' share when nobody yields*; flat, where a hog shares "
          "the root cgroup with the yielders, *h*/(*h*+2) or 1/(*n*+1)); the cell gives the "
          "largest deviation. "
          f"(c) the lock among 4 and 8 tasks: yields per critical section ≤ {YPW_CEIL} × "
          f"mainline and critical sections/s not below mainline beyond the A/A noise "
          f"({fmt(noise * 100)} %, above); the cell gives the worst of the four ratios each. "
          + ("(d) everything off: what the series' code adds to one `yield_to()`, from "
             "*Where the instructions of a hand-off go* below (make cost-profile: every "
             "instruction counted, a fit of each run's instructions per hand-off that takes "
             "the scheduler's state out), plus two standard errors, is at most the "
             "patched-out jump of its static key, one instruction; the cell gives it, "
             "and the counted runs' difference per call, state included (above). "
             if profiled else
             "(d) everything off: the instructions one `yield_to()` costs (ping-pong without "
             "hogs, counted) are within the noise of 7.3.4 without the series, i.e. the range "
             "of everything off overlaps the range of that kernel over its boots; the cell "
             "gives the instructions added per call. ") +
          "This is one measurement of the series, the same in every column.\n",
          "| goal | " + " | ".join(f"`{st}`" for st in STRATEGIES) + " |",
          "|---|" + "---|" * len(STRATEGIES),
          f"| (a) ping-pong + 1 hog: ≥ {PP_FLOOR} % of the fair-share ideal ({where}) | "
          + " | ".join(pp_cell(g[st]) for st in STRATEGIES) + " |",
          f"| (b) every non-yielding task within ±{FAIR_POINTS} points of its fair share | "
          + " | ".join(hog_cell(g[st]) for st in STRATEGIES) + " |",
          f"| (c) lock 4 and 8: yields/CS ≤ {YPW_CEIL} × mainline, CS/s ≥ mainline − noise | "
          + " | ".join(lock_cell(st, g[st]) for st in STRATEGIES) + " |",
          "| (d) everything off: instructions added per `yield_to()` vs. 7.3.4 without the series | "
          + " | ".join(d_cell for _ in STRATEGIES) + " |",
          "| goals met | " + " | ".join(f"{g[st]['met']} of 4" for st in STRATEGIES) + " |",
          ""]

    # The default: the strategy that meets the most goals, ties broken by the
    # ping-pong's fair-share % and then by the lock's yields per critical
    # section; it has to meet more goals than mainline to replace it.
    def rank(st):
        x = g[st]
        return (x["met"], x["pp_min"] if ok(x["pp_min"]) else -1,
                -x["ypw_max"] if ok(x["ypw_max"]) else -1e9)
    order = sorted(STRATEGIES, key=rank, reverse=True)
    base = g["mainline"]["met"]
    md.append("### Default strategy, chosen by the data\n")
    kept = [k for k in "abcd" if g[order[0]][k][0]]
    names = {"a": "ping-pong's fair share", "b": "the hogs' fair share", "c": "the lock",
             "d": "everything off"}

    def numbers(st):
        x = g[st]
        lock = [f"{p}: × {fmt(kt[(p, st)]['ypw4'])} / × {fmt(kt[(p, st)]['ypw8'])} yields and "
                f"× {fmt(kt[(p, st)]['cs4'])} / × {fmt(kt[(p, st)]['cs8'])} critical sections/s"
                for p in places]
        dv, case, wp = x["worst"]
        cost = [f"{fmt(ct.get((p, st, 'yield_off'), nan))} {p}" for p in places]
        ref = st != "mainline"
        return ("ping-pong next to a hog reaches "
                + " / ".join(f"{fmt(v)} %" for v in x["pp"]) + f" of its fair-share ideal ({where}"
                + ("; mainline " + " / ".join(f"{fmt(v)} %" for v in g["mainline"]["pp"]) if ref else "")
                + "), "
                f"the hogs' shares deviate from their fair shares by at most {fmt(abs(dv))} points "
                f"({case}, {wp}"
                + (f"; mainline {fmt(abs(g['mainline']['worst'][0]))} points" if ref else "") + "), "
                + ("the lock among 4 / 8 tasks against mainline is at " + "; ".join(lock) + ", "
                   if ref else "")
                + "and one `yield_to()` costs " + " and ".join(cost)
                + " instructions more than with everything off")
    if g[order[0]]["met"] <= base or order[0] == "mainline":
        md.append(f"**Default: `mainline`.** No strategy meets more of the goals above than "
                  f"mainline ({base} of 4: "
                  + (", ".join(names[k] for k in "abcd" if g["mainline"][k][0]) or "none") + "); "
                  + "; ".join(f"`{st}` meets {g[st]['met']}" for st in STRATEGIES if st != "mainline")
                  + ". For mainline: " + numbers("mainline") + ".\n")
    else:
        best = order[0]
        ties = [st for st in order[1:] if g[st]["met"] == g[best]["met"]]
        tie = ""
        if ties:
            tie = (f" It ties with {', '.join(f'`{st}`' for st in ties)} on the number of goals "
                   f"and comes first on the tie-breakers (the ping-pong's fair-share % in the "
                   f"worse placement, {fmt(g[best]['pp_min'])} % against "
                   + ", ".join(f"{fmt(g[st]['pp_min'])} %" for st in ties)
                   + "; then the lock's yields per critical section).")
        md.append(f"**Default: `{best}`.** It meets {g[best]['met']} of the 4 goals above ("
                  + ", ".join(names[k] for k in kept) + f"), mainline {base}: " + numbers(best)
                  + "." + tie + " The other strategies meet "
                  + ", ".join(f"`{st}` {g[st]['met']}" for st in order[1:]) + ". "
                  "These are runs emulated by TCG; `make bench` on the host decides there.\n")
    return md


def round1(r):
    """Round-1 yields of a run: to the IPI receiver, a pending interrupt, mainline's scan."""
    # Logs of kernels before the selector's rewrite name the last tier dy_preempted.
    main = r.get("dy_mainline", r.get("dy_preempted", "0"))
    return int(r["dy_ipi_receiver"]) + int(r["dy_pending_irq"]) + int(main)


def receiver_share(r):
    """% of the yields before the relaxed round that went to the IPI receiver."""
    whole = round1(r)
    return int(r["dy_ipi_receiver"]) / whole * 100 if whole else float("nan")


def pad_band(runs, kind, plain):
    """KIND's runs with no-op instructions added to each PAUSE exit
    (cfg_pad, kvm_amd.test_pause_pad), each against the run of the same
    repetition that PLAIN picks from its unpadded ones: {instructions added:
    [round-trip rate ratios]}, the band that a code path alone moves the
    rate in."""
    base, pads = {}, defaultdict(list)
    for r in runs:
        if r.get("kind") != kind:
            continue
        rt = _rate("ipis")(r)
        if r.get("cfg_pad", "0") != "0":
            pads[int(r["cfg_pad"])].append((r["rep"], rt))
        elif plain(r):
            base[r["rep"]] = rt
    return {n: [rt / base[rep] for rep, rt in v if base.get(rep)]
            for n, v in sorted(pads.items())}


def pad_words(padded):
    """PAD_BAND's result in words: "120 (× median, repetitions range) and
    ..."; empty without padded runs."""
    return " and ".join(f"{n} (× {fmt(med(v))}, repetitions {spread(v)})"
                        for n, v in padded.items() if v)


def spin_table(runs, out):
    data = defaultdict(list)
    for r in runs:
        # The A/A runs (a second run with tracking off) are the noise of the
        # comparison below, not more data for this table.
        if r.get("kind") != "spin" or r.get("cfg_aa", "0") != "0":
            continue
        ipis, ns = int(r["ipis"]), work_ns(r)
        # Mainline's loop with no-op instructions added to each PAUSE exit:
        # the noise of a change of code path, below (pad_band).
        if r.get("cfg_pad", "0") != "0":
            continue
        data[(r["cfg_tracking"], r["cfg_relaxed"])].append({
            "rep": r["rep"],
            "rt": ipis / (ns / 1e9),
            # With tracking and relaxed boost off, mainline's own loop runs
            # and counts nothing.
            "exits": int(r["dy_on_spin"]) / ipis if int(r["dy_on_spin"]) else float("nan"),
            "share": receiver_share(r),
            "relaxed": int(r["dy_relaxed"]) / ipis,
        })
    md = ["### IPI round trips in a nested KVM guest\n",
          "`vcpu_boost_spin_test`: 4 vCPUs on the test kernel's 2 CPUs; vCPU 0 sends vCPU 1 "
          "an IPI and spins with PAUSE until it is answered "
          f"({', '.join(sorted({r['ipis'] for r in runs if r.get('kind') == 'spin'}))} round trips per run), "
          "while vCPUs 2 and 3 spin all the time. PAUSE exits come from the test-only "
          "`kvm_amd.test_pause_exits`.\n",
          "| tracking | relaxed boost | round trips/s (median, range) | spin exits per round trip | yields to the receiver (before the relaxed round) | relaxed-round yields per round trip |",
          "|---|---|---|---|---|---|"]
    order = [("Y", "Y"), ("N", "Y"), ("Y", "N"), ("N", "N")]
    for c in order:
        v = data[c]
        rts = [m["rt"] for m in v]
        md.append(f"| {'on' if c[0] == 'Y' else 'off'} | {'on' if c[1] == 'Y' else 'off'} "
                  f"| {med_range(rts)} | {fmt(med([m['exits'] for m in v]))} "
                  f"| {fmt(med([m['share'] for m in v if m['share'] == m['share']]))} % "
                  f"| {fmt(med([m['relaxed'] for m in v]))} |")
    md.append("")
    fig, ax = plt.subplots(figsize=(6, 3.4))
    ax.bar(range(4), [med([m["rt"] for m in data[c]]) for c in order])
    ax.set_xticks(range(4), [f"tracking {c[0]}\nrelaxed {c[1]}" for c in order])
    ax.set_ylabel("round trips/s")
    ax.set_title("IPI round trips, nested guest (medians)")
    fig.tight_layout()
    fig.savefig(out / "spin.png", dpi=100)
    md.append("![IPI round trips](spin.png)\n")
    # The code path alone: with tracking off, the IPI-aware path (relaxed boost
    # on) against mainline's own loop (both off), repetition by repetition.
    plain = {m["rep"]: m["rt"] for m in data[("N", "N")]}
    path = [m["rt"] / plain[m["rep"]] for m in data[("N", "Y")] if plain.get(m["rep"])]
    # The same loop, padded, against itself unpadded, repetition by repetition.
    padded = pad_band(runs, "spin", lambda r: r.get("cfg_aa", "0") == "0" and
                      (r["cfg_tracking"], r["cfg_relaxed"]) == ("N", "N"))
    return md, {"path": path, "path_relaxed": med([m["relaxed"] for m in data[("N", "Y")]]),
                "padded": padded}


def work_ns(r):
    """How long a run of the spin or lock test took over its work, in ns:
    the guest's TSC from the first IPI or acquisition to the last answer or
    release (work_ns), or, in logs from before the tests printed it, the
    host's clock around the run (ns), which also counts the vCPUs' start
    and end: about 4 or 12 ms, by the tick, in the kvm part's runs."""
    return int(r.get("work_ns") or r.get("ns") or 0)


def _rate(work):
    return lambda r: int(r[work]) / (work_ns(r) / 1e9)


def _share(part, whole):
    def f(r):
        w = int(r.get(whole, 0)) if whole != "round1" else round1(r)
        return int(r[part]) / w * 100 if part in r and w else float("nan")
    return f


# The spin exits that kept the CPU for a running receiver (ipi_hold_ns),
# of all that the selection saw; NaN in logs of kernels without the hold.
HELD = ("spin exits held", _share("dy_held", "dy_on_spin"), " %")

# The metrics of the lock scenarios.
LOCK_METRICS = [("acquisitions/s", _rate("acquisitions"), ""),
                ("holder share", _share("holder_yields", "lock_yields"), " %"),
                ("tracker's choices", _share("tracked_yields", "lock_yields"), " %"),
                HELD]

# The metrics of every IPI-wait scenario.
IPI_WAIT_METRICS = [("round trips/s", _rate("ipis"), ""),
                    ("yields to the receiver", receiver_share, " %"),
                    HELD]


def _loops(field):
    """A loop count the guest printed (-b: the receiver's, -c: vCPU 2's,
    both from the sender's first IPI to its last answer), in 10^6 per
    second of that work (work_ns); NaN in logs from before it was
    printed."""
    return lambda r: _rate(field)(r) / 1e6 if field in r else float("nan")


# With a busy receiver, what it got done beside the sender's round trips.
NEIGHBOUR_LOOPS = "neighbour's loops/s (10^6)"
BUSY_METRICS = IPI_WAIT_METRICS + [("receiver's loops/s (10^6)", _loops("receiver_loops"), "")]
COMPUTE_METRICS = BUSY_METRICS + [(NEIGHBOUR_LOOPS, _loops("neighbour_loops"), "")]

# The scenarios of "never worse than mainline": kind -> (title, what runs,
# metrics). A metric is (name, function of a run's fields, unit).
DY_SCENARIOS = {
    "lock": ("Lock holder, with unrelated IPIs",
             "`vcpu_boost_lock_test -t`: 4 vCPUs on the test kernel's 2 CPUs take one guest "
             "test-and-set spinlock a fixed number of times each (PAUSE while waiting) and "
             "every 4th acquisition send the next vCPU an IPI they never wait for. *Holder "
             "share*: of the lock waiters' directed yields (traced with `kvm_dy_select`, "
             "placed on the guest's log of acquisitions through the guest's TSC offset), "
             "the share whose target held the lock at that instant. *Tracker's choices*: of "
             "those yields, the share whose target the tracker chose (an unanswered IPI's "
             "receiver): where tracking could have taken a waiter's yield from the holder.",
             LOCK_METRICS),
    "lockpaired": ("Lock holder, with unrelated IPIs, on one CPU in pairs",
                   "The same with `VCPU_BOOST_PIN=paired`: vCPUs 0 and 1 bound to CPU 0, 2 and 3 "
                   "to CPU 1, so that the unrelated IPIs of vCPUs 0 and 2 go to the vCPU on "
                   "their own CPU. Only here can the tracker take a lock waiter's yield (in the "
                   "spread layout every unrelated IPI's receiver last ran on the other CPU, so "
                   "it may choose none), and only a receiver that was not preempted in a spin "
                   "of its own: a lock waiter that gave its CPU away from a PAUSE exit is "
                   "left to mainline's scan. *Their holder share*: of the tracker's choices, the "
                   "share that went to the holder, to read against the holder share of all "
                   "yields with tracking off.",
                   LOCK_METRICS + [("their holder share",
                                    _share("tracked_holder_yields", "tracked_yields"), " %")]),
    "spin": ("IPI wait",
             "`vcpu_boost_spin_test`: vCPU 0 sends vCPU 1 an IPI and spins with PAUSE until "
             "it is answered, while vCPUs 2 and 3 spin all the time (4 vCPUs on 2 CPUs).",
             IPI_WAIT_METRICS),
    "spinbusy": ("IPI wait, the receiver busy",
                 "`vcpu_boost_spin_test -b`: the same, but vCPU 1 computes between IPIs with "
                 "interrupts on instead of halting: an IPI finds it preempted or running, "
                 "never asleep. *Receiver's loops*: its computing, counted by the guest "
                 "while the sender ran.",
                 BUSY_METRICS),
    "spinpaired": ("IPI wait, sender and receiver on one CPU",
                   "`vcpu_boost_spin_test` with `VCPU_BOOST_PIN=paired`: vCPUs 0 and 1 (sender "
                   "and receiver) bound to CPU 0, the two spinners to CPU 1. Only here can the "
                   "spinner yield to the receiver first (in the scenarios above it last ran "
                   "on the other CPU), and only when the receiver was preempted outside a "
                   "spin of its own and has not halted since the sender's last look: one that "
                   "the IPI woke from its halt, or that halted since, is left to mainline's "
                   "scan. This receiver "
                   "halts between IPIs, so nearly every spin leaves it to the scan.",
                   IPI_WAIT_METRICS),
    "spincrowded": ("IPI wait, the sender's CPU crowded",
                    "`vcpu_boost_spin_test -v 6` with `VCPU_BOOST_PIN=crowded`: vCPUs 0, 1 and "
                    "2 (sender, receiver and a spinner) bound to CPU 0, the other three "
                    "spinners to CPU 1. When the sender spins, its CPU has a candidate other "
                    "than the receiver, so mainline's round robin and the tracker may choose "
                    "differently (the tracker only for a receiver that was preempted outside "
                    "a spin of its own and has not halted since the sender's last look, not "
                    "one that the IPI woke from its halt).",
                    IPI_WAIT_METRICS),
    "spincrowdedbusy": ("IPI wait, the sender's CPU crowded, the receiver busy",
                        "The same with `-b` (half the round trips): the receiver computes "
                        "between IPIs instead of halting, so an IPI always finds it preempted "
                        "or running (where the sender's time goes: *Where an IPI round "
                        "trip's time goes*).",
                        BUSY_METRICS),
    "spincrowdedcompute": ("IPI wait, the sender's CPU crowded, every other vCPU computing",
                           "The same with `-b -c` (a third of the round trips): vCPUs 2 to 5 "
                           "compute instead of spinning, so they never PAUSE and never yield "
                           "back; a yield to the neighbour on the sender's CPU (vCPU 2) gives "
                           "it the CPU until the scheduler preempts it. *Neighbour's loops*: "
                           "vCPU 2's computing, counted by the guest while the sender ran: "
                           "what the third vCPU on that CPU got.",
                           COMPUTE_METRICS),
    "mixed": ("Lock and IPI waits in one guest",
              "`vcpu_boost_lock_test -m`: the lock scenario, and vCPU 0 also sends vCPU 1 an "
              "IPI after each of its acquisitions and spins until it is answered.",
              [("acquisitions/s", _rate("acquisitions"), ""),
               ("round trips/s", _rate("round_trips"), ""), HELD]),
    "mixedpaired": ("Lock and IPI waits in one guest, sender and receiver on one CPU",
                    "The same with `VCPU_BOOST_PIN=paired` and `-t`: vCPUs 0 and 1 (the IPI's "
                    "sender and receiver) bound to CPU 0, vCPUs 2 and 3 to CPU 1, so that "
                    "vCPU 0's IPIs, and half the unrelated ones, go to a vCPU on the "
                    "sender's CPU, where tracking can choose the receiver (but not one "
                    "preempted in a spin of its own: vCPU 1 waits for the lock too). "
                    "*Holder share* as "
                    "in the lock scenario, over the yields of lock waiters; *answer waits' "
                    "yields to the receiver*: of vCPU 0's yields while it waits for an "
                    "answer, the share that went to vCPU 1.",
                    [("acquisitions/s", _rate("acquisitions"), ""),
                     ("round trips/s", _rate("round_trips"), ""),
                     ("holder share", _share("holder_yields", "lock_yields"), " %"),
                     ("answer waits' yields to the receiver",
                      _share("rt_receiver_yields", "rt_yields"), " %"), HELD]),
}


def reps_words(reps, noun):
    """How many repetitions the scenarios ran, from DY_COMPARE's counts:
    "12 here; 5 of *the scenario*" for the ones that ran fewer."""
    most = max(reps.values(), default=0)
    return f"{most}{noun}" + "".join(f"; {n} of *{DY_SCENARIOS[k][0]}*"
                                     for k, n in reps.items() if n < most)


def dy_compare(runs):
    """Tracking on against off in the scenarios of DY_SCENARIOS, per
    repetition, with the A/A pair beside. Returns the repetitions, the
    table rows per scenario (metric, on, off, ratios, A/A ratios, unit) and
    the medians by (scenario, metric); the repetitions by scenario."""
    # kind -> (tracking, aa) -> rep -> run
    data = defaultdict(lambda: defaultdict(dict))
    for r in runs:
        if r.get("kind") in DY_SCENARIOS and r.get("cfg_relaxed") == "Y" and "cfg_aa" in r:
            data[r["kind"]][(r["cfg_tracking"], r["cfg_aa"])][int(r["rep"])] = r

    def values(kind, side, f):
        return [v for v in (f(r) for r in data[kind][side].values()) if v == v]

    def ratios(kind, a, b, f):
        xs = []
        for rep, ra in data[kind][a].items():
            rb = data[kind][b].get(rep)
            if rb is None:
                continue
            x, y = f(ra), f(rb)
            if x == x and y == y and y:
                xs.append(x / y)
        return xs

    on, off, aa = ("Y", "0"), ("N", "0"), ("N", "1")
    reps = {k: len(data[k][on]) for k in DY_SCENARIOS if data[k][on]}
    rows, t = {}, {}
    for kind, (_, _, metrics) in DY_SCENARIOS.items():
        rows[kind] = []
        for name, f, unit in metrics:
            r = ratios(kind, on, off, f)
            n = ratios(kind, off, aa, f)
            a, b = values(kind, on, f), values(kind, off, f)
            t[(kind, name)] = {"on": med(a), "off": med(b), "ratio": med(r),
                               "lo": min(r, default=float("nan")), "hi": max(r, default=float("nan")),
                               "on_max": max(a, default=float("nan")),
                               "aa": med(n), "aa_range": spread(n),
                               "aa_lo": min(n, default=float("nan")),
                               "aa_hi": max(n, default=float("nan"))}
            rows[kind].append((name, a, b, r, n, unit))
    return reps, rows, t


def at_least(value, floor):
    """The goal value >= floor, judged; "no data" when either is NaN."""
    if value != value or floor != floor:
        return "no data"
    return "**met**" if value >= floor else "**missed**"


def dy_goal_rows(t):
    """The goals of directed yield, judged on DY_COMPARE's medians T: a
    table row each."""
    def ratio_row(goal, key, floor):
        m = t[key]
        return (f"| {goal} | × {fmt(m['ratio'])} (repetitions {fmt(m['lo'])}–{fmt(m['hi'])}; "
                f"A/A × {fmt(m['aa'])}, {m['aa_range']}) "
                f"| {at_least(m['ratio'], floor)} |")

    def hold_row(goal, kind):
        """Met when on >= off; also when the tracker's choices, in every
        repetition a smaller share of the waiters' yields than the gap
        between off and on, cannot account for that gap (had every one gone
        past the holder) and on / off lies inside the A/A pair's range: the
        gap is then the noise of two runs of one setting."""
        m, c = t[(kind, "holder share")], t[(kind, "tracker's choices")]
        verdict = at_least(m['on'], m['off'])
        noise = c['on_max'] < m['off'] - m['on'] and m['aa_lo'] <= m['ratio'] <= m['aa_hi']
        if m['on'] < m['off'] and noise:
            verdict = (f"**met**: the tracker chose at most {fmt(c['on_max'])} % of their "
                       f"yields, less than the gap; on ÷ off × {fmt(m['ratio'])}, inside the "
                       "A/A range")
        return (f"| {goal} | on {fmt(m['on'])} %, off {fmt(m['off'])} % (A/A × {fmt(m['aa'])}, "
                f"{m['aa_range']}); the tracker chose {fmt(c['on'])} % of the waiters' yields "
                f"| {verdict} |")
    busy = t[("spincrowdedbusy", "yields to the receiver")]
    return [
        ratio_row("lock: acquisitions/s, tracking on ÷ off ≥ 0.97", ("lock", "acquisitions/s"), 0.97),
        hold_row("lock: holder share with tracking on ≥ off", "lock"),
        ratio_row("lock, on one CPU in pairs: acquisitions/s, tracking on ÷ off ≥ 0.97",
                  ("lockpaired", "acquisitions/s"), 0.97),
        hold_row("lock, on one CPU in pairs: holder share with tracking on ≥ off",
                 "lockpaired"),
        f"| IPI wait, the sender's CPU crowded, the receiver busy (preempted when the "
        f"sender spins): ≥ 90 % of the yields before the relaxed round go to the receiver "
        f"(tracking on; a receiver that the IPI woke from a halt, or that halted since "
        f"the sender's last look, is left to mainline's scan, by design) "
        f"| {fmt(busy['on'])} % | {at_least(busy['on'], 90)} |",
        ratio_row("IPI wait: round trips/s, tracking on ÷ off ≥ 1.2", ("spin", "round trips/s"), 1.2),
        ratio_row("IPI wait, the receiver busy: round trips/s, tracking on ÷ off ≥ 1.2",
                  ("spinbusy", "round trips/s"), 1.2),
        ratio_row("IPI wait, on one CPU: round trips/s, tracking on ÷ off ≥ 1.2",
                  ("spinpaired", "round trips/s"), 1.2),
        ratio_row("IPI wait, crowded: round trips/s, tracking on ÷ off ≥ 1.2",
                  ("spincrowded", "round trips/s"), 1.2),
        ratio_row("IPI wait, crowded, receiver busy: round trips/s, tracking on ÷ off ≥ 1.2",
                  ("spincrowdedbusy", "round trips/s"), 1.2),
        ratio_row("IPI wait, crowded, all computing: round trips/s, tracking on ÷ off ≥ 1.2",
                  ("spincrowdedcompute", "round trips/s"), 1.2),
        ratio_row("mixed: acquisitions/s, tracking on ÷ off ≥ 1.0", ("mixed", "acquisitions/s"), 1.0),
        ratio_row("mixed, sender and receiver on one CPU: acquisitions/s, tracking on ÷ off ≥ 1.0",
                  ("mixedpaired", "acquisitions/s"), 1.0),
    ]


def never_worse(runs, extra_goals, turn=0):
    """Tracking on against off, per repetition, with the A/A pair beside;
    EXTRA_GOALS are more rows for its goal table."""
    reps, rows, t = dy_compare(runs)
    md = ["## Directed yield: never worse than mainline\n",
          "Each scenario runs with IPI tracking on and off (relaxed boost on) in "
          f"every repetition ({reps_words(reps, ' here')}), alternating which runs first, plus a second run "
          "with tracking off beside the first: that A/A pair, off ÷ off again, shows how "
          "far two runs of the same setting differ. *on ÷ off* is the median of the "
          "repetitions' ratios; the range is theirs. Rates are over the guest's work, timed "
          "by its TSC from the first IPI or acquisition to the last answer or release: the "
          "host's clock around the run also counts the vCPUs' start and end, which wait for "
          "the scheduler's tick and so differ by whole ticks (4 ms) between two runs of one "
          "setting. PAUSE exits come from the test-only "
          "`kvm_amd.test_pause_exits`. This part runs under QEMU's instruction counting "
          "(`-icount shift=0`, one TCG thread: a nanosecond is an instruction executed, so "
          "rates are per 10^9 instructions), and vCPU *i* is bound to test-kernel CPU "
          "*i* mod 2 (but in the paired and crowded scenarios): vCPUs 0 and 2 share CPU 0, "
          "vCPUs 1 and 3 CPU 1, so an IPI's sender (0) and receiver (1) are on different "
          "CPUs. Without "
          "both, two runs of one setting differed by 15–30 %: the emulator's speed drifts, "
          "and the load balancer put sender and receiver on one CPU in some runs and apart "
          "in others, which changes the round trip threefold. On one TCG thread the two "
          "CPUs take turns rather than run at once"
          + (f"; here no turn lasts more than {turn:,} instructions (`tests/qemu/0006`), "
             "so they interleave at that grain, as CPUs running at once would. With turns "
             "as long as the next timer deadline allows, as before that cap, whatever "
             "crossed CPUs waited for the other CPU's next turn: a receiver woken on the "
             "other CPU ran 1–2 ms later, whoever yielded to it, and even on one CPU the "
             "round trips with a busy receiver counted ticks (*Where an IPI round trip's "
             "time goes*, `make dy-trace`).\n"
             if turn else
             ", so whatever crosses CPUs waits for the emulator's next turn: a receiver on "
             "the other CPU runs when the emulator turns to that CPU, whoever yields to it "
             "(*Where an IPI round trip's time goes*, `make dy-trace`). The scenarios with "
             "sender and receiver on different CPUs measure those turns more than the "
             "kernel's choices; the paired and crowded ones keep the round trip on one "
             "CPU.\n")]
    for kind, (title, what, _) in DY_SCENARIOS.items():
        md += [f"### {title}\n", what + "\n",
               "| metric | tracking on (median, range) | off (median, range) | on ÷ off (median) "
               "| on ÷ off, range | A/A: off ÷ off again (median, range) |",
               "|---|---|---|---|---|---|"]
        for name, a, b, r, n, unit in rows[kind]:
            md.append(f"| {name} | {med_range(a)}{unit} | {med_range(b)}{unit} | × {fmt(med(r))} "
                      f"| {spread(r)} | × {med_range(n)} |")
        md.append("")

    md += ["### Goals\n",
           "Judged on the medians above; the A/A column is the noise to read them against. "
           "The lock, IPI wait and mixed goals without *on one CPU* or *crowded* in their name "
           "are judged in the spread layout (vCPU *i* on CPU *i* mod 2), where an IPI's "
           "receiver always sits on the other CPU"
           + (".\n" if turn else
              ": there whatever a vCPU needs from the other CPU waits for the emulator's next "
              "turn to it (*Where an IPI round trip's time goes*).\n"),
           "| goal | measured | |",
           "|---|---|---|",
           *dy_goal_rows(t),
           *extra_goals,
           ""]
    return md


def who_pays(runs, no_exits="`kvm_amd.test_pause_exits=0`", suffix=""):
    """The computing crowd: what the sender's yields give the receiver, and
    whether the neighbour on their CPU keeps, with the sender's yields, what
    it gets when the sender never yields (no PAUSE exits: NO_EXITS says
    how). Returns the table (SUFFIX ends its title), the neighbour's loops
    with tracking on ÷ a computing vCPU's fair share and ÷ its own in the
    reference (None without reference runs)."""
    kind = "spincrowdedcompute"
    sides = {"on": [], "off": [], "ref": []}
    for r in runs:
        if r.get("kind") != kind:
            continue
        if r.get("cfg_ref") == "noyield":
            sides["ref"].append(r)
        elif r.get("cfg_aa") == "0":
            sides["on" if r.get("cfg_tracking") == "Y" else "off"].append(r)
    if not sides["ref"]:
        return [], None, None
    # The compute scenario's metrics but the shares of yields and holds (none here).
    metrics = [(n, f) for n, f, _ in COMPUTE_METRICS if f is not receiver_share and n != HELD[0]]
    md = [f"### Who pays, in the computing crowd{suffix}\n",
          "`vcpu_boost_spin_test -b -c`, crowded (the scenario *IPI wait, the sender's CPU "
          "crowded, every other vCPU computing*), once more in each repetition of that scenario, last, without "
          f"PAUSE exits ({no_exits}): the sender spins through its own share and never "
          "yields, so the receiver and the neighbour (vCPU 2, on the sender's CPU) share what "
          "the sender leaves: half of it each is a computing vCPU's fair share (the last row). "
          "What the sender's yields give must come out of the sender's share, not the "
          "neighbour's: its loops with tracking on should be at least what it ran here and "
          "at least that fair share (the goal allows 5 % for the noise; the scenario's A/A "
          "pair above shows it); more is paid by the sender. "
          "(Under mainline's forfeit the neighbour gets part of what the sender gives up.)\n",
          "| metric | tracking on | off | no yields (reference) | on ÷ reference |",
          "|---|---|---|---|---|"]
    nb, own, nb_on = None, None, []
    for name, f in metrics:
        v = {k: [x for x in (f(r) for r in rs) if x == x] for k, rs in sides.items()}
        ratio = med(v["on"]) / med(v["ref"]) if v["on"] and v["ref"] else float("nan")
        if name == NEIGHBOUR_LOOPS:
            own, nb_on = ratio, v["on"]
        md.append(f"| {name} | {med_range(v['on'])} | {med_range(v['off'])} "
                  f"| {med_range(v['ref'])} | × {fmt(ratio)} |")
    # Without yields the receiver and the neighbour split what the sender
    # leaves them, but not always evenly: between runs of the reference the
    # split has flipped between about even and about 40/60. Half of their
    # sum is a computing vCPU's fair share, whichever way one run split it.
    receiver, neighbour = _loops("receiver_loops"), _loops("neighbour_loops")
    fair = [x for x in ((receiver(r) + neighbour(r)) / 2 for r in sides["ref"]) if x == x]
    if fair and nb_on:
        nb = med(nb_on) / med(fair)
        md.append(f"| a computing vCPU's fair share (10^6 loops/s; reference: half of the "
                  f"receiver's and the neighbour's together) | – | – | {med_range(fair)} "
                  f"| neighbour × {fmt(nb)} |")
    md.append("")
    return md, nb, own


# The section of bench/REPORT.md that the kvm part alone writes.
KVM_SECTION = "bench kvm"


def strategy_matrix(runs, suffix=""):
    """Tracking on ÷ off in the two crowded scenarios with a computing
    receiver, with each strategy for the yields to an IPI's receiver (kinds
    stratbusy, stratcompute), on and off paired by repetition; SUFFIX ends
    its title. Empty without them."""
    kinds = (("stratbusy", "beside a spinning neighbour"),
             ("stratcompute", "beside a computing neighbour (the computing crowd)"))
    seen = {r["cfg_ipi_strategy"] for r in runs
            if r.get("kind") in dict(kinds) and r.get("cfg_ipi_strategy")}
    if not seen:
        return []
    # In the other tables' order, any the report does not name after.
    strats = [st for st in STRATEGIES if st in seen] + sorted(seen - set(STRATEGIES))
    rt, loops = _rate("ipis"), _loops("receiver_loops")
    md = [f"### What a yield to an IPI's receiver should give it{suffix}\n",
          "`vcpu_boost_spin_test -v 6 -b`, crowded (vCPUs 0–2 on CPU 0): the receiver "
          "computes between IPIs beside a spinning neighbour (*IPI wait, crowded, receiver "
          "busy*) and, with `-c`, beside a computing one (*the computing crowd*), tracking on "
          "and off with each `vcpu_ipi_yield_strategy` (the strategy of the yields that KVM "
          "makes to the receiver of the spinner's IPI), the strategies rotated per "
          "repetition; every other yield gets the default `vcpu_yield_strategy`. With "
          "tracking off no yield is made to the receiver as such, so *off* is the same "
          "setting in every row, run beside each. A yield to a receiver that computes makes "
          "it answer and then compute on; what the strategy gives it with the yield decides "
          "how long the sender waits (see the benchmark notes). Round trips/s with tracking "
          "on ÷ off (median of the repetitions' ratios, their range), the medians of on and "
          "off, and the receiver's loops (10^6/s, on and off).\n",
          "| strategy | " + " | ".join(f"{name}: on ÷ off | rt/s on / off | receiver on / off"
                                      for _, name in kinds) + " |",
          "|---|" + "---|---|---|" * len(kinds)]
    n = 0
    for st in strats:
        cells = []
        for kind, _ in kinds:
            # Paired by repetition: a run that failed printed no line.
            side = {t: {r.get("rep"): r for r in runs if r.get("kind") == kind
                        and r.get("cfg_ipi_strategy") == st and r.get("cfg_tracking") == t
                        and work_ns(r) > 0 and int(r.get("ipis", 0)) > 0}
                    for t in ("Y", "N")}
            reps = [k for k in side["Y"] if k in side["N"]]
            if not reps:
                cells += ["–", "–", "–"]
                continue
            on, off = [side["Y"][k] for k in reps], [side["N"][k] for k in reps]
            ratios = [rt(a) / rt(b) for a, b in zip(on, off)]
            n = max(n, len(reps))

            def loops_med(rs):
                return fmt(med([x for x in (loops(r) for r in rs) if x == x]))
            cells += [f"× {fmt(med(ratios))} ({spread(ratios)})",
                      f"{med([rt(r) for r in on]):,.0f} / {med([rt(r) for r in off]):,.0f}",
                      f"{loops_med(on)} / {loops_med(off)}"]
        md.append(f"| `{st}` | " + " | ".join(cells) + " |")
    md += ["", f"Up to {n} repetitions per cell, without an A/A pair: read a ratio against "
           "its own range and against the A/A pairs of the two scenarios above.\n"]
    return md


def more_goals(runs, **pays):
    """The goal rows beside directed yield's (the control without
    overcommit, who pays in the computing crowd), and the tables behind
    them; PAYS goes to who_pays()."""
    cmd, one = controls(runs)
    # Inert: the mechanisms made no yield. The rate is shown beside the
    # pads', which move it both ways without deciding anything.
    inert = one["acted"] == 0
    pads = (f"off with {pad_words(one['padded'])} instructions added" if one["padded"]
            else "no padded runs")
    pmd, nb, own = who_pays(runs, **pays)
    # One-sided: the neighbour must not pay for what the sender gives (a
    # neighbour that gets more is paid by the sender, which is allowed),
    # against its fair share and against what it ran itself beside a sender
    # that never yields (the reference's split is not always even).
    measured = nb is not None and nb == nb and own is not None and own == own
    fair = measured and min(nb, own) >= 0.95
    fair_cell = ("not measured" if not measured else "**met**" if fair else "**missed**")
    return [
        f"| 1:1, no overcommit: mechanisms inert (no yield to an IPI's receiver and none in "
        f"the relaxed round; beside it round trips/s, tracking on ÷ off, and off with "
        f"instructions added to each PAUSE exit ÷ off, which moves the rate both ways "
        f"without a decision) "
        f"| {one['acted']} such yields; × {fmt(one['one'])} (pairs: "
        f"{fmt(one['lo'])}–{fmt(one['hi'])}); "
        f"{pads} "
        f"| {'**met**' if inert else '**missed**'} |",
        f"| computing crowd: the neighbour pays nothing for the sender's yields: its loops "
        f"with tracking on ≥ 95 % of what it ran beside a sender that never yields, and of "
        f"a computing vCPU's fair share there "
        f"| × {fmt(own if own is not None else float('nan'))} and "
        f"× {fmt(nb if nb is not None else float('nan'))} | {fair_cell} |"], pmd, cmd


def kvm_section(setup, runs, out):
    """Everything the kvm part measures, as the one section that
    VB_BENCH_PARTS=kvm make bench can rewrite alone; SETUP is its log's."""
    smd, st = spin_table(runs, out)
    goals, pmd, cmd = more_goals(runs)
    turn = int(setup.get("icount_turn", "0") or 0)
    md = never_worse(runs, goals, turn)
    md += pmd
    md += strategy_matrix(runs)
    if st["path"]:
        words = pad_words(st["padded"])
        padded = (" Under instruction counting the IPI wait's rate also moves with the "
                  "instructions each PAUSE exit executes, and not in one direction: mainline's "
                  "own loop (both features off) with no-op instructions added to every PAUSE "
                  "exit (the test-only `kvm_amd.test_pause_pad`) runs, against itself without "
                  f"them in the same repetition, with {words} instructions added."
                  if words else "")
        md += ["**A second noise: the instructions of a code path.** The A/A pair repeats one "
               f"code path.{padded} {'In the same way, with' if padded else 'With'} "
               "tracking off, the IPI-aware path (relaxed boost on; "
               f"{fmt(st['path_relaxed'])} relaxed-round yields per round trip) against "
               f"mainline's loop gives × {fmt(med(st['path']))} (repetitions "
               f"{spread(st['path'])}). A ratio between two code paths inside that band says "
               "nothing about what the mechanisms decide or cost; see the benchmark notes "
               "(Documentation/dev-tools/vcpu-boost-benchmarks.rst).\n"]
    md += smd + cmd
    md.append(f"(This section: the kvm part of `make bench` on kernel {setup.get('kernel', '?')}; "
              "`VB_BENCH_PARTS=kvm make bench` rewrites it alone.)\n")
    return md


# The section of bench/REPORT.md that the filter part writes.
FILTER_SECTION = "bench filter"


def filter_pads(runs):
    """The crowded wait with tracking off and no-op instructions added to
    each PAUSE exit, against its plain off run of the same repetition: the
    band that a change of code path alone moves the rate in."""
    def off(r):
        return r.get("cfg_tracking") == "N" and r.get("cfg_aa") == "0"
    words = pad_words(pad_band(runs, "spincrowded", off))
    exits = [int(r["dy_on_spin"]) for r in runs if r.get("kind") == "spincrowded"
             and off(r) and r.get("cfg_pad", "0") == "0"]
    if not words:
        return []
    return ["**A second noise: the instructions of a code path.** Few PAUSEs exit under the "
            f"filter ({fmt(med(exits))} spin exits per run of the crowded wait with tracking "
            "off, median), and yet what each exit executes moves the rate: the crowded wait "
            "with tracking off and no-op instructions added to every PAUSE exit (the test-only "
            "`kvm_amd.test_pause_pad`), against its plain run of the same repetition, with "
            f"{words} instructions added. Those runs decide nothing differently. Measured on "
            "the crowded wait alone, the band says that there a ratio of tracking on ÷ off "
            "within it (or within the A/A's) says nothing about what tracking decides.\n"]


def filter_section(setup, runs):
    """The kvm part's scenarios under the emulated pause filter (the filter
    part of make bench), in one table, with their goals; SETUP is its
    log's."""
    reps, rows, t = dy_compare(runs)
    goals, pmd, cmd = more_goals(runs, no_exits="the VM turns them off: "
                                 "`vcpu_boost_spin_test -P`, `KVM_CAP_X86_DISABLE_EXITS`",
                                 suffix=", under the pause filter")
    turn = int(setup.get("icount_turn", "0") or 0)
    md = ["## Directed yield under a pause filter\n",
          "The scenarios of *Directed yield: never worse than mainline*, run the same way "
          f"({reps_words(reps, ' repetitions')}; instruction counting, turns of at most {turn:,} "
          "instructions, vCPUs bound to CPUs), but with the emulator's pause filter "
          "(`VB_PAUSE_FILTER=1`, test-only, `tests/qemu/0007`) instead of every PAUSE "
          "exiting: KVM then uses its own pause-loop exiting, as on hardware, and a spinning "
          "vCPU exits only when its count runs out (3,000 PAUSEs by default, grown while it "
          "keeps spinning), so a spinner spins long before KVM chooses whom to yield to, and "
          "many waits end without any choice. The emulated filter counts PAUSEs but ignores "
          "the threshold of cycles between two of them.\n",
          "| scenario | metric | tracking on (median, range) | off (median, range) "
          "| on ÷ off (median) | on ÷ off, range | A/A: off ÷ off again (median, range) |",
          "|---|---|---|---|---|---|---|"]
    for kind, (title, _, _) in DY_SCENARIOS.items():
        for i, (name, a, b, r, n, unit) in enumerate(rows[kind]):
            md.append(f"| {title if i == 0 else ''} | {name} | {med_range(a)}{unit} "
                      f"| {med_range(b)}{unit} | × {fmt(med(r))} | {spread(r)} "
                      f"| × {med_range(n)} |")
    md += [""] + filter_pads(runs)
    md += ["### Goals under the pause filter\n",
           "The goals of the kvm part, judged on the medians above.\n",
           "| goal | measured | |",
           "|---|---|---|",
           *dy_goal_rows(t),
           *goals,
           ""]
    md += pmd
    md += strategy_matrix(runs, ", under the pause filter")
    md += cmd
    md.append(f"(This section: the filter part of `make bench` on kernel "
              f"{setup.get('kernel', '?')}; `VB_BENCH_PARTS=filter make bench` rewrites it "
              "alone.)\n")
    return md


# What the series and its review published, quoted (not measured here):
# v2 cover letter (Wanpeng Li, 2025-12-19; Intel Xeon, 16 cores, 16 vCPUs
# per VM) and the s390 report in the review thread (Christian
# Borntraeger, 2026-03-26; yield_to hypercall diag 9c, no cgroups).
PUBLISHED = [
    ("v2, x86: Dbench, 2 / 3 / 4 VMs", "throughput +14.4 % / +9.8 % / +6.7 %"),
    ("v2, x86: PARSEC Dedup (IPI-heavy), 2 / 3 / 4 VMs", "throughput +47.1 % / +28.1 % / +1.7 %"),
    ("v2, x86: PARSEC VIPS, 2 / 3 / 4 VMs", "throughput +26.2 % / +12.7 % / +6.0 %"),
    ("s390 (debooster variant), overcommit 2:1 … 10:1", "yield_to calls −5.3 % … −33.2 %; Dbench +0.8 % … +11.5 % (median)"),
]


def published(kt):
    """The series' published numbers beside the nearest figures of ours."""
    d = kt[("flat", "deboost")] if ("flat", "deboost") in kt else None
    others = [s for s in STRATEGIES if s not in ("mainline", "deboost") and ("flat", s) in kt]

    def beside(f):
        """deboost's figure, the other strategies' in parentheses."""
        rest = ", ".join(f"{s} {f(kt[('flat', s)])}" for s in others)
        head = f"deboost {f(d)}" if d else ""
        return (f"{head} ({rest})" if head and rest else head or rest)

    def ypw48(t):
        return f"× {fmt(t['ypw4'])} / × {fmt(t['ypw8'])}"
    md = ["## Our numbers beside the series' published ones\n",
          "Quoted from the v2 cover letter and the s390 report in its review thread; "
          "they come from whole guests on hardware, ours from micro-benchmarks under TCG, "
          "so only the direction and the rough size can be compared. Our strategies, flat "
          "placement, against mainline.\n",
          "| published | what they measured | nearest figure here (this run) |",
          "|---|---|---|",
          f"| {PUBLISHED[0][0]} | {PUBLISHED[0][1]} | lock, 8 tasks: critical sections/s "
          f"{beside(lambda t: '× ' + fmt(t['cs8']))} |",
          f"| {PUBLISHED[1][0]} | {PUBLISHED[1][1]} | IPI round trips/s, tracking on ÷ off: "
          "*Directed yield* above |",
          f"| {PUBLISHED[2][0]} | {PUBLISHED[2][1]} | (no compute-bound guest benchmark here) |",
          f"| {PUBLISHED[3][0]} | {PUBLISHED[3][1]} | lock, 4 / 8 tasks: yields per critical section "
          f"{beside(ypw48)} |",
          "",
          "Our baseline, mainline 7.3, carries the forfeit on yield (79104becf42b) that the "
          "review asked the series to be measured against.\n"]
    return md


def controls(runs):
    """The control without overcommit: its table; the yields the
    mechanisms made, which judge it ("acted": the tracker's, to a
    receiver, and the relaxed round's, which is on in both settings);
    beside them round trips/s with tracking on ÷ off per repetition, and
    off with instructions added to each PAUSE exit against off
    ("padded", pad_band()): how far a code path's length alone moves the
    rate."""
    rate = _rate("ipis")

    def per_rt(v, *keys):
        return fmt(med([sum(int(r[k]) for k in keys) / int(r["ipis"]) for r in v]))

    plain = defaultdict(dict)
    for r in runs:
        if r.get("kind") == "spin1to1" and r.get("cfg_pad", "0") == "0":
            plain[r["rep"]][r["cfg_tracking"]] = r
    pairs = [v for v in plain.values() if "Y" in v and "N" in v]
    ratios = [rate(v["Y"]) / rate(v["N"]) for v in pairs]
    padded = pad_band(runs, "spin1to1", lambda r: r["cfg_tracking"] == "N")
    on = [v["Y"] for v in pairs]
    acted = (sum(int(r["dy_ipi_receiver"]) for r in on)
             + sum(int(r["dy_relaxed"]) for r in runs if r.get("kind") == "spin1to1"))
    rows = [("tracking on", on, ratios),
            ("off", [v["N"] for v in pairs], [])]
    base = {rep: rate(v["N"]) for rep, v in plain.items() if "N" in v}
    for n in padded:
        v = [r for r in runs if r.get("kind") == "spin1to1" and r.get("cfg_pad") == str(n)]
        rows.append((f"off, {n} instructions added to each PAUSE exit", v,
                     [rate(r) / base[r["rep"]] for r in v if base.get(r["rep"])]))
    md = ["### A control without overcommit\n",
          "`vcpu_boost_spin_test -v 2`: 2 vCPUs on the test kernel's 2 CPUs, PAUSE exiting "
          "as in the rest of this part, so nothing needs a directed yield: tracking on and off (relaxed boost on), and off "
          "with no-op instructions added to each PAUSE exit (`kvm_amd.test_pause_pad`), in "
          "every repetition. Yields per round trip by who chose them: the tracker (to the "
          "receiver), mainline's scan, the relaxed round.\n",
          "| setting | round trips/s (median, range) | × off (median, range) | spin exits per round "
          "trip | yields per round trip: tracker / scan / relaxed round |",
          "|---|---|---|---|---|"]
    for name, v, rs in rows:
        md.append(f"| {name} | {med_range([rate(r) for r in v])} "
                  f"| {'× ' + med_range(rs) if rs else '–'} | {per_rt(v, 'dy_on_spin')} "
                  f"| {per_rt(v, 'dy_ipi_receiver')} / {per_rt(v, 'dy_pending_irq', 'dy_mainline')} "
                  f"/ {per_rt(v, 'dy_relaxed')} |")
    md += ["", "Under instruction counting a round trip's time is the instructions executed "
           "until the answer, and how many PAUSE exits fit into a wait depends on how long each "
           "one is: with the same decisions, a longer exit path can make fewer, later exits and "
           "a faster round trip, or the reverse. The padded rows show that band for a code path "
           "that decides nothing.\n"]
    return md, {"one": med(ratios), "lo": min(ratios, default=float("nan")),
                "hi": max(ratios, default=float("nan")), "acted": acted, "padded": padded}


def check_setup(setup, path, pause_filter):
    """Exits unless the log at PATH ran as its section says: under the
    pause filter or not (PAUSE_FILTER), with the kernel's own strategy for
    the yields to an IPI's receiver (VB_BENCH_IPI_STRATEGY is for
    experiments)."""
    if (setup.get("pause_filter", "0") == "1") != pause_filter:
        sys.exit(f"bench-report: {path} is {'not ' if pause_filter else ''}a run under the "
                 "pause filter")
    if setup.get("ipi_strategy", "default") != "default":
        sys.exit(f"bench-report: {path} ran with VB_BENCH_IPI_STRATEGY="
                 f"{setup['ipi_strategy']}, an experiment")


def main():
    if sys.argv[1] == "--filter":
        out = Path(sys.argv[2])
        setup, runs = parse(sys.argv[3:])
        check_setup(setup, sys.argv[3], True)
        report_section.replace(out / "REPORT.md", FILTER_SECTION,
                               "\n".join(filter_section(setup, runs)))
        print(f"wrote the filter part's section of {out / 'REPORT.md'} from {len(runs)} runs")
        return
    if sys.argv[1] == "--kvm":
        out = Path(sys.argv[2])
        setup, runs = parse(sys.argv[3:])
        check_setup(setup, sys.argv[3], False)
        report_section.replace(out / "REPORT.md", KVM_SECTION,
                               "\n".join(kvm_section(setup, runs, out)))
        print(f"wrote the kvm part's section of {out / 'REPORT.md'} from {len(runs)} runs")
        return
    out, logs = Path(sys.argv[1]), sys.argv[2:]
    out.mkdir(parents=True, exist_ok=True)
    setup, runs = parse(logs)
    set_strategies(runs)
    read_noyield(runs)
    # The kthread part's; the kvm part states its own.
    reps = max((int(r["rep"]) for r in runs if r.get("kind") == "kernel"), default=0)
    subs = max((int(r.get("sub", 1)) for r in runs if r.get("kind") == "kernel"), default=1)
    run_s = med([int(r["ns"]) / 1e9 for r in runs if r.get("kind") == "kernel"])
    feats = setup.get("features", "").split()
    md = ["# vcpu-boost benchmarks\n",
          "Generated by `make bench` (scripts/bench.sh, scripts/guest/bench.sh, "
          "scripts/bench-report.py); do not edit by hand.\n",
          "## Setup\n",
          f"- Test kernel {setup.get('kernel', '?')} with this patch set, booted in QEMU with TCG "
          f"(`-accel tcg -cpu max -smp 2 -m 2048`) on a 2-core host; the guest sees "
          f"{setup.get('cpus', '?')} CPUs. KVM guests run nested inside it (AMD SVM "
          "emulated by TCG: no AVIC, no pause filter, so APICv is off).",
          "- kthread benchmarks: all tasks bound to CPU 1 of the test kernel (the lock on "
          f"all CPUs: round robin over both); {fmt(run_s)} s per run; the yield strategies "
          + ", ".join(f"`{st}`" for st in STRATEGIES) + ". "
          "Placements: " + "; ".join(f"*{p}*: {d}" for p, d in PLACEMENTS.items()) + ".",
          f"- Scheduler features: NEXT_BUDDY {'on' if 'NEXT_BUDDY' in feats else 'off'}, "
          f"RUN_TO_PARITY {'on' if 'RUN_TO_PARITY' in feats else 'off'}.",
          f"- {reps} repetitions of every kthread configuration"
          + (f" (the kthread lock among 4 and 8 tasks runs {count_word(subs)} times in "
             f"each, {reps * subs} runs in all, as its runs differ widely)"
             if subs > 1 else "")
          + "; the two sides of each comparison "
          "run back to back in one boot, alternating which runs first. Tables give the "
          "median and the range over the repetitions (and runs).",
          "- Emulation limits what these numbers say: TCG runs the test kernel and the "
          "nested guests at a small fraction of native speed, and timer ticks, PAUSE "
          "exits and VM switches cost far more than on hardware. Ratios measured side by "
          "side are meaningful; absolute rates are not comparable with the series' "
          "published numbers. The costs, and the comparison with the kernel without the "
          "series, come from separate boots under QEMU's instruction counting, where time "
          "is a count of instructions (last section).\n",
          "## Results\n"]
    kmd, kt = kernel_tables(runs, out)
    xmd, ct = costs(runs, out)

    def verdict(ok):
        return "**met**" if ok else "**missed**"

    def off_cell(t):
        if not t["off_judged"]:
            return f"none of {t['off_n']} scenarios judged (a single run per boot)"
        cell = f"{t['off_seen']} of {t['off_n']} scenarios measurable"
        if t["off_seen"]:
            cell += f", the largest of those {fmt(t['off_worst'] * 100)} %"
        if t.get("off_apart"):
            cell += (f" ({t['off_apart']} more with ranges apart, by less than the series' "
                     "`mainline` setting, the same code, differs from everything off)")
        if t["off_judged"] < t["off_n"]:
            cell += f" ({t['off_n'] - t['off_judged']} not judged: a single run)"
        return cell

    def off_verdict(t):
        # Met only on every comparison judged.
        if t["off_judged"] < t["off_n"] or not t.get("ipi_off_judged"):
            if t["off_seen"] or t.get("ipi_off_seen"):
                return verdict(False)
            return "**not judged**: a single run per boot"
        return verdict(t["off_seen"] == 0 and not t.get("ipi_off_seen"))

    # Every strategy but mainline, flat, against mainline.
    cand = [s for s in STRATEGIES if s != "mainline"]
    kt["pp_hog_mainline"] = kt[("flat", "mainline")]["pp_hog"]

    def row(goal, cell):
        """A goal's row: per strategy, (measured, met or None for no verdict)."""
        cells = [cell(kt[("flat", s)], s) for s in cand]
        return (f"| {goal} | " + " | ".join(f"{m} | {'' if ok is None else verdict(ok)}"
                                            for m, ok in cells) + " |")
    md += ["## The targets of issue 6, as benchmark goals\n",
           "Against mainline in the same boot (strategy `mainline`), flat placement.\n",
           "| goal | " + " | ".join(f"{s} | " for s in cand) + "|",
           "|---|" + "---|---|" * len(cand),
           row("lock, 4 tasks: ≥ 50 % fewer yields per critical section",
               lambda t, s: (f"÷ {fmt(t['ypw4'])}", t["ypw4"] <= 0.5)),
           row("lock, 8 tasks: ≥ 50 % fewer yields per critical section",
               lambda t, s: (f"÷ {fmt(t['ypw8'])}", t["ypw8"] <= 0.5)),
           row("lock, 8 tasks: ≥ +15 % critical sections/s",
               lambda t, s: (f"÷ {fmt(t['cs8'])}", t["cs8"] >= 1.15)),
           row(f"ping-pong next to 1 hog: ≥ 50 % of the fair-share ideal (mainline: {fmt(kt['pp_hog_mainline'])} %)",
               lambda t, s: (f"{fmt(t['pp_hog'])} %", t["pp_hog"] >= 50)),
           row("instructions added per `yield_to()`, against the series with everything off / "
               "against 7.3.4 without the series (ping-pong without hogs)",
               lambda t, s: (f"{fmt(ct.get(('flat', s, 'yield_off'), float('nan')))} / "
                             f"{fmt(ct.get(('flat', s, 'yield'), float('nan')))}", None)),
           "",
           "| goal | measured (median) | |",
           "|---|---|---|",
           f"| tracking costs ≤ 2 % of the delivery path (instructions of a whole IPI round trip, tracking on ÷ off) | +{fmt(ct['ipi_pct'])} % ({fmt(ct['ipi_added'] / 2)} instructions per IPI) | {verdict(ct['ipi_pct'] <= 2)} |",
           f"| everything off: no measurable difference from 7.3.4 without the series (instructions per unit of work) | kthreads: {off_cell(ct)}; IPI round trip × {fmt(ct['ipi_off_ratio'], 4)}{'' if ct.get('ipi_off_judged') else ' (not judged: a single run)'} | {off_verdict(ct)} |",
           ""]
    begin, end = report_section.markers(KVM_SECTION)
    kvm_logs = [log for log in logs if "bench-kvm" in Path(log).name] or logs
    kvm_setup, kvm_runs = parse(kvm_logs)
    check_setup(kvm_setup, kvm_logs[0], False)
    md += [begin] + kvm_section(kvm_setup, kvm_runs, out) + [end, ""]
    md += strategy_comparison(kt, ct)
    md += published(kt)
    md += kmd
    md += xmd
    # The sections of make bench-guests and make flake-rates come from
    # their own runs: kept as they are.
    old = (out / "REPORT.md").read_text() if (out / "REPORT.md").exists() else ""
    while md and md[-1] == "":
        md.pop()
    for kept in report_section.kept(old):
        md += ["", kept]
    (out / "REPORT.md").write_text("\n".join(md) + "\n")
    print(f"wrote {out / 'REPORT.md'} from {len(runs)} runs")


if __name__ == "__main__":
    main()
