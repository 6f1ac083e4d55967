// bench_trace_reader: how fast the reader loads a trace (parse + every check +
// facts), on a generated 5-million-op trace, from memory, a plain file and a gzip
// file. ARENA_TRACE_BENCH_FILE=PATH adds a run on that file.
#include <benchmark/benchmark.h>
#include <unistd.h>

#include <cstdlib>

#include "gen.h"
#include "trace.h"

namespace {

constexpr uint64_t kOps = 5000000;

const std::string &text() {
    static const std::string t = [] {
        trace::Trace tr;
        trace::GenOptions o;
        o.ops = kOps;
        trace::generate("random", o, &tr, nullptr);
        return trace::to_text(tr);
    }();
    return t;
}

// The text written once to a temporary file, plain or gzip; removed at exit.
const std::string &file(bool gz) {
    static std::string paths[2];
    std::string &p = paths[gz];
    if (p.empty()) {
        p = "/tmp/bench_trace_reader." + std::to_string(getpid()) + (gz ? ".trace.gz" : ".trace");
        trace::write_text(p, text(), nullptr);
        static bool once = (atexit([] { for (auto &q : paths) if (!q.empty()) unlink(q.c_str()); }), true);
        (void)once;
    }
    return p;
}

void report(benchmark::State &state, const trace::Trace &t) {
    state.counters["ops"] = static_cast<double>(t.facts.ops);
    state.counters["ops_per_s"] = benchmark::Counter(static_cast<double>(t.facts.ops) * static_cast<double>(state.iterations()),
                                                     benchmark::Counter::kIsRate);
}

void BM_ParseFromMemory(benchmark::State &state) {
    const std::string &t = text();
    trace::Trace tr;
    for (auto _ : state) {
        std::string error;
        if (!trace::parse("generated", t.data(), t.size(), &tr, &error)) state.SkipWithError(error.c_str());
        benchmark::DoNotOptimize(tr.ops.data());
    }
    report(state, tr);
}

void load_file(benchmark::State &state, const std::string &path) {
    trace::Trace tr;
    for (auto _ : state) {
        std::string error;
        if (!trace::load(path, &tr, &error)) state.SkipWithError(error.c_str());
        benchmark::DoNotOptimize(tr.ops.data());
    }
    report(state, tr);
}

void BM_LoadPlainFile(benchmark::State &state) { load_file(state, file(false)); }
void BM_LoadGzipFile(benchmark::State &state) { load_file(state, file(true)); }
void BM_LoadGivenFile(benchmark::State &state) { load_file(state, getenv("ARENA_TRACE_BENCH_FILE")); }

BENCHMARK(BM_ParseFromMemory)->Unit(benchmark::kMillisecond)->MinTime(2.0);
BENCHMARK(BM_LoadPlainFile)->Unit(benchmark::kMillisecond)->MinTime(2.0);
BENCHMARK(BM_LoadGzipFile)->Unit(benchmark::kMillisecond)->MinTime(2.0);

}  // namespace

int main(int argc, char **argv) {
    if (getenv("ARENA_TRACE_BENCH_FILE"))
        benchmark::RegisterBenchmark("BM_LoadGivenFile", BM_LoadGivenFile)->Unit(benchmark::kMillisecond);
    benchmark::Initialize(&argc, argv);
    if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
    benchmark::RunSpecifiedBenchmarks();
    benchmark::Shutdown();
    return 0;
}
