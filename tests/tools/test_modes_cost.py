"""tools/modes_cost.py: each mode's throughput ratio to glibc, as a fraction of
the plain run's, from crafted runs whose answer is known."""

import os
import random
import tempfile
import unittest

import crafted


ENVIRONMENT = {"plain.csv": "", "checked.csv": "ARENA_CHECKED=1 ", "secure.csv": "ARENA_SECURE=1 "}


def run_file(directory, name, arena_speed, environment=None):
    """A replay CSV of arena-malloc at arena_speed x glibc's 10 Mops/s on two
    traces, its command run in the environment its name says (or `environment`)."""
    configs = [(trace, allocator, 0, 1, 10.0 * (arena_speed if allocator == "arena-malloc" else 1),
                1.1) for trace in ("sqlite", "gxx-stl") for allocator in ("arena-malloc", "glibc")]
    rows = crafted.replay_rows(configs, 3, random.Random(1), time_spread=0.0, memory_spread=0.0)
    facts = dict(crafted.MACHINE)
    prefix = ENVIRONMENT.get(name, "") if environment is None else environment
    facts["command"] = prefix + "build/bin/bench_replay --allocators=arena-malloc,glibc"
    return crafted.write_csv(os.path.join(directory, name), crafted.REPLAY_HEADER, rows, facts)


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

    def test_a_run_in_the_wrong_mode_is_refused(self):
        # The plain run given three times compared it with itself, and said
        # each mode cost nothing.
        with tempfile.TemporaryDirectory() as tmp:
            plain = run_file(tmp, "plain.csv", 1.5)
            secure = run_file(tmp, "secure.csv", 1.2)
            both = run_file(tmp, "both.csv", 0.3, "ARENA_CHECKED=1 ARENA_SECURE=1 ")
            off = run_file(tmp, "off.csv", 0.3, "ARENA_CHECKED=0 ")
            for files, bad, expected in (((plain, plain, secure), plain, "a plain run"),
                                         ((plain, secure, secure), secure, "a secure run"),
                                         ((plain, both, secure), both, "a checked and secure run"),
                                         ((plain, off, secure), off, "a plain run"),
                                         ((secure, run_file(tmp, "checked.csv", 0.3), secure), secure,
                                          "a secure run")):
                result = crafted.run_tool("modes_cost.py", *files)
                self.assertEqual(result.returncode, 2, files)
                self.assertIn("%s: %s (its command: " % (bad, expected), result.stderr)
                self.assertNotIn("Traceback", result.stderr)

    def test_a_run_without_the_drop_in_is_refused(self):
        with tempfile.TemporaryDirectory() as tmp:
            configs = [(trace, "glibc", 0, 1, 10.0, 1.1) for trace in ("sqlite", "gxx-stl")]
            rows = crafted.replay_rows(configs, 3, random.Random(1), time_spread=0.0, memory_spread=0.0)
            files = [crafted.write_csv(os.path.join(tmp, name), crafted.REPLAY_HEADER, rows,
                                       dict(crafted.MACHINE, command=ENVIRONMENT[name] + "bench_replay"))
                     for name in ("plain.csv", "checked.csv", "secure.csv")]
            result = crafted.run_tool("modes_cost.py", *files)
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
