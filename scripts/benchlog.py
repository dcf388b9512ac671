"""The VB-BENCH lines of a guest log, for the scripts that report on them
(bench-report.py, cost-profile.py)."""
from pathlib import Path


def parse(paths):
    """The setup line (a dict, its features one string) and every run (a
    dict of its key=value words, the one bare word as "scenario") of the
    logs at PATHS, in order."""
    setup, runs = {}, []
    lines = [ln for p in paths for ln in Path(p).read_text(errors="replace").splitlines()]
    for line in lines:
        if line.startswith("VB-BENCH-SETUP "):
            rest = line.split(" ", 1)[1]
            head, _, feats = rest.partition(" features=")
            setup = dict(kv.split("=", 1) for kv in head.split())
            setup["features"] = feats
        elif line.startswith("VB-BENCH "):
            fields = {}
            for tok in line.split()[1:]:
                if "=" in tok:
                    k, v = tok.split("=", 1)
                    fields[k] = v
                else:
                    fields["scenario"] = tok
            runs.append(fields)
    return setup, runs
