"""tools/compare.py on crafted runs: verdicts, significance, exit codes, errors."""

import csv
import io
import os
import random
import subprocess
import sys
import tempfile
import unittest

import crafted
import compare
import resultcsv

TRACES = ("cpython", "sqlite3")


def parse_output(text):
    """The rows of compare.py --format csv, keyed by (trace, allocator, figure)."""
    return {(row["trace"], row["allocator"], row["figure"]): row
            for row in csv.DictReader(io.StringIO(text))}


class CompareTwoRuns(unittest.TestCase):
    def setUp(self):
        self.directory = tempfile.TemporaryDirectory()
        self.addCleanup(self.directory.cleanup)
        self.rng = random.Random(20240601)

    def path(self, name):
        return os.path.join(self.directory.name, name)

    def write_run(self, name, configs, repetitions=9, facts=crafted.MACHINE, **spreads):
        return crafted.write_csv(self.path(name), crafted.REPLAY_HEADER,
                                 crafted.replay_rows(configs, repetitions, self.rng, **spreads),
                                 facts)

    def configs(self, arena_mops=15.0, arena_frag=1.05):
        return [(trace, allocator, 16, 1, mops, frag) for trace in TRACES
                for allocator, mops, frag in (("glibc", 10.0, 1.2),
                                              ("arena", arena_mops, arena_frag))]

    def compare(self, *args):
        result = crafted.run_tool("compare.py", *args, "--format", "csv")
        self.assertIn(result.returncode, (0, 1), result.stderr)
        return result, parse_output(result.stdout)

    def test_a_20_percent_slowdown_is_slower(self):
        old = self.write_run("old.csv", self.configs(arena_mops=15.0))
        # 20% slower: every op takes 1.2 times as long.
        new = self.write_run("new.csv", self.configs(arena_mops=15.0 / 1.2))
        _, rows = self.compare(old, new)
        for figure in ("ns_per_op", "mops"):
            row = rows[("cpython", "arena", figure)]
            self.assertEqual(row["verdict"], "slower", row)
            self.assertLess(float(row["p"]), 0.05)
        self.assertAlmostEqual(float(rows[("cpython", "arena", "ns_per_op")]["change"]), 20, delta=6)
        self.assertEqual(rows[("cpython", "glibc", "mops")]["verdict"], "same")
        self.assertEqual(rows[("cpython", "arena", "frag_rss")]["verdict"], "same")
        geomean = rows[("geomean (4)", "", "ns_per_op")]
        self.assertAlmostEqual(float(geomean["change"]), 100 * (1.2 ** 0.5 - 1), delta=4)
        self.assertIn("2 slower", geomean["verdict"])

    def test_options_between_the_two_files(self):
        # compare.py A.csv --figures mops B.csv stopped at "unrecognized
        # arguments: B.csv" (argparse's parse_args takes the files in one piece).
        old = self.write_run("old.csv", self.configs())
        new = self.write_run("new.csv", self.configs(arena_mops=12.0))
        between, rows = self.compare(old, "--figures", "mops", new)
        after, _ = self.compare(old, new, "--figures", "mops")
        self.assertEqual(between.returncode, 0, between.stderr)
        self.assertEqual(between.stdout, after.stdout)
        self.assertEqual({figure for _, _, figure in rows}, {"mops"})

    def test_identical_distributions_are_the_same(self):
        rows = crafted.replay_rows(self.configs(), 9, self.rng)
        crafted.write_csv(self.path("old.csv"), crafted.REPLAY_HEADER, rows, crafted.MACHINE)
        shuffled = rows[:]
        random.Random(5).shuffle(shuffled)
        crafted.write_csv(self.path("new.csv"), crafted.REPLAY_HEADER, shuffled, crafted.MACHINE)
        result, compared = self.compare(self.path("old.csv"), self.path("new.csv"))
        per_key = [r for key, r in compared.items() if not key[0].startswith("geomean")]
        self.assertEqual(len(per_key), 4 * 4)   # 4 configurations, 4 figures each
        for row in per_key:
            self.assertEqual(row["verdict"], "same", row)
            self.assertEqual(float(row["p"]), 1.0)
        self.assertEqual(result.stderr, "", "same machine, same keys: nothing to warn about")

    def test_two_draws_of_one_distribution_are_the_same(self):
        old = self.write_run("old.csv", self.configs(), time_spread=0.3)
        new = self.write_run("new.csv", self.configs(), time_spread=0.3)
        _, rows = self.compare(old, new)
        self.assertEqual({r["verdict"] for r in rows.values()
                          if r["figure"] in ("mops", "frag_rss")
                          and not r["trace"].startswith("geomean")}, {"same"})

    def test_memory_verdicts_and_the_noise_floor(self):
        old = self.write_run("old.csv", self.configs(arena_frag=1.0))
        fatter = self.write_run("fatter.csv", self.configs(arena_frag=1.1))
        _, rows = self.compare(old, fatter)
        self.assertEqual(rows[("sqlite3", "arena", "frag_rss")]["verdict"], "fatter")
        self.assertEqual(rows[("sqlite3", "arena", "rss_peak_bytes")]["verdict"], "fatter")
        # 3% leaner is significant (memory noise is tiny) but under the 5% floor.
        slightly = self.write_run("slightly.csv", self.configs(arena_frag=0.97))
        _, rows = self.compare(old, slightly)
        row = rows[("sqlite3", "arena", "frag_rss")]
        self.assertLess(float(row["p"]), 0.05)
        self.assertEqual(row["verdict"], "same")
        _, rows = self.compare(old, slightly, "--memory-noise", "2")
        self.assertEqual(rows[("sqlite3", "arena", "frag_rss")]["verdict"], "leaner")

    def test_mops_and_ns_per_op_of_one_run_agree(self):
        # 10 -> 11.07 Mops/s is +10.7%, and its ns_per_op -9.7%: one change,
        # on either side of the 10% floor when the floor took the signed change.
        old = self.write_run("old.csv", self.configs(arena_mops=10.0), time_spread=0.01)
        for name, mops, verdict in (("up.csv", 11.07, "faster"), ("down.csv", 10.0 / 1.107, "slower"),
                                    ("within.csv", 10.8, "same")):
            new = self.write_run(name, self.configs(arena_mops=mops), time_spread=0.01)
            _, rows = self.compare(old, new)
            for figure in ("mops", "ns_per_op"):
                self.assertEqual(rows[("cpython", "arena", figure)]["verdict"], verdict, (name, figure))
        # ... and --fail-on-regression counts the fall as the verdict does: both figures
        down = self.path("down.csv")
        result = crafted.run_tool("compare.py", old, down, "--fail-on-regression", "10")
        self.assertEqual(result.returncode, 1, result.stderr)
        self.assertIn("regression: cpython arena bs=16 t=1 mops", result.stderr)
        self.assertIn("regression: cpython arena bs=16 t=1 ns_per_op", result.stderr)

    def test_a_figure_that_rises_from_zero_gets_a_verdict(self):
        # Nothing resident before, something after: no finite ratio, but fatter,
        # and a regression (before: "n/a", and --fail-on-regression passed).
        old = self.write_run("old.csv", self.configs(arena_frag=0.0))
        new = self.write_run("new.csv", self.configs(arena_frag=1.1))
        _, rows = self.compare(old, new)
        row = rows[("cpython", "arena", "rss_peak_bytes")]
        self.assertEqual(row["verdict"], "fatter", row)
        self.assertEqual(rows[("cpython", "glibc", "rss_peak_bytes")]["verdict"], "same")
        result = crafted.run_tool("compare.py", old, new, "--fail-on-regression", "50")
        self.assertEqual(result.returncode, 1, result.stderr)
        self.assertIn("regression: cpython arena bs=16 t=1 rss_peak_bytes: 0 -> 110", result.stderr)
        self.assertIn(" (+inf%, p=", result.stderr)
        self.assertEqual(self.compare(old, old)[1][("cpython", "arena", "rss_peak_bytes")]["verdict"], "same")

    def test_fail_on_regression_exit_codes(self):
        old = self.write_run("old.csv", self.configs(arena_mops=15.0))
        slower = self.write_run("slower.csv", self.configs(arena_mops=15.0 / 1.2))
        faster = self.write_run("faster.csv", self.configs(arena_mops=15.0 * 1.3))
        result = crafted.run_tool("compare.py", old, slower, "--fail-on-regression", "10")
        self.assertEqual(result.returncode, 1)
        self.assertIn("regression: cpython arena bs=16 t=1 ns_per_op", result.stderr)
        self.assertNotIn("glibc", result.stderr)
        # The slowdown (about +20% ns/op, -17% Mops/s) is under a 25% threshold.
        self.assertEqual(crafted.run_tool("compare.py", old, slower,
                                          "--fail-on-regression", "25").returncode, 0)
        self.assertEqual(crafted.run_tool("compare.py", old, faster,
                                          "--fail-on-regression", "5").returncode, 0)
        self.assertEqual(crafted.run_tool("compare.py", old, old,
                                          "--fail-on-regression", "0").returncode, 0)

    def test_a_configuration_missing_from_new_fails_the_gate(self):
        # arena crashed on cpython in NEW: its rows are gone, the rest compared
        # as before, and the gate passed with a warning.
        old = self.write_run("old.csv", self.configs())
        configs = [c for c in self.configs() if not (c[0] == "cpython" and c[1] == "arena")]
        new = self.write_run("new.csv", configs)
        result = crafted.run_tool("compare.py", old, new, "--fail-on-regression", "10")
        self.assertEqual(result.returncode, 1, result.stderr)
        self.assertIn("regression: cpython arena bs=16 t=1: no rows in %s (failed, or not run)" % new,
                      result.stderr)
        # Without the gate it is a warning, exit 0; a configuration only in NEW is no regression.
        self.assertEqual(crafted.run_tool("compare.py", old, new).returncode, 0)
        self.assertEqual(crafted.run_tool("compare.py", new, old, "--fail-on-regression", "10").returncode, 0)

    def test_figures_measured_in_neither_run_are_nothing_to_compare(self):
        # A column both files have, empty in both: an empty table and exit 0
        # before, where --baseline said "nothing to compare", exit 2.
        configs = self.configs()
        header = crafted.REPLAY_HEADER + ["instructions_per_op"]
        rows = [row + [""] for row in crafted.replay_rows(configs, 3, self.rng)]
        old = crafted.write_csv(self.path("old.csv"), header, rows, crafted.MACHINE)
        new = crafted.write_csv(self.path("new.csv"), header, rows, crafted.MACHINE)
        result = crafted.run_tool("compare.py", old, new, "--figures", "instructions_per_op")
        self.assertEqual(result.returncode, 2, result.stdout)
        self.assertIn("none of the figures asked for was measured in either run", result.stderr)

    def test_a_figure_with_no_ratio_keeps_its_geomean_row(self):
        # A resident rise of 0 in OLD gives an infinite ratio, which no mean
        # takes: the row and its verdict counts were dropped, which the
        # docstring says are kept.
        rows = crafted.replay_rows([("cpython", "glibc", 0, 1, 10.0, 1.2)], 5, self.rng)
        zeroed = []
        for row in rows:
            row = list(row)
            row[crafted.REPLAY_HEADER.index("rss_peak_bytes")] = 0
            row[crafted.REPLAY_HEADER.index("frag_rss")] = 0
            zeroed.append(row)
        old = crafted.write_csv(self.path("zero.csv"), crafted.REPLAY_HEADER, zeroed, crafted.MACHINE)
        new = crafted.write_csv(self.path("new.csv"), crafted.REPLAY_HEADER, rows, crafted.MACHINE)
        _, got = self.compare(old, new)
        row = got[("geomean (0)", "", "rss_peak_bytes")]
        self.assertEqual(row["change"], "")
        self.assertIn("1 left out of the mean", row["verdict"])

    def test_stdout_that_cannot_be_written_is_one_line(self):
        # compare.py > /dev/full ended in a traceback.
        if not os.path.exists("/dev/full"):
            self.skipTest("no /dev/full here")
        old = self.write_run("old.csv", self.configs())
        with open("/dev/full", "w") as full:
            result = subprocess.run([sys.executable, os.path.join(crafted.TOOLS, "compare.py"), old, old],
                                    stdout=full, stderr=subprocess.PIPE, text=True, timeout=300)
        self.assertEqual(result.returncode, 1, result.stderr)
        self.assertEqual(result.stderr, "compare.py: stdout: cannot write: No space left on device\n")

    def test_fail_on_regression_below_the_noise_floor(self):
        # A 7% fall at p < 0.05 is "same" by the 10% time floor, but worse by
        # more than the 5% asked for: before, only a "slower" verdict counted,
        # and the run passed.
        old = self.write_run("old.csv", self.configs(arena_mops=15.0), time_spread=0.01)
        new = self.write_run("new.csv", self.configs(arena_mops=15.0 * 0.93), time_spread=0.01)
        _, rows = self.compare(old, new)
        self.assertEqual(rows[("cpython", "arena", "mops")]["verdict"], "same")
        self.assertLess(float(rows[("cpython", "arena", "mops")]["p"]), 0.05)
        result = crafted.run_tool("compare.py", old, new, "--figures", "mops", "--fail-on-regression", "5")
        self.assertEqual(result.returncode, 1, result.stderr)
        self.assertIn("regression: cpython arena bs=16 t=1 mops", result.stderr)
        self.assertEqual(crafted.run_tool("compare.py", old, new, "--figures", "mops",
                                          "--fail-on-regression", "8").returncode, 0)

    def test_fail_on_regression_counts_from_the_smaller_median_as_its_help_says(self):
        # A mops fall of 9.5% is the ns_per_op rise of 10.5%: both count as 10.5%
        # worse, as the verdict counts a change. The README and --help said
        # "worse by more than PCT percent of its old value", which a fall of
        # 9.5% is not.
        old = self.write_run("old.csv", self.configs(arena_mops=15.0), time_spread=0.0)
        new = self.write_run("new.csv", self.configs(arena_mops=15.0 / 1.105), time_spread=0.0)
        result = crafted.run_tool("compare.py", old, new, "--fail-on-regression", "10",
                                  "--figures", "mops")
        self.assertEqual(result.returncode, 1, result.stderr)
        self.assertIn("regression: cpython arena bs=16 t=1 mops: 15 -> 13.57 (-9.5%, "
                      "10.5% worse from the smaller median, p=", result.stderr)
        usage = " ".join(crafted.run_tool("compare.py", "--help").stdout.split())
        self.assertIn("exit 1 when a time or memory figure got significantly worse by more "
                      "than PCT percent, counted up from the smaller median", usage)

    def test_few_repetitions_warn_and_cannot_be_significant(self):
        old = self.write_run("old.csv", self.configs(arena_mops=15.0), repetitions=3)
        new = self.write_run("new.csv", self.configs(arena_mops=10.0), repetitions=3)
        result, rows = self.compare(old, new)
        self.assertIn("fewer than 5 repetitions", result.stderr)
        self.assertEqual(result.stderr.count("fewer than"), 1, "warned once")
        self.assertEqual(rows[("cpython", "arena", "mops")]["verdict"], "same")
        self.assertAlmostEqual(float(rows[("cpython", "arena", "mops")]["p"]), 0.1)

    def write_with_latencies(self, name, repetitions):
        # bench_replay measures latencies in the first repetition only, by design.
        return crafted.write_csv(
            self.path(name), crafted.REPLAY_HEADER + ["lat_malloc_p50_ns"],
            crafted.replay_rows(self.configs(), repetitions, self.rng, extra={
                "lat_malloc_p50_ns": lambda config, repetition: 40 if repetition == 0 else ""}),
            crafted.MACHINE)

    def test_figures_measured_once_by_design_do_not_warn_of_few_repetitions(self):
        # It warned "fewer than 5 repetitions on a side for 129 configuration(s)
        # ... as few as 1" on runs of 5 repetitions, for their latency columns.
        old, new = self.write_with_latencies("old.csv", 5), self.write_with_latencies("new.csv", 5)
        result, rows = self.compare(old, new)
        self.assertNotIn("fewer than", result.stderr)
        self.assertEqual(rows[("cpython", "arena", "lat_malloc_p50_ns")]["verdict"], "same")
        baseline = crafted.run_tool("compare.py", old, "--baseline", "glibc")
        self.assertNotIn("fewer than", baseline.stderr)
        # A run truly made with --repetitions=2 still warns, of 2.
        few = self.write_with_latencies("few.csv", 2)
        result, _ = self.compare(old, few)
        self.assertIn("fewer than 5 repetitions on a side for 4 configuration(s) (e.g. cpython "
                      "arena bs=16 t=1; as few as 2)", result.stderr)

    def test_machine_facts_and_unmatched_keys_are_reported(self):
        old = self.write_run("old.csv", self.configs())
        new = self.write_run("new.csv", self.configs()[:3] + [("cmake", "arena", 16, 1, 9, 1)],
                             facts=dict(crafted.MACHINE, kernel="6.9.9", cores="4"))
        result, rows = self.compare(old, new)
        self.assertIn("cores: '2' vs '4'", result.stderr)
        self.assertIn("kernel: '6.1.0' vs '6.9.9'", result.stderr)
        self.assertIn("only in %s: sqlite3 arena bs=16 t=1" % old, result.stderr)
        self.assertIn("only in %s: cmake arena bs=16 t=1" % new, result.stderr)
        self.assertNotIn(("cmake", "arena", "mops"), rows)

    def test_page_faults_of_different_cost_are_reported(self):
        # 2.1x apart passes (one host drifts about that much); 4.5x apart is another host.
        old = self.write_run("old.csv", self.configs())
        near = self.write_run("near.csv", self.configs(), facts=dict(crafted.MACHINE, page_fault_us="6.50"))
        dear = self.write_run("dear.csv", self.configs(), facts=dict(crafted.MACHINE, page_fault_us="13.95"))
        unknown = self.write_run("unknown.csv", self.configs(), facts=dict(crafted.MACHINE, page_fault_us="unknown"))
        result, _ = self.compare(old, dear)
        self.assertIn("a page fault cost 3.10 us in one run and 13.95 us in the other", result.stderr)
        for other in (near, unknown):
            result, _ = self.compare(old, other)
            self.assertNotIn("page fault cost", result.stderr, other)

    def test_different_allocator_settings_are_reported(self):
        # bench_replay writes ARENA_CHECKED=1 and the like before the command.
        plain = dict(crafted.MACHINE, command="build/bin/bench_replay --csv=plain.csv")
        checked = dict(crafted.MACHINE,
                       command="ARENA_CHECKED=1 'MALLOC_CONF=a b' build/bin/bench_replay --csv=c.csv")
        old = self.write_run("old.csv", self.configs(), facts=plain)
        new = self.write_run("new.csv", self.configs(), facts=checked)
        result, _ = self.compare(old, new)
        self.assertIn("warning: the runs' allocator settings differ ((none) vs ARENA_CHECKED=1 "
                      "MALLOC_CONF=a b)", result.stderr)
        same, _ = self.compare(new, new)
        self.assertNotIn("settings differ", same.stderr)

    def write_rows(self, name, rows):
        return crafted.write_csv(self.path(name), crafted.REPLAY_HEADER, rows, crafted.MACHINE)

    def test_a_changed_workload_is_reported(self):
        # A replay's ops and peak live bytes are the trace's: the same in every
        # repetition, and the same in two runs of the same traces.
        old = crafted.replay_rows(self.configs(), 5, self.rng)
        new = crafted.replay_rows(self.configs(), 5, self.rng)
        for row in new[:5]:                     # cpython glibc: a longer trace
            row[5] = crafted.OPS * 2
        result, _ = self.compare(self.write_rows("old.csv", old), self.write_rows("new.csv", new))
        self.assertIn("warning: ops differs in 1 configuration(s) (e.g. cpython glibc bs=16 t=1): "
                      "the workload changed between the runs", result.stderr)
        self.assertNotIn("peak_live_bytes differs", result.stderr)

    def test_a_count_chosen_per_repetition_is_no_workload(self):
        # bench_micro's ops is the number of calls Google Benchmark chose for
        # each repetition: it varies inside one run, so differing between two
        # runs says nothing of the workload. Every micro comparison warned
        # "ops differs in 346 configuration(s)", even where the count happened
        # to be the same in each repetition of a configuration (cpython glibc).
        def micro_rows(seed):
            rows = crafted.replay_rows(self.configs(), 5, self.rng)
            chooser = random.Random(seed)
            for index, row in enumerate(rows):
                row[5] = 1000 + seed if index < 5 else chooser.randrange(1000, 100000)
            return rows
        old, new = self.write_rows("old.csv", micro_rows(1)), self.write_rows("new.csv", micro_rows(2))
        result, _ = self.compare(old, new)
        self.assertNotIn("ops differs", result.stderr)
        self.assertEqual(result.stderr, "")

    def test_runs_with_nothing_in_common_are_an_error(self):
        # Nothing compared must not pass for "no regression" under --fail-on-regression.
        old = self.write_run("old.csv", self.configs())
        new = self.write_run("new.csv", [("other", "arena", 16, 1, 9.0, 1.0)])
        result = crafted.run_tool("compare.py", old, new, "--fail-on-regression", "5")
        self.assertEqual(result.returncode, 2, result.stderr)
        self.assertIn("compare.py: %s and %s share no configuration "
                      "(trace, allocator, block_size, threads): nothing to compare" % (old, new),
                      result.stderr)
        self.assertEqual(result.stdout, "")

    def test_a_file_with_a_header_and_no_rows_is_named(self):
        # It shares no configuration either, but that reason sent the user
        # looking for a mismatch of traces or allocators.
        full = self.write_run("full.csv", self.configs())
        empty = self.write_rows("empty.csv", [])
        for old, new in ((empty, full), (full, empty)):
            result = crafted.run_tool("compare.py", old, new)
            self.assertEqual(result.returncode, 2, result.stderr)
            self.assertEqual(result.stderr,
                             "compare.py: %s has a header and no rows: nothing to compare\n" % empty)
            self.assertEqual(result.stdout, "")


class OtherFiles(unittest.TestCase):
    def setUp(self):
        self.directory = tempfile.TemporaryDirectory()
        self.addCleanup(self.directory.cleanup)
        self.rng = random.Random(31)

    def realprog(self, name, arena_seconds, arena_failed=0):
        # arena's first `arena_failed` runs of each program failed their output
        # check, ending early (0.1 s).
        rows = [[program, allocator, 0, 1, repetition,
                 repr(crafted.jittered(self.rng, 0.1 if failed else seconds, 0.04)), 50_000_000,
                 "1.0", "0.1", 12000, 0 if failed else 1]
                for program in ("python3", "sqlite3")
                for allocator, seconds in (("glibc", 2.0), ("arena", arena_seconds))
                for repetition in range(7)
                for failed in [allocator == "arena" and repetition < arena_failed]]
        return crafted.write_csv(os.path.join(self.directory.name, name),
                                 crafted.REALPROG_HEADER, rows, crafted.MACHINE)

    def test_real_programs(self):
        # Four of arena's seven runs failed in the new run: its three right ones
        # (1.9 s) are slower than the old 1.5 s; with the failed ones in, the
        # median was theirs (0.1 s) and the verdict "faster".
        old, new = self.realprog("old.csv", 1.5), self.realprog("new.csv", 1.9, arena_failed=4)
        result = crafted.run_tool("compare.py", old, new, "--format", "csv")
        self.assertEqual(result.returncode, 0, result.stderr)
        rows = parse_output(result.stdout)
        self.assertEqual(rows[("python3", "arena", "wall_seconds")]["verdict"], "slower")
        self.assertEqual(rows[("python3", "glibc", "wall_seconds")]["verdict"], "same")
        self.assertEqual(rows[("python3", "arena", "max_rss_bytes")]["verdict"], "same")
        self.assertNotIn(("python3", "arena", "output_ok"), rows, "not a figure")
        self.assertIn("output check failed in %s for: python3 under arena, sqlite3 under arena "
                      "(those runs' figures are left out)" % new, result.stderr)
        baseline = crafted.run_tool("compare.py", old, "--baseline", "glibc", "--format", "csv")
        rows = parse_output(baseline.stdout)
        self.assertAlmostEqual(float(rows[("sqlite3", "arena", "wall_seconds")]["ratio"]), 0.75,
                               delta=0.05)
        self.assertEqual(rows[("sqlite3", "arena", "wall_seconds")]["verdict"], "faster")
        replay = crafted.write_csv(os.path.join(self.directory.name, "replay.csv"),
                                   crafted.REPLAY_HEADER, [])
        mixed = crafted.run_tool("compare.py", old, replay)
        self.assertEqual(mixed.returncode, 2)
        self.assertIn("is a realprog file and %s a replay file" % replay, mixed.stderr)

    def test_figures_measured_in_one_run_only(self):
        configs = [("cpython", "arena", 16, 1, 10.0, 1.1)]
        header = crafted.REPLAY_HEADER + ["instructions_per_op"]
        old = crafted.write_csv(os.path.join(self.directory.name, "old.csv"), header,
                                crafted.replay_rows(configs, 5, self.rng,
                                                    extra={"instructions_per_op": lambda c, r: ""}))
        new = crafted.write_csv(os.path.join(self.directory.name, "new.csv"), header,
                                crafted.replay_rows(configs, 5, self.rng,
                                                    extra={"instructions_per_op": lambda c, r: 80}))
        rows = parse_output(crafted.run_tool("compare.py", old, new, "--format", "csv").stdout)
        row = rows[("cpython", "arena", "instructions_per_op")]
        self.assertEqual((row["old"], row["new"], row["verdict"]), ("", "80", "missing"))
        rows = parse_output(crafted.run_tool("compare.py", old, old, "--format", "csv").stdout)
        self.assertNotIn(("cpython", "arena", "instructions_per_op"), rows, "measured nowhere")


class CompareAgainstBaseline(unittest.TestCase):
    def test_every_allocator_against_glibc(self):
        rng = random.Random(99)
        with tempfile.TemporaryDirectory() as directory:
            configs = [(trace, allocator, 0 if allocator != "arena" else 64, 1,
                        10.0 * speed, 1.2 * memory)
                       for trace in TRACES
                       for allocator, speed, memory in (("glibc", 1, 1), ("arena", 1.5, 0.8),
                                                        ("mimalloc", 1.02, 1.0))]
            run = crafted.write_csv(os.path.join(directory, "run.csv"), crafted.REPLAY_HEADER,
                                    crafted.replay_rows(configs, 9, rng), crafted.MACHINE)
            result = crafted.run_tool("compare.py", run, "--baseline", "glibc",
                                      "--figures", "mops,frag_rss", "--format", "csv")
            self.assertEqual(result.returncode, 0, result.stderr)
            rows = parse_output(result.stdout)
            arena = rows[("cpython", "arena", "mops")]
            self.assertAlmostEqual(float(arena["ratio"]), 1.5, delta=0.1)
            self.assertEqual(arena["verdict"], "faster")
            self.assertEqual(arena["block_size"], "64", "glibc at block 0 still matches")
            self.assertEqual(rows[("sqlite3", "arena", "frag_rss")]["verdict"], "leaner")
            self.assertEqual(rows[("cpython", "mimalloc", "mops")]["verdict"], "same")
            self.assertNotIn(("cpython", "glibc", "mops"), rows)
            self.assertAlmostEqual(float(rows[("geomean (2)", "arena", "mops")]["ratio"]), 1.5,
                                   delta=0.1)
            self.assertAlmostEqual(float(rows[("geomean (2)", "arena", "frag_rss")]["ratio"]),
                                   0.8, delta=0.02)
            self.assertEqual(len(rows), 2 * 2 * 2 + 2 * 2, "4 rows per allocator, 2 geomeans")

            text = crafted.run_tool("compare.py", run, "--baseline", "glibc", "--figures", "mops")
            self.assertRegex(text.stdout, r"cpython +arena +64 +1 +mops +\d+\.\d+ +\d+\.\d+ "
                                          r"+1\.\d\dx +<0\.001 +faster")
            missing = crafted.run_tool("compare.py", run, "--baseline", "tcmalloc")
            self.assertEqual(missing.returncode, 2)
            self.assertIn("no rows for the baseline allocator 'tcmalloc'", missing.stderr)

    def test_a_geometric_mean_says_how_many_keys_it_left_out(self):
        # bump's minor_faults against glibc's: 0 on most traces, a ratio of 0
        # that a geometric mean cannot take. The mean is over the rest, and
        # its row says how many it left out (it said "geomean (1) ... 16 same").
        def row(trace, ratio):
            r = compare.FigureComparison(("%s" % trace, "bump"), "minor_faults", [1], [1])
            r.ratio, r.verdict = ratio, "same"
            return r
        rows = [row("a", 2.0), row("b", 0.0), row("c", float("inf")), row("d", None)]
        [mean] = compare.geomean_rows(rows, ("trace", "allocator"), summed_columns=("trace",))
        self.assertEqual((mean.keys, mean.left_out), (1, 3))
        self.assertAlmostEqual(mean.ratio, 2.0)
        self.assertEqual(mean.verdict_summary(), "4 same; 3 left out of the mean (no ratio, 0 or infinite)")
        [whole] = compare.geomean_rows(rows[:1], ("trace", "allocator"), summed_columns=("trace",))
        self.assertEqual(whole.verdict_summary(), "1 same")

    def test_one_geometric_mean_over_traces_of_different_thread_counts(self):
        # A replay run: each threaded trace has its own thread count. The
        # geometric mean per allocator sums every trace up, as report.py's
        # tables and targets.py do; it was split into one row per thread
        # count ("geomean (1)" for each threaded trace).
        rng = random.Random(5)
        with tempfile.TemporaryDirectory() as directory:
            configs = [(trace, allocator, 0, threads, 10.0 * speed, 1.2)
                       for trace, threads, speed in (("cpython", 1, 1.2), ("sqlite3", 1, 1.2),
                                                     ("python-threads", 5, 1.2),
                                                     ("gen-threads", 4, 1.2))
                       for allocator, speed in (("glibc", 1), ("arena", speed))]
            run = crafted.write_csv(os.path.join(directory, "run.csv"), crafted.REPLAY_HEADER,
                                    crafted.replay_rows(configs, 5, rng, time_spread=0.0),
                                    crafted.MACHINE)
            result = crafted.run_tool("compare.py", run, "--baseline", "glibc",
                                      "--figures", "mops", "--format", "csv")
            self.assertEqual(result.returncode, 0, result.stderr)
            geomeans = [line for line in result.stdout.splitlines()
                        if line.startswith("geomean")]
            self.assertEqual(len(geomeans), 1, geomeans)
            self.assertTrue(geomeans[0].startswith("geomean (4),arena,0,,mops"), geomeans[0])


class HugePagesThresholds(unittest.TestCase):
    """A --huge-pages-from sweep: arena at the policy's own threshold, 16 MiB and never."""

    def setUp(self):
        self.directory = tempfile.TemporaryDirectory()
        self.addCleanup(self.directory.cleanup)
        self.rng = random.Random(17)

    def write(self, name, header, rows):
        return crafted.write_csv(os.path.join(self.directory.name, name), header, rows,
                                 crafted.MACHINE)

    def test_each_threshold_against_the_baseline(self):
        run = self.write("run.csv", crafted.HUGE_PAGES_HEADER,
                         crafted.huge_pages_rows(TRACES, self.rng, repetitions=7))
        result = crafted.run_tool("compare.py", run, "--baseline", "glibc", "--figures", "mops",
                                  "--format", "csv")
        self.assertEqual(result.returncode, 0, result.stderr)
        rows = {(row["trace"], row["allocator"], row[resultcsv.HUGE_PAGES_COLUMN]): row
                for row in csv.DictReader(io.StringIO(result.stdout))}
        for threshold, (mops, _) in crafted.HUGE_PAGES_FIGURES.items():
            row = rows[("cpython", "arena", str(threshold))]
            self.assertAlmostEqual(float(row["ratio"]), mops / 10.0, delta=0.12, msg=row)
            # One geometric mean per threshold, over both traces.
            self.assertIn(("geomean (2)", "arena", str(threshold)), rows)
        self.assertEqual(len(rows), 3 * 2 + 3)
        # People read the shorter header; the CSV above keeps the input's column name.
        text = crafted.run_tool("compare.py", run, "--baseline", "glibc", "--figures", "mops")
        self.assertEqual(text.returncode, 0, text.stderr)
        self.assertIn("huge pages from", text.stdout.splitlines()[0])

    def test_a_baseline_that_ran_several_thresholds_is_an_error(self):
        # compare.py HP/replay.csv --baseline arena printed an empty table and
        # exited 0: glibc matches none of arena's thresholds, and which of them
        # is "the baseline" is not defined.
        run = self.write("run.csv", crafted.HUGE_PAGES_HEADER,
                         crafted.huge_pages_rows(TRACES, self.rng, repetitions=7))
        result = crafted.run_tool("compare.py", run, "--baseline", "arena")
        self.assertEqual(result.returncode, 2, result.stderr)
        self.assertEqual(result.stdout, "")
        self.assertIn("compare.py: the baseline arena ran several configurations in %s "
                      "(bs=16; bs=16 hp=16 MiB; bs=16 hp=never), and 2 configuration(s) match "
                      "none of them (e.g. cpython glibc bs=0 t=1): a ratio to arena is not "
                      "defined; take as baseline an allocator that ran one configuration (glibc)"
                      % run, result.stderr)

    def test_a_baseline_with_nothing_to_compare_is_an_error(self):
        # Only the baseline ran: an empty table and exit 0 passed for "no
        # regression"; OLD NEW mode already says exit 2 when nothing is shared.
        only_glibc = [row for row in crafted.huge_pages_rows(TRACES, self.rng)
                      if row[1] == "glibc"]
        run = self.write("glibc.csv", crafted.HUGE_PAGES_HEADER, only_glibc)
        result = crafted.run_tool("compare.py", run, "--baseline", "glibc")
        self.assertEqual(result.returncode, 2, result.stderr)
        self.assertEqual(result.stdout, "")
        self.assertEqual(result.stderr, "compare.py: %s: nothing to compare against the "
                         "baseline glibc: only glibc ran\n" % run)
        elsewhere = [row for row in crafted.huge_pages_rows(("cmake",), self.rng)
                     if row[1] == "arena"]
        run = self.write("apart.csv", crafted.HUGE_PAGES_HEADER, only_glibc + elsewhere)
        result = crafted.run_tool("compare.py", run, "--baseline", "glibc")
        self.assertEqual(result.returncode, 2, result.stderr)
        self.assertIn("nothing to compare against the baseline glibc: no configuration of "
                      "arena ran on a trace and thread count that glibc ran", result.stderr)

    def test_an_older_run_without_the_column_joins_the_default(self):
        old = self.write("old.csv", crafted.REPLAY_HEADER, crafted.replay_rows(
            [(trace, allocator, block, 1, mops, 1.1) for trace in TRACES
             for allocator, block, mops in (("glibc", 0, 10.0), ("arena", 16, 15.0))],
            7, self.rng))
        new = self.write("new.csv", crafted.HUGE_PAGES_HEADER,
                         crafted.huge_pages_rows(TRACES, self.rng, repetitions=7))
        result = crafted.run_tool("compare.py", old, new, "--figures", "mops", "--format", "csv")
        self.assertEqual(result.returncode, 0, result.stderr)
        compared = [row for row in csv.DictReader(io.StringIO(result.stdout))
                    if not row["trace"].startswith("geomean")]
        self.assertEqual(sorted((r["trace"], r["allocator"], r[resultcsv.HUGE_PAGES_COLUMN], r["verdict"])
                                for r in compared),
                         [(trace, allocator, "", "same") for trace in TRACES
                          for allocator in ("arena", "glibc")])
        self.assertIn("4 configuration(s) only in %s: cpython arena bs=16 t=1 hp=16 MiB; "
                      "cpython arena bs=16 t=1 hp=never; sqlite3 arena bs=16 t=1 hp=16 MiB; "
                      "sqlite3 arena bs=16 t=1 hp=never" % new, result.stderr)


class BadInput(unittest.TestCase):
    def setUp(self):
        self.directory = tempfile.TemporaryDirectory()
        self.addCleanup(self.directory.cleanup)
        self.good = crafted.write_csv(
            os.path.join(self.directory.name, "good.csv"), crafted.REPLAY_HEADER,
            crafted.replay_rows([("cpython", "glibc", 16, 1, 10.0, 1.2)], 5, random.Random(1)))

    def write(self, text):
        path = os.path.join(self.directory.name, "bad.csv")
        with open(path, "w") as handle:
            handle.write(text)
        return path

    def assertRejected(self, text, line, words):
        bad = self.write(text)
        for args in ((self.good, bad), (bad, self.good), (bad, "--baseline", "glibc")):
            result = crafted.run_tool("compare.py", *args)
            self.assertEqual(result.returncode, 2, result.stderr)
            self.assertEqual(result.stdout, "")
            self.assertEqual(result.stderr.strip().splitlines(),
                             ["%s:%d: %s" % (bad, line, words)])

    def test_missing_column(self):
        header = ",".join(c for c in crafted.REPLAY_HEADER if c != "frag_rss")
        self.assertRejected("# cpu: x\n# cores: 2\n%s\ncpython,glibc,16,1,0,1,2,3,4,5\n" % header,
                            3, "missing required column 'frag_rss' (a replay file starts with: "
                               + ",".join(crafted.REPLAY_HEADER) + ")")

    def test_bad_number(self):
        rows = ["cpython,glibc,16,1,%d,1000,100,10,5000,6000,1.2" % r for r in range(3)]
        rows[2] = rows[2].replace(",6000,", ",6k,")
        self.assertRejected("# cpu: x\n%s\n%s\n" % (",".join(crafted.REPLAY_HEADER),
                                                    "\n".join(rows)),
                            5, "rss_peak_bytes: '6k' is not a number")

    def test_wrong_field_count(self):
        self.assertRejected("%s\ncpython,glibc,16,1,0,1000,100,10,5000,6000\n"
                            % ",".join(crafted.REPLAY_HEADER), 2, "10 fields, the header has 11")

    def test_no_header(self):
        self.assertRejected("# command: ./bench.sh\n", 1,
                            "no header line (the file has only comments)")

    def test_bad_flags_print_usage(self):
        for args in ((), (self.good,), (self.good, self.good, "--baseline", "glibc"),
                     (self.good, self.good, "--format", "html"),
                     (self.good, self.good, "--figures", "no_such_figure"),
                     # an empty list is no list: it meant every figure
                     (self.good, self.good, "--figures", ","),
                     (self.good, self.good, "--figures", "mops,,ns_per_op"),
                     (self.good, self.good, "--fail-on-regression", "lots"),
                     # a percentage below zero or not finite makes no floor and no bound
                     (self.good, self.good, "--fail-on-regression", "-3"),
                     (self.good, self.good, "--fail-on-regression", "nan"),
                     (self.good, self.good, "--noise", "nan"),
                     (self.good, self.good, "--time-noise", "inf"),
                     (self.good, self.good, "--memory-noise", "-1")):
            result = crafted.run_tool("compare.py", *args)
            self.assertEqual(result.returncode, 2, args)
            self.assertIn("usage: compare.py", result.stderr, args)

    def test_missing_file(self):
        result = crafted.run_tool("compare.py", self.good, "/nonexistent/new.csv")
        self.assertEqual(result.returncode, 2)
        self.assertIn("/nonexistent/new.csv", result.stderr)


class Geomean(unittest.TestCase):
    def test_opposite_changes_cancel(self):
        rows = [compare.compare_figure(("a",), "mops", [10.0] * 5, [12.0] * 5,
                                       compare.NoiseFloors()),
                compare.compare_figure(("b",), "mops", [12.0] * 5, [10.0] * 5,
                                       compare.NoiseFloors())]
        (geomean,) = compare.geomean_rows(rows, ("trace",), ("trace",))
        self.assertAlmostEqual(geomean.ratio, 1.0)
        self.assertEqual(geomean.verdicts, {"faster": 1, "slower": 1})
        self.assertEqual(resultcsv.figure_kind("mops"), "time")


if __name__ == "__main__":
    unittest.main()
