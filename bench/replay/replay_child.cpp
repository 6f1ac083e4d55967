#include "replay_child.h"

#include <benchmark/benchmark.h>

#include <cstdio>

#include "child.h"
#include "cli.h"
#include "csv.h"

namespace replay {

using bench::full_precision;
using bench::write_result;

std::vector<std::string> child_arguments(const ChildRequest &r) {
    std::vector<std::string> args = {kChildFlag,
                                     "--image=" + r.image,
                                     "--allocator=" + r.allocator,
                                     std::string("--pass=") + pass_name(r.pass),
                                     "--block-size=" + std::to_string(r.block_size),
                                     "--region-size=" + std::to_string(r.region_size),
                                     "--huge-pages-from=" + bench::huge_pages_from_text(r.huge_pages_from),
                                     std::string("--threaded=") + (r.threaded ? "1" : "0"),
                                     std::string("--lockstep=") + (r.lockstep ? "1" : "0"),
                                     "--repetition=" + std::to_string(r.repetition),
                                     "--budget=" + full_precision(r.budget_seconds)};
    if (!r.benchmark_out.empty()) args.push_back("--benchmark_out=" + r.benchmark_out);
    return args;
}

std::string benchmark_name(const std::string &trace, const ChildRequest &r, uint64_t threads) {
    std::string name = "replay/" + trace + "/" + r.allocator + "/bs:" + std::to_string(r.block_size);
    if (r.region_size) name += "/rs:" + std::to_string(r.region_size);
    if (r.huge_pages_from) name += "/hp:" + bench::huge_pages_from_text(r.huge_pages_from);
    return name + "/threads:" + std::to_string(threads) + (r.lockstep ? "/lockstep" : "") + "/rep:" +
           std::to_string(r.repetition) + "/" + pass_name(r.pass);
}

static ChildRequest parse_child_request(int argc, char **argv) {
    ChildRequest r;
    bench::FlagReader flags(argc - 1, argv + 1);  // past --child
    std::string v;
    while (!flags.done()) {
        if (flags.value("--image", &v)) r.image = v;
        else if (flags.value("--allocator", &v)) r.allocator = v;
        else if (flags.value("--pass", &v)) {
            if (!parse_pass(v, &r.pass)) throw bench::UsageError("unknown pass '" + v + "'");
        } else if (flags.value("--block-size", &v)) r.block_size = bench::parse_count("--block-size", v);
        else if (flags.value("--region-size", &v)) r.region_size = bench::parse_count("--region-size", v);
        else if (flags.value("--huge-pages-from", &v))
            r.huge_pages_from = bench::parse_huge_pages_from("--huge-pages-from", v);
        else if (flags.value("--threaded", &v)) r.threaded = v == "1";
        else if (flags.value("--lockstep", &v)) r.lockstep = v == "1";
        else if (flags.value("--repetition", &v)) r.repetition = bench::parse_count("--repetition", v);
        else if (flags.value("--budget", &v)) r.budget_seconds = bench::parse_seconds("--budget", v);
        else if (flags.value("--benchmark_out", &v)) r.benchmark_out = v;
        else throw bench::UsageError("unknown child flag '" + flags.peek() + "'");
    }
    return r;
}

// Shows nothing: the parent prints the tables; the JSON file reporter that
// --benchmark_out makes still writes every run.
class SilentReporter : public benchmark::BenchmarkReporter {
public:
    bool ReportContext(const Context &) override { return true; }
    void ReportRuns(const std::vector<Run> &) override {}
};

static void write_outcome(const Outcome &o, Pass pass) {
    write_result("ok", o.ok ? "1" : "0");
    if (!o.ok) write_result("error", o.error);
    write_result("over_budget", o.over_budget ? "1" : "0");
    write_result("ops_done", std::to_string(o.ops_done));
    write_result("seconds", full_precision(o.seconds));
    write_result("cpu_seconds", full_precision(o.cpu_seconds));
    write_result("minor_faults", std::to_string(o.minor_faults));
    if (pass == Pass::Memory) {
        write_result("rss_peak_bytes", std::to_string(o.rss_peak_bytes));
        write_result("live_at_rss_peak", std::to_string(o.live_at_rss_peak));
        write_result("rss_after_bytes", std::to_string(o.rss_after_bytes));
        if (o.has_internal_frag) write_result("internal_frag", full_precision(o.internal_frag));
        if (o.has_footprint) write_result("footprint_bytes", std::to_string(o.footprint_bytes));
        for (const Sample &s : o.timeline)
            write_result("sample", std::to_string(s.op_index) + "," + std::to_string(s.live_bytes) + "," +
                                       std::to_string(s.rss_bytes) + "," +
                                       (s.has_mapped ? std::to_string(s.mapped_bytes) : ""));
    }
    if (pass == Pass::Latency) {
        write_result("timer_overhead_ns", full_precision(o.timer_overhead_ns));
        for (int kind = 0; kind < kLatencyKinds; kind++) {
            const LatencyFigures &f = o.latency[kind];
            if (!f.calls) continue;
            const std::string prefix = std::string("lat_") + latency_kind_name(kind) + "_";
            write_result(prefix + "p50_ns", std::to_string(f.p50_ns));
            write_result(prefix + "p99_ns", std::to_string(f.p99_ns));
            write_result(prefix + "p999_ns", std::to_string(f.p999_ns));
            write_result(prefix + "max_ns", std::to_string(f.max_ns));
        }
    }
    if (pass == Pass::Check) {
        const CheckFindings &c = o.check;
        write_result("check_blocks", std::to_string(c.blocks));
        write_result("check_misaligned", std::to_string(c.misaligned));
        write_result("check_not_zeroed", std::to_string(c.not_zeroed));
        write_result("check_corrupted", std::to_string(c.corrupted));
        write_result("check_heap_errors", std::to_string(c.heap_errors));
        for (const auto &line : c.examples) write_result("check_example", line);
    }
}

static void set_counters(benchmark::State &state, const Outcome &o, Pass pass, uint64_t peak_live) {
    using benchmark::Counter;
    state.counters["minor_faults"] = Counter(static_cast<double>(o.minor_faults));
    if (pass == Pass::Throughput && o.ops_done)
        state.counters["cpu_ns_per_op"] = Counter(o.cpu_seconds * 1e9 / static_cast<double>(o.ops_done));
    if (pass == Pass::Memory) {
        state.counters["peak_live_bytes"] = Counter(static_cast<double>(peak_live));
        state.counters["rss_peak_bytes"] = Counter(static_cast<double>(o.rss_peak_bytes));
        state.counters["rss_after_bytes"] = Counter(static_cast<double>(o.rss_after_bytes));
        if (peak_live) state.counters["frag_rss"] = Counter(static_cast<double>(o.rss_peak_bytes) / peak_live);
        if (o.has_internal_frag) state.counters["internal_frag"] = Counter(o.internal_frag);
        if (o.has_footprint) state.counters["footprint_bytes"] = Counter(static_cast<double>(o.footprint_bytes));
    }
    if (pass == Pass::Latency)
        for (int kind = 0; kind < kLatencyKinds; kind++)
            if (o.latency[kind].calls) {
                const std::string prefix = std::string("lat_") + latency_kind_name(kind) + "_";
                state.counters[prefix + "p50_ns"] = Counter(static_cast<double>(o.latency[kind].p50_ns));
                state.counters[prefix + "p99_ns"] = Counter(static_cast<double>(o.latency[kind].p99_ns));
                state.counters[prefix + "p999_ns"] = Counter(static_cast<double>(o.latency[kind].p999_ns));
                state.counters[prefix + "max_ns"] = Counter(static_cast<double>(o.latency[kind].max_ns));
            }
}

int child_main(int argc, char **argv) {
    ChildRequest request;
    try {
        request = parse_child_request(argc, argv);
    } catch (const bench::UsageError &e) {
        std::fprintf(stderr, "bench_replay --child: %s\n", e.what());
        return bench::kExitUsage;
    }
    const bench::AllocatorInfo *info = bench::find_allocator(request.allocator);
    Image image;
    std::string error;
    if (!info) error = "unknown allocator '" + request.allocator + "'";
    else if (!image.map(request.image, &error)) {
    }
    if (!error.empty()) {
        std::fprintf(stderr, "bench_replay --child: %s\n", error.c_str());
        write_result("ok", "0");
        write_result("error", error);
        return 1;
    }
    SessionOptions options;
    options.pass = request.pass;
    options.threaded = request.threaded;
    options.lockstep = request.lockstep;
    options.budget_seconds = request.budget_seconds;
    options.allocator = info;
    options.settings.block_size = request.block_size;
    options.settings.region_size = request.region_size;
    options.settings.huge_pages_from = request.huge_pages_from;
    Session session(image, options);
    if (!session.prepare(&error)) {
        write_result("ok", "0");
        write_result("error", error);
        return 1;
    }

    if (request.pass == Pass::Check) {  // untimed: no benchmark around it
        if (session.start(&error)) {
            session.replay();
            session.finish();
            write_outcome(session.outcome(), request.pass);
            return 0;
        }
        write_result("ok", "0");
        write_result("error", error);
        return 1;
    }

    const uint64_t ops = image.header().ops, peak_live = image.header().peak_live_bytes;
    const uint64_t threads = request.threaded && image.has_threads() ? image.header().threads : 1;
    std::string start_error;
    benchmark::RegisterBenchmark(
        benchmark_name(image.name(), request, threads).c_str(),
        [&](benchmark::State &state) {
            // Setup: the resident baseline, then the allocator (bump maps and
            // faults in its whole reserve here).
            const bool started = session.start(&start_error);
            if (!started) state.SkipWithError(start_error.c_str());
            for (auto _ : state) {
                session.replay();
                const Outcome &o = session.outcome();
                if (!o.ok || o.over_budget) {
                    state.SkipWithError(o.ok ? "over the time budget" : o.error.c_str());
                    break;
                }
                state.SetIterationTime(o.seconds);
            }
            if (started) session.finish();  // frees what is still live: untimed
            state.SetItemsProcessed(static_cast<int64_t>(ops));
            set_counters(state, session.outcome(), request.pass, peak_live);
        })
        ->Iterations(1)
        ->UseManualTime()
        ->Unit(benchmark::kMillisecond);

    std::vector<std::string> gb_args = {argv[0]};
    if (!request.benchmark_out.empty()) {
        gb_args.push_back("--benchmark_out=" + request.benchmark_out);
        gb_args.push_back("--benchmark_out_format=json");
    }
    std::vector<char *> gb_argv;
    for (auto &a : gb_args) gb_argv.push_back(&a[0]);
    int gb_argc = static_cast<int>(gb_argv.size());
    gb_argv.push_back(nullptr);
    benchmark::Initialize(&gb_argc, gb_argv.data());
    SilentReporter silent;
    const size_t ran = benchmark::RunSpecifiedBenchmarks(&silent);
    benchmark::Shutdown();

    if (!start_error.empty() || ran == 0) {
        write_result("ok", "0");
        // A filter from the environment matched nothing once (child_for now
        // clears those): the replay never ran, and its row read 0 ns per op.
        write_result("error", ran == 0 && start_error.empty() ? "no replay ran (Google Benchmark ran no benchmark)"
                                                              : start_error);
        return 1;
    }
    write_outcome(session.outcome(), request.pass);
    return 0;
}

}  // namespace replay
