"""tools/modes_cost.py: each mode's throughput ratio to glibc, as a fraction of
the plain run's, from crafted runs whose answer is known."""

import os
import random
import tempfile
import unittest

import crafted


def run_file(directory, name, arena_speed):
    """A replay CSV of arena-malloc at arena_speed x glibc's 10 Mops/s on two traces."""
    configs = [(trace, allocator, 0, 1, 10.0 * (arena_speed if allocator == "arena-malloc" else 1),
                1.1) for trace in ("sqlite", "gxx-stl") for allocator in ("arena-malloc", "glibc")]
    rows = crafted.replay_rows(configs, 3, random.Random(1), time_spread=0.0, memory_spread=0.0)
    return crafted.write_csv(os.path.join(directory, name), crafted.REPLAY_HEADER, rows,
                             crafted.MACHINE)


class ModesCost(unittest.TestCase):
    def test_fractions_of_the_plain_run(self):
        with tempfile.TemporaryDirectory() as tmp:
            files = [run_file(tmp, "plain.csv", 1.5), run_file(tmp, "checked.csv", 0.3),
                     run_file(tmp, "secure.csv", 1.2)]
            result = crafted.run_tool("modes_cost.py", *files)
        self.assertEqual(result.returncode, 0, result.stderr)
        lines = {line.split()[0]: line.split() for line in result.stdout.splitlines()}
        self.assertEqual(lines["sqlite"][1:], ["1.50x", "0.30x", "0.20", "1.20x", "0.80"])
        self.assertEqual(lines["geometric"][2:], ["1.50x", "0.30x", "0.20", "1.20x", "0.80"])

    def test_a_run_without_the_drop_in_is_refused(self):
        with tempfile.TemporaryDirectory() as tmp:
            configs = [(trace, "glibc", 0, 1, 10.0, 1.1) for trace in ("sqlite", "gxx-stl")]
            rows = crafted.replay_rows(configs, 3, random.Random(1), time_spread=0.0, memory_spread=0.0)
            glibc_only = crafted.write_csv(os.path.join(tmp, "glibc.csv"), crafted.REPLAY_HEADER, rows,
                                           crafted.MACHINE)
            result = crafted.run_tool("modes_cost.py", glibc_only, glibc_only, glibc_only)
        self.assertEqual(result.returncode, 2)
        self.assertIn("no trace has arena-malloc and glibc throughput", result.stderr)
        self.assertNotIn("Traceback", result.stderr)

    def test_wrong_arguments(self):
        for args in (("only-one.csv",), ("a.csv", "b.csv", "--no-such-flag")):
            result = crafted.run_tool("modes_cost.py", *args)
            self.assertEqual(result.returncode, 2, args)
            self.assertIn("usage: modes_cost.py", result.stderr, args)
            self.assertIn("PLAIN.csv", result.stderr, args)

    def test_help(self):
        for flag in ("--help", "-h"):
            result = crafted.run_tool("modes_cost.py", flag)
            self.assertEqual(result.returncode, 0, result.stderr)
            self.assertIn("usage: modes_cost.py", result.stdout)
            self.assertIn("ARENA_CHECKED=1", result.stdout)

    def test_a_bad_file_is_named(self):
        with tempfile.TemporaryDirectory() as tmp:
            bad = os.path.join(tmp, "bad.csv")
            with open(bad, "w") as handle:
                handle.write("not,a,replay,file\n")
            result = crafted.run_tool("modes_cost.py", bad, bad, bad)
        self.assertEqual(result.returncode, 2)
        self.assertIn("bad.csv", result.stderr)


if __name__ == "__main__":
    unittest.main()
