#!/usr/bin/env python3
"""Turns the log of make bench-guests into its section of bench/REPORT.md
(between its markers, scripts/report_section.py; the rest of the file untouched)
and bench/guests.png. Every number is computed here from that log.

Usage: bench-guests-report.py OUT_DIR GUEST_LOG
"""
import math
import re
import statistics
import sys
from collections import defaultdict
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

import report_section  # noqa: E402  (beside this script)


# Workload guests: what a window's value is. dbench runs once and prints
# its operation count each second; the others run again and again, and a
# window's value is their work per second of the runs inside it.
WORKLOADS = {
    "dbench": "dbench (4 clients, tmpfs, one long run), operations/s from its progress each second",
    "hackbench": "hackbench -T -g 2 -f 4 -l 100 run after run, runs/s",
    "tlb": "stress-ng --tlb-shootdown 4 -t 5 run after run, bogo-ops/s (start-up included)",
    "cpu": "stress-ng --cpu 2 --cpu-method int64 -t 5 run after run (the neighbour), bogo-ops/s",
}
# Per second of a window, summed over the guests. The dy_ counters count
# only while a KVM feature is on (the IPI-aware path of kvm_vcpu_on_spin()),
# the debooster's only while it is on.
COUNTERS = [
    ("dy_on_spin", "on-spin calls"),
    ("dy_ipi_receiver", "yields to an IPI receiver"),
    ("dy_mainline", "yields in mainline's scan"),
    ("dy_relaxed", "yields in the relaxed round"),
    ("dy_held", "held for a running receiver"),
    ("dy_no_target", "no target"),
    ("ipi_tracked", "IPIs tracked"),
    ("sched_calls", "yield_to() calls"),
    ("sched_applied", "debooster actions"),
    ("sched_donated", "donations"),
]
# Goals of the issue: the best setting's gain, the worst loss, the
# neighbour's share, each beyond the A/A noise.
GAIN, LOSS, SHARE_PTS = 0.05, 0.02, 5.0
# A setting is judged on a workload only with ratios from this many rounds.
MIN_ROUNDS = 3
# The tail -f that timestamps the lines polls once a second.
ARRIVAL_SLACK = 1.0


def kv(tokens):
    return dict(t.split("=", 1) for t in tokens if "=" in t)


def parse(path):
    """The setup, guests and windows of the stage's main part; the workload
    lines of every guest; and the 1:1 control's setup, guest and windows."""
    setup, guests, windows = {}, {}, []
    ctl = {"setup": {}, "guests": {}, "windows": []}
    runs, progress = defaultdict(list), defaultdict(list)
    run_re = re.compile(r"^\[(\S+)\] VB-L2 (\S+) (\S+) (\S+) (\S+) (\S+) l1=(\S+)$")
    prog_re = re.compile(r"^\[(\S+)\] VB-L2P (\S+) (\S+) (\S+) (\S+) l1=(\S+)$")
    for line in Path(path).read_text(errors="replace").splitlines():
        if line.startswith("VB-GB-SETUP "):
            setup = kv(line.split()[1:])
        elif line.startswith("VB-GB-GUEST "):
            g = kv(line.split()[1:])
            guests[g["name"]] = g
        elif line.startswith("VB-GB-CTL-SETUP "):
            ctl["setup"] = kv(line.split()[1:])
        elif line.startswith("VB-GB-CTL-GUEST "):
            g = kv(line.split()[1:])
            ctl["guests"][g["name"]] = g
        elif line.startswith(("VB-GB-WIN ", "VB-GB-CTL-WIN ")):
            w = kv(line.split()[1:])
            w = {k: (v if k == "setting" else float(v)) for k, v in w.items()}
            (ctl["windows"] if line.startswith("VB-GB-CTL-") else windows).append(w)
        elif m := run_re.match(line):
            guest, _, work, value, unit, dur, l1 = m.groups()
            if value != "fail":
                # hackbench's value is its time: one run is the work.
                runs[guest].append((float(l1), float(dur), 1.0 if unit == "s" else float(value)))
        elif m := prog_re.match(line):
            guest, _, _, ops, secs, l1 = m.groups()
            progress[guest].append((float(l1), float(secs), float(ops)))
    return setup, guests, windows, runs, progress, ctl


def window_value(runs, progress, w, lead):
    """The window's throughput: from a progress counter, its growth over
    its own clock between the reports inside the window; from repeated
    runs (some as long as half a window), the work of the runs that began
    at least LEAD seconds after the switch (half the settle time) and ended
    by the window's end, per second of those runs."""
    if progress:
        # Consecutive reports; dbench starts both counts again after its
        # warm-up, so a pair that goes backwards is left out.
        inside = [(s, o) for t, s, o in progress if w["t0"] <= t <= w["t1"]]
        pairs = [(s1 - s0, o1 - o0) for (s0, o0), (s1, o1) in zip(inside, inside[1:])
                 if s1 > s0 and o1 >= o0]
        secs = sum(d for d, _ in pairs)
        return sum(o for _, o in pairs) / secs if secs > 0 else None
    done = [(d, v) for t, d, v in runs if t - d - ARRIVAL_SLACK >= w["t0"] - lead and t <= w["t1"]]
    if not done:
        return None
    return sum(v for _, v in done) / sum(d for d, _ in done)


def fmt(x, nd=3):
    if x is None or x != x:
        return "–"
    return f"{x:.{nd}g}" if abs(x) < 1000 else f"{x:,.0f}"


def probe_speed(w):
    """The speed probe's iterations per CPU-second in window W, or None."""
    ns = w.get("probe_ns", 0)
    return w["probe_iters"] / ns * 1e9 if ns > 0 and w.get("probe_iters") else None


def analyse(setup, guests, windows, runs, progress):
    """Per window, each guest's throughput (also divided by the speed
    probe's: adj_GUEST) and CPU share, and the counters; per setting, its
    windows' ratios to the off windows on both sides."""
    settings = ["off"] + [x for x in setup["settings"].split(",") if x != "off"]
    ncpu = int(setup["cpus"])
    lead = float(setup.get("settle", 0)) / 2
    windows = sorted(windows, key=lambda w: w["t0"])
    keys = (list(guests) + ["adj_" + g for g in guests] + ["share_" + g for g in guests]
            + ["speed"] + [c for c, _ in COUNTERS])
    rows = []
    # The probe's speed relative to its median: adj_ values are in the
    # workload's own units, at the run's median speed.
    speeds = [probe_speed(w) for w in windows]
    known = [x for x in speeds if x]
    mid = statistics.median(known) if known else None
    for w, speed in zip(windows, speeds):
        row = {}
        secs = w["t1"] - w["t0"]
        row["speed"] = speed / mid if mid and speed else None
        for g in guests:
            row[g] = window_value(runs[g], progress[g], w, lead)
            row["adj_" + g] = (row[g] / row["speed"]
                               if row[g] is not None and row["speed"] else None)
            row["share_" + g] = w.get("cpu_" + g, 0) / (secs * 1e6 * ncpu) * 100
        for c, _ in COUNTERS:
            row[c] = w.get(c, 0) / secs
        rows.append(row)
    res = {s: {k: {"vals": [], "ratios": [], "deltas": []} for k in keys} for s in settings}
    for i, w in enumerate(windows):
        s = w["setting"]
        if s not in res:
            continue
        before = next((j for j in range(i - 1, -1, -1) if windows[j]["setting"] == "off"), None)
        after = next((j for j in range(i + 1, len(windows)) if windows[j]["setting"] == "off"), None)
        for k in keys:
            v = rows[i][k]
            if v is None:
                continue
            res[s][k]["vals"].append(v)
            if s == "off":
                continue
            offs = [rows[j][k] for j in (before, after) if j is not None and rows[j][k] is not None]
            if not offs:
                continue
            base = statistics.fmean(offs)
            res[s][k]["deltas"].append(v - base)
            if base:
                res[s][k]["ratios"].append(v / base)
    for s in settings:
        for k in keys:
            r = res[s][k]
            r["n"] = len(r["vals"])
            r["med"] = statistics.median(r["vals"]) if r["vals"] else None
            r["ratio"] = statistics.median(r["ratios"]) if r["ratios"] else None
            r["lo"] = min(r["ratios"]) if r["ratios"] else None
            r["hi"] = max(r["ratios"]) if r["ratios"] else None
            r["delta"] = statistics.median(r["deltas"]) if r["deltas"] else None
    rounds = sorted({int(w["round"]) for w in windows})
    return settings, rounds, res, rows


def lag1_sd(xs):
    """The spread of the change from one window to the next: the standard
    deviation of the log ratios of consecutive values."""
    d = [math.log(b / a) for a, b in zip(xs, xs[1:]) if a and b and a > 0 and b > 0]
    return statistics.pstdev(d) if len(d) >= 2 else None


def noise_sources(guests, rows):
    """Per guest, how much its throughput, its CPU share and its work per
    CPU-second change from one window to the next; and how the work per
    CPU-second of the guests moves together (correlation of the logs)."""
    per_cpu = {g: [r[g] / r["share_" + g] if r[g] and r["share_" + g] else None for r in rows]
               for g in guests}
    table = {g: (lag1_sd([r[g] for r in rows]), lag1_sd([r["share_" + g] for r in rows]),
                 lag1_sd(per_cpu[g]), lag1_sd([r["adj_" + g] for r in rows])) for g in guests}
    if any(r["speed"] for r in rows):
        per_cpu["speed probe"] = [r["speed"] for r in rows]
        table["speed probe"] = (None, None, lag1_sd(per_cpu["speed probe"]), None)
    corr = []
    names = list(per_cpu)
    for i, a in enumerate(names):
        for b in names[i + 1:]:
            pairs = [(math.log(x), math.log(y)) for x, y in zip(per_cpu[a], per_cpu[b])
                     if x and y and x > 0 and y > 0]
            if len(pairs) >= 3:
                xs, ys = zip(*pairs)
                try:
                    corr.append((a, b, statistics.correlation(xs, ys)))
                except statistics.StatisticsError:
                    pass
    return table, corr


def aa_noise(res, works, prefix=""):
    """Per workload, how far the A/A pairs' ratios stray from 1 (None
    without enough of them)."""
    aa = res.get("off2", {})
    out = {}
    for g in works:
        r = aa.get(prefix + g, {})
        out[g] = (max(abs(r["lo"] - 1), abs(r["hi"] - 1))
                  if len(r.get("ratios", [])) >= MIN_ROUNDS else None)
    return out


def ratio_table(res, settings, works, noise, prefix=""):
    """The rows of a table of each setting's ratios to off, per workload."""
    md = ["| setting | " + " | ".join(works) + " |", "|---|" + "---|" * len(works)]
    for s in settings:
        cells = []
        for g in works:
            r = res[s][prefix + g]
            if s == "off":
                cells.append(f"{fmt(r['med'])} (n={r['n']})")
            else:
                cells.append(f"× {fmt(r['ratio'])} ({fmt(r['lo'])}–{fmt(r['hi'])})")
        md.append(f"| `{s}` | " + " | ".join(cells) + " |")
    md.append("| A/A noise | " + " | ".join(
        f"± {fmt(noise[g] * 100)} %" if noise[g] is not None else "–" for g in works) + " |")
    return md


def sign_p(up, n):
    """Two-sided exact sign test: the chance of a split at least as uneven
    as UP of N rounds above 1 when each side is as likely."""
    k = max(up, n - up)
    return min(1.0, 2 * sum(math.comb(n, i) for i in range(k, n + 1)) / 2 ** n)


def median_ci_rank(n, level=0.95):
    """The order statistics that bound a confidence interval of the median
    of N values: K such that the K-th smallest to the K-th largest cover it
    with at least LEVEL (the smallest and largest when no K does), and
    that interval's coverage, from the same binomial as the sign test."""
    k = 1
    while k < n - k and 1 - sign_p(k, n) >= level:
        k += 1
    return k, 1 - sign_p(k - 1, n)


def median_ci(ratios):
    """The confidence interval of RATIOS' median from median_ci_rank()."""
    xs = sorted(ratios)
    k, _ = median_ci_rank(len(xs))
    return xs[k - 1], xs[len(xs) - k]


def sign_cell(ratios, interval=True):
    """How many of the rounds' RATIOS are above 1 (ties left out), the sign
    test's p (bold below 0.05), and with INTERVAL the median's confidence
    interval."""
    untied = [x for x in ratios if x != 1]
    if not untied:
        return "–"
    up = sum(x > 1 for x in untied)
    p = sign_p(up, len(untied))
    count = f"{up} of {len(untied)}"
    cell = f"{count if p >= 0.05 else '**' + count + '**'} (p {fmt(p, 2)})"
    if not interval:
        return cell
    lo, hi = median_ci(ratios)
    return f"{cell}; {fmt(lo)}–{fmt(hi)}"


def sign_table(res, settings, works, prefix=""):
    """Per setting and workload, how many rounds' ratios are above 1, the
    sign test's p, and the median's confidence interval."""
    md = ["| setting | " + " | ".join(works) + " |", "|---|" + "---|" * len(works)]
    for s in settings:
        if s != "off":
            md.append(f"| `{s}` | " + " | ".join(
                sign_cell(res[s][prefix + g]["ratios"]) for g in works) + " |")
    return md


def control_section(setup, ctl, runs, progress):
    """The 1:1 control's subsection: each setting's hackbench throughput
    against everything off, the rounds above 1, its on-spin calls, and the
    goal that no setting moves it beyond its A/A noise."""
    if not ctl["windows"] or "ctl" not in ctl["guests"]:
        return []
    csetup = dict(setup, settle=ctl["setup"].get("settle", 0))
    settings, rounds, res, _ = analyse(csetup, ctl["guests"], ctl["windows"], runs, progress)
    noise = aa_noise(res, ["ctl"])["ctl"]
    md = ["### The 1:1 control: one 2-vCPU guest alone on the 2 CPUs\n",
          "After the guests above have ended, one guest with 2 vCPUs runs hackbench (as the "
          "*hackbench* guest) alone on the test kernel's 2 CPUs, without overcommit: no vCPU waits "
          "for a preempted one, so no setting should change anything. The same settings, "
          f"{len(rounds)} rounds, {ctl['setup'].get('settle', '?')} s to settle and "
          f"{ctl['setup'].get('win', '?')} s measured, judged on the throughput as measured (the "
          "speed probe does not run here).\n",
          "| setting | hackbench, × off (median, range) | rounds above 1 | on-spin calls/s | "
          "yield_to() calls/s |",
          "|---|---|---|---|---|"]
    for s in settings:
        r = res[s]["ctl"]
        if s == "off":
            cell, signs = f"{fmt(r['med'])} runs/s (n={r['n']})", "–"
        else:
            cell = f"× {fmt(r['ratio'])} ({fmt(r['lo'])}–{fmt(r['hi'])})"
            signs = sign_cell(r["ratios"], interval=False)
        md.append(f"| `{s}` | {cell} | {signs} | {fmt(res[s]['dy_on_spin']['med'])} | "
                  f"{fmt(res[s]['sched_calls']['med'])} |")
    cand = [s for s in settings if s not in ("off", "off2")]
    moved = [(s, res[s]["ctl"]["ratio"]) for s in cand if res[s]["ctl"]["ratio"] is not None
             and len(res[s]["ctl"]["ratios"]) >= MIN_ROUNDS
             and noise is not None and abs(res[s]["ctl"]["ratio"] - 1) > LOSS + noise]
    judged = noise is not None and all(len(res[s]["ctl"]["ratios"]) >= MIN_ROUNDS for s in cand)
    md += ["", f"A/A noise: {'± ' + fmt(noise * 100) + ' %' if noise is not None else 'not measured'}. "
           f"Goal: no setting moves the control by more than {LOSS * 100:.0f} % beyond it: "
           + ("**not judged** (no A/A noise, or fewer than " + str(MIN_ROUNDS) + " rounds)" if not judged else
              "**missed**: " + ", ".join(f"`{s}` × {fmt(r)}" for s, r in moved) if moved else
              "**met**") + ".\n"]
    return md


def judge(res, cand, judged, noise, prefix=""):
    """The best setting's gain, the gains and losses beyond the A/A noise,
    and whether every setting and workload could be judged."""
    best = None
    for s in cand:
        for g in judged:
            r = res[s][prefix + g]["ratio"]
            if len(res[s][prefix + g]["ratios"]) >= MIN_ROUNDS and (best is None or r > best[2]):
                best = (s, g, r)
    # Judged only where the setting and the A/A pair both have ratios.
    judgeable = [(s, g, res[s][prefix + g]["ratio"]) for s in cand for g in judged
                 if len(res[s][prefix + g]["ratios"]) >= MIN_ROUNDS and noise[g] is not None]
    complete = len(judgeable) == len(cand) * len(judged) and bool(judgeable)
    gains = [(s, g, r) for s, g, r in judgeable if r - 1 >= GAIN + noise[g]]
    losses = [(s, g, r) for s, g, r in judgeable if 1 - r > LOSS + noise[g]]
    return best, gains, losses, complete


def intervals(res, cand, judged, prefix=""):
    """(setting, workload, median interval) for every setting of CAND and
    workload of JUDGED with ratios from at least MIN_ROUNDS rounds."""
    return [(s, g, median_ci(res[s][prefix + g]["ratios"])) for s in cand for g in judged
            if len(res[s][prefix + g]["ratios"]) >= MIN_ROUNDS]


def reach(res, cand, judged, variants):
    """What the run can tell, on each of VARIANTS (prefix, label, A/A
    noise), per workload: the smallest median the gain goal needs, and the
    highest upper end of any setting's median interval, the largest effect
    the rounds leave room for."""
    md = []
    for prefix, label, nz in variants:
        cells = []
        cover = 1.0
        every = intervals(res, cand, judged, prefix)
        for g in judged:
            ivs = [(s, iv) for s, w, iv in every if w == g]
            if nz[g] is None or not ivs:
                continue
            cover = min([cover] + [median_ci_rank(len(res[s][prefix + g]["ratios"]))[1]
                                   for s, _ in ivs])
            top = max(ivs, key=lambda x: x[1][1])
            cells.append(f"{g} needs × {fmt(1 + GAIN + nz[g])}, no judged setting's interval "
                         "reaches above "
                         f"× {fmt(top[1][1])} (`{top[0]}`)")
        if cells:
            md.append(f"- {label[0].upper() + label[1:]}: " + "; ".join(cells)
                      + f" (intervals of {cover * 100:.1f} % or more).")
    if not md:
        return []
    return ["**What this run can tell.** A gain counts for the first goal only beyond the A/A "
            "noise, and each setting's median interval bounds the gain the rounds leave room "
            "for; beside them, the series' published Dbench gains, +4.8 to +14.4 % (below).\n"
            ] + md + [""]


def main():
    out, log = Path(sys.argv[1]), sys.argv[2]
    setup, guests, windows, runs, progress, ctl = parse(log)
    if not windows:
        sys.exit("bench-guests-report: no VB-GB-WIN line in " + log)
    settings, rounds, res, rows = analyse(setup, guests, windows, runs, progress)
    works = [g for g in guests if g in WORKLOADS]
    # The goals are about the workloads; the neighbour's is its CPU share.
    judged = [g for g in works if g != "cpu"]
    probed = any(r["speed"] for r in rows)
    noise = aa_noise(res, works)
    adj_noise = aa_noise(res, works, "adj_")
    md = ["## Linux guests: real workloads, setting by setting\n",
          "Generated by `make bench-guests` (scripts/bench-guests.sh, scripts/guest/bench-guests.sh, "
          "scripts/bench-guests-report.py); do not edit by hand.\n",
          "### Setup\n",
          f"- Inside the test kernel ({setup.get('kernel', '?')}, {setup.get('cpus', '?')} CPUs, "
          f"KVM with `npt={setup.get('npt', '?')}`, `halt_poll_ns={setup.get('halt_poll_ns', '?')}`, "
          f"`test_pause_exits={setup.get('test_pause_exits', '?')}`: TCG's SVM has no pause filter, so "
          "the test-only patch makes every guest PAUSE exit, or no spinning vCPU would ever reach "
          "`kvm_vcpu_on_spin()`), "
          f"QEMU `{setup.get('qemu', '?').replace('_', ' ')}` runs "
          f"{len(guests)} unmodified Linux guests at once, each QEMU in its own cgroup "
          "(cgroup v2, cpu controller, default weights): "
          + ", ".join(f"*{g}* ({guests[g]['vcpus']} vCPUs)" for g in guests)
          + f" — {sum(int(guests[g]['vcpus']) for g in guests)} vCPUs on {setup.get('cpus', '?')} CPUs.",
          "- Guest kernel: the test kernel's own bzImage (no paravirtual spinlocks built in), "
          f"`-cpu {setup.get('l2_cpu', '?')}` (every KVM paravirtual feature but the clock off), "
          f"command line `{setup.get('l2_append', '?').replace(',', ' ')}`; 256 MiB; Debian's dbench, "
          "hackbench (rt-tests) and stress-ng.",
          "- Workloads, each guest without a break: " + "; ".join(
              f"*{g}*: {WORKLOADS[g]}" for g in works) + ".",
          f"- Settings: {', '.join(f'`{s}`' for s in settings)} (scripts/guest/lib.sh `setting`: "
          "`off` = every feature off, `off2` the same again for the A/A noise, a strategy's name = "
          "the debooster on with it (the yields to an IPI's receiver with their own, "
          f"`vcpu_ipi_yield_strategy`'s default, `{setup.get('ipi_default', 'same')}`) and "
          "the KVM features at their defaults (IPI tracking on, the relaxed round off), "
          "`kvm-only` = the debooster off, `no-tracking` = "
          f"`{setup.get('default', '?')}` but IPI tracking, `no-hold` = "
          f"`{setup.get('default', '?')}` but the hold (`ipi_hold_ns` 0), `relaxed` = "
          f"`{setup.get('default', '?')}` and the relaxed round, `ipi-same` = "
          f"`{setup.get('default', '?')}` but the yields to an IPI's receiver under "
          "the default strategy too, `ipi-NAME` = the same under the strategy NAME).",
          f"- {len(rounds)} rounds; each applies every setting once, in an order rotated per round, "
          "each right after a window with everything off, through the run-time controls: "
          f"{setup.get('settle', '?')} s to settle (dropped), then {setup.get('win', '?')} s measured. "
          "A window's value is, for dbench, its operations per second between its progress reports "
          "inside the window; for the others, the work per second of their runs that began at least "
          "half the settle time after the switch and ended inside the window. "
          f"*× off* is the median over the rounds of a window's ratio to the mean of the `off` windows "
          "just before and after it (so that slow drifts cancel); the range is those ratios'. The "
          "*A/A noise* of a workload is the largest departure from 1 of `off2`'s ratios. A setting is "
          f"judged on a workload only with ratios from at least {MIN_ROUNDS} rounds.",
          "- Emulation: the outer machine is QEMU's TCG, so these guests run two levels deep at a small "
          "fraction of native speed; ratios side by side in one boot are meaningful, absolute rates "
          "are not comparable with the series' published numbers.\n",
          "### Throughput, × off (median over rounds, range)\n"]
    md += ratio_table(res, settings, works, noise)
    n = len(rounds)
    k, cover = median_ci_rank(n)
    nth = f"{k}{'th' if 10 <= k % 100 <= 20 else {1: 'st', 2: 'nd', 3: 'rd'}.get(k % 10, 'th')}"
    which = (f"the smallest to the largest of the {n} ratios" if k == 1 else
             f"the {nth} smallest to the {nth} largest of the {n} ratios")
    md += ["", "### Rounds above 1, the sign test, and the median's interval\n",
           "Each round's ratio compares one window with the `off` windows beside it. Here: how "
           "many rounds came out above 1, and the two-sided exact sign test's p, the chance of a "
           "split at least that uneven if the setting changed nothing (bold below 0.05; with "
           f"{n} rounds the smallest p is {fmt(sign_p(n, n), 2)}, {n} of {n}); then a confidence "
           f"interval of the median ratio from the same binomial: {which}, a "
           f"{fmt(cover * 100, 4)} % interval. The sign test tells a steady direction; the "
           "interval bounds the size the rounds allow. The goals below judge the median against "
           "the A/A noise, which is one round's largest departure and so grows with the rounds, "
           "and once more on this interval, the noise of the median itself (with few rounds "
           "the interval is the smallest to the largest ratio, at the coverage the binomial "
           "gives them).\n"]
    md += sign_table(res, settings, works)
    if probed:
        md += ["", "### Throughput for the machine's speed, × off (median over rounds, range)\n",
               "The same windows, each guest's throughput divided by the speed probe's (a fixed loop "
               "in the test kernel, started "
               f"{setup.get('probe_s', '?')} s after the last one ended, at nice 19; iterations per "
               "second of its own CPU time): "
               "what remains when the emulated machine runs faster or slower for everyone. `off` is "
               "at the run's median speed. This assumes that no setting changes the probe's own "
               "speed (it runs in the kernel whose scheduler the settings change): its own ratios "
               "to `off` follow the table, to be read against its A/A pair's.\n"]
        md += ratio_table(res, settings, works, adj_noise, "adj_")
        md += ["", "Rounds above 1, the sign test, and the median's interval, as above, for the "
               "machine's speed:\n"]
        md += sign_table(res, settings, works, "adj_")
        r = {s: res[s]["speed"] for s in settings}
        md += ["", "The speed probe's own speed, × off (median, range): " + ", ".join(
            f"`{s}` × {fmt(r[s]['ratio'])} ({fmt(r[s]['lo'])}–{fmt(r[s]['hi'])})"
            for s in settings if s != "off" and r[s]["ratio"] is not None) + "."]
    md += ["", "### CPU share of each guest (% of the CPUs; median, and points against `off`)\n",
           "| setting | " + " | ".join(guests) + " |", "|---|" + "---|" * len(guests)]
    for s in settings:
        md.append(f"| `{s}` | " + " | ".join(
            f"{fmt(res[s]['share_' + g]['med'])}"
            + ("" if s == "off" or res[s]['share_' + g]['delta'] is None
               else f" ({res[s]['share_' + g]['delta']:+.1f})")
            for g in guests) + " |")
    md += ["", "### Mechanism counters (per second of a window, median; all guests)\n",
           "KVM's `dy_*` counters count only while a KVM feature is on, the debooster's only while it "
           "is on: with everything off they read 0 whatever happens.\n",
           "| setting | " + " | ".join(d for _, d in COUNTERS) + " |", "|---|" + "---|" * len(COUNTERS)]
    for s in settings:
        md.append(f"| `{s}` | " + " | ".join(fmt(res[s][c]["med"]) for c, _ in COUNTERS) + " |")

    table, corr = noise_sources(guests, rows)
    md += ["", "### Where the noise comes from\n",
           "How much each guest's numbers change from one window to the next, whatever the settings "
           "(standard deviation of the log ratio of consecutive windows), and how the guests' work per "
           "CPU-second moves together (correlation over the windows). Steady CPU shares with a work per "
           "CPU-second that swings in every guest at once, the CPU-bound one included, point to the "
           "emulated machine's speed changing, not the scheduling: that part of the noise no setting "
           "causes, and the speed probe measures it.\n",
           "| guest | throughput | CPU share | work per CPU-second | throughput for the speed |",
           "|---|---|---|---|---|"]
    for g, t in table.items():
        md.append(f"| {g} | " + " | ".join(f"± {fmt(x * 100)} %" if x is not None else "–"
                                         for x in t) + " |")
    if corr:
        md += ["", "Correlation of the work per CPU-second"
               + (" (the speed probe's: its iterations)" if probed else "") + ": "
               + ", ".join(f"{a}–{b} {c:.2f}" for a, b, c in corr) + "."]

    # Goals, on the throughput as measured and, with the probe, for the
    # machine's speed.
    cand = [s for s in settings if s not in ("off", "off2")]
    nb = "share_cpu" if "cpu" in guests else None
    share = [(s, res[s][nb]["delta"]) for s in cand if nb and res[s][nb]["delta"] is not None]
    worst_share = max(share, key=lambda x: abs(x[1])) if share else None

    def verdict(ok):
        return "**met**" if ok else "**missed**"

    variants = [("", "as measured", noise)]
    if probed:
        variants.append(("adj_", "for the machine's speed", adj_noise))
    md += ["", "### Goals\n"]
    for prefix, label, nz in variants:
        noise_txt = ", ".join(f"{g} ± {fmt(nz[g] * 100)} %" for g in judged if nz[g] is not None)
        md.append(f"A/A noise of the throughput {label}: {noise_txt or 'not measured (no `off2`)'}.\n")
    md += ["| goal | throughput | measured | |", "|---|---|---|---|"]
    for prefix, label, nz in variants:
        best, gains, losses, complete = judge(res, cand, judged, nz, prefix)
        md += [f"| the best setting improves a workload by ≥ {GAIN * 100:.0f} % beyond the A/A noise | "
               f"{label} | "
               + (", ".join(f"`{s}` {g} × {fmt(r)}" for s, g, r in gains) if gains else
                  f"best: `{best[0]}` {best[1]} × {fmt(best[2])}" if best else "–")
               + f" | {verdict(bool(gains))} |",
               f"| no setting makes a workload worse by more than {LOSS * 100:.0f} % beyond the A/A noise | "
               f"{label} | "
               + (", ".join(f"`{s}` {g} × {fmt(r)}" for s, g, r in losses) if losses else
                  "none" if complete else "not every setting and workload measured")
               + f" | {verdict(not losses) if complete else '**not judged**'} |"]
    # The same goals read on the median's confidence interval: the noise of a
    # median over the rounds, where the largest A/A departure above is one
    # round's and grows with the number of rounds.
    def cell(xs):
        return ", ".join(f"`{s}` {g} {fmt(lo)}–{fmt(hi)}" for s, g, (lo, hi) in xs)

    for prefix, label, _ in variants:
        ivs = intervals(res, cand, judged, prefix)
        # "No loss" is met only when every setting and workload has an interval.
        whole = bool(ivs) and len(ivs) == len(cand) * len(judged)
        up = max(ivs, key=lambda x: x[2][0], default=None)
        gains = [x for x in ivs if x[2][0] >= 1 + GAIN]
        losses = [x for x in ivs if x[2][1] < 1 - LOSS]
        md += [f"| the best setting's median interval lies above 1 + {GAIN * 100:.0f} % | {label} | "
               + (cell(gains) if gains else f"highest lower end: {cell([up])}" if up else "–")
               + f" | {verdict(bool(gains)) if ivs else '**not judged**'} |",
               f"| no setting's median interval lies below 1 − {LOSS * 100:.0f} % | {label} | "
               + (cell(losses) if losses else "none" if whole else
                  "not every setting and workload measured")
               + f" | {verdict(not losses) if losses or whole else '**not judged**'} |"]
    md += [f"| the CPU-bound neighbour keeps its share within ±{SHARE_PTS:.0f} points of `off` | CPU share | "
           + (f"largest change: `{worst_share[0]}` {worst_share[1]:+.1f} points" if worst_share else "–")
           + f" | {verdict(worst_share is not None and abs(worst_share[1]) <= SHARE_PTS)} |",
           ""]
    md += reach(res, cand, judged, variants)
    md += control_section(setup, ctl, runs, progress)
    md += ["### The series' published numbers beside these\n",
           "The series was measured on hardware with 16-vCPU guests on 16 pCPUs: v2 reported Dbench "
           "+14.4 / +9.8 / +6.7 % with 2 / 3 / 4 VMs, v3 (against a kernel that already forfeits on "
           "yield) Dbench +6.65 / +4.80 / +7.59 %. Here the overcommit is deeper "
           f"({sum(int(guests[g]['vcpus']) for g in guests)} vCPUs on {setup.get('cpus', '?')} CPUs), "
           "the guests are small, and every exit is emulated, so only the direction and the size "
           "against the A/A noise compare.\n",
           "![throughput ratios of the Linux guests" + (", for the machine's speed" if probed else "")
           + "](guests.png)"]

    # The plot: for the machine's speed when the probe ran.
    prefix = "adj_" if probed else ""
    fig, ax = plt.subplots(figsize=(9, 4))
    width = 0.8 / max(len(works), 1)
    bars = (["off2"] if "off2" in res else []) + cand
    xs = range(len(bars))
    for i, g in enumerate(works):
        r = [res[s][prefix + g] for s in bars]
        med_ = [x["ratio"] if x["ratio"] is not None else float("nan") for x in r]
        lo = [m - x["lo"] if x["lo"] is not None else 0 for x, m in zip(r, med_)]
        hi = [x["hi"] - m if x["hi"] is not None else 0 for x, m in zip(r, med_)]
        ax.bar([x + i * width for x in xs], med_, width, yerr=[lo, hi], capsize=2, label=g)
    ax.axhline(1, color="black", linewidth=0.8)
    ax.set_xticks([x + width * (len(works) - 1) / 2 for x in xs])
    ax.set_xticklabels(["off2 (A/A)" if s == "off2" else s for s in bars], rotation=30, ha="right")
    ax.set_ylabel("throughput × off (median, range)")
    ax.set_title("Linux guests inside the test kernel, each setting against everything off"
                 + (",\nfor the machine's speed (the speed probe)" if probed else ""))
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(out / "guests.png", dpi=100)

    report_section.replace(out / "REPORT.md", "bench-guests", "\n".join(md))
    print(f"wrote the bench-guests section of {out / 'REPORT.md'} from {len(windows)} windows")


if __name__ == "__main__":
    main()
