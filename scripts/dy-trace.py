#!/usr/bin/env python3
"""make dy-trace's section of bench/REPORT.md: where the time of an IPI
round trip goes in make bench's kvm part, from three traced boots
(scripts/dy-trace.sh): two on a single TCG thread under instruction
counting, with each CPU's turn as long as the next timer deadline allows
and capped at TURN instructions (tests/qemu/0006) as that part runs, and
one with a TCG thread per CPU.

Usage: dy-trace.py QEMU HZ TURN LONG_TURNS_LOG CAPPED_TURNS_LOG MULTI_THREAD_LOG
QEMU says which emulator ran them, HZ is the test kernel's CONFIG_HZ.
Writes the section (Markdown) to standard output.

Each run of a log (a VB-TRACE-BEGIN line, its events, VB-TRACE-END) is
vcpu_boost_spin_test traced in the test kernel: vCPU 0 sends vCPU 1 an
IPI and spins until it is answered, the other vCPUs spin all the time. A
round trip runs from one of vCPU 0's IPIs (kvm_apic_ipi) to its next; on
the way a halting receiver's thread is woken (sched_wakeup) and switched
in (sched_switch), the receiver EOIs the IPI (kvm_eoi), and the sender's
thread runs again. Under instruction counting a
microsecond of the trace clock is a thousand instructions executed; on
a thread per CPU it is the test kernel's clock, which follows the host's.
"""
import re
import sys
from statistics import median

EVENT = re.compile(r"^VB-TRACE\s+.*?-(\d+)\s+\[(\d+)\]\s+\S+\s+([\d.]+): (\w+): (.*)$")
# The test's IPI and the vCPU that receives it (vcpu_boost_spin_test.c).
VECTOR = 167
RECEIVER = 1
# The boots, in the order of the command line, and the runs each must have.
BOOTS = ("long", "capped", "multi")
LAYOUTS = ("spread", "paired", "crowded", "crowded-busy")
RUNS = [(layout, t) for layout in LAYOUTS for t in ("Y", "N")]


class Run:
    """One traced run: its settings and its events (time in microseconds,
    pid, CPU, event, arguments)."""

    def __init__(self, head):
        self.cfg = dict(re.findall(r"(\w+)=(\S+)", head))
        self.events = []


def parse(path):
    """The runs of the log at PATH, by (layout, tracking); exits on a
    failure the boot reported or on a missing run."""
    runs, run = {}, None
    with open(path, errors="replace") as f:
        for line in f:
            line = line.rstrip("\r\n")
            if line.startswith("VB-RESULT FAIL"):
                sys.exit(f"dy-trace: the boot reported a failure: {line}")
            if line.startswith("VB-TRACE-BEGIN "):
                run = Run(line[len("VB-TRACE-BEGIN "):])
            elif line.startswith("VB-TRACE-END"):
                if run:
                    runs[(run.cfg.get("layout"), run.cfg.get("tracking"))] = run
                run = None
            elif run is not None:
                m = EVENT.match(line)
                if m:
                    run.events.append((float(m[3]) * 1e6, int(m[1]), int(m[2]), m[4], m[5]))
    missing = [f"{layout}, tracking {t}" for layout, t in RUNS if (layout, t) not in runs]
    if missing:
        sys.exit(f"dy-trace: no traced run {'; '.join(missing)} in {path}")
    return runs


def next_pid(args):
    m = re.search(r"next_pid=(\d+)", args)
    return int(m[1]) if m else None


def sender_ipis(run):
    """The sender's and the receiver's pids, and the indices of the
    sender's IPIs (kvm_apic_ipi prints the destination in hex)."""
    ev = run.events
    ipi = f"dst {RECEIVER:x} vec {VECTOR} "
    sender = next((pid for _, pid, _, name, a in ev if name == "kvm_apic_ipi" and ipi in a), None)
    receiver = next((pid for _, pid, _, name, a in ev
                     if name == "kvm_eoi" and f"apicid {RECEIVER:x} vector {VECTOR}" in a), None)
    if sender is None or receiver is None:
        sys.exit(f"dy-trace: no IPI of the test's sender or EOI of its receiver in run {run.cfg}")
    ipis = [i for i, e in enumerate(ev) if e[1] == sender and e[3] == "kvm_apic_ipi" and ipi in e[4]]
    if len(ipis) < 2:
        sys.exit(f"dy-trace: fewer than two IPIs in run {run.cfg}")
    return sender, receiver, ipis


def round_trips(run, ids):
    """Per round trip: its length, the sender's spin exits in it, when the
    receiver EOI'd the IPI and when the sender ran again after that (0 if
    it was running); when the receiver was woken in it, also the wakeup's
    time, how long it waited to run, and the directed yields to it in
    between from the CPU it was woken on and from the other. IDS: what
    sender_ipis() found in RUN."""
    ev = run.events
    sender, receiver, ipis = ids
    # Whether the sender is on a CPU, from its switches before each event.
    on, sender_on = False, []
    for _, _, _, name, args in ev:
        sender_on.append(on)
        if name == "sched_switch":
            if next_pid(args) == sender:
                on = True
            elif re.search(rf"prev_pid={sender}\b", args):
                on = False
    out = []
    for a, b in zip(ipis, ipis[1:]):
        t0 = ev[a][0]
        r = {"rt": ev[b][0] - t0, "spins": 0, "woken": False, "eoi": None, "back": None}
        wake = run_at = cpu = None
        same = other = 0
        for i in range(a + 1, b):
            t, pid, c, name, args = ev[i]
            if name == "kvm_dy_select" and pid == sender:
                r["spins"] += 1
            if (name == "kvm_eoi" and r["eoi"] is None and pid == receiver
                    and f"vector {VECTOR}" in args):
                r["eoi"] = t - t0
                if sender_on[i]:
                    r["back"] = 0.0
            elif (name == "sched_switch" and r["eoi"] is not None and r["back"] is None
                  and next_pid(args) == sender):
                r["back"] = t - t0 - r["eoi"]
            elif name == "sched_wakeup" and wake is None and f"pid={receiver} " in args:
                m = re.search(r"target_cpu=(\d+)", args)
                wake, cpu = t, int(m[1]) if m else None
            elif name == "sched_switch" and wake is not None and run_at is None \
                    and next_pid(args) == receiver:
                run_at = t
            elif (name == "kvm_dy_select" and wake is not None and run_at is None
                  and args.split()[3:4] == [str(RECEIVER)]):
                if c == cpu:
                    same += 1
                else:
                    other += 1
        if wake is not None and run_at is not None:
            r.update(woken=True, wake=wake - t0, wait=run_at - wake, same=same, other=other)
        out.append(r)
    return out


def waits(run, ids):
    """Per round trip: how long it waited for a CPU on its critical path:
    the receiver runnable but not on a CPU before its EOI, and the sender
    after it, while another task (not the idle one) ran on the CPU each was
    queued on: what scheduling (whether and whom a spinner yields to, and
    what the yield gives) could take out of a round trip. IDS: what sender_ipis()
    found in RUN. A task's CPU is where it was switched out or woken to (the
    vCPU threads are bound); before the trace shows a CPU's task, that CPU
    counts as running nobody."""
    ev = run.events
    sender, receiver, ipis = ids
    curr, queued = {}, {sender: None, receiver: None}
    out, k, acc, eoi = [], 0, 0.0, False
    for i in range(ipis[0], ipis[-1]):
        t, pid, cpu, name, args = ev[i]
        if name == "sched_switch":
            prev = re.search(r"prev_pid=(\d+) .*prev_state=(\S+)", args)
            nxt = next_pid(args)
            if prev and int(prev[1]) in queued:
                queued[int(prev[1])] = cpu if prev[2].startswith("R") else None
            if nxt in queued:
                queued[nxt] = None
            curr[cpu] = nxt
        elif name == "sched_wakeup":
            m = re.search(r"pid=(\d+) .*target_cpu=(\d+)", args)
            if m and int(m[1]) in queued and int(m[1]) not in curr.values():
                queued[int(m[1])] = int(m[2])
        elif name == "kvm_eoi" and pid == receiver and f"vector {VECTOR}" in args:
            eoi = True
        c = queued[sender] if eoi else queued[receiver]
        if c is not None and curr.get(c) not in (None, 0):
            acc += ev[i + 1][0] - t
        if i + 1 == ipis[k + 1]:
            out.append(acc)
            k, acc, eoi = k + 1, 0.0, False
    return out


def without(rts, stolen):
    """The rate of round trips with the waits in STOLEN (waits()) taken
    out, against the measured one."""
    total = sum(r["rt"] for r in rts)
    rest = total - sum(stolen)
    return total / rest if rest > 0 else float("inf")


def stretches(run, ipis):
    """Between the sender's first and last IPI: the lengths of the
    stretches in which the trace shows one CPU only, and the larger of
    the two CPUs' median gaps between two of their events."""
    ev = run.events[ipis[0]:ipis[-1] + 1]
    out, start = [], ev[0]
    for e in ev[1:]:
        if e[2] != start[2]:
            out.append(e[0] - start[0])
            start = e
    gaps, last = {}, {}
    for t, _, cpu, _, _ in ev:
        if cpu in last:
            gaps.setdefault(cpu, []).append(t - last[cpu])
        last[cpu] = t
    return out, max((median(g) for g in gaps.values()), default=float("nan"))


def med(values, fmt="{:,.0f}"):
    values = [v for v in values if v is not None]
    return fmt.format(median(values)) if values else "–"


def times(n):
    return {"1": "once", "2": "twice"}.get(n, f"{n} times")


def main():
    if len(sys.argv) != 7:
        sys.exit(__doc__.split("\n\n")[1])
    qemu, hz, turn = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    logs = dict(zip(BOOTS, sys.argv[4:7]))
    label = {"long": "one, turns to the deadline", "capped": f"one, turns ≤ {turn:,}",
             "multi": "one per CPU"}
    rows, facts = [], {}
    for boot, path in logs.items():
        runs = parse(path)
        for layout, tracking in RUNS:
            run = runs[(layout, tracking)]
            ids = sender_ipis(run)
            rts = round_trips(run, ids)
            woken = [r for r in rts if r["woken"]]
            st, gap = stretches(run, ids[2])
            stolen = waits(run, ids)
            # The targets of the sender's directed yields ("vcpu N target T
            # tier X"; -1: none), and how many were the receiver.
            targets = [a.split()[3:4] for _, pid, _, name, a in run.events
                       if name == "kvm_dy_select" and pid == ids[0]]
            chose = [t == [str(RECEIVER)] for t in targets if t and t != ["-1"]]
            f = {"rt": med([r["rt"] for r in rts]), "spins": med([r["spins"] for r in rts]),
                 "eoi": med([r["eoi"] for r in rts]), "back": med([r["back"] for r in rts]),
                 "woken": len(woken), "wait": med([r["wait"] for r in woken]),
                 "other": med([r["other"] for r in woken]),
                 "stretch": med(st), "gap": f"{gap:,.1f}",
                 "chose": f"{sum(chose):,} of {len(chose):,}",
                 "stolen": med(stolen), "without": f"× {without(rts, stolen):.3g}"}
            facts[(boot, layout, tracking)] = f
            rows.append(f"| {label[boot]} | {layout} | {tracking} | {f['rt']} "
                        f"| {f['spins']} | {f['chose']} "
                        f"| {f['eoi']} | {len(woken)} of {len(rts)} "
                        f"| {f['wait']} | {f['other']} | {f['back']} "
                        f"| {f['stolen']} | {f['without']} "
                        f"| {f['stretch']} | {f['gap']} |")
    p = ["## Where an IPI round trip's time goes (make dy-trace)\n",
         "`make dy-trace` boots the test kernel three times: twice under instruction counting "
         f"(QEMU {qemu}, `-icount shift=0`, which runs both emulated CPUs on one TCG "
         "thread, in turns), once with each CPU's turn as long as the next timer deadline "
         f"allows and once with turns of at most {turn:,} instructions (`tests/qemu/0006`, "
         "`VB_ICOUNT_TURN`), as the kvm part of `make bench` runs; and once with one TCG "
         "thread per CPU (QEMU's default, not counted). "
         "Each boot runs the part's *IPI wait* (`vcpu_boost_spin_test`, vCPU threads bound "
         "as there, PAUSE exits forced) traced, tracking on and off, in four layouts: "
         "`spread` (4 vCPUs, the receiver halting on the other CPU, as in *IPI wait*), "
         "`paired` (the same on the sender's CPU), `crowded` (6 vCPUs, the receiver "
         "halting on the sender's CPU beside a spinner, as in *IPI wait, the sender's CPU "
         "crowded*) and `crowded-busy` (the same with `-b`, the receiver computing, as in "
         "*IPI wait, the sender's CPU crowded, the receiver busy*). The trace holds the scheduler's "
         "switches and wakeups, KVM's IPIs, EOIs and directed-yield choices. Each row "
         "follows the round trips of one run, each from one of vCPU 0's IPIs to its next; "
         "the values are medians per round trip, times in microseconds of the test "
         "kernel's clock (counted, a thousand instructions each; tracing itself adds "
         "some). *Sender's spin exits*: vCPU 0's PAUSE exits (directed-yield decisions); "
         "*to the receiver*: of those in the whole run that chose a vCPU to yield to, the "
         "ones that chose vCPU 1. "
         "*Woken*: round trips in which the receiver's thread was woken and ran (a halting "
         "receiver that had gone to sleep), which the next two columns count: how long it "
         "waited to run after its wakeup, and how many directed yields chose it meanwhile "
         "from the other CPU (such a yield only asks that CPU to run it next). *EOI → "
         "sender runs*: from the receiver's EOI until the sender's thread is on a CPU again "
         "(0 if it still was). *Waits*: on the round trip's critical path, how long the "
         "receiver (before its EOI) or the sender (after it) was runnable but not on a CPU "
         "while another task (not the idle task) ran on the CPU it was queued on: the time "
         "that scheduling, whom a spinner yields to and whether it yields, could give back; "
         "*without them*, the run's round trips with that time taken out (its total "
         "round-trip time over the total less the waits), a rough measure of what is left "
         "to gain (a spin exit and a switch cost instructions of their own, and tracing "
         "adds more). *One-CPU stretch*: between the first and the last IPI, a "
         "stretch of the trace with events from one test-kernel CPU only, to read against "
         "the *gap* between two events of one CPU (the larger of the two CPUs' medians): "
         "while both CPUs run, their events interleave, and a stretch many gaps long is "
         "time in which the other CPU did not run.\n",
         "| TCG threads | layout | tracking | round trip | sender's spin exits "
         "| to the receiver | IPI → EOI | woken | woken → receiver runs "
         "| yields to the woken receiver from the other CPU | EOI → sender runs "
         "| waits | × without them | one-CPU stretch | gap |",
         "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|",
         *rows, ""]
    lo, lp, c, m = (facts[("long", "spread", "N")], facts[("long", "paired", "N")],
                    facts[("capped", "spread", "N")], facts[("multi", "spread", "N")])
    lb, cb, mb = (facts[("long", "crowded-busy", "N")], facts[("capped", "crowded-busy", "N")],
                  facts[("multi", "crowded-busy", "N")])
    cby = facts[("capped", "crowded-busy", "Y")]
    p.append(f"**Reading.** With turns as long as the next deadline allows (tracking off), the "
             f"two CPUs take turns of a median {lo['stretch']} µs with events from one CPU "
             f"only, against {lo['gap']} µs between two events of one CPU: QEMU runs the "
             "emulated CPUs on one thread (`accel/tcg/tcg-accel-ops-rr.c`), each until it "
             "halts or has executed its share of the instructions left before the next timer "
             "deadline (the equal share is `tests/qemu/0004`), so the receiver's CPU does "
             "not run while the sender's does. A receiver woken on the other CPU runs "
             f"{lo['wait']} µs after its wakeup, while the vCPUs on the sender's CPU yield to "
             f"it {times(lo['other'])} across CPUs to no effect; a round trip takes "
             f"{lo['rt']} µs against {lp['rt']} µs with both on one CPU. Even on one CPU, a "
             f"receiver that computes EOIs {lb['eoi']} µs after the IPI, but the sender, "
             f"having yielded its CPU to it, runs again only {lb['back']} µs later, and a "
             f"round trip takes {lb['rt']} µs, a scheduler tick ({1_000_000 // hz:,} µs at "
             f"the test kernel's HZ={hz}). Measured that way, the kvm part's spread "
             "scenarios counted the emulator's turns and its crowded busy one ticks, "
             "whatever the kernel chose.\n")
    p.append(f"With turns of at most {turn:,} instructions, as the kvm part runs now, the "
             f"CPUs interleave (a stretch of {c['stretch']} µs against a gap of {c['gap']} "
             f"µs), the receiver on the other CPU runs {c['wait']} µs after its wakeup, a "
             f"round trip takes {c['rt']} µs, and the sender exits {times(c['spins'])} on "
             f"PAUSE per round trip; the computing receiver's sender runs again {cb['back']} µs "
             f"after the EOI. There the sender's yields go to the receiver {cby['chose']} "
             f"times with tracking on and {cb['chose']} with it off, the rest to other "
             "vCPUs. That is what a thread per CPU shows too, where the test "
             "kernel's clock follows the host's and a microsecond holds far fewer "
             f"instructions: a stretch of {m['stretch']} µs against a gap of {m['gap']} µs, "
             f"the receiver running {m['wait']} µs after its wakeup, {times(m['spins'])} "
             f"per round trip, and the sender back {mb['back']} µs after the busy "
             "receiver's EOI.\n")
    cy, cn = facts[("capped", "spread", "Y")], facts[("capped", "spread", "N")]
    p.append(f"The hold (tracking on: a spinner keeps its CPU while the receiver of its fresh "
             f"IPI runs), in the spread layout with turns of at most {turn:,} instructions: "
             f"a round trip of {cy['rt']} µs against {cn['rt']} µs with tracking off, the "
             f"waits for a CPU on its critical path {cy['stolen']} µs against {cn['stolen']} µs, the "
             f"sender back {cy['back']} µs after the EOI against {cn['back']} µs.\n")
    print("\n".join(p))


if __name__ == "__main__":
    main()
