"""tools/targets.py sets each target beside the figure measured for it, and
says met or missed by the bound the target names, from crafted runs whose
answers are known."""

import os
import random
import re
import tempfile
import unittest

import crafted
import targets

MIB = 1024 * 1024
RECORDED = ["cpython", "sqlite3"]
GENERATED = ["gen-small", "gen-phased"]


def realprog_dir(directory, rows):
    """A realprog run of the given rows (REALPROG_HEADER's columns) in directory."""
    os.makedirs(directory)
    crafted.write_csv(os.path.join(directory, "realprog.csv"), crafted.REALPROG_HEADER,
                      rows, dict(crafted.MACHINE, command="./bench.sh realprog"))
    return directory


def replay_dir(directory, speeds, frags, rng, instructions=None):
    """replay.csv with every allocator of speeds on RECORDED + GENERATED traces:
    throughput glibc 10 Mops/s times speeds[allocator][trace index]; frag_rss
    1.2 times frags[allocator][trace index]; 5 repetitions."""
    traces = RECORDED + GENERATED
    configs = [(trace, allocator, 16 if allocator == "arena" else 0, 1,
                10.0 * speeds[allocator][i], 1.2 * frags[allocator][i])
               for i, trace in enumerate(traces) for allocator in speeds]
    extra = None
    header = crafted.REPLAY_HEADER
    if instructions:
        header = header + ["instructions_per_op"]
        extra = {"instructions_per_op":
                 lambda config, repetition: instructions[config[1]] + traces.index(config[0])}
    os.makedirs(directory, exist_ok=True)
    crafted.write_csv(os.path.join(directory, "replay.csv"), header,
                      crafted.replay_rows(configs, 5, rng, time_spread=0.0,
                                          memory_spread=0.0, extra=extra),
                      crafted.MACHINE)
    return directory


def speeds_dir(directory, speeds_of):
    """replay.csv with each repetition's throughput given: speeds_of(trace) is
    {allocator: [Mops/s of repetition 0, 1, ...]} on each of RECORDED + GENERATED;
    frag_rss 1.2 everywhere."""
    rows = []
    for trace in RECORDED + GENERATED:
        for allocator, speeds in speeds_of(trace).items():
            for repetition, mops in enumerate(speeds):
                rows.append([trace, allocator, 16 if allocator == "arena" else 0, 1, repetition,
                             crafted.OPS, repr(1000.0 / mops), repr(float(mops)), crafted.PEAK_LIVE,
                             int(1.2 * crafted.PEAK_LIVE), repr(1.2)])
    os.makedirs(directory)
    crafted.write_csv(os.path.join(directory, "replay.csv"), crafted.REPLAY_HEADER, rows, crafted.MACHINE)
    return directory


def blank_columns(path, *names):
    """Empties the named columns of every row of a result file, as a run that
    did not measure them leaves them."""
    with open(path) as handle:
        lines = handle.read().splitlines()
    header = next(i for i, line in enumerate(lines) if not line.startswith("#"))
    columns = lines[header].split(",")
    blank = {columns.index(name) for name in names}
    for i in range(header + 1, len(lines)):
        cells = lines[i].split(",")
        lines[i] = ",".join("" if c in blank else cell for c, cell in enumerate(cells))
    with open(path, "w") as handle:
        handle.write("\n".join(lines) + "\n")


def parse_rows(markdown):
    """{target text: (measured, verdict)} from the table of targets.py."""
    rows = {}
    for line in markdown.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) == 4 and cells[0].startswith("#"):
            rows[cells[1]] = (cells[2], cells[3])
    return rows


def find(rows, *words):
    """The one row whose target text holds every word."""
    hits = [(k, v) for k, v in rows.items() if all(w in k for w in words)]
    if len(hits) != 1:
        raise AssertionError("%d rows hold %s: %s" % (len(hits), words, list(rows)))
    return hits[0][1]


def run_targets(*directories):
    result = crafted.run_tool("targets.py", *directories)
    if result.returncode != 0:
        raise AssertionError(result.stderr)
    return result.stdout, parse_rows(result.stdout)


class ReplayTargets(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.TemporaryDirectory()
        self.rng = random.Random(11)

    def tearDown(self):
        self.tmp.cleanup()

    def test_a_modest_arena_misses_the_hard_targets_and_meets_the_easy_ones(self):
        # arena 1.5x glibc on every trace, leaner; mimalloc 1.8x, tcmalloc 1.7x.
        speeds = {"glibc": [1] * 4, "arena": [1.5] * 4, "mimalloc": [1.8] * 4,
                  "tcmalloc": [1.7] * 4, "arena-malloc": [1.2] * 4}
        frags = {"glibc": [1] * 4, "arena": [0.9, 0.95, 0.9, 1.3], "mimalloc": [1.3] * 4,
                 "tcmalloc": [1.2] * 4, "arena-malloc": [1.0] * 4}
        out, rows = run_targets(replay_dir(os.path.join(self.tmp.name, "r"), speeds, frags,
                                           self.rng))
        self.assertEqual(find(rows, "`arena` throughput on the 2 recorded")[1], "met")
        # Repetitions without spread: the interval is the figure itself.
        self.assertEqual(find(rows, "`arena` throughput on the 2 recorded")[0],
                         "1.50x, 95% interval 1.50-1.50")
        self.assertEqual(find(rows, "`arena` frag_rss no higher")[1], "met")
        self.assertEqual(find(rows, "`arena` throughput, geometric mean over 4")[1], "**missed**")
        measured, verdict = find(rows, "`arena` throughput >= 1.05x the faster")
        self.assertTrue(measured.startswith("0.83x mimalloc"), measured)
        self.assertEqual(verdict, "**missed**")
        measured, verdict = find(rows, "`arena`: no trace's frag_rss above 1.10x")
        self.assertIn("1.30x (gen-phased)", measured)
        self.assertEqual(verdict, "**missed**")
        # arena-malloc 1.2x against arena's 1.5x: below 1.5 - 10% = 1.35.
        measured, verdict = find(rows, "`arena-malloc` throughput ratio to glibc >= `arena`'s")
        self.assertEqual(verdict, "**missed**")
        self.assertIn("1.20x against 1.50x", measured)
        self.assertEqual(find(rows, "micro benchmark targets")[1], "not measured")
        self.assertEqual(find(rows, "real-program targets")[1], "not measured")
        self.assertRegex(out, r"\d+ of \d+ measured targets met")

    def test_a_fast_lean_arena_meets_the_issue_7_replay_targets(self):
        speeds = {"glibc": [1] * 4, "arena": [2.2, 2.1, 2.4, 2.0], "mimalloc": [1.9] * 4,
                  "tcmalloc": [1.8] * 4}
        frags = {"glibc": [1] * 4, "arena": [0.9, 1.0, 1.05, 0.95], "mimalloc": [1.3] * 4,
                 "tcmalloc": [1.2] * 4}
        _, rows = run_targets(replay_dir(os.path.join(self.tmp.name, "r"), speeds, frags,
                                         self.rng))
        for words in (("`arena` throughput, geometric mean over 4",),
                      ("`arena` throughput >= 1.05x the faster",),
                      ("`arena`: no trace below 1.20x",),
                      ("`arena` frag_rss, geometric mean",),
                      ("`arena`: no trace's frag_rss above 1.10x",)):
            self.assertEqual(find(rows, *words)[1], "met", words)
        # No arena-malloc rows: said, not guessed.
        self.assertEqual(find(rows, "`arena-malloc` throughput targets")[1], "not measured")
        self.assertEqual(find(rows, "`arena-malloc` frag_rss targets")[1], "not measured")

    def test_the_drop_ins_bounds_are_printed_as_they_are(self):
        # Within 5%: 1.05 x 0.95 and 1.1 x 1.05 printed as 1.00x and 1.16x, where
        # a measured 1.16x (1.158) is above the bound, 1.155.
        speeds = {"glibc": [1] * 4, "arena": [2.2] * 4, "arena-malloc": [2.2] * 4,
                  "mimalloc": [1.9] * 4, "tcmalloc": [2.2] * 4}
        frags = {"glibc": [1] * 4, "arena": [1] * 4, "arena-malloc": [1.158, 1, 1, 1],
                 "mimalloc": [1.3] * 4, "tcmalloc": [1.2] * 4}
        _, rows = run_targets(replay_dir(os.path.join(self.tmp.name, "r"), speeds, frags,
                                         self.rng))
        self.assertEqual(find(rows, "`arena-malloc` throughput >= 0.9975x the faster")[1], "met")
        measured, verdict = find(rows, "`arena-malloc`: no trace's frag_rss above 1.155x glibc's (within 5%)")
        self.assertEqual(verdict, "**missed**")
        self.assertIn("highest 1.16x", measured)
        find(rows, "`arena-malloc` throughput, geometric mean over 4 traces, >= 1.90x glibc (within 5%)")
        find(rows, "`arena-malloc`: no trace below 1.14x glibc's throughput (within 5%)")
        find(rows, "`arena-malloc` frag_rss, geometric mean of the ratio to glibc's, <= 1.05 (within 5%)")

    def test_one_slow_trace_is_named(self):
        speeds = {"glibc": [1] * 4, "arena": [2.5, 2.5, 2.5, 1.1]}
        frags = {"glibc": [1] * 4, "arena": [1] * 4}
        _, rows = run_targets(replay_dir(os.path.join(self.tmp.name, "r"), speeds, frags,
                                         self.rng))
        measured, verdict = find(rows, "`arena`: no trace below 1.20x")
        self.assertEqual(verdict, "**missed**")
        self.assertIn("1.10x (gen-phased); 1 of 4 below", measured)
        self.assertIn("paired medians: lowest 1.10x (gen-phased), 1 below", measured)
        self.assertEqual(find(rows, "mimalloc and tcmalloc")[1], "not measured")

    def test_one_traces_paired_ratio_is_shown_beside_the_ratio_of_medians(self):
        # gen-phased: glibc ran fast in the first two repetitions only, arena in
        # the last two: the ratio of the medians says 0.43x, each repetition's
        # own ratio 1.1x to 1.2x but one. The verdict stays on the medians.
        glibc = [10, 10, 30, 30, 30]
        arena = {"gen-phased": [11, 12, 13, 36, 36]}
        directory = speeds_dir(os.path.join(self.tmp.name, "r"), lambda trace: {
            "glibc": glibc, "arena": arena.get(trace, [2.5 * v for v in glibc])})
        _, found = run_targets(directory)
        measured, verdict = find(found, "`arena`: no trace below 1.20x")
        self.assertEqual(verdict, "**missed**")
        self.assertIn("lowest 0.43x (gen-phased); 1 of 4 below", measured)
        self.assertIn("paired medians: lowest 1.20x (gen-phased), 0 below", measured)

    def test_a_verdict_within_the_noise_says_so(self):
        # arena's repetitions spread around 1.05x tcmalloc's: met by the
        # medians, but other repetitions could as well have missed it; against
        # glibc (2.5x) the bound of 2.0 is outside the interval.
        spread = {"glibc": [4.2] * 5, "tcmalloc": [10.0] * 5, "arena": [9.0, 10.0, 10.5, 11.0, 12.0]}
        out, found = run_targets(speeds_dir(os.path.join(self.tmp.name, "r"), lambda trace: spread))
        measured, verdict = find(found, "`arena` throughput >= 1.05x the faster")
        self.assertEqual(verdict, "met")
        self.assertRegex(measured, r"^1\.05x tcmalloc, 95% interval 0\.9\d-1\.1\d, the bound inside it \(")
        measured, verdict = find(found, "`arena` throughput, geometric mean over 4")
        self.assertEqual(verdict, "met")
        self.assertRegex(measured, r"^2\.50x, 95% interval 2\.[1-4]\d-2\.[5-9]\d$")
        self.assertEqual(find(found, "`arena` frag_rss, geometric mean")[0], "1.00x, 95% interval 1.00-1.00, the bound inside it")
        self.assertIn("*the bound inside it* means this run's repetitions cannot tell", out)

    def test_a_zero_median_is_left_out_of_the_geometric_means(self):
        # A resident rise of 0 (frag_rss 0) on one trace: its ratio 0 cannot
        # enter a geometric mean (math.log(0) stopped the tool with a traceback).
        speeds = {"glibc": [1] * 4, "arena": [1.5] * 4}
        frags = {"glibc": [1] * 4, "arena": [0, 0.9, 0.9, 0.9]}
        _, rows = run_targets(replay_dir(os.path.join(self.tmp.name, "r"), speeds, frags,
                                         self.rng))
        measured, verdict = find(rows, "`arena` frag_rss, geometric mean")
        self.assertEqual((measured, verdict), ("0.90x, 95% interval 0.90-0.90; left out "
                                               "(a median of 0): cpython", "met"))
        # A ratio of 0 is below any bound: cpython is judged, and not above.
        self.assertIn("0 of 4 above", find(rows, "`arena`: no trace's frag_rss above")[0])

    def test_a_rise_against_glibcs_zero_is_not_passed_over(self):
        # glibc's frag_rss 0 on cpython, arena's above it: no ratio can be
        # formed, and the trace was dropped, so "no higher than glibc's on any
        # recorded trace" read met while arena rose against glibc's 0.
        speeds = {"glibc": [1] * 4, "arena": [1.5] * 4}
        frags = {"glibc": [0, 1, 1, 1], "arena": [0.9] * 4}
        _, rows = run_targets(replay_dir(os.path.join(self.tmp.name, "r"), speeds, frags,
                                         self.rng))
        self.assertEqual(find(rows, "`arena` frag_rss no higher than glibc's"),
                         ("highest above glibc's 0 (cpython); above 1.0 on cpython", "**missed**"))
        self.assertEqual(find(rows, "`arena`: no trace's frag_rss above"),
                         ("highest above glibc's 0 (cpython); 1 of 4 above", "**missed**"))
        self.assertEqual(find(rows, "`arena` frag_rss, geometric mean"),
                         ("0.90x, 95% interval 0.90-0.90; left out (a median of 0): cpython",
                          "met"))

    def test_arena_and_glibc_on_no_common_trace(self):
        # arena ran only where glibc did not: no ratio, so no geometric mean
        # (it was None, and formatting it stopped the tool with a traceback).
        directory = os.path.join(self.tmp.name, "r")
        os.makedirs(directory)
        crafted.write_csv(os.path.join(directory, "replay.csv"), crafted.REPLAY_HEADER,
                          crafted.replay_rows([("gen-small", "arena", 16, 1, 10.0, 1.1),
                                               ("gen-phased", "glibc", 0, 1, 10.0, 1.1)],
                                              5, self.rng), crafted.MACHINE)
        _, rows = run_targets(directory)
        self.assertEqual(find(rows, "`arena` throughput targets"),
                         ("no trace with both arena and glibc throughput", "not measured"))
        self.assertEqual(find(rows, "`arena` frag_rss targets"),
                         ("no trace with both arena and glibc frag_rss (no memory pass?)", "not measured"))
        # ... where arena-malloc has one: the drop-in's comparison names the one missing
        self.assertEqual(find(rows, "`arena-malloc` against `arena`"),
                         ("no trace with both arena and glibc throughput", "not measured"))


    def test_only_the_default_huge_pages_threshold_counts(self):
        # A --huge-pages-from sweep: arena at 16 MiB and never is faster than at
        # the policy's own threshold; the targets are the default's alone.
        directory = os.path.join(self.tmp.name, "hp")
        os.makedirs(directory)
        crafted.write_csv(os.path.join(directory, "replay.csv"), crafted.HUGE_PAGES_HEADER,
                          crafted.huge_pages_rows(RECORDED, self.rng,
                                                  {"": (21.0, 1.2), 16777216: (30.0, 0.6),
                                                   "never": (30.0, 0.6)},
                                                  time_spread=0.0, memory_spread=0.0),
                          crafted.MACHINE)
        _, rows = run_targets(directory)
        self.assertEqual(find(rows, "`arena` throughput, geometric mean over 2 traces"),
                         ("2.10x, 95% interval 2.10-2.10", "met"))
        self.assertEqual(find(rows, "`arena` frag_rss, geometric mean"),
                         ("1.00x, 95% interval 1.00-1.00, the bound inside it", "met"))
        arena = {"allocator": "arena", "block_size": 16}
        self.assertTrue(targets.at_default_config(dict(arena, huge_pages_from=None)))
        self.assertTrue(targets.at_default_config(arena), "a file without the column")
        self.assertFalse(targets.at_default_config(dict(arena, huge_pages_from=16777216)))
        self.assertFalse(targets.at_default_config(dict(arena, huge_pages_from="never")))


class QuickRun(unittest.TestCase):
    """./bench.sh --quick: the first 20000 ops of each trace, throughput in 2
    repetitions and memory in the first. targets.py handed down met and missed
    on it, and showed frag_rss's "1.07x, 95% interval 1.07-1.07"."""

    def setUp(self):
        self.tmp = tempfile.TemporaryDirectory()
        self.addCleanup(self.tmp.cleanup)

    def quick_dir(self, facts):
        configs = [(trace, allocator, 16 if allocator == "arena" else 0, 1, mops, frag)
                   for trace in RECORDED + GENERATED
                   for allocator, mops, frag in (("glibc", 10, 1.0), ("arena", 25, 1.07))]
        rows = crafted.replay_rows(configs, 2, random.Random(8))
        for row in rows:
            if row[4] == 1:              # the memory pass ran in repetition 1 alone
                row[9:11] = ["", ""]
        directory = os.path.join(self.tmp.name, "quick-%d" % len(os.listdir(self.tmp.name)))
        os.makedirs(directory)
        crafted.write_csv(os.path.join(directory, "replay.csv"), crafted.REPLAY_HEADER, rows,
                          dict(crafted.MACHINE, **facts))
        return directory

    def test_cut_short_verdicts_are_indicative_only(self):
        command = ("build/bin/bench_replay --repetitions=2 --max-ops=20000 "
                   "--passes=throughput,memory --memory-repetitions=1")
        for facts in ({"command": command, "max_ops": "20000"}, {"command": command}):
            out, rows = run_targets(self.quick_dir(facts))
            body = out.split("\n\n", 2)[2]     # after the title and "Made by"
            self.assertTrue(body.startswith(
                "**The replay run cannot decide the replay targets**: it replayed only the "
                "first 20000 ops of each trace"), body)
            self.assertIn("No target decided: 6 indicative only. Made from:", out)
            # Throughput in 2 repetitions: an interval; frag_rss in one: none.
            measured, verdict = find(rows, "`arena` throughput, geometric mean over 4")
            self.assertRegex(measured, r"^2\.\d\dx, 95% interval 2\.\d\d-2\.\d\d$")
            self.assertEqual(verdict, "indicative only (first 20000 ops): met")
            self.assertEqual(find(rows, "`arena` frag_rss, geometric mean of the ratio"),
                             ("1.07x, one repetition: no interval",
                              "indicative only (first 20000 ops): missed"))
            self.assertNotIn("**missed**", out)
            self.assertNotIn("| met |", out)

    def test_a_whole_run_is_decided(self):
        out, rows = run_targets(self.quick_dir({"command": "build/bin/bench_replay"}))
        self.assertNotIn("cannot decide", out)
        self.assertEqual(find(rows, "`arena` frag_rss, geometric mean of the ratio"),
                         ("1.07x, one repetition: no interval", "**missed**"))


class OtherRuns(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.TemporaryDirectory()
        self.rng = random.Random(5)

    def tearDown(self):
        self.tmp.cleanup()

    def write_timeline(self, directory, arena_resident_mib):
        rows = []
        for allocator, resident in (("arena", arena_resident_mib * MIB), ("glibc", 19 * MIB)):
            rows.append(["gen-phased", allocator, 16 if allocator == "arena" else 0, 1, 1000,
                         10 * MIB, 12 * MIB, ""])
            rows.append(["gen-phased", allocator, 16 if allocator == "arena" else 0, 1, 2000,
                         0, int(resident), ""])
        crafted.write_csv(os.path.join(directory, "timeline.csv"), crafted.TIMELINE_HEADER, rows)

    def test_phased_teardown_against_the_floor(self):
        speeds = {"glibc": [1] * 4, "arena": [1.5] * 4}
        frags = {"glibc": [1] * 4, "arena": [1] * 4}
        for resident, verdict in ((3.5, "met"), (6.0, "**missed**")):
            directory = replay_dir(os.path.join(self.tmp.name, str(resident)), speeds, frags,
                                   self.rng)
            self.write_timeline(directory, resident)
            _, rows = run_targets(directory)
            measured, got = find(rows, "`arena` after the `phased` teardown")
            self.assertEqual(got, verdict, measured)
            self.assertIn("%.2f MiB resident, 0.0 MiB live (glibc 19.0 MiB)" % resident, measured)

    def fail_in(self, directory, allocator, trace, why):
        """Drops allocator's rows on trace from directory's replay.csv and
        adds the fact bench_replay writes when a configuration fails."""
        path = os.path.join(directory, "replay.csv")
        with open(path) as handle:
            lines = handle.read().splitlines(True)
        key = "failed.%s.%s%s" % (allocator, trace, ".bs16" if allocator == "arena" else "")
        kept = [line for line in lines if not line.startswith("%s,%s," % (trace, allocator))]
        with open(path, "w") as handle:
            handle.write("# %s: %s\n" % (key, why))
            handle.writelines(kept)

    def test_a_configuration_that_failed_misses_every_target_over_its_traces(self):
        # arena died on gen-phased, the trace where it was slow and fat: left
        # out, the rest met every replay target.
        speeds = {"glibc": [1] * 4, "arena": [2.5, 2.5, 2.5, 0.9], "arena-malloc": [2.5] * 4,
                  "mimalloc": [2] * 4, "tcmalloc": [2] * 4}
        frags = {"glibc": [1] * 4, "arena": [0.9, 0.9, 0.9, 1.5], "arena-malloc": [0.9] * 4,
                 "mimalloc": [1] * 4, "tcmalloc": [1] * 4}
        directory = replay_dir(os.path.join(self.tmp.name, "failed"), speeds, frags, self.rng)
        _, before = run_targets(directory)
        self.assertEqual(find(before, "`arena` throughput, geometric mean")[1], "**missed**")
        self.fail_in(directory, "arena", "gen-phased", "the child died of signal 11 in repetition 1")
        _, rows = run_targets(directory)
        for words in (("`arena` throughput, geometric mean",), ("`arena`: no trace below",),
                      ("`arena` throughput >=", "faster of mimalloc"), ("`arena` frag_rss, geometric mean",),
                      ("`arena`: no trace's frag_rss",)):
            measured, verdict = find(rows, *words)
            self.assertEqual(verdict, "**missed**", words)
            self.assertIn("FAILED on gen-phased (the child died of signal 11 in repetition 1)", measured)
        # Issue 4 is set on the recorded traces, where arena did not fail.
        self.assertEqual(find(rows, "`arena` throughput on the", "recorded traces")[1], "met")
        # arena-malloc ran everywhere; against arena, gen-phased is not compared.
        measured, verdict = find(rows, "`arena-malloc` throughput ratio to glibc")
        self.assertIn("arena failed on gen-phased", measured)

    def test_a_failed_key_is_read_against_the_runs_trace_names(self):
        # A process malloc's key has no .bs to mark where the trace name ends:
        # "failed.glibc.app.t2" is app on 2 threads, or app.t2, which the run's
        # rows tell apart (read as app t=2, and "run.rs4" dropped as a region size).
        class Table:
            def __init__(self, traces, facts):
                self.rows = [{"trace": t} for t in traces]
                self.facts = facts
        facts = {"failed.glibc.app.t2": "died", "failed.glibc.run.rs4": "died",
                 "failed.glibc.gen.t3": "died", "failed.arena.app.t2.bs16": "died"}
        table = Table(["app.t2", "run.rs4", "gen"], facts)
        self.assertEqual(targets.replay_failures(table, "glibc"),
                         {"app.t2": "died", "run.rs4": "died", "gen t=3": "died"})
        self.assertEqual(targets.replay_failures(table, "arena"), {"app.t2": "died"})

    def test_a_baseline_that_failed_leaves_a_met_target_unmeasured(self):
        speeds = {"glibc": [1] * 4, "arena": [2.5] * 4}
        frags = {"glibc": [1] * 4, "arena": [0.9] * 4}
        directory = replay_dir(os.path.join(self.tmp.name, "glibc-failed"), speeds, frags, self.rng)
        self.fail_in(directory, "glibc", "sqlite3", "a block came back misaligned")
        _, rows = run_targets(directory)
        measured, verdict = find(rows, "`arena` throughput, geometric mean")
        self.assertEqual(verdict, "not measured")
        self.assertIn("glibc failed on sqlite3 (a block came back misaligned), not compared there", measured)

    def test_a_replay_cut_short_leaves_the_teardown_unjudged(self):
        # --quick stops gen-phased long before its teardown: blocks still live.
        speeds = {"glibc": [1] * 4, "arena": [1.5] * 4}
        frags = {"glibc": [1] * 4, "arena": [1] * 4}
        directory = replay_dir(os.path.join(self.tmp.name, "short"), speeds, frags, self.rng)
        rows = [["gen-phased", allocator, 16 if allocator == "arena" else 0, 1, 20000,
                 2 * MIB, 3 * MIB, ""] for allocator in ("arena", "glibc")]
        crafted.write_csv(os.path.join(directory, "timeline.csv"), crafted.TIMELINE_HEADER, rows)
        _, rows = run_targets(directory)
        measured, verdict = find(rows, "phased teardown")
        self.assertEqual(verdict, "not measured")
        self.assertIn("ended with blocks live", measured)

    def test_a_run_without_a_memory_pass(self):
        # --passes=throughput: no rss_peak_bytes, no frag_rss; the speed
        # targets are judged, the memory ones said to be unmeasured.
        speeds = {"glibc": [1] * 4, "arena": [1.5] * 4}
        frags = {"glibc": [1] * 4, "arena": [1] * 4}
        directory = replay_dir(os.path.join(self.tmp.name, "speed"), speeds, frags, self.rng)
        blank_columns(os.path.join(directory, "replay.csv"), "rss_peak_bytes", "frag_rss")
        _, rows = run_targets(directory)
        self.assertEqual(find(rows, "`arena` throughput on the", "recorded traces")[1], "met")
        self.assertEqual(find(rows, "`arena` frag_rss on the recorded traces")[1], "not measured")
        self.assertEqual(find(rows, "`arena` frag_rss targets")[1], "not measured")

    def test_a_run_of_the_memory_pass_alone(self):
        # --passes=memory: frag_rss and no throughput. The memory targets are
        # judged (they read "not measured", gated on the throughput's rows).
        speeds = {"glibc": [1] * 4, "arena": [1] * 4}
        frags = {"glibc": [1] * 4, "arena": [1.5, 1.0, 1.0, 1.0]}
        directory = replay_dir(os.path.join(self.tmp.name, "memory"), speeds, frags, self.rng)
        blank_columns(os.path.join(directory, "replay.csv"), "mops", "ns_per_op")
        _, rows = run_targets(directory)
        measured, verdict = find(rows, "`arena` frag_rss no higher than glibc's on any recorded trace")
        self.assertEqual(verdict, "**missed**")
        self.assertIn("highest 1.50x (cpython)", measured)
        self.assertEqual(find(rows, "`arena`: no trace's frag_rss above 1.10x")[1], "**missed**")
        self.assertEqual(find(rows, "`arena` frag_rss, geometric mean")[1], "**missed**")
        self.assertEqual(find(rows, "`arena` throughput targets")[1], "not measured")
        self.assertEqual(find(rows, "`arena` throughput on the recorded traces")[1], "not measured")

    def test_the_drop_in_against_arena_over_the_traces_both_ran(self):
        # arena-malloc 0.8x glibc where both ran; arena alone ran a slow trace
        # too. Each mean over its own traces: 0.80x against arena's 0.71x, met.
        def speeds_of(trace):
            speeds = {"glibc": [10.0] * 5, "arena": [10.0 if trace == "cpython" else 5.0] * 5}
            if trace == "cpython":
                speeds["arena-malloc"] = [8.0] * 5
            return speeds
        _, rows = run_targets(speeds_dir(os.path.join(self.tmp.name, "r"), speeds_of))
        measured, verdict = find(rows, "`arena-malloc` throughput ratio to glibc")
        self.assertEqual(verdict, "**missed**")
        self.assertEqual(measured, "0.80x against 1.00x (bound 0.90x, over the 1 traces both ran)")

    def test_a_figure_is_printed_to_the_digits_that_tell_it_from_its_bound(self):
        # 1.296x against >= 1.3x printed as 1.30x beside "missed".
        def speeds_of(trace):
            return {"glibc": [10.0] * 5, "arena": [12.96] * 5}
        _, rows = run_targets(speeds_dir(os.path.join(self.tmp.name, "r"), speeds_of))
        measured, verdict = find(rows, "`arena` throughput on the", "recorded traces")
        self.assertEqual(verdict, "**missed**")
        self.assertTrue(measured.startswith("1.296x"), measured)
        measured, _ = find(rows, "`arena` throughput, geometric mean over 4")
        self.assertTrue(measured.startswith("1.30x"), measured)  # far from 2.0: two decimals

    def test_micro_pairs_and_producer_consumer(self):
        sizes = [8, 64, 4096, 1048576]
        configs = []
        for size in sizes:
            # arena is slower than tcmalloc at 4096 only.
            for allocator, mops in (("glibc", 20), ("tcmalloc", 60 if size == 4096 else 40),
                                    ("arena", 50), ("bump", 500)):
                configs.append(("malloc_free/%d" % size, allocator, 16 if allocator == "arena"
                                else 0, 1, mops, 1.0))
        for allocator, mops in (("glibc", 4.0), ("tcmalloc", 7.0), ("arena-malloc", 8.0)):
            configs.append(("producer_consumer/64", allocator, 0, 2, mops, 1.0))
        directory = os.path.join(self.tmp.name, "micro")
        os.makedirs(directory)
        crafted.write_csv(os.path.join(directory, "micro.csv"), crafted.REPLAY_HEADER,
                          crafted.replay_rows(configs, 3, self.rng, time_spread=0.0),
                          dict(crafted.MACHINE, command="./bench.sh micro"))
        _, rows = run_targets(directory)
        measured, verdict = find(rows, "`arena` malloc+free pairs")
        self.assertEqual(verdict, "**missed**")
        self.assertIn("1 of 4 sizes slower; worst 0.83x at 4096 B", measured)
        measured, verdict = find(rows, "`arena-malloc` two-thread producer/consumer >= 1.5x")
        self.assertEqual((measured, verdict), ("2.00x", "met"))
        measured, verdict = find(rows, "`arena-malloc` two-thread producer/consumer at least")
        self.assertEqual(verdict, "met")
        self.assertIn("tcmalloc", measured)   # the bump ceiling is not a comparator

    def test_producer_consumer_run_alone_shows_the_paired_median(self):
        # The machine's slow state in some repetitions moves the medians apart:
        # 6 / 4 = 1.50x from the medians, but 3.00, 1.25 and 1.60 repetition by
        # repetition, whose median is 1.60x. The verdict stays on the medians.
        per_repetition = {"glibc": [2.0, 4.0, 5.0], "arena-malloc": [6.0, 5.0, 8.0]}
        rows = crafted.replay_rows([("producer_consumer/64", a, 0, 2, 1.0, 1.0) for a in per_repetition],
                                   3, self.rng, time_spread=0.0)
        for row in rows:
            mops = per_repetition[row[1]][row[4]]
            row[6], row[7] = repr(1000.0 / mops), repr(mops)
        directory = os.path.join(self.tmp.name, "alone")
        os.makedirs(directory)
        crafted.write_csv(os.path.join(directory, "micro.csv"), crafted.REPLAY_HEADER, rows,
                          dict(crafted.MACHINE, command="bench_micro alone"))
        micro = os.path.join(self.tmp.name, "micro")  # pairs only: no micro-run figure
        os.makedirs(micro)
        pairs = [("malloc_free/64", a, 0, 1, m, 1.0) for a, m in (("glibc", 20), ("arena-malloc", 30))]
        crafted.write_csv(os.path.join(micro, "micro.csv"), crafted.REPLAY_HEADER,
                          crafted.replay_rows(pairs, 3, self.rng, time_spread=0.0),
                          dict(crafted.MACHINE, command="./bench.sh micro"))
        _, targets = run_targets(micro, directory)
        measured, verdict = find(targets, "`arena-malloc` two-thread producer/consumer >= 1.5x")
        self.assertEqual((measured, verdict), ("1.50x (run alone, 3 repetitions, paired median 1.60x)", "met"))
        measured, verdict = find(targets, "`arena-malloc` two-thread producer/consumer at least")
        self.assertEqual((measured, verdict), ("1.50x glibc (run alone, 3 repetitions, paired median 1.60x)", "met"))

    def test_producer_consumer_run_alone_takes_precedence(self):
        micro = self.micro_dir
        pairs = [("malloc_free/64", a, 0, 1, m, 1.0) for a, m in (("glibc", 20), ("arena-malloc", 30))]
        # In the micro run arena-malloc loses to mimalloc; run alone, it wins.
        slow = [("producer_consumer/64", a, 0, 2, m, 1.0)
                for a, m in (("glibc", 4.0), ("mimalloc", 9.0), ("arena-malloc", 8.0))]
        fast = [("producer_consumer/64", a, 0, 2, m, 1.0)
                for a, m in (("glibc", 4.0), ("mimalloc", 6.0), ("arena-malloc", 7.0))]
        micro_dir = micro("micro", pairs + slow, 3)
        _, rows = run_targets(micro_dir)
        measured, verdict = find(rows, "`arena-malloc` two-thread producer/consumer at least")
        self.assertEqual((measured, verdict), ("0.89x mimalloc", "**missed**"))
        _, rows = run_targets(micro_dir, micro("alone", fast, 15))
        measured, verdict = find(rows, "`arena-malloc` two-thread producer/consumer at least")
        self.assertEqual(verdict, "met", measured)
        self.assertEqual(measured, "1.17x mimalloc (run alone, 15 repetitions, paired median 1.17x; "
                         "micro run: 0.89x mimalloc, glibc 2.00x)")
        measured, verdict = find(rows, "`arena-malloc` two-thread producer/consumer >= 1.5x")
        self.assertEqual(verdict, "met", measured)
        self.assertTrue(measured.startswith("1.75x (run alone"), measured)
        # The pairs still come from the micro run.
        measured, _ = find(rows, "`arena-malloc` malloc+free pairs")
        self.assertIn("of 1 sizes", measured)

    def micro_dir(self, name, configs, repetitions=3):
        directory = os.path.join(self.tmp.name, name)
        os.makedirs(directory)
        crafted.write_csv(os.path.join(directory, "micro.csv"), crafted.REPLAY_HEADER,
                          crafted.replay_rows(configs, repetitions, self.rng, time_spread=0.0),
                          dict(crafted.MACHINE, command="bench_micro " + name))
        return directory

    def test_every_pair_size_or_the_pairs_are_not_decided(self):
        every = [("malloc_free/%d" % size, a, 16 if a == "arena" else 0, 1, m, 1.0)
                 for size in targets.PAIR_SIZES for a, m in (("glibc", 20), ("arena", 30))]
        _, rows = run_targets(self.micro_dir("every", every))
        self.assertEqual(find(rows, "`arena` malloc+free pairs"),
                         ("0 of 26 sizes slower; worst 1.50x at 8 B", "met"))
        # One size run: no slower one, but not "every size" either (it read met).
        _, rows = run_targets(self.micro_dir("one", [c for c in every if c[0] == "malloc_free/64"]))
        measured, verdict = find(rows, "`arena` malloc+free pairs")
        self.assertEqual(verdict, "not measured")
        self.assertEqual(measured, "0 of 1 sizes slower; worst 1.50x at 64 B; not run (or no "
                         "comparator): 25 of the 26 sizes")
        # A slower size decides it, whatever is missing.
        slow = [c[:4] + (10, 1.0) if c[0] == "malloc_free/64" and c[1] == "arena" else c
                for c in every if c[0] in ("malloc_free/64", "malloc_free/128")]
        measured, verdict = find(run_targets(self.micro_dir("slow", slow))[1], "`arena` malloc+free pairs")
        self.assertEqual(verdict, "**missed**")
        self.assertIn("1 of 2 sizes slower; worst 0.50x at 64 B", measured)

    def test_pair_sizes_are_bench_micros(self):
        source = os.path.join(os.path.dirname(__file__), "..", "..", "bench", "micro", "micro_benchmarks.cpp")
        with open(source) as handle:
            text = handle.read()
        found = re.search(r"for \(size_t size = 8; size <= \(1u << 20\); size \*= 2\).*?"
                          r"for \(size_t odd : \{([0-9, ]+)\}\)", text, re.S)
        self.assertIsNotNone(found, "the malloc_free sizes are made otherwise now: update PAIR_SIZES")
        odd = [int(v) for v in found.group(1).split(",")]
        self.assertEqual(sorted([8 << i for i in range(18)] + odd), list(targets.PAIR_SIZES))

    def test_producer_consumer_without_glibc_or_rows_is_said(self):
        pairs = [("malloc_free/64", a, 0, 1, m, 1.0) for a, m in (("tcmalloc", 20), ("arena-malloc", 30))]
        pc = [("producer_consumer/64", a, 0, 2, m, 1.0) for a, m in (("tcmalloc", 4.0), ("arena-malloc", 8.0))]
        _, rows = run_targets(self.micro_dir("noglibc", pairs + pc))
        self.assertEqual(find(rows, "`arena-malloc` two-thread producer/consumer >= 1.5x"),
                         ("no glibc rows on producer_consumer/64 t=2", "not measured"))
        self.assertEqual(find(rows, "`arena-malloc` two-thread producer/consumer at least")[1], "met")
        _, rows = run_targets(self.micro_dir("nopc", pairs))
        self.assertEqual(find(rows, "`arena-malloc` two-thread producer/consumer >= 1.5x")[1], "not measured")
        self.assertEqual(find(rows, "`arena-malloc` two-thread producer/consumer at least")[1], "not measured")

    def test_a_producer_consumer_run_alone_without_the_fastest_comparator(self):
        pairs = [("malloc_free/64", a, 0, 1, m, 1.0) for a, m in (("glibc", 20), ("arena", 30))]
        pc = [("producer_consumer/64", a, 16 if a == "arena" else 0, 2, m, 1.0)
              for a, m in (("glibc", 4.0), ("jemalloc", 20.0), ("arena", 10.0))]
        micro = self.micro_dir("micro", pairs + pc)
        alone = self.micro_dir("alone", [c for c in pc if c[1] != "jemalloc"], 15)
        # Alone, arena beats glibc only; the micro run has jemalloc, twice as fast.
        _, rows = run_targets(micro, alone)
        self.assertEqual(find(rows, "`arena` two-thread producer/consumer at least"),
                         ("0.50x jemalloc (micro run: the run alone has no jemalloc)", "**missed**"))
        # The run alone given without a micro run decides its own targets.
        _, rows = run_targets(alone)
        self.assertEqual(find(rows, "`arena` two-thread producer/consumer at least")[1], "met")
        self.assertEqual(find(rows, "malloc+free pairs, 8 B to 1 MiB"), ("no micro run given", "not measured"))

    def test_real_programs(self):
        # sqlite3 under arena-malloc: 2 runs right, 3 whose output check failed
        # (a crash that ended early: a hundredth of the time and memory). The
        # figures are the right runs': with the failed ones in, the medians were
        # theirs, and the targets read as met by a crash.
        rows = []
        for program, arena_wall, arena_rss, arena_failed in (
                ("cpython", 0.7, 0.9, 0), ("sqlite3", 0.8, 1.2, 3), ("gxx", 0.75, 1.0, 0),
                ("perl", 0.75, 1.0, 0), ("prodcons", 0.75, 1.0, 0), ("git", 0.75, 1.0, 0)):
            for allocator, wall, rss, failed in (("glibc", 1.0, 1.0, 0),
                                                 ("arena-malloc", arena_wall, arena_rss, arena_failed)):
                for repetition in range(5):
                    ok = repetition >= failed
                    scale = 1.0 if ok else 0.01
                    rows.append([program, allocator, 0, 1, repetition, repr(2.0 * wall * scale),
                                 int(50 * MIB * rss * scale), "1.0", "0.1", 1000, int(ok)])
        _, got = run_targets(realprog_dir(os.path.join(self.tmp.name, "realprog"), rows))
        measured, verdict = find(got, "output identical")
        self.assertEqual(verdict, "**missed**")
        self.assertIn("sqlite3", measured)
        measured, verdict = find(got, "wall time, geometric mean, <= 0.8x")
        self.assertEqual((measured, verdict), ("0.75x over 6 programs", "met"))
        measured, verdict = find(got, "max RSS, geometric mean, <= 1.0x")
        self.assertEqual(verdict, "**missed**")
        measured, verdict = find(got, "each one's max RSS within 5%")
        self.assertIn("1.20x (sqlite3)", measured)
        self.assertEqual(verdict, "**missed**")

    def test_real_programs_met_on_some_of_them_are_not_measured(self):
        # The targets are set on the six programs bench_realprog runs: a run of
        # prodcons alone (--programs=prodcons, arena-malloc's largest win) met
        # the wall-time mean; one missed on some stays missed.
        rows = [[program, allocator, 0, 1, repetition, repr(2.0 * (wall if allocator != "glibc" else 1.0)),
                 int(50 * MIB * (rss if allocator != "glibc" else 1.0)), "1.0", "0.1", 1000, 1]
                for program, wall, rss in (("prodcons", 0.43, 1.2), ("git", 0.9, 1.2))
                for allocator in ("glibc", "arena-malloc") for repetition in range(3)]
        _, got = run_targets(realprog_dir(os.path.join(self.tmp.name, "realprog"), rows))
        measured, verdict = find(got, "wall time, geometric mean, <= 0.8x")
        self.assertEqual(verdict, "not measured")
        self.assertIn("not run (or no arena-malloc and glibc figures): cpython, gxx, sqlite3, perl",
                      measured)
        measured, verdict = find(got, "max RSS, geometric mean, <= 1.0x")
        self.assertEqual(verdict, "**missed**", measured)

    def test_real_program_figures_are_told_from_their_bounds(self):
        # 0.8004 printed as 0.80 beside "missed" against <= 0.8.
        rows = [[program, allocator, 0, 1, repetition,
                 repr(2.0 * (0.8004 if allocator != "glibc" else 1.0)), 50 * MIB, "1.0", "0.1", 1000, 1]
                for program in targets.REALPROG_PROGRAMS
                for allocator in ("glibc", "arena-malloc") for repetition in range(3)]
        _, got = run_targets(realprog_dir(os.path.join(self.tmp.name, "realprog"), rows))
        self.assertEqual(find(got, "wall time, geometric mean, <= 0.8x"),
                         ("0.8004x over 6 programs", "**missed**"))

    def test_real_programs_whose_every_run_failed_miss_the_output_target(self):
        # Every arena-malloc run failed its output check: no figure of its is
        # left, and the output target is missed, not "not measured".
        rows = [[program, allocator, 0, 1, repetition, "2.0", 50 * MIB, "1.0", "0.1", 1000,
                 int(allocator == "glibc")]
                for program in ("python3", "sqlite3") for allocator in ("glibc", "arena-malloc")
                for repetition in range(3)]
        _, got = run_targets(realprog_dir(os.path.join(self.tmp.name, "realprog"), rows))
        measured, verdict = find(got, "output identical")
        self.assertEqual(verdict, "**missed**")
        self.assertIn("python3 under arena-malloc, sqlite3 under arena-malloc", measured)
        self.assertEqual(find(got, "real programs under `arena-malloc` against glibc")[1], "not measured")

    def test_real_programs_with_no_program_under_both(self):
        rows = [[program, allocator, 0, 1, repetition, "2.0", 50 * MIB, "1.0", "0.1", 1000, 1]
                for program, allocator in (("python3", "glibc"), ("sqlite3", "arena-malloc"))
                for repetition in range(3)]
        _, got = run_targets(realprog_dir(os.path.join(self.tmp.name, "realprog"), rows))
        self.assertEqual(find(got, "real programs under `arena-malloc` against glibc")[1],
                         "not measured")

    def test_real_programs_paired_median_beside_the_verdict(self):
        # glibc's runs drift (1.0, 1.2, 2.0 s); arena-malloc's medians differ by 8%,
        # its paired ratios (1.00, 1.08, 0.95) by nothing: the verdict stays on the
        # medians, the paired figure is shown beside it. A threaded program is named
        # with its thread count, and paired under that name too.
        rows = []
        for program, threads in (("sqlite3", 1), ("prodcons", 2)):
            for allocator, walls in (("glibc", (1.0, 1.2, 2.0)), ("arena-malloc", (1.0, 1.3, 1.9))):
                for repetition, wall in enumerate(walls):
                    rows.append([program, allocator, 0, threads, repetition, repr(wall),
                                 int(50 * MIB), "1.0", "0.1", 1000, 1])
        _, got = run_targets(realprog_dir(os.path.join(self.tmp.name, "realprog-drift"), rows))
        measured, verdict = find(got, "each one's wall time within 5%")
        self.assertEqual(verdict, "**missed**")
        self.assertIn("1.08x (sqlite3)", measured)
        self.assertIn("sqlite3 (paired median 1.00x over 3 runs)", measured)
        self.assertIn("prodcons t=2 (paired median 1.00x over 3 runs)", measured)

    def test_instructions_above_bumps(self):
        speeds = {"glibc": [1] * 4, "arena": [1.5] * 4, "bump": [3] * 4, "mimalloc": [2] * 4}
        frags = {a: [1] * 4 for a in speeds}
        directory = replay_dir(os.path.join(self.tmp.name, "instr"), speeds, frags, self.rng,
                               instructions={"glibc": 150, "arena": 100, "bump": 50,
                                             "mimalloc": 70})
        out, _ = run_targets(directory)
        self.assertRegex(out, r"\| arena \| 50\.0 \|")
        self.assertRegex(out, r"\| mimalloc \| 20\.0 \|")
        self.assertRegex(out, r"\| glibc \| 100\.0 \|")
        self.assertIn("No allocator ran fewer than bump's on any trace.", out)

    def test_instructions_below_bump_where_it_copies(self):
        # Under bump every growing realloc copies: on gen-realloc-grow every
        # allocator but tcmalloc ran fewer instructions per op than bump, which
        # the table called "the bump ceiling".
        speeds = {"glibc": [1] * 4, "arena": [1.5] * 4, "bump": [3] * 4}
        frags = {a: [1] * 4 for a in speeds}
        directory = replay_dir(os.path.join(self.tmp.name, "instr-below"), speeds, frags,
                               self.rng, instructions={"glibc": 150, "arena": 40, "bump": 50})
        out, _ = run_targets(directory)
        self.assertNotIn("ceiling", out)
        self.assertRegex(out, r"\| arena \| -10\.0 \|")
        self.assertRegex(out, r"Fewer than bump's \(a negative difference\) on [^:]*\(arena\): "
                              r"where bump copies a growing realloc it is no floor\.")

    def test_two_runs_of_one_kind_are_refused(self):
        speeds = {"glibc": [1] * 4, "arena": [1.5] * 4}
        frags = {"glibc": [1] * 4, "arena": [1] * 4}
        one = replay_dir(os.path.join(self.tmp.name, "one"), speeds, frags, self.rng)
        two = replay_dir(os.path.join(self.tmp.name, "two"), speeds, frags, self.rng)
        result = crafted.run_tool("targets.py", one, two)
        self.assertNotEqual(result.returncode, 0)
        self.assertIn("two replay runs", result.stderr)


class Output(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.TemporaryDirectory()
        speeds = {"glibc": [1] * 4, "arena": [1.5] * 4}
        frags = {"glibc": [1] * 4, "arena": [1] * 4}
        self.run = replay_dir(os.path.join(self.tmp.name, "run"), speeds, frags, random.Random(3))

    def tearDown(self):
        self.tmp.cleanup()

    def test_written_to_the_file_named(self):
        output = os.path.join(self.tmp.name, "targets.md")
        result = crafted.run_tool("targets.py", self.run, "-o", output)
        self.assertEqual(result.returncode, 0, result.stderr)
        with open(output) as handle:
            self.assertIn("# Targets", handle.read())

    def test_options_between_the_directories(self):
        # targets.py RUN -o FILE REALPROG: "unrecognized arguments: REALPROG" before.
        rows = [["sqlite3", allocator, 0, 1, repetition, "1.0", int(50 * MIB), "1.0", "0.1",
                 1000, 1] for allocator in ("glibc", "arena-malloc") for repetition in range(3)]
        realprog = realprog_dir(os.path.join(self.tmp.name, "realprog"), rows)
        output = os.path.join(self.tmp.name, "both.md")
        result = crafted.run_tool("targets.py", self.run, "-o", output, realprog)
        self.assertEqual(result.returncode, 0, result.stderr)
        with open(output) as handle:
            self.assertIn("- realprog: `./bench.sh realprog`", handle.read())

    def test_an_unwritable_output_stops_it_in_one_line(self):
        replay_csv = os.path.join(self.run, "replay.csv")
        for output, parent, reason in (
                (os.path.join(replay_csv, "t.md"), None, "Not a directory"),
                (os.path.join(replay_csv, "no", "t.md"), os.path.join(replay_csv, "no"),
                 "%s is not a directory" % replay_csv)):
            result = crafted.run_tool("targets.py", self.run, "-o", output)
            self.assertEqual(result.returncode, 1, result.stderr)
            self.assertEqual(result.stderr, "targets.py: %s: cannot write: %s\n" % (parent or output, reason))
            self.assertFalse(os.path.exists(output))

    def test_an_output_in_a_missing_directory_makes_it(self):
        # As plot.py makes a missing OUTDIR.
        output = os.path.join(self.tmp.name, "no", "such", "t.md")
        result = crafted.run_tool("targets.py", self.run, "-o", output)
        self.assertEqual(result.returncode, 0, result.stderr)
        with open(output) as handle:
            self.assertIn("met", handle.read())

    def test_a_floor_below_zero_or_not_finite_is_a_usage_error(self):
        for floor in ("-1", "nan", "inf", "lots"):
            result = crafted.run_tool("targets.py", self.run, "--floor-mib", floor)
            self.assertEqual(result.returncode, 2, floor)
            self.assertIn("usage: targets.py", result.stderr, floor)


if __name__ == "__main__":
    unittest.main()
