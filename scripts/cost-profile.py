#!/usr/bin/env python3
"""make cost-profile's section of bench/REPORT.md, from one boot of each
kernel under the TCG plugin tests/qemu/plugins/insn-window.c: where the
instructions of a ping-pong hand-off go, function by function, with
everything off against 7.3.4 without the series.

Usage: cost-profile.py UNPATCHED_VMLINUX UNPATCHED_LOG UNPATCHED_PROFILE
                       PATCHED_VMLINUX PATCHED_LOG PATCHED_PROFILE SUMMARY
Writes the section (Markdown) to standard output, and to SUMMARY (JSON)
the verdict on goal (d) that scripts/bench-report.py puts in its table.

Each profile holds one window per ping-pong run, in the order of the log's
VB-BENCH lines: how many times every instruction executed, per vCPU. A
function's calls are the executions of its first instruction.
"""
import json
import math
import sys

from insnwindow import Symbols, load_runs, per_handoff as per_ho  # beside this script

# The functions of one yield_to() that the series touches or adds.
BOOST = "yield_task_fair_boost"
YIELD_PATH = ["yield_to", "yield_to_task_fair", "yield_task_fair", "set_next_buddy", BOOST]
# Called on every forfeit of a yield (through update_deadline()).
FORFEIT = "avg_vruntime"
nan = float("nan")
TOP = 8
# What the series may add to one hand-off (one yield_to()) with everything
# off, in instructions: the patched-out jump of its static key.
CODE_LIMIT = 1.0


def fmt(x, nd=2):
    return f"{x:,.{nd}f}"


def main():
    if len(sys.argv) != 8:
        sys.exit(__doc__)
    un = load_runs(Symbols(sys.argv[1]), *sys.argv[2:4])
    pa = load_runs(Symbols(sys.argv[4]), *sys.argv[5:7])
    md = ["## Where the instructions of a hand-off go (make cost-profile)\n",
          "The kernels of the cost part (jump labels), each booted once under "
          "instruction counting with `nokaslr` and the TCG plugin "
          "`tests/qemu/plugins/insn-window.c`, which counts how many times every "
          "instruction executes during each ping-pong run (two kthreads on one CPU, no "
          "hogs, everything off on this kernel). A function's *calls* are the executions "
          "of its first instruction. The kernels differ from run to run by how often a "
          "yielder is still eligible and forfeits (each forfeit calls `avg_vruntime()` and "
          "reorders the tree) and how often a pick takes the yielder again; a fit over the "
          "runs takes that out.\n",
          "### The runs\n",
          "| kernel | placement | run | hand-offs | yields per hand-off "
          "| instructions per hand-off (all CPUs) | of which the ping-pong's CPU |",
          "|---|---|---|---|---|---|---|"]
    for kernel, runs in (("7.3.4 without the series", un), ("series, everything off", pa)):
        for r in runs:
            md.append(f"| {kernel} | {r['place']} | {r['rep']} | {r['ho']:,} "
                      f"| {fmt(r['yields'] / r['ho'], 4)} | {fmt(r['all'] / r['ho'])} "
                      f"| {fmt(r['cpu'] / r['ho'])} |")
    md.append("")
    verdicts = {}
    for place in ("flat", "nested"):
        u = [r for r in un if r["place"] == place]
        p = [r for r in pa if r["place"] == place]
        if not u or not p:
            continue

        md += [f"### {place.capitalize()}: the functions of `yield_to()`\n",
               "Per call, a function's count also depends on the path its calls take "
               "(`yield_task_fair()` runs about a dozen more when the yielder forfeits).\n",
               "| function | calls per hand-off (unpatched / off) | instructions per call "
               "(unpatched / off) |",
               "|---|---|---|"]
        for name in YIELD_PATH:
            cu, cp = per_ho(u, name, 1), per_ho(p, name, 1)
            if not (cu or cp):
                if name == BOOST:
                    md.append(f"| `{name}` (the series') | 0 / 0 | – |")
                continue
            iu, ip = per_ho(u, name, 0), per_ho(p, name, 0)
            md.append(f"| `{name}` | {fmt(cu, 3)} / {fmt(cp, 3)} "
                      f"| {fmt(iu / cu) if cu else '–'} / {fmt(ip / cp) if cp else '–'} |")
        names = set().union(*(r["fn"] for r in u + p))
        diffs = sorted(((per_ho(p, n, 0) - per_ho(u, n, 0), n) for n in names),
                       key=lambda d: (-abs(d[0]), d[1]))
        md += ["", "The functions whose instructions per hand-off differ the most (means "
               "over the runs, the series with everything off less the kernel without it):\n",
               "| function | instructions per hand-off | calls per hand-off (unpatched / off) |",
               "|---|---|---|"]
        for d, name in diffs[:TOP]:
            md.append(f"| `{name}` | {fmt(d)} | {fmt(per_ho(u, name, 1), 3)} / "
                      f"{fmt(per_ho(p, name, 1), 3)} |")
        fit = regress(u, p)
        cu_runs = [r["cpu"] / r["ho"] for r in u]
        cp_runs = [r["cpu"] / r["ho"] for r in p]
        def ipc(runs, name):
            calls = per_ho(runs, name, 1)
            return per_ho(runs, name, 0) / calls if calls else nan

        verdicts[place] = {"code": fit["series"], "se": fit["se"],
                           "per_call": {n: (ipc(u, n), ipc(p, n))
                                        for n in ("yield_to_task_fair", "yield_task_fair")},
                           "boost_calls": sum(r["fn"].get(BOOST, [0, 0])[1] for r in p),
                           "un": (min(cu_runs), max(cu_runs)),
                           "off": (min(cp_runs), max(cp_runs))}
        md += ["",
               f"From one run to the next the ping-pong's CPU ran {fmt(min(cu_runs))} to "
               f"{fmt(max(cu_runs))} instructions per hand-off on the kernel without the "
               f"series and {fmt(min(cp_runs))} to {fmt(max(cp_runs))} on the series, and "
               f"the scheduler's state explains that: a least-squares fit over the "
               f"{fit['n']} runs of both kernels, instructions per hand-off = "
               f"{fmt(fit['base'])} + {fmt(fit['extra'], 0)} × extra yields per hand-off "
               f"(yields that end with the yielder picked again) + {fmt(fit['forfeit'], 1)} "
               f"× `avg_vruntime()` calls per hand-off (a forfeit makes one) + "
               f"**{fmt(fit['series'])} ± {fmt(fit['se'])}** for the series, leaves "
               f"{fmt(fit['resid'])} instructions (standard deviation) unexplained.\n"]
    known = bool(verdicts) and all(math.isfinite(v["code"]) and math.isfinite(v["se"])
                                   for v in verdicts.values())
    met = known and all(v["code"] + 2 * v["se"] <= CODE_LIMIT for v in verdicts.values())
    cell = "; ".join(f"{p}: {fmt(v['code'])} ± {fmt(v['se'])} per hand-off"
                     for p, v in verdicts.items())
    per_call = "; ".join(
        f"{p}: " + ", ".join(f"`{n}()` {fmt(a)} / {fmt(b)}" for n, (a, b) in v["per_call"].items())
        for p, v in verdicts.items())
    boost = sum(v["boost_calls"] for v in verdicts.values())
    md += ["### Goal (d), everything off against 7.3.4\n",
           f"What the series adds to a hand-off, one `yield_to()`, once the scheduler's "
           f"state is taken out (the fits above): {cell}. "
           + ("Met" if met else "Missed" if known else "Not known (the fit failed)")
           + f": the limit is {fmt(CODE_LIMIT, 0)} instruction, the patched-out jump of the "
           "static key, and the estimate plus two standard errors must stay within it. "
           f"Instructions per call, without the series / with it: {per_call}; "
           f"`{BOOST}()` ran {boost} times. The series' term differs between the "
           "placements because the path mix does: `yield_task_fair()`'s forfeit path "
           "is shorter than mainline's by more than its other path, and nested yields "
           "forfeit far more often.\n"]
    print("\n".join(md))
    with open(sys.argv[7], "w") as f:
        json.dump({"met": met, "known": known, "cell": cell, "places": verdicts,
                   "kernels": sys.argv[1:7:3]}, f)


def solve(a, b):
    """x with a x = b (Gauss-Jordan), and a's inverse."""
    n = len(a)
    m = [row[:] + [b[i]] + [1.0 if j == i else 0.0 for j in range(n)] for i, row in enumerate(a)]
    for c in range(n):
        piv = max(range(c, n), key=lambda r: abs(m[r][c]))
        if abs(m[piv][c]) < 1e-12:
            return None, None
        m[c], m[piv] = m[piv], m[c]
        for r in range(n):
            if r != c:
                f = m[r][c] / m[c][c]
                m[r] = [x - f * y for x, y in zip(m[r], m[c])]
    x = [m[i][n] / m[i][i] for i in range(n)]
    inv = [[m[i][n + 1 + j] / m[i][i] for j in range(n)] for i in range(n)]
    return x, inv


def regress(u, p):
    """Least squares of the ping-pong CPU's instructions per hand-off on extra
    yields, avg_vruntime() calls (both per hand-off) and the series; a state
    count that never varies is left out (its slope reads 0)."""
    rows = []
    for runs, series in ((u, 0.0), (p, 1.0)):
        for r in runs:
            calls = r["fn"].get(FORFEIT, [0, 0])[1]
            rows.append(([1.0, r["yields"] / r["ho"] - 1, calls / r["ho"], series],
                         r["cpu"] / r["ho"]))
    cols = [c for c in range(4)
            if c in (0, 3) or max(x[c] for x, _ in rows) - min(x[c] for x, _ in rows) > 1e-9]
    n, k = len(rows), len(cols)
    xtx = [[sum(x[i] * x[j] for x, _ in rows) for j in cols] for i in cols]
    xty = [sum(x[i] * y for x, y in rows) for i in cols]
    beta, inv = solve(xtx, xty)
    if beta is None or n <= k:
        return {"n": n, "base": nan, "extra": nan, "forfeit": nan, "series": nan,
                "se": nan, "resid": nan}
    rss = sum((y - sum(b * x[c] for b, c in zip(beta, cols))) ** 2 for x, y in rows)
    s2 = rss / (n - k)
    coef = dict(zip(cols, beta))
    return {"n": n, "base": coef[0], "extra": coef.get(1, 0.0), "forfeit": coef.get(2, 0.0),
            "series": coef[3], "se": math.sqrt(s2 * inv[k - 1][k - 1]), "resid": math.sqrt(s2)}


if __name__ == "__main__":
    main()
