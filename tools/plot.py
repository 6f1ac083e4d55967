#!/usr/bin/env python3
"""Charts of one benchmark run, as PNG and SVG.

  plot.py RUN_DIR [-o OUTDIR] [--traces A,B] [--allocators X,Y]
  plot.py replay.csv timeline.csv ... [-o OUTDIR]

From a results directory (replay.csv, micro.csv, sweep.csv, timeline.csv):
- throughput and frag_rss per trace and allocator: grouped bars at the median
  of the repetitions, whiskers from the minimum to the maximum;
- memory over the replay (timeline.csv): live, resident and mapped bytes
  against the op index, one chart per trace with a panel per allocator, each
  panel on its own y scale;
- for a sweep (sweep.csv, or replay rows where an allocator ran several
  configurations): throughput and frag_rss per trace against the block size,
  or, when the block size is fixed, against the region size or else the
  huge-pages threshold, one line per value of the other columns; and the
  throughput/memory Pareto front of every configuration.
Micro-benchmark bars go in the order of their sizes (malloc_free/8, /16, ...,
/1000, /1024), not as text.
Charts go to OUTDIR (default RUN_DIR/plots). Filtering is done here, by flag;
the data files are never edited.

Needs matplotlib: Debian's python3-matplotlib, installed for /usr/bin/python3
(run `/usr/bin/python3 tools/plot.py ...` when another python3 comes first on
PATH). Without it the tool says so in one line and exits 3.
"""

import argparse
import json
import os
import re
import sys

import resultcsv
from resultcsv import UNITS, allocator_rank, samples
from stats import Spread

PROGRAM = "plot.py"
EXIT_NO_MATPLOTLIB = 3
MISSING_MATPLOTLIB = ("plot.py: matplotlib is missing for %s: install Debian's "
                      "python3-matplotlib (apt-get install python3-matplotlib) and run "
                      "/usr/bin/python3 tools/plot.py" % sys.executable)

FIGURE_TITLES = {"mops": "Throughput", "frag_rss": "Memory overhead (frag_rss)"}
AXIS_LABELS = {
    "mops": "throughput (Mops/s)\nhigher is better",
    "frag_rss": "frag_rss (RSS at peak / peak live bytes)\nlower is better",
}
MIB = 1024 * 1024


class MissingMatplotlib(Exception):
    pass


class ChartNotWritten(Exception):
    """A chart file that could not be written; str() is `PATH: cannot write: REASON`."""


def load_pyplot():
    """matplotlib.pyplot on the Agg backend (files only, no display)."""
    try:
        import matplotlib
        matplotlib.use("Agg")
        # SVG ids are random unless salted: the same data then gives the same bytes.
        matplotlib.rcParams["svg.hashsalt"] = "arena"
        import matplotlib.pyplot as pyplot
    except ImportError:
        raise MissingMatplotlib(MISSING_MATPLOTLIB) from None
    return pyplot


def file_stem(text):
    """A piece of a file name made from a trace or table name."""
    return re.sub(r"[^A-Za-z0-9._-]+", "_", str(text)).strip("_") or "unnamed"


def file_stems(names):
    """{name: file_stem(name)} over names, made unique: a name whose stem an
    earlier one has gets -2, -3, ... ("tr, comma" and "tr comma" both gave
    tr_comma, and the second chart overwrote the first, from another process
    at the same time when draw_each split them)."""
    stems, taken = {}, set()
    for name in names:
        stem, number = file_stem(name), 1
        while (stem if number == 1 else "%s-%d" % (stem, number)) in taken:
            number += 1
        stems[name] = stem if number == 1 else "%s-%d" % (stem, number)
        taken.add(stems[name])
    return stems


def axis_label(figure):
    return AXIS_LABELS.get(figure, "%s (%s)" % (figure, UNITS.get(figure, "")))


class Plotter:
    """Writes each chart in every requested format and remembers the files."""

    def __init__(self, pyplot, outdir, formats):
        self.pyplot, self.outdir, self.formats = pyplot, outdir, formats
        self.written = []

    def save(self, figure, stem):
        figure.tight_layout()
        path = self.outdir
        try:
            os.makedirs(self.outdir, exist_ok=True)
            for extension in self.formats:
                path = os.path.join(self.outdir, "%s.%s" % (stem, extension))
                # No creation date in the files: the same data gives the same bytes.
                metadata = {"Date": None} if extension in ("svg", "pdf") else {}
                figure.savefig(path, dpi=110, metadata=metadata)
                self.written.append(path)
        except OSError as error:
            # The directory was checked before the work; this is what a check
            # cannot foresee (a directory in a chart's place, a full disk).
            raise ChartNotWritten("%s: cannot write: %s" % (path, error.strerror or error)) from None
        finally:
            self.pyplot.close(figure)

    def draw_each(self, items, draw):
        """Calls draw(self, item) for every item; a forked process draws every
        other item where the machine has a second core (each chart is
        independent, and matplotlib draws on one core: a default run's 17
        timelines took 11 of its report's 15 s on one). The files written are
        listed in the order of items, as if drawn one after the other."""
        items = list(items)
        if len(items) < 2 or (os.cpu_count() or 1) < 2:
            for item in items:
                draw(self, item)
            return
        def drawn(stripe):
            """Draws each item of stripe; the files of each, in order."""
            files = []
            for item in stripe:
                before = len(self.written)
                draw(self, item)
                files.append(self.written[before:])
                del self.written[before:]
            return files

        read_end, write_end = os.pipe()
        pid = os.fork()
        if pid == 0:  # the child: the odd items; reports its files or its error
            os.close(read_end)
            outcome = {"written": [], "error": None, "chart_not_written": False}
            status = 0
            try:
                outcome["written"] = drawn(items[1::2])
            except ChartNotWritten as error:
                outcome["error"], outcome["chart_not_written"] = str(error), True
            except BaseException as error:  # anything else: said, and the parent fails
                outcome["error"] = "drawing failed: %r" % (error,)
                status = 1
            with os.fdopen(write_end, "w") as pipe:
                json.dump(outcome, pipe)
            os._exit(status)
        os.close(write_end)
        mine, error = [], None
        try:
            mine = drawn(items[0::2])
        except ChartNotWritten as raised:
            error = raised
        with os.fdopen(read_end) as pipe:
            text = pipe.read()
        os.waitpid(pid, 0)
        if error is not None:
            raise error
        try:
            theirs = json.loads(text)
        except ValueError:
            raise RuntimeError("the process drawing every other chart ended without a word")
        if theirs["error"]:
            raise (ChartNotWritten if theirs["chart_not_written"] else RuntimeError)(theirs["error"])
        for index in range(len(items)):
            self.written.extend((mine if index % 2 == 0 else theirs["written"])[index // 2])

    def colours(self, count):
        palette = self.pyplot.get_cmap("tab10" if count <= 10 else "tab20")
        return [palette(i % palette.N) for i in range(count)]


# ---- bars: one figure per trace and allocator ---------------------------------

def natural_order(text):
    """Sort key that reads the numbers in a name as numbers: malloc_free/100
    before malloc_free/1000 (as text, /1000 came before /128)."""
    return [int(part) if part.isdigit() else part for part in re.split(r"(\d+)", text)]


def bar_chart(plotter, table, figure_name, threads, title_prefix, stem):
    # Only the traces measured at this thread count: the others would be empty slots.
    traces = sorted({r["trace"] for r in table.rows
                     if r["threads"] == threads and r.get(figure_name) is not None},
                    key=natural_order)
    series = resultcsv.allocator_configs([r for r in table.rows if r["threads"] == threads])
    spreads = {}
    for row_group in table.groups(("trace", "allocator", "block_size", "region_size",
                                   resultcsv.HUGE_PAGES_COLUMN, "threads")).items():
        (trace, allocator, block_size, region_size, huge_pages, group_threads), rows = row_group
        values = samples(rows, figure_name)
        if group_threads == threads and values:
            spreads[(trace, (allocator, block_size, region_size, huge_pages))] = Spread(values)
    if not spreads:
        return
    width = 0.8 / max(1, len(series))
    # At most 24 inches wide: 17 traces of 8 allocators made a 59-inch strip.
    figure, axes = plotter.pyplot.subplots(
        figsize=(min(24.0, max(6.0, 1.2 + len(traces) * (0.35 * len(series) + 0.5))), 4.8))
    for index, ((config, label), colour) in enumerate(zip(series, plotter.colours(len(series)))):
        positions, heights, below, above = [], [], [], []
        for trace_index, trace in enumerate(traces):
            spread = spreads.get((trace, config))
            if spread is None:
                continue
            positions.append(trace_index - 0.4 + width * (index + 0.5))
            heights.append(spread.median)
            below.append(spread.median - spread.low)
            above.append(spread.high - spread.median)
        if positions:
            axes.bar(positions, heights, width, label=label, color=colour,
                     yerr=[below, above], capsize=2, error_kw={"elinewidth": 0.8})
    if figure_name == "frag_rss":
        axes.axhline(1.0, color="grey", linestyle="--", linewidth=0.8)
    # Medians that span more than 20x (bump's rate on a small trace against gen-large's
    # 0.03 Mops/s, its frag_rss of 150 against 1.1) go on a log scale, where the
    # small bars stay visible.
    medians = [spread.median for spread in spreads.values() if spread.median > 0]
    if medians and max(medians) > 20 * min(medians):
        axes.set_yscale("log")
    repetitions = max(s.count for s in spreads.values())
    axes.set_title("%s %s by trace and allocator (%d thread%s)\nbars: median of up to %d "
                   "repetitions; whiskers: min to max"
                   % (title_prefix, FIGURE_TITLES.get(figure_name, figure_name).lower(),
                      threads, "" if threads == 1 else "s", repetitions), fontsize=10)
    axes.set_xticks(range(len(traces)))
    axes.set_xticklabels(traces, rotation=30 if len(traces) > 4 else 0, ha="right"
                         if len(traces) > 4 else "center")
    axes.set_xlabel("trace")
    axes.set_ylabel(axis_label(figure_name))
    axes.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.0, 1.0))  # beside the bars, not on them
    axes.grid(axis="y", alpha=0.3)
    plotter.save(figure, stem)


BAR_FIGURES = ("mops", "frag_rss")  # a bar chart each, where measured


def bar_charts(plotter, table, role):
    prefix = {"replay": "Replay", "micro": "Micro-benchmark", "sweep": "Sweep"}.get(role, role)
    several_threads = len(table.values("threads")) > 1
    for threads in table.values("threads"):
        suffix = "-t%d" % threads if several_threads else ""
        for figure_name in BAR_FIGURES:
            stem = "%s-%s%s" % (role, figure_name, suffix)
            bar_chart(plotter, table, figure_name, threads, prefix, stem)


# ---- memory over the replay -----------------------------------------------------

TIMELINE_LINES = (("live_bytes", "live (requested)", "black", "-"),
                  ("rss_bytes", "resident (RSS)", "tab:blue", "-"),
                  ("mapped_bytes", "mapped", "tab:orange", "--"))


def timeline_charts(plotter, table):
    stems = file_stems(table.values("trace"))
    plotter.draw_each(table.values("trace"),
                      lambda plotter, trace: timeline_chart(plotter, table, trace, stems[trace]))


def op_count_text(count, _position=None):
    """An op index for an axis: 250k, 1.5M."""
    if abs(count) >= 1e6:
        return "%gM" % (count / 1e6)
    if abs(count) >= 1e3:
        return "%gk" % (count / 1e3)
    return "%g" % count


def timeline_chart(plotter, table, trace, stem):
    groups = table.select(traces=[trace]).groups(("allocator", "block_size", "threads"))
    panels = sorted(groups.items(), key=lambda item: (allocator_rank(item[0][0]),
                                                        item[0][1:]))
    columns = min(3, len(panels))
    rows_of_panels = (len(panels) + columns - 1) // columns
    # Each panel its own y scale: one shared axis took bump's multi-GB reserve
    # (gen-medium) and flattened every other allocator's lines to its floor.
    # Each panel labels its axis, so the scales are read where they are.
    figure, grid = plotter.pyplot.subplots(
        rows_of_panels, columns, squeeze=False,
        figsize=(4.2 * columns, 3.2 * rows_of_panels + 0.6))
    several_configs = len({key[0] for key, _ in panels}) < len(panels)
    for axes, ((allocator, block_size, threads), rows) in zip(grid.flat, panels):
        rows = sorted(rows, key=lambda row: row["op_index"])
        for column, label, colour, style in TIMELINE_LINES:
            points = [(row["op_index"], row[column] / MIB) for row in rows
                      if row.get(column) is not None]
            if points:
                axes.plot(*zip(*points), label=label, color=colour, linestyle=style)
        title = allocator
        if several_configs:
            title += " bs=%d t=%d" % (block_size, threads)
        axes.set_title(title, fontsize=10)
        axes.set_xlabel("op index (ops replayed)")
        # 300000 written out ran into its neighbours on a 4-inch panel.
        axes.xaxis.set_major_formatter(op_count_text)
        axes.set_ylabel("memory (MiB)")
        axes.grid(alpha=0.3)
    for axes in list(grid.flat)[len(panels):]:
        axes.set_visible(False)
    # One legend for the figure: a panel may lack a line (mapped bytes unknown).
    labelled = {}
    for axes in grid.flat:
        for handle, label in zip(*axes.get_legend_handles_labels()):
            labelled.setdefault(label, handle)
    grid.flat[0].legend(labelled.values(), labelled.keys(), fontsize=8)
    figure.suptitle("Memory over the replay of %s: live vs resident vs mapped bytes"
                    % trace, fontsize=11)
    plotter.save(figure, "timeline-%s" % stem)


# ---- block-size sweep -----------------------------------------------------------

# The configuration columns a sweep may vary, in the order they are taken for
# the x axis: block sizes first, then region sizes, then huge-pages thresholds.
SWEPT_COLUMNS = ("block_size", "region_size", resultcsv.HUGE_PAGES_COLUMN)
SWEEP_NAMES = {"block_size": "Block-size", "region_size": "Region-size",
               resultcsv.HUGE_PAGES_COLUMN: "Huge-pages threshold"}
SWEEP_AXIS_LABELS = {"block_size": "block size (bytes, log2 scale)",
                     "region_size": "region size",
                     resultcsv.HUGE_PAGES_COLUMN: "huge pages from (threshold)"}


def swept_value_rank(column, value):
    """Sort key of one value of a swept column; None (the policy's own) first."""
    if column == resultcsv.HUGE_PAGES_COLUMN:
        return resultcsv.huge_pages_rank(value)
    return (0, 0) if value is None else (1, value)


def swept_value_text(column, value):
    """A value of a swept column for a tick label: 256, 64 KiB, never."""
    if value is None:
        return "policy's own"
    if column == "block_size":
        return str(value)
    if column == "region_size":
        return resultcsv.human_bytes(value)
    return resultcsv.huge_pages_text(value)


def _configurations(table, trace):
    """{(allocator, threads, block_size, region_size, huge_pages_from): rows} on trace."""
    return table.select(traces=[trace]).groups(("allocator", "threads") + SWEPT_COLUMNS)


def swept_column(table, trace):
    """The configuration column the sweep varies on trace, drawn along the x
    axis: the first of SWEPT_COLUMNS in which some allocator ran several
    values with the other columns fixed; None when no allocator ran several
    configurations there. Only block sizes were drawn: a sweep of region
    sizes or huge-pages thresholds alone (results/vm/*-hugepages) had no
    chart at all."""
    configs = list(_configurations(table, trace))
    for index, column in enumerate(SWEPT_COLUMNS):
        values = {}
        for allocator, threads, *config in configs:
            others = tuple(v for i, v in enumerate(config) if i != index)
            values.setdefault((allocator, threads, others), set()).add(config[index])
        if any(len(v) > 1 for v in values.values()):
            return column
    return None


def sweep_points(table, trace, along):
    """{(allocator, threads, fixed): [(value of along, mops Spread, frag
    Spread)]}: a line per allocator, thread count and fixed values of the
    other swept columns (fixed: ((column, value), ...)), its points in the
    order of along's values."""
    index = SWEPT_COLUMNS.index(along)
    lines = {}
    for (allocator, threads, *config), rows in _configurations(table, trace).items():
        fixed = tuple((c, v) for i, (c, v) in enumerate(zip(SWEPT_COLUMNS, config)) if i != index)
        mops, frag = samples(rows, "mops"), samples(rows, "frag_rss")
        lines.setdefault((allocator, threads, fixed), []).append(
            (config[index], Spread(mops) if mops else None, Spread(frag) if frag else None))
    return {key: sorted(points, key=lambda p: swept_value_rank(along, p[0]))
            for key, points in lines.items()}


def line_label(allocator, threads, fixed, several_threads):
    """arena region 64 KiB hp=16 MiB: the allocator and the fixed columns set."""
    label = allocator
    for column, value in fixed:
        if value is None:
            continue
        if column == "block_size":
            label += " bs=%d" % value
        elif column == "region_size":
            label += " region %s" % resultcsv.human_bytes(value)
        else:
            label += " hp=%s" % resultcsv.huge_pages_text(value)
    if several_threads:
        label += " t=%d" % threads
    return label


def fixed_order(fixed):
    """Sort key of the fixed columns of a line."""
    return tuple(swept_value_rank(column, value) for column, value in fixed)


def sweep_charts(plotter, table):
    several_threads = len(table.values("threads")) > 1
    styles = ("-", "--", ":", "-.")
    stems = file_stems(table.values("trace"))
    for trace in table.values("trace"):
        along = swept_column(table, trace)
        if along is None:
            continue
        swept = {k: v for k, v in sweep_points(table, trace, along).items() if len(v) > 1}
        figure, (left, right) = plotter.pyplot.subplots(1, 2, figsize=(11, 4.4))
        allocators = sorted({k[0] for k in swept}, key=allocator_rank)
        # A colour per value of the fixed columns (region size, huge-pages
        # threshold); a line style per allocator.
        fixed_values = sorted({k[2] for k in swept}, key=fixed_order)
        colours = dict(zip(fixed_values, plotter.colours(len(fixed_values))))
        values = sorted({p[0] for points in swept.values() for p in points},
                        key=lambda v: swept_value_rank(along, v))
        # Block sizes on a log2 axis; the others in their order, evenly
        # spaced (the policy's own region or threshold has no number to place).
        position = ({v: v for v in values} if along == "block_size"
                    else {v: i for i, v in enumerate(values)})
        for (allocator, threads, fixed), points in sorted(
                swept.items(), key=lambda item: (allocator_rank(item[0][0]),
                                                 fixed_order(item[0][2]))):
            style = styles[allocators.index(allocator) % len(styles)]
            label = line_label(allocator, threads, fixed, several_threads)
            for axes, figure_at in ((left, 1), (right, 2)):
                measured = [(p[0], p[figure_at]) for p in points if p[figure_at] is not None]
                if not measured:
                    continue
                x = [position[value] for value, _ in measured]
                y = [spread.median for _, spread in measured]
                error = [[s.median - s.low for _, s in measured],
                         [s.high - s.median for _, s in measured]]
                axes.errorbar(x, y, yerr=error, label=label, color=colours[fixed],
                              linestyle=style, marker="o", markersize=3, capsize=2)
        for axes, figure_name in ((left, "mops"), (right, "frag_rss")):
            if along == "block_size":
                axes.set_xscale("log", base=2)
            axes.set_xticks([position[v] for v in values])
            axes.set_xticklabels([swept_value_text(along, v) for v in values], rotation=45)
            axes.set_xlabel(SWEEP_AXIS_LABELS[along])
            axes.set_ylabel(axis_label(figure_name))
            axes.set_title(FIGURE_TITLES[figure_name], fontsize=10)
            axes.grid(alpha=0.3)
        left.legend(fontsize=8)
        figure.suptitle("%s sweep on %s (median, whiskers min to max)"
                        % (SWEEP_NAMES[along], trace), fontsize=11)
        plotter.save(figure, "sweep-%s" % stems[trace])


def pareto_front(points):
    """The points (frag, mops, ...) that no other point beats on both figures:
    lower frag_rss and higher throughput. Sorted by frag_rss."""
    front = []
    for point in sorted(points, key=lambda p: (p[0], -p[1])):
        if not front or point[1] > front[-1][1]:
            front.append(point)
    return front


def swept_traces(table):
    """The traces on which some allocator ran several configurations."""
    return [t for t in table.values("trace") if swept_column(table, t) is not None]


def pareto_chart(plotter, table):
    traces = swept_traces(table)
    if not traces:
        return
    columns = min(3, len(traces))
    rows_of_panels = (len(traces) + columns - 1) // columns
    figure, grid = plotter.pyplot.subplots(rows_of_panels, columns, squeeze=False,
                                           figsize=(5 * columns, 4.2 * rows_of_panels + 0.6))
    for axes, trace in zip(grid.flat, traces):
        points = []
        for (allocator, _, block_size, region_size, huge_pages), rows in \
                _configurations(table, trace).items():
            mops, frag = samples(rows, "mops"), samples(rows, "frag_rss")
            if mops and frag:
                label = "%s %d" % (allocator, block_size)
                if region_size is not None:
                    label += "/" + resultcsv.human_bytes(region_size).replace(" ", "")
                if huge_pages is not None:
                    label += "/hp=" + resultcsv.huge_pages_text(huge_pages).replace(" ", "")
                points.append((Spread(frag).median, Spread(mops).median, label, allocator))
        allocators = sorted({p[3] for p in points}, key=allocator_rank)
        for allocator, colour in zip(allocators, plotter.colours(len(allocators))):
            mine = [p for p in points if p[3] == allocator]
            axes.scatter([p[0] for p in mine], [p[1] for p in mine], s=14, color=colour,
                         label=allocator, alpha=0.7)
        front = pareto_front(points)
        axes.plot([p[0] for p in front], [p[1] for p in front], color="black",
                  linewidth=1, label="Pareto front")
        for frag, mops, label, _ in front:
            axes.annotate(label, (frag, mops), fontsize=6, xytext=(3, 3),
                          textcoords="offset points")
        axes.set_title(trace, fontsize=10)
        axes.set_xlabel(axis_label("frag_rss").replace("\n", ", "))
        axes.set_ylabel(axis_label("mops"))
        axes.grid(alpha=0.3)
        axes.legend(fontsize=7)
    for axes in list(grid.flat)[len(traces):]:
        axes.set_visible(False)
    figure.suptitle("Throughput against memory per configuration (medians; labels: "
                    "block size / region size on the front)", fontsize=11)
    plotter.save(figure, "pareto")


# ---- the whole run ----------------------------------------------------------------

def has_charts(run):
    """Whether make_plots draws anything from the run's files: not for real
    programs alone (realprog.csv), nor for instructions alone (a replay.csv
    without throughput or frag_rss)."""
    for role in ("replay", "micro"):
        table = run.tables.get(role)
        if table is not None and any(samples(table.rows, name) for name in BAR_FIGURES):
            return True
    sweep = run.sweep_table()
    return ((sweep is not None and bool(swept_traces(sweep)))
            or (run.timeline is not None and bool(run.timeline.values("trace"))))


def make_plots(run, outdir, traces=None, allocators=None, formats=("png", "svg")):
    """Writes every chart the run's files allow; returns the paths written.
    Raises MissingMatplotlib when matplotlib cannot be imported."""
    plotter = Plotter(load_pyplot(), outdir, formats)
    sweep = run.sweep_table()
    for role in ("replay", "micro", "sweep"):
        table = run.tables.get(role)
        if table is None or role == "sweep":   # a sweep gets its own charts below
            continue
        bar_charts(plotter, table.select(traces, allocators), role)
    if sweep is not None:
        sweep_charts(plotter, sweep.select(traces, allocators))
        pareto_chart(plotter, sweep.select(traces, allocators))
    if run.timeline is not None:
        timeline_charts(plotter, run.timeline.select(traces, allocators))
    return plotter.written


def main(argv=None):
    parser = argparse.ArgumentParser(
        prog=PROGRAM, description="Charts (PNG and SVG) of one benchmark run. Needs "
        "Debian's python3-matplotlib (use /usr/bin/python3).")
    parser.add_argument("inputs", nargs="+", metavar="RUN_DIR|CSV",
                        help="a results directory, or result files (replay/micro/sweep/"
                             "timeline CSV)")
    parser.add_argument("-o", "--outdir", help="where the charts go, made when missing "
                        "(default: RUN_DIR/plots)")
    parser.add_argument("--traces", type=resultcsv.comma_list, metavar="A,B",
                        help="only these traces")
    parser.add_argument("--allocators", type=resultcsv.comma_list, metavar="X,Y",
                        help="only these allocators")
    parser.add_argument("--formats", type=resultcsv.comma_list, default=["png", "svg"],
                        metavar="png,svg", help="image formats, any of png, svg and pdf (default: png,svg)")
    args = parser.parse_intermixed_args(sys.argv[1:] if argv is None else argv)
    unknown_formats = set(args.formats) - {"png", "svg", "pdf"}
    if unknown_formats or not args.formats:
        parser.error("--formats: png, svg or pdf")
    run = resultcsv.read_run_or_exit(args.inputs, PROGRAM)
    outdir = args.outdir or os.path.join(run.directory, "plots")
    resultcsv.directory_writable_or_exit(outdir, PROGRAM)
    try:
        written = make_plots(run, outdir, args.traces, args.allocators, args.formats)
    except MissingMatplotlib as error:
        print(error, file=sys.stderr)
        return EXIT_NO_MATPLOTLIB
    except ChartNotWritten as error:
        print("%s: %s" % (PROGRAM, error), file=sys.stderr)
        return resultcsv.EXIT_CANNOT_WRITE
    if not written:
        if args.traces or args.allocators:
            why = "no rows left after --traces and --allocators"
        else:
            why = ("charts are drawn from throughput or frag_rss (replay, micro, sweep) and "
                   "timelines; %s has none" % " ".join(args.inputs))
        print("%s: nothing to plot: %s" % (PROGRAM, why), file=sys.stderr)
        return 1
    for path in written:
        print(path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
