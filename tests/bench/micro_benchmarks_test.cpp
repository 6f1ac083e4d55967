// Tests of bench_micro's benchmarks (bench/micro/micro_benchmarks.cpp), run
// by Google Benchmark in this process for an allocator made to fail.
#include <benchmark/benchmark.h>
#include <gtest/gtest.h>

#include <string>
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

// When thread 0 cannot make the allocator of a threaded benchmark, it skips
// the benchmark above its loop, and so do the other threads: they called
// through a null pointer (threads_local, a crash) or waited for ever for the
// blocks of a producer that had gone (producer_consumer, a hang).
TEST(MicroBenchmarks, AThreadedBenchmarkWhoseAllocatorCannotBeMadeIsSkipped) {
    bench::AllocatorInfo refusing;
    refusing.name = "refusing";
    refusing.kind = bench::AllocatorKind::Explicit;
    refusing.thread_safe = true;
    refusing.create = [](const bench::AllocatorSettings &, std::string *error) {
        *error = "refused";
        return std::unique_ptr<bench::Allocator>();
    };
    benchmark::ClearRegisteredBenchmarks();
    micro::register_benchmarks(refusing, bench::AllocatorSettings{});
    std::vector<const char *> args = {"micro_benchmarks_test", "--benchmark_filter=threads_local|producer_consumer",
                                      "--benchmark_min_time=0.001"};
    int argc = static_cast<int>(args.size());
    args.push_back(nullptr);
    benchmark::Initialize(&argc, const_cast<char **>(args.data()));
    Runs runs;
    benchmark::RunSpecifiedBenchmarks(&runs);
    ASSERT_EQ(runs.seen.size(), 5u);  // threads_local with 1 to 4 threads, producer_consumer with 2
    for (const auto &run : runs.seen) {
        EXPECT_TRUE(run.error) << run.name;
        EXPECT_EQ(run.message, "refused") << run.name;
    }
    EXPECT_EQ(runs.seen.back().name, "producer_consumer/64/real_time/threads:2");
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
    bench::AllocatorInfo empty;
    empty.name = "empty";
    empty.kind = bench::AllocatorKind::Explicit;
    empty.thread_safe = true;
    empty.create = [](const bench::AllocatorSettings &, std::string *) {
        return std::unique_ptr<bench::Allocator>(new Empty);
    };
    benchmark::ClearRegisteredBenchmarks();
    micro::register_benchmarks(empty, bench::AllocatorSettings{});
    std::vector<const char *> args = {"micro_benchmarks_test", "--benchmark_filter=.", "--benchmark_min_time=0.001"};
    int argc = static_cast<int>(args.size());
    args.push_back(nullptr);
    benchmark::Initialize(&argc, const_cast<char **>(args.data()));
    Runs runs;
    benchmark::RunSpecifiedBenchmarks(&runs);
    ASSERT_GT(runs.seen.size(), 40u);
    for (const auto &run : runs.seen) {
        EXPECT_TRUE(run.error) << run.name;
        if (run.name.rfind("producer_consumer", 0) != 0) {
            EXPECT_EQ(run.message, "the allocator returned NULL") << run.name;
        }
    }
    EXPECT_EQ(runs.seen.back().name, "producer_consumer/64/real_time/threads:2");
}

}  // namespace
