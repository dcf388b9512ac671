"""The profiles of the TCG plugin tests/qemu/plugins/insn-window.c, and the
kernel's symbols to name their addresses (cost-profile.py,
strategy-profile.py, dy-cost.py)."""
import bisect
import re
import subprocess
import sys
from collections import defaultdict
from statistics import mean

from benchlog import parse  # beside this script

# How far a window's instruction count may be from its run's ns: the
# blocks at its two edges, some tens of instructions. An instruction
# counted twice on a path that runs once per hand-off (as QEMU's plugins did
# before tests/qemu/0008) adds tens of thousands.
WINDOW_EDGES = 1000


class Symbols:
    """A vmlinux's text symbols, to name the function of an address; with
    DEMANGLE, Rust's symbols as paths (`crate::module::function`, without
    the crate's hash), through binutils' c++filt."""

    def __init__(self, vmlinux, demangle=False):
        out = subprocess.run(["nm", "-n", vmlinux], capture_output=True, text=True,
                             check=True).stdout
        self.addrs, self.names = [], []
        for line in out.splitlines():
            parts = line.split()
            if len(parts) == 3 and parts[1] in "tTwW":
                self.addrs.append(int(parts[0], 16))
                self.names.append(parts[2])
        if demangle:
            rust = [i for i, n in enumerate(self.names) if n.startswith("_R")]
            out = subprocess.run(["c++filt"], input="\n".join(self.names[i] for i in rust),
                                 capture_output=True, text=True, check=True).stdout.splitlines()
            if len(out) != len(rust):
                raise RuntimeError("c++filt: not one name per symbol")
            for i, name in zip(rust, out):
                self.names[i] = re.sub(r"\[[0-9a-f]+\]", "", name)
        # Every symbol's start (local names can repeat).
        self.starts = set(self.addrs)

    def name(self, addr):
        i = bisect.bisect_right(self.addrs, addr) - 1
        return self.names[i] if i >= 0 else "?"


def read(profile):
    """The windows of PROFILE: window -> vcpu -> instructions executed, and
    (window, vcpu) -> address -> times executed."""
    windows = defaultdict(dict)
    counts = defaultdict(dict)
    with open(profile) as f:
        for line in f:
            p = line.split()
            if p[0] == "W":
                windows[int(p[1])][int(p[2])] = int(p[3])
            elif p[0] == "I":
                counts[(int(p[1]), int(p[2]))][int(p[3], 16)] = int(p[4])
    return windows, counts


def functions(syms, counts):
    """Per function of one window's ADDRESS -> COUNT map: [instructions,
    calls], a call being an execution of its first instruction."""
    fn = defaultdict(lambda: [0, 0])
    for addr, c in counts.items():
        name = syms.name(addr)
        fn[name][0] += c
        if addr in syms.starts:
            fn[name][1] += c
    return fn


def per_handoff(runs, name, i):
    """Mean over RUNS (of load_runs()) of function NAME's instructions
    (I=0) or calls (I=1) per hand-off."""
    return mean(r["fn"].get(name, [0, 0])[i] / r["ho"] for r in runs)


def load_runs(syms, log, profile):
    """The ping-pong runs of make cost-profile's part (LOG's kind=profile
    VB-BENCH lines, one window of PROFILE each, in order): per run its
    placement, setting, repetition, hand-offs, yields, instructions per
    hand-off on all CPUs and on the ping-pong's (the vCPU that ran the
    most), and that CPU's instructions and calls per function."""
    runs = [r for r in parse([log])[1] if r.get("kind") == "profile"]
    windows, counts = read(profile)
    if len(windows) != len(runs):
        sys.exit(f"{profile} has {len(windows)} windows, {log} {len(runs)} runs")
    out = []
    for w, run in enumerate(runs):
        vcpu = max(windows[w], key=windows[w].get)
        fn = functions(syms, counts[(w, vcpu)])
        # Under -icount shift=0 the run's own clock is an instruction count:
        # the window must hold the same instructions, or it is not the run.
        total = sum(windows[w].values())
        if abs(total - int(run["ns"])) > WINDOW_EDGES:
            sys.exit(f"window {w} of {profile} holds {total} instructions, "
                     f"its run {run['ns']} ns: the window is not the run, "
                     "or the plugin counts instructions that did not run")
        out.append({"place": run["cfg_place"], "setting": run.get("cfg_setting", ""),
                    "rep": int(run["rep"]), "ho": int(run["handoffs"]),
                    "yields": int(run["yields"]), "all": total, "cpu": windows[w][vcpu],
                    "fn": dict(fn)})
    return out
