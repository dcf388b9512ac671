#!/usr/bin/env python3
"""The sections of bench/REPORT.md that commands other than make bench
write, each between its own markers; make bench keeps them as they are.
(make bench's own kvm part has a marked section too, "bench kvm", which
VB_BENCH_PARTS=kvm make bench rewrites alone; make bench writes it anew.
Its filter part writes "bench filter", which a run without it keeps.)

Usage: report_section.py NAME REPORT
    replaces section NAME of REPORT with standard input (markers added).
"""
import sys
from pathlib import Path

# The sections, in the order in which they follow make bench's part.
NAMES = ["bench filter", "cost-profile", "strategy-profile", "dy-cost", "dy-trace", "bench-guests", "flake-rates"]


def markers(name):
    return f"<!-- make {name}: begin -->", f"<!-- make {name}: end -->"


def section(text, name):
    """Section NAME of TEXT, markers included; None when it has none."""
    begin, end = markers(name)
    if begin not in text or end not in text.split(begin, 1)[1]:
        return None
    return begin + text.split(begin, 1)[1].split(end, 1)[0] + end


def replace(report, name, body):
    """Writes BODY as section NAME of the file REPORT, where the old one
    was; a new one before the first section that follows it in NAMES, or
    at the end."""
    begin, end = markers(name)
    block = begin + "\n" + body.strip("\n") + "\n\n" + end
    text = report.read_text() if report.exists() else ""
    old = section(text, name)
    later = [section(text, n) for n in NAMES[NAMES.index(name) + 1:]] if name in NAMES else []
    later = [s for s in later if s]
    if old:
        text = text.replace(old, block)
    elif later:
        text = text.replace(later[0], block + "\n\n" + later[0], 1)
    else:
        text = text.rstrip("\n") + "\n\n" + block + "\n"
    report.write_text(text)


def kept(text):
    """Every section of TEXT that make bench keeps, in order."""
    return [s for s in (section(text, n) for n in NAMES) if s]


if __name__ == "__main__":
    replace(Path(sys.argv[2]), sys.argv[1], sys.stdin.read())
