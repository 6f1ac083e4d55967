#!/usr/bin/env python3
"""Write RUN_DIR/REPORT.md: what one benchmark run measured, in tables and words.

  report.py RUN_DIR [--no-plots] [--baseline glibc] [--goal balanced] [-o FILE]

The report holds the facts of the run, the summary tables (throughput and
frag_rss per trace and allocator, and instructions per op when the run
counted them, with ratios to the baseline and geometric means), the
significance of each difference from the baseline (as compare.py --baseline;
left out when the run has no baseline rows), the charts (drawn by plot.py into
plots/ beside the report, RUN_DIR/plots by default, and linked by relative
path: with -o FILE elsewhere, nothing is written into RUN_DIR), the
block-size recommendation when the run has a sweep, the real-program results
when present, and a short summary in plain words. Every number comes from
the CSV files; nothing is written by hand.

Python 3 standard library; the charts need Debian's python3-matplotlib
(run with /usr/bin/python3). Without it, or with --no-plots, the report
says that it has no charts.
"""

import argparse
import math
import os
import shlex
import sys
from dataclasses import dataclass, field

import compare
import recommend
import resultcsv
import targets
from resultcsv import allocator_configs, samples
from stats import Spread, geometric_mean
from tables import format_number, render

PROGRAM = "report.py"
REFERENCE_ALLOCATORS = ("bump",)      # references (no reuse), not contenders for "fastest"
ARENA_ALLOCATORS = ("arena", "arena-malloc")
RIVALS = ("glibc", "mimalloc", "tcmalloc")
MIB = 1024 * 1024


@dataclass
class FigureSummary:
    """One figure of one table: medians per (trace, allocator label), ratios to
    the baseline, geometric means and verdict counts per allocator label."""
    figure: str
    baseline: str
    rows: list                                       # trace labels in order
    columns: list                                    # allocator labels in order
    spreads: dict = field(default_factory=dict)      # (row, column) -> Spread
    ratios: dict = field(default_factory=dict)       # (row, column) -> ratio
    geomeans: dict = field(default_factory=dict)     # column -> geomean ratio
    # column -> how many ratios the geometric mean left out (0, infinite: a
    # median of 0 on a side), as compare.py's geomean rows count them
    left_out: dict = field(default_factory=dict)
    verdicts: dict = field(default_factory=dict)     # column -> {verdict: count}
    # column -> the most repetitions a side of its comparisons, when none of
    # them had enough to be significant at all
    too_few: dict = field(default_factory=dict)
    comparison: object = None                        # compare.Comparison or None
    several_threads: bool = False                    # rows are (trace, threads) pairs

    def median(self, row, column):
        spread = self.spreads.get((row, column))
        return spread.median if spread else None

    def relative(self, column, other):
        """Geometric mean over the traces both have of column's median / other's."""
        ratios = [self.median(r, column) / self.median(r, other) for r in self.rows
                  if self.median(r, column) and self.median(r, other)]
        return geometric_mean(ratios), len(ratios)


def config_of(row):
    """The configuration of a row as allocator_configs names it."""
    return (row["allocator"], row["block_size"], row.get("region_size"),
            row.get(resultcsv.HUGE_PAGES_COLUMN))


def summarize(table, figure, baseline, noise=compare.NoiseFloors()):
    """The FigureSummary of one figure; None when no row has it."""
    several_threads = len(table.values("threads")) > 1
    labels = dict(allocator_configs(table.rows))

    def row_label(trace, threads):
        return "%s t=%d" % (trace, threads) if several_threads else trace

    columns = [label for _, label in allocator_configs(table.rows)]
    summary = FigureSummary(figure, baseline, [], columns, several_threads=several_threads)
    for key, rows in table.groups().items():
        row = dict(zip(table.config_columns, key))
        values = samples(rows, figure)
        if not values:
            continue
        label = row_label(row["trace"], row["threads"])
        if label not in summary.rows:
            summary.rows.append(label)
        column = labels[config_of(row)]
        summary.spreads[(label, column)] = Spread(values)
    if not summary.spreads:
        return None
    summary.columns = [c for c in columns if any(k[1] == c for k in summary.spreads)]
    if baseline not in table.values("allocator"):
        return summary

    try:
        # AmbiguousBaseline goes up: a baseline that ran several configurations
        # on a trace has no one ratio there (it made every such column 1.00x).
        comparison = compare.compare_to_baseline(table, baseline, [figure], noise)
    except compare.NothingToCompare:
        comparison = None     # only the baseline ran: its own column, at 1.00x
    summary.comparison = comparison
    reachable = set()
    for compared in comparison.rows if comparison else ():
        row = dict(zip(comparison.key_columns, compared.key))
        label = row_label(row["trace"], row["threads"])
        column = labels[config_of(row)]
        summary.ratios[(label, column)] = compared.ratio
        counts = summary.verdicts.setdefault(column, {})
        counts[compared.verdict] = counts.get(compared.verdict, 0) + 1
        sizes = (len(compared.reference), len(compared.measured))
        if compare.can_be_significant(*sizes):
            reachable.add(column)
        else:
            summary.too_few[column] = max(summary.too_few.get(column, 0), min(sizes))
    for column in reachable:
        summary.too_few.pop(column, None)
    for column in summary.columns:
        if column.split(" ")[0] == baseline:
            summary.ratios.update({(r, column): 1.0 for r in summary.rows
                                   if (r, column) in summary.spreads})
        # Only positive finite ratios: glibc's frag_rss of 0 on a trace gave
        # an infinite ratio, and the mean with it was infinite too.
        compared = [summary.ratios.get((r, column)) for r in summary.rows
                    if (r, column) in summary.spreads and (r, column) in summary.ratios]
        ratios = [r for r in compared if r is not None and 0 < r < math.inf]
        summary.geomeans[column] = geometric_mean(ratios)
        if len(ratios) < len(compared):
            summary.left_out[column] = len(compared) - len(ratios)
    return summary


def summary_markdown(summary, scale=1.0, row_header="trace"):
    """Markdown table: a row per trace, a column per allocator, cells
    `median (ratio to the baseline)`, then a geometric-mean row of the ratios."""
    def cell(row, column):
        median = summary.median(row, column)
        if median is None:
            return "-"
        text = format_number(round(median / scale, 3) if scale != 1 else median)
        ratio = summary.ratios.get((row, column))
        if ratio is not None and math.isinf(ratio):
            return "%s (from %s's 0)" % (text, summary.baseline)
        return "%s (%.2fx)" % (text, ratio) if ratio else text

    def geomean_cell(column):
        mean = "**%.2fx**" % summary.geomeans[column] if summary.geomeans.get(column) else "-"
        left_out = summary.left_out.get(column)
        return mean + (" (%d left out: no ratio, 0 or infinite)" % left_out if left_out else "")

    rows = [[row] + [cell(row, c) for c in summary.columns] for row in summary.rows]
    if summary.geomeans:
        rows.append(["**geometric mean**"] + [geomean_cell(c) for c in summary.columns])
    return render([row_header] + summary.columns, rows, "markdown")


RANKED_SHARE = 0.9   # of the traces, that an allocator must have run to be ranked


def ranking(summary, higher_is_better):
    """([(label, geometric mean of its medians over the traces every ranked
    allocator ran)], best first; that number of traces; [labels not ranked]).
    Ranked: the allocators other than the reference ones that ran on at least
    RANKED_SHARE of the traces. Taking every allocator's gaps let one decide:
    over the 12 traces of 17 that seed ran, arena came out leanest, and glibc
    was over all 17. (In the micro run only arena has arena_reset's benchmark.)"""
    contenders = [c for c in summary.columns
                  if c.split(" ")[0] not in REFERENCE_ALLOCATORS]
    ran = {c: sum(1 for r in summary.rows if summary.median(r, c)) for c in contenders}
    enough = RANKED_SHARE * len(summary.rows)

    def shared(allocators):
        return [r for r in summary.rows if all(summary.median(r, c) for c in allocators)]
    ranked = [c for c in contenders if summary.rows and ran[c] >= enough]
    common = shared(ranked)
    # Each ranked allocator may miss a different trace: three of them missing
    # one each left 17 of 20, fewer than each must have run to be ranked.
    # One goes at a time until the rest share enough: the one with the fewest
    # traces, of those the one whose going brings back the most (dropping all
    # that tie could leave one allocator, and no ranking at all).
    while len(ranked) > 1 and len(common) < enough:
        leaving = min(ranked, key=lambda c: (ran[c], -len(shared([o for o in ranked if o != c]))))
        ranked = [c for c in ranked if c != leaving]
        common = shared(ranked)
    if not common:
        return [], 0, contenders
    scored = [(c, geometric_mean(summary.median(r, c) for r in common)) for c in ranked]
    return (sorted(scored, key=lambda item: item[1], reverse=higher_is_better), len(common),
            ["%s (%d of %d)" % (c, ran[c], len(summary.rows)) for c in contenders if c not in ranked])


def verdict_words(summary, column, good, bad):
    counts = summary.verdicts.get(column, {})
    words = "significantly %s on %d and %s on %d of %d %s" % (
        good, counts.get(good, 0), bad, counts.get(bad, 0), sum(counts.values()),
        "(trace, threads) pair(s)" if summary.several_threads else "trace(s)")
    if column in summary.too_few:
        # No count above can be anything but 0: say so where it is read.
        count = summary.too_few[column]
        words += ": with %d repetition%s a side none can be" % (count, "" if count == 1 else "s")
    return words


def reference_words(speed, label, baseline):
    """What the bump reference's throughput says in this run. bump never
    reuses memory and faults in every page before the timed part: the least
    work per call, but not always the most speed. Reused blocks stay in the
    cache where bump's are always fresh, and under bump every growing realloc
    copies: in d12fc85's run arena, mimalloc and tcmalloc each had a higher
    median than bump on 9 of its 15 traces, where the report called bump
    the ceiling of the replay loop."""
    ran = [r for r in speed.rows if speed.median(r, label)]
    text = ("The %s reference (no reuse, every page faulted in before the timed part) reaches "
            "%.2fx %s's throughput (geometric mean over %d trace(s))." % (
                label, speed.geomeans[label], baseline,
                sum(1 for r in ran if speed.ratios.get((r, label)))))
    faster, shared = {}, {}
    for column in speed.columns:
        if column.split(" ")[0] in REFERENCE_ALLOCATORS:
            continue
        both = [r for r in ran if speed.median(r, column)]
        beat = sum(1 for r in both if speed.median(r, column) > speed.median(r, label))
        if beat:
            faster[column], shared[column] = beat, len(both)
    if not faster:
        return text + (" No allocator had a higher median throughput than %s's on any trace "
                       "of this run." % label)
    return text + (" It is no speed ceiling in this run: a higher median throughput than %s's "
                   "on %s. That can happen: memory that is reused stays in the cache, where "
                   "%s's is always fresh, and under %s every growing realloc copies." % (
                       label, ", ".join("%d of %d trace(s) for %s" % (faster[c], shared[c], c)
                                        for c in sorted(faster, key=lambda c: -faster[c])),
                       label, label))


def plain_words(speed, memory, recommendations, realprog, baseline, instructions=None):
    """The summary in sentences, each built from the numbers."""
    lines = []
    for summary, adjective, higher in ((speed, "fastest", True), (memory, "leanest", False)):
        if summary is None:
            continue
        ranked, over, partial = ranking(summary, higher)
        if len(ranked) == 1 and partial:
            lines.append("No %s allocator overall: only %s ran enough traces to be ranked. "
                         "Not ranked, with fewer traces: %s." % (adjective, ranked[0][0], ", ".join(partial)))
        if len(ranked) > 1:
            what = "throughput" if higher else "frag_rss"
            lines.append("**%s** is the %s allocator overall (geometric mean of the median %s "
                         "over the %d of %d traces that every allocator ranked ran), then %s.%s" % (
                             ranked[0][0], adjective, what, over, len(summary.rows),
                             ", ".join(label for label, _ in ranked[1:4]),
                             " Not ranked, with fewer traces: %s." % ", ".join(partial)
                             if partial else ""))
    if speed is not None:
        for label in (c for c in speed.columns if c.split(" ")[0] in REFERENCE_ALLOCATORS):
            if speed.geomeans.get(label):
                lines.append(reference_words(speed, label, baseline))
    arena_labels = [c for c in (speed or memory).columns
                    if c.split(" ")[0] in ARENA_ALLOCATORS] if (speed or memory) else []
    def is_baseline(label):
        # The baseline's own column (or columns, one per configuration):
        # never held against itself ("arena against arena: 1.00x").
        return label.split(" ")[0] == baseline

    for label in arena_labels:
        parts = []
        if speed and speed.geomeans.get(label) and not is_baseline(label):
            parts.append("%.2fx %s's throughput (%s)" % (
                speed.geomeans[label], baseline,
                verdict_words(speed, label, "faster", "slower")))
        if memory and memory.geomeans.get(label) and not is_baseline(label):
            left_out = memory.left_out.get(label)
            parts.append("%.2fx its frag_rss (%s%s)" % (
                memory.geomeans[label],
                verdict_words(memory, label, "leaner", "fatter"),
                "; %d trace(s) left out of the mean: no ratio, 0 or infinite" % left_out
                if left_out else ""))
        if parts:
            lines.append("**%s** against %s: %s; geometric means over the traces."
                         % (label, baseline, "; ".join(parts)))
        rivals = []
        for rival in RIVALS:
            if rival == baseline:
                continue
            faster, count = speed.relative(label, rival) if speed else (None, 0)
            leaner, _ = memory.relative(label, rival) if memory else (None, 0)
            if faster:
                rivals.append("%.2fx %s's throughput%s over %d trace(s)" % (
                    faster, rival, " and %.2fx its frag_rss" % leaner if leaner else "", count))
        if rivals:
            lines.append("%s reaches %s." % (label, "; ".join(rivals)))
    if not arena_labels and (speed or memory):
        lines.append("No arena rows in this run.")
    if instructions is not None:
        for label in (c for c in instructions.columns if c.split(" ")[0] in ARENA_ALLOCATORS):
            if instructions.geomeans.get(label) and not is_baseline(label):
                lines.append("**%s** runs %.2fx %s's instructions per op (callgrind; geometric "
                             "mean over %d trace(s))." % (
                                 label, instructions.geomeans[label], baseline,
                                 sum(1 for r in instructions.rows
                                     if instructions.ratios.get((r, label)))))
    for rec in recommendations:
        if rec.overall is not None:
            lines.append("The block-size sweep recommends **%s** for %s (goal %s; %s under "
                         "leave-one-out)." % (
                             rec.config_name(rec.overall),
                             rec.allocator, rec.goal,
                             "stable" if rec.stable else "not stable"))
    realprog_time, realprog_memory = realprog
    if realprog_time is not None:
        for label in (c for c in realprog_time.columns if c.split(" ")[0] in ARENA_ALLOCATORS):
            if realprog_time.geomeans.get(label) and not is_baseline(label):
                memory_part = ""
                if realprog_memory is not None and realprog_memory.geomeans.get(label):
                    memory_part = " and %.2fx its max RSS" % realprog_memory.geomeans[label]
                lines.append("Real programs under %s take %.2fx %s's wall time%s (geometric "
                             "means over %d program(s))." % (
                                 label, realprog_time.geomeans[label], baseline, memory_part,
                                 sum(1 for r in realprog_time.rows
                                     if realprog_time.ratios.get((r, label)))))
    return ["- " + line for line in lines] or ["- No figures to summarise."]


def failures_words(run):
    """First in the summary: the configurations that failed (a child that
    died, a wrong block: the drivers' `failed.` facts). They have no rows, so
    every table and mean below is over what ran, and reads as if it were all."""
    failed = [(key[len("failed."):], why) for key, why in run.facts().items() if key.startswith("failed.")]
    if not failed:
        return []
    return ["**%d configuration%s failed** and %s no rows, so the figures below leave %s out: %s." % (
        len(failed), "" if len(failed) == 1 else "s", "has" if len(failed) == 1 else "have",
        "it" if len(failed) == 1 else "them", "; ".join("`%s` (%s)" % item for item in failed)), ""]


def targets_section(run):
    """The project's targets that this run measures, each beside its figure."""
    tables = targets.tables_by_role(run)
    if not any(role in tables for role in ("replay", "micro", "prodcons", "realprog", "instructions")):
        return []
    found, extra = targets.build(tables)
    if not any(row[3] != "not measured" for row in found.rows):
        # An instructions run measures no target: "0 of 0 measured targets
        # met" over an empty table said nothing. What it tracks stays.
        if not extra:
            return []
        return ["## Targets", "", "This run measures none of the project's speed and memory "
                "targets (issues 4, 5 and 7); `tools/targets.py` over the replay, micro and "
                "realprog runs gives them.", ""] + extra
    return ["## Targets", "", "The project's speed and memory targets (issues 4, 5 and 7) "
            "that this run measures; `tools/targets.py` over the replay, micro, realprog and "
            "instructions runs together gives them all.", "",
            targets.markdown(tables, measured_only=True, built=(found, extra)), ""]


def facts_section(run):
    out = ["## The run", ""]
    facts = run.facts()
    shown = [(k, v) for k, v in facts.items() if k != "command"]
    if shown:
        out.append(render(["fact", "value"], [[k, v] for k, v in shown], "markdown"))
    else:
        out.append("The CSV files record no machine facts.")
        out.append("")
    out.append("| file | made by | rows | traces | allocators | repetitions per configuration |")
    out.append("|---|---|---:|---:|---:|---|")
    for role, table in run.tables.items():
        if table.kind == "timeline":
            repetitions = "-"
        else:
            counts = [len(rows) for rows in table.groups().values()]
            repetitions = ("%d" % counts[0] if min(counts) == max(counts)
                           else "%d-%d" % (min(counts), max(counts))) if counts else "-"
        rows = "%d" % len(table.rows)
        if table.failed_rows:  # realprog runs whose output check failed: no figure of theirs is used
            rows += " (and %d whose output check failed)" % len(table.failed_rows)
        out.append("| %s | %s | %s | %d | %d | %s |" % (
            os.path.basename(table.path), "`%s`" % table.facts["command"]
            if table.facts.get("command") else "-", rows,
            len(table.values("trace")), len(table.values("allocator")), repetitions))
    facts_file = os.path.join(run.directory, "facts.txt")
    if os.path.isfile(facts_file):
        with open(facts_file, errors="replace") as handle:
            out += ["", "facts.txt:", "", "```", handle.read().rstrip("\n"), "```"]
    out.append("")
    return out


def significance_section(summaries, baseline):
    compared = [s for s in summaries if s is not None and s.comparison is not None]
    if not compared:
        # No baseline rows (a sweep runs arena and seed alone), or no figure
        # to compare: a heading with nothing under it.
        return []
    out = ["## Against %s, with significance" % baseline, "",
           "Each allocator against %s on the same trace: medians over the repetitions, "
           "ratio, two-sided Mann-Whitney U p-value, verdict. A verdict other than *same* "
           "needs p < %.2f and a difference beyond the noise floor (%g%% for time, %g%% for "
           "memory)." % (baseline, compare.SIGNIFICANCE, compare.DEFAULT_TIME_NOISE,
                         compare.DEFAULT_MEMORY_NOISE), ""]
    noted = set()
    for summary in compared:
        out.append(compare.render_comparison(summary.comparison, "markdown", baseline_mode=True))
        fresh = [w for w in summary.comparison.warnings if w not in noted]
        noted.update(fresh)
        out += ["> Note: %s" % w for w in fresh] + [""]
    return out


def plots_directory(report_path):
    """Where the charts of a report go: plots/ beside a REPORT.md, STEM-plots/
    beside any other name. For the default report, RUN_DIR/REPORT.md, that is
    RUN_DIR/plots; a report written elsewhere (-o) takes its charts with it
    and leaves the run directory as it was (committed runs' charts were
    redrawn by a report sent to /tmp), and two reports written side by side
    (-o a.md, -o b.md) keep their own (they shared plots/, and the first
    showed the second's charts)."""
    path = os.path.abspath(report_path)
    name = os.path.basename(path)
    stem = "" if name == "REPORT.md" else os.path.splitext(name)[0] + "-"
    return os.path.join(os.path.dirname(path), stem + "plots")


def plots_section(run, report_path, make_plots):
    import plot       # here: only the charts need it (it loads matplotlib when it draws)
    if not plot.has_charts(run):
        return []     # nothing to chart, whether matplotlib is there or not
    out = ["## Charts", ""]
    directory = plots_directory(report_path)
    if not make_plots:
        beside = os.path.abspath(directory) != os.path.abspath(os.path.join(run.directory, "plots"))
        return out + ["Not drawn (--no-plots). Draw them with `/usr/bin/python3 tools/plot.py "
                      "%s%s`." % (shlex.quote(run.directory),
                                  " -o %s" % shlex.quote(directory) if beside else ""), ""]
    try:
        written = plot.make_plots(run, directory, formats=("png", "svg"))
    except plot.MissingMatplotlib as error:
        print("warning: %s" % error, file=sys.stderr)
        return out + ["No charts: matplotlib is missing for the python3 that made this "
                      "report (install Debian's python3-matplotlib and run "
                      "/usr/bin/python3 tools/report.py).", ""]
    except plot.ChartNotWritten as error:
        print("%s: %s" % (PROGRAM, error), file=sys.stderr)
        sys.exit(resultcsv.EXIT_CANNOT_WRITE)
    for path in written:
        if path.endswith(".png"):
            name = os.path.splitext(os.path.basename(path))[0]
            relative = os.path.relpath(path, os.path.dirname(os.path.abspath(report_path)))
            out += ["![%s](%s)" % (name, relative.replace(os.sep, "/")), ""]
    return out


def summary_sections(title, table, baseline, figures, row_header="trace"):
    """Markdown tables per figure of one table; returns (lines, summaries)."""
    out, summaries = [], []
    for figure, heading, scale in figures:
        summary = summarize(table, figure, baseline)
        summaries.append(summary)
        if summary is None:
            continue
        out += ["## %s: %s" % (title, heading), ""]
        if summary.geomeans:
            out.append("Median over the repetitions (ratio to %s); last row: geometric "
                       "mean of the ratios." % baseline)
        else:
            out.append("Median over the repetitions (no %s rows: no ratios)." % baseline)
        out += ["", summary_markdown(summary, scale, row_header)]
    return out, summaries


def write_report(run, report_path, baseline="glibc", goal="balanced", make_plots=True):
    """Builds the report of a RunData and writes it to report_path."""
    body, speed, memory, realprog_time, instructions = [], None, None, None, None
    significance = []
    for role, title in (("replay", "Replay"), ("micro", "Micro-benchmarks")):
        table = run.tables.get(role)
        if table is None:
            continue
        lines, (mops, frag, counted) = summary_sections(
            title, table, baseline, (("mops", "throughput (Mops/s)", 1.0),
                                     ("frag_rss", "memory overhead (frag_rss = RSS at peak / "
                                                  "peak live bytes)", 1.0),
                                     # An instructions run's only measure (callgrind).
                                     ("instructions_per_op", "instructions per op "
                                                             "(callgrind)", 1.0)))
        body += lines
        # Not the instruction counts: callgrind's are deterministic, one
        # repetition each, and a p-value over them means nothing.
        significance += [mops, frag]
        if role == "replay" or speed is None:
            speed, memory = mops, frag
        if role == "replay":
            instructions = counted

    recommendations = []
    sweep = run.sweep_table()
    if sweep is not None:
        body += ["## Block size", "",
                 "From %s. The best configuration per trace and overall for goal *%s*; other "
                 "goals' overall choices in the last table." % (
                     os.path.basename(sweep.path), goal), ""]
        allocators = recommend.swept_allocators(sweep)
        for allocator in allocators:
            recommendation = recommend.recommend(sweep, allocator, goal)
            recommendations.append(recommendation)
            body.append(recommend.render_recommendation(recommendation, "markdown"))
        rows = []
        for allocator in allocators:
            for other_goal in recommend.GOALS:
                r = recommend.recommend(sweep, allocator, other_goal)
                if r.overall is None:
                    continue
                worst = max((l.regret_pct for l in r.left_out), default=None)
                rows.append([allocator, other_goal, r.config_name(r.overall),
                             "%.3f" % r.overall_score,
                             ("stable" if r.stable else "not stable") if r.left_out else "-",
                             "%.1f%%" % worst if worst is not None else "-"])
        body += [render(["allocator", "goal", "overall choice", "score",
                         "leave-one-out", "worst regret"], rows, "markdown")]

    realprog_memory = None
    if run.realprog is not None:
        lines, (realprog_time, realprog_memory) = summary_sections(
            "Real programs", run.realprog, baseline,
            (("wall_seconds", "wall time (s)", 1.0), ("max_rss_bytes", "max RSS (MiB)", MIB)),
            row_header="program")
        body += lines
        significance += [realprog_time, realprog_memory]
        failed = resultcsv.failed_outputs(run.realprog)
        body += ["Output check: %s." % ("**failed** for " + ", ".join(failed) +
                                         " (those runs' figures are left out of the tables above)"
                                         if failed else "every run's output was right"), ""]

    header = ["# Benchmark report: %s" % os.path.basename(os.path.abspath(run.directory)), "",
              "Generated by `tools/report.py` from the CSV files of this directory; every "
              "number comes from them. Ratios are to **%s** within this run; medians over "
              "the repetitions." % baseline, "", "## In short", ""]
    header += failures_words(run) + plain_words(
        speed, memory, recommendations, (realprog_time, realprog_memory), baseline, instructions) + [""]
    text = header + targets_section(run) + facts_section(run) + body
    text += significance_section(significance, baseline)
    text += plots_section(run, report_path, make_plots)
    resultcsv.write_text_or_exit(report_path, "\n".join(text).rstrip("\n") + "\n", PROGRAM)
    return report_path


def main(argv=None):
    parser = argparse.ArgumentParser(
        prog=PROGRAM, description="Write RUN_DIR/REPORT.md from a run's CSV files: facts, "
        "summary tables, significance against a baseline, charts, block-size "
        "recommendation, real programs, and a summary in words.")
    parser.add_argument("run_dir", metavar="RUN_DIR", help="a results directory")
    parser.add_argument("-o", "--output", metavar="FILE",
                        help="where to write the report (default: RUN_DIR/REPORT.md); its "
                        "charts go to a plots/ directory beside it; a missing directory is made")
    parser.add_argument("--baseline", metavar="ALLOCATOR",
                        help="the allocator ratios refer to (default: glibc)")
    parser.add_argument("--goal", choices=recommend.GOALS, default="balanced",
                        help="goal of the block-size recommendation (default: %(default)s)")
    parser.add_argument("--no-plots", action="store_true", help="do not draw the charts")
    args = parser.parse_args(sys.argv[1:] if argv is None else argv)
    if not os.path.isdir(args.run_dir):
        parser.error("%s is not a directory" % args.run_dir)
    report_path = args.output or os.path.join(args.run_dir, "REPORT.md")
    resultcsv.file_writable_or_exit(report_path, PROGRAM)
    if not args.no_plots:
        resultcsv.directory_writable_or_exit(plots_directory(report_path), PROGRAM)
    run = resultcsv.read_run_or_exit([args.run_dir], PROGRAM)
    if args.baseline:
        # Named on purpose, it must be in the run; glibc, the default, may be
        # missing (a sweep runs arena and seed alone) and the report says so.
        allocators = {row["allocator"] for table in run.tables.values() for row in table.rows}
        if args.baseline not in allocators:
            parser.error("--baseline: no %s rows in this run (allocators: %s)"
                         % (args.baseline, ", ".join(sorted(allocators, key=resultcsv.allocator_rank))))
    try:
        written = write_report(run, report_path, args.baseline or "glibc", args.goal,
                               not args.no_plots)
    except compare.AmbiguousBaseline as error:
        print("%s: %s" % (PROGRAM, error), file=sys.stderr)
        return resultcsv.EXIT_USAGE
    print(written)
    return 0


if __name__ == "__main__":
    sys.exit(main())
