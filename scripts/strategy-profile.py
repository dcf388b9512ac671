#!/usr/bin/env python3
"""make strategy-profile's section of bench/REPORT.md: what each yield
strategy adds to a ping-pong hand-off, function by function, against the
same kernel with everything off, from one boot under the TCG plugin
tests/qemu/plugins/insn-window.c (scripts/cost-profile.sh --strategies).

Usage: strategy-profile.py VMLINUX LOG PROFILE
Writes the section (Markdown) to standard output.

The profile holds one window per ping-pong run, in the order of the log's
VB-BENCH lines (kind=profile, cfg_setting the setting: off or a strategy
for every yield).
"""
import re
import sys
from statistics import mean, median

from insnwindow import Symbols, load_runs, per_handoff as per_ho  # beside this script

# The functions named in the tables: at most this many per strategy.
TOP = 12
# The strategies' decisions, which run only past the gate (and its rate
# limit, for the strategies that have one).
DECIDE = re.compile(r"^sched_vcpu_[a-z_]+_decide$")


def fmt(x, nd=2):
    return f"{x:,.{nd}f}"


def main():
    if len(sys.argv) != 4:
        sys.exit(__doc__)
    runs = load_runs(Symbols(sys.argv[1], demangle=True), sys.argv[2], sys.argv[3])
    settings = list(dict.fromkeys(r["setting"] for r in runs))
    if "off" not in settings:
        sys.exit("strategy-profile: no run with everything off to compare against")
    strategies = [s for s in settings if s != "off"]
    md = ["## What a strategy adds to a hand-off (make strategy-profile)\n",
          "The kernel of the cost part (jump labels), booted once under instruction "
          "counting with `nokaslr` and the TCG plugin of *Where the instructions of a "
          "hand-off go*: the ping-pong without hogs, two kthreads on one CPU, every "
          "yield under one strategy, in turn with everything off. Per hand-off, means "
          "over the runs, on the ping-pong's CPU; a function's *calls* are the "
          "executions of its first instruction, and a function's instructions are its "
          "own, not its callees'. *Decisions*: calls of the strategy's decision "
          "(`sched_vcpu_*_decide()`), which runs only for a yield that passes the gate; "
          "`deboost` and `lag-credit` act at most once per 6 ms on a runqueue (their rate "
          "limit), so in a ping-pong of a hand-off every few microseconds nearly all their "
          "yields stop at the gate, and their rows are the cost of such a yield.\n",
          "| placement | setting | runs | yields per hand-off | decisions per hand-off "
          "| instructions per hand-off (median, range) | added against everything off |",
          "|---|---|---|---|---|---|---|"]
    places = list(dict.fromkeys(r["place"] for r in runs))
    for place in places:
        off = [r["cpu"] / r["ho"] for r in runs if r["place"] == place and r["setting"] == "off"]
        for s in settings:
            sel = [r for r in runs if r["place"] == place and r["setting"] == s]
            if not sel:
                continue
            v = [r["cpu"] / r["ho"] for r in sel]
            y = mean(r["yields"] / r["ho"] for r in sel)
            dec = mean(sum(c for n, (_, c) in r["fn"].items() if DECIDE.match(n)) / r["ho"]
                       for r in sel)
            added = "" if s == "off" else fmt(median(v) - median(off), 0)
            md.append(f"| {place} | {s} | {len(sel)} | {fmt(y, 4)} | {fmt(dec, 3)} "
                      f"| {fmt(median(v), 0)} ({fmt(min(v), 0)}–{fmt(max(v), 0)}) "
                      f"| {added} |")
    md.append("")
    for place in places:
        base = [r for r in runs if r["place"] == place and r["setting"] == "off"]
        for s in strategies:
            sel = [r for r in runs if r["place"] == place and r["setting"] == s]
            if not sel or not base:
                continue
            names = set().union(*(r["fn"] for r in base + sel))
            diffs = sorted(((per_ho(sel, n, 0) - per_ho(base, n, 0), n) for n in names),
                           key=lambda d: (-abs(d[0]), d[1]))
            shown = diffs[:TOP]
            rest = sum(d for d, _ in diffs[TOP:])
            md += [f"### {place.capitalize()}, `{s}`: the functions that differ the most\n",
                   "| function | instructions per hand-off, added | calls per hand-off "
                   "(off / strategy) | instructions per call (off / strategy) |",
                   "|---|---|---|---|"]
            for d, n in shown:
                c0, c1 = per_ho(base, n, 1), per_ho(sel, n, 1)
                i0, i1 = per_ho(base, n, 0), per_ho(sel, n, 0)
                ipc = (f"{fmt(i0 / c0) if c0 else '–'} / {fmt(i1 / c1) if c1 else '–'}")
                md.append(f"| `{n}` | {fmt(d)} | {fmt(c0, 3)} / {fmt(c1, 3)} | {ipc} |")
            md.append(f"| all other functions | {fmt(rest)} | | |")
            md.append("")
    print("\n".join(md))


if __name__ == "__main__":
    main()
