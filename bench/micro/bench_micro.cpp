// bench_micro: micro benchmarks (micro_benchmarks.h) under every allocator.
// Like bench_replay, each allocator runs in a child process of its own (the
// driver re-executed, with LD_PRELOAD for a process malloc); repetitions are
// interleaved (A B C A B C ...); the parent writes one CSV in the replay
// shape (trace = the benchmark's name, memory columns empty), the merged
// Google Benchmark JSON, and a summary table against glibc.
#include <benchmark/benchmark.h>

#include <unistd.h>

#include <cinttypes>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <regex>

#include "child.h"
#include "cli.h"
#include "csv.h"
#include "facts.h"
#include "micro_benchmarks.h"
#include "runner.h"
#include "summary.h"

namespace micro {

struct Options {
    std::vector<std::string> allocators;
    uint64_t repetitions = 3;
    uint64_t block_size = 16;
    std::string csv_path, json_path;
    std::vector<std::string> benchmark_flags;  // --benchmark_filter, --benchmark_min_time
};

static const char kUsage[] =
    "usage: bench_micro [FLAGS]\n"
    "Micro benchmarks of the malloc family under every allocator, each in a process of\n"
    "its own; prints a summary table and writes CSV (results/README.md).\n"
    "\n"
    "  --allocators=LIST           (default: every available one that runs open-ended\n"
    "                              loops: arena,arena-malloc,seed,glibc,jemalloc,mimalloc,tcmalloc)\n"
    "  --repetitions=N             runs of every benchmark, interleaved (default: 3)\n"
    "  --block-size=SIZE           block size of arena and seed: 16, 4096, 16K (default: 16)\n"
    "  --benchmark_filter=REGEX    only the benchmarks whose name matches (POSIX extended;\n"
    "                              -REGEX: all but those). The name is Google Benchmark's:\n"
    "                              the CSV's trace, then /real_time (threaded ones: /manual_time,\n"
    "                              then /threads:N), so 'malloc_free/64/' picks one, '64$' none\n"
    "  --benchmark_min_time=SECS   Google Benchmark's minimum time per benchmark (default: 0.1)\n"
    "  --csv=FILE                  write the rows here (and Google Benchmark JSON beside it)\n"
    "  --json=FILE                 Google Benchmark JSON (default: the CSV path, .json)\n"
    "  --help                      this text\n";

constexpr const char *kChildFlag = "--child";

// Google Benchmark (Debian's build) compiles the filter with std::regex, POSIX
// extended, after taking a leading '-' to mean "all but". Compiling it here the
// same way stops a bad one before any child runs, rather than in every child.
static void check_filter(const std::string &filter) {
    const std::string pattern = filter[0] == '-' ? filter.substr(1) : filter;
    try {
        std::regex(pattern, std::regex::extended);
    } catch (const std::regex_error &e) {
        throw bench::UsageError("--benchmark_filter: '" + filter + "' is not a regular expression (" + e.what() +
                                ")");
    }
}

static Options parse_options(int argc, char **argv) {
    Options o;
    bench::FlagReader flags(argc, argv);
    std::string v;
    bool min_time_given = false;
    while (!flags.done()) {
        if (flags.value("--allocators", &v)) {
            o.allocators = bench::parse_allocator_list(v);
        } else if (flags.value("--repetitions", &v)) {
            o.repetitions = bench::parse_positive("--repetitions", v, bench::kRepetitionsMax);
        } else if (flags.value("--block-size", &v)) {
            o.block_size = bench::parse_block_size("--block-size", v);
        } else if (flags.value("--benchmark_filter", &v)) {
            check_filter(v);
            o.benchmark_flags.push_back("--benchmark_filter=" + v);
        } else if (flags.value("--benchmark_min_time", &v)) {
            bench::parse_seconds("--benchmark_min_time", v);
            o.benchmark_flags.push_back("--benchmark_min_time=" + v);
            min_time_given = true;
        } else if (flags.value("--csv", &v)) o.csv_path = v;
        else if (flags.value("--json", &v)) o.json_path = v;
        else throw bench::UsageError("unknown flag '" + flags.peek() + "'");
    }
    if (!min_time_given) o.benchmark_flags.push_back("--benchmark_min_time=0.1");
    o.json_path = bench::json_output(o.csv_path, o.json_path);
    return o;
}

// ---- the child ------------------------------------------------------------------

// Passes every finished run to the parent as one line: name, threads, ops, ops/s;
// or, for a run that failed, an error line: name, threads, why.
class ResultReporter : public benchmark::BenchmarkReporter {
public:
    bool ReportContext(const Context &) override { return true; }
    void ReportRuns(const std::vector<Run> &runs) override {
        for (const Run &run : runs) {
            if (run.run_type != Run::RT_Iteration) continue;
            std::string name = run.run_name.function_name;
            if (!run.run_name.args.empty()) name += "/" + run.run_name.args;
            if (run.error_occurred) {
                bench::write_result("error", name + "\t" + std::to_string(run.threads) + "\t" + run.error_message);
                continue;
            }
            const auto ops = run.counters.find("ops"), rate = run.counters.find("items_per_second");
            if (ops == run.counters.end() || rate == run.counters.end()) continue;
            bench::write_result("row", name + "\t" + std::to_string(run.threads) + "\t" +
                                           bench::full_precision(ops->second.value) + "\t" +
                                           bench::full_precision(rate->second.value));
        }
    }
};

static int child_main(int argc, char **argv) {
    // argv: bench_micro --child=NAME --block-size=N --repetition=R [--benchmark_*...]
    const std::string name = std::strchr(argv[1], '=') + 1;
    const bench::AllocatorInfo *info = bench::find_allocator(name);
    if (!info) {
        std::fprintf(stderr, "bench_micro: unknown allocator '%s'\n", name.c_str());
        return 1;
    }
    bench::AllocatorSettings settings;
    std::string repetition = "1";
    std::vector<char *> gb_argv = {argv[0]};
    for (int i = 2; i < argc; i++) {
        if (std::strncmp(argv[i], "--block-size=", 13) == 0)
            settings.block_size = std::strtoull(argv[i] + 13, nullptr, 10);
        else if (std::strncmp(argv[i], "--repetition=", 13) == 0)
            repetition = argv[i] + 13;
        else
            gb_argv.push_back(argv[i]);
    }
    if (!info->has_block_size) settings.block_size = 0;
    // In the JSON, where every child's runs have the same names: the CSV's allocator, block_size and repetition.
    const std::string label = name + "/bs:" + std::to_string(settings.block_size) + "/rep:" + repetition;
    int gb_argc = static_cast<int>(gb_argv.size());
    gb_argv.push_back(nullptr);
    benchmark::Initialize(&gb_argc, gb_argv.data());
    register_benchmarks(*info, settings, label);
    ResultReporter reporter;
    benchmark::RunSpecifiedBenchmarks(&reporter);
    benchmark::Shutdown();
    return 0;
}

// ---- the parent -----------------------------------------------------------------

static std::vector<std::string> tab_fields(const std::string &text) {
    std::vector<std::string> fields;
    size_t start = 0;
    for (size_t tab; (tab = text.find('\t', start)) != std::string::npos; start = tab + 1)
        fields.push_back(text.substr(start, tab - start));
    fields.push_back(text.substr(start));
    return fields;
}

static int run_everything(const Options &options, int argc, char **argv) {
    std::string error;
    bench::catch_interrupts();  // before the outputs' probe, which makes and removes them
    if (!bench::outputs_writable({options.csv_path, options.json_path}, &error)) {
        std::fprintf(stderr, "bench_micro: %s\n", error.c_str());
        return 1;
    }
    bench::Facts facts = bench::machine_facts(bench::command_line(argc, argv));
    const std::vector<bench::UsableAllocator> usable = bench::allocators_to_run(
        options.allocators, [](const bench::AllocatorInfo &info) { return info.micro; },
        "takes no part in micro benchmarks (open-ended loops)", &facts);
    if (usable.empty()) return 1;
    bench::set_fact(&facts, "repetitions", std::to_string(options.repetitions));
    for (const auto &flag : options.benchmark_flags)
        bench::set_fact(&facts, flag.substr(2, flag.find('=') - 2), flag.substr(flag.find('=') + 1));

    const std::string temp_dir = bench::make_temp_dir("bench_micro");
    if (temp_dir.empty()) return 1;
    std::vector<bench::CsvRow> rows;
    std::vector<std::string> json_parts;
    bool failed = false;
    size_t done = 0;
    const size_t total = options.repetitions * usable.size();
    for (uint64_t repetition = 1; repetition <= options.repetitions && !bench::interrupted(); repetition++) {
        // Every allocator has run once: when none matched the filter, the
        // other repetitions would not either.
        if (repetition == 2 && rows.empty() && !failed) break;
        for (const auto &a : usable) {
            if (bench::interrupted()) break;
            std::fprintf(stderr, "[%zu/%zu] repetition %" PRIu64 ": %s\n", ++done, total, repetition,
                         a.info->name.c_str());
            const std::string json = temp_dir + "/" + std::to_string(done) + ".json";
            std::vector<std::string> args = {std::string(kChildFlag) + "=" + a.info->name,
                                             "--block-size=" + std::to_string(options.block_size),
                                             "--repetition=" + std::to_string(repetition),
                                             "--benchmark_out=" + json, "--benchmark_out_format=json"};
            args.insert(args.end(), options.benchmark_flags.begin(), options.benchmark_flags.end());
            const bench::ChildResult child = bench::run_child(bench::child_for(a, args));
            // A child that the filter left nothing to run writes no JSON
            // (release_reset exists only where there is a reset).
            std::error_code no_file;
            if (std::filesystem::file_size(json, no_file) > 0 && !no_file) json_parts.push_back(json);
            // Failures are facts too, as bench_replay's: failed.ALLOCATOR.BENCHMARK[.tN],
            // and failed.ALLOCATOR.repN for a child that ended before its last benchmark.
            const std::string failed_key = "failed." + a.info->name + ".";
            const std::string in_repetition = "repetition " + std::to_string(repetition) + ": ";
            std::string last_run;  // the benchmark the child reported last
            for (const auto &line : bench::parse_result_lines(child.results)) {
                const std::vector<std::string> f = tab_fields(line.second);
                if (f.size() < 3) continue;
                const std::string run = f[0] + (f[1] != "1" ? " t=" + f[1] : "");
                last_run = run;
                if (line.first == "error") {
                    const std::string why = line.second.substr(f[0].size() + f[1].size() + 2);
                    std::fprintf(stderr, "FAILED: %s: %s: %s\n", a.info->name.c_str(), run.c_str(), why.c_str());
                    bench::set_fact(&facts, failed_key + f[0] + (f[1] != "1" ? ".t" + f[1] : ""), in_repetition + why);
                    failed = true;
                }
                if (line.first != "row" || f.size() != 4) continue;
                const double rate = std::strtod(f[3].c_str(), nullptr);
                bench::CsvRow row;
                row.set("trace", f[0]);
                row.set("allocator", a.info->name);
                row.set("block_size", a.info->has_block_size ? options.block_size : 0);
                row.set("threads", f[1]);
                row.set("repetition", repetition);
                row.set("ops", static_cast<uint64_t>(std::strtod(f[2].c_str(), nullptr)));
                if (rate > 0) {
                    row.set("ns_per_op", 1e9 / rate);
                    row.set("mops", rate / 1e6);
                }
                rows.push_back(row);
            }
            if (!child.succeeded()) {
                const std::string why = "the child process ended with " + child.status() +
                                        (last_run.empty() ? "" : " after " + last_run) +
                                        "; the benchmarks after that have no row in this repetition";
                std::fprintf(stderr, "FAILED: %s, %s%s\n", a.info->name.c_str(), in_repetition.c_str(), why.c_str());
                bench::set_fact(&facts, failed_key + "rep" + std::to_string(repetition), in_repetition + why);
                failed = true;
            }
        }
    }
    std::error_code ignored;
    if (bench::interrupted()) return bench::stop_interrupted("bench_micro", temp_dir);
    if (rows.empty()) {
        std::filesystem::remove_all(temp_dir, ignored);
        std::fprintf(stderr, "bench_micro: no benchmark was measured (does --benchmark_filter match any? Names "
                             "look like malloc_free/64/real_time); nothing written\n");
        return 1;
    }
    const std::vector<std::string> columns = {"trace", "allocator", "block_size", "threads", "repetition", "ops",
                                              "ns_per_op", "mops", "peak_live_bytes", "rss_peak_bytes", "frag_rss"};
    bench::OutputFiles outputs;
    std::string json;
    const bool ok =
        (options.csv_path.empty() || outputs.stage(options.csv_path, bench::csv_text(facts, columns, rows), &error)) &&
        (options.json_path.empty() ||
         (bench::merge_benchmark_json(json_parts, &json, &error) && outputs.stage(options.json_path, json, &error))) &&
        outputs.commit(&error);
    std::filesystem::remove_all(temp_dir, ignored);
    if (!ok) {
        std::fprintf(stderr, "bench_micro: %s\n", error.c_str());
        return 1;
    }
    bench::print_summary(rows, {{"mops", "Mops/s", true}}, "glibc", bench::summary_stream(options.csv_path));
    return failed ? 1 : 0;
}

}  // namespace micro

int main(int argc, char **argv) {
    if (argc > 1 && std::strncmp(argv[1], "--child=", 8) == 0) return micro::child_main(argc, argv);
    return bench::driver_main(argc, argv, "bench_micro", micro::kUsage,
                              [&] { return micro::run_everything(micro::parse_options(argc, argv), argc, argv); });
}
