#!/usr/bin/env python3
"""Set the measured figures beside the project's speed and memory targets.

  targets.py DIR... [-o FILE] [--floor-mib N]

Each DIR is a results directory of ./bench.sh: the default replay run, and
optionally the micro, realprog and instructions runs, and a micro run of the
producer/consumer benchmark alone (every row a producer_consumer one, more
repetitions: build/bin/bench_micro --repetitions=15
--benchmark_filter=producer_consumer --csv=...), which then gives the producer/consumer
figures in place of the micro run's: a few repetitions cannot settle that
benchmark on a 2-core machine, where its rate depends on whether both
threads run at once; its rows show the median of the per-repetition ratios
beside the verdict's ratio of medians. Every target of the
bench suite (issue 4), the drop-in malloc (issue 5) and the performance work
(issue 7) gets one row: the target, the figure measured for it, and whether
it is met. A target whose run is not among DIR is listed as not measured.
Ratios are between medians over the repetitions of one run (allocators
measured side by side), as in report.py; each geometric mean of them has a
95% bootstrap interval beside it, which says when a verdict is within the
run's noise; a figure with one repetition on a side gets no interval (it
would read as certain). A replay cut short (--max-ops, as ./bench.sh --quick
runs it) cannot decide the replay targets, which are defined on whole traces:
the output says so first, and marks their verdicts indicative only, counted
neither met nor missed. Exit 0 whatever the verdicts; 2 on bad input.

Python 3 standard library.
"""

import argparse
import math
import os
import re
import statistics
import sys

import resultcsv
from stats import bootstrap_geomean_interval, geometric_mean
from tables import render

PROGRAM = "targets.py"
DEFAULT_BLOCK = 16
RIVALS = ("mimalloc", "tcmalloc")                 # "the faster of mimalloc and tcmalloc"
NOT_COMPARATORS = ("bump", "seed", "arena", "arena-malloc")   # for "the fastest comparator"
MIB = 1024 * 1024
# The fixed floor of the phased teardown target: what an allocator may keep
# resident with nothing live. arena keeps up to 2 MiB of free memory for reuse
# (its purge budget, docs/design.md) and its metadata; 4 MiB covers both.
DEFAULT_FLOOR_MIB = 4.0
INTERVAL_LEVEL = 0.95                             # of the geometric means' bootstrap intervals
INTERVAL_NOTE = (
    "An interval beside a geometric mean is where %d%% of it falls when each configuration's "
    "repetitions are drawn again with replacement (a percentile bootstrap, 1000 draws, seeded): "
    "*the bound inside it* means this run's repetitions cannot tell the verdict from noise, "
    "and another run may well give the other one." % round(100 * INTERVAL_LEVEL))


def at_default_config(row):
    """False for arena and seed rows of another block size than the default, or
    with a region size or huge-pages threshold set (not the policy's own)."""
    return row["allocator"] not in ("arena", "seed") or (
        row["block_size"] == DEFAULT_BLOCK and not row.get("region_size")
        and row.get(resultcsv.HUGE_PAGES_COLUMN) is None)


def trace_label(row):
    """The trace as the tables name it: with its thread count when above one."""
    return row["trace"] if row["threads"] in (None, 1) else "%s t=%d" % (row["trace"], row["threads"])


class Figures:
    """Medians per (trace label, allocator) of one table, at the default block size."""

    def __init__(self, table, figure):
        grouped = {}
        for row in table.rows:
            if row.get(figure) is None or not at_default_config(row):
                continue
            grouped.setdefault((trace_label(row), row["allocator"]), []).append(row[figure])
        self.values = grouped
        self.medians = {key: statistics.median(values) for key, values in grouped.items()}
        self.traces = list(dict.fromkeys(label for label, _ in self.medians))
        self.allocators = set(allocator for _, allocator in self.medians)

    def get(self, trace, allocator):
        return self.medians.get((trace, allocator))

    def ratios(self, allocator, baseline, traces=None):
        """{trace: median(allocator) / median(baseline)} where both ran with a
        positive median: a ratio of 0 (a resident rise of 0) has no place in a
        geometric mean, which leaves it out as compare.py and report.py do."""
        out = {}
        for trace in traces if traces is not None else self.traces:
            mine, theirs = self.get(trace, allocator), self.get(trace, baseline)
            if mine and theirs and mine > 0 and theirs > 0:
                out[trace] = mine / theirs
        return out

    def per_trace_ratios(self, allocator, baseline, traces=None):
        """{trace: median(allocator) / median(baseline)} on every trace where
        both ran, for a bound that every trace must keep: as ratios(), plus
        the ratios a geometric mean cannot take, which must not pass unseen:
        0 where allocator's median is 0, infinity where baseline's alone is 0
        (arena's rise against glibc's 0 is above any bound), 1 where both are."""
        out = {}
        for trace in traces if traces is not None else self.traces:
            mine, theirs = self.get(trace, allocator), self.get(trace, baseline)
            if mine is None or theirs is None:
                continue
            if theirs > 0:
                out[trace] = mine / theirs
            else:
                out[trace] = math.inf if mine > 0 else 1.0
        return out

    def interval(self, allocator, baseline, traces, bound):
        """", 95% interval LOW-HIGH" for the geometric mean of the ratios over
        traces (bootstrap_geomean_interval), with ", the bound inside it" when
        the run cannot tell the target's verdict from noise: another run's
        repetitions could as well have landed on the other side. A side with
        one repetition has nothing to redraw: the interval came out as the
        figure itself (a --quick run's frag_rss: "1.07x, 95% interval
        1.07-1.07"), as if it were certain. Then none is shown."""
        groups = [(self.values[(t, allocator)], self.values[(t, baseline)]) for t in traces]
        single = sum(1 for group in groups if min(len(side) for side in group) < 2)
        if single == len(groups):
            return ", one repetition: no interval"
        if single:
            return ", one repetition on %d of %d traces: no interval" % (single, len(groups))
        found = bootstrap_geomean_interval(groups, INTERVAL_LEVEL)
        if found is None:
            return ""
        low, high = found
        return ", %d%% interval %.2f-%.2f%s" % (
            round(100 * INTERVAL_LEVEL), low, high, ", the bound inside it" if low <= bound <= high else "")


def paired_median(table, figure, allocator, baseline, label):
    """Median over the repetitions of allocator's figure / baseline's in the same
    repetition, and how many pairs: runs interleaved this way share the machine's
    drift, which the ratio of two medians does not cancel. (None, 0) without pairs."""
    runs = {}
    for row in table.rows:
        if trace_label(row) == label and row["allocator"] in (allocator, baseline) \
                and row.get(figure) is not None and at_default_config(row):
            runs.setdefault(row["repetition"], {})[row["allocator"]] = row[figure]
    ratios = [r[allocator] / r[baseline] for r in runs.values()
              if allocator in r and r.get(baseline)]
    return (statistics.median(ratios), len(ratios)) if ratios else (None, 0)


def recorded(trace):
    """The bundled traces recorded from real programs (the others are `gen-`)."""
    return not trace.startswith("gen-")


def replayed_ops(table):
    """The ops each trace was cut to (--max-ops=N; ./bench.sh --quick replays
    20000), from the `max_ops` fact bench_replay writes or the command line;
    None when the traces were replayed whole."""
    text = table.facts.get("max_ops")
    if text is None:
        found = re.search(r"--max-ops[= ](\d+)", table.facts.get("command", ""))
        text = found.group(1) if found else None
    return int(text) if text and text.isdigit() and int(text) > 0 else None


def cut_short_note(tables):
    """What a reader must see first when a replay was cut short: the targets
    are defined on whole traces, so such a run cannot decide them."""
    ops = replayed_ops(tables["replay"]) if tables.get("replay") is not None else None
    if ops is None:
        return []
    return ["**The replay run cannot decide the replay targets**: it replayed only the first "
            "%d ops of each trace (`--max-ops=%d`; `./bench.sh --quick` does so), and the "
            "targets are defined on whole traces. Its verdicts below are marked *%s*: run "
            "`./bench.sh` for them." % (ops, ops, indicative_text(ops)), ""]


def indicative_text(ops):
    return "indicative only (first %d ops)" % ops


class Targets:
    def __init__(self):
        self.rows = []
        # Set while targets of a cut-short replay are added: their verdicts
        # are marked, and not counted as met or missed.
        self.indicative = None

    def add(self, issue, target, measured, met):
        verdict = "met" if met else "**missed**"
        if self.indicative:
            verdict = "%s: %s" % (self.indicative, "met" if met else "missed")
        self.rows.append(["#%d" % issue, target, measured, verdict])

    def missing(self, issue, target, why):
        self.rows.append(["#%d" % issue, target, why, "not measured"])


def extreme(ratios, worst_is_low):
    trace = (min if worst_is_low else max)(ratios, key=ratios.get)
    return trace, ratios[trace]


def ratio_text(ratio, baseline):
    """A ratio for the table: 1.05x, or what stands for an infinite one."""
    return "%.2fx" % ratio if math.isfinite(ratio) else "above %s's 0" % baseline


def left_out_text(every, formed):
    """Beside a geometric mean over formed ({trace: ratio}), how many of
    every trace's ratios it could not take (a median of 0 on a side)."""
    left = sorted(t for t in every if t not in formed)
    return "; left out (a median of 0): %s" % ", ".join(left) if left else ""


def bound_text(bound):
    """A target's bound as it is: 2.00, 1.90, but 0.9975 and 1.155 (5% within
    1.05 and 1.1), which two decimals printed as 1.00 and 1.16, beside measured
    figures that a bound of 1.16 would have passed."""
    return "%.2f" % bound if abs(bound * 100 - round(bound * 100)) < 1e-9 else "%.4g" % bound


def replay_targets(out, replay, allocator, issue, slack_pct=0):
    """Issue 7's replay targets for one arena allocator; slack_pct relaxes each
    bound (speed bounds lowered, memory bounds raised by that many percent)."""
    slack, mem_slack = 1 - slack_pct / 100, 1 + slack_pct / 100
    suffix = " (within %g%%)" % slack_pct if slack_pct else ""
    speed, memory = Figures(replay, "mops"), Figures(replay, "frag_rss")
    name = "`%s`" % allocator
    if allocator not in speed.allocators or "glibc" not in speed.allocators:
        out.missing(issue, "%s replay targets%s" % (name, suffix), "no %s or glibc rows" % allocator)
        return
    thr = speed.ratios(allocator, "glibc")
    if not thr:
        out.missing(issue, "%s replay targets%s" % (name, suffix),
                    "no trace with both %s and glibc throughput" % allocator)
        return
    mean = geometric_mean(thr.values())
    out.add(issue, "%s throughput, geometric mean over %d traces, >= %sx glibc%s"
            % (name, len(thr), bound_text(2.0 * slack), suffix),
            "%.2fx%s" % (mean, speed.interval(allocator, "glibc", thr, 2.0 * slack)), mean >= 2.0 * slack)
    rival_means, rival_traces = {}, {}
    for rival in RIVALS:
        against = speed.ratios(allocator, rival)
        if against:
            rival_means[rival], rival_traces[rival] = geometric_mean(against.values()), against
    if rival_means:
        faster = min(rival_means, key=rival_means.get)
        out.add(issue, "%s throughput >= %sx the faster of mimalloc and tcmalloc%s"
                % (name, bound_text(1.05 * slack), suffix),
                "%.2fx %s%s (%s)" % (rival_means[faster], faster,
                                     speed.interval(allocator, faster, rival_traces[faster], 1.05 * slack),
                                     ", ".join("%.2fx %s" % (v, k) for k, v in sorted(rival_means.items()))),
                rival_means[faster] >= 1.05 * slack)
    else:
        out.missing(issue, "%s throughput against mimalloc and tcmalloc" % name,
                    "neither installed in this run")
    trace, low = extreme(thr, worst_is_low=True)
    below = sum(1 for r in thr.values() if r < 1.2 * slack)
    measured = "lowest %.2fx (%s); %d of %d below" % (low, trace, below, len(thr))
    # Beside the verdict, the steadier figure for one trace: each repetition's
    # ratio, its allocators run within seconds of each other (docs/measuring.md).
    paired = {t: paired_median(replay, "mops", allocator, "glibc", t)[0] for t in thr}
    paired = {t: r for t, r in paired.items() if r}
    if paired:
        paired_trace, paired_low = extreme(paired, worst_is_low=True)
        measured += "; paired medians: lowest %.2fx (%s), %d below" % (
            paired_low, paired_trace, sum(1 for r in paired.values() if r < 1.2 * slack))
    out.add(issue, "%s: no trace below %sx glibc's throughput%s" % (name, bound_text(1.2 * slack), suffix),
            measured, below == 0)
    frag = memory.ratios(allocator, "glibc")
    every_frag = memory.per_trace_ratios(allocator, "glibc")
    if not every_frag:
        out.missing(issue, "%s frag_rss targets%s" % (name, suffix), "no frag_rss (no memory pass)")
        return
    if frag:
        mean = geometric_mean(frag.values())
        out.add(issue, "%s frag_rss, geometric mean of the ratio to glibc's, <= %s%s"
                % (name, bound_text(1.0 * mem_slack), suffix),
                "%.2fx%s%s" % (mean, memory.interval(allocator, "glibc", frag, 1.0 * mem_slack),
                               left_out_text(every_frag, frag)), mean <= 1.0 * mem_slack)
    else:
        out.missing(issue, "%s frag_rss, geometric mean of the ratio to glibc's%s" % (name, suffix),
                    "no trace with a ratio%s" % left_out_text(every_frag, frag))
    # Over every trace, those without a ratio too: a rise against glibc's 0 is above.
    trace, high = extreme(every_frag, worst_is_low=False)
    bound = 1.1 * mem_slack
    above = sum(1 for r in every_frag.values() if r > bound)
    out.add(issue, "%s: no trace's frag_rss above %sx glibc's%s" % (name, bound_text(bound), suffix),
            "highest %s (%s); %d of %d above" % (ratio_text(high, "glibc"), trace, above,
                                                 len(every_frag)), above == 0)


def bench_suite_targets(out, replay):
    """Issue 4 (arena on the recorded traces) and issue 5's replay target."""
    speed, memory = Figures(replay, "mops"), Figures(replay, "frag_rss")
    real = [t for t in speed.traces if recorded(t.split(" ")[0])]
    thr = speed.ratios("arena", "glibc", real)
    if thr:
        mean = geometric_mean(thr.values())
        out.add(4, "`arena` throughput on the %d recorded traces, geometric mean, >= 1.3x glibc"
                % len(thr), "%.2fx%s" % (mean, speed.interval("arena", "glibc", thr, 1.3)), mean >= 1.3)
        # Every recorded trace, those without a ratio too: arena's rise
        # against glibc's 0 is higher (dropped, it read met).
        frag = memory.per_trace_ratios("arena", "glibc", real)
        if frag:
            trace, high = extreme(frag, worst_is_low=False)
            above = sorted(t for t, r in frag.items() if r > 1.0)
            out.add(4, "`arena` frag_rss no higher than glibc's on any recorded trace",
                    "highest %s (%s); above 1.0 on %s" % (ratio_text(high, "glibc"), trace,
                                                         ", ".join(above) or "none"), not above)
        else:
            out.missing(4, "`arena` frag_rss on the recorded traces", "no frag_rss (no memory pass)")
    else:
        out.missing(4, "`arena` on the recorded traces", "no arena and glibc rows on them")
    arena, dropin = speed.ratios("arena", "glibc"), speed.ratios("arena-malloc", "glibc")
    if arena and dropin:
        a, d = geometric_mean(arena.values()), geometric_mean(dropin.values())
        out.add(5, "`arena-malloc` throughput ratio to glibc >= `arena`'s minus 10%",
                "%.2fx against %.2fx (bound %.2fx)" % (d, a, 0.9 * a), d >= 0.9 * a)
    else:
        out.missing(5, "`arena-malloc` against `arena`", "no trace with both %s and glibc throughput"
                    % ("arena" if not arena else "arena-malloc"))


def repetitions(table, trace, allocator):
    return sum(1 for row in table.rows
               if trace_label(row) == trace and row["allocator"] == allocator)


def fastest_comparator(figures, trace):
    """(name, rate) of the fastest comparator on trace; (None, None) when none ran."""
    rates = {c: figures.get(trace, c) for c in figures.allocators
             if c not in NOT_COMPARATORS and figures.get(trace, c)}
    if not rates:
        return None, None
    fastest = max(rates, key=rates.get)
    return fastest, rates[fastest]


def micro_figure(speed, trace, allocator):
    """The same ratios in the micro run, to show beside the dedicated run's."""
    mine = speed.get(trace, allocator)
    fastest, best = fastest_comparator(speed, trace)
    if mine is None or fastest is None:
        return ""
    glibc = speed.get(trace, "glibc")
    return "; micro run: %.2fx %s%s" % (mine / best, fastest,
                                        ", glibc %.2fx" % (mine / glibc) if glibc else "")


def micro_targets(out, micro, prodcons=None):
    speed = Figures(micro, "mops")
    arenas = [a for a in ("arena", "arena-malloc") if a in speed.allocators]
    pairs = [t for t in speed.traces if t.startswith("malloc_free/")]
    for allocator in arenas:
        ratios = {}
        for trace in pairs:
            _, best = fastest_comparator(speed, trace)
            if best and speed.get(trace, allocator):
                ratios[trace.split("/")[1]] = speed.get(trace, allocator) / best
        if ratios:
            size, low = extreme(ratios, worst_is_low=True)
            slower = sum(1 for r in ratios.values() if r < 1.0)
            out.add(7, "`%s` malloc+free pairs, 8 B to 1 MiB: at least as fast as the fastest "
                    "comparator at every size" % allocator,
                    "%d of %d sizes slower; worst %.2fx at %s B" % (slower, len(ratios), low, size),
                    slower == 0)
    dedicated = Figures(prodcons, "mops") if prodcons is not None else None
    rates = dedicated or speed
    producer = [t for t in rates.traces if t.startswith("producer_consumer/")]
    for allocator in arenas:
        for trace in producer:
            mine = rates.get(trace, allocator)
            if mine is None:
                continue

            def where(baseline):
                # The run alone interleaves its repetitions: the median of the
                # per-repetition ratios, beside the verdict's ratio of medians,
                # says how much of that is the machine's state in some of them.
                if dedicated is None:
                    return ""
                paired, _ = paired_median(prodcons, "mops", allocator, baseline, trace)
                return " (run alone, %d repetitions%s%s)" % (
                    repetitions(prodcons, trace, allocator),
                    "" if paired is None else ", paired median %.2fx" % paired,
                    micro_figure(speed, trace, allocator))
            glibc = rates.get(trace, "glibc")
            if glibc and allocator == "arena-malloc":
                out.add(5, "`arena-malloc` two-thread producer/consumer >= 1.5x glibc",
                        "%.2fx%s" % (mine / glibc, where("glibc")), mine / glibc >= 1.5)
            fastest, best = fastest_comparator(rates, trace)
            if fastest is not None:
                out.add(7, "`%s` two-thread producer/consumer at least as fast as the fastest "
                        "comparator" % allocator,
                        "%.2fx %s%s" % (mine / best, fastest, where(fastest)), mine >= best)
    if not arenas:
        out.missing(7, "micro benchmarks", "no arena rows in the micro run")


def realprog_targets(out, realprog):
    wall, rss = Figures(realprog, "wall_seconds"), Figures(realprog, "max_rss_bytes")
    allocator = next((a for a in ("arena-malloc", "arena") if a in wall.allocators), None)
    if allocator is None or "glibc" not in wall.allocators:
        out.missing(7, "real programs", "no arena or glibc rows")
        return
    failed = resultcsv.failed_outputs(realprog)
    out.add(7, "real programs: every program's output identical under every allocator",
            "failed: %s" % ", ".join(failed) if failed else "all right", not failed)
    time_ratios, rss_ratios = wall.ratios(allocator, "glibc"), rss.ratios(allocator, "glibc")
    if not time_ratios or not rss_ratios:
        out.missing(7, "real programs under `%s` against glibc" % allocator,
                    "no program with both %s and glibc figures" % allocator)
        return
    for ratios, what, bound in ((time_ratios, "wall time", 0.8), (rss_ratios, "max RSS", 1.0)):
        mean = geometric_mean(ratios.values())
        out.add(7, "real programs under `%s`: %s, geometric mean, <= %.1fx glibc" % (
            allocator, what, bound), "%.2fx over %d programs" % (mean, len(ratios)), mean <= bound)
    for ratios, what, figure in ((time_ratios, "wall time", "wall_seconds"),
                                 (rss_ratios, "max RSS", "max_rss_bytes")):
        program, high = extreme(ratios, worst_is_low=False)
        above = sorted(p for p, r in ratios.items() if r > 1.05)
        # The verdict is on the ratio of the medians; the paired median beside
        # it says how much of that is the machine's drift between runs.
        shown = []
        for name in above:
            paired, pairs = paired_median(realprog, figure, allocator, "glibc", name)
            shown.append(name if paired is None else "%s (paired median %.2fx over %d runs)"
                         % (name, paired, pairs))
        out.add(5, "real programs under `%s`: each one's %s within 5%% of glibc's or better"
                % (allocator, what), "highest %.2fx (%s); above 1.05: %s"
                % (high, program, ", ".join(shown) or "none"), not above)


def teardown_targets(out, timeline, floor_mib):
    """Resident memory at the last sample of gen-phased, after everything is freed."""
    last = {}
    for row in timeline.rows:
        if row["trace"] != "gen-phased" or not at_default_config(row):
            continue
        key = row["allocator"]
        if key not in last or row["op_index"] >= last[key]["op_index"]:
            last[key] = row
    shown = [a for a in ("arena", "arena-malloc") if a in last]
    if any(last[a]["live_bytes"] for a in shown):
        # A replay cut short (--max-ops, --quick) ends before the teardown.
        out.missing(7, "memory handed back after the phased teardown",
                    "the gen-phased replay ended with blocks live (cut short?)")
        return
    if not shown:
        out.missing(7, "memory handed back after the phased teardown", "no gen-phased timeline")
        return
    others = ", ".join("%s %.1f MiB" % (a, last[a]["rss_bytes"] / MIB)
                       for a in ("glibc", "jemalloc", "mimalloc", "tcmalloc") if a in last)
    for allocator in shown:
        row = last[allocator]
        bound = 1.1 * row["live_bytes"] + floor_mib * MIB
        out.add(7, "`%s` after the `phased` teardown: resident <= 1.1 x live + %g MiB"
                % (allocator, floor_mib), "%.1f MiB resident, %.1f MiB live (%s)" % (
                    row["rss_bytes"] / MIB, row["live_bytes"] / MIB, others),
                row["rss_bytes"] <= bound)


def instruction_lines(replay):
    """Instructions per replayed op above bump's, per allocator. bump never reuses
    and is the least work per call, except where the trace reallocates large
    blocks: bump copies every growing one, and all but tcmalloc of the committed
    instructions runs ran fewer than bump on gen-realloc-grow. So bump is no
    floor there, a difference can be negative, and the tables take medians over
    the traces, where a mean would be meaningless; the traces below bump are named."""
    counts = Figures(replay, "instructions_per_op")
    if "bump" not in counts.allocators:
        return []
    traces = [t for t in counts.traces if counts.get(t, "bump") is not None]
    rows, below = [], {}
    for allocator in ("arena", "arena-malloc", "mimalloc", "tcmalloc", "jemalloc", "glibc"):
        above = {t: counts.get(t, allocator) - counts.get(t, "bump") for t in traces
                 if counts.get(t, allocator) is not None}
        if not above:
            continue
        for trace in (t for t, v in above.items() if v < 0):
            below.setdefault(trace, []).append(allocator)
        real = [v for t, v in above.items() if recorded(t.split(" ")[0])]
        rows.append([allocator, "%.1f" % statistics.median(above.values()),
                     "%.1f" % statistics.median(real) if real else "-", str(len(above))])
    if not rows:
        return []
    fewer = ("Fewer than bump's (a negative difference) on %s: where bump copies a growing "
             "realloc it is no floor." % "; ".join(
                 "%s (%s)" % (t, ", ".join(below[t])) for t in traces if t in below)
             if below else "No allocator ran fewer than bump's on any trace.")
    return ["Instructions per replayed op above those of bump, the reference that never "
            "reuses memory (callgrind, deterministic; tracked, not a target; medians over "
            "the traces). %s" % fewer, "",
            render(["allocator", "all traces", "recorded traces", "traces"], rows, "markdown"), ""]


def is_instruction_run(table):
    return any(row.get("instructions_per_op") is not None for row in table.rows)


def is_prodcons_run(table):
    return bool(table.rows) and all(row["trace"].startswith("producer_consumer/")
                                    for row in table.rows)


def tables_by_role(run):
    """{role: ResultTable} of one run: an instructions run's replay.csv as
    "instructions", a micro run of the producer/consumer benchmark alone as
    "prodcons"."""
    def role_of(role, table):
        if role == "replay" and is_instruction_run(table):
            return "instructions"
        if role == "micro" and is_prodcons_run(table):
            return "prodcons"
        return role
    return {role_of(role, table): table for role, table in run.tables.items()}


def collect(directories):
    """{role: ResultTable} over several results directories (one of each role)."""
    found = {}
    for directory in directories:
        run = resultcsv.read_run_or_exit([directory], PROGRAM)
        for role, table in tables_by_role(run).items():
            if role in found:
                print("%s: two %s runs: %s and %s" % (PROGRAM, role, found[role].path,
                                                       table.path), file=sys.stderr)
                sys.exit(2)
            found[role] = table
    return found


def build(tables, floor_mib=DEFAULT_FLOOR_MIB):
    """(Targets, extra lines) for the tables found."""
    out = Targets()
    replay = tables.get("replay")
    if replay is not None:
        ops = replayed_ops(replay)
        out.indicative = indicative_text(ops) if ops else None
        bench_suite_targets(out, replay)
        replay_targets(out, replay, "arena", 7)
        replay_targets(out, replay, "arena-malloc", 7, slack_pct=5)
        out.indicative = None
    else:
        out.missing(7, "replay targets", "no default replay run given")
    if tables.get("micro") is not None:
        micro_targets(out, tables["micro"], tables.get("prodcons"))
    else:
        out.missing(7, "micro benchmark targets", "no micro run given")
    if tables.get("realprog") is not None:
        realprog_targets(out, tables["realprog"])
    else:
        out.missing(7, "real-program targets", "no realprog run given")
    if tables.get("timeline") is not None:
        teardown_targets(out, tables["timeline"], floor_mib)
    else:
        out.missing(7, "memory handed back after the phased teardown", "no timeline.csv")
    extra = instruction_lines(tables["instructions"]) if "instructions" in tables else []
    return out, extra


def markdown(tables, floor_mib=DEFAULT_FLOOR_MIB, measured_only=False, built=None):
    """The targets as markdown; measured_only leaves out the ones these runs cannot tell.
    built: what build(tables, floor_mib) returned, when the caller has it already."""
    targets, extra = built if built is not None else build(tables, floor_mib)
    if measured_only:
        targets.rows = [r for r in targets.rows if r[3] != "not measured"]
    sources = ["- %s: `%s`" % (role, t.facts.get("command", t.path)) for role, t in tables.items()]
    met = sum(1 for r in targets.rows if r[3] == "met")
    indicative = sum(1 for r in targets.rows if r[3].startswith("indicative only"))
    measured = sum(1 for r in targets.rows if r[3] != "not measured") - indicative
    counted = "%d of %d measured targets met" % (met, measured)
    if indicative:
        counted = ("%s; %d more indicative only, not decided" % (counted, indicative) if measured
                   else "No target decided: %d indicative only" % indicative)
    return "\n".join(
        cut_short_note(tables) + ["%s. Made from:" % counted, ""] + sources + [""]
        + [render(["issue", "target", "measured", "verdict"], targets.rows, "markdown"), ""]
        + ([INTERVAL_NOTE, ""] if any("% interval " in r[2] for r in targets.rows) else [])
        + extra)


def main(argv=None):
    parser = argparse.ArgumentParser(
        prog=PROGRAM, description="The measured figure beside each speed and memory target "
        "(issues 4, 5, 7), from ./bench.sh results directories (replay, micro, realprog, "
        "instructions).")
    parser.add_argument("directories", nargs="+", metavar="DIR", help="a results directory")
    parser.add_argument("-o", "--output", metavar="FILE", help="write markdown here, not stdout")
    parser.add_argument("--floor-mib", type=resultcsv.non_negative_number, default=DEFAULT_FLOOR_MIB, metavar="N",
                        help="the fixed floor of the phased teardown target (default: %(default)g)")
    args = parser.parse_intermixed_args(sys.argv[1:] if argv is None else argv)
    for directory in args.directories:
        if not os.path.isdir(directory):
            parser.error("%s is not a directory" % directory)
    if args.output:
        resultcsv.file_writable_or_exit(args.output, PROGRAM)
    command = " ".join(["tools/targets.py"] + (sys.argv[1:] if argv is None else list(argv)))
    text = "# Targets\n\nMade by `%s`.\n\n%s\n" % (
        command, markdown(collect(args.directories), args.floor_mib))
    if args.output:
        resultcsv.write_text_or_exit(args.output, text, PROGRAM)
    else:
        sys.stdout.write(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
