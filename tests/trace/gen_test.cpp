// The workload generators: determinism, sizes in range, thread counts, exact op
// counts, the teardown at the end, and the write -> read -> write round trip.
#include <set>

#include "gen.h"
#include "trace_test_util.h"

namespace {

trace::Trace generate(const std::string &name, uint64_t ops, uint64_t seed, uint32_t threads = 0) {
    trace::Trace t;
    trace::GenOptions o;
    o.ops = ops;
    o.seed = seed;
    o.threads = threads;
    std::string error;
    EXPECT_TRUE(trace::generate(name, o, &t, &error)) << error;
    return t;
}

class Workload : public testing::TestWithParam<std::string> {
protected:
    // Large enough to leave the warm-up; `large` is kept small, as by default.
    uint64_t ops() const { return GetParam() == "large" ? 4000 : 60000; }
};

TEST_P(Workload, SameArgumentsSameBytesOtherSeedOtherBytes) {
    const std::string a = trace::to_text(generate(GetParam(), ops(), 7));
    EXPECT_EQ(a, trace::to_text(generate(GetParam(), ops(), 7)));
    EXPECT_NE(a, trace::to_text(generate(GetParam(), ops(), 8)));
}

TEST_P(Workload, ExactOpCountValidAndTornDown) {
    const trace::Trace t = generate(GetParam(), ops(), 3);
    EXPECT_EQ(t.ops.size(), ops());
    EXPECT_EQ(t.facts.final_live_blocks, 0u) << "every workload ends by freeing all";
    const std::string text = trace::to_text(t);
    trace::Trace back;
    EXPECT_EQ(trace_test::parse_error(text, &back), "");  // the reader agrees it is valid
    EXPECT_EQ(back.facts.peak_live_bytes, t.facts.peak_live_bytes);
    EXPECT_EQ(back.facts.peak_op, t.facts.peak_op);
}

// An allocation or a free keeps the parity of (ops left - blocks live); only a
// realloc changes it, so a random realloc or an odd op count could strand a block.
TEST_P(Workload, TornDownForEverySeedAndAnOddOpCount) {
    const uint64_t n = GetParam() == "large" ? 2000 : 6000;
    for (uint64_t seed = 1; seed <= 24; seed++) {
        for (uint64_t ops : {n, n + 1}) {
            const trace::Trace t = generate(GetParam(), ops, seed);
            EXPECT_EQ(t.ops.size(), ops) << "seed " << seed;
            EXPECT_EQ(t.facts.final_live_blocks, 0u) << "seed " << seed << ", " << ops << " ops";
        }
    }
}

TEST_P(Workload, SizesStayInTheirRange) {
    const trace::Workload *w = trace::find_workload(GetParam());
    ASSERT_NE(w, nullptr);
    const trace::Trace t = generate(GetParam(), ops(), 5);
    uint64_t lo = UINT64_MAX, hi = 0;
    for (const trace::Op &op : t.ops) {
        if (op.kind == trace::OpKind::Free) continue;
        lo = std::min(lo, trace::requested_bytes(op));
        hi = std::max(hi, trace::requested_bytes(op));
        if (op.kind == trace::OpKind::Memalign) {
            EXPECT_EQ(op.arg & (op.arg - 1), 0u);
        }
    }
    EXPECT_GE(lo, w->min_size);
    EXPECT_LE(hi, w->max_size);
    // and they use the range, not a corner of it
    EXPECT_LT(lo, w->min_size * 2);
    EXPECT_GT(hi, w->max_size / 2);
}

TEST_P(Workload, ThreadCountHolds) {
    const trace::Workload *w = trace::find_workload(GetParam());
    const trace::Trace t = generate(GetParam(), ops(), 9);
    EXPECT_EQ(t.facts.threads, w->default_threads);
    EXPECT_EQ(t.facts.max_thread, w->default_threads - 1);
}

TEST_P(Workload, RoundTripGivesIdenticalBytes) {
    trace_test::TempDir dir;
    std::string error;
    const trace::Trace t = generate(GetParam(), ops(), 11);
    for (const char *suffix : {".trace", ".trace.gz"}) {
        const std::string first = dir / ("first" + std::string(suffix)), second = dir / ("second" + std::string(suffix));
        ASSERT_TRUE(trace::write(first, t, &error)) << error;
        trace::Trace back;
        ASSERT_TRUE(trace::load(first, &back, &error)) << error;
        ASSERT_TRUE(trace::write(second, back, &error)) << error;
        EXPECT_EQ(trace_test::read_file(first), trace_test::read_file(second)) << suffix;
    }
}

TEST_P(Workload, DefaultIsModestButMeasurable) {
    const trace::Workload *w = trace::find_workload(GetParam());
    EXPECT_LE(w->default_ops, 1000000u);
    const trace::Trace t = generate(GetParam(), 0, 1);
    EXPECT_EQ(t.ops.size(), w->default_ops);
    EXPECT_GE(t.facts.peak_live_bytes, 1u << 20);
    EXPECT_LE(t.facts.peak_live_bytes, 128u << 20);
}

std::vector<std::string> all_workloads() {
    std::vector<std::string> names;
    for (const trace::Workload &w : trace::workloads()) names.push_back(w.name);
    return names;
}

std::string test_name(const testing::TestParamInfo<std::string> &info) {
    std::string name = info.param;
    for (char &c : name) c = isalnum(static_cast<unsigned char>(c)) ? c : '_';
    return name;
}

INSTANTIATE_TEST_SUITE_P(All, Workload, testing::ValuesIn(all_workloads()), test_name);

TEST(Gen, TheRequiredWorkloadsExist) {
    for (const char *name : {"tiny", "small", "medium", "large", "powerlaw", "realloc-grow", "lifo", "fifo",
                             "random", "phased", "threads"})
        EXPECT_NE(trace::find_workload(name), nullptr) << name;
}

TEST(Gen, SomeWorkloadsUseCallocAndAlignedAndRealloc) {
    const trace::Trace t = generate("random", 50000, 1);
    EXPECT_GT(t.facts.count[static_cast<int>(trace::OpKind::Calloc)], 0u);
    EXPECT_GT(t.facts.count[static_cast<int>(trace::OpKind::Memalign)], 0u);
    EXPECT_GT(t.facts.count[static_cast<int>(trace::OpKind::Realloc)], 0u);
    EXPECT_GT(generate("realloc-grow", 50000, 1).facts.count[static_cast<int>(trace::OpKind::Realloc)], 25000u);
}

TEST(Gen, ThreadsOptionAndCrossThreadFreesComeAfterTheirAllocation) {
    const trace::Trace t = generate("threads", 50000, 2, 7);
    EXPECT_EQ(t.facts.threads, 7u);
    // the reader accepts it: every free comes after its allocation in file order
    EXPECT_EQ(trace_test::parse_error(trace::to_text(t)), "");
    const uint64_t cross = trace::cross_thread_frees(t);
    EXPECT_GT(cross, t.facts.count[4] / 5);
    EXPECT_LT(cross, t.facts.count[4]);
}

// 30% of frees take a block of a thread drawn at random, the freeing one
// included: with n threads 0.3 (n - 1) / n of frees cross, 22.5% at the
// default 4 (and a few more, by a thread with no block of its own).
TEST(Gen, ThreadsCrossThreadFreesAreTheShareTheListSays) {
    for (uint32_t threads : {2u, 4u, 7u}) {
        const trace::Trace t = generate("threads", 200000, 3, threads);
        const double frees = static_cast<double>(t.facts.count[static_cast<int>(trace::OpKind::Free)]);
        const double expected = 0.3 * (threads - 1) / threads;
        EXPECT_NEAR(static_cast<double>(trace::cross_thread_frees(t)) / frees, expected, 0.02) << threads << " threads";
    }
}

// With an odd budget the threads workload ends on one realloc. A thread with no
// block of its own used to spend its turn freeing another thread's block, and
// short traces could run out of blocks with that op left: it allocated one.
TEST(Gen, ThreadsTornDownForShortOddOpCounts) {
    for (uint32_t threads : {1u, 2u, 4u, 7u})
        for (uint64_t ops = 3; ops <= 41; ops += 2)
            for (uint64_t seed = 1; seed <= 40; seed++) {
                const trace::Trace t = generate("threads", ops, seed, threads);
                ASSERT_EQ(t.ops.size(), ops);
                ASSERT_EQ(t.facts.final_live_blocks, 0u) << threads << " threads, " << ops << " ops, seed " << seed;
            }
}

TEST(Gen, LifoAndFifoFreeInTheirOrder) {
    for (const char *name : {"lifo", "fifo"}) {
        const trace::Trace t = generate(name, 20000, 4);
        std::vector<uint64_t> born(t.facts.slot_count);
        std::set<std::pair<uint64_t, uint32_t>> live;  // (op index of allocation, slot)
        for (uint64_t i = 0; i < t.ops.size(); i++) {
            const trace::Op &op = t.ops[i];
            if (op.kind != trace::OpKind::Free) {
                born[op.slot] = i;
                live.insert({i, op.slot});
                continue;
            }
            const auto expected = std::string(name) == "lifo" ? *live.rbegin() : *live.begin();
            ASSERT_EQ(expected.second, op.slot) << name << " op " << i;
            live.erase({born[op.slot], op.slot});
        }
    }
}

TEST(Gen, PhasedEndsWithTeardownAfterPeak) {
    const trace::Trace t = generate("phased", 10000, 1);
    EXPECT_EQ(t.ops.back().kind, trace::OpKind::Free);
    EXPECT_GE(t.facts.peak_op, t.ops.size() / 2);  // second build-up peaks late
    EXPECT_EQ(generate("phased", 10001, 1).ops.size(), 10001u);
}

// One op cannot both allocate and free: asked for, it is refused rather than
// leaving a block live at the end.
TEST(Gen, OneOpIsRefused) {
    for (const trace::Workload &w : trace::workloads()) {
        trace::Trace t;
        trace::GenOptions o;
        o.ops = 1;
        std::string error;
        EXPECT_FALSE(trace::generate(w.name, o, &t, &error)) << w.name << ": " << t.facts.final_live_blocks << " live";
        EXPECT_NE(error.find("at least 2 ops"), std::string::npos) << w.name << ": " << error;
        EXPECT_EQ(generate(w.name, 2, 1).facts.final_live_blocks, 0u) << w.name;
    }
}

TEST(Gen, UnknownWorkloadAndBadThreads) {
    trace::Trace t;
    std::string error;
    EXPECT_FALSE(trace::generate("nope", {}, &t, &error));
    EXPECT_NE(error.find("unknown workload 'nope'"), std::string::npos);
    trace::GenOptions o;
    o.threads = 2;
    EXPECT_FALSE(trace::generate("tiny", o, &t, &error));
}

}  // namespace
