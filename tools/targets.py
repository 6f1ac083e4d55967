#!/usr/bin/env python3
"""Set the measured figures beside the project's speed and memory targets.

  targets.py DIR... [-o FILE] [--floor-mib N]

Each DIR is a results directory of ./bench.sh: the default replay run, and
optionally the micro, realprog and instructions runs, and a micro run of the
producer/consumer benchmark alone (every row a producer_consumer one, more
repetitions: build/bin/bench_micro --repetitions=15
--benchmark_filter=producer_consumer --csv=...), which then gives the producer/consumer
figures in place of the micro run's where it has every comparator the micro
run has (else the micro run's decide, and the row says why): a few
repetitions cannot settle that benchmark on a 2-core machine, where its rate
depends on whether both threads run at once; its rows show the median of
the per-repetition ratios beside the verdict's ratio of medians. Throughput
and memory targets are judged apart (a run of the memory pass alone decides
the memory ones); a geometric mean set against another is taken over the
traces both ran; "every size" of the malloc+free pairs needs every size of
bench_micro's; a figure is printed with the digits that tell it from its bound. Every target of the
bench suite (issue 4), the drop-in malloc (issue 5) and the performance work
(issue 7) gets one row: the target, the figure measured for it, and whether
it is met. A target whose run is not among DIR is listed as not measured.
Ratios are between medians over the repetitions of one run (allocators
measured side by side), as in report.py; each replay geometric mean against
glibc or the rivals has a 95% bootstrap interval beside it, which says when
a verdict is within the run's noise (the real programs' means, and issue 5's
bound set by arena's own mean, have none); a figure with one repetition on
a side gets no interval (it would read as certain). A configuration that
failed on a trace (bench_replay's `failed.` fact: it has no rows there)
misses every replay target over its traces; one it is set against that
failed leaves a target met on the other traces not measured. The real-program
targets are set on the six programs bench_realprog runs by default: a run
of fewer leaves them not measured where met. A replay cut short (--max-ops, as ./bench.sh --quick
runs it) cannot decide the replay targets, which are defined on whole traces:
the output says so first, and marks their verdicts indicative only, counted
neither met nor missed. Exit 0 whatever the verdicts; 1 when the output
cannot be written; 2 on bad input.

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
# The sizes of bench_micro's malloc_free benchmarks (bench/micro/micro_benchmarks.cpp:
# the powers of two from 8 B to 1 MiB and eight sizes between), "every size
# from 8 B to 1 MiB" of issue 7: a run missing some cannot meet that target.
PAIR_SIZES = tuple(sorted([8 << i for i in range(18)] + [24, 40, 100, 200, 1000, 3000, 12345, 100000]))
# The programs bench_realprog runs by default (kPrograms in
# bench/realprog/bench_realprog.cpp): the real-program targets are set on
# them all, and a run of some (--programs, one missing from PATH, one whose
# runs all failed) cannot meet them.
REALPROG_PROGRAMS = ("cpython", "gxx", "sqlite3", "perl", "prodcons", "git")
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


# The end of a `failed.ALLOCATOR.TRACE...` fact's key (bench_replay's Run::drop):
# block size, region size, huge-pages threshold, threads.
FAILED_KEY_SUFFIX = re.compile(r"(\.bs(\d+))?(\.rs\d+)?(\.hp[^.]*)?(\.t(\d+))?$")


def replay_failures(table, allocator, traces=None):
    """{trace label: why} of the configurations of allocator at the default
    block size that failed (a child that died, a wrong block) on a trace,
    from the `failed.` facts bench_replay writes: such a configuration has no
    rows, and a target over every trace would otherwise be judged on the
    others, where it ran. traces: only those that pass this test."""
    found, prefix = {}, "failed.%s." % allocator
    # The key has no mark where the trace name ends: "app.t2" is trace app on
    # 2 threads, or trace app.t2. A name some row of the run has decides.
    known = {row["trace"] for row in table.rows}
    for key, why in table.facts.items():
        if not key.startswith(prefix):
            continue
        rest = key[len(prefix):]
        suffix = FAILED_KEY_SUFFIX.search(rest)
        if rest[:suffix.start()] not in known and rest in known:
            suffix = FAILED_KEY_SUFFIX.search(rest, len(rest))  # the whole key is the trace
        block = suffix.group(2)
        if suffix.group(3) or suffix.group(4) or (block is not None and int(block) != DEFAULT_BLOCK):
            continue
        trace = rest[:suffix.start()]
        label = trace if suffix.group(6) is None else "%s t=%s" % (trace, suffix.group(6))
        if traces is None or traces(trace):
            found[label] = why
    return found


def failures_text(failures):
    return "; ".join("%s (%s)" % (trace, why) for trace, why in sorted(failures.items()))


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

    def judged_lacking(self, issue, target, measured, met, lacking):
        """add(), for a target set on a whole set of items (sizes, programs) of
        which `lacking` (text, empty when none) were not measured: missed
        stays missed, met is not measured."""
        if not lacking:
            self.add(issue, target, measured, met)
        elif met:
            self.missing(issue, target, "%s; %s" % (measured, lacking))
        else:
            self.add(issue, target, "%s; %s" % (measured, lacking), False)

    def judged(self, issue, target, measured, met, own, others):
        """add(), for a target over traces where configurations may have
        failed (replay_failures): own, {trace: why} of the allocator judged,
        misses it (a crash is not a fast or lean run); others, {allocator:
        {trace: why}} of those it is set against, leave their traces
        uncompared, and a target met on the rest is not measured."""
        if own:
            self.add(issue, target, "%s; FAILED on %s" % (measured, failures_text(own)), False)
            return
        self.judged_lacking(issue, target, measured, met, "; ".join(
            "%s failed on %s, not compared there" % (name, failures_text(failed))
            for name, failed in sorted(others.items()) if failed))

    def missing_unless_failed(self, issue, target, why, own):
        """missing(), unless the allocator judged failed (own, as judged takes
        it): no figure then is a missed target, not an unmeasured one."""
        if own:
            self.judged(issue, target, why, False, own, {})
        else:
            self.missing(issue, target, why)


def extreme(ratios, worst_is_low):
    trace = (min if worst_is_low else max)(ratios, key=ratios.get)
    return trace, ratios[trace]


def ratio_text(ratio, baseline, bound):
    """A ratio for the table, told from its bound (figure_text): 1.05x, or what
    stands for an infinite one."""
    return figure_text(ratio, bound) + "x" if math.isfinite(ratio) else "above %s's 0" % baseline


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


def figure_text(value, bound):
    """value to two decimals, or to as many more as tell it from the bound:
    1.296 against 1.3 printed as 1.30 read as met beside a verdict of missed."""
    if not math.isfinite(value):
        return "%g" % value
    for digits in range(2, 7):
        text = "%.*f" % (digits, value)
        if (float(text) < bound) == (value < bound) and (float(text) > bound) == (value > bound):
            return text
    return repr(value)


def replay_targets(out, replay, allocator, issue, slack_pct=0):
    """Issue 7's replay targets for one arena allocator; slack_pct relaxes each
    bound (speed bounds lowered, memory bounds raised by that many percent)."""
    slack, mem_slack = 1 - slack_pct / 100, 1 + slack_pct / 100
    suffix = " (within %g%%)" % slack_pct if slack_pct else ""
    speed, memory = Figures(replay, "mops"), Figures(replay, "frag_rss")
    name = "`%s`" % allocator
    # Throughput and memory are judged apart: a run of the memory pass alone
    # (--passes=memory) has frag_rss and no throughput, and the reverse.
    own, glibc = replay_failures(replay, allocator), {"glibc": replay_failures(replay, "glibc")}
    throughput_targets(out, replay, speed, allocator, issue, slack, suffix, own, glibc)
    every_frag = memory.per_trace_ratios(allocator, "glibc")
    if not every_frag:
        out.missing_unless_failed(issue, "%s frag_rss targets%s" % (name, suffix),
                                  "no trace with both %s and glibc frag_rss (no memory pass?)" % allocator, own)
        return
    frag = memory.ratios(allocator, "glibc")
    if frag:
        mean = geometric_mean(frag.values())
        out.judged(issue, "%s frag_rss, geometric mean of the ratio to glibc's, <= %s%s"
                   % (name, bound_text(1.0 * mem_slack), suffix),
                   "%sx%s%s" % (figure_text(mean, 1.0 * mem_slack),
                                memory.interval(allocator, "glibc", frag, 1.0 * mem_slack),
                                left_out_text(every_frag, frag)), mean <= 1.0 * mem_slack, own, glibc)
    else:
        out.missing(issue, "%s frag_rss, geometric mean of the ratio to glibc's%s" % (name, suffix),
                    "no trace with a ratio%s" % left_out_text(every_frag, frag))
    # Over every trace, those without a ratio too: a rise against glibc's 0 is above.
    trace, high = extreme(every_frag, worst_is_low=False)
    bound = 1.1 * mem_slack
    above = sum(1 for r in every_frag.values() if r > bound)
    out.judged(issue, "%s: no trace's frag_rss above %sx glibc's%s" % (name, bound_text(bound), suffix),
               "highest %s (%s); %d of %d above" % (
                   ratio_text(high, "glibc", bound),
                   trace, above, len(every_frag)), above == 0, own, glibc)


def throughput_targets(out, replay, speed, allocator, issue, slack, suffix, own, glibc):
    """replay_targets' throughput part; own and glibc as Targets.judged takes them."""
    name = "`%s`" % allocator
    thr = speed.ratios(allocator, "glibc")
    if not thr:
        out.missing_unless_failed(issue, "%s throughput targets%s" % (name, suffix),
                                  "no trace with both %s and glibc throughput" % allocator, own)
        return
    mean = geometric_mean(thr.values())
    out.judged(issue, "%s throughput, geometric mean over %d traces, >= %sx glibc%s"
               % (name, len(thr), bound_text(2.0 * slack), suffix),
               "%sx%s" % (figure_text(mean, 2.0 * slack), speed.interval(allocator, "glibc", thr, 2.0 * slack)),
               mean >= 2.0 * slack, own, glibc)
    # Each rival over the same traces: the traces where the allocator and
    # every rival that ran any ran (a rival on fewer traces was compared on
    # its own easier or harder set).
    against_each = {rival: speed.ratios(allocator, rival) for rival in RIVALS}
    present = [rival for rival in RIVALS if against_each[rival]]
    common = [t for t in speed.traces if all(t in against_each[rival] for rival in present)]
    rival_means, rival_traces = {}, {}
    for rival in present:
        against = {t: against_each[rival][t] for t in common}
        if against:
            rival_means[rival], rival_traces[rival] = geometric_mean(against.values()), against
    if rival_means:
        faster = min(rival_means, key=rival_means.get)
        over = "" if len(common) == len(thr) else ", over the %d traces both ran" % len(common)
        out.judged(issue, "%s throughput >= %sx the faster of mimalloc and tcmalloc%s"
                   % (name, bound_text(1.05 * slack), suffix),
                   "%sx %s%s (%s%s)" % (figure_text(rival_means[faster], 1.05 * slack), faster,
                                        speed.interval(allocator, faster, rival_traces[faster], 1.05 * slack),
                                        ", ".join("%.2fx %s" % (v, k) for k, v in sorted(rival_means.items())),
                                        over),
                   rival_means[faster] >= 1.05 * slack, own,
                   {rival: replay_failures(replay, rival) for rival in present})
    elif present:
        out.missing(issue, "%s throughput against mimalloc and tcmalloc" % name,
                    "no trace where %s and %s all ran" % (allocator, " and ".join(present)))
    else:
        out.missing(issue, "%s throughput against mimalloc and tcmalloc" % name,
                    "neither installed in this run")
    trace, low = extreme(thr, worst_is_low=True)
    below = sum(1 for r in thr.values() if r < 1.2 * slack)
    measured = "lowest %sx (%s); %d of %d below" % (figure_text(low, 1.2 * slack), trace, below, len(thr))
    # Beside the verdict, the steadier figure for one trace: each repetition's
    # ratio, its allocators run within seconds of each other (docs/measuring.md).
    paired = {t: paired_median(replay, "mops", allocator, "glibc", t)[0] for t in thr}
    paired = {t: r for t, r in paired.items() if r}
    if paired:
        paired_trace, paired_low = extreme(paired, worst_is_low=True)
        measured += "; paired medians: lowest %.2fx (%s), %d below" % (
            paired_low, paired_trace, sum(1 for r in paired.values() if r < 1.2 * slack))
    out.judged(issue, "%s: no trace below %sx glibc's throughput%s" % (name, bound_text(1.2 * slack), suffix),
               measured, below == 0, own, glibc)


def bench_suite_targets(out, replay):
    """Issue 4 (arena on the recorded traces) and issue 5's replay target."""
    speed, memory = Figures(replay, "mops"), Figures(replay, "frag_rss")
    real = [t for t in speed.traces if recorded(t.split(" ")[0])]
    own = replay_failures(replay, "arena", recorded)
    glibc = {"glibc": replay_failures(replay, "glibc", recorded)}
    thr = speed.ratios("arena", "glibc", real)
    if thr:
        mean = geometric_mean(thr.values())
        out.judged(4, "`arena` throughput on the %d recorded traces, geometric mean, >= 1.3x glibc"
                   % len(thr), "%sx%s" % (figure_text(mean, 1.3), speed.interval("arena", "glibc", thr, 1.3)),
                   mean >= 1.3, own, glibc)
    else:
        out.missing_unless_failed(4, "`arena` throughput on the recorded traces",
                                  "no arena and glibc throughput on them", own)
    # Every recorded trace, those without a ratio too: arena's rise against
    # glibc's 0 is higher (dropped, it read met). Judged apart from the
    # throughput: a run of the memory pass alone has no throughput.
    frag = memory.per_trace_ratios("arena", "glibc", [t for t in memory.traces if recorded(t.split(" ")[0])])
    if frag:
        trace, high = extreme(frag, worst_is_low=False)
        above = sorted(t for t, r in frag.items() if r > 1.0)
        out.judged(4, "`arena` frag_rss no higher than glibc's on any recorded trace",
                   "highest %s (%s); above 1.0 on %s" % (
                       ratio_text(high, "glibc", 1.0),
                       trace, ", ".join(above) or "none"), not above, own, glibc)
    else:
        out.missing_unless_failed(4, "`arena` frag_rss on the recorded traces",
                                  "no arena and glibc frag_rss on them (no memory pass?)", own)
    # Both geometric means over the traces both ran: each over its own set,
    # a trace arena alone ran moved the bound.
    arena, dropin = speed.ratios("arena", "glibc"), speed.ratios("arena-malloc", "glibc")
    common = [t for t in arena if t in dropin]
    if common:
        a = geometric_mean(arena[t] for t in common)
        d = geometric_mean(dropin[t] for t in common)
        over = "" if len(common) == len(arena) == len(dropin) else ", over the %d traces both ran" % len(common)
        out.judged(5, "`arena-malloc` throughput ratio to glibc >= `arena`'s minus 10%",
                   "%sx against %.2fx (bound %.2fx%s)" % (figure_text(d, 0.9 * a), a, 0.9 * a, over), d >= 0.9 * a,
                   replay_failures(replay, "arena-malloc"),
                   {"arena": replay_failures(replay, "arena"), "glibc": replay_failures(replay, "glibc")})
    else:
        out.missing(5, "`arena-malloc` against `arena`", "no trace with arena, arena-malloc and glibc throughput"
                    if arena and dropin else "no trace with both %s and glibc throughput"
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


def pair_size_text(sizes):
    """The sizes a run lacks: named when few, else counted."""
    if len(sizes) <= 6:
        return ", ".join("%d" % size for size in sorted(sizes)) + " B"
    return "%d of the %d sizes" % (len(sizes), len(PAIR_SIZES))


def pair_targets(out, speed, arenas):
    """Issue 7's malloc+free pairs at every size, for each arena allocator."""
    for allocator in arenas:
        ratios = {}
        for size in PAIR_SIZES:
            trace = "malloc_free/%d" % size
            _, best = fastest_comparator(speed, trace)
            if best and speed.get(trace, allocator):
                ratios[size] = speed.get(trace, allocator) / best
        target = ("`%s` malloc+free pairs, 8 B to 1 MiB: at least as fast as the fastest "
                  "comparator at every size" % allocator)
        if not ratios:
            out.missing(7, target, "no malloc_free size with %s and a comparator" % allocator)
            continue
        size, low = extreme(ratios, worst_is_low=True)
        slower = sum(1 for r in ratios.values() if r < 1.0)
        measured = "%d of %d sizes slower; worst %sx at %d B" % (slower, len(ratios), figure_text(low, 1.0), size)
        unmeasured = [size for size in PAIR_SIZES if size not in ratios]
        # None slower among those run does not show "every size".
        out.judged_lacking(7, target, measured, slower == 0,
                           "not run (or no comparator): %s" % pair_size_text(unmeasured) if unmeasured else "")


def prodcons_source(speed, dedicated, trace, allocator):
    """(Figures, note) the producer/consumer verdict of allocator on trace is
    decided from: the run alone when it has the allocator and every comparator
    the micro run has there (its comparators are the verdict's: one that
    left the fastest out would pass a slower arena), else the micro run, with
    a note saying why; (None, "") when neither has the allocator there."""
    if dedicated is not None and dedicated.get(trace, allocator) is not None:
        mine = {c for c in dedicated.allocators if dedicated.get(trace, c)}
        theirs = {c for c in speed.allocators if speed.get(trace, c)} if speed is not None else set()
        lacking = sorted(c for c in theirs - mine if c not in NOT_COMPARATORS)
        if not lacking:
            return dedicated, ""
        if speed is not None and speed.get(trace, allocator) is not None:
            return speed, " (micro run: the run alone has no %s)" % ", ".join(lacking)
        return dedicated, " (the run alone has no %s)" % ", ".join(lacking)
    if speed is not None and speed.get(trace, allocator) is not None:
        return speed, ""
    return None, ""


def prodcons_targets(out, speed, dedicated, prodcons, arenas):
    """The two-thread producer/consumer targets (issues 5 and 7), from the run
    of that benchmark alone where it can decide them, else the micro run's."""
    traces = []
    for figures in (dedicated, speed):
        if figures is not None:
            traces += [t for t in figures.traces if t.startswith("producer_consumer/") and t not in traces]
    if not traces:
        for allocator in arenas:
            if allocator == "arena-malloc":
                out.missing(5, "`arena-malloc` two-thread producer/consumer >= 1.5x glibc",
                            "no producer_consumer rows")
            out.missing(7, "`%s` two-thread producer/consumer at least as fast as the fastest "
                        "comparator" % allocator, "no producer_consumer rows")
        return
    for allocator in arenas:
        for trace in traces:
            rates, note = prodcons_source(speed, dedicated, trace, allocator)
            if rates is None:
                continue
            mine = rates.get(trace, allocator)

            def where(baseline):
                # The run alone interleaves its repetitions: the median of the
                # per-repetition ratios, beside the verdict's ratio of medians,
                # says how much of that is the machine's state in some of them.
                if rates is not dedicated:
                    return note
                paired, _ = paired_median(prodcons, "mops", allocator, baseline, trace)
                return " (run alone, %d repetitions%s%s)%s" % (
                    repetitions(prodcons, trace, allocator),
                    "" if paired is None else ", paired median %.2fx" % paired,
                    micro_figure(speed, trace, allocator) if speed is not None else "", note)
            if allocator == "arena-malloc":
                target = "`arena-malloc` two-thread producer/consumer >= 1.5x glibc"
                glibc = rates.get(trace, "glibc")
                if glibc:
                    out.add(5, target, "%sx%s" % (figure_text(mine / glibc, 1.5), where("glibc")),
                            mine / glibc >= 1.5)
                else:
                    out.missing(5, target, "no glibc rows on %s" % trace)
            target = "`%s` two-thread producer/consumer at least as fast as the fastest comparator" % allocator
            fastest, best = fastest_comparator(rates, trace)
            if fastest is not None:
                out.add(7, target, "%sx %s%s" % (figure_text(mine / best, 1.0), fastest, where(fastest)),
                        mine >= best)
            else:
                out.missing(7, target, "no comparator on %s" % trace)


def micro_targets(out, micro, prodcons=None):
    """Issue 7's micro targets, and issues 5's and 7's producer/consumer ones;
    micro may be None when the producer/consumer run alone is given."""
    speed = Figures(micro, "mops") if micro is not None else None
    dedicated = Figures(prodcons, "mops") if prodcons is not None else None
    arenas = [a for a in ("arena", "arena-malloc")
              if any(f is not None and a in f.allocators for f in (speed, dedicated))]
    if not arenas:
        out.missing(7, "micro benchmarks", "no arena rows in the micro run")
        return
    if speed is not None:
        pair_targets(out, speed, [a for a in arenas if a in speed.allocators])
    else:
        out.missing(7, "malloc+free pairs, 8 B to 1 MiB", "no micro run given")
    prodcons_targets(out, speed, dedicated, prodcons, arenas)


def realprog_targets(out, realprog):
    wall, rss = Figures(realprog, "wall_seconds"), Figures(realprog, "max_rss_bytes")
    # Runs whose output check failed are in failed_rows, not in the figures:
    # an allocator all of whose runs failed is there all the same, and missed.
    ran = {row["allocator"] for row in realprog.rows + realprog.failed_rows}
    allocator = next((a for a in ("arena-malloc", "arena") if a in ran), None)
    if allocator is None or "glibc" not in ran:
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
    def lacking(ratios):
        ran = {label.split(" ")[0] for label in ratios}  # "prodcons t=2"
        names = [name for name in REALPROG_PROGRAMS if name not in ran]
        return "not run (or no %s and glibc figures): %s" % (allocator, ", ".join(names)) if names else ""
    for ratios, what, bound in ((time_ratios, "wall time", 0.8), (rss_ratios, "max RSS", 1.0)):
        mean = geometric_mean(ratios.values())
        out.judged_lacking(7, "real programs under `%s`: %s, geometric mean, <= %.1fx glibc" % (
            allocator, what, bound), "%sx over %d programs" % (figure_text(mean, bound), len(ratios)),
            mean <= bound, lacking(ratios))
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
        out.judged_lacking(5, "real programs under `%s`: each one's %s within 5%% of glibc's or better"
                           % (allocator, what), "highest %sx (%s); above 1.05: %s"
                           % (figure_text(high, 1.05), program, ", ".join(shown) or "none"), not above,
                           lacking(ratios))


def teardown_targets(out, timeline, floor_mib, replay=None):
    """Resident memory at the last sample of gen-phased, after everything is
    freed; replay, the run's replay table, tells which allocators failed there."""
    target = "`%s` after the `phased` teardown: resident <= 1.1 x live + %g MiB"
    failed = {a: replay_failures(replay, a, lambda t: t == "gen-phased") if replay is not None else {}
              for a in ("arena", "arena-malloc")}
    for allocator, failures in failed.items():
        if failures:
            out.judged(7, target % (allocator, floor_mib), "no timeline", False, failures, {})
    last = {}
    for row in timeline.rows:
        if row["trace"] != "gen-phased" or not at_default_config(row):
            continue
        key = row["allocator"]
        if key not in last or row["op_index"] >= last[key]["op_index"]:
            last[key] = row
    shown = [a for a in ("arena", "arena-malloc") if a in last and not failed[a]]
    if any(last[a]["live_bytes"] for a in shown):
        # A replay cut short (--max-ops, --quick) ends before the teardown.
        out.missing(7, "memory handed back after the phased teardown",
                    "the gen-phased replay ended with blocks live (cut short?)")
        return
    if not shown:
        if not any(failed.values()):
            out.missing(7, "memory handed back after the phased teardown", "no gen-phased timeline")
        return
    others = ", ".join("%s %.1f MiB" % (a, last[a]["rss_bytes"] / MIB)
                       for a in ("glibc", "jemalloc", "mimalloc", "tcmalloc") if a in last)
    for allocator in shown:
        row = last[allocator]
        bound = 1.1 * row["live_bytes"] + floor_mib * MIB
        out.add(7, target % (allocator, floor_mib), "%s MiB resident, %.1f MiB live%s" % (
                    figure_text(row["rss_bytes"] / MIB, bound / MIB), row["live_bytes"] / MIB,
                    " (%s)" % others if others else ""),
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
    if tables.get("micro") is not None or tables.get("prodcons") is not None:
        micro_targets(out, tables.get("micro"), tables.get("prodcons"))
    else:
        out.missing(7, "micro benchmark targets", "no micro run given")
    if tables.get("realprog") is not None:
        realprog_targets(out, tables["realprog"])
    else:
        out.missing(7, "real-program targets", "no realprog run given")
    if tables.get("timeline") is not None:
        teardown_targets(out, tables["timeline"], floor_mib, tables.get("replay"))
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
    parser.add_argument("-o", "--output", metavar="FILE", help="write markdown here, not stdout (its directory is made when missing)")
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
        resultcsv.write_stdout_or_exit(text, PROGRAM)
    return 0


if __name__ == "__main__":
    sys.exit(main())
