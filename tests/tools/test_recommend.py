"""tools/recommend.py on crafted sweeps whose best block sizes are known."""

import os
import random
import tempfile
import unittest

import crafted
import recommend
from resultcsv import read_results

TRACES = ["cpython", "sqlite3", "cmake"]


class CraftedSweep(unittest.TestCase):
    """The sweep of crafted.py: best block 256 for speed, 16 for memory, 64 balanced."""

    @classmethod
    def setUpClass(cls):
        cls.directory = tempfile.TemporaryDirectory()
        cls.path = crafted.write_csv(
            os.path.join(cls.directory.name, "sweep.csv"), crafted.REPLAY_HEADER + ["region_size"],
            crafted.sweep_rows(crafted.sweep_configs(TRACES), 5, random.Random(42)),
            dict(crafted.MACHINE, command="./bench.sh sweep"))
        cls.table = read_results(cls.path)

    @classmethod
    def tearDownClass(cls):
        cls.directory.cleanup()

    def test_each_goal_finds_the_known_best(self):
        for goal in recommend.GOALS:
            expected = (crafted.BEST_BLOCK[goal], crafted.BEST_REGION[goal], None)
            for allocator in ("arena", "seed"):
                result = recommend.recommend(self.table, allocator, goal)
                self.assertEqual(result.overall, expected, (goal, allocator))
                self.assertEqual([t.best.config for t in result.traces], [expected] * 3)
                self.assertTrue(result.stable)
                self.assertEqual(len(result.left_out), 3)
                for left_out in result.left_out:
                    self.assertEqual(left_out.choice, expected)
                    self.assertAlmostEqual(left_out.regret_pct, 0.0)

    def test_balanced_scores_follow_the_definition(self):
        result = recommend.recommend(self.table, "arena", "balanced")
        cpython = result.traces[[t.case for t in result.traces].index("cpython")]
        fastest = max(m.spreads["mops"].median for m in cpython.measured.values())
        leanest = min(m.spreads["frag_rss"].median for m in cpython.measured.values())
        best = cpython.best
        expected = ((best.spreads["mops"].median / fastest)
                    * (leanest / best.spreads["frag_rss"].median)) ** 0.5
        self.assertAlmostEqual(best.score, expected)
        # Block 64 at the largest region: 0.7 of the fastest (256, same region),
        # frag_rss 1.08 * 1.03^2 against the leanest 1.05 (16, smallest region).
        self.assertAlmostEqual(best.score, (0.7 * 1.05 / (1.08 * 1.03 ** 2)) ** 0.5, delta=0.01)

    def test_command_line(self):
        result = crafted.run_tool("recommend.py", self.path, "--goal", "memory")
        self.assertEqual(result.returncode, 0, result.stderr)
        self.assertIn("arena, goal memory", result.stdout)
        self.assertIn("seed, goal memory", result.stdout)
        self.assertIn("overall: block 16, region 64 KiB", result.stdout)
        self.assertRegex(result.stdout, r"cpython +block 16, region 64 KiB +1\.000 +1\.05\d* "
                                        r"\(1\.0\d+-1\.0\d+\)")
        self.assertIn("stable: every leave-one-out choice is the overall choice", result.stdout)
        only_arena = crafted.run_tool("recommend.py", os.path.dirname(self.path), "--goal",
                                      "speed", "--allocators", "arena", "--format", "markdown")
        self.assertIn("**overall: block 256, region 4 MiB", only_arena.stdout)
        self.assertNotIn("seed", only_arena.stdout)

    def test_options_between_the_files(self):
        # Two files with --goal between them: "unrecognized arguments" before.
        replay = crafted.write_csv(
            os.path.join(self.directory.name, "replay.csv"), crafted.REPLAY_HEADER,
            crafted.replay_rows([("cpython", "glibc", 0, 1, 10.0, 1.2)], 3, random.Random(1)))
        between = crafted.run_tool("recommend.py", self.path, "--goal", "memory", replay)
        self.assertEqual(between.returncode, 0, between.stderr)
        self.assertEqual(between.stdout,
                         crafted.run_tool("recommend.py", self.path, "--goal", "memory").stdout)


class HugePagesSweep(unittest.TestCase):
    """arena at the policy's own huge-pages threshold, 16 MiB (the fastest) and
    never (the leanest), at block 16."""

    def test_the_threshold_is_part_of_the_choice(self):
        with tempfile.TemporaryDirectory() as directory:
            path = crafted.write_csv(os.path.join(directory, "replay.csv"),
                                     crafted.HUGE_PAGES_HEADER,
                                     crafted.huge_pages_rows(TRACES, random.Random(2)))
            table = read_results(path)
            for goal, threshold in (("speed", 16777216), ("memory", "never"),
                                    ("balanced", 16777216)):
                result = recommend.recommend(table, "arena", goal)
                self.assertEqual(result.overall, (16, None, threshold), goal)
                self.assertTrue(result.stable, goal)
            text = crafted.run_tool("recommend.py", path, "--goal", "memory")
            self.assertEqual(text.returncode, 0, text.stderr)
            self.assertIn("overall: block 16, huge pages never, geometric-mean score 1.000",
                          text.stdout)
            self.assertRegex(text.stdout, r"cpython +block 16, huge pages never +1\.000 .* "
                                          r"block 16, huge pages - +0\.95")
            self.assertEqual(text.stderr, "")
        self.assertEqual(recommend.config_name((16, None, 16777216), False, True),
                         "block 16, huge pages from 16 MiB")


class LeaveOneOut(unittest.TestCase):
    """Traces a and b want block 64, trace c wants 1024; 256 is second
    everywhere (speed scores a, b: 1, 0.9, 0.5; c: 0.5, 0.9, 1)."""

    def setUp(self):
        self.directory = tempfile.TemporaryDirectory()
        self.addCleanup(self.directory.cleanup)
        mops = {"a": {64: 10, 256: 9, 1024: 5}, "b": {64: 10, 256: 9, 1024: 5},
                "c": {64: 5, 256: 9, 1024: 10}}
        configs = [(trace, "arena", block, 1, speed, 1.2)
                   for trace, by_block in mops.items() for block, speed in by_block.items()]
        self.path = crafted.write_csv(os.path.join(self.directory.name, "sweep.csv"),
                                      crafted.REPLAY_HEADER,
                                      crafted.replay_rows(configs, 5, random.Random(1),
                                                          time_spread=0, memory_spread=0))

    def test_regret_and_stability(self):
        result = recommend.recommend(read_results(self.path), "arena", "speed")
        self.assertEqual(result.overall, (256, None, None), "geomean 0.9 beats 0.794 and 0.630")
        self.assertAlmostEqual(result.overall_score, 0.9)
        left_out = {l.case: (l.choice[0], l.own_best[0], round(l.regret_pct, 6))
                    for l in result.left_out}
        self.assertEqual(left_out, {"a": (256, 64, 10.0), "b": (256, 64, 10.0),
                                    "c": (64, 1024, 50.0)})
        self.assertFalse(result.stable)

        text = crafted.run_tool("recommend.py", self.path, "--goal", "speed").stdout
        self.assertIn("overall: block 256, geometric-mean score 0.900 over 3 trace(s)", text)
        self.assertRegex(text, r"\nc +block 64 +block 1024 +50\.0%\n")
        self.assertIn("not stable: leaving out a trace changes the choice (without c: block 64); "
                      "the worst regret on a left-out trace is 50.0% (c)", text)

    def test_one_trace_cannot_be_left_out(self):
        table = read_results(self.path).select(traces=["a"])
        result = recommend.recommend(table, "arena", "speed")
        self.assertEqual(result.overall, (64, None, None))
        self.assertEqual(result.left_out, [])
        self.assertIn("leave-one-out: needs two traces or more",
                      recommend.render_recommendation(result))

    def test_ties_go_to_the_smaller_block(self):
        configs = [("a", "arena", block, 1, 10.0, 1.2) for block in (512, 32, 128)]
        path = crafted.write_csv(os.path.join(self.directory.name, "tie.csv"),
                                 crafted.REPLAY_HEADER,
                                 crafted.replay_rows(configs, 3, random.Random(1), 0, 0))
        self.assertEqual(recommend.recommend(read_results(path), "arena", "speed").overall,
                         (32, None, None))

    def test_ties_go_to_the_smaller_region_counting_the_policys_own(self):
        # An empty region_size is the policy's own, arena's 4 MiB: it counted as
        # 0 and beat a 1 MiB region on a tie, against "the smaller region wins".
        configs = [("a", "arena", 64, 1, region, 10.0, 1.2) for region in ("", 1 << 20, 8 << 20)]
        path = crafted.write_csv(os.path.join(self.directory.name, "regions.csv"),
                                 crafted.REPLAY_HEADER + ["region_size"],
                                 crafted.replay_rows(configs, 3, random.Random(1), 0, 0,
                                                     extra={"region_size": lambda c, r: c[4]}))
        self.assertEqual(recommend.recommend(read_results(path), "arena", "speed").overall,
                         (64, 1 << 20, None))
        # Against a larger region set by the run, the policy's own (4 MiB) is the smaller.
        table = read_results(path)
        table.rows = [row for row in table.rows if row["region_size"] != 1 << 20]
        self.assertEqual(recommend.recommend(table, "arena", "speed").overall, (64, None, None))

    def test_one_configuration_is_no_choice(self):
        # A default replay run measures arena at block 16 alone: say so, rather
        # than present block 16 as the best of one.
        configs = [(trace, allocator, 16 if allocator == "arena" else 0, 1, 10.0, 1.2)
                   for trace in ("a", "b") for allocator in ("arena", "glibc")]
        run_dir = os.path.join(self.directory.name, "default-run")
        os.makedirs(run_dir)
        path = crafted.write_csv(os.path.join(run_dir, "replay.csv"), crafted.REPLAY_HEADER,
                                 crafted.replay_rows(configs, 3, random.Random(1), 0, 0))
        # It printed a full table and "stable: ... (block 16)" and exited 0,
        # with a warning on stderr alone.
        for given in (path, run_dir):
            result = crafted.run_tool("recommend.py", given)
            self.assertEqual(result.returncode, 2, result.stdout)
            self.assertEqual(result.stdout, "")
            self.assertTrue(result.stderr.endswith(
                "recommend.py: error: no block-size sweep in %s (only block size 16 was run): "
                "run ./bench.sh sweep\n" % given), result.stderr)
        swept = crafted.run_tool("recommend.py", self.path)
        self.assertEqual(swept.stderr, "")

    def test_an_allocator_of_one_configuration_beside_a_sweep_is_left_out(self):
        configs = [(trace, allocator, block, 1, 10.0 + block / 100, 1.2)
                   for trace in ("a", "b") for allocator, blocks in (("arena", (16, 64)),
                                                                   ("seed", (32,)))
                   for block in blocks]
        path = crafted.write_csv(os.path.join(self.directory.name, "mixed.csv"),
                                 crafted.REPLAY_HEADER,
                                 crafted.replay_rows(configs, 3, random.Random(1), 0, 0))
        result = crafted.run_tool("recommend.py", path, "--goal", "speed")
        self.assertEqual(result.returncode, 0, result.stderr)
        self.assertIn("overall: block 64", result.stdout)
        self.assertNotIn("seed, goal", result.stdout)
        self.assertEqual(result.stderr, "warning: %s measured seed in one configuration alone "
                         "(block size 32): nothing to choose between; left out\n" % path)
        only_seed = crafted.run_tool("recommend.py", path, "--allocators", "seed")
        self.assertEqual(only_seed.returncode, 2)
        self.assertIn("(only block size 32 was run)", only_seed.stderr)

    def test_bad_input(self):
        self.assertEqual(crafted.run_tool("recommend.py", self.path, "--goal", "fast").returncode,
                         2)
        no_policy = crafted.run_tool("recommend.py", self.path, "--allocators", "glibc")
        self.assertEqual(no_policy.returncode, 2)
        self.assertIn("no rows of glibc", no_policy.stderr)
        no_trace = crafted.run_tool("recommend.py", self.path, "--traces", "nope,a")
        self.assertEqual(no_trace.returncode, 2)
        self.assertIn("recommend.py: error: --traces: no nope in %s (traces: a, b, c)" % self.path,
                      no_trace.stderr)
        missing = crafted.run_tool("recommend.py", os.path.join(self.directory.name, "none.csv"))
        self.assertEqual(missing.returncode, 2)
        self.assertIn("none.csv", missing.stderr)


if __name__ == "__main__":
    unittest.main()
