#!/usr/bin/env python3
"""make dy-trace's section of bench/REPORT.md: where the time of an IPI
round trip goes in make bench's kvm part, from two traced boots
(scripts/dy-trace.sh): one on a single TCG thread under instruction
counting, as that part runs, and one with a TCG thread per CPU.

Usage: dy-trace.py QEMU_VERSION SINGLE_THREAD_LOG MULTI_THREAD_LOG
Writes the section (Markdown) to standard output.

Each run of the log (a VB-TRACE-BEGIN line, its events, VB-TRACE-END) is
vcpu_boost_spin_test traced in the test kernel: vCPU 0 sends vCPU 1 an
IPI and spins until it is answered, vCPUs 2 and 3 spin all the time. A
round trip runs from one of vCPU 0's IPIs (kvm_apic_ipi) to its next; on
the way the receiver's thread is woken (sched_wakeup), switched in
(sched_switch) and EOIs the IPI (kvm_eoi). Under instruction counting a
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


class Run:
    """One traced run: its settings, the test's summary and its events
    (time in microseconds, pid, CPU, event, arguments)."""

    def __init__(self, head):
        self.cfg = dict(re.findall(r"(\w+)=(\S+)", head))
        self.events = []


def parse(path):
    runs, run = [], None
    with open(path, errors="replace") as f:
        for line in f:
            line = line.rstrip("\r\n")
            if line.startswith("VB-RESULT FAIL"):
                sys.exit(f"dy-trace: the boot reported a failure: {line}")
            if line.startswith("VB-TRACE-BEGIN "):
                run = Run(line[len("VB-TRACE-BEGIN "):])
            elif line.startswith("VB-TRACE-END"):
                if run:
                    runs.append(run)
                run = None
            elif run is not None:
                m = EVENT.match(line)
                if m:
                    run.events.append((float(m[3]) * 1e6, int(m[1]), int(m[2]), m[4], m[5]))
    if not runs:
        sys.exit(f"dy-trace: no traced run in {path}")
    return runs


def next_pid(args):
    m = re.search(r"next_pid=(\d+)", args)
    return int(m[1]) if m else None


def round_trips(run):
    """Per round trip: its length, the receiver's wakeup, switch-in and EOI
    after the IPI (None when not seen), the directed yields to the receiver
    between its wakeup and its switch-in (same CPU, other CPU), and the
    CPU the receiver ran on."""
    ev = run.events
    sender = next((pid for _, pid, _, name, a in ev
                   if name == "kvm_apic_ipi" and f"dst {RECEIVER} vec {VECTOR} " in a), None)
    receiver = next((pid for _, pid, _, name, a in ev
                     if name == "kvm_eoi" and f"apicid {RECEIVER} vector {VECTOR}" in a), None)
    if sender is None or receiver is None:
        sys.exit(f"dy-trace: no IPI of the test's sender or receiver in run {run.cfg}")
    ipis = [i for i, e in enumerate(ev) if e[1] == sender and e[3] == "kvm_apic_ipi"]
    out = []
    for a, b in zip(ipis, ipis[1:]):
        t0 = ev[a][0]
        wake = run_at = eoi = None
        cpu = None
        same = other = spins = 0
        for t, pid, c, name, args in ev[a + 1:b]:
            if name == "kvm_dy_select" and pid == sender:
                spins += 1
            if name == "sched_wakeup" and f"pid={receiver} " in args and wake is None:
                wake = t
            elif name == "sched_switch" and next_pid(args) == receiver and run_at is None:
                run_at, cpu = t, c
            elif name == "kvm_eoi" and pid == receiver and eoi is None:
                eoi = t
            elif (name == "kvm_dy_select" and wake is not None and run_at is None
                  and args.split()[3:4] == [str(RECEIVER)]):
                if c == rq_cpu(ev, receiver, a):
                    same += 1
                else:
                    other += 1
        out.append({
            "rt": ev[b][0] - t0,
            "wake": None if wake is None else wake - t0,
            "wait": None if wake is None or run_at is None else run_at - wake,
            "eoi_next": None if eoi is None else ev[b][0] - eoi,
            "same": same, "other": other, "cpu": cpu, "spins": spins,
        })
    return out


_cpu_cache = {}


def rq_cpu(ev, pid, before):
    """The CPU on which PID last ran before event BEFORE (the test binds
    its vCPUs, so it is where the thread waits)."""
    key = (id(ev), pid, before)
    if key not in _cpu_cache:
        cpu = None
        for _, _, c, name, args in reversed(ev[:before]):
            if name == "sched_switch" and next_pid(args) == pid:
                cpu = c
                break
        _cpu_cache[key] = cpu
    return _cpu_cache[key]


def stretches(run):
    """The lengths of the stretches in which the trace shows one CPU only,
    and the gaps between two consecutive events of one CPU."""
    ev = run.events
    out, start = [], ev[0]
    for e in ev[1:]:
        if e[2] != start[2]:
            out.append(e[0] - start[0])
            start = e
    gaps, last = [], {}
    for t, _, cpu, _, _ in ev:
        if cpu in last:
            gaps.append(t - last[cpu])
        last[cpu] = t
    return out, gaps


def med(values, fmt="{:,.0f}"):
    values = [v for v in values if v is not None]
    return fmt.format(median(values)) if values else "–"


THREADS = {"single": "one", "multi": "one per CPU"}


def main():
    qemu, logs = sys.argv[1], dict(zip(THREADS, sys.argv[2:4]))
    rows, facts = [], {}
    for threads, path in logs.items():
        for run in parse(path):
            pin, tracking = run.cfg.get("pin", "?"), run.cfg.get("tracking", "?")
            rts = round_trips(run)
            st, gaps = stretches(run)
            rows.append(f"| {THREADS[threads]} | {pin} | {tracking} | {len(rts)} "
                        f"| {med([r['rt'] for r in rts])} | {med([r['spins'] for r in rts])} "
                        f"| {med([r['wake'] for r in rts])} | {med([r['wait'] for r in rts])} "
                        f"| {med([r['eoi_next'] for r in rts])} "
                        f"| {med([r['same'] for r in rts])} | {med([r['other'] for r in rts])} "
                        f"| {med(st)} | {med(gaps, '{:,.1f}')} |")
            facts[(threads, pin, tracking)] = {
                "rt": med([r["rt"] for r in rts]), "wait": med([r["wait"] for r in rts]),
                "wake": med([r["wake"] for r in rts]), "other": med([r["other"] for r in rts]),
                "spins": med([r["spins"] for r in rts]),
                "stretch": med(st), "gap": med(gaps, "{:,.1f}"),
            }
    p = []
    p.append("## Where an IPI round trip's time goes (make dy-trace)\n")
    p.append("`make dy-trace` boots the test kernel twice: as the kvm part of `make bench` "
             f"does (QEMU {qemu}, `-icount shift=0`, which runs both CPUs on one TCG "
             "thread), and with one TCG thread per CPU (QEMU's default, not counted). "
             "Each boot runs the part's *IPI wait* (`vcpu_boost_spin_test -v 4`, vCPU "
             "threads bound as there, PAUSE exits forced) traced, with the receiver on the "
             "other CPU (`spread`, as in *IPI wait*) and on the sender's (`paired`), "
             "tracking on and off: the scheduler's switches and wakeups, KVM's IPIs, EOIs "
             "and directed-yield choices. Each row follows every round trip of one run "
             "from one of vCPU 0's IPIs to its next; times are medians in microseconds "
             "of the test kernel's clock (on one thread, a thousand instructions each; "
             "tracing itself adds some). *Sender's spin exits*: vCPU 0's PAUSE exits "
             "(directed-yield decisions) in the round trip. *Yields to the woken "
             "receiver*: directed yields that chose vCPU 1 after it was woken and before "
             "it ran, from its own CPU and from the other one. *One-CPU stretch*: a "
             "stretch of the trace with events from one test-kernel CPU only, to read "
             "against the *gap* between two events of one CPU: both CPUs have a vCPU that "
             "spins with PAUSE exits, so while both run their events interleave, and a "
             "stretch many gaps long is time in which the other CPU did not run.\n")
    p.append("| TCG threads | layout | tracking | round trips | round trip "
             "| sender's spin exits | IPI → receiver woken "
             "| woken → receiver runs | EOI → next IPI "
             "| yields to the woken receiver, same CPU | the same, other CPU "
             "| one-CPU stretch | gap |")
    p.append("|---|---|---|---|---|---|---|---|---|---|---|---|---|")
    p.extend(rows)
    p.append("")
    s, pr = facts.get(("single", "spread", "N")), facts.get(("single", "paired", "N"))
    m = facts.get(("multi", "spread", "N"))
    if s and pr and m:
        p.append(f"**Reading.** On one thread, with the receiver on the other CPU "
                 f"(tracking off), a round trip takes {s['rt']} µs against {pr['rt']} µs "
                 f"on one CPU, and the sender exits {s['spins']} times on PAUSE in it. "
                 f"The receiver is woken {s['wake']} µs after the IPI and then waits "
                 f"{s['wait']} µs before it runs, while the vCPUs on the sender's CPU "
                 f"yield to it {s['other']} times across CPUs without effect. The trace "
                 f"shows the two test-kernel CPUs taking turns: a median stretch of "
                 f"{s['stretch']} µs with events from one CPU only, against {s['gap']} µs "
                 f"between two events of one CPU. Under instruction "
                 "counting QEMU runs every vCPU on one thread, round robin, each for a "
                 "budget of instructions bounded by the next timer's deadline "
                 "(docs/devel/tcg-icount.rst), so the receiver's CPU does not run while "
                 "the sender's does. With a thread per CPU the same layout gives a median "
                 f"stretch of {m['stretch']} µs against a gap of {m['gap']} µs, the "
                 f"receiver runs {m['wait']} µs after its wakeup, and the sender exits "
                 f"{m['spins']} {'time' if m['spins'] == '1' else 'times'} per round trip: "
                 "the spin is too short for any choice of whom to yield to to matter. So in "
                 "the kvm part the scenarios with sender and receiver on different CPUs "
                 "measure the emulator's turns, not how soon the kernel runs the "
                 "receiver; where both are on one CPU (`paired`, `crowded`) the round "
                 "trip does not cross CPUs.\n")
    print("\n".join(p))


if __name__ == "__main__":
    main()
