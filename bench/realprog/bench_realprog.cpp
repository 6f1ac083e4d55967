// bench_realprog: real programs (CPython, g++, sqlite3, perl, git and a
// two-thread C program of ours) run under every process malloc through
// LD_PRELOAD: wall time, max RSS, user and system time, minor faults, and
// whether the output matched glibc's. Runs are interleaved (for each
// repetition, each program under each allocator in turn) after one untimed
// warm-up run of each program under glibc, which also gives the reference
// output. Writes realprog.csv (results/README.md) and a summary table.
#include <unistd.h>

#include <cinttypes>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <map>
#include <sstream>

#include "child.h"
#include "cli.h"
#include "csv.h"
#include "facts.h"
#include "runner.h"
#include "summary.h"

#ifndef BENCH_REALPROG_DIR
#define BENCH_REALPROG_DIR "."
#endif
#ifndef BENCH_SOURCE_DIR
#define BENCH_SOURCE_DIR "."
#endif

namespace realprog {

struct Program {
    std::string name;               // the trace column
    uint64_t threads;               // threads the program runs its work on
    std::vector<std::string> argv;  // {programs}, {bin} and {source} are expanded
    std::vector<std::string> env;   // NAME=VALUE
};

// The programs. Inputs live in bench/realprog/programs; every output is
// deterministic, so a different output under an allocator is a failure.
static const std::vector<Program> kPrograms = {
    {"cpython", 5, {"/usr/bin/python3", "{programs}/cpython_workload.py"}, {"PYTHONMALLOC=malloc"}},
    {"gxx", 1, {"g++", "-std=c++17", "-O1", "-S", "-o", "-", "{programs}/stl_heavy.cpp"}, {}},
    {"sqlite3", 1, {"sqlite3", "-batch", ":memory:", ".read {programs}/sqlite_workload.sql"}, {}},
    {"perl", 1, {"perl", "{programs}/text_process.pl"}, {}},
    {"prodcons", 2, {"{bin}/realprog_prodcons"}, {}},
    {"git", 1, {"git", "--no-pager", "-C", "{source}", "log", "-p", "--stat", "--no-color", "-n", "200"},
     {"GIT_CONFIG_NOSYSTEM=1"}},
};

struct Options {
    std::vector<std::string> allocators, programs;
    uint64_t repetitions = 5;
    uint64_t timeout_seconds = 300;  // a program that hangs under one allocator would hang the run
    std::string csv_path;
};

static std::string program_names() {
    std::string names;
    for (const auto &p : kPrograms) names += (names.empty() ? "" : ",") + p.name;
    return names;
}

static const char kUsage[] =
    "usage: bench_realprog [FLAGS]\n"
    "Runs real programs under every process malloc (LD_PRELOAD) and measures wall time,\n"
    "max RSS, user/system time and minor faults; checks each output against glibc's.\n"
    "\n"
    "  --allocators=LIST   process mallocs to run (default: every available one of\n"
    "                      arena-malloc,glibc,jemalloc,mimalloc,tcmalloc)\n"
    "  --programs=LIST     (default: cpython,gxx,sqlite3,perl,prodcons,git)\n"
    "  --repetitions=N     runs of each program under each allocator, interleaved (default: 5)\n"
    "  --timeout=SECONDS   a run still going after this long is killed and counts as failed\n"
    "                      (1 to 86400; default: 300)\n"
    "  --csv=FILE          write realprog.csv rows here\n"
    "  --help              this text\n";

static Options parse_options(int argc, char **argv) {
    Options o;
    bench::FlagReader flags(argc, argv);
    std::string v;
    while (!flags.done()) {
        if (flags.value("--allocators", &v)) {
            o.allocators = bench::parse_allocator_list(v);
        } else if (flags.value("--programs", &v)) {
            o.programs = bench::without_repeats(bench::split_list("--programs", v));
            for (const auto &name : o.programs) {
                bool known = false;
                for (const auto &p : kPrograms) known = known || p.name == name;
                if (!known) throw bench::UsageError("unknown program '" + name + "' (known: " + program_names() + ")");
            }
        } else if (flags.value("--repetitions", &v)) {
            o.repetitions = bench::parse_positive("--repetitions", v, bench::kRepetitionsMax);
        } else if (flags.value("--timeout", &v)) {
            o.timeout_seconds = bench::parse_positive("--timeout", v, 86400);
        } else if (flags.value("--csv", &v)) {
            o.csv_path = v;
        } else {
            throw bench::UsageError("unknown flag '" + flags.peek() + "'");
        }
    }
    return o;
}

static std::string expand(std::string text) {
    const std::pair<const char *, std::string> places[] = {
        {"{programs}", BENCH_REALPROG_DIR "/programs"}, {"{bin}", bench::self_directory()}, {"{source}", BENCH_SOURCE_DIR}};
    for (const auto &place : places)
        for (size_t at; (at = text.find(place.first)) != std::string::npos;)
            text.replace(at, std::strlen(place.first), place.second);
    return text;
}

// FNV-1a of a file's bytes: outputs are compared by this.
static uint64_t file_hash(const std::string &path) {
    std::ifstream file(path, std::ios::binary);
    uint64_t hash = 1469598103934665603ull;
    char buffer[65536];
    while (file.read(buffer, sizeof buffer) || file.gcount() > 0) {
        for (std::streamsize i = 0; i < file.gcount(); i++)
            hash = (hash ^ static_cast<unsigned char>(buffer[i])) * 1099511628211ull;
        if (!file) break;
    }
    return hash;
}

static std::string head_of(const std::string &path) {
    std::ifstream file(path);
    std::string text((std::istreambuf_iterator<char>(file)), std::istreambuf_iterator<char>());
    return text.substr(0, 600);
}

// The program's own run, from realprog_measure's report on fd 3: its wall
// time, usage and exit status. A report that is missing or cut short (the
// helper did not run, or died) leaves it not started, saying why; a program
// killed at the timeout is started, and its error says so.
static bench::ChildResult program_result(const bench::ChildResult &helper) {
    bench::ChildResult program;
    if (!helper.started) {
        program.error = helper.error;
        return program;
    }
    const bench::ResultLines lines = bench::parse_result_lines(helper.results);
    const std::string error = bench::result_value(lines, "error");
    if (!error.empty()) {
        program.error = error;
        return program;
    }
    const std::string exit_code = bench::result_value(lines, "exit"), signal = bench::result_value(lines, "signal");
    const std::string no_report = "realprog_measure gave no report (" + helper.status() + ")";
    if (exit_code.empty() && signal.empty()) {
        program.error = no_report;
        return program;
    }
    const char *keys[] = {"wall_ns", "maxrss_kb", "utime_us", "stime_us", "minflt"};
    long long values[std::size(keys)];
    for (size_t i = 0; i < std::size(keys); i++) {
        const std::string text = bench::result_value(lines, keys[i]);
        char *end = nullptr;
        values[i] = text.empty() ? -1 : std::strtoll(text.c_str(), &end, 10);
        if (values[i] < 0 || *end != '\0') {
            program.error = no_report;
            return program;
        }
    }
    auto timeval_of = [](long long us) { return timeval{static_cast<time_t>(us / 1000000), static_cast<suseconds_t>(us % 1000000)}; };
    program.started = true;
    program.wall_seconds = static_cast<double>(values[0]) / 1e9;
    program.usage.ru_maxrss = static_cast<long>(values[1]);
    program.usage.ru_utime = timeval_of(values[2]);
    program.usage.ru_stime = timeval_of(values[3]);
    program.usage.ru_minflt = static_cast<long>(values[4]);
    if (!signal.empty()) program.signal = std::atoi(signal.c_str());
    else program.exit_code = std::atoi(exit_code.c_str());
    const std::string timed_out = bench::result_value(lines, "timed_out");
    if (!timed_out.empty()) program.error = "still running after " + timed_out + " s: killed";
    return program;
}

// Why a run failed: what the helper said, else how the program ended.
static std::string failure(const bench::ChildResult &result) {
    return result.error.empty() ? result.status() : result.error;
}

// The helper every program starts in, beside this driver.
static std::string measure_path() { return bench::self_directory() + "/realprog_measure"; }

struct Runner {
    std::string temp_dir;
    uint64_t timeout_seconds = 0;

    // Runs the program through realprog_measure (measure.c says why), which
    // preloads the allocator into the program alone; glibc's run (allocator
    // NULL, or one with no library) preloads nothing.
    bench::ChildResult run(const Program &program, const bench::UsableAllocator *allocator, uint64_t *hash) {
        bench::ChildSpec spec;
        spec.argv.push_back(measure_path());
        if (allocator && !allocator->library.empty()) spec.argv.push_back("--preload=" + allocator->library);
        spec.argv.push_back("--timeout=" + std::to_string(timeout_seconds));
        spec.argv.push_back("--");
        for (const auto &arg : program.argv) spec.argv.push_back(expand(arg));
        spec.set_env = program.env;
        spec.unset_env.push_back("LD_PRELOAD");
        spec.result_pipe = true;
        spec.stdin_path = "/dev/null";
        spec.stdout_path = temp_dir + "/stdout";
        spec.stderr_path = temp_dir + "/stderr";
        const bench::ChildResult result = program_result(bench::run_child(spec));
        *hash = file_hash(spec.stdout_path);
        return result;
    }
    std::string stderr_head() const { return head_of(temp_dir + "/stderr"); }
};

static int run_everything(const Options &options, int argc, char **argv) {
    std::string error;
    bench::catch_interrupts();  // before the outputs' probe, which makes and removes them
    if (!bench::outputs_writable({options.csv_path}, &error)) {
        std::fprintf(stderr, "bench_realprog: %s\n", error.c_str());
        return 1;
    }
    bench::Facts facts = bench::machine_facts(bench::command_line(argc, argv));
    const std::vector<bench::UsableAllocator> allocators = bench::allocators_to_run(
        options.allocators,
        [](const bench::AllocatorInfo &info) { return info.kind == bench::AllocatorKind::Preloaded; },
        "not a process malloc (real programs run only under those)", &facts);
    if (allocators.empty()) return 1;
    bench::set_fact(&facts, "repetitions", std::to_string(options.repetitions));

    // Without it every program would be "left out: it does not run under glibc".
    if (access(measure_path().c_str(), X_OK) != 0) {
        std::fprintf(stderr, "bench_realprog: no realprog_measure beside it in %s (cmake --build build builds it)\n",
                     bench::self_directory().c_str());
        return 1;
    }
    bench::set_fact(&facts, "timeout_seconds", std::to_string(options.timeout_seconds));
    Runner runner;
    runner.timeout_seconds = options.timeout_seconds;
    runner.temp_dir = bench::make_temp_dir("bench_realprog");
    if (runner.temp_dir.empty()) return 1;

    // Warm-up under glibc: caches filled, and the reference output.
    std::vector<const Program *> programs;
    std::map<std::string, uint64_t> reference;
    // In the order --programs names them, else in the table's.
    std::vector<const Program *> asked;
    for (const auto &name : options.programs)
        for (const Program &program : kPrograms)
            if (program.name == name) asked.push_back(&program);
    if (options.programs.empty())
        for (const Program &program : kPrograms) asked.push_back(&program);
    for (const Program *each : asked) {
        const Program &program = *each;
        if (bench::interrupted()) return bench::stop_interrupted("bench_realprog", runner.temp_dir);
        uint64_t hash = 0;
        const bench::ChildResult warm = runner.run(program, nullptr, &hash);
        if (!warm.succeeded()) {
            std::fprintf(stderr, "%s: left out: it does not run under glibc (%s) %s\n", program.name.c_str(),
                         failure(warm).c_str(), runner.stderr_head().c_str());
            bench::set_fact(&facts, "skipped." + program.name, failure(warm));
            continue;
        }
        std::fprintf(stderr, "%s: warm-up run under glibc took %.2f s\n", program.name.c_str(), warm.wall_seconds);
        reference[program.name] = hash;
        programs.push_back(&program);
        std::string command;
        // Quoted as a shell takes it: sqlite3's `.read FILE` is one word.
        for (const auto &arg : program.argv) command += (command.empty() ? "" : " ") + bench::shell_word(expand(arg));
        for (auto it = program.env.rbegin(); it != program.env.rend(); ++it)
            command = bench::shell_setting(*it) + " " + command;
        bench::set_fact(&facts, "program." + program.name, command);
    }

    if (programs.empty()) {
        std::error_code ignored;
        std::filesystem::remove_all(runner.temp_dir, ignored);
        std::fprintf(stderr, "bench_realprog: no program ran under glibc; nothing measured, nothing written\n");
        return 1;
    }

    std::vector<bench::CsvRow> rows;
    bool failed = false;
    size_t done = 0;
    const size_t total = options.repetitions * programs.size() * allocators.size();
    for (uint64_t repetition = 1; repetition <= options.repetitions; repetition++)
        for (const Program *program : programs)
            for (const auto &a : allocators) {
                if (bench::interrupted()) return bench::stop_interrupted("bench_realprog", runner.temp_dir);
                std::fprintf(stderr, "[%zu/%zu] repetition %" PRIu64 ": %s under %s\n", ++done, total, repetition,
                             program->name.c_str(), a.info->name.c_str());
                uint64_t hash = 0;
                const bench::ChildResult result = runner.run(*program, &a, &hash);
                const bool output_ok = result.succeeded() && hash == reference[program->name];
                if (!output_ok) {
                    failed = true;
                    std::fprintf(stderr, "FAILED: %s under %s: %s %s\n", program->name.c_str(), a.info->name.c_str(),
                                 result.succeeded() ? "its output differs from glibc's" : failure(result).c_str(),
                                 runner.stderr_head().c_str());
                }
                auto seconds = [](const timeval &t) { return static_cast<double>(t.tv_sec) + t.tv_usec / 1e6; };
                bench::CsvRow row;
                row.set("trace", program->name);
                row.set("allocator", a.info->name);
                row.set("block_size", uint64_t{0});
                row.set("threads", program->threads);
                row.set("repetition", repetition);
                row.set("wall_seconds", result.wall_seconds);
                row.set("max_rss_bytes", static_cast<uint64_t>(result.usage.ru_maxrss) * 1024);
                row.set("user_seconds", seconds(result.usage.ru_utime));
                row.set("sys_seconds", seconds(result.usage.ru_stime));
                row.set("minor_faults", static_cast<uint64_t>(result.usage.ru_minflt));
                row.set("output_ok", uint64_t{output_ok ? 1u : 0u});
                rows.push_back(row);
            }
    if (bench::interrupted()) return bench::stop_interrupted("bench_realprog", runner.temp_dir);  // during the last run
    std::error_code ignored;
    std::filesystem::remove_all(runner.temp_dir, ignored);
    const std::vector<std::string> columns = {"trace", "allocator", "block_size", "threads", "repetition",
                                              "wall_seconds", "max_rss_bytes", "user_seconds", "sys_seconds",
                                              "minor_faults", "output_ok"};
    if (!options.csv_path.empty() && !bench::write_csv(options.csv_path, facts, columns, rows, &error)) {
        std::fprintf(stderr, "bench_realprog: %s\n", error.c_str());
        return 1;
    }
    // The table's figures are those of runs that did what glibc's did: a run
    // that failed (a crash, an allocator out of memory) mostly ends early, and
    // its time and memory read as a gain (perl under tcmalloc held to 20 MB:
    // 0.18x glibc's wall time, 0.21x its max RSS, and so in the geometric
    // mean). Its figures show as "-"; the CSV keeps them, with output_ok 0.
    std::vector<bench::CsvRow> succeeded = rows;
    for (bench::CsvRow &row : succeeded)
        if (row.get("output_ok") != "1") {
            row.set("wall_seconds", std::string());
            row.set("max_rss_bytes", std::string());
        }
    bench::print_summary(succeeded, {{"wall_seconds", "wall s", true}, {"max_rss_bytes", "max RSS", false}}, "glibc",
                         bench::summary_stream(options.csv_path));
    return failed ? 1 : 0;
}

}  // namespace realprog

int main(int argc, char **argv) {
    return bench::driver_main(argc, argv, "bench_realprog", realprog::kUsage, [&] {
        return realprog::run_everything(realprog::parse_options(argc, argv), argc, argv);
    });
}
