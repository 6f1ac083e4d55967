"""tools/report.py writes a REPORT.md whose tables hold the run's own numbers.
(The charts in the report are tested in test_plot.py, which needs matplotlib.)"""

import csv
import math
import os
import random
import statistics
import tempfile
import unittest

import crafted


def medians_from_csv(path, figure):
    """{(trace, allocator): median of figure}, computed here from the raw file."""
    values = {}
    with open(path) as handle:
        rows = csv.DictReader(line for line in handle if not line.startswith("#"))
        for row in rows:
            values.setdefault((row["trace"], row["allocator"]), []).append(float(row[figure]))
    return {key: statistics.median(v) for key, v in values.items()}


def report_text(test, run_dir):
    """REPORT.md of run_dir, made without charts; test fails when report.py does."""
    result = crafted.run_tool("report.py", run_dir, "--no-plots")
    test.assertEqual(result.returncode, 0, result.stderr)
    with open(os.path.join(run_dir, "REPORT.md")) as handle:
        return handle.read()


class RankingOverEveryTrace(unittest.TestCase):
    def report_of(self, configs, seed):
        """REPORT.md of a run of the crafted configurations, 5 repetitions each."""
        with tempfile.TemporaryDirectory() as run_dir:
            crafted.write_csv(os.path.join(run_dir, "replay.csv"), crafted.REPLAY_HEADER,
                              crafted.replay_rows(configs, 5, random.Random(seed)), crafted.MACHINE)
            return report_text(self, run_dir)

    def test_an_allocator_missing_traces_is_not_ranked_and_decides_nothing(self):
        # seed on two traces of three: ranked over the traces all share, arena
        # (0.9x glibc's frag_rss on those two, 2x on the third) came out leanest.
        configs = [(trace, allocator, 0 if allocator == "glibc" else 16, 1, mops, frag)
                   for trace, allocator, mops, frag in (
                       ("a", "glibc", 10, 1.0), ("b", "glibc", 10, 1.0), ("c", "glibc", 10, 1.0),
                       ("a", "arena", 12, 0.9), ("b", "arena", 12, 0.9), ("c", "arena", 12, 2.0),
                       ("a", "seed", 5, 3.0), ("b", "seed", 5, 3.0))]
        report = self.report_of(configs, 3)
        self.assertIn("- **glibc** is the leanest allocator overall (geometric mean of the median "
                      "frag_rss over the 3 of 3 traces that every allocator ranked ran), then arena. "
                      "Not ranked, with fewer traces: seed (2 of 3).", report)
        self.assertIn("- **arena** is the fastest allocator overall", report)


    def test_allocators_missing_different_traces_do_not_shrink_the_ranking(self):
        # jemalloc, mimalloc and tcmalloc each miss one trace of 20 (each ran
        # 19, enough to be ranked alone); the traces all three ran were 17,
        # below the 9 in 10 each ranked allocator must have run. Dropping all
        # three (they tie) could leave too few allocators to rank.
        configs = []
        for n in range(20):
            trace = "t%02d" % n
            configs.append((trace, "glibc", 0, 1, 10, 1.0))
            configs.append((trace, "arena", 16, 1, 12, 3.0 if n == 5 else 0.97))
            for missing, allocator in enumerate(("jemalloc", "mimalloc", "tcmalloc")):
                if n != missing:
                    configs.append((trace, allocator, 0, 1, 11, 1.5))
        report = self.report_of(configs, 4)
        # One of the three leaves the ranking (the first, of equals), and the
        # rest share 18 of 20 traces, 9 in 10, t05 (arena's worst) among them.
        self.assertIn("- **glibc** is the leanest allocator overall (geometric mean of the median "
                      "frag_rss over the 18 of 20 traces that every allocator ranked ran), then "
                      "arena, mimalloc, tcmalloc. Not ranked, with fewer traces: jemalloc (19 of 20).",
                      report)

    def test_bump_is_called_no_ceiling_where_allocators_beat_it(self):
        # d12fc85's report called bump "the ceiling of the replay loop" with
        # arena, mimalloc and tcmalloc above it on 9 of its 15 traces.
        rates = {"glibc": (10, 10, 10), "arena": (30, 12, 25), "tcmalloc": (25, 11, 10),
                 "bump": (20, 20, 20)}
        configs = [(trace, allocator, 16 if allocator == "arena" else 0, 1, rate[n], 1.0)
                   for n, trace in enumerate("abc") for allocator, rate in rates.items()]
        report = self.report_of(configs, 6)
        self.assertNotIn("ceiling of the replay loop", report)
        self.assertRegex(report, r"- The bump reference \(no reuse, every page faulted in before "
                                 r"the timed part\) reaches 2\.0\dx glibc's throughput \(geometric "
                                 r"mean over 3 trace\(s\)\)\. It is no speed ceiling in this run: a "
                                 r"higher median throughput than bump's on 2 of 3 trace\(s\) for "
                                 r"arena, 1 of 3 trace\(s\) for tcmalloc\. That can happen: memory "
                                 r"that is reused stays in the cache")
        configs = [c for c in configs if c[1] != "bump"] + [
            (trace, "bump", 0, 1, 40, 9.0) for trace in "abc"]
        self.assertRegex(self.report_of(configs, 6),
                         r"reaches [34]\.\d\dx glibc's throughput \(geometric mean over 3 "
                         r"trace\(s\)\)\. No allocator had a higher median throughput than "
                         r"bump's on any trace of this run\.")

    def test_with_one_allocator_ranked_the_others_are_still_named(self):
        configs = [(trace, allocator, 0 if allocator == "glibc" else 16, 1, 10, 1.0)
                   for trace in ("a", "b", "c") for allocator in ("glibc", "seed") if (trace, allocator) != ("c", "seed")]
        report = self.report_of(configs, 5)
        self.assertIn("- No leanest allocator overall: only glibc ran enough traces to be ranked. "
                      "Not ranked, with fewer traces: seed (2 of 3).", report)


class HugePagesThresholds(unittest.TestCase):
    def test_each_threshold_is_a_column_and_a_choice(self):
        # A --huge-pages-from sweep in replay.csv: arena at the policy's own
        # threshold, 16 MiB and never, each a column of its own.
        with tempfile.TemporaryDirectory() as run_dir:
            crafted.write_csv(os.path.join(run_dir, "replay.csv"), crafted.HUGE_PAGES_HEADER,
                              crafted.huge_pages_rows(crafted.RUN_TRACES, random.Random(6)),
                              crafted.MACHINE)
            report = report_text(self, run_dir)
        self.assertEqual(report.count("| trace | arena bs=16 | arena bs=16 hp=16 MiB | "
                                      "arena bs=16 hp=never | glibc |"), 2, "mops and frag_rss")
        self.assertIn("| replay.csv | `./bench.sh run` | 60 | 3 | 2 | 5 |", report)
        self.assertRegex(report, r"\| \*\*geometric mean\*\* \| \*\*1\.[45]\dx\*\* \| "
                                 r"\*\*1\.[78]\dx\*\* \| \*\*1\.[12]\dx\*\* \| \*\*1\.00x\*\* \|")
        self.assertIn("- **arena bs=16 hp=never** against glibc: ", report)
        # The targets section reads it too (test_targets: the default threshold alone).
        self.assertRegex(report, r"\| #4 \| `arena` throughput on the 3 recorded traces, "
                                 r"geometric mean, >= 1\.3x glibc \| 1\.[45]\dx, 95% interval 1\.\d\d-1\.\d\d \| met \|")
        self.assertIn("recommends **block 16, huge pages from 16 MiB** for arena (goal balanced",
                      report)
        self.assertIn("| arena | memory | block 16, huge pages never | 1.000 |", report)


    def test_a_baseline_that_ran_several_thresholds_is_an_error(self):
        # report.py HP --baseline arena marked every arena column 1.00x (any
        # label starting with the baseline's name) and glibc's had no ratio.
        with tempfile.TemporaryDirectory() as run_dir:
            crafted.write_csv(os.path.join(run_dir, "replay.csv"), crafted.HUGE_PAGES_HEADER,
                              crafted.huge_pages_rows(crafted.RUN_TRACES, random.Random(6)),
                              crafted.MACHINE)
            result = crafted.run_tool("report.py", run_dir, "--no-plots", "--baseline", "arena")
            self.assertEqual(result.returncode, 2, result.stderr)
            self.assertIn("report.py: the baseline arena ran several configurations in %s "
                          "(bs=16; bs=16 hp=16 MiB; bs=16 hp=never)"
                          % os.path.join(run_dir, "replay.csv"), result.stderr)
            self.assertFalse(os.path.exists(os.path.join(run_dir, "REPORT.md")))

    def test_a_run_of_the_baseline_alone_is_reported(self):
        with tempfile.TemporaryDirectory() as run_dir:
            crafted.write_csv(os.path.join(run_dir, "replay.csv"), crafted.HUGE_PAGES_HEADER,
                              [row for row in crafted.huge_pages_rows(crafted.RUN_TRACES,
                                                                      random.Random(6))
                               if row[1] == "glibc"], crafted.MACHINE)
            result = crafted.run_tool("report.py", run_dir, "--no-plots")
            self.assertEqual(result.returncode, 0, result.stderr)


class EmptySections(unittest.TestCase):
    """Sections with nothing to show are left out; an instructions run gets its table."""

    def test_an_instructions_run_has_its_table_and_no_empty_section(self):
        # report.py on results/vm/2026-12-05-0454-9a281911e984-instructions had
        # no table of its one measure, "0 of 0 measured targets met" over an
        # empty table, and a significance heading with nothing under it.
        counts = {"glibc": 150, "arena": 100, "bump": 50}
        header = crafted.REPLAY_HEADER + ["instructions_per_op"]
        rows = []
        for index, trace in enumerate(crafted.RUN_TRACES):
            for allocator, count in counts.items():
                rows.append([trace, allocator, 16 if allocator == "arena" else 0, 1, 1,
                             crafted.OPS, "", "", crafted.PEAK_LIVE, "", "",
                             count * (1 + index / 10)])
        with tempfile.TemporaryDirectory() as run_dir:
            crafted.write_csv(os.path.join(run_dir, "replay.csv"), header, rows,
                              dict(crafted.MACHINE, command="bench_replay --instructions"))
            report = report_text(self, run_dir)
        self.assertIn("## Replay: instructions per op (callgrind)", report)
        self.assertIn("| trace | arena | glibc | bump |", report)
        self.assertIn("| sqlite3 | 110 (0.67x) | 165 (1.00x) | 55 (0.33x) |", report)
        self.assertIn("| **geometric mean** | **0.67x** | **1.00x** | **0.33x** |", report)
        self.assertIn("- **arena** runs 0.67x glibc's instructions per op (callgrind; geometric "
                      "mean over 3 trace(s)).", report)
        self.assertNotIn("0 of 0 measured targets", report)
        self.assertIn("This run measures none of the project's speed and memory targets", report)
        self.assertIn("Instructions per replayed op above those of bump, the reference that "
                      "never reuses memory", report)
        self.assertNotIn("with significance", report)

    def test_a_sweep_without_glibc_has_no_significance_heading(self):
        with tempfile.TemporaryDirectory() as run_dir:
            crafted.write_csv(os.path.join(run_dir, "sweep.csv"), crafted.REPLAY_HEADER + ["region_size"],
                              crafted.sweep_rows(crafted.sweep_configs(crafted.RUN_TRACES[:2]), 3,
                                                 random.Random(4)),
                              dict(crafted.MACHINE, command="./bench.sh sweep"))
            report = report_text(self, run_dir)
        self.assertIn("## Block size", report)
        self.assertNotIn("## Against glibc", report)


class Report(crafted.RunDirTestCase):
    SEED = 77

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.result = crafted.run_tool("report.py", cls.run_dir, "--no-plots")
        with open(os.path.join(cls.run_dir, "REPORT.md")) as handle:
            cls.report = handle.read()

    def test_written_where_expected(self):
        self.assertEqual(self.result.returncode, 0, self.result.stderr)
        self.assertEqual(self.result.stdout.strip(), os.path.join(self.run_dir, "REPORT.md"))
        for missing in ("nan", "None", "inf"):
            self.assertNotRegex(self.report, r"\b%s\b" % missing)

    def test_summary_tables_hold_the_medians_and_ratios(self):
        replay = os.path.join(self.run_dir, "replay.csv")
        for figure, heading in (("mops", "## Replay: throughput (Mops/s)"),
                                ("frag_rss", "## Replay: memory overhead")):
            self.assertIn(heading, self.report)
            section = self.report[self.report.index(heading):]
            self.assertIn("| trace | arena | glibc | mimalloc | tcmalloc | bump |", section)
            medians = medians_from_csv(replay, figure)
            log_ratios = []
            for trace in crafted.RUN_TRACES:
                cells = []
                for allocator in ("arena", "glibc", "mimalloc", "tcmalloc", "bump"):
                    ratio = medians[(trace, allocator)] / medians[(trace, "glibc")]
                    cells.append("%.4g (%.2fx)" % (medians[(trace, allocator)], ratio))
                    if allocator == "arena":
                        log_ratios.append(math.log(ratio))
                self.assertIn("| %s | %s |" % (trace, " | ".join(cells)), section)
            arena_geomean = math.exp(sum(log_ratios) / len(log_ratios))
            self.assertIn("| **geometric mean** | **%.2fx** | **1.00x** |" % arena_geomean,
                          section)

    def test_plain_words(self):
        speed = medians_from_csv(os.path.join(self.run_dir, "replay.csv"), "mops")
        ratio = math.exp(statistics.mean(math.log(speed[(t, "arena")] / speed[(t, "glibc")])
                                         for t in crafted.RUN_TRACES))
        # mimalloc (1.8x glibc) beats tcmalloc (1.7x) and arena (1.5x); bump is a reference.
        self.assertIn("- **mimalloc** is the fastest allocator overall", self.report)
        self.assertIn("then tcmalloc, arena, glibc.", self.report)
        self.assertIn("- **arena** is the leanest allocator overall", self.report)
        self.assertIn("- **arena** against glibc: %.2fx glibc's throughput (significantly "
                      "faster on 3 and slower on 0 of 3 trace(s))" % ratio, self.report)
        self.assertRegex(self.report, r"arena reaches 0\.8\dx mimalloc's throughput and "
                                      r"0\.6\dx its frag_rss over 3 trace\(s\)")
        self.assertRegex(self.report, r"The bump reference \(no reuse, every page faulted in "
                                      r"before the timed part\) reaches 2\.\d\dx glibc's")
        self.assertIn("recommends **block 64, region 4 MiB** for arena (goal balanced; stable",
                      self.report)

    def test_facts_recommendation_realprog_and_significance(self):
        self.assertIn("| cpu | Crafted CPU @ 2.0GHz |", self.report)
        self.assertIn("| sweep.csv | `./bench.sh sweep` | 360 | 2 | 2 | 3 |", self.report)
        self.assertIn("**overall: block 64, region 4 MiB", self.report)
        self.assertIn("| arena | speed | block 256, region 4 MiB | 1.000 | stable | 0.0% |",
                      self.report)
        self.assertIn("| arena | memory | block 16, region 64 KiB | 1.000 | stable | 0.0% |",
                      self.report)
        self.assertIn("| program | arena | glibc | mimalloc | tcmalloc |", self.report)
        self.assertIn("Output check: every run's output was right.", self.report)
        self.assertRegex(self.report, r"\| cpython \| arena \| 16 \| 1 \| mops \| [\d.]+ \| "
                                      r"[\d.]+ \| 1\.\d\dx \| 0\.008 \| faster \|")
        self.assertIn("Not drawn (--no-plots)", self.report)


class ReportProblems(unittest.TestCase):
    def setUp(self):
        self.directory = tempfile.TemporaryDirectory()
        self.addCleanup(self.directory.cleanup)
        self.run_dir = crafted.make_run_dir(os.path.join(self.directory.name, "run"),
                                            random.Random(3), sweep=False, timeline=False)

    def test_a_configuration_that_failed_is_said_first(self):
        # A crash drops a configuration's rows; the summary's means over the
        # rest read as if every trace had run, and the crash showed only in
        # the facts table.
        path = os.path.join(self.run_dir, "replay.csv")
        with open(path) as handle:
            lines = handle.read().splitlines(True)
        trace = crafted.RUN_TRACES[0]
        kept = [line for line in lines if not line.startswith("%s,arena," % trace)]
        with open(path, "w") as handle:
            handle.write("# failed.arena.%s.bs16: the child died of signal 11\n" % trace)
            handle.writelines(kept)
        output = os.path.join(self.directory.name, "r.md")
        result = crafted.run_tool("report.py", self.run_dir, "--no-plots", "-o", output)
        self.assertEqual(result.returncode, 0, result.stderr)
        with open(output) as handle:
            report = handle.read()
        start = report.index("## In short")
        first = report[start:].split("\n\n")[1]
        self.assertEqual(first, "**1 configuration failed** and has no rows, so the figures below "
                         "leave it out: `arena.%s.bs16` (the child died of signal 11)." % trace)

    def test_failed_output_check_is_reported(self):
        path = os.path.join(self.run_dir, "realprog.csv")
        with open(path) as handle:
            lines = handle.read().splitlines()
        index = next(i for i, line in enumerate(lines) if line.startswith("sqlite3,arena,"))
        lines[index] = lines[index][:-1] + "0"
        with open(path, "w") as handle:
            handle.write("\n".join(lines) + "\n")
        output = os.path.join(self.directory.name, "elsewhere.md")
        result = crafted.run_tool("report.py", self.run_dir, "--no-plots", "-o", output)
        self.assertEqual(result.returncode, 0, result.stderr)
        with open(output) as handle:
            text = handle.read()
        self.assertIn("Output check: **failed** for sqlite3 under arena (those runs' figures are "
                      "left out of the tables above).", text)
        self.assertIn("(and 1 whose output check failed)", text)
        self.assertFalse(os.path.exists(os.path.join(self.run_dir, "REPORT.md")))

    def test_without_matplotlib_the_report_says_so(self):
        # A matplotlib package that fails to import stands in for a python3 without it.
        hidden = os.path.join(self.directory.name, "hide")
        os.makedirs(os.path.join(hidden, "matplotlib"))
        with open(os.path.join(hidden, "matplotlib", "__init__.py"), "w") as handle:
            handle.write("raise ImportError('hidden by the test')\n")
        env = {"PYTHONPATH": hidden}
        result = crafted.run_tool("report.py", self.run_dir, env=env)
        self.assertEqual(result.returncode, 0, result.stderr)
        self.assertIn("python3-matplotlib", result.stderr)
        with open(os.path.join(self.run_dir, "REPORT.md")) as handle:
            self.assertIn("No charts: matplotlib is missing", handle.read())
        plot = crafted.run_tool("plot.py", self.run_dir, env=env)
        self.assertEqual(plot.returncode, 3)
        self.assertEqual(len(plot.stderr.strip().splitlines()), 1)
        self.assertIn("install Debian's python3-matplotlib", plot.stderr)

    def test_a_run_with_nothing_to_chart_says_nothing_of_charts(self):
        # Real programs alone (./bench.sh realprog): nothing for plot.py to draw, so
        # neither a Charts section nor a word on matplotlib, there or not; the same for
        # instructions alone.
        run_dir = crafted.make_run_dir(os.path.join(self.directory.name, "realprog"), random.Random(5),
                                       sweep=False, timeline=False)
        os.remove(os.path.join(run_dir, "replay.csv"))
        hidden = os.path.join(self.directory.name, "hide-too")
        os.makedirs(os.path.join(hidden, "matplotlib"))
        with open(os.path.join(hidden, "matplotlib", "__init__.py"), "w") as handle:
            handle.write("raise ImportError('hidden by the test')\n")
        # Instructions alone (./bench.sh instructions): a replay.csv whose throughput
        # and frag_rss are empty, so no bar to draw either.
        counted = crafted.make_run_dir(os.path.join(self.directory.name, "counted"), random.Random(6),
                                       sweep=False, timeline=False, realprog=False)
        path = os.path.join(counted, "replay.csv")
        with open(path) as handle:
            lines = handle.read().splitlines()
        header = next(i for i, line in enumerate(lines) if not line.startswith("#"))
        columns = lines[header].split(",")
        blank = {columns.index("ns_per_op"), columns.index("mops"), columns.index("frag_rss"),
                 columns.index("rss_peak_bytes")}
        for i in range(header + 1, len(lines)):
            lines[i] = ",".join("" if n in blank else field for n, field in enumerate(lines[i].split(",")))
        with open(path, "w") as handle:
            handle.write("\n".join(lines) + "\n")
        for directory, heading in ((run_dir, "## Real programs"), (counted, "## The run")):
            for env in ({}, {"PYTHONPATH": hidden}):
                result = crafted.run_tool("report.py", directory, env=env)
                self.assertEqual(result.returncode, 0, result.stderr)
                self.assertNotIn("matplotlib", result.stderr)
                with open(os.path.join(directory, "REPORT.md")) as handle:
                    report = handle.read()
                self.assertIn(heading, report)
                self.assertNotIn("## Charts", report)
                self.assertNotIn("matplotlib", report)

    def test_malformed_input_is_rejected(self):
        path = os.path.join(self.run_dir, "replay.csv")
        with open(path, "a") as handle:
            handle.write("cpython,glibc,0,1,99,1000,100,ten,5000,6000,1.2\n")
        with open(path) as handle:
            bad_line = len(handle.read().splitlines())
        result = crafted.run_tool("report.py", self.run_dir, "--no-plots")
        self.assertEqual(result.returncode, 2)
        self.assertEqual(result.stderr.strip(), "%s:%d: mops: 'ten' is not a number"
                         % (path, bad_line))
        self.assertFalse(os.path.exists(os.path.join(self.run_dir, "REPORT.md")))
        empty = os.path.join(self.directory.name, "empty")
        os.makedirs(empty)
        self.assertEqual(crafted.run_tool("report.py", empty).returncode, 2)
        self.assertEqual(crafted.run_tool("report.py", path).returncode, 2, "not a directory")

    def quick_run_dir(self):
        """A run of 2 repetitions, as --quick makes."""
        return crafted.make_run_dir(os.path.join(self.directory.name, "quick"), random.Random(4),
                                    repetitions=2, sweep=False, timeline=False, realprog=False)

    def test_too_few_repetitions_for_any_verdict_say_so(self):
        # --quick runs 2 repetitions: p is 1/3 at best, so "significantly faster
        # on 0" must not read as a finding.
        report = report_text(self, self.quick_run_dir())
        self.assertIn("(significantly faster on 0 and slower on 0 of 3 trace(s): with 2 "
                      "repetitions a side none can be)", report)
        self.assertIn("(significantly leaner on 0 and fatter on 0 of 3 trace(s): with 2 "
                      "repetitions a side none can be)", report)

    def test_one_memory_pass_a_side_is_said_in_the_singular(self):
        # --quick measures memory in its first repetition only.
        run_dir = self.quick_run_dir()
        path = os.path.join(run_dir, "replay.csv")
        with open(path) as handle:
            lines = handle.read().splitlines()
        header = next(line for line in lines if not line.startswith("#")).split(",")
        first = min(int(line.split(",")[header.index("repetition")]) for line in lines
                    if not line.startswith("#") and line.split(",")[0] != "trace")
        with open(path, "w") as handle:
            for line in lines:
                cells = line.split(",")
                if not line.startswith("#") and cells[0] != "trace" and \
                        int(cells[header.index("repetition")]) != first:
                    for column in ("rss_peak_bytes", "frag_rss"):
                        cells[header.index(column)] = ""
                handle.write(",".join(cells) + "\n")
        report = report_text(self, run_dir)
        self.assertIn("(significantly leaner on 0 and fatter on 0 of 3 trace(s): with 1 "
                      "repetition a side none can be)", report)
        self.assertIn("with 2 repetitions a side none can be)", report)

    def test_a_baseline_the_run_lacks_is_a_usage_error(self):
        # A typo in --baseline would give a report with no ratio at all.
        result = crafted.run_tool("report.py", self.run_dir, "--no-plots", "--baseline", "glibcc")
        self.assertEqual(result.returncode, 2, result.stderr)
        self.assertIn("usage: report.py", result.stderr)
        self.assertIn("--baseline: no glibcc rows in this run (allocators: ", result.stderr)
        self.assertFalse(os.path.exists(os.path.join(self.run_dir, "REPORT.md")))
        result = crafted.run_tool("report.py", self.run_dir, "--no-plots", "--baseline", "mimalloc")
        self.assertEqual(result.returncode, 0, result.stderr)

    def test_a_ratio_to_a_zero_median_is_left_out_of_the_means(self):
        # glibc's frag_rss 0 on cpython: arena's ratio there is infinite, and the
        # geometric mean took it ("**infx**"). Left out, and counted, as
        # compare.py's geomean rows do.
        path = os.path.join(self.run_dir, "replay.csv")
        with open(path) as handle:
            lines = handle.read().splitlines()
        header = next(line for line in lines if not line.startswith("#")).split(",")
        for index, line in enumerate(lines):
            if line.startswith("cpython,glibc,"):
                cells = line.split(",")
                cells[header.index("frag_rss")] = "0"
                cells[header.index("rss_peak_bytes")] = "0"
                lines[index] = ",".join(cells)
        with open(path, "w") as handle:
            handle.write("\n".join(lines) + "\n")
        report = report_text(self, self.run_dir)
        self.assertNotRegex(report, r"\binfx\b")
        memory = report[report.index("## Replay: memory overhead"):]
        memory = memory[:memory.index("\n## ")]
        self.assertRegex(memory, r"\| cpython \| [\d.]+ \(from glibc's 0\) \| 0 \(1\.00x\) \|")
        self.assertRegex(memory, r"\| \*\*geometric mean\*\* \| \*\*0\.8\dx\*\* \(1 left out: "
                                 r"no ratio, 0 or infinite\) \| \*\*1\.00x\*\* \| \*\*1\.\d\dx\*\* \(1 left out")
        self.assertIn("its frag_rss (significantly leaner on ", report)
        self.assertIn("; 1 trace(s) left out of the mean: no ratio, 0 or infinite)", report)

    def test_the_baseline_is_not_held_against_itself(self):
        # With --baseline arena, "In short" said "**arena** against arena:
        # 1.00x its frag_rss (... of 0 pairs)": the memory part lacked the
        # test that the speed part has.
        output = os.path.join(self.directory.name, "arena.md")
        result = crafted.run_tool("report.py", self.run_dir, "--no-plots", "--baseline", "arena",
                                  "-o", output)
        self.assertEqual(result.returncode, 0, result.stderr)
        with open(output) as handle:
            report = handle.read()
        in_short = report[report.index("## In short"):report.index("\n## ", report.index("## In short") + 1)]
        self.assertNotIn("against arena", in_short)
        self.assertIn("arena reaches ", in_short, "the rivals are still named")

    def test_an_unwritable_output_stops_it_in_one_line(self):
        replay_csv = os.path.join(self.run_dir, "replay.csv")
        for output, parent, reason in (
                (os.path.join(replay_csv, "r.md"), None, "Not a directory"),
                (os.path.join(replay_csv, "no", "r.md"), os.path.join(replay_csv, "no"),
                 "%s is not a directory" % replay_csv)):
            result = crafted.run_tool("report.py", self.run_dir, "--no-plots", "-o", output)
            self.assertEqual(result.returncode, 1, result.stderr)
            self.assertEqual(result.stderr, "report.py: %s: cannot write: %s\n" % (parent or output, reason))
            self.assertFalse(os.path.exists(output))

    def test_an_output_in_a_missing_directory_makes_it(self):
        # As plot.py makes a missing OUTDIR.
        output = os.path.join(self.directory.name, "no", "such", "r.md")
        result = crafted.run_tool("report.py", self.run_dir, "--no-plots", "-o", output)
        self.assertEqual(result.returncode, 0, result.stderr)
        with open(output) as handle:
            self.assertIn("met", handle.read())

    def test_a_plots_directory_that_cannot_be_made_stops_it_before_the_report(self):
        run_dir = crafted.make_run_dir(os.path.join(self.directory.name, "plots-a-file"),
                                       random.Random(5))
        with open(os.path.join(run_dir, "plots"), "w") as handle:
            handle.write("not a directory\n")
        result = crafted.run_tool("report.py", run_dir)
        self.assertEqual(result.returncode, 1, result.stderr)
        self.assertEqual(result.stderr, "report.py: %s: cannot write: %s is not a directory\n"
                         % (os.path.join(run_dir, "plots"), os.path.join(run_dir, "plots")))
        self.assertFalse(os.path.exists(os.path.join(run_dir, "REPORT.md")))


if __name__ == "__main__":
    unittest.main()
