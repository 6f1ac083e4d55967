// Tests of bench_micro's benchmarks (bench/micro/micro_benchmarks.cpp), run
// by Google Benchmark in this process for an allocator made to fail.
#include <benchmark/benchmark.h>
#include <gtest/gtest.h>
#include <sched.h>

#include <atomic>
#include <chrono>
#include <cstdlib>
#include <functional>
#include <string>
#include <thread>
#include <vector>

#include "allocator.h"
#include "micro_benchmarks.h"

namespace {

// Every finished run: its name, threads, and the error it ended with.
class Runs : public benchmark::BenchmarkReporter {
public:
    struct Seen {
        std::string name;
        int threads;
        bool error;
        std::string message;
    };
    std::vector<Seen> seen;
    bool ReportContext(const Context &) override { return true; }
    void ReportRuns(const std::vector<Run> &runs) override {
        for (const Run &run : runs)
            seen.push_back({run.benchmark_name(), static_cast<int>(run.threads), run.error_occurred,
                            run.error_message});
    }
};

// An explicit, thread-safe allocator named `name` whose instances `create` makes.
bench::AllocatorInfo TestAllocator(const std::string &name,
                                   std::function<std::unique_ptr<bench::Allocator>(std::string *)> create) {
    bench::AllocatorInfo info;
    info.name = name;
    info.kind = bench::AllocatorKind::Explicit;
    info.thread_safe = true;
    info.create = [create](const bench::AllocatorSettings &, std::string *error) { return create(error); };
    return info;
}

// Registers the benchmarks of `info` alone (those of an earlier test gone) and
// sets Google Benchmark to run those `filter` matches, for `min_time` seconds.
void RegisterOnly(const bench::AllocatorInfo &info, const char *filter, const char *min_time = "0.001") {
    benchmark::ClearRegisteredBenchmarks();
    micro::register_benchmarks(info, bench::AllocatorSettings{});
    const std::string filter_flag = std::string("--benchmark_filter=") + filter;
    const std::string min_time_flag = std::string("--benchmark_min_time=") + min_time;
    std::vector<const char *> args = {"micro_benchmarks_test", filter_flag.c_str(), min_time_flag.c_str()};
    int argc = static_cast<int>(args.size());
    args.push_back(nullptr);
    benchmark::Initialize(&argc, const_cast<char **>(args.data()));
}

// When thread 0 cannot make the allocator of a threaded benchmark, it skips
// the benchmark above its loop, and so do the other threads: they called
// through a null pointer (threads_local, a crash) or waited for ever for the
// blocks of a producer that had gone (producer_consumer, a hang).
TEST(MicroBenchmarks, AThreadedBenchmarkWhoseAllocatorCannotBeMadeIsSkipped) {
    const bench::AllocatorInfo refusing = TestAllocator("refusing", [](std::string *error) {
        *error = "refused";
        return std::unique_ptr<bench::Allocator>();
    });
    RegisterOnly(refusing, "threads_local|producer_consumer");
    Runs runs;
    benchmark::RunSpecifiedBenchmarks(&runs);
    ASSERT_EQ(runs.seen.size(), 5u);  // threads_local with 1 to 4 threads, producer_consumer with 2
    for (const auto &run : runs.seen) {
        EXPECT_TRUE(run.error) << run.name;
        EXPECT_EQ(run.message, "refused") << run.name;
    }
    EXPECT_EQ(runs.seen.back().name, "producer_consumer/64/manual_time/threads:2");
}

// Every call returns NULL, as an allocator out of memory does.
class Empty : public bench::Allocator {
public:
    void *malloc(size_t) override { return nullptr; }
    void *calloc(size_t, size_t) override { return nullptr; }
    void *memalign(size_t, size_t) override { return nullptr; }
    void *realloc(void *, size_t, size_t) override { return nullptr; }
    void free(void *, size_t) override {}
    bool reset() override { return true; }
};

// A NULL from the allocator skips the benchmark with an error: the loops timed
// it as a call that worked, and an allocator out of memory came out fast. The
// producer/consumer pair's consumer stops too, where it would have waited for
// ever for the blocks the producer no longer made.
TEST(MicroBenchmarks, AnAllocatorThatReturnsNullFailsEveryBenchmark) {
    const bench::AllocatorInfo empty =
        TestAllocator("empty", [](std::string *) { return std::unique_ptr<bench::Allocator>(new Empty); });
    RegisterOnly(empty, ".");
    Runs runs;
    benchmark::RunSpecifiedBenchmarks(&runs);
    ASSERT_GT(runs.seen.size(), 40u);
    for (const auto &run : runs.seen) {
        EXPECT_TRUE(run.error) << run.name;
        if (run.name.rfind("producer_consumer", 0) != 0) {
            EXPECT_EQ(run.message, "the allocator returned NULL") << run.name;
        }
    }
    EXPECT_EQ(runs.seen.back().name, "producer_consumer/64/manual_time/threads:2");
}

// Serves 1 allocation, then NULL; its frees take a while, and count any
// that come after it was destroyed.
std::atomic<int> g_frees_after_destroy{0};
std::atomic<const void *> g_destroyed{nullptr};  // compared by address: nothing read from a dead object
class Limited : public bench::Allocator {
public:
    Limited() {  // a new one where a destroyed one was is alive
        const void *here = this;
        g_destroyed.compare_exchange_strong(here, nullptr);
    }
    ~Limited() override { g_destroyed = this; }
    void *malloc(size_t n) override { return served_++ < 1 ? std::malloc(n) : nullptr; }
    void *calloc(size_t c, size_t n) override { return served_++ < 1 ? std::calloc(c, n) : nullptr; }
    void *memalign(size_t, size_t) override { return nullptr; }
    void *realloc(void *p, size_t, size_t n) override { return served_++ < 1 ? std::realloc(p, n) : nullptr; }
    void free(void *p, size_t) override {
        std::this_thread::sleep_for(std::chrono::microseconds(200));
        if (g_destroyed.load() == this) g_frees_after_destroy++;  // destroyed while this free ran
        std::free(p);
    }

private:
    std::atomic<int> served_{0};
};

// The producer meets a NULL and stops while the consumer still frees what
// was handed over: thread 0 waits for the other threads before it destroys
// the allocator (it went on without them, and the consumer freed into a
// destroyed allocator: a use after free under ASan).
TEST(MicroBenchmarks, TheAllocatorOutlivesEveryThreadThatUsesIt) {
    const bench::AllocatorInfo limited =
        TestAllocator("limited", [](std::string *) { return std::unique_ptr<bench::Allocator>(new Limited); });
    // Long enough for every benchmark's last trial to run 2 iterations or more
    // on a loaded host, so that each meets its NULL (one served: the second).
    RegisterOnly(limited, "producer_consumer|threads_local", "0.05");
    for (int round = 0; round < 3; round++) {
        Runs runs;
        benchmark::RunSpecifiedBenchmarks(&runs);
        ASSERT_EQ(runs.seen.size(), 5u);
        for (const auto &run : runs.seen) EXPECT_TRUE(run.error) << run.name;  // each met the NULL
    }
    EXPECT_EQ(g_frees_after_destroy.load(), 0);
}

// Plain malloc and free, for benchmarks that must run.
class Plain : public bench::Allocator {
public:
    void *malloc(size_t n) override { return std::malloc(n); }
    void *calloc(size_t c, size_t n) override { return std::calloc(c, n); }
    void *memalign(size_t, size_t) override { return nullptr; }
    void *realloc(void *p, size_t, size_t n) override { return std::realloc(p, n); }
    void free(void *p, size_t) override { std::free(p); }
};

// Google Benchmark runs each benchmark several times (growing iteration
// counts, then the timed run): a benchmark makes its allocator once and keeps
// it through them. Made for each run, a fresh explicit arena's timed run of
// batch_fifo/4096 at the default minimum time was its first 5 rounds alone,
// while it learned its purge budget: 0.08 Mops/s against 15.8 for the same
// code as the process malloc, warm.
TEST(MicroBenchmarks, ABenchmarkKeepsItsAllocatorThroughItsRuns) {
    static std::atomic<int> made{0};
    made = 0;
    const bench::AllocatorInfo counted = TestAllocator("counted", [](std::string *) {
        made++;
        return std::unique_ptr<bench::Allocator>(new Plain);
    });
    RegisterOnly(counted, "malloc_free/(8|16)/|batch_fifo/4096|threads_local", "0.01");
    EXPECT_EQ(made.load(), 1);  // register_benchmarks' probe for a reset
    Runs runs;
    benchmark::RunSpecifiedBenchmarks(&runs);
    ASSERT_EQ(runs.seen.size(), 7u);  // 3, and threads_local with 1 to 4 threads
    for (const auto &run : runs.seen) EXPECT_FALSE(run.error) << run.name << ": " << run.message;
    EXPECT_EQ(made.load(), 1 + 7);  // one for each benchmark, none shared between two
}

// Each finished run's time (real, or manual where set) and its threads' CPU time summed.
class Times : public benchmark::BenchmarkReporter {
public:
    struct Seen {
        std::string name;
        int threads;
        double real_s, cpu_s;
    };
    std::vector<Seen> seen;
    bool ReportContext(const Context &) override { return true; }
    void ReportRuns(const std::vector<Run> &runs) override {
        for (const Run &run : runs)
            if (!run.error_occurred)
                seen.push_back({run.benchmark_name(), static_cast<int>(run.threads), run.real_accumulated_time,
                                run.cpu_accumulated_time});
    }
};

// On one CPU the threads of a run cannot use more CPU time than the run's wall
// time. A threaded benchmark's time was the average of each thread's own clock,
// started when the thread was first scheduled: threads that ran one after
// another read as if side by side, and threads_local came out faster at 4
// threads than at 1 on one core (2.2x at a 0.01 s minimum time).
TEST(MicroBenchmarks, AThreadedRunIsTimedOverEveryThreadsWork) {
    cpu_set_t before, one;
    ASSERT_EQ(sched_getaffinity(0, sizeof before, &before), 0);
    CPU_ZERO(&one);
    for (int cpu = 0; cpu < CPU_SETSIZE; cpu++)
        if (CPU_ISSET(cpu, &before)) {
            CPU_SET(cpu, &one);
            break;
        }
    ASSERT_EQ(sched_setaffinity(0, sizeof one, &one), 0);  // the benchmark's threads inherit it
    const bench::AllocatorInfo plain =
        TestAllocator("plain", [](std::string *) { return std::unique_ptr<bench::Allocator>(new Plain); });
    RegisterOnly(plain, "threads_local|producer_consumer", "0.01");
    Times times;
    benchmark::RunSpecifiedBenchmarks(&times);
    sched_setaffinity(0, sizeof before, &before);
    ASSERT_EQ(times.seen.size(), 5u);
    for (const auto &run : times.seen) {
        ASSERT_GT(run.cpu_s, 0.0) << run.name;
        EXPECT_GE(run.real_s, 0.95 * run.cpu_s) << run.name << ": " << run.threads << " threads";
    }
}

}  // namespace
