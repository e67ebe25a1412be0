#!/usr/bin/env python3
"""make bench: the DESIGN §9 performance table.

Imports every scripts/bench_<name>.py and calls its run(build_dir), which
returns rows (figure, target, measured) as strings. A module that raises is
reported as one row; the others still run. Figures are reported, never
asserted.
"""
import argparse
import glob
import importlib.util
import os
import sys
import time
import traceback

HERE = os.path.dirname(os.path.abspath(__file__))
TOP = os.path.dirname(HERE)


def load(path):
    name = os.path.splitext(os.path.basename(path))[0]
    spec = importlib.util.spec_from_file_location(name, path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return name, mod


def print_table(rows):
    head = ("figure", "target", "measured")
    rows = [tuple(str(c) for c in r) for r in rows]
    w = [max(len(r[i]) for r in rows + [head]) for i in range(3)]
    print("# DESIGN §9 performance targets (reported, not asserted)")
    print("  ".join(h.ljust(w[i]) for i, h in enumerate(head)).rstrip())
    print("  ".join("-" * w[i] for i in range(3)))
    for r in rows:
        print("  ".join(c.ljust(w[i]) for i, c in enumerate(r)).rstrip())


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--build", default="build", help="build directory")
    ap.add_argument("--only", default=None, help="run only bench_<ONLY>.py")
    a = ap.parse_args()
    build = a.build if os.path.isabs(a.build) else os.path.join(TOP, a.build)
    if not os.path.exists(os.path.join(build, "bin", "elector")):
        sys.exit("bench: %s/bin/elector missing; run make first" % build)
    rows = []
    paths = sorted(glob.glob(os.path.join(HERE, "bench_*.py")))
    for path in paths:
        name = os.path.splitext(os.path.basename(path))[0][len("bench_"):]
        if a.only and name != a.only:
            continue
        t0 = time.monotonic()
        print("bench: running %s ..." % name, file=sys.stderr, flush=True)
        try:
            _, mod = load(path)
            got = list(mod.run(build))
            for r in got:
                if len(r) != 3:
                    raise ValueError("row %r is not (figure, target, measured)" % (r,))
            rows.extend(got)
        except Exception as e:  # one broken module must not hide the others
            traceback.print_exc(file=sys.stderr)
            rows.append(("%s: benchmark failed" % name, "-",
                         "%s: %s" % (type(e).__name__, e)))
        print("bench: %s done in %.1fs" % (name, time.monotonic() - t0),
              file=sys.stderr, flush=True)
    if not rows:
        rows.append(("no benchmarks found", "-", "-"))
    print_table(rows)


if __name__ == "__main__":
    main()
