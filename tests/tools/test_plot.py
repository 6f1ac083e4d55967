"""tools/plot.py draws non-empty PNG (and SVG) charts from a small crafted run.
Needs matplotlib (Debian's python3-matplotlib): skipped without it (exit 77 as a script)."""

import os
import random
import shutil
import tempfile
import unittest

import crafted
import resultcsv

MISSING = crafted.require_module("matplotlib", "python3-matplotlib")
load_tests = crafted.skip_everything_when(MISSING)

import plot  # noqa: E402

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


class AxisText(unittest.TestCase):
    def test_op_counts_are_short_enough_for_a_panel(self):
        self.assertEqual([plot.op_count_text(n) for n in (0, 500, 250000, 1500000, 2400000)],
                         ["0", "500", "250k", "1.5M", "2.4M"])


class PlotRun(crafted.RunDirTestCase):
    SEED = 8

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.result = crafted.run_tool("plot.py", cls.run_dir)

    def assertImage(self, path):
        with open(path, "rb") as handle:
            data = handle.read()
        if path.endswith(".png"):
            self.assertEqual(data[:8], PNG_SIGNATURE, path)
            width, height = int.from_bytes(data[16:20], "big"), int.from_bytes(data[20:24], "big")
            self.assertGreater(width, 300, path)
            self.assertGreater(height, 200, path)
            self.assertGreater(len(data), 10_000, "a chart, not an empty canvas: %s" % path)
        else:
            self.assertIn(b"<svg", data[:1000], path)

    def test_every_chart_of_the_run(self):
        self.assertEqual(self.result.returncode, 0, self.result.stderr)
        expected = ["replay-mops", "replay-frag_rss", "sweep-cpython", "sweep-sqlite3",
                    "pareto", "timeline-cpython", "timeline-sqlite3"]
        written = self.result.stdout.split()
        self.assertEqual(sorted(written), sorted(
            os.path.join(self.run_dir, "plots", "%s.%s" % (stem, extension))
            for stem in expected for extension in ("png", "svg")))
        for path in written:
            self.assertImage(path)

    def test_titles_and_axis_labels(self):
        with open(os.path.join(self.run_dir, "plots", "replay-mops.svg")) as handle:
            svg = handle.read()
        # Matplotlib writes text as glyph paths, each after a comment with its text.
        for words in ("<!-- Replay throughput by trace and allocator (1 thread) -->",
                      "<!-- bars: median of up to 5 repetitions; whiskers: min to max -->",
                      "<!-- throughput (Mops/s)", "<!-- trace -->", "<!-- cpython -->",
                      "<!-- mimalloc -->"):
            self.assertTrue(words in svg, "%s not in the SVG" % words)

    def test_filters_and_output_directory(self):
        outdir = os.path.join(self.directory.name, "filtered")
        result = crafted.run_tool("plot.py", self.run_dir, "-o", outdir, "--traces", "cpython",
                                  "--allocators", "arena,glibc", "--formats", "png")
        self.assertEqual(result.returncode, 0, result.stderr)
        self.assertEqual(sorted(os.listdir(outdir)),
                         ["pareto.png", "replay-frag_rss.png", "replay-mops.png",
                          "sweep-cpython.png", "timeline-cpython.png"])
        for name in os.listdir(outdir):
            self.assertImage(os.path.join(outdir, name))
        nothing = crafted.run_tool("plot.py", self.run_dir, "-o", outdir, "--traces", "none")
        self.assertEqual(nothing.returncode, 1)
        self.assertIn("nothing to plot", nothing.stderr)
        self.assertIn("--traces and --allocators", nothing.stderr)

    def test_a_run_with_nothing_to_draw_says_what_is_drawn(self):
        # A realprog run has no chart; there was no filter to blame.
        run_dir = os.path.join(self.directory.name, "realprog-only")
        os.makedirs(run_dir)
        shutil.copy(os.path.join(self.run_dir, "realprog.csv"), run_dir)
        result = crafted.run_tool("plot.py", run_dir, "-o", os.path.join(run_dir, "plots"))
        self.assertEqual(result.returncode, 1)
        self.assertEqual(result.stderr, "plot.py: nothing to plot: charts are drawn from throughput "
                         "or frag_rss (replay, micro, sweep) and timelines; %s has none\n" % run_dir)

    def test_files_instead_of_a_directory(self):
        outdir = os.path.join(self.directory.name, "one-file")
        result = crafted.run_tool("plot.py", os.path.join(self.run_dir, "timeline.csv"),
                                  "-o", outdir, "--formats", "svg")
        self.assertEqual(result.returncode, 0, result.stderr)
        self.assertEqual(sorted(os.listdir(outdir)),
                         ["timeline-cpython.svg", "timeline-sqlite3.svg"])

    def test_options_between_the_files(self):
        # "unrecognized arguments" for the second file before.
        outdir = os.path.join(self.directory.name, "two-files")
        result = crafted.run_tool("plot.py", os.path.join(self.run_dir, "timeline.csv"),
                                  "-o", outdir, "--traces", "cpython",
                                  os.path.join(self.run_dir, "realprog.csv"), "--formats", "svg")
        self.assertEqual(result.returncode, 0, result.stderr)
        self.assertEqual(sorted(os.listdir(outdir)), ["timeline-cpython.svg"])

    def test_an_output_directory_that_cannot_be_made_stops_it_in_one_line(self):
        outdir = os.path.join(self.run_dir, "replay.csv", "plots")
        result = crafted.run_tool("plot.py", self.run_dir, "-o", outdir)
        self.assertEqual(result.returncode, 1, result.stderr)
        self.assertEqual(result.stderr, "plot.py: %s: cannot write: %s is not a directory\n"
                         % (outdir, os.path.join(self.run_dir, "replay.csv")))

    def assertStopsInOneLineOnABlockedChart(self, outdir_name, chart_name):
        # The directory can be made, but a directory sits where the chart goes.
        outdir = os.path.join(self.directory.name, outdir_name)
        chart = os.path.join(outdir, chart_name)
        os.makedirs(chart)
        result = crafted.run_tool("plot.py", self.run_dir, "-o", outdir)
        self.assertEqual(result.returncode, 1, result.stderr)
        self.assertNotIn("Traceback", result.stderr)
        self.assertEqual(result.stderr, "plot.py: %s: cannot write: Is a directory\n" % chart)

    def test_a_chart_that_cannot_be_written_stops_it_in_one_line(self):
        self.assertStopsInOneLineOnABlockedChart("blocked", "replay-mops.png")

    def test_a_timeline_drawn_by_the_second_process_that_cannot_be_written_stops_it(self):
        # The timelines are drawn two at a time, sqlite3's by the forked process.
        self.assertStopsInOneLineOnABlockedChart("blocked-timeline", "timeline-sqlite3.png")

    def test_bad_input(self):
        empty = os.path.join(self.directory.name, "empty")
        os.makedirs(empty, exist_ok=True)
        result = crafted.run_tool("plot.py", empty)
        self.assertEqual(result.returncode, 2)
        self.assertIn("no result files", result.stderr)
        self.assertEqual(crafted.run_tool("plot.py", self.run_dir, "--formats", "gif").returncode, 2)


class DrawEach(unittest.TestCase):
    """Plotter.draw_each: every other item in a forked process, the files
    listed as if drawn in order, an error of either process raised."""

    def draw(self, plotter, item):
        if item == "bad":
            raise plot.ChartNotWritten("%s: cannot write: test" % item)
        plotter.written += ["%s.png" % item, "%s.svg" % item]
        plotter.drawn_by.add(os.getpid())

    def plotter(self):
        plotter = plot.Plotter(None, "unused", ("png", "svg"))
        plotter.written = ["earlier.png"]
        plotter.drawn_by = set()
        return plotter

    def test_files_in_the_order_of_the_items(self):
        plotter = self.plotter()
        items = ["a", "b", "c", "d", "e"]
        plotter.draw_each(items, self.draw)
        self.assertEqual(plotter.written, ["earlier.png"] + [
            "%s.%s" % (item, extension) for item in items for extension in ("png", "svg")])

    def test_an_error_in_either_process_is_raised(self):
        for items in (["bad", "b", "c"], ["a", "bad", "c"]):
            with self.assertRaisesRegex(plot.ChartNotWritten, "^bad: cannot write: test$"):
                self.plotter().draw_each(items, self.draw)

    def test_another_error_of_the_forked_process_is_not_a_chart_not_written(self):
        def draw(plotter, item):
            if item == "b":
                raise ValueError("no data")
            self.draw(plotter, item)
        with self.assertRaisesRegex(RuntimeError, "^drawing failed: ValueError\\('no data'\\)$"):
            self.plotter().draw_each(["a", "b", "c"], draw)


def chart_links(report_path):
    """The image links of a report, in order."""
    with open(report_path) as handle:
        return [line[line.index("](") + 2:-1] for line in handle.read().splitlines()
                if line.startswith("![")]


class ReportCharts(unittest.TestCase):
    def test_report_links_the_charts_it_draws(self):
        with tempfile.TemporaryDirectory() as directory:
            run_dir = crafted.make_run_dir(os.path.join(directory, "run"), random.Random(9),
                                           sweep=False, realprog=False)
            result = crafted.run_tool("report.py", run_dir)
            self.assertEqual(result.returncode, 0, result.stderr)
            links = chart_links(os.path.join(run_dir, "REPORT.md"))
            self.assertEqual(links, ["plots/replay-mops.png", "plots/replay-frag_rss.png",
                                     "plots/timeline-cpython.png", "plots/timeline-sqlite3.png"])
            for link in links:
                with open(os.path.join(run_dir, link), "rb") as image:
                    self.assertEqual(image.read(8), PNG_SIGNATURE)


    def test_a_report_written_elsewhere_takes_its_charts_and_leaves_the_run_alone(self):
        # report.py RUN -o /tmp/r.md redrew the charts under RUN/plots: the
        # committed runs' files came out modified, and runs without charts
        # got a plots/ directory.
        with tempfile.TemporaryDirectory() as directory:
            run_dir = crafted.make_run_dir(os.path.join(directory, "run"), random.Random(9),
                                           sweep=False, realprog=False)
            before = sorted(os.listdir(run_dir))
            output = os.path.join(directory, "elsewhere", "r.md")
            os.makedirs(os.path.dirname(output))
            result = crafted.run_tool("report.py", run_dir, "-o", output)
            self.assertEqual(result.returncode, 0, result.stderr)
            self.assertEqual(sorted(os.listdir(run_dir)), before)
            links = chart_links(output)
            self.assertEqual(links[0], "r-plots/replay-mops.png")
            for link in links:
                with open(os.path.join(os.path.dirname(output), link), "rb") as image:
                    self.assertEqual(image.read(8), PNG_SIGNATURE)

    def test_reports_written_side_by_side_keep_their_own_charts(self):
        # -o a.md and -o b.md of two runs shared plots/: a.md showed b's charts.
        with tempfile.TemporaryDirectory() as directory:
            written = {}
            for name, seed in (("a", 9), ("b", 10)):
                run_dir = crafted.make_run_dir(os.path.join(directory, name), random.Random(seed),
                                               sweep=False, realprog=False)
                output = os.path.join(directory, "reports", name + ".md")
                result = crafted.run_tool("report.py", run_dir, "-o", output)
                self.assertEqual(result.returncode, 0, result.stderr)
                link = chart_links(output)[0]
                self.assertEqual(link, "%s-plots/replay-mops.png" % name)
                with open(os.path.join(os.path.dirname(output), link), "rb") as image:
                    written[name] = image.read()
            for name in ("a", "b"):
                with open(os.path.join(directory, "reports", "%s-plots/replay-mops.png" % name), "rb") as image:
                    self.assertEqual(image.read(), written[name], name)
            self.assertNotEqual(written["a"], written["b"])

    def test_a_chart_that_cannot_be_written_stops_the_report_in_one_line(self):
        with tempfile.TemporaryDirectory() as directory:
            run_dir = crafted.make_run_dir(os.path.join(directory, "run"), random.Random(9),
                                           sweep=False, realprog=False)
            chart = os.path.join(run_dir, "plots", "replay-mops.png")
            os.makedirs(chart)
            result = crafted.run_tool("report.py", run_dir)
            self.assertEqual(result.returncode, 1, result.stderr)
            self.assertEqual(result.stderr, "report.py: %s: cannot write: Is a directory\n" % chart)


class HugePagesSweep(unittest.TestCase):
    def test_each_threshold_is_a_bar_and_a_line(self):
        # arena at blocks 16 and 64, at the policy's own threshold, 16 MiB and never.
        configs = [("cpython", "glibc", 0, 1, "", 10.0, 1.2)] + [
            ("cpython", "arena", block, 1, threshold, mops * block / 16, frag)
            for block in (16, 64)
            for threshold, (mops, frag) in crafted.HUGE_PAGES_FIGURES.items()]
        with tempfile.TemporaryDirectory() as run_dir:
            crafted.write_csv(os.path.join(run_dir, "replay.csv"), crafted.HUGE_PAGES_HEADER,
                              crafted.replay_rows(configs, 3, random.Random(9), extra={
                                  "huge_pages_from": lambda config, repetition: config[4]}))
            result = crafted.run_tool("plot.py", run_dir, "--formats", "svg")
            self.assertEqual(result.returncode, 0, result.stderr)
            self.assertEqual(sorted(os.listdir(os.path.join(run_dir, "plots"))),
                             ["pareto.svg", "replay-frag_rss.svg", "replay-mops.svg",
                              "sweep-cpython.svg"])
            svgs = {}
            for name in ("replay-mops", "sweep-cpython", "pareto"):
                with open(os.path.join(run_dir, "plots", name + ".svg")) as handle:
                    svgs[name] = handle.read()
        for words in ("<!-- arena bs=16 -->", "<!-- arena bs=16 hp=16 MiB -->",
                      "<!-- arena bs=64 hp=never -->"):
            self.assertIn(words, svgs["replay-mops"])
        for words in ("<!-- arena -->", "<!-- arena hp=16 MiB -->", "<!-- arena hp=never -->"):
            self.assertIn(words, svgs["sweep-cpython"])
        self.assertIn("<!-- arena 64/hp=16MiB -->", svgs["pareto"])


class CapturingPlotter(plot.Plotter):
    """Keeps each figure (open) in place of writing it, to read its axes."""

    def __init__(self):
        super().__init__(plot.load_pyplot(), None, ())
        self.figures = {}

    def save(self, figure, stem):
        self.figures[stem] = figure
        self.written.append(stem)

    def close(self):
        for figure in self.figures.values():
            self.pyplot.close(figure)


def read_table(directory, header, rows, name="replay.csv"):
    path = crafted.write_csv(os.path.join(directory, name), header, rows)
    return resultcsv.read_results(path)


class TimelinePanels(unittest.TestCase):
    def test_each_panel_has_its_own_scale(self):
        # bump's multi-GB reserve set the one y axis the panels shared, and
        # flattened glibc's and arena's lines to the floor of theirs.
        rows = crafted.timeline_rows(["gen-medium"], {"glibc": 1.2, "arena": 1.05, "bump": 300.0},
                                     random.Random(2), samples=20)
        with tempfile.TemporaryDirectory() as directory:
            table = read_table(directory, crafted.TIMELINE_HEADER, rows, "timeline.csv")
        plotter = CapturingPlotter()
        self.addCleanup(plotter.close)
        plot.timeline_chart(plotter, table, "gen-medium", "gen-medium")
        panels = {axes.get_title(): axes for axes in plotter.figures["timeline-gen-medium"].axes
                  if axes.get_visible()}
        peak_mib = crafted.PEAK_LIVE / (1 << 20)
        for allocator in ("arena", "glibc"):
            self.assertLess(panels[allocator].get_ylim()[1], 2 * peak_mib, allocator)
        self.assertGreater(panels["bump"].get_ylim()[1], 100 * peak_mib)


class FileStems(unittest.TestCase):
    def test_names_that_make_the_same_stem_get_their_own_files(self):
        # "tr, comma" and "tr comma" both gave tr_comma: one chart overwrote the other.
        stems = plot.file_stems(["tr, comma", "tr comma", "trâce", "tröce", "α", "gen-small"])
        self.assertEqual(stems, {"tr, comma": "tr_comma", "tr comma": "tr_comma-2", "trâce": "tr_ce",
                                 "tröce": "tr_ce-2", "α": "unnamed", "gen-small": "gen-small"})

    def test_every_trace_gets_its_timeline_chart(self):
        rows = crafted.timeline_rows(["tr, comma", "tr comma"], {"glibc": 1.2, "arena": 1.05},
                                     random.Random(2), samples=5)
        with tempfile.TemporaryDirectory() as directory:
            table = read_table(directory, crafted.TIMELINE_HEADER, rows, "timeline.csv")
            plotter = CapturingPlotter()
            self.addCleanup(plotter.close)
            plot.timeline_charts(plotter, table)
            # draw_each may draw one in a child, which reports what it wrote.
            self.assertEqual(sorted(plotter.written), ["timeline-tr_comma", "timeline-tr_comma-2"])


class SweepsOfOneDimension(unittest.TestCase):
    """A sweep that varies the region size or the huge-pages threshold alone
    (one block size) got no sweep or Pareto chart: only block sizes were drawn."""

    def charts(self, rows, header):
        with tempfile.TemporaryDirectory() as run_dir:
            crafted.write_csv(os.path.join(run_dir, "replay.csv"), header, rows)
            result = crafted.run_tool("plot.py", run_dir, "--formats", "svg")
            self.assertEqual(result.returncode, 0, result.stderr)
            svgs = {}
            for name in os.listdir(os.path.join(run_dir, "plots")):
                with open(os.path.join(run_dir, "plots", name)) as handle:
                    svgs[name] = handle.read()
        return svgs

    def test_huge_pages_thresholds_alone(self):
        svgs = self.charts(crafted.huge_pages_rows(["cpython", "sqlite3"], random.Random(3)),
                           crafted.HUGE_PAGES_HEADER)
        self.assertEqual(sorted(svgs), ["pareto.svg", "replay-frag_rss.svg", "replay-mops.svg",
                                        "sweep-cpython.svg", "sweep-sqlite3.svg"])
        sweep = svgs["sweep-cpython.svg"]
        for words in ("<!-- Huge-pages threshold sweep on cpython (median, whiskers min to max) -->",
                      "<!-- huge pages from (threshold) -->", "<!-- policy's own -->",
                      "<!-- 16 MiB -->", "<!-- never -->", "<!-- arena bs=16 -->"):
            self.assertTrue(words in sweep, "%s not in the SVG" % words)
        self.assertTrue("<!-- arena 16/hp=16MiB -->" in svgs["pareto.svg"])

    def test_region_sizes_alone(self):
        configs = [c for c in crafted.sweep_configs(["cpython"], allocators=("arena",)) if c[2] == 64]
        svgs = self.charts(crafted.sweep_rows(configs, 3, random.Random(4)),
                           crafted.REPLAY_HEADER + ["region_size"])
        sweep = svgs["sweep-cpython.svg"]
        for words in ("<!-- Region-size sweep on cpython (median, whiskers min to max) -->",
                      "<!-- region size -->", "<!-- 64 KiB -->", "<!-- 1 MiB -->", "<!-- 4 MiB -->"):
            self.assertTrue(words in sweep, "%s not in the SVG" % words)
        self.assertIn("pareto.svg", svgs)


class MicroBars(unittest.TestCase):
    def test_sizes_in_numeric_order(self):
        # As text, malloc_free/100 came before /1000, and /1000 before /128.
        sizes = (8, 16, 100, 128, 1000, 1024)
        configs = [("malloc_free/%d" % size, allocator, 0, 1, 10.0, 1.0)
                   for size in sizes for allocator in ("glibc", "arena")]
        with tempfile.TemporaryDirectory() as directory:
            table = read_table(directory, crafted.REPLAY_HEADER,
                               crafted.replay_rows(configs, 3, random.Random(5)), "micro.csv")
        plotter = CapturingPlotter()
        self.addCleanup(plotter.close)
        plot.bar_chart(plotter, table, "mops", 1, "Micro-benchmark", "micro-mops")
        [axes] = plotter.figures["micro-mops"].axes
        self.assertEqual([label.get_text() for label in axes.get_xticklabels()],
                         ["malloc_free/%d" % size for size in sizes])


class ParetoFront(unittest.TestCase):
    def test_dominated_points_are_left_out(self):
        points = [(1.0, 5.0, "lean"), (1.2, 8.0, "middle"), (1.3, 7.0, "dominated"),
                  (1.5, 10.0, "fast"), (1.5, 9.0, "dominated too"), (2.0, 10.0, "worse")]
        self.assertEqual([p[2] for p in plot.pareto_front(points)], ["lean", "middle", "fast"])


if __name__ == "__main__":
    unittest.main()
