#!/usr/bin/env python3
"""Compare benchmark result CSVs, with significance.

  compare.py OLD.csv NEW.csv            the same configurations in two runs
  compare.py RUN.csv --baseline glibc   every allocator against one, in one run

Rows are joined on (trace, allocator, block_size, threads), plus region_size
and huge_pages_from when the file has those columns; the repetitions of a
configuration are its samples. For each configuration and figure: both
medians, the change (or the ratio to the baseline), a two-sided Mann-Whitney U
p-value over the repetitions, and a verdict: faster/slower for time figures,
leaner/fatter for memory figures, "same" unless p < 0.05 AND the change is
larger than the noise floor (default 10% for time, 5% for memory: see --help),
counted up from the smaller median so that mops and ns_per_op of one run agree.
A geometric-mean row per figure sums the configurations up.

Wall time on a shared VM varies 12-85% between runs of the same replay
(docs/measuring.md): with fewer than 5 repetitions on a side the tool warns
that p-values are weak (3 against 3 cannot go below 0.1, 3 against 4 below
0.057; 4 against 4 can reach 0.029).

Exit status: 0; 1 with --fail-on-regression when a time or memory figure got
significantly worse by more than the threshold (counted up from the smaller
median, as the noise floor), or a configuration of OLD has no rows in NEW
(a crash drops a configuration's rows: a gate that compared the rest
passed); 2 for bad flags, a malformed CSV (printed as FILE:LINE: what is
wrong), or nothing to compare.

Python 3 standard library only (scipy is not needed).
"""

import argparse
import math
import statistics
import sys
from dataclasses import dataclass, field

import resultcsv
from resultcsv import (HIGHER_IS_BETTER, MACHINE_FACTS, describe_key, figure_direction,
                       figure_kind, samples)
from stats import geometric_mean, mann_whitney_u, ratio
from tables import FORMATS, Num, format_number, render

PROGRAM = "compare.py"
SIGNIFICANCE = 0.05
MIN_REPETITIONS = 5
DEFAULT_TIME_NOISE = 10.0     # percent; medians of >= 5 runs move less than this
DEFAULT_MEMORY_NOISE = 5.0    # percent; RSS varies under 1% run to run

VERDICT_WORDS = {"time": ("faster", "slower"), "memory": ("leaner", "fatter"),
                 None: ("higher", "lower")}
WORSE_VERDICTS = ("slower", "fatter")
# Columns that describe the replayed workload: equal in two runs of the same
# traces (when fixed within each configuration: see workload_warnings).
WORKLOAD_COLUMNS = ("ops", "peak_live_bytes")


@dataclass
class NoiseFloors:
    """The smallest change, in percent, that a verdict may call a difference."""
    time: float = DEFAULT_TIME_NOISE
    memory: float = DEFAULT_MEMORY_NOISE

    def for_figure(self, figure):
        # Figures of unknown kind get the looser (time) floor.
        return self.memory if figure_kind(figure) == "memory" else self.time


@dataclass
class FigureComparison:
    """One figure of one configuration against its reference."""
    key: tuple
    figure: str
    reference: list
    measured: list
    reference_median: float = None
    measured_median: float = None
    ratio: float = None       # measured / reference medians
    p_value: float = None
    verdict: str = "n/a"

    @property
    def change_pct(self):
        return None if self.ratio is None else (self.ratio - 1) * 100

    @property
    def worse_pct(self):
        """How much worse the measured side is, in percent of the reference
        (negative when better); None when the figure has no direction."""
        direction = figure_direction(self.figure)
        if self.ratio is None or direction is None:
            return None
        # Counted as the verdict counts a change (change_either_way_pct): a mops
        # fall of 9.5% is the ns_per_op rise of 10.5% that --fail-on-regression 10 catches.
        worse = (self.ratio < 1) == (direction == HIGHER_IS_BETTER)
        magnitude = change_either_way_pct(self.ratio)
        return magnitude if worse else -magnitude


@dataclass
class GeomeanRow:
    """The geometric mean of the ratios of one figure over several keys."""
    group: tuple              # key with the summed-over columns set to None
    figure: str
    ratio: float              # None when no key has a ratio the mean can take
    keys: int
    verdicts: dict = field(default_factory=dict)
    left_out: int = 0         # keys whose ratio is 0, infinite or missing

    def verdict_summary(self):
        summary = ", ".join("%d %s" % (count, verdict)
                            for verdict, count in sorted(self.verdicts.items())) or "-"
        if self.left_out:
            summary += "; %d left out of the mean (no ratio, 0 or infinite)" % self.left_out
        return summary


@dataclass
class Comparison:
    key_columns: tuple
    reference_label: str
    measured_label: str
    rows: list
    geomeans: list
    warnings: list
    # OLD's configurations that NEW lacks (it failed there, or was not run):
    # a regression to --fail-on-regression. Empty against a baseline.
    missing_from_new: list = field(default_factory=list)


def change_either_way_pct(figure_ratio):
    """The change a ratio stands for, in percent, measured up from the smaller
    side: 1.105 and 1/1.105 both 10.5%. A floor on the signed change would call
    mops +10.5% a change and the same run's ns_per_op -9.5% none."""
    if figure_ratio <= 0 or math.isinf(figure_ratio):
        return math.inf
    return (max(figure_ratio, 1 / figure_ratio) - 1) * 100


def compare_figure(key, figure, reference, measured, noise):
    """Compares the repetitions of one figure: medians, ratio, p-value, verdict."""
    row = FigureComparison(key, figure, reference, measured)
    row.reference_median = statistics.median(reference) if reference else None
    row.measured_median = statistics.median(measured) if measured else None
    if not reference or not measured:
        row.verdict = "missing"     # measured on one side only
        return row
    if row.reference_median == 0 and row.measured_median >= 0:
        # From nothing (resident after teardown 0 -> 10 MB): no finite ratio,
        # but a change all the same, which must not go without a verdict.
        row.ratio = 1.0 if row.measured_median == 0 else math.inf
    else:
        row.ratio = ratio(row.measured_median, row.reference_median)
    row.p_value = mann_whitney_u(reference, measured)[1]
    if row.ratio is None:
        return row
    significant = (row.p_value < SIGNIFICANCE
                   and change_either_way_pct(row.ratio) > noise.for_figure(figure))
    if not significant:
        row.verdict = "same"
    else:
        better_word, worse_word = VERDICT_WORDS[figure_kind(figure)]
        direction = figure_direction(figure)
        if direction is None:   # no better or worse: say which way it moved
            row.verdict = better_word if row.ratio > 1 else worse_word
        else:
            improved = (row.ratio > 1) == (direction == HIGHER_IS_BETTER)
            row.verdict = better_word if improved else worse_word
    return row


def geomean_rows(rows, key_columns, summed_columns):
    """One GeomeanRow per figure and per group of keys that differ only in
    summed_columns. Keys with no positive finite ratio are left out of the
    mean, and counted (a mean over 1 of 16 keys says so); a group none of
    whose keys has one keeps its row, with no mean, for its verdicts."""
    grouped = {}
    for row in rows:
        group = tuple(None if column in summed_columns else value
                      for column, value in zip(key_columns, row.key))
        grouped.setdefault((group, row.figure), []).append(row)
    result = []
    for (group, figure), members in grouped.items():
        ratios = [m.ratio for m in members if m.ratio is not None and 0 < m.ratio < math.inf]
        verdicts = {}
        for member in members:
            verdicts[member.verdict] = verdicts.get(member.verdict, 0) + 1
        result.append(GeomeanRow(group, figure, geometric_mean(ratios) if ratios else None, len(ratios),
                                 verdicts, len(members) - len(ratios)))
    return result


def shared_figures(tables, requested):
    """The figures to compare: the requested ones, or every figure column that
    all tables have, in the first table's order."""
    available = [c for c in tables[0].figure_columns()
                 if all(c in t.numeric_columns for t in tables[1:])]
    if requested:
        return [f for f in requested if f in available]
    return available


def can_be_significant(first_count, second_count):
    """Whether samples of these sizes can reach p < SIGNIFICANCE at all: the
    smallest two-sided Mann-Whitney p is 2 / C(m + n, m) (3 against 3: 0.1)."""
    if not first_count or not second_count:
        return False
    return 2 / math.comb(first_count + second_count, first_count) < SIGNIFICANCE


def _repetition_warning(rows, key_columns):
    """A warning when configurations had too few repetitions for p-values to
    mean much. A configuration's repetitions are those of its best-sampled
    figure: some figures are measured once by design (bench_replay's
    latencies, lat_*, in the first repetition only), and counting by them
    called a run of 5 repetitions a run of 1."""
    repetitions = {}
    for r in rows:
        if r.reference and r.measured:
            sides = min(len(r.reference), len(r.measured))
            repetitions[r.key] = max(repetitions.get(r.key, 0), sides)
    few = {key: count for key, count in repetitions.items() if count < MIN_REPETITIONS}
    if not few:
        return []
    keys = sorted(describe_key(key_columns, key) for key in few)
    return ["fewer than %d repetitions on a side for %d configuration(s) (e.g. %s; as few "
            "as %d): p-values are weak and small differences cannot be significant"
            % (MIN_REPETITIONS, len(keys), keys[0], min(few.values()))]


def output_warnings(tables):
    """Warnings for real-program runs whose output check failed: their times
    and memory describe a broken run."""
    return ["output check failed in %s for: %s (those runs' figures are left out)"
            % (t.path, ", ".join(resultcsv.failed_outputs(t)))
            for t in tables if resultcsv.failed_outputs(t)]


# Page fault costs (the `page_fault_us` fact) further apart than this factor
# make two runs' throughput incomparable: a VM's host sets them (1.6 to 15 us
# seen), and one host's drift from run to run stays within about 2x (1.58 and
# 2.43 us in two runs ten minutes apart).
FAULT_COST_SPREAD = 2.5


def fact_number(text):
    """A fact's value as a number (resultcsv's rule for fields), or None (absent,
    "unknown", not a number)."""
    try:
        return resultcsv.parse_number(text or "")
    except ValueError:
        return None


def facts_warnings(old, new):
    """Warnings when the two runs' machine facts (or allocator versions) differ."""
    if not old.facts or not new.facts:
        missing = [t.path for t in (old, new) if not t.facts]
        return ["no machine facts in %s: cannot check that the runs are comparable"
                % " and ".join(missing)]
    # A machine fact missing on one side counts as differing; an allocator
    # version only when both runs name one (the other may not have had it).
    names = list(MACHINE_FACTS) + sorted(n for n in old.facts
                                         if n.startswith("allocator.") and n in new.facts)
    differing = ["%s: '%s' vs '%s'" % (n, old.facts.get(n, "?"), new.facts.get(n, "?"))
                 for n in names if old.facts.get(n) != new.facts.get(n)]
    warnings = []
    if differing:
        warnings.append("the runs' machine facts differ (%s): changes mix machine and allocator "
                        "effects" % "; ".join(differing))
    faults = [fact_number(t.facts.get("page_fault_us")) for t in (old, new)]
    if None not in faults and min(faults) > 0 and max(faults) / min(faults) > FAULT_COST_SPREAD:
        warnings.append("a page fault cost %s us in one run and %s us in the other: every "
                        "allocator pays one per page it hands out, so throughput and its ratios "
                        "move with that" % tuple(t.facts["page_fault_us"] for t in (old, new)))
    settings = [resultcsv.command_settings(t.facts) for t in (old, new)]
    if settings[0] != settings[1]:
        warnings.append("the runs' allocator settings differ (%s vs %s): a change may be the "
                        "setting's" % tuple(" ".join(s) or "(none)" for s in settings))
    return warnings


def varies_within_a_configuration(groups, column):
    """Whether column takes more than one value among the repetitions of some
    configuration: then it describes each measurement, not the workload
    (bench_micro's ops is the number of calls Google Benchmark chose for
    each repetition)."""
    return any(len({row.get(column) for row in rows}) > 1 for rows in groups.values())


def workload_warnings(old_groups, new_groups, key_columns, keys):
    """Warnings when a workload figure (ops, peak live bytes) differs: the
    traces or the replay changed, so the comparison is not like for like.
    Only a column with one fixed value per configuration in both files is a
    workload figure: one that varies between the repetitions of a
    configuration would differ between any two runs (the micro run's ops did
    in 346 of 347 configurations), including where its repetitions happened
    to agree."""
    warnings = []
    for column in WORKLOAD_COLUMNS:
        if any(varies_within_a_configuration(groups, column)
               for groups in (old_groups, new_groups)):
            continue
        differing = [k for k in keys
                     if resultcsv.median_of(old_groups[k], column)
                     != resultcsv.median_of(new_groups[k], column)]
        if differing:
            warnings.append("%s differs in %d configuration(s) (e.g. %s): the workload "
                            "changed between the runs" % (column, len(differing),
                                                         describe_key(key_columns, differing[0])))
    return warnings


def compare_runs(old, new, figures=None, noise=NoiseFloors()):
    """OLD against NEW, configuration by configuration."""
    if old.kind != new.kind:
        raise ValueError("%s is a %s file and %s a %s file: they do not compare"
                         % (old.path, old.kind, new.path, new.kind))
    # The key includes region_size (huge_pages_from) when either file has the
    # column; a file without it has None there, so its rows join only rows
    # without one.
    key_columns = resultcsv.CONFIG_COLUMNS + tuple(
        c for c in resultcsv.OPTIONAL_CONFIG_COLUMNS
        if c in old.config_columns or c in new.config_columns)
    for table in (old, new):
        if not table.rows:
            raise ValueError("%s has a header and no rows: nothing to compare" % table.path)
    old_groups, new_groups = old.groups(key_columns), new.groups(key_columns)
    common = [k for k in old_groups if k in new_groups]
    if not common:
        raise ValueError("%s and %s share no configuration (%s): nothing to compare"
                         % (old.path, new.path, ", ".join(key_columns)))
    rows = [compare_figure(key, figure, samples(old_groups[key], figure),
                           samples(new_groups[key], figure), noise)
            for key in common for figure in shared_figures([old, new], figures)]
    rows = [r for r in rows if r.reference or r.measured]   # not measured in either run
    if not rows:
        raise ValueError("%s and %s: none of the figures asked for was measured in either "
                         "run: nothing to compare" % (old.path, new.path))
    warnings = facts_warnings(old, new) + output_warnings([old, new])
    warnings += _repetition_warning(rows, key_columns)
    warnings += workload_warnings(old_groups, new_groups, key_columns, common)
    only_in_old = [k for k in old_groups if k not in new_groups]
    only_in_new = [k for k in new_groups if k not in old_groups]
    for path, alone in ((old.path, only_in_old), (new.path, only_in_new)):
        if alone:
            warnings.append("%d configuration(s) only in %s: %s"
                            % (len(alone), path, "; ".join(describe_key(key_columns, k) for k in alone)))
    geomeans = geomean_rows(rows, key_columns, summed_columns=key_columns)
    comparison = Comparison(key_columns, "old", "new", rows, geomeans, warnings)
    comparison.missing_from_new = only_in_old
    return comparison


class NothingToCompare(ValueError):
    """No configuration of a run could be held against the baseline."""


class AmbiguousBaseline(ValueError):
    """The baseline ran several configurations where one was to be chosen."""


def _same_workload(key, key_columns, baseline_groups):
    """The baseline's configurations on the same trace and thread count as key."""
    position = {c: i for i, c in enumerate(key_columns)}
    return [b for b in baseline_groups
            if b[position["trace"]] == key[position["trace"]]
            and b[position["threads"]] == key[position["threads"]]]


def _baseline_for(key, key_columns, baseline_groups):
    """The baseline configuration to hold one configuration against: on the
    same trace and thread count; when the baseline ran several block or region
    sizes or huge-pages thresholds, the one that matches. None when there is
    none or it is ambiguous."""
    position = {c: i for i, c in enumerate(key_columns)}
    same_workload = _same_workload(key, key_columns, baseline_groups)
    if len(same_workload) == 1:
        return same_workload[0]
    matching = [b for b in same_workload
                if all(b[i] == key[i] for c, i in position.items()
                       if c in ("block_size",) + resultcsv.OPTIONAL_CONFIG_COLUMNS)]
    return matching[0] if len(matching) == 1 else None


def _has_several_configurations(groups, key_columns, allocator):
    """Whether allocator ran several configurations on one trace and thread count."""
    at = {c: key_columns.index(c) for c in ("trace", "allocator", "threads")}
    seen = set()
    for key in groups:
        if key[at["allocator"]] == allocator:
            workload = (key[at["trace"]], key[at["threads"]])
            if workload in seen:
                return True
            seen.add(workload)
    return False


def _configurations_of(keys, key_columns):
    """The distinct configurations (block size, region size, huge-pages
    threshold) among keys, for people: `bs=16 hp=8 MiB`, smallest first."""
    columns = [c for c in key_columns if c in ("block_size",) + resultcsv.OPTIONAL_CONFIG_COLUMNS]
    at = [key_columns.index(c) for c in columns]
    configs = {tuple(key[i] for i in at) for key in keys}

    def order(config):
        return tuple(resultcsv.huge_pages_rank(value) if column == resultcsv.HUGE_PAGES_COLUMN
                     else (value or 0) for column, value in zip(columns, config))
    return [describe_key(columns, config) for config in sorted(configs, key=order)]


def compare_to_baseline(table, baseline, figures=None, noise=NoiseFloors()):
    """Every allocator in one run against the baseline allocator's rows.
    Raises AmbiguousBaseline when the baseline ran several configurations on
    a trace and another configuration there matches none of them (no ratio
    to "the baseline" is then defined: a --huge-pages-from sweep of arena
    against its glibc rows), NothingToCompare when no configuration could be
    held against it (only the baseline ran)."""
    key_columns = table.config_columns
    allocator_at = key_columns.index("allocator")
    groups = table.groups(key_columns)
    baseline_groups = {k: v for k, v in groups.items() if k[allocator_at] == baseline}
    if not baseline_groups:
        raise ValueError("%s has no rows for the baseline allocator '%s' (allocators: %s)"
                         % (table.path, baseline, ", ".join(table.values("allocator"))))
    rows, unmatched, ambiguous = [], [], []
    chosen_figures = shared_figures([table], figures)
    for key, group in groups.items():
        if key[allocator_at] == baseline:
            continue
        reference_key = _baseline_for(key, key_columns, baseline_groups)
        if reference_key is None:
            several = len(_same_workload(key, key_columns, baseline_groups)) > 1
            (ambiguous if several else unmatched).append(key)
            continue
        compared = (compare_figure(key, figure, samples(baseline_groups[reference_key], figure),
                                   samples(group, figure), noise) for figure in chosen_figures)
        rows.extend(r for r in compared if r.reference or r.measured)
    others = sorted({k[allocator_at] for k in groups} - {baseline}, key=resultcsv.allocator_rank)
    if ambiguous:
        single = [a for a in others if not _has_several_configurations(groups, key_columns, a)]
        raise AmbiguousBaseline(
            "the baseline %s ran several configurations in %s (%s), and %d configuration(s) "
            "match none of them (e.g. %s): a ratio to %s is not defined; take as baseline an "
            "allocator that ran one configuration%s"
            % (baseline, table.path, "; ".join(_configurations_of(baseline_groups, key_columns)),
               len(ambiguous), describe_key(key_columns, ambiguous[0]), baseline,
               " (%s)" % ", ".join(single) if single else ""))
    if not rows:
        if not others:
            why = "only %s ran" % baseline
        elif unmatched:
            why = ("no configuration of %s ran on a trace and thread count that %s ran"
                   % (", ".join(others), baseline))
        else:
            why = "none of the figures asked for was measured"
        raise NothingToCompare("%s: nothing to compare against the baseline %s: %s"
                               % (table.path, baseline, why))
    warnings = output_warnings([table]) + _repetition_warning(rows, key_columns)
    if unmatched:
        warnings.append("no %s rows on the same trace and threads for: %s"
                        % (baseline, "; ".join(describe_key(key_columns, k) for k in unmatched)))
    # Summed over the traces, whatever their thread counts: a threaded trace
    # replays on its own count of threads, so grouping by threads too would
    # split the geometric mean into one row per threaded trace.
    geomeans = geomean_rows(rows, key_columns, summed_columns=("trace", "threads"))
    return Comparison(key_columns, baseline, "median", rows, geomeans, warnings)


# ---- output -------------------------------------------------------------------

# Shorter headers for people; a CSV keeps the input's column names, so that a
# program reads the key columns of both by the same names.
_SHORT_NAMES = {"block_size": "block", "region_size": "region",
                resultcsv.HUGE_PAGES_COLUMN: "huge pages from"}


def render_comparison(comparison, fmt="text", baseline_mode=False):
    """The comparison as a table: one row per configuration and figure, then
    the geometric-mean rows."""
    key_header = [c if fmt == "csv" else _SHORT_NAMES.get(c, c) for c in comparison.key_columns]
    change_header = "ratio" if baseline_mode else "change"
    header = key_header + ["figure", comparison.reference_label, comparison.measured_label,
                           change_header, "p", "verdict"]

    def change_cell(row_ratio):
        if baseline_mode:
            return Num(row_ratio, "ratio")
        return Num(None if row_ratio is None else (row_ratio - 1) * 100, "percent")

    def key_cells(key):
        return ["" if v is None else v if isinstance(v, str) else str(v) for v in key]

    table_rows = [key_cells(r.key) + [r.figure, Num(r.reference_median),
                                      Num(r.measured_median), change_cell(r.ratio),
                                      Num(r.p_value, "pvalue"), r.verdict]
                  for r in comparison.rows]
    for g in comparison.geomeans:
        cells = key_cells(g.group)
        # The summed-over columns are empty; the first of them names the row.
        first_empty = cells.index("") if "" in cells else 0
        cells[first_empty] = "geomean (%d)" % g.keys
        table_rows.append(cells + [g.figure, "", "", change_cell(g.ratio), "",
                                   g.verdict_summary()])
    return render(header, table_rows, fmt)


def regressions(comparison, threshold_pct):
    """Rows of time or memory figures significantly worse (p below the
    significance level) by more than threshold_pct. The threshold stands in for
    the noise floor: one below it asks for the changes between the two, which
    the verdicts call "same" (a 7% fall at p = 0.008 with the 10% floor
    passed --fail-on-regression 5)."""
    return [r for r in comparison.rows
            if r.p_value is not None and r.p_value < SIGNIFICANCE and r.worse_pct is not None
            and r.worse_pct > threshold_pct]


def parse_arguments(argv):
    parser = argparse.ArgumentParser(
        prog=PROGRAM,
        usage="%(prog)s [options] OLD.csv NEW.csv\n       %(prog)s [options] RUN.csv "
              "--baseline ALLOCATOR",
        description="Compare benchmark result CSVs (replay, micro, sweep or realprog) "
                    "with medians, Mann-Whitney U p-values and verdicts.",
        epilog="A verdict other than 'same' needs p < %.2f and a change larger than the "
               "noise floor. Exit status: 0, 1 on --fail-on-regression, 2 on bad flags or "
               "a malformed CSV." % SIGNIFICANCE)
    parser.add_argument("files", nargs="+", metavar="CSV",
                        help="OLD.csv NEW.csv, or one RUN.csv with --baseline")
    parser.add_argument("--baseline", metavar="ALLOCATOR",
                        help="compare every allocator in one run against this one (e.g. glibc)")
    parser.add_argument("--figures", type=resultcsv.comma_list, metavar="A,B",
                        help="compare only these columns (default: every figure both share)")
    parser.add_argument("--noise", type=resultcsv.non_negative_number, metavar="PCT",
                        help="noise floor for every figure, in percent (sets both below)")
    parser.add_argument("--time-noise", type=resultcsv.non_negative_number, default=DEFAULT_TIME_NOISE, metavar="PCT",
                        help="noise floor for time figures (default %(default)g%%)")
    parser.add_argument("--memory-noise", type=resultcsv.non_negative_number, default=DEFAULT_MEMORY_NOISE,
                        metavar="PCT",
                        help="noise floor for memory figures (default %(default)g%%)")
    parser.add_argument("--fail-on-regression", type=resultcsv.non_negative_number, metavar="PCT",
                        help="exit 1 when a time or memory figure got significantly worse "
                             "by more than PCT percent, counted up from the smaller median "
                             "as the noise floor is (a mops fall of 9.5%% is the ns_per_op "
                             "rise of 10.5%%: both count as 10.5%%), or when a configuration "
                             "of OLD has no rows in NEW (it failed, or was not run)")
    parser.add_argument("--format", choices=FORMATS, default="text",
                        help="output format (default: %(default)s)")
    args = parser.parse_intermixed_args(argv)
    if args.baseline and len(args.files) != 1:
        parser.error("--baseline takes one RUN.csv")
    if not args.baseline and len(args.files) != 2:
        parser.error("give OLD.csv NEW.csv, or one RUN.csv with --baseline ALLOCATOR")
    if args.noise is not None:
        args.time_noise = args.memory_noise = args.noise
    return parser, args


def main(argv=None):
    parser, args = parse_arguments(sys.argv[1:] if argv is None else argv)
    tables = [resultcsv.read_or_exit(path, PROGRAM) for path in args.files]
    for table in tables:
        if table.kind == "timeline":
            parser.error("%s is a timeline export: plot it with plot.py" % table.path)
    if args.figures:
        unknown = [f for f in args.figures if f not in shared_figures(tables, None)]
        if unknown:
            parser.error("--figures: no such figure in every file: %s" % ", ".join(unknown))
    noise = NoiseFloors(time=args.time_noise, memory=args.memory_noise)
    try:
        if args.baseline:
            comparison = compare_to_baseline(tables[0], args.baseline, args.figures, noise)
        else:
            comparison = compare_runs(tables[0], tables[1], args.figures, noise)
    except ValueError as error:
        print("%s: %s" % (PROGRAM, error), file=sys.stderr)
        return resultcsv.EXIT_USAGE
    for warning in comparison.warnings:
        print("warning: %s" % warning, file=sys.stderr)
    resultcsv.write_stdout_or_exit(render_comparison(comparison, args.format, bool(args.baseline)), PROGRAM)

    if args.fail_on_regression is not None:
        worse = regressions(comparison, args.fail_on_regression)
        for row in worse:
            # A fall is held against the threshold as the rise it stands for
            # (a mops fall of 9.5% caught by PCT 10 is 10.5% worse): said beside it.
            counted = ("" if row.ratio >= 1 else
                       ", %.1f%% worse from the smaller median" % row.worse_pct)
            print("regression: %s %s: %s -> %s (%+.1f%%%s, p=%.2g)"
                  % (describe_key(comparison.key_columns, row.key), row.figure,
                     format_number(row.reference_median), format_number(row.measured_median),
                     row.change_pct, counted, row.p_value), file=sys.stderr)
        for key in comparison.missing_from_new:
            print("regression: %s: no rows in %s (failed, or not run)"
                  % (describe_key(comparison.key_columns, key), tables[-1].path), file=sys.stderr)
        if worse or comparison.missing_from_new:
            return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
