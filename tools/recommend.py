#!/usr/bin/env python3
"""Recommend a block size (and region size, huge-pages threshold) from a sweep.

  recommend.py SWEEP.csv|RUN_DIR [--goal speed|memory|balanced] [--allocators arena,seed]

For each allocator swept (arena, and seed separately when present), each
configuration (block_size, and region_size and huge_pages_from when the sweep
varied them) gets a score on each trace, relative to the best configuration on
that trace (1.00 = the best there):
  speed     median throughput / the best median throughput on the trace
  memory    the lowest median frag_rss on the trace / median frag_rss
  balanced  the geometric mean of the speed and memory scores, so a
            configuration 10% slower and 10% leaner than the best of each
            scores as one at the best of both times 0.9
The best per trace is the highest score there; the best overall is the highest
geometric mean of the scores across traces (a configuration must have run on
every trace). Ties go to the smaller block size, then the smaller region (an
empty region_size is the policy's own: arena 4 MiB, seed 64 KiB), then
the policy's own huge-pages threshold, then the smaller one (never last).
Each choice comes with the spread of its figures across repetitions
(median, min-max), and a leave-one-out check: for each trace, the choice made
on the other traces alone and how much it loses on the left-out trace
(regret = 1 - its score there / the best score there). The overall choice is stable when every
leave-one-out choice is the same.
An allocator measured in one configuration alone has nothing to choose
between: it is left out with a warning, and when no allocator ran two or more
(a default or --quick replay: block 16 alone) it is an error, exit 2.

Python 3 standard library only.
"""

import argparse
import sys
from dataclasses import dataclass, field

import resultcsv
from resultcsv import samples
from stats import geometric_mean, spread_or_none
from tables import Num, format_number, render

PROGRAM = "recommend.py"
GOALS = ("speed", "memory", "balanced")
POLICY_ALLOCATORS = ("arena", "seed")
GOAL_FIGURES = {"speed": ("mops",), "memory": ("frag_rss",),
                "balanced": ("mops", "frag_rss")}
GOAL_DEFINITIONS = {
    "speed": "score = median throughput / the best median throughput on that trace",
    "memory": "score = the lowest median frag_rss on that trace / median frag_rss",
    "balanced": "score = geometric mean of the speed score (throughput / best) and the "
                "memory score (best frag_rss / frag_rss) on that trace",
}


@dataclass
class Measured:
    """One configuration on one trace: spreads of its figures."""
    config: tuple             # (block_size, region_size or None, huge_pages_from or None)
    spreads: dict             # figure -> Spread
    score: float = 0.0


@dataclass
class TraceChoice:
    case: str                 # trace name (with the thread count when several)
    best: Measured
    runner_up: Measured = None
    measured: dict = field(default_factory=dict)   # config -> Measured


@dataclass
class LeftOut:
    case: str
    choice: tuple             # chosen on the other traces
    own_best: tuple
    regret_pct: float


@dataclass
class Recommendation:
    allocator: str
    goal: str
    varies_region: bool
    traces: list              # TraceChoice per trace
    overall: tuple = None
    overall_score: float = None
    left_out: list = field(default_factory=list)
    excluded: list = field(default_factory=list)   # configs missing on some trace
    varies_huge_pages: bool = False

    @property
    def stable(self):
        return all(l.choice == self.overall for l in self.left_out)

    def config_name(self, config):
        return config_name(config, self.varies_region, self.varies_huge_pages)


def scored_configs(rows_by_config, goal):
    """Measured configurations of one trace with their scores for the goal."""
    measured = {}
    for config, rows in rows_by_config.items():
        spreads = {f: spread_or_none(samples(rows, f)) for f in GOAL_FIGURES[goal]}
        if all(s is not None and s.median > 0 for s in spreads.values()):
            measured[config] = Measured(config, spreads)
    if not measured:
        return measured
    best_mops = max((m.spreads["mops"].median for m in measured.values()
                     if "mops" in m.spreads), default=None)
    best_frag = min((m.spreads["frag_rss"].median for m in measured.values()
                     if "frag_rss" in m.spreads), default=None)
    for m in measured.values():
        speed = m.spreads["mops"].median / best_mops if best_mops else None
        memory = best_frag / m.spreads["frag_rss"].median if best_frag else None
        m.score = {"speed": speed, "memory": memory,
                   "balanced": (speed * memory) ** 0.5 if speed and memory else None}[goal]
    return measured


# The region size a policy takes when the run set none (an empty region_size):
# arena's DEFAULT_REGION and seed's SEED_DEFAULT_REGION (arena/src/internal.h;
# results/README.md).
POLICY_REGION_SIZES = {"arena": 4 << 20, "seed": 64 << 10}


def preference(config, score, allocator=None):
    """Sort key: the higher score, then the smaller block, then the smaller region,
    then the huge-pages threshold first in resultcsv.huge_pages_rank. An empty
    region size is the policy's own (arena's 4 MiB): it counted as 0 and won
    every tie against a smaller region set by the run. Of the same size, the
    policy's own goes first; an unknown allocator's own region counts as 0."""
    block_size, region_size, huge_pages = config
    region_bytes = (region_size if region_size is not None
                    else POLICY_REGION_SIZES.get(allocator, 0))
    return (score, -block_size, -region_bytes, region_size is None,
            tuple(-part for part in resultcsv.huge_pages_rank(huge_pages)))


def config_order(config):
    """Sort key of configurations: by block, region, then huge-pages threshold."""
    return (config[0], config[1] or 0, resultcsv.huge_pages_rank(config[2]))


def best_config(candidates, scores_by_case, cases, allocator=None):
    """The candidate with the best geometric-mean score over the given cases."""
    def overall(config):
        return geometric_mean(scores_by_case[case][config] for case in cases)
    return max(candidates, key=lambda c: preference(c, overall(c), allocator), default=None)


def recommend(table, allocator, goal):
    """The Recommendation for one allocator of a sweep table."""
    rows = [r for r in table.rows if r["allocator"] == allocator]
    several_threads = len({r["threads"] for r in rows}) > 1
    varies_region = len({r.get("region_size") for r in rows}) > 1
    varies_huge_pages = len({r.get(resultcsv.HUGE_PAGES_COLUMN) for r in rows}) > 1
    by_case = {}
    for row in rows:
        case = row["trace"] + (" t=%d" % row["threads"] if several_threads else "")
        config = (row["block_size"], row.get("region_size") if varies_region else None,
                  row.get(resultcsv.HUGE_PAGES_COLUMN) if varies_huge_pages else None)
        by_case.setdefault(case, {}).setdefault(config, []).append(row)

    recommendation = Recommendation(allocator, goal, varies_region, [],
                                    varies_huge_pages=varies_huge_pages)
    for case in sorted(by_case):
        measured = scored_configs(by_case[case], goal)
        if not measured:
            continue
        ranked = sorted(measured.values(),
                        key=lambda m: preference(m.config, m.score, allocator), reverse=True)
        recommendation.traces.append(TraceChoice(case, ranked[0], (ranked[1:] or [None])[0],
                                                 measured))
    if not recommendation.traces:
        return recommendation

    cases = [t.case for t in recommendation.traces]
    scores = {t.case: {c: m.score for c, m in t.measured.items()} for t in recommendation.traces}
    everywhere = set.intersection(*(set(s) for s in scores.values()))
    recommendation.excluded = sorted(set.union(*(set(s) for s in scores.values())) - everywhere,
                                     key=config_order)
    recommendation.overall = best_config(everywhere, scores, cases, allocator)
    if recommendation.overall is not None:
        recommendation.overall_score = geometric_mean(scores[c][recommendation.overall]
                                                      for c in cases)
    if len(cases) > 1:
        for trace_choice in recommendation.traces:
            others = [c for c in cases if c != trace_choice.case]
            choice = best_config(everywhere, scores, others, allocator)
            if choice is None:
                continue
            # The own best's score is 1 for speed and memory, below 1 for balanced.
            regret = (1 - scores[trace_choice.case][choice] / trace_choice.best.score) * 100
            recommendation.left_out.append(LeftOut(trace_choice.case, choice,
                                                   trace_choice.best.config, regret))
    return recommendation


def config_of(row):
    """(block_size, region_size, huge_pages_from) of a row."""
    return (row["block_size"], row.get("region_size"), row.get(resultcsv.HUGE_PAGES_COLUMN))


def swept_allocators(table, requested=None):
    """The allocators to recommend for: the requested ones, else arena and seed
    when present, else every allocator that ran several configurations."""
    present = table.values("allocator")
    if requested:
        return [a for a in requested if a in present]
    policies = [a for a in POLICY_ALLOCATORS if a in present]
    if policies:
        return policies
    return [a for a in present
            if len({config_of(r) for r in table.rows if r["allocator"] == a}) > 1]


# ---- output ---------------------------------------------------------------------

def config_name(config, varies_region, varies_huge_pages=False):
    block_size, region_size, huge_pages = config
    name = "block %d" % block_size
    if varies_region:
        name += ", region %s" % (resultcsv.human_bytes(region_size)
                                 if region_size is not None else "-")
    if varies_huge_pages:
        name += ", huge pages %s" % huge_pages_name(huge_pages)
    return name


def huge_pages_name(huge_pages):
    """`from 16 MiB`, `never`, or `-` for the policy's own threshold."""
    if huge_pages is None:
        return "-"
    if huge_pages == resultcsv.HUGE_PAGES_NEVER:
        return huge_pages
    return "from " + resultcsv.huge_pages_text(huge_pages)


def spread_text(spread):
    if spread is None:
        return "-"
    return "%s (%s-%s)" % (format_number(spread.median), format_number(spread.low),
                           format_number(spread.high))


def render_recommendation(recommendation, fmt="text"):
    """The recommendation as text or Markdown: per-trace table, overall choice,
    leave-one-out table and a stability sentence."""
    r = recommendation

    def name(config):
        return r.config_name(config)
    markdown = fmt == "markdown"
    out = []
    heading = "%s, goal %s: %s (1.00 = the best on that trace)" % (
        r.allocator, r.goal, GOAL_DEFINITIONS[r.goal])
    out.append(("**%s**" % heading) if markdown else heading)
    out.append("")
    if not r.traces:
        out.append("no %s rows with %s" % (r.allocator, " and ".join(GOAL_FIGURES[r.goal])))
        return "\n".join(out) + "\n"

    figures = GOAL_FIGURES[r.goal]
    header = ["trace", "best", "score"] + ["%s median (min-max)" % f for f in figures] + \
             ["runner-up", "its score"]
    if r.overall is not None:
        header += ["overall choice's score"]
    rows = []
    for t in r.traces:
        row = [t.case, name(t.best.config), Num(t.best.score, "score")]
        row += [spread_text(t.best.spreads.get(f)) for f in figures]
        row += [name(t.runner_up.config) if t.runner_up else "-",
                Num(t.runner_up.score if t.runner_up else None, "score")]
        if r.overall is not None:
            row.append(Num(t.measured[r.overall].score, "score"))
        rows.append(row)
    out.append(render(header, rows, fmt).rstrip("\n"))
    out.append("")

    if r.overall is None:
        out.append("overall: no configuration ran on every trace")
        return "\n".join(out) + "\n"
    overall = "overall: %s, geometric-mean score %.3f over %d trace(s)" % (
        name(r.overall), r.overall_score, len(r.traces))
    out.append(("**%s**" % overall) if markdown else overall)
    if r.excluded:
        out.append("")
        out.append("not eligible overall (missing on some trace): %s"
                   % "; ".join(name(c) for c in r.excluded))
    out.append("")
    if not r.left_out:
        out.append("leave-one-out: needs two traces or more; with one, the choice fits "
                   "that trace alone")
        return "\n".join(out) + "\n"
    out.append("leave-one-out: chosen on the other traces, scored on the one left out")
    out.append("")
    out.append(render(["left out", "choice without it", "its own best", "regret"],
                      [[l.case, name(l.choice), name(l.own_best), Num(l.regret_pct, "share")]
                       for l in r.left_out], fmt).rstrip("\n"))
    out.append("")
    worst = max(r.left_out, key=lambda l: l.regret_pct)
    if r.stable:
        out.append("stable: every leave-one-out choice is the overall choice (%s); the worst "
                   "regret on a left-out trace is %.1f%% (%s)"
                   % (name(r.overall), worst.regret_pct, worst.case))
    else:
        changed = ["without %s: %s" % (l.case, name(l.choice))
                   for l in r.left_out if l.choice != r.overall]
        out.append("not stable: leaving out a trace changes the choice (%s); the worst "
                   "regret on a left-out trace is %.1f%% (%s)"
                   % ("; ".join(changed), worst.regret_pct, worst.case))
    return "\n".join(out) + "\n"


def main(argv=None):
    parser = argparse.ArgumentParser(
        prog=PROGRAM,
        description="Name the best block size (and region size, huge-pages threshold) per "
                    "trace and overall from a block-size sweep, for a goal, with a "
                    "leave-one-out check.",
        epilog="Goals: " + "; ".join("%s: %s" % item for item in GOAL_DEFINITIONS.items()))
    parser.add_argument("sweep", nargs="+", metavar="SWEEP.csv|RUN_DIR",
                        help="sweep.csv, or a results directory with one")
    parser.add_argument("--goal", choices=GOALS, default="balanced",
                        help="what to optimise (default: %(default)s)")
    parser.add_argument("--allocators", type=resultcsv.comma_list, metavar="X,Y",
                        help="allocators to recommend for (default: arena and seed)")
    parser.add_argument("--traces", type=resultcsv.comma_list, metavar="A,B",
                        help="only these traces")
    parser.add_argument("--format", choices=("text", "markdown"), default="text")
    args = parser.parse_intermixed_args(sys.argv[1:] if argv is None else argv)
    run = resultcsv.read_run_or_exit(args.sweep, PROGRAM)
    table = run.sweep_table() or run.replay
    if table is None:
        parser.error("no sweep: give sweep.csv or a results directory that has one")
    unknown = [t for t in args.traces or () if t not in table.values("trace")]
    if unknown:
        parser.error("--traces: no %s in %s (traces: %s)" % (", ".join(unknown), table.path,
                                                             ", ".join(table.values("trace"))))
    table = table.select(traces=args.traces)
    allocators = swept_allocators(table, args.allocators)
    if not allocators:
        parser.error("no rows of %s in %s" % (", ".join(args.allocators or POLICY_ALLOCATORS),
                                             table.path))
    # One configuration is no choice: a default or --quick replay runs arena
    # at block 16 alone, and its "stable choice (block 16)", exit 0, read as
    # a recommendation. Such an allocator is left out, with a warning when
    # another was swept; with none swept there is nothing to recommend.
    single = {}
    for allocator in allocators:
        configs = {config_of(r) for r in table.rows if r["allocator"] == allocator}
        if len(configs) == 1:
            (config,) = configs
            single[allocator] = config_name(config, config[1] is not None,
                                            config[2] is not None).replace("block ", "block size ", 1)
    if len(single) == len(allocators):
        names = set(single.values())
        parser.error("no block-size sweep in %s (%s): run ./bench.sh sweep" % (
            " ".join(args.sweep), "only %s was run" % names.pop() if len(names) == 1 else
            "one configuration each: %s" % "; ".join("%s %s" % item for item in single.items())))
    for allocator, name in single.items():
        print("warning: %s measured %s in one configuration alone (%s): nothing to choose "
              "between; left out" % (table.path, allocator, name), file=sys.stderr)
    outputs = [render_recommendation(recommend(table, a, args.goal), args.format)
               for a in allocators if a not in single]
    resultcsv.write_stdout_or_exit("\n".join(outputs), PROGRAM)
    return 0


if __name__ == "__main__":
    sys.exit(main())
