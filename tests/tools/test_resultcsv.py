"""tools/resultcsv.py: the CSV contract, read and enforced in one place."""

import os
import tempfile
import unittest

import crafted
import resultcsv
from resultcsv import CsvFormatError, read_results

HEADER = ",".join(crafted.REPLAY_HEADER)
ROW = "cpython,glibc,16,1,%d,1000,100.5,9.95,5000,6000,1.2"


class Reading(unittest.TestCase):
    def setUp(self):
        self.directory = tempfile.TemporaryDirectory()
        self.addCleanup(self.directory.cleanup)

    def write(self, text, name="run.csv"):
        path = os.path.join(self.directory.name, name)
        with open(path, "w") as handle:
            handle.write(text)
        return path

    def assertRejected(self, text, line, words):
        path = self.write(text)
        with self.assertRaises(CsvFormatError) as caught:
            read_results(path)
        self.assertEqual(caught.exception.line, line, str(caught.exception))
        self.assertIn(words, str(caught.exception))
        self.assertTrue(str(caught.exception).startswith("%s:%d: " % (path, line)))

    def test_facts_header_and_values(self):
        table = read_results(self.write(
            "# command: ./bench.sh run --reps 2\n# cpu: Some CPU: 2 GHz\n"
            "# allocator.jemalloc: 5.3.0\n# a free comment\n%s,internal_frag,note\n"
            "%s,0.05,warm\n%s,,cold\n" % (HEADER, ROW % 0, ROW % 1)))
        self.assertEqual(table.kind, "replay")
        self.assertEqual(table.facts["command"], "./bench.sh run --reps 2")
        self.assertEqual(table.facts["cpu"], "Some CPU: 2 GHz")
        self.assertEqual(table.facts["allocator.jemalloc"], "5.3.0")
        self.assertEqual(table.comments, ["a free comment"])
        self.assertEqual(table.rows[0]["mops"], 9.95)
        self.assertEqual(table.rows[0]["ops"], 1000)
        self.assertIsNone(table.rows[1]["internal_frag"], "empty means not measured")
        self.assertEqual(table.rows[1]["note"], "cold", "a text column stays text")
        self.assertNotIn("note", table.figure_columns())
        self.assertEqual(table.line_of, [6, 7])
        self.assertEqual(table.config_columns, resultcsv.CONFIG_COLUMNS)

    def test_lines_end_at_newlines_alone(self):
        # A trace's name is its file's name, which may hold a form feed or a
        # newline: bench_replay quotes the one and writes the other as it is,
        # in a fact and in a row. Both read back whole, on the right lines.
        odd = "a\fb"
        path = os.path.join(self.directory.name, "run.csv")
        with open(path, "w", newline="") as handle:
            handle.write("# job_seconds: 1 s in the children: %s 1 s\n%s\n%s\n\"we\nird\"%s\n"
                         % (odd, HEADER, (ROW % 0).replace("cpython", odd, 1),
                            (ROW % 0)[len("cpython"):]))
        table = read_results(path)
        self.assertEqual(table.facts["job_seconds"], "1 s in the children: %s 1 s" % odd)
        self.assertEqual([row["trace"] for row in table.rows], [odd, "we\nird"])
        self.assertEqual(table.line_of, [3, 5])

    def test_lines_may_end_with_crlf(self):
        table = read_results(self.write("# a: b\r\n%s\r\n%s\r\n" % (HEADER, ROW % 0)))
        self.assertEqual((table.facts["a"], len(table.rows), table.rows[0]["frag_rss"]),
                         ("b", 1, 1.2))

    def test_region_size_joins_the_key(self):
        table = read_results(self.write("%s,region_size\n%s,65536\n%s,1048576\n"
                                        % (HEADER, ROW % 0, ROW % 0)))
        self.assertEqual(table.config_columns[-1], "region_size")
        self.assertEqual(len(table.groups()), 2)

    def test_huge_pages_from_joins_the_key(self):
        # Empty (the policy's own), a byte count and "never": three configurations.
        table = read_results(self.write("%s,region_size,huge_pages_from\n%s,65536,\n"
                                        "%s,65536,16777216\n%s,65536,never\n"
                                        % (HEADER, ROW % 0, ROW % 0, ROW % 0)))
        self.assertEqual(table.config_columns[-2:], ("region_size", "huge_pages_from"))
        self.assertEqual(len(table.groups()), 3)
        self.assertEqual([row["huge_pages_from"] for row in table.rows], [None, 16777216, "never"])
        self.assertNotIn("huge_pages_from", table.figure_columns())
        self.assertEqual([label for _, label in resultcsv.allocator_configs(table.rows)],
                         ["glibc bs=16 rs=64 KiB", "glibc bs=16 rs=64 KiB hp=16 MiB",
                          "glibc bs=16 rs=64 KiB hp=never"])
        self.assertTrue(resultcsv.has_several_configs(table))
        self.assertEqual(resultcsv.describe_key(table.config_columns, list(table.groups())[2]),
                         "cpython glibc bs=16 t=1 rs=64 KiB hp=never")
        # Without the column (older runs), a row's threshold is the default.
        older = read_results(self.write("%s\n%s\n" % (HEADER, ROW % 0), "older.csv"))
        self.assertEqual(older.config_columns, resultcsv.CONFIG_COLUMNS)
        self.assertIsNone(older.rows[0].get("huge_pages_from"))
        self.assertEqual(resultcsv.allocator_configs(older.rows),
                         [(("glibc", 16, None, None), "glibc")])

    def test_huge_pages_from_takes_a_byte_count_or_never(self):
        header = HEADER + ",huge_pages_from"
        for value in ("auto", "1.5", "-1", "16m"):
            self.assertRejected("%s\n%s,%s\n" % (header, ROW % 0, value), 2,
                                "huge_pages_from: '%s' is not a byte count or 'never'" % value)
        self.assertRejected("%s\n%s,never\n%s,never\n" % (header, ROW % 0, ROW % 0), 3,
                            "duplicate row: same trace,allocator,block_size,threads,"
                            "huge_pages_from,repetition as line 2")

    def test_other_kinds_by_header(self):
        realprog = read_results(self.write(",".join(crafted.REALPROG_HEADER)
                                           + "\npython3,glibc,0,1,0,1.5,5000,1.2,0.1,300,1\n"))
        self.assertEqual(realprog.kind, "realprog")
        self.assertIn("wall_seconds", realprog.figure_columns())
        timeline = read_results(self.write(",".join(crafted.TIMELINE_HEADER)
                                           + "\ncpython,glibc,16,1,0,0,0,\n"))
        self.assertEqual(timeline.kind, "timeline")
        self.assertIsNone(timeline.rows[0]["mapped_bytes"])

    def test_rejections_name_the_line(self):
        self.assertRejected("", 1, "no header")
        self.assertRejected("# only: facts\n", 1, "no header")
        # Old Mac line endings: one line, which read "the file has only comments".
        self.assertRejected("# a: b\r%s\r%s\r" % (HEADER, ROW % 0), 1,
                            "lines end with a carriage return alone (\\r)")
        self.assertRejected((ROW % 0) + "\n", 1, "no header")
        self.assertRejected("# x: y\n" + HEADER.replace(",mops", "") + "\n", 2,
                            "missing required column 'mops'")
        self.assertRejected(HEADER.replace("ops,ns_per_op", "ns_per_op,ops") + "\n", 1,
                            "column 6 is 'ns_per_op', expected 'ops'")
        self.assertRejected("%s\n%s\n%s\n" % (HEADER, ROW % 0, (ROW % 1).replace("9.95", "fast")),
                            3, "mops: 'fast' is not a number")
        self.assertRejected("%s\n%s\n" % (HEADER, (ROW % 0).replace("9.95", "nan")), 2,
                            "not a number")
        # past a double's range, negative, or a zero rate: broken rows, not figures
        self.assertRejected("%s\n%s\n" % (HEADER, (ROW % 0).replace("9.95", "1e400")), 2,
                            "mops: '1e400' is not a number")
        self.assertRejected("%s\n%s\n" % (HEADER, (ROW % 0).replace("5000", "1" + "0" * 400)), 2,
                            "is not a number")
        self.assertRejected("%s\n%s\n" % (HEADER, (ROW % 0).replace("9.95", "-9.95")), 2,
                            "mops: -9.95 is negative")
        self.assertRejected("%s\n%s\n" % (HEADER, (ROW % 0).replace("9.95", "0")), 2,
                            "mops: 0 (a rate or time per op is above 0)")
        self.assertRejected("%s\n%s,extra\n" % (HEADER, ROW % 0), 2, "12 fields, the header has 11")
        self.assertRejected("%s\n%s\n%s\n" % (HEADER, ROW % 0, ROW % 0), 3,
                            "duplicate row: same trace,allocator,block_size,threads,"
                            "repetition as line 2")
        self.assertRejected("%s\n%s\n" % (HEADER, (ROW % 0).replace(",16,", ",1.5,")), 2,
                            "block_size: '1.5' is not a whole number")
        self.assertRejected("%s\n%s\n# late: fact\n" % (HEADER, ROW % 0), 3, "after the header")

    def test_run_directory_roles(self):
        crafted.write_csv(os.path.join(self.directory.name, "replay.csv"),
                          crafted.REPLAY_HEADER, [], crafted.MACHINE)
        crafted.write_csv(os.path.join(self.directory.name, "timeline.csv"),
                          crafted.REPLAY_HEADER, [])
        with self.assertRaises(CsvFormatError) as caught:
            resultcsv.read_run([self.directory.name])
        self.assertIn("timeline.csv:1: a replay header in a file named timeline.csv",
                      str(caught.exception))


if __name__ == "__main__":
    unittest.main()
