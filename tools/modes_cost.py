#!/usr/bin/env python3
"""The cost of arena's checked and hardened modes, from three replay CSVs.

  modes_cost.py PLAIN.csv CHECKED.csv SECURE.csv

Each CSV is one bench_replay run of arena-malloc and glibc on the same traces,
the second with ARENA_CHECKED=1 and the third with ARENA_SECURE=1 in the
environment (arena-malloc reads them; glibc ignores them). Prints, per trace,
arena-malloc's throughput as a ratio to glibc's in each run and each mode's
ratio as a fraction of the plain one, then geometric means. Ratios come from
one run each, so glibc measured beside arena in that run absorbs the drift
between runs. Python 3 standard library.
"""

import argparse
import sys

import resultcsv
from stats import geometric_mean

PROGRAM = "modes_cost.py"


def mode_of(table):
    """'checked', 'secure', 'checked and secure' or 'plain': what the run's
    command set (its `command` fact starts with the environment it ran in)."""
    settings = {word.split("=", 1)[0]: word.split("=", 1)[1]
                for word in resultcsv.command_settings(table.facts)}
    on = [name for name in ("checked", "secure")
          if settings.get("ARENA_" + name.upper(), "0") not in ("", "0")]
    return " and ".join(on) or "plain"


def ratios(path, mode):
    """{trace: median arena-malloc mops / median glibc mops} of one run, which
    must have run in `mode` (a mix-up of the three files would compare a run
    with itself)."""
    table = resultcsv.read_or_exit(path, PROGRAM)
    found = mode_of(table)
    if found != mode:
        print("%s: %s: a %s run (its command: %s), expected a %s one"
              % (PROGRAM, path, found, table.facts.get("command", "none recorded"), mode),
              file=sys.stderr)
        sys.exit(2)
    medians = {}
    for key, rows in table.groups(("trace", "allocator")).items():
        medians[key] = resultcsv.median_of(rows, "mops")
    return {trace: medians[(trace, "arena-malloc")] / medians[(trace, "glibc")]
            for trace, allocator in medians
            if allocator == "arena-malloc" and medians[(trace, allocator)] is not None
            and medians.get((trace, "glibc"))}


def main(argv):
    parser = argparse.ArgumentParser(
        prog=PROGRAM, description=__doc__.strip().split("\n\n", 2)[2],
        formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("plain", metavar="PLAIN.csv", help="bench_replay run, no mode set")
    parser.add_argument("checked", metavar="CHECKED.csv", help="the same run with ARENA_CHECKED=1")
    parser.add_argument("secure", metavar="SECURE.csv", help="the same run with ARENA_SECURE=1")
    args = parser.parse_args(argv)
    plain, checked, secure = (ratios(path, mode) for path, mode in
                              ((args.plain, "plain"), (args.checked, "checked"), (args.secure, "secure")))
    traces = [t for t in plain if t in checked and t in secure]
    if not traces:
        print("%s: no trace has arena-malloc and glibc throughput in all three files"
              % PROGRAM, file=sys.stderr)
        return 2
    print("%-18s %8s %8s %10s %8s %10s" % ("trace", "plain", "checked", "of plain",
                                           "secure", "of plain"))
    for trace in traces:
        print("%-18s %7.2fx %7.2fx %10.2f %7.2fx %10.2f" % (
            trace, plain[trace], checked[trace], checked[trace] / plain[trace],
            secure[trace], secure[trace] / plain[trace]))
    mean = lambda d: geometric_mean(d[t] for t in traces)
    print("%-18s %7.2fx %7.2fx %10.2f %7.2fx %10.2f" % (
        "geometric mean", mean(plain), mean(checked), mean(checked) / mean(plain),
        mean(secure), mean(secure) / mean(plain)))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
