// Tests of the replay engine (bench/replay): images, bump sizing, and that the
// check pass catches what it is there to catch, with allocators made to fail;
// of the child processes every driver measures in (bench/common/child); of
// what the parent tells a replay child of its huge-pages threshold; and of how
// the children's Google Benchmark JSON files are joined (bench/common/csv).
#include <fcntl.h>
#include <gtest/gtest.h>
#include <pthread.h>
#include <sys/mman.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <csignal>
#include <cerrno>
#include <cstdint>

#include <cstdlib>
#include <cstring>
#include <fstream>
#include <functional>
#include <mutex>
#include <sstream>
#include <string>
#include <vector>

#include "allocator.h"
#include "child.h"
#include "csv.h"
#include "bump.h"
#include "cli.h"
#include "replay_child.h"
#include "replay_engine.h"
#include "replay_image.h"
#include "summary.h"
#include "trace.h"

namespace {

std::string temp_path(const char *name) {
    const char *dir = std::getenv("TMPDIR");
    return std::string(dir && *dir ? dir : "/tmp") + "/replay_engine_test." + std::to_string(getpid()) + "." + name;
}

trace::Trace parse_text(const std::string &text) {
    trace::Trace t;
    std::string error;
    EXPECT_TRUE(trace::parse("test.trace", text.data(), text.size(), &t, &error)) << error;
    t.name = "test";
    return t;
}

// Maps t's image and runs one pass of it against `info`; after_replay, when
// given, runs between the replay and finish().
replay::Outcome run_pass(const trace::Trace &t, const bench::AllocatorInfo &info, replay::Pass pass,
                         bool threaded = false, bool lockstep = false,
                         const std::function<void()> &after_replay = nullptr) {
    const std::string path = temp_path("image");
    std::string error;
    EXPECT_TRUE(replay::write_image(t, path, &error)) << error;
    replay::Image image;
    EXPECT_TRUE(image.map(path, &error)) << error;
    unlink(path.c_str());
    replay::SessionOptions options;
    options.pass = pass;
    options.threaded = threaded;
    options.lockstep = lockstep;
    options.allocator = &info;
    replay::Session session(image, options);
    EXPECT_TRUE(session.prepare(&error)) << error;
    EXPECT_TRUE(session.start(&error)) << error;
    session.replay();
    if (after_replay) after_replay();
    session.finish();
    return session.outcome();
}

const std::string kMixed =
    "arena-trace 1\n"
    "a 1 100\nc 2 10 30\nm 3 256 256\nr 1 5000\na 4 0\nm 5 64 10\nf 2\nr 1 50\nf 3\n"
    "a 6 70000\nr 6 200000\nf 4\n";

// A process malloc that breaks one rule on purpose.
enum class Flaw { None, Misalign, ReallocForgets, CallocDirty, NullWithoutErrno };

class FlawedMalloc : public bench::Allocator {
public:
    // NullWithoutErrno: a block of 1 MiB or more is NULL with errno left as it
    // was, and set-up leaves ENOENT behind (a file it looked for).
    explicit FlawedMalloc(Flaw flaw) : flaw_(flaw) {
        if (flaw == Flaw::NullWithoutErrno) errno = ENOENT;
    }
    ~FlawedMalloc() override {
        for (void *p : offset_blocks_) std::free(p);
    }
    void *malloc(size_t size) override {
        if (flaw_ == Flaw::NullWithoutErrno && size >= (1u << 20)) return nullptr;
        return std::malloc(size ? size : 1);
    }
    void *calloc(size_t n, size_t size) override {
        void *p = std::calloc(n ? n : 1, size ? size : 1);
        if (p && flaw_ == Flaw::CallocDirty && n * size != 0) static_cast<char *>(p)[n * size - 1] = 7;
        return p;
    }
    void *memalign(size_t alignment, size_t size) override {
        // Misalign: a block aligned to half of what was asked (as mimalloc 2.0.9 does).
        if (flaw_ == Flaw::Misalign && alignment >= 128) {
            char *p = static_cast<char *>(std::aligned_alloc(alignment, (size / alignment + 2) * alignment));
            offset_blocks_.push_back(p);  // freed with the allocator
            return p + alignment / 2;
        }
        return std::aligned_alloc(alignment, (size + alignment - 1) / alignment * alignment);
    }
    void *realloc(void *block, size_t old_size, size_t new_size) override {
        if (flaw_ != Flaw::ReallocForgets) return std::realloc(block, new_size);
        void *moved = std::malloc(new_size);  // moves without copying
        std::memset(moved, 0, new_size);
        (void)old_size;
        std::free(block);
        return moved;
    }
    void free(void *block, size_t) override {
        for (void *p : offset_blocks_)
            if (block > p && block < static_cast<char *>(p) + 4096) return;  // freed with the allocator
        std::free(block);
    }

private:
    Flaw flaw_;
    std::vector<void *> offset_blocks_;
};

bench::AllocatorInfo flawed(Flaw flaw) {
    bench::AllocatorInfo info;
    info.name = "flawed";
    info.thread_safe = true;
    info.create = [flaw](const bench::AllocatorSettings &, std::string *) {
        return std::unique_ptr<bench::Allocator>(new FlawedMalloc(flaw));
    };
    return info;
}

TEST(ReplayCheck, CleanAllocatorPasses) {
    const auto o = run_pass(parse_text(kMixed), flawed(Flaw::None), replay::Pass::Check);
    EXPECT_TRUE(o.ok) << o.error;
    EXPECT_TRUE(o.check.clean()) << (o.check.examples.empty() ? "" : o.check.examples[0]);
    EXPECT_EQ(o.check.blocks, 6u);
}

TEST(ReplayCheck, FindsMisalignedBlocksAndGoesOn) {
    const auto o = run_pass(parse_text(kMixed), flawed(Flaw::Misalign), replay::Pass::Check);
    EXPECT_TRUE(o.ok) << o.error;
    EXPECT_EQ(o.check.misaligned, 1u);
    ASSERT_FALSE(o.check.examples.empty());
    EXPECT_NE(o.check.examples[0].find("is aligned to 128, needs 256"), std::string::npos) << o.check.examples[0];
    EXPECT_EQ(o.check.examples[0].rfind("op 3 (m, 256 bytes", 0), 0u) << "ops count from 1: " << o.check.examples[0];
}

// A failed op names itself and the allocator's errno, and only errno the call
// left: before, an allocator that set none showed set-up's ENOENT ("No such
// file or directory").
TEST(ReplayThroughput, AFailedOpSaysWhetherTheAllocatorSetErrno) {
    for (bool threaded : {false, true}) {
        const auto o = run_pass(parse_text("arena-trace 1\na 1 100\na 2 2000000\nf 1\n"),
                                flawed(Flaw::NullWithoutErrno), replay::Pass::Throughput, threaded);
        EXPECT_FALSE(o.ok);
        EXPECT_EQ(o.error, "op 2 (a, 2000000 bytes): the allocator returned NULL (errno 0: no call of the replay "
                           "set it)") << threaded;
    }
}

TEST(ReplayCheck, FindsLostContents) {
    const auto o = run_pass(parse_text(kMixed), flawed(Flaw::ReallocForgets), replay::Pass::Check);
    EXPECT_GE(o.check.corrupted, 1u);
}

TEST(ReplayCheck, FindsCallocThatIsNotZero) {
    const auto o = run_pass(parse_text(kMixed), flawed(Flaw::CallocDirty), replay::Pass::Check);
    EXPECT_EQ(o.check.not_zeroed, 1u);
    ASSERT_FALSE(o.check.examples.empty());
    EXPECT_EQ(o.check.examples[0].rfind("op 2 (c, 300 bytes)", 0), 0u) << "ops count from 1: " << o.check.examples[0];
}

TEST(ReplayCheck, RegisteredAllocatorsPass) {
    for (const char *name : {"arena", "seed", "glibc", "bump"}) {
        const bench::AllocatorInfo *info = bench::find_allocator(name);
        ASSERT_NE(info, nullptr) << name;
        const auto o = run_pass(parse_text(kMixed), *info, replay::Pass::Check);
        EXPECT_TRUE(o.ok) << name << ": " << o.error;
        EXPECT_TRUE(o.check.clean()) << name << ": " << (o.check.examples.empty() ? "" : o.check.examples[0]);
    }
}

TEST(ReplayMemory, SamplesEveryPercentAndAtThePeak) {
    std::string text = "arena-trace 1\n";
    for (int i = 0; i < 300; i++) text += "a " + std::to_string(i) + " 4096\n";
    for (int i = 0; i < 300; i++) text += "f " + std::to_string(i) + "\n";
    const trace::Trace t = parse_text(text);
    // A fresh arena maps fresh memory (glibc would reuse what earlier tests freed).
    const auto o = run_pass(t, *bench::find_allocator("arena"), replay::Pass::Memory);
    ASSERT_TRUE(o.ok) << o.error;
    ASSERT_GE(o.timeline.size(), 100u);
    bool at_peak = false;
    for (const auto &s : o.timeline) at_peak = at_peak || s.op_index == t.facts.peak_op + 1;
    EXPECT_TRUE(at_peak);
    EXPECT_EQ(o.timeline.back().op_index, t.ops.size());
    // 300 blocks of a page, each written: at least that much became resident.
    EXPECT_GE(o.rss_peak_bytes, 300u * 4096u);
    EXPECT_TRUE(o.has_internal_frag);
    EXPECT_GE(o.internal_frag, 1.0);
}

// A process malloc whose resident memory is known: every block a mapping of
// its own, a freed large block's pages kept (a cache) until the next small
// request unmaps them.
class CachingMalloc : public bench::Allocator {
public:
    ~CachingMalloc() override { drop_cache(); }
    void *malloc(size_t size) override {
        if (size <= 4096) drop_cache();
        size_t bytes = (size + 4095) / 4096 * 4096;
        void *p = mmap(nullptr, bytes ? bytes : 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        return p == MAP_FAILED ? nullptr : p;
    }
    void *calloc(size_t n, size_t size) override { return malloc(n * size); }
    void *memalign(size_t, size_t size) override { return malloc(size); }
    void *realloc(void *, size_t, size_t) override { return nullptr; }
    void free(void *block, size_t size) override {
        size_t bytes = (size + 4095) / 4096 * 4096;
        if (size > 4096) cache_.push_back({block, bytes});
        else munmap(block, bytes ? bytes : 4096);
    }

private:
    void drop_cache() {
        for (auto &[p, bytes] : cache_) munmap(p, bytes);
        cache_.clear();
    }
    std::vector<std::pair<void *, size_t>> cache_;
};

// Resident memory that peaks while nothing is live, then falls: the peak is
// still the largest rise sampled (a sample with nothing live once let the
// next, lower one replace it).
TEST(ReplayMemory, APeakWithNothingLiveIsStillThePeak) {
    std::string text = "arena-trace 1\na 0 40960\nf 0\na 1 20480\nf 1\na 2 16\na 3 16\n";
    for (int i = 0; i < 97; i++) text += "a 4 8\nf 4\n";
    bench::AllocatorInfo info;
    info.name = "caching";
    info.create = [](const bench::AllocatorSettings &, std::string *) {
        return std::unique_ptr<bench::Allocator>(new CachingMalloc());
    };
    const auto o = run_pass(parse_text(text), info, replay::Pass::Memory);
    ASSERT_TRUE(o.ok) << o.error;
    uint64_t highest = 0;
    for (const auto &s : o.timeline) highest = std::max(highest, s.rss_bytes);
    EXPECT_GE(highest, 61440u) << "the cached 40 KiB and the 20 KiB block, resident together";
    EXPECT_EQ(o.rss_peak_bytes, highest);
}

// bump's reserve is resident before the first op, so every sample ties: the
// one taken for frag_at_peak is the one with the most live bytes, not the first.
TEST(ReplayMemory, OnAPlateauTheSampleWithTheMostLiveBytes) {
    std::string text = "arena-trace 1\n";
    for (int i = 0; i < 300; i++) text += "a " + std::to_string(i) + " 4096\n";
    for (int i = 0; i < 300; i++) text += "f " + std::to_string(i) + "\n";
    const trace::Trace t = parse_text(text);
    const auto o = run_pass(t, *bench::find_allocator("bump"), replay::Pass::Memory);
    ASSERT_TRUE(o.ok) << o.error;
    EXPECT_EQ(o.live_at_rss_peak, t.facts.peak_live_bytes);
}

TEST(ReplayLatency, FiguresAreOrdered) {
    const auto o = run_pass(parse_text(kMixed), *bench::find_allocator("glibc"), replay::Pass::Latency);
    ASSERT_TRUE(o.ok) << o.error;
    for (int kind = 0; kind < replay::kLatencyKinds; kind++) {
        const auto &f = o.latency[kind];
        EXPECT_GT(f.calls, 0u) << replay::latency_kind_name(kind);
        EXPECT_LE(f.p50_ns, f.p99_ns);
        EXPECT_LE(f.p99_ns, f.p999_ns);
        EXPECT_LE(f.p999_ns, f.max_ns);
    }
}

TEST(ReplayThreaded, KeepsEachThreadsOrderAndCrossThreadFrees) {
    // Thread 1 frees what thread 0 made and the other way round.
    std::string text = "arena-trace 1\n";
    for (int round = 0; round < 200; round++) {
        const int a = round * 2, b = round * 2 + 1;
        text += "t 0\na " + std::to_string(a) + " 48\n";
        text += "t 1\na " + std::to_string(b) + " 80\nf " + std::to_string(a) + "\n";
        text += "t 0\nr " + std::to_string(b) + " 160\nf " + std::to_string(b) + "\n";
    }
    const auto o = run_pass(parse_text(text), *bench::find_allocator("glibc"), replay::Pass::Throughput, true);
    EXPECT_TRUE(o.ok) << o.error;
    EXPECT_EQ(o.ops_done, 1000u);
}

// Threads 1 and 2 are done after two ops each and end there. glibc gave their
// stacks back as they ended (touched before the baseline): every reading after
// that came out low, and bump's rise, its reserve resident from the start,
// fell under its reserve (rss_after_bytes 1499136 against 1642496). Their
// stacks are the harness's now, and stay to the last reading.
TEST(ReplayThreaded, AThreadThatEndsLeavesItsStackToTheLastReading) {
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
    GTEST_SKIP() << "the sanitizer hands back its shadow of an ended thread's stack (ASan: about 127 KiB here)";
#endif
    std::string text = "arena-trace 1\nt 1\na 0 64\nf 0\nt 2\na 1 64\nf 1\nt 0\n";
    for (int i = 2; i < 402; i++) text += "a " + std::to_string(i) + " 4096\n";
    for (int i = 2; i < 402; i++) text += "f " + std::to_string(i) + "\n";
    const trace::Trace t = parse_text(text);
    const uint64_t reserve = replay::bump_reserve_bytes(t) / 4096 * 4096;
    for (int round = 0; round < 3; round++) {
        const auto o = run_pass(t, *bench::find_allocator("bump"), replay::Pass::Memory, true);
        ASSERT_TRUE(o.ok) << o.error;
        EXPECT_GE(o.rss_after_bytes, reserve) << "round " << round;
        for (const auto &sample : o.timeline)
            EXPECT_GE(sample.rss_bytes, reserve) << "round " << round << ", op " << sample.op_index;
    }
}

// A process malloc that counts the replay threads that ended: each one's
// first malloc sets a thread-specific value, whose destructor runs as the
// thread ends.
std::atomic<int> g_threads_ended{0};
pthread_key_t g_thread_end_key;

class ThreadEndCounting : public FlawedMalloc {
public:
    ThreadEndCounting() : FlawedMalloc(Flaw::None) {}
    void *malloc(size_t size) override {
        if (!pthread_getspecific(g_thread_end_key)) pthread_setspecific(g_thread_end_key, this);
        return FlawedMalloc::malloc(size);
    }
};

// The threads end at their last op, inside the replay, as a program's would:
// an allocator's work at a thread's end (a heap handed over, a cache
// flushed) is the allocator's. For a while they were kept waiting to the
// last reading instead, and no allocator saw a thread end.
TEST(ReplayThreaded, EveryThreadEndsWithinTheReplay) {
    static const int made = pthread_key_create(&g_thread_end_key, [](void *) { g_threads_ended++; });
    ASSERT_EQ(made, 0);
    const trace::Trace t = parse_text("arena-trace 1\nt 0\na 0 64\nt 1\na 1 64\nf 0\nt 2\na 2 64\nf 1\nt 0\nf 2\n");
    bench::AllocatorInfo info;
    info.name = "thread-end-counting";
    info.thread_safe = true;
    info.create = [](const bench::AllocatorSettings &, std::string *) {
        return std::unique_ptr<bench::Allocator>(new ThreadEndCounting());
    };
    for (replay::Pass pass : {replay::Pass::Throughput, replay::Pass::Memory}) {
        g_threads_ended = 0;
        const auto o = run_pass(t, info, pass, true, false, [pass] {
            EXPECT_EQ(g_threads_ended.load(), 3) << replay::pass_name(pass) << ": threads ended before the replay returned";
        });
        EXPECT_TRUE(o.ok) << o.error;
    }
}

// The process malloc, noting the size of every malloc in the order the calls came.
class OrderNotingMalloc : public FlawedMalloc {
public:
    explicit OrderNotingMalloc(std::vector<size_t> *order) : FlawedMalloc(Flaw::None), order_(order) {}
    void *malloc(size_t size) override {
        {
            std::lock_guard<std::mutex> hold(lock_);
            order_->push_back(size);
        }
        return FlawedMalloc::malloc(size);
    }

private:
    std::vector<size_t> *order_;
    std::mutex lock_;
};

TEST(ReplayThreaded, LockstepTakesTurnsInFileOrder) {
    // Four threads with nothing between them: threaded, each runs ahead as
    // the scheduler lets it; in lockstep the calls come in file order.
    std::string text = "arena-trace 1\n";
    std::vector<size_t> expected;
    for (int i = 0; i < 4000; i++) {
        const size_t size = 16 + static_cast<size_t>(i);
        text += "t " + std::to_string((i * 7 / 5) % 4) + "\na " + std::to_string(i) + " " + std::to_string(size) + "\n";
        expected.push_back(size);
    }
    for (int i = 0; i < 4000; i++) text += "t " + std::to_string(i % 3) + "\nf " + std::to_string(i) + "\n";
    std::vector<size_t> order;
    bench::AllocatorInfo info;
    info.name = "order-noting";
    info.thread_safe = true;
    info.create = [&order](const bench::AllocatorSettings &, std::string *) {
        return std::unique_ptr<bench::Allocator>(new OrderNotingMalloc(&order));
    };
    const trace::Trace t = parse_text(text);
    for (replay::Pass pass : {replay::Pass::Throughput, replay::Pass::Memory}) {
        order.clear();
        const auto o = run_pass(t, info, pass, true, true);
        EXPECT_TRUE(o.ok) << o.error;
        EXPECT_EQ(o.ops_done, 8000u);
        EXPECT_TRUE(order == expected) << "pass " << replay::pass_name(pass) << ": " << order.size() << " mallocs, out of file order";
    }
}

TEST(ReplayImage, TruncatedTraceHasItsOwnFacts) {
    trace::Trace t = parse_text("arena-trace 1\na 1 100\na 2 300\nf 1\nf 2\na 3 50\n");
    replay::truncate_trace(&t, 3);
    EXPECT_EQ(t.ops.size(), 3u);
    EXPECT_EQ(t.facts.peak_live_bytes, 400u);
    EXPECT_EQ(t.facts.peak_op, 1u);
    EXPECT_EQ(t.facts.final_live_bytes, 300u);
}

TEST(ReplayImage, BumpReserveCountsGrowingReallocs) {
    const trace::Trace t = parse_text("arena-trace 1\na 1 100\nr 1 1000\nr 1 10\nm 2 64 8\nf 1\n");
    // 112 (100 rounded to 16) + 1008 (the grown copy) + nothing for the shrink
    // + 16 + 48 (aligned block and its worst-case padding).
    EXPECT_EQ(replay::bump_reserve_bytes(t), 112u + 1008u + 16u + 48u);
}

// Sizes a valid trace may hold (each up to PTRDIFF_MAX, their sum up to
// 2^64 - 1) saturate instead of wrapping round to a small reserve: before,
// bump mapped a few pages for a 16 EiB realloc, "replayed" it and reported a
// frag_rss of 2e-16, and crashed on a 2^64 - 1 byte malloc.
TEST(ReplayImage, BumpReserveSaturatesPastWhatAnyMachineHolds) {
    EXPECT_EQ(bench::bump_block_bytes(UINT64_MAX, 0), UINT64_MAX);
    EXPECT_EQ(bench::bump_block_bytes(UINT64_MAX - 20, 4096), UINT64_MAX);
    EXPECT_EQ(replay::bump_reserve_bytes(parse_text(
                  "arena-trace 1\na 1 10\nr 1 9223372036854775807\na 2 9223372036854775807\n")),
              UINT64_MAX);
    EXPECT_EQ(replay::bump_reserve_bytes(
                  parse_text("arena-trace 1\na 1 9223372036854775807\nf 1\na 2 9223372036854775807\n")),
              UINT64_MAX);
    bench::AllocatorSettings settings;
    settings.reserve_bytes = 1 << 20;
    std::string error;
    auto bump = bench::find_allocator("bump")->create(settings, &error);
    ASSERT_TRUE(bump) << error;
    void *small = bump->malloc(100);
    EXPECT_NE(small, nullptr);
    errno = 0;
    EXPECT_EQ(bump->malloc(SIZE_MAX), nullptr);
    EXPECT_EQ(errno, ENOMEM);
    EXPECT_EQ(bump->calloc(SIZE_MAX / 2, 4), nullptr);
    EXPECT_EQ(bump->realloc(small, 100, SIZE_MAX), nullptr);
    // Nothing above moved the reserve's cursor: the rest is still there.
    EXPECT_NE(bump->malloc((1 << 20) - 4096), nullptr);
}

std::string file_text(const std::string &path) {
    std::ifstream in(path);
    std::stringstream text;
    text << in.rdbuf();
    return text.str();
}

bench::ChildSpec shell(const std::string &script) { return bench::ChildSpec{{"/bin/sh", "-c", script}, {}, {}, false, "", "", ""}; }

TEST(ChildProcess, AProgramThatCannotRunIsNotStartedAndSaysWhy) {
    bench::ChildSpec spec{{"/nonexistent/program"}, {}, {}, true, "", "", ""};
    const bench::ChildResult r = bench::run_child(spec);
    EXPECT_FALSE(r.started);
    EXPECT_FALSE(r.succeeded());
    EXPECT_EQ(r.status(), "not started: cannot run /nonexistent/program: No such file or directory");
    // Nothing is left open: the next child still gets its results.
    bench::ChildSpec next = shell("echo key=value >&3");
    next.result_pipe = true;
    EXPECT_EQ(bench::result_value(bench::parse_result_lines(bench::run_child(next).results), "key"), "value");
}

TEST(ChildProcess, AFileThatCannotBeOpenedForItIsNotStarted) {
    bench::ChildSpec spec = shell("exit 0");
    spec.stdin_path = "/nonexistent/input";
    const bench::ChildResult r = bench::run_child(spec);
    EXPECT_FALSE(r.started);
    EXPECT_NE(r.error.find("No such file or directory"), std::string::npos) << r.error;
}

TEST(ChildProcess, RedirectsEnvironmentExitAndResults) {
    const std::string in = temp_path("stdin"), out = temp_path("stdout"), err = temp_path("stderr");
    std::ofstream(in) << "from stdin\n";
    setenv("CHILD_TEST_UNSET", "inherited", 1);
    bench::ChildSpec spec =
        shell("cat; echo \"$CHILD_TEST_SET:${CHILD_TEST_UNSET-unset}\" >&2; echo a=1 >&3; echo a=2 >&3; exit 3");
    spec.set_env = {"CHILD_TEST_SET=set"};
    spec.unset_env = {"CHILD_TEST_UNSET"};
    spec.result_pipe = true;
    spec.stdin_path = in;
    spec.stdout_path = out;
    spec.stderr_path = err;
    const bench::ChildResult r = bench::run_child(spec);
    unsetenv("CHILD_TEST_UNSET");
    EXPECT_TRUE(r.started) << r.error;
    EXPECT_EQ(r.exit_code, 3);
    EXPECT_EQ(r.status(), "exit 3");
    EXPECT_EQ(file_text(out), "from stdin\n");
    EXPECT_EQ(file_text(err), "set:unset\n");
    EXPECT_EQ(bench::result_value(bench::parse_result_lines(r.results), "a"), "2");
    EXPECT_GT(r.wall_seconds, 0);
    for (const std::string &path : {in, out, err}) unlink(path.c_str());
}

// --huge-pages-from: `never` and byte sizes, written for the child and the
// names as the flag takes them back.
TEST(HugePagesFrom, WhatIsWrittenIsTakenBack) {
    EXPECT_EQ(bench::parse_huge_pages_from("--huge-pages-from", "never"), bench::kHugePagesNever);
    EXPECT_EQ(bench::parse_huge_pages_from("--huge-pages-from", "16M"), uint64_t{16} << 20);
    EXPECT_EQ(bench::parse_huge_pages_from("--huge-pages-from", "0"), 0u);
    EXPECT_EQ(bench::huge_pages_from_text(bench::kHugePagesNever), "never");
    for (uint64_t value : {uint64_t{0}, uint64_t{4096}, uint64_t{32} << 20, bench::kHugePagesNever - 1,
                           bench::kHugePagesNever})
        EXPECT_EQ(bench::parse_huge_pages_from("--huge-pages-from", bench::huge_pages_from_text(value)), value);
    for (const char *bad : {"", "Never", "never,", "-1", " 16M", "16Q"})
        EXPECT_THROW(bench::parse_huge_pages_from("--huge-pages-from", bad), bench::UsageError) << bad;

    replay::ChildRequest request;
    request.allocator = "arena";
    request.block_size = 16;
    request.huge_pages_from = bench::kHugePagesNever;
    const std::vector<std::string> args = replay::child_arguments(request);
    EXPECT_NE(std::find(args.begin(), args.end(), "--huge-pages-from=never"), args.end());
    EXPECT_EQ(replay::benchmark_name("t", request, 1), "replay/t/arena/bs:16/hp:never/threads:1/rep:1/throughput");
    request.huge_pages_from = 0;  // the default: the name as it was
    EXPECT_EQ(replay::benchmark_name("t", request, 1), "replay/t/arena/bs:16/threads:1/rep:1/throughput");
}

TEST(ChildProcess, ASignalIsReported) {
    const bench::ChildResult r = bench::run_child(shell("kill -SEGV $$"));
    EXPECT_TRUE(r.started);
    EXPECT_EQ(r.signal, SIGSEGV);
    EXPECT_EQ(r.status(), "killed by signal 11 (Segmentation fault)");
}

// With stdin closed and fd 3 free, the result pipe's ends are 0 and 3: the
// write end is the child's fd 3 already, and must stay open across the exec.
TEST(ChildProcess, ResultsArriveWhenThePipesWriteEndIsAlreadyFd3) {
    if (fcntl(3, F_GETFD) != -1) GTEST_SKIP() << "fd 3 is open in this test process";
    const int saved_stdin = fcntl(0, F_DUPFD_CLOEXEC, 10);
    ASSERT_GE(saved_stdin, 10);
    close(0);
    bench::ChildSpec spec = shell("echo key=value >&3");
    spec.result_pipe = true;
    spec.stdin_path = "/dev/null";
    const bench::ChildResult r = bench::run_child(spec);
    dup2(saved_stdin, 0);
    close(saved_stdin);
    EXPECT_TRUE(r.succeeded()) << r.status();
    EXPECT_EQ(bench::result_value(bench::parse_result_lines(r.results), "key"), "value");
    EXPECT_EQ(fcntl(3, F_GETFD), -1) << "the parent's end of the pipe was left open";
}

// The notes below a replay summary: printed by print_noise_notes into a
// memory stream, from rows shaped as bench_replay's throughput rows.
static std::string noise_notes(const std::vector<bench::CsvRow> &rows) {
    char *text = nullptr;
    size_t size = 0;
    FILE *out = open_memstream(&text, &size);
    bench::print_noise_notes(rows, out);
    std::fclose(out);
    std::string notes(text, size);
    std::free(text);
    return notes;
}
static bench::CsvRow throughput_row(const std::string &trace, const std::string &allocator, uint64_t ops,
                                    double ns_per_op) {
    bench::CsvRow row;
    row.set("trace", trace);
    row.set("allocator", allocator);
    row.set("block_size", uint64_t{0});
    row.set("threads", uint64_t{1});
    row.set("ops", ops);
    row.set("ns_per_op", ns_per_op);
    row.set("mops", 1e3 / ns_per_op);
    return row;
}

// The summary table keeps three significant digits with their trailing zeros:
// a frag_rss of 1.0043 printed as "1", as an exact 1.0 does, beside 1.0062 as
// "1.01" (found in review).
TEST(Summary, FiguresKeepThreeSignificantDigits) {
    std::vector<bench::CsvRow> rows;
    for (const auto &[allocator, frag] : {std::pair<std::string, double>{"glibc", 1.0043}, {"bump", 1.0},
                                         {"arena", 1.0062}}) {
        bench::CsvRow row = throughput_row("t", allocator, 1000000, 50.0);
        row.set("frag_rss", frag);
        rows.push_back(row);
    }
    char *text = nullptr;
    size_t size = 0;
    FILE *out = open_memstream(&text, &size);
    bench::print_summary(rows, {{"frag_rss", "frag_rss", false}}, "glibc", out);
    std::fclose(out);
    const std::string table(text, size);
    std::free(text);
    auto line_of = [&](const std::string &allocator) {  // the table's row "t  <allocator> ..."
        std::istringstream lines(table);
        for (std::string line; std::getline(lines, line);)
            if (line.rfind("t ", 0) == 0 && line.find(" " + allocator + " ") != std::string::npos) return line;
        return std::string();
    };
    EXPECT_NE(line_of("glibc").find(" 1.00 "), std::string::npos) << table;
    EXPECT_NE(line_of("bump").find(" 1.00 "), std::string::npos) << table;
    EXPECT_NE(line_of("arena").find(" 1.01 "), std::string::npos) << table;
}

// A workload whose replays take under 10 ms is named (its ratios move with the
// slightest noise); one that takes longer is not; repetitions of a
// configuration more than 1.5x apart get the second note, with the widest.
TEST(NoiseNotes, ShortReplaysAndWideSpreadsAreSaid) {
    std::vector<bench::CsvRow> rows;
    for (double ns : {20.0, 21.0, 22.0}) {
        rows.push_back(throughput_row("quick", "glibc", 100000, ns));    // 2 ms a replay
        rows.push_back(throughput_row("long", "glibc", 10000000, ns));   // 200 ms
    }
    std::string notes = noise_notes(rows);
    EXPECT_NE(notes.find("1 of 2 workloads replay in under 10 ms"), std::string::npos) << notes;
    EXPECT_NE(notes.find("quick (2.1 ms)"), std::string::npos) << notes;
    EXPECT_EQ(notes.find("long ("), std::string::npos) << notes;
    EXPECT_EQ(notes.find("spread"), std::string::npos) << notes;

    rows.push_back(throughput_row("long", "arena", 10000000, 10.0));
    rows.push_back(throughput_row("long", "arena", 10000000, 25.0));  // 2.5x apart
    notes = noise_notes(rows);
    EXPECT_NE(notes.find("repetitions of 1 of 3 configurations spread by more than 1.5x"), std::string::npos) << notes;
    EXPECT_NE(notes.find("widest 2.50x: long: arena)"), std::string::npos) << notes;

    // Nothing to say: no note at all.
    rows.clear();
    for (double ns : {20.0, 21.0}) rows.push_back(throughput_row("long", "glibc", 10000000, ns));
    EXPECT_EQ(noise_notes(rows), "");
}

// A child that died while it ran (a crash in a benchmark, or a replay child
// killed) leaves its JSON file cut short: the context and the entries of the
// runs it finished, the last perhaps in part, no closing "]}". The run goes on
// with every other child's entries and that child's whole ones; it stopped,
// writing nothing at all, as "not Google Benchmark JSON".
TEST(BenchmarkJson, AFileCutShortGivesItsWholeEntries) {
    const std::string head = "{\n  \"context\": {\n    \"caches\": [\n      {\n        \"level\": 1\n      }\n    ]\n"
                             "  },\n  \"benchmarks\": [\n";
    auto entry = [](const std::string &name) {
        return "    {\n      \"name\": \"" + name + "\",\n      \"ops\": 2.0e+00\n    }";
    };
    auto write = [](const std::string &path, const std::string &text) {
        std::ofstream(path, std::ios::binary) << text;
        return path;
    };
    const std::vector<std::string> files = {
        write(temp_path("whole.json"), head + entry("a") + ",\n" + entry("b") + "\n  ]\n}\n"),
        write(temp_path("cut.json"), head + entry("c") + ",\n" + entry("d") + ",\n    {\n      \"name\": \"e\",\n      \"ops\""),
        write(temp_path("cut-after-entry.json"), head + entry("f")),
        write(temp_path("cut-in-context.json"), "{\n  \"context\": {\n    \"caches\": ["),
        write(temp_path("empty.json"), ""),
    };
    std::string merged, error;
    const bool ok = bench::merge_benchmark_json(files, &merged, &error);
    for (const auto &file : files) unlink(file.c_str());
    ASSERT_TRUE(ok) << error;
    EXPECT_EQ(merged, head.substr(0, head.size() - 1) + "\n" + entry("a") + ",\n" + entry("b") + ",\n" + entry("c") +
                          ",\n" + entry("d") + ",\n" + entry("f") + "\n  ]\n}\n");
}

TEST(BenchmarkJson, AWholeFileThatIsNotGoogleBenchmarkJsonIsAnError) {
    const std::string path = temp_path("other.json");
    std::ofstream(path, std::ios::binary) << "{\"rows\": [1, 2]}\n";
    std::string merged, error;
    EXPECT_FALSE(bench::merge_benchmark_json({path}, &merged, &error));
    unlink(path.c_str());
    EXPECT_EQ(error, path + ": not Google Benchmark JSON");
}

}  // namespace
