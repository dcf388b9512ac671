#!/usr/bin/env python3
"""make dy-cost's section of bench/REPORT.md: what IPI tracking and the
IPI-aware steps of directed yield execute, function by function, from one
boot of the test kernel under the TCG plugin tests/qemu/plugins/insn-window.c
(the dycost part of scripts/guest/bench.sh, one window per VM).

Usage: dy-cost.py VMLINUX LOG PROFILE
Writes the section (Markdown) to standard output.

Every instruction is counted, so what a function executes per IPI round
trip or per spin exit is exact for each run; the window's total, which
holds everything the VM caused (its set-up, the emulation of its exits,
timer ticks), moves from run to run, and is shown for that noise.
"""
import re
import sys
from collections import defaultdict
from statistics import median

from benchlog import parse  # beside this script
from insnwindow import Symbols, functions, read

# The mechanisms' own functions and what they call for them: the series'
# C helpers and Rust entry points, the crate's Rust functions that are not
# inlined into them (ipi_yield::...), the Rust helpers of its atomics, the
# clock of the send times (local_clock(), without sched_clock_noinstr()
# under it, the TSC's read and conversion, which the scheduler's clock
# calls all the time),
# and kvm_vcpu_on_spin(), whose scan and hooks kvm_dy_on_spin() inlines.
# xa_load() is the vCPU lookup of the scan and of the Rust steps (other
# paths call it too).
OWN = re.compile(r"^(kvm_ipi_|kvm_dy_|kvm_arch_dy_|rust_helper_|ipi_yield::|kvm_vcpu_on_spin$"
                 r"|kvm_arch_vcpu_preempted_in_kernel$|local_clock$|local_clock_noinstr$|xa_load$)")
# The yield itself: what it costs follows whom the spin chose, not the code
# that chose.
YIELD = "kvm_vcpu_yield_to"
# Run once per IPI sent, in the spin tests too.
PER_IPI = {"kvm_ipi_track", "kvm_ipi_tracker_deliver"}
# What the record of each IPI calls once (the clock, the load of the
# switch, the store of the record): in the spin tests their calls per IPI
# recorded (calls of kvm_ipi_tracker_deliver()) come off, at their cost per
# call in that run.
RECORD_CALLS = ("local_clock", "local_clock_noinstr", "rust_helper_atomic_i8_read",
                "rust_helper_atomic64_set")


def fmt(x, nd=1):
    return f"{x:,.{nd}f}"


def rng(xs, nd=1):
    return f"{fmt(median(xs), nd)} ({fmt(min(xs), nd)}–{fmt(max(xs), nd)})"


def load(vmlinux, log, profile):
    """The log's setup line, and per run: its log fields, the window's total
    instructions (all vCPUs) and per function [instructions, calls] over all
    vCPUs."""
    syms = Symbols(vmlinux, demangle=True)
    setup, logged = parse([log])
    runs = [r for r in logged if r.get("kind") == "dycost"]
    windows, counts = read(profile)
    if len(windows) != len(runs):
        sys.exit(f"dy-cost: {profile} has {len(windows)} windows, {log} {len(runs)} runs")
    for w, run in enumerate(runs):
        fn = defaultdict(lambda: [0, 0])
        for vcpu in windows[w]:
            for name, (n, c) in functions(syms, counts[(w, vcpu)]).items():
                fn[name][0] += n
                fn[name][1] += c
        run["fn"] = fn
        run["all"] = sum(windows[w].values())
    return setup, runs


# The Rust step that looks a receiver up, out of line (#[inline(never)]).
TRY = "ipi_yield::try_receiver"


def setting(r):
    t, x = r["cfg_tracking"], r["cfg_relaxed"]
    if r["cfg_test"] == "ipi":
        return "on" if t == "Y" else "off"
    return {("N", "N"): "mainline", ("N", "Y"): "relaxed", ("Y", "Y"): "both"}[(t, x)]


def without_records(run):
    """RUN's functions less what the record of each IPI calls."""
    fn = {n: list(v) for n, v in run["fn"].items()}
    recorded = fn.get("kvm_ipi_tracker_deliver", [0, 0])[1]
    for n in RECORD_CALLS:
        instrs, calls = fn.get(n, [0, 0])
        if calls and recorded:
            k = min(recorded, calls)
            fn[n] = [instrs - instrs * k / calls, calls - k]
    return dict(run, fn=fn)


def table(runs, order, unit, per, label, skip=frozenset(), total=True, diffs=None):
    """Rows: every own function that some setting executes, per unit
    (median over the runs, and the range when the runs differ), the sum of
    them and, with TOTAL, the window's; then a column per pair (A, B) of
    DIFFS (default: the last setting against the first): B's median less
    A's."""
    diffs = diffs or [(order[0], order[-1])]
    by = {s: [r for r in runs if setting(r) == s] for s in order}
    if not all(by.values()):
        return [f"(no runs of every setting: {', '.join(s for s in order if not by[s])} missing)\n"]
    names = sorted({n for r in runs for n in r["fn"] if OWN.match(n) and n not in skip})

    def each(s, f):
        return [f(r) / per(r) for r in by[s]]

    def cell(xs):
        return fmt(median(xs)) if max(xs) - min(xs) < 0.05 else rng(xs)

    def delta(vals, nd=1):
        return " | ".join(fmt(median(vals[b]) - median(vals[a]), nd) for a, b in diffs)

    md = [f"| {unit} | " + " | ".join(label[s] for s in order) + " | "
          + " | ".join(f"{label[b]} − {label[a]}" for a, b in diffs) + " |",
          "|---" * (len(order) + len(diffs) + 1) + "|"]
    sums = {s: [0.0] * len(by[s]) for s in order}
    for n in names:
        vals = {s: each(s, lambda r, n=n: r["fn"].get(n, [0, 0])[0]) for s in order}
        if max(max(v) for v in vals.values()) < 0.05:
            continue
        for s in order:
            sums[s] = [a + b for a, b in zip(sums[s], vals[s])]
        calls = {s: median(each(s, lambda r, n=n: r["fn"].get(n, [0, 0])[1])) for s in order}
        shown = f"`{n}()`" + (f" ({fmt(calls[order[-1]], 2)} calls)" if calls[order[-1]] else "")
        md.append(f"| {shown} | " + " | ".join(cell(vals[s]) for s in order)
                  + f" | {delta(vals)} |")
    md.append("| **these functions together** | "
              + " | ".join(f"**{cell(sums[s])}**" for s in order)
              + " | " + " | ".join(f"**{d}**" for d in delta(sums).split(" | ")) + " |")
    if not total:
        return md + [""]
    tot = {s: each(s, lambda r: r["all"]) for s in order}
    md.append("| everything the VM ran (both CPUs, its set-up included) | "
              + " | ".join(rng(tot[s], 0) for s in order) + f" | {delta(tot, 0)} |")
    return md + [""]


def main():
    if len(sys.argv) != 4:
        sys.exit(__doc__)
    setup, runs = load(*sys.argv[1:4])
    ipi = [r for r in runs if r["cfg_test"] == "ipi"]
    spin = [r for r in runs if r["cfg_test"] != "ipi"]
    reps = max((int(r["rep"]) for r in runs), default=0)
    turn = int(setup.get("icount_turn", "0"))
    turns = (f"each emulated CPU's turn at most {turn:,} instructions, as in `make bench`'s "
             "kvm part, `tests/qemu/0006`" if turn else
             "each emulated CPU's turn as long as the next timer deadline allows")
    md = ["## What the KVM mechanisms execute (make dy-cost)\n",
          "The test kernel (without jump labels: a static key is a load and a branch) "
          f"booted once under instruction counting ({turns}) with `nokaslr` and the TCG plugin "
          "`tests/qemu/plugins/insn-window.c`, which counts every instruction the "
          "emulated CPUs execute while a VM lives (from its first `/dev/kvm` ioctl to "
          "`kvm_destroy_vm()`), the debooster off, halt polling off, "
          f"{reps} repetitions, the settings rotated. Listed: the functions of IPI "
          "tracking and of directed yield (names `kvm_ipi_*`, `kvm_dy_*`, "
          "`kvm_arch_dy_*`, the Rust helpers of the atomics, the clock of the send "
          "times, `local_clock()`, without what it calls to read and convert the "
          "TSC, which the scheduler's clock calls too, `kvm_vcpu_on_spin()` with the "
          "scan and hooks that "
          "`kvm_dy_on_spin()` inlines, `kvm_arch_vcpu_preempted_in_kernel()`, and "
          "`xa_load()`, the vCPU lookup, which other paths call too): medians, and "
          "the range where runs differ. These counts are exact; the last row, "
          "everything the VM ran, moves from run to run with what the emulation of its "
          "exits and the timer ticks add, and shows how much of a difference in a "
          "whole round trip that noise can hide. Instructions, not cycles: a remote "
          "cache line or an atomic costs no more here than a register move.\n",
          "### Per IPI round trip\n",
          "`vcpu_boost_ipi_test -v 2 -H`: vCPU 0 sends vCPU 1 an IPI and halts "
          "until vCPU 1 answers with one; both on CPU 1 of the test kernel, so nothing "
          "spins: a round trip is two IPIs delivered through the ICR, two EOIs, two "
          "halts and two wakeups. Instructions per round trip (and calls per round "
          "trip), IPI tracking off and on.\n"]
    md += table(ipi, ["off", "on"], "function", lambda r: int(r["ipis"]),
                {"off": "tracking off", "on": "tracking on"})
    exit_names = {"mainline": "mainline's loop", "relaxed": "relaxed round alone",
                  "both": "tracking and relaxed round"}
    md += ["### Per spin exit\n",
           "Every PAUSE exiting (`kvm_amd.test_pause_exits`), under mainline's loop (both "
           "KVM features off), the relaxed round alone (the IPI-aware path without "
           "tracking) and both on. Instructions per call of `kvm_vcpu_on_spin()`, and "
           "calls per call, in the functions listed (the last two columns: what the "
           "IPI-aware path adds to mainline's loop, and what tracking adds to it), "
           "less the record of each IPI "
           "sent (above: `kvm_ipi_track()`, `kvm_ipi_tracker_deliver()`, and one call "
           "each of the clock and two atomics per IPI recorded, at their cost per call). "
           "The VM's whole count is left out: its set-up and the spin exits' own "
           "emulation swamp a spin exit's choice. Not counted: "
           f"the yields a spin makes (`{YIELD}()` and the scheduler's `yield_to()`), "
           "which follow whom it chose, not the code that chose; the scan's lookups "
           "(`xa_load()`) follow how far it went before a yield.\n"]
    for test, what in (("lock", "`vcpu_boost_lock_test -v 4 -k 1000000`: 4 vCPUs on the "
                        "test kernel's 2 CPUs contend a guest spinlock and send no IPIs: "
                        "no spinner has anything tracked, so step 1 ends at the "
                        "spinner's record."),
                       ("answered", "`vcpu_boost_lock_test -v 4 -k 4`: the same lock, and "
                        "every 4th acquisition an IPI to the next vCPU that nobody waits "
                        "for, as in a guest whose vCPUs send IPIs now and then. With "
                        "tracking on, a spin exit asks the receiver's APIC whether the "
                        "spinner's last IPI is answered; the second in a row to find it so "
                        "forgets the IPI, and the exits after it end at the spinner's "
                        "record. One that finds the vector still pending (the receiver has "
                        "not taken it yet, and later IPIs of the vector merge into it) "
                        "reads the receiver's state too, as for an unanswered IPI. How "
                        "many do follows the run (below the table)."),
                       ("wait", "`vcpu_boost_spin_test -v 2`, both vCPUs on CPU 0: vCPU 0 "
                        "spins until vCPU 1 answers its IPI, so every spin exit is the "
                        "sender's with its IPI unanswered; the IPI woke the receiver from "
                        "its halt, so with tracking on step 1 asks its APIC, reads its "
                        "state, and leaves it to the scan without reading the clock. "
                        "Mainline's loop takes few spin exits here, so its column carries "
                        "the VM's one-off calls.")):
        runs_t = [without_records(r) for r in spin if r["cfg_test"] == test]
        md += [f"**{test.capitalize()}.** {what}\n"]
        md += table(runs_t, ["mainline", "relaxed", "both"], "function",
                    lambda r: max(r["fn"].get("kvm_vcpu_on_spin", [0, 0])[1], 1),
                    exit_names, skip=PER_IPI, total=False,
                    diffs=[("mainline", "relaxed"), ("relaxed", "both")])
        exits = {s: [r["fn"].get("kvm_vcpu_on_spin", [0, 0])[1] for r in runs_t
                     if setting(r) == s] for s in exit_names}
        if all(exits.values()):
            md.append("Spin exits per run: "
                      + ", ".join(f"{exit_names[s]} {rng(v, 0)}" for s, v in exits.items())
                      + ".\n")
        both = [r for r in runs_t if setting(r) == "both" and int(r.get("ipis", 0)) > 0
                and "ipis_received" in r and r["fn"].get(TRY, [0, 0])[1] > 0]
        if test == "answered" and both and all(exits.values()):
            got = [int(r["ipis_received"]) for r in both]
            sent = [int(r["ipis"]) for r in both]
            looked = [100 * r["fn"][TRY][1] / max(r["fn"].get("kvm_vcpu_on_spin", [0, 0])[1], 1)
                      for r in both]
            pending = [100 * r["fn"].get("kvm_dy_facts", [0, 0])[1] / r["fn"][TRY][1]
                       for r in both]
            merged = " (the rest merged into a vector still pending)" \
                if min(got) < median(sent) else ""
            md.append(f"With tracking on, the receivers' handler ran for {rng(got, 0)} of "
                      f"{fmt(median(sent), 0)} IPIs per run{merged}; a receiver was looked "
                      f"up (`{TRY}()`) at {rng(looked, 0)} % of the spin exits, and "
                      f"{rng(pending, 0)} % of those found the vector still pending and "
                      "read the receiver's state (`kvm_dy_facts()`).\n")
    md.append("(This section: `make dy-cost` on kernel 7.3.4.)\n")
    print("\n".join(md))


if __name__ == "__main__":
    main()
