// bench_replay: replays allocation traces against arena and the system
// allocators and writes what it measured as a tidy CSV (plus Google
// Benchmark's JSON, a timeline, and a summary table on stdout).
//
// The parent loads and validates every trace before anything is timed, writes
// each as a compact replay image, then runs every measurement in a child
// process of its own: the driver re-executed with `--child`, with the
// allocator preloaded when it is the process malloc. Repetitions are
// interleaved (A B C A B C ...). See results/README.md for every column.
#include <dirent.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cinttypes>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <system_error>
#include <thread>

#include "child.h"
#include "cli.h"
#include "csv.h"
#include "facts.h"
#include "replay_child.h"
#include "replay_image.h"
#include "runner.h"
#include "summary.h"
#include "trace.h"

#ifndef BENCH_SOURCE_DIR
#define BENCH_SOURCE_DIR "."
#endif

namespace replay {

enum class ThreadMode { Threaded, Serial, Both, Lockstep };

static const char *thread_mode_name(ThreadMode mode) {
    switch (mode) {
    case ThreadMode::Threaded: return "threaded";
    case ThreadMode::Serial: return "serial";
    case ThreadMode::Both: return "both";
    case ThreadMode::Lockstep: return "lockstep";
    }
    return "?";
}

struct Options {
    std::vector<std::string> trace_paths;
    std::vector<std::string> allocators;  // empty: every available one
    std::vector<uint64_t> block_sizes = {16};
    std::vector<uint64_t> region_sizes = {0};  // 0: the policy's own
    std::vector<uint64_t> huge_pages_from = {0};  // 0: the policy's own; bench::kHugePagesNever: never
    uint64_t repetitions = 5;
    uint64_t latency_repetitions = 1;
    uint64_t memory_repetitions = 0;  // 0 until given: then 15, or --repetitions when more
    double memory_spread_percent = 1;  // 0: every configuration's memory pass repeats
    double memory_budget_seconds = 2;  // 0: a configuration's memory pass repeats however long it takes
    std::vector<Pass> passes = {Pass::Throughput, Pass::Memory, Pass::Latency};
    ThreadMode thread_mode = ThreadMode::Threaded;
    bool memory_lockstep = true;  // a threaded replay's memory pass takes turns in file order
    uint64_t max_ops = 0;
    double budget_seconds = 2;
    uint64_t warmup = 1;  // unrecorded throughput replays before each trace's first measurement
    bool budget_all = false;  // the budget bounds every allocator, not only seed
    std::string csv_path, json_path, timeline_path;
    std::string valgrind = "valgrind";
    bool keep_temp = false;
    bool check = false, instructions = false;

    bool runs(Pass pass) const { return std::find(passes.begin(), passes.end(), pass) != passes.end(); }
};

static const char kUsage[] =
    "usage: bench_replay [FLAGS]\n"
    "Replays allocation traces against allocators, each measurement in a process of its\n"
    "own; prints a summary table and writes the figures as CSV (results/README.md).\n"
    "\n"
    "  --trace=FILE|DIR      a .trace/.trace.gz file, or a directory of them; repeatable\n"
    "                        (default: the bundled traces, " BENCH_SOURCE_DIR "/traces)\n"
    "  --allocators=LIST     allocators to run (default: every available one of\n"
    "                        arena,arena-malloc,seed,glibc,jemalloc,mimalloc,tcmalloc,bump)\n"
    "  --block-sizes=LIST    block sizes for arena and seed (default: 16)\n"
    "  --region-sizes=LIST   region sizes for arena and seed, e.g. 64K,1M,4M; 0 is the\n"
    "                        policy's own (default: 0)\n"
    "  --huge-pages-from=LIST  huge-pages thresholds for arena (seed has none: it runs\n"
    "                        once): a region of 2 MiB or more that brings a heap to this\n"
    "                        many mapped bytes asks for transparent huge pages, e.g.\n"
    "                        16M,32M,never; 0 is the policy's own (default: 0)\n"
    "  --repetitions=N       measurements of each configuration, interleaved (default: 5)\n"
    "  --passes=LIST         throughput,memory,latency: which measurements (default: all)\n"
    "  --thread-mode=MODE    multi-thread traces: threaded (each trace thread on a thread,\n"
    "                        thread-safe allocators only), serial (file order on one\n"
    "                        thread, every allocator), both, or lockstep (each trace\n"
    "                        thread on a thread, the threads taking turns one op at a\n"
    "                        time in file order: the live bytes follow the trace's, so\n"
    "                        memory does not depend on the scheduler; time includes\n"
    "                        the hand-overs) (default: threaded)\n"
    "  --threaded-memory=HOW the memory pass of a threaded replay: lockstep (its threads\n"
    "                        take turns in file order, so resident memory follows the\n"
    "                        trace's live bytes and not the scheduler) or free (as the\n"
    "                        other passes run, the threads as the scheduler lets them)\n"
    "                        (default: lockstep)\n"
    "  --max-ops=N           replay only the first N ops of each trace (default: 0, all)\n"
    "  --latency-repetitions=N  the latency pass runs in the first N repetitions only\n"
    "                        (default: 1, 0: none; its percentiles come from every call of\n"
    "                        a replay)\n"
    "  --memory-repetitions=N  at most N memory passes of each configuration (>= 1;\n"
    "                        default: 15, or --repetitions when more): below\n"
    "                        --repetitions, the first N repetitions\n"
    "                        run it; above, a configuration whose resident peaks spread\n"
    "                        by more than --memory-spread over --repetitions gets it\n"
    "                        repeated up to N times in all, the extra repetitions memory only\n"
    "  --memory-spread=PCT   (largest peak / smallest - 1) in percent above which the\n"
    "                        memory pass repeats (default: 1; 0: every configuration)\n"
    "  --memory-budget=SECONDS  the memory pass repeats only where it took at most this\n"
    "                        long (the median of the first --repetitions; default: 2;\n"
    "                        0 = no limit)\n"
    "  --budget=SECONDS      seed (the slow first-fit reference) is skipped on a trace when\n"
    "                        its first replay takes longer (default: 2; 0 = no limit); with\n"
    "                        --check it stops there and reports what it verified so far\n"
    "  --warmup=N            replays of each trace before its first measurement, by the\n"
    "                        first allocator, recorded nowhere: the first process to\n"
    "                        replay a trace can run far slower than the next ones on a\n"
    "                        VM (docs/measuring.md), and it is always the same allocator\n"
    "                        (default: 1; 0: none)\n"
    "  --budget-all          the budget applies to every allocator but glibc, the baseline\n"
    "                        of every ratio (sweeps, bench.sh --quick)\n"
    "  --csv=FILE            write the rows here (and Google Benchmark JSON beside it)\n"
    "  --json=FILE           Google Benchmark JSON (default: the CSV path, .json)\n"
    "  --timeline=FILE       live, resident and mapped bytes every 1% of ops (sampled\n"
    "                        by the memory pass, which --passes must include)\n"
    "  --check               instead of measuring: verify every block's alignment and\n"
    "                        contents through each trace; exit 1 on any problem\n"
    "  --instructions        instead of measuring time: instructions per op under\n"
    "                        valgrind --tool=callgrind (one repetition, file order)\n"
    "  --valgrind=PATH       the valgrind to use (default: valgrind)\n"
    "  --keep-temp           keep the temporary directory (replay images, child JSON)\n"
    "  --list-allocators     print the allocators that can run here and exit\n"
    "  --help                this text\n";

static std::vector<uint64_t> parse_sizes(const std::string &flag, const std::string &text,
                                         uint64_t (*parse)(const std::string &, const std::string &)) {
    std::vector<uint64_t> sizes;
    for (const auto &item : bench::split_list(flag, text)) sizes.push_back(parse(flag, item));
    return bench::without_repeats(sizes);
}

// The flags a --check or --instructions run has no use for: it replays once,
// in file order, and measures nothing else.
static const char *const kMeasuringOnly[] = {"--repetitions", "--passes", "--thread-mode", "--threaded-memory",
                                             "--latency-repetitions", "--memory-repetitions", "--memory-spread",
                                             "--memory-budget", "--warmup"};

static Options parse_options(int argc, char **argv, bool *list_only) {
    Options o;
    bench::FlagReader flags(argc, argv);
    std::string v;
    std::set<std::string> given;  // the flags on the command line, without their values
    while (!flags.done()) {
        given.insert(flags.peek().substr(0, flags.peek().find('=')));
        if (flags.value("--trace", &v)) o.trace_paths.push_back(v);
        else if (flags.value("--allocators", &v)) o.allocators = bench::parse_allocator_list(v);
        else if (flags.value("--block-sizes", &v))
            o.block_sizes = parse_sizes("--block-sizes", v, bench::parse_block_size);
        else if (flags.value("--region-sizes", &v))
            o.region_sizes = parse_sizes("--region-sizes", v, bench::parse_bytes);
        else if (flags.value("--huge-pages-from", &v))
            o.huge_pages_from = parse_sizes("--huge-pages-from", v, bench::parse_huge_pages_from);
        else if (flags.value("--repetitions", &v)) {
            o.repetitions = bench::parse_positive("--repetitions", v, bench::kRepetitionsMax);
        } else if (flags.value("--latency-repetitions", &v)) {
            o.latency_repetitions = bench::parse_count("--latency-repetitions", v, bench::kRepetitionsMax);
        } else if (flags.value("--memory-repetitions", &v)) {
            o.memory_repetitions = bench::parse_positive("--memory-repetitions", v, bench::kRepetitionsMax);
        } else if (flags.value("--memory-spread", &v)) {
            o.memory_spread_percent = bench::parse_nonnegative("--memory-spread", v, "a percentage");
        } else if (flags.value("--memory-budget", &v)) {
            o.memory_budget_seconds = bench::parse_seconds("--memory-budget", v);
        } else if (flags.value("--passes", &v)) {
            o.passes.clear();
            for (const auto &name : bench::split_list("--passes", v)) {
                Pass pass;
                if (!parse_pass(name, &pass) || pass == Pass::Check || pass == Pass::Instructions)
                    throw bench::UsageError("--passes takes throughput, memory and latency, not '" + name + "'");
                o.passes.push_back(pass);
            }
            o.passes = bench::without_repeats(o.passes);
        } else if (flags.value("--thread-mode", &v)) {
            if (v == "threaded") o.thread_mode = ThreadMode::Threaded;
            else if (v == "serial") o.thread_mode = ThreadMode::Serial;
            else if (v == "both") o.thread_mode = ThreadMode::Both;
            else if (v == "lockstep") o.thread_mode = ThreadMode::Lockstep;
            else throw bench::UsageError("--thread-mode is threaded, serial, both or lockstep, not '" + v + "'");
        } else if (flags.value("--threaded-memory", &v)) {
            if (v == "lockstep") o.memory_lockstep = true;
            else if (v == "free") o.memory_lockstep = false;
            else throw bench::UsageError("--threaded-memory is lockstep or free, not '" + v + "'");
        } else if (flags.value("--max-ops", &v)) o.max_ops = bench::parse_count("--max-ops", v);
        else if (flags.value("--budget", &v)) o.budget_seconds = bench::parse_seconds("--budget", v);
        else if (flags.value("--warmup", &v)) o.warmup = bench::parse_count("--warmup", v, bench::kRepetitionsMax);
        else if (flags.value("--csv", &v)) o.csv_path = v;
        else if (flags.value("--json", &v)) o.json_path = v;
        else if (flags.value("--timeline", &v)) o.timeline_path = v;
        else if (flags.value("--valgrind", &v)) o.valgrind = v;
        else if (flags.flag("--budget-all")) o.budget_all = true;
        else if (flags.flag("--keep-temp")) o.keep_temp = true;
        else if (flags.flag("--check")) o.check = true;
        else if (flags.flag("--instructions")) o.instructions = true;
        else if (flags.flag("--list-allocators")) *list_only = true;
        else throw bench::UsageError("unknown flag '" + flags.peek() + "'");
    }
    if (o.check && o.instructions) throw bench::UsageError("--check and --instructions exclude each other");
    // Files a check would leave unwritten are refused before it starts.
    if (o.check && !(o.csv_path.empty() && o.json_path.empty() && o.timeline_path.empty()))
        throw bench::UsageError("--check writes no --csv, --json or --timeline: it prints what it finds");
    // The timeline is sampled by the memory pass: without it the file held a header alone.
    if (!o.timeline_path.empty() && (o.instructions || !o.runs(Pass::Memory)))
        throw bench::UsageError("--timeline is sampled by the memory pass: --passes must include memory "
                                "(and --instructions has none)");
    for (uint64_t rs : o.region_sizes)
        if (rs && (rs < 65536 || (rs & (rs - 1))))
            throw bench::UsageError("--region-sizes: " + std::to_string(rs) + " is not a power of two from 64K");
    // Said, not refused: a command line kept from a measuring run still runs.
    if (o.check || o.instructions)
        for (const char *flag : kMeasuringOnly)
            if (given.count(flag))
                std::fprintf(stderr, "bench_replay: %s has no effect with %s (one replay of each trace, in file order)\n",
                             flag, o.check ? "--check" : "--instructions");
    if (given.count("--valgrind") && !o.instructions)
        std::fprintf(stderr, "bench_replay: --valgrind has no effect without --instructions\n");
    if (o.check) o.passes = {Pass::Check};
    if (o.instructions) o.passes = {Pass::Instructions};
    if (o.check || o.instructions) o.repetitions = 1;
    if (!o.runs(Pass::Throughput) && !o.runs(Pass::Latency)) o.warmup = 0;  // nothing timed to warm up for
    // Unless told otherwise, every repetition measures memory too.
    if (!o.memory_repetitions) o.memory_repetitions = std::max<uint64_t>(15, o.repetitions);
    o.json_path = bench::json_output(o.csv_path, o.json_path);
    if (o.trace_paths.empty()) o.trace_paths.push_back(BENCH_SOURCE_DIR "/traces");
    return o;
}

// ---- traces --------------------------------------------------------------------

struct TraceEntry {
    std::string name, path, image;
    uint64_t ops = 0, peak_live_bytes = 0, threads = 1, bump_reserve_bytes = 0;
};

// The trace files named by --trace: files as they are, directories expanded
// to their traces in name order (*.trace, *.trace.gz, and the other processes'
// traces of a record: *.trace.PID[.N][.gz]).
static bool trace_files(const std::vector<std::string> &paths, std::vector<std::string> *files,
                        std::string *error) {
    for (const auto &path : paths) {
        struct stat st;
        if (stat(path.c_str(), &st) != 0) {
            *error = path + ": cannot read: " + std::strerror(errno);  // as the trace reader says it
            return false;
        }
        if (!S_ISDIR(st.st_mode)) {
            files->push_back(path);
            continue;
        }
        std::vector<std::string> found;
        std::error_code ec;
        for (std::filesystem::directory_iterator it(path, ec), end; !ec && it != end; it.increment(ec)) {
            const std::string name = it->path().filename().string();
            if (trace::trace_file_name(name).empty()) continue;
            // A trace's name on something else (a dangling link, a directory, a
            // pipe) is a mistake to say, not a trace to leave out unsaid.
            std::error_code type_ec;
            if (!it->is_regular_file(type_ec)) {
                *error = it->path().string() + ": not a regular file" +
                         (it->is_symlink(type_ec) ? " (a link to nothing there)" : "");
                return false;
            }
            found.push_back(it->path().string());
        }
        if (ec) {
            *error = path + ": " + ec.message();
            return false;
        }
        if (found.empty()) {
            *error = path + ": no traces here (*.trace, *.trace.gz, *.trace.PID); make some with `arena-trace gen` "
                            "or name them with --trace";
            return false;
        }
        std::sort(found.begin(), found.end());
        files->insert(files->end(), found.begin(), found.end());
    }
    return true;
}

// One trace file loaded, validated, cut to --max-ops and written as a replay
// image; `error` set when it could not be.
struct LoadedTrace {
    TraceEntry entry;
    std::string error;
};

static LoadedTrace load_one_trace(const Options &o, const std::string &file, const std::string &image) {
    LoadedTrace loaded;
    trace::Trace t;
    if (!trace::load(file, &t, &loaded.error)) return loaded;
    if (o.max_ops) truncate_trace(&t, o.max_ops);
    TraceEntry &e = loaded.entry;
    e.name = t.name;
    e.path = file;
    e.ops = t.ops.size();
    if (e.ops == 0) return loaded;
    e.image = image;
    e.peak_live_bytes = t.facts.peak_live_bytes;
    e.threads = t.facts.threads;
    e.bump_reserve_bytes = bump_reserve_bytes(t);
    write_image(t, e.image, &loaded.error);
    return loaded;
}

// Loads and validates every trace, then writes its replay image. Nothing has
// been timed yet when a bad trace stops the run here. The files load on a
// thread per core (decompressing and validating the bundled traces took 6 s
// on one); the error that stops the run, and the traces left out for having
// no ops, are said in file order all the same (the "loading" lines are not).
// Returns false with *error set on a bad trace; true when interrupted, with
// traces incomplete (the caller asks bench::interrupted()).
static bool load_traces(const Options &o, const std::string &temp_dir, std::vector<TraceEntry> *traces,
                        std::string *error) {
    std::vector<std::string> files;
    if (!trace_files(o.trace_paths, &files, error)) return false;
    std::vector<LoadedTrace> loaded(files.size());
    std::atomic<size_t> next{0}, first_error{files.size()};
    auto work = [&] {
        // An interrupt stops the loading after the traces being read now.
        for (size_t i; !bench::interrupted() && (i = next.fetch_add(1)) < files.size() && i < first_error.load();) {
            std::fprintf(stderr, "loading %s\n", files[i].c_str());
            // An exception escaping a std::thread ends the process (std::terminate),
            // and one escaping this thread would leave the others unjoined, which
            // does the same: std::bad_alloc or std::length_error from the reader
            // becomes this file's error.
            try {
                loaded[i] = load_one_trace(o, files[i], temp_dir + "/" + std::to_string(i) + ".image");
            } catch (const std::exception &e) {
                loaded[i].error = files[i] + ": cannot load: " + e.what();
            }
            if (loaded[i].error.empty()) continue;
            for (size_t seen = first_error.load(); i < seen && !first_error.compare_exchange_weak(seen, i);) {
            }
        }
    };
    const size_t workers = std::min<size_t>({files.size(), std::max(1u, std::thread::hardware_concurrency()), 8});
    std::vector<std::thread> threads;
    threads.reserve(workers);  // no allocation (and so no throw) once a thread runs
    for (size_t w = 1; w < workers; w++) {
        try {
            threads.emplace_back(work);
        } catch (const std::system_error &) {
            break;  // no more threads here (EAGAIN: RLIMIT_NPROC, pids.max): fewer load it all
        }
    }
    work();
    for (auto &thread : threads) thread.join();
    if (bench::interrupted()) return true;  // some not loaded: the caller stops

    std::set<std::string> names;
    for (size_t i = 0; i < files.size(); i++) {
        if (!loaded[i].error.empty()) {
            *error = loaded[i].error;
            return false;
        }
        const TraceEntry &e = loaded[i].entry;
        if (!names.insert(e.name).second) {
            *error = files[i] + ": a second trace named '" + e.name + "' (result rows would be ambiguous)";
            return false;
        }
        if (e.ops == 0) {
            std::fprintf(stderr, "%s: no ops; nothing to replay, left out\n", files[i].c_str());
            continue;
        }
        traces->push_back(e);
    }
    return true;
}

// ---- what runs -------------------------------------------------------------------

struct Config {
    const bench::UsableAllocator *allocator = nullptr;
    uint64_t block_size = 0, region_size = 0;
    uint64_t huge_pages_from = 0;  // 0: the policy's own; bench::kHugePagesNever: never
    bool threaded = false;
    uint64_t threads = 1;  // the CSV column: OS threads of the replay
    bool first_sizes = true;  // the first region size and huge-pages threshold: the timeline's

    std::string label() const {
        std::string text = allocator->info->name;
        if (allocator->info->has_block_size) text += " bs=" + std::to_string(block_size);
        if (region_size) text += " rs=" + std::to_string(region_size);
        if (huge_pages_from) text += " hp=" + bench::huge_pages_from_text(huge_pages_from);
        if (threads > 1) text += " t=" + std::to_string(threads);
        return text;
    }
};

static uint64_t available_memory_bytes() {
    std::ifstream meminfo("/proc/meminfo");
    std::string key;
    uint64_t kib = 0;
    std::string unit;
    while (meminfo >> key >> kib >> unit)
        if (key == "MemAvailable:") return kib * 1024;
    return 0;
}

// The configurations to run on one trace; one line on stderr for each one left out.
static std::vector<Config> configs_for(const TraceEntry &t, const Options &o,
                                       const std::vector<bench::UsableAllocator> &allocators,
                                       bench::Facts *facts) {
    std::vector<Config> configs;
    const bool multi = t.threads > 1 && !o.check && !o.instructions;
    const uint64_t memory = available_memory_bytes();
    // The replay writes a byte in every 4 KiB of every block: a trace that keeps
    // more live than the machine can hold would have its pages faulted in until
    // the kernel kills the child (or something else on the machine).
    if (memory && t.peak_live_bytes > memory / 2) {
        std::string why = "its live bytes peak at " + std::to_string(t.peak_live_bytes >> 20) +
                          " MiB, over half the available memory";
        for (const auto &a : allocators) {
            std::fprintf(stderr, "%s: skipped on %s (%s)\n", a.info->name.c_str(), t.name.c_str(), why.c_str());
            bench::set_fact(facts, "skipped." + a.info->name + "." + t.name, why);
        }
        return configs;
    }
    for (const auto &a : allocators) {
        const bench::AllocatorInfo &info = *a.info;
        if (info.name == "bump" && memory && t.bump_reserve_bytes > memory / 2) {
            std::string why = "needs " + std::to_string(t.bump_reserve_bytes >> 20) +
                              " MiB mapped in advance, over half the available memory";
            std::fprintf(stderr, "bump: skipped on %s (%s)\n", t.name.c_str(), why.c_str());
            bench::set_fact(facts, "skipped.bump." + t.name, why);
            continue;
        }
        std::vector<bool> modes;  // threaded?
        const bool serial_only = o.thread_mode == ThreadMode::Serial, threads_only = !serial_only && o.thread_mode != ThreadMode::Both;
        if (!multi || !threads_only) modes.push_back(false);
        if (multi && !serial_only) {
            if (info.thread_safe) {
                modes.push_back(true);
            } else if (threads_only) {
                std::string why = "a " + std::to_string(t.threads) + "-thread trace and " + info.name +
                                  " is not thread safe (--thread-mode=serial replays it in file order)";
                std::fprintf(stderr, "%s: skipped on %s (%s)\n", info.name.c_str(), t.name.c_str(), why.c_str());
                bench::set_fact(facts, "skipped." + info.name + "." + t.name, why);
            }
        }
        // Block size and region size: arena's and seed's only; the huge-pages
        // threshold arena's only (seed measured at each would repeat itself).
        const std::vector<uint64_t> none = {0};
        const std::vector<uint64_t> &block_sizes = info.has_block_size ? o.block_sizes : none;
        const std::vector<uint64_t> &region_sizes = info.has_block_size ? o.region_sizes : none;
        const std::vector<uint64_t> &huge_pages_from = info.has_huge_pages_from ? o.huge_pages_from : none;
        for (bool threaded : modes)
            for (uint64_t bs : block_sizes)
                for (size_t r = 0; r < region_sizes.size(); r++)
                    for (size_t h = 0; h < huge_pages_from.size(); h++) {
                        Config c;
                        c.allocator = &a;
                        c.block_size = bs;
                        c.region_size = region_sizes[r];
                        c.huge_pages_from = huge_pages_from[h];
                        c.first_sizes = r == 0 && h == 0;
                        c.threaded = threaded;
                        c.threads = threaded ? t.threads : 1;
                        configs.push_back(c);
                    }
    }
    return configs;
}

// ---- running ----------------------------------------------------------------------

// The allocator every ratio in the summary is taken against.
static const std::string kBaseline = "glibc";

static const std::vector<std::string> kColumns = [] {
    std::vector<std::string> columns = {"trace", "allocator", "block_size", "threads", "repetition", "ops",
                                        "ns_per_op", "mops", "peak_live_bytes", "rss_peak_bytes", "frag_rss",
                                        "region_size", "frag_at_peak", "internal_frag", "minor_faults",
                                        "footprint_bytes", "rss_after_bytes", "instructions_per_op",
                                        "cpu_ns_per_op"};
    for (int kind = 0; kind < kLatencyKinds; kind++)
        for (const char *point : {"p50", "p99", "p999", "max"})
            columns.push_back(std::string("lat_") + latency_kind_name(kind) + "_" + point + "_ns");
    columns.push_back("huge_pages_from");  // new columns go last: the first ones are a contract
    return columns;
}();

static const std::vector<std::string> kTimelineColumns = {"trace", "allocator", "block_size", "threads",
                                                          "op_index", "live_bytes", "rss_bytes", "mapped_bytes"};

// Instructions counted while callgrind's instrumentation was on (the replay):
// the "totals:" line (its "summary:" line says 0 when instrumentation starts off).
static bool callgrind_instructions(const std::string &path, uint64_t *count) {
    std::ifstream file(path);
    std::string line;
    const std::string key = "totals: ";
    while (std::getline(file, line))
        if (line.rfind(key, 0) == 0) {
            *count = std::strtoull(line.c_str() + key.size(), nullptr, 10);
            return true;
        }
    return false;
}

struct Run {
    Options options;
    std::string temp_dir;
    std::vector<TraceEntry> traces;
    std::vector<bench::UsableAllocator> allocators;
    std::vector<std::vector<Config>> configs;  // by trace
    std::map<std::tuple<size_t, size_t, uint64_t>, bench::CsvRow> rows;  // (trace, config, repetition)
    std::vector<bench::CsvRow> timeline;
    std::map<std::pair<size_t, size_t>, std::string> dropped;  // (trace, config) -> why
    std::vector<std::string> json_parts;
    bench::Facts facts;
    bool any_failure = false;
    bool check_problems = false;
    size_t checks_run = 0;  // configurations whose check pass ran, whole or cut short by the budget
    double timer_overhead_ns = -1;
    size_t jobs_total = 0, jobs_done = 0;
    uint64_t last_repetition = 0;  // --repetitions, or --memory-repetitions when memory passes may repeat
    std::set<std::pair<size_t, size_t>> memory_again;  // (trace, config) whose memory pass repeats
    std::map<std::pair<size_t, size_t>, std::vector<double>> memory_seconds;  // (trace, config) -> each pass's wall time
    std::map<std::pair<size_t, size_t>, double> job_seconds;  // (trace, config) -> its children's wall time, every pass
    std::string where_the_time_went() const;
    // "TRACE LABEL" of configuration c on trace t, as the facts list them.
    std::string configuration_name(std::pair<size_t, size_t> key) const {
        return traces[key.first].name + " " + configs[key.first][key.second].label();
    }

    void choose_memory_again();
    double started = 0;

    std::string progress_prefix() const;
    std::string repetition_text(uint64_t repetition) const;
    ChildRequest request_for(size_t t, size_t c, uint64_t repetition, Pass pass) const;
    void run_job(size_t t, size_t c, uint64_t repetition, Pass pass);
    void warm_up(size_t t);
    void drop(size_t t, size_t c, const std::string &why, bool failure);
};

static double seconds_now() {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) / 1e9;
}

// "1 NOUN", "2 NOUNs": a count and what it counts.
static std::string counted(uint64_t n, const std::string &noun) {
    return std::to_string(n) + " " + noun + (n == 1 ? "" : "s");
}

static std::string duration_text(double seconds) {
    char text[32];
    if (seconds < 60) std::snprintf(text, sizeof text, "%.0fs", seconds);
    else std::snprintf(text, sizeof text, "%dm%02ds", static_cast<int>(seconds) / 60, static_cast<int>(seconds) % 60);
    return text;
}

// "repetition 2/5"; past --repetitions, where only memory passes whose resident
// peaks spread run again, "memory repetition 7/15".
std::string Run::repetition_text(uint64_t repetition) const {
    const bool again = repetition > options.repetitions;
    return std::string(again ? "memory repetition " : "repetition ") + std::to_string(repetition) + "/" +
           std::to_string(again ? last_repetition : options.repetitions);
}

std::string Run::progress_prefix() const {
    const double elapsed = seconds_now() - started;
    std::string left = jobs_done ? ", ~" + duration_text(elapsed / jobs_done * (jobs_total - jobs_done)) + " left" : "";
    char text[96];
    std::snprintf(text, sizeof text, "[%zu/%zu jobs, %s%s]", jobs_done, jobs_total, duration_text(elapsed).c_str(),
                  left.c_str());
    return text;
}

void Run::drop(size_t t, size_t c, const std::string &why, bool failure) {
    const Config &config = configs[t][c];
    dropped[{t, c}] = why;
    for (auto it = rows.begin(); it != rows.end();)
        it = std::get<0>(it->first) == t && std::get<1>(it->first) == c ? rows.erase(it) : std::next(it);
    // Its timeline too (repetition 1's memory pass wrote it): no replay.csv rows, no samples.
    if (config.first_sizes) {
        const std::string name = config.allocator->info->name, block = std::to_string(config.block_size),
                          threads = std::to_string(config.threads);
        timeline.erase(std::remove_if(timeline.begin(), timeline.end(),
                                      [&](const bench::CsvRow &sample) {
                                          return sample.get("trace") == traces[t].name &&
                                                 sample.get("allocator") == name && sample.get("block_size") == block &&
                                                 sample.get("threads") == threads;
                                      }),
                       timeline.end());
    }
    const std::string key = std::string(failure ? "failed." : "skipped.") + config.allocator->info->name + "." +
                            traces[t].name + (config.allocator->info->has_block_size ? ".bs" + std::to_string(config.block_size) : "") +
                            (config.region_size ? ".rs" + std::to_string(config.region_size) : "") +
                            (config.huge_pages_from ? ".hp" + bench::huge_pages_from_text(config.huge_pages_from) : "") +
                            (config.threads > 1 ? ".t" + std::to_string(config.threads) : "");
    bench::set_fact(&facts, key, why);
    std::fprintf(stderr, "%s %s on %s: %s; %s\n", failure ? "FAILED:" : "skipped:", config.label().c_str(),
                 traces[t].name.c_str(), why.c_str(),
                 failure ? "no rows for it on this trace" : "it is left out on this trace");
    if (failure) any_failure = true;
}

// Resident memory is a steady figure for most configurations (under 1% from
// one replay to the next, docs/measuring.md), and then a median of a few
// passes is exact. Where the peaks spread further, a median of 5 is a draw:
// a threaded replay's peak follows how the scheduler interleaves its threads
// (under --threaded-memory=free; in lockstep, python-threads' spread under 1%),
// and a purge that waits for a block to age by the clock hands memory back or
// not as the host runs the replay fast or slow (arena and arena-malloc on
// gen-realloc-grow 10-21%, arena-malloc on gen-large 17%, python-threads
// 2-5%). Those configurations get more memory passes, but for the ones whose
// pass takes longer than --memory-budget: jemalloc's gen-large (5 s a pass on
// a guest whose faults cost 12 us, its peaks 72-80 MB from pass to pass)
// would take 50 s more of the default run, whose bound is 10 minutes.
void Run::choose_memory_again() {
    const double spread = options.memory_spread_percent / 100;
    std::map<std::pair<size_t, size_t>, std::pair<double, double>> extremes;  // (trace, config) -> (min, max)
    for (const auto &entry : rows) {
        const std::string text = entry.second.get("rss_peak_bytes");
        if (text.empty()) continue;
        const double peak = std::strtod(text.c_str(), nullptr);
        const auto key = std::make_pair(std::get<0>(entry.first), std::get<1>(entry.first));
        auto found = extremes.find(key);
        if (found == extremes.end()) extremes[key] = {peak, peak};
        else found->second = {std::min(found->second.first, peak), std::max(found->second.second, peak)};
    }
    std::string which, too_slow;
    for (const auto &entry : extremes) {
        if (dropped.count(entry.first) || !(entry.second.first > 0)) continue;
        if (spread > 0 && entry.second.second / entry.second.first - 1 <= spread) continue;
        const std::string name = configuration_name(entry.first);
        std::vector<double> seconds = memory_seconds[entry.first];
        std::sort(seconds.begin(), seconds.end());
        const double median = seconds.empty() ? 0 : seconds[seconds.size() / 2];
        if (options.memory_budget_seconds > 0 && median > options.memory_budget_seconds) {
            char took[64];
            std::snprintf(took, sizeof took, " (%.3g s a pass)", median);
            too_slow += (too_slow.empty() ? "" : ", ") + name + took;
            continue;
        }
        memory_again.insert(entry.first);
        which += (which.empty() ? "" : ", ") + name;
    }
    if (!too_slow.empty()) {
        char budget[64];
        std::snprintf(budget, sizeof budget, "%g", options.memory_budget_seconds);
        bench::set_fact(&facts, "memory_not_repeated",
                        std::string("over the ") + budget + " s --memory-budget, their peaks spread all the same: " +
                            too_slow);
    }
    if (memory_again.empty()) return;
    const std::string why = spread > 0 ? "whose resident peaks spread by more than " +
                                             bench::full_precision(options.memory_spread_percent) + "% over the first " +
                                             std::to_string(options.repetitions)
                                       : "(--memory-spread=0: every one)";
    bench::set_fact(&facts, "memory_repetitions",
                    std::to_string(last_repetition) + " for the configurations " + why + ": " + which);
}

// The children's wall time by trace, the slowest first, and the configurations
// that took a tenth of it or more: what to leave out when a run must be shorter.
std::string Run::where_the_time_went() const {
    std::map<size_t, double> by_trace;
    double total = 0;
    for (const auto &entry : job_seconds) {
        by_trace[entry.first.first] += entry.second;
        total += entry.second;
    }
    std::vector<std::pair<double, std::string>> traces_by_time, configs_by_time;
    for (const auto &entry : by_trace) traces_by_time.push_back({entry.second, traces[entry.first].name});
    for (const auto &entry : job_seconds)
        if (entry.second >= total / 10)
            configs_by_time.push_back({entry.second, configuration_name(entry.first)});
    auto listed = [](std::vector<std::pair<double, std::string>> items) {
        std::sort(items.begin(), items.end(), [](const auto &a, const auto &b) { return a.first > b.first; });
        std::string text;
        char seconds[32];
        for (const auto &item : items) {
            std::snprintf(seconds, sizeof seconds, " %.1f s", item.first);
            text += (text.empty() ? "" : ", ") + item.second + seconds;
        }
        return text;
    };
    char head[64];
    std::snprintf(head, sizeof head, "%.1f s in the children: ", total);
    std::string text = head + listed(traces_by_time);
    if (!configs_by_time.empty()) text += "; a tenth or more each: " + listed(configs_by_time);
    return text;
}

ChildRequest Run::request_for(size_t t, size_t c, uint64_t repetition, Pass pass) const {
    const TraceEntry &trace = traces[t];
    const Config &config = configs[t][c];
    ChildRequest request;
    request.image = trace.image;
    request.allocator = config.allocator->info->name;
    request.pass = pass;
    request.block_size = config.block_size;
    request.region_size = config.region_size;
    request.huge_pages_from = config.huge_pages_from;
    request.threaded = config.threaded;
    request.lockstep = config.threaded && (options.thread_mode == ThreadMode::Lockstep ||
                                           (pass == Pass::Memory && options.memory_lockstep));
    request.repetition = repetition;
    // The budget bounds the first replay of a slow reference on a trace. Under
    // --budget-all it spares the baseline: a trace without it has no ratios.
    const bool budgeted = config.allocator->info->budgeted ||
                          (options.budget_all && config.allocator->info->name != kBaseline);
    request.budget_seconds = budgeted && repetition == 1 && pass == options.passes.front()
                                 ? options.budget_seconds : 0;
    return request;
}

// The first replay of each trace, whichever allocator runs it, often took half
// again as long as the next ones here (docs/measuring.md), and it was always
// the first allocator's, arena's. --warmup replays the trace that many times
// first, with the first configuration still measured, and keeps none of it:
// its Google Benchmark JSON stays in the temporary directory (warmup-T-I.json,
// kept by --keep-temp), and a failure shows in the measured job after it.
// Nothing of trace t is dropped yet: drops come from its measured jobs.
void Run::warm_up(size_t t) {
    const size_t c = 0;
    for (uint64_t i = 0; i < options.warmup && !bench::interrupted(); i++) {
        ChildRequest request = request_for(t, c, 1, Pass::Throughput);
        request.benchmark_out = temp_dir + "/warmup-" + std::to_string(t) + "-" + std::to_string(i) + ".json";
        if (isatty(2))
            std::fprintf(stderr, "\r\033[K%s warm-up %s: %s", progress_prefix().c_str(), traces[t].name.c_str(),
                         configs[t][c].label().c_str());
        bench::run_child(bench::child_for(*configs[t][c].allocator, child_arguments(request)));
        if (isatty(2)) std::fprintf(stderr, "\r\033[K");
    }
}

void Run::run_job(size_t t, size_t c, uint64_t repetition, Pass pass) {
    const TraceEntry &trace = traces[t];
    const Config &config = configs[t][c];
    ChildRequest request = request_for(t, c, repetition, pass);
    const std::string job = std::to_string(jobs_done);
    if (pass != Pass::Check) request.benchmark_out = temp_dir + "/job-" + job + ".json";

    bench::ChildSpec spec = bench::child_for(*config.allocator, child_arguments(request));
    const std::string callgrind_out = temp_dir + "/callgrind-" + job + ".out";
    if (pass == Pass::Instructions)
        spec.argv.insert(spec.argv.begin(), {options.valgrind, "--tool=callgrind", "--instr-atstart=no",
                                             "--callgrind-out-file=" + callgrind_out, "-q"});
    if (isatty(2))
        std::fprintf(stderr, "\r\033[K%s %s %s: %s %s", progress_prefix().c_str(), repetition_text(repetition).c_str(),
                     trace.name.c_str(), config.label().c_str(), pass_name(pass));
    bench::ChildResult child = bench::run_child(spec);
    job_seconds[{t, c}] += child.wall_seconds;
    jobs_done++;
    if (isatty(2)) std::fprintf(stderr, "\r\033[K");
    const bench::ResultLines lines = bench::parse_result_lines(child.results);
    if (!request.benchmark_out.empty()) json_parts.push_back(request.benchmark_out);
    if (bench::result_value(lines, "ok") != "1" || !child.succeeded()) {
        std::string why = bench::result_value(lines, "error");
        drop(t, c, std::string(pass_name(pass)) + " pass, repetition " + std::to_string(repetition) + ": " +
                       (why.empty() ? "the child process ended with " + child.status() : why),
             true);
        return;
    }
    // A check stopped by the budget reports what it verified (below): what it
    // found is no less true for the ops it did not reach.
    const bool over_budget = bench::result_value(lines, "over_budget") == "1";
    if (over_budget && pass != Pass::Check) {
        char why[160];
        std::snprintf(why, sizeof why, "its first replay passed the %g s budget after %s of %" PRIu64 " ops",
                      request.budget_seconds, bench::result_value(lines, "ops_done").c_str(), trace.ops);
        drop(t, c, why, false);
        return;
    }

    bench::CsvRow &row = rows[{t, c, repetition}];
    row.set("trace", trace.name);
    row.set("allocator", config.allocator->info->name);
    row.set("block_size", config.block_size);
    row.set("threads", config.threads);
    row.set("repetition", repetition);
    row.set("ops", trace.ops);
    row.set("peak_live_bytes", trace.peak_live_bytes);
    if (config.region_size) row.set("region_size", config.region_size);
    if (config.huge_pages_from) row.set("huge_pages_from", bench::huge_pages_from_text(config.huge_pages_from));
    auto number = [&](const char *key) { return std::strtod(bench::result_value(lines, key).c_str(), nullptr); };
    auto copy = [&](const std::string &key) {
        const std::string value = bench::result_value(lines, key);
        if (!value.empty()) row.set(key, value);
    };
    const double ops = static_cast<double>(trace.ops);
    switch (pass) {
    case Pass::Throughput: {
        const double seconds = number("seconds");
        row.set("ns_per_op", seconds * 1e9 / ops);
        row.set("mops", ops / seconds / 1e6);
        const std::string cpu = bench::result_value(lines, "cpu_seconds");
        if (!cpu.empty()) row.set("cpu_ns_per_op", std::strtod(cpu.c_str(), nullptr) * 1e9 / ops);
        copy("minor_faults");
        break;
    }
    case Pass::Memory: {
        memory_seconds[{t, c}].push_back(child.wall_seconds);
        const double rss_peak = number("rss_peak_bytes"), live_at_peak = number("live_at_rss_peak");
        copy("rss_peak_bytes");
        if (trace.peak_live_bytes) row.set("frag_rss", rss_peak / static_cast<double>(trace.peak_live_bytes));
        if (live_at_peak > 0) row.set("frag_at_peak", rss_peak / live_at_peak);
        copy("internal_frag");
        copy("footprint_bytes");
        copy("rss_after_bytes");
        if (repetition == 1 && config.first_sizes)
            for (const auto &line : lines) {
                if (line.first != "sample") continue;
                std::vector<std::string> f;
                size_t start = 0;
                for (size_t comma; (comma = line.second.find(',', start)) != std::string::npos; start = comma + 1)
                    f.push_back(line.second.substr(start, comma - start));
                f.push_back(line.second.substr(start));
                if (f.size() != 4) continue;
                bench::CsvRow sample;
                sample.set("trace", trace.name);
                sample.set("allocator", config.allocator->info->name);
                sample.set("block_size", config.block_size);
                sample.set("threads", config.threads);
                sample.set("op_index", f[0]);
                sample.set("live_bytes", f[1]);
                sample.set("rss_bytes", f[2]);
                sample.set("mapped_bytes", f[3]);
                timeline.push_back(sample);
            }
        break;
    }
    case Pass::Latency:
        for (const std::string &column : kColumns)
            if (column.rfind("lat_", 0) == 0) copy(column);
        if (timer_overhead_ns < 0) timer_overhead_ns = number("timer_overhead_ns");
        break;
    case Pass::Instructions: {
        uint64_t instructions = 0;
        if (!callgrind_instructions(callgrind_out, &instructions)) {
            drop(t, c, "no instruction count in " + callgrind_out + " (did valgrind run?)", true);
            return;
        }
        row.set("instructions_per_op", static_cast<double>(instructions) / ops);
        break;
    }
    case Pass::Check: {
        const uint64_t misaligned = std::stoull(bench::result_value(lines, "check_misaligned", "0"));
        const uint64_t not_zeroed = std::stoull(bench::result_value(lines, "check_not_zeroed", "0"));
        const uint64_t corrupted = std::stoull(bench::result_value(lines, "check_corrupted", "0"));
        const uint64_t heap = std::stoull(bench::result_value(lines, "check_heap_errors", "0"));
        const std::string who = trace.name + " " + config.label();
        char reach[200];  // how far the check went
        if (over_budget)
            std::snprintf(reach, sizeof reach,
                          "the first %s of %" PRIu64 " ops only: the replay passed the %g s budget there,"
                          " --budget=0 checks it whole",
                          bench::result_value(lines, "ops_done").c_str(), trace.ops, request.budget_seconds);
        else
            std::snprintf(reach, sizeof reach, "%" PRIu64 " ops", trace.ops);
        checks_run++;
        if (!misaligned && !not_zeroed && !corrupted && !heap) {
            std::printf("check %s: ok (%s blocks verified through %s)\n", who.c_str(),
                        bench::result_value(lines, "check_blocks").c_str(), reach);
        } else {
            check_problems = true;
            std::printf("check %s: PROBLEMS: %" PRIu64 " misaligned blocks, %" PRIu64
                        " calloc blocks not zeroed, %" PRIu64 " blocks with changed contents, %" PRIu64
                        " failed heap checks (through %s)\n",
                        who.c_str(), misaligned, not_zeroed, corrupted, heap, reach);
            for (const auto &line : lines)
                if (line.first == "check_example") std::printf("  %s\n", line.second.c_str());
        }
        rows.erase({t, c, repetition});
        break;
    }
    }
}

static int run_everything(const Options &options, int argc, char **argv) {
    std::string error;
    bench::catch_interrupts();  // before the outputs' probe, which makes and removes them
    if (!bench::outputs_writable({options.csv_path, options.json_path, options.timeline_path}, &error)) {
        std::fprintf(stderr, "bench_replay: %s\n", error.c_str());
        return 1;
    }
    Run run;
    run.options = options;
    run.facts = bench::machine_facts(bench::command_line(argc, argv));
    run.temp_dir = bench::make_temp_dir("bench_replay");
    if (run.temp_dir.empty()) return 1;
    struct Cleanup {
        const Run &run;
        ~Cleanup() {
            if (run.options.keep_temp) {
                std::fprintf(stderr, "temporary files kept in %s\n", run.temp_dir.c_str());
                return;
            }
            std::error_code ignored;
            std::filesystem::remove_all(run.temp_dir, ignored);
        }
    } cleanup{run};

    if (!load_traces(options, run.temp_dir, &run.traces, &error)) {
        std::fprintf(stderr, "%s\n", error.c_str());
        return 1;
    }
    if (bench::interrupted()) {
        std::fprintf(stderr, "bench_replay: interrupted while loading the traces; nothing written\n");
        return 130;
    }
    if (run.traces.empty()) {
        std::fprintf(stderr, "bench_replay: no trace has ops to replay\n");
        return 1;
    }
    if (options.instructions) {
        bench::ChildSpec probe;
        probe.argv = {options.valgrind, "--version"};
        probe.stdout_path = "/dev/null";
        if (!bench::run_child(probe).succeeded()) {
            std::fprintf(stderr, "bench_replay: --instructions needs valgrind (%s does not run; Debian: apt-get "
                                 "install valgrind)\n", options.valgrind.c_str());
            return 1;
        }
    }
    run.allocators = bench::allocators_to_run(
        options.allocators, [](const bench::AllocatorInfo &) { return true; }, "", &run.facts);
    if (run.allocators.empty()) return 1;
    for (const auto &t : run.traces) run.configs.push_back(configs_for(t, options, run.allocators, &run.facts));

    std::string passes;
    for (Pass p : options.passes) passes += (passes.empty() ? "" : ",") + std::string(pass_name(p));
    bench::set_fact(&run.facts, "repetitions", std::to_string(options.repetitions));
    bench::set_fact(&run.facts, "passes", passes);
    if (options.runs(Pass::Latency))
        bench::set_fact(&run.facts, "latency_repetitions",
                        std::to_string(std::min(options.latency_repetitions, options.repetitions)));
    bench::set_fact(&run.facts, "thread_mode", thread_mode_name(options.thread_mode));
    if (options.thread_mode != ThreadMode::Serial && options.thread_mode != ThreadMode::Lockstep)
        bench::set_fact(&run.facts, "threaded_memory", options.memory_lockstep
                                                           ? "lockstep (the memory pass takes turns in file order)"
                                                           : "free (as the scheduler runs the threads)");
    bench::set_fact(&run.facts, "budget_seconds", bench::full_precision(options.budget_seconds) +
                                                      (options.budget_all ? " (every allocator but " + kBaseline + ")" : " (seed)"));
    if (options.max_ops) bench::set_fact(&run.facts, "max_ops", std::to_string(options.max_ops));
    if (options.warmup)
        bench::set_fact(&run.facts, "warmup", counted(options.warmup, "unrecorded throughput replay") +
                                                  " of each trace by its first configuration before repetition 1");
    if (options.runs(Pass::Memory) && options.memory_repetitions < options.repetitions)
        bench::set_fact(&run.facts, "memory_repetitions",
                        std::to_string(options.memory_repetitions) + " (the memory pass ran in repetition" +
                            (options.memory_repetitions == 1
                                 ? std::string(" 1")
                                 : "s 1 to " + std::to_string(options.memory_repetitions)) +
                            " only)");

    // A pass runs in a repetition unless it is the latency or memory pass past
    // its repetitions; past --repetitions, only the memory passes chosen to repeat.
    auto runs_in = [&](Pass pass, uint64_t repetition, size_t t, size_t c) {
        if (repetition > options.repetitions) return pass == Pass::Memory && run.memory_again.count({t, c}) != 0;
        if (pass == Pass::Latency) return repetition <= options.latency_repetitions;
        if (pass == Pass::Memory) return repetition <= options.memory_repetitions;
        return true;
    };
    run.last_repetition = options.repetitions;
    if (options.runs(Pass::Memory) && options.memory_repetitions > options.repetitions)
        run.last_repetition = options.memory_repetitions;
    // Up to --repetitions, which passes run does not depend on the configuration.
    size_t passes_in_all_repetitions = 0;
    for (uint64_t repetition = 1; repetition <= options.repetitions; repetition++)
        for (Pass pass : options.passes) passes_in_all_repetitions += runs_in(pass, repetition, 0, 0);
    for (const auto &configs : run.configs) run.jobs_total += configs.size() * passes_in_all_repetitions;
    run.started = seconds_now();
    for (uint64_t repetition = 1; repetition <= run.last_repetition && !bench::interrupted(); repetition++) {
        if (repetition == options.repetitions + 1) {
            run.choose_memory_again();
            if (run.memory_again.empty()) break;
            run.jobs_total += run.memory_again.size() * (run.last_repetition - options.repetitions);
        }
        for (size_t t = 0; t < run.traces.size() && !bench::interrupted(); t++) {
            size_t configs_now = 0;
            for (size_t c = 0; c < run.configs[t].size(); c++)
                configs_now += std::any_of(options.passes.begin(), options.passes.end(),
                                           [&](Pass pass) { return runs_in(pass, repetition, t, c); });
            if (!configs_now) continue;
            const bool warm_up = repetition == 1 && options.warmup;
            if (!isatty(2))
                std::fprintf(stderr, "%s %s, trace %zu/%zu: %s (%zu configurations%s)\n",
                             run.progress_prefix().c_str(), run.repetition_text(repetition).c_str(), t + 1,
                             run.traces.size(), run.traces[t].name.c_str(), configs_now,
                             warm_up ? (", after " + counted(options.warmup, "warm-up replay")).c_str() : "");
            if (warm_up) run.warm_up(t);
            for (size_t c = 0; c < run.configs[t].size() && !bench::interrupted(); c++)
                for (Pass pass : options.passes) {
                    if (!runs_in(pass, repetition, t, c)) continue;
                    if (run.dropped.count({t, c})) {
                        run.jobs_total--;
                        continue;
                    }
                    run.run_job(t, c, repetition, pass);
                }
        }
    }
    if (bench::interrupted()) return bench::stop_interrupted("bench_replay", "");  // Cleanup removes temp_dir
    std::fprintf(stderr, "%s done\n", run.progress_prefix().c_str());

    if (options.check) {
        if (!run.checks_run) {
            std::fprintf(stderr, "bench_replay: nothing was checked (every configuration was left out, above)\n");
            return 1;
        }
        return run.check_problems || run.any_failure ? 1 : 0;
    }

    if (run.timer_overhead_ns >= 0)
        bench::set_fact(&run.facts, "latency_timer",
                        "clock_gettime(CLOCK_MONOTONIC) around each call; one reading costs about " +
                            bench::full_precision(run.timer_overhead_ns) + " ns here, included in every lat_ figure");
    bench::set_fact(&run.facts, "job_seconds", run.where_the_time_went());
    std::vector<bench::CsvRow> rows;
    for (const auto &entry : run.rows) rows.push_back(entry.second);
    if (rows.empty()) {
        // A CSV of facts alone would pass for a run; an earlier file stays as it was.
        std::fprintf(stderr, "bench_replay: nothing was measured (every configuration was left out or "
                             "failed, above); nothing written\n");
        return 1;
    }
    // All three written, or none: a CSV left without its JSON would pass for a whole run.
    bench::OutputFiles outputs;
    std::string json;
    const bool written =
        (options.csv_path.empty() ||
         outputs.stage(options.csv_path, bench::csv_text(run.facts, kColumns, rows), &error)) &&
        (options.json_path.empty() || (bench::merge_benchmark_json(run.json_parts, &json, &error) &&
                                       outputs.stage(options.json_path, json, &error))) &&
        (options.timeline_path.empty() ||
         outputs.stage(options.timeline_path, bench::csv_text(run.facts, kTimelineColumns, run.timeline),
                       &error)) &&
        outputs.commit(&error);
    if (!written) {
        std::fprintf(stderr, "bench_replay: %s\n", error.c_str());
        return 1;
    }
    FILE *summary = bench::summary_stream(options.csv_path);
    if (options.instructions) {
        bench::print_summary(rows, {{"instructions_per_op", "instructions/op", false}}, "bump", summary);
    } else {
        bench::print_summary(rows, {{"mops", "Mops/s", true}, {"frag_rss", "frag_rss", false}}, kBaseline, summary);
        bench::print_noise_notes(rows, summary);
    }
    return run.any_failure ? 1 : 0;
}

}  // namespace replay

int main(int argc, char **argv) {
    using namespace replay;
    if (argc > 1 && std::strcmp(argv[1], kChildFlag) == 0) return child_main(argc, argv);
    return bench::driver_main(argc, argv, "bench_replay", kUsage, [&] {
        bool list_only = false;
        const Options options = parse_options(argc, argv, &list_only);
        if (!list_only) return run_everything(options, argc, argv);
        for (const auto &a : bench::find_usable_allocators(options.allocators))
            std::printf("%-13s %-9s %s%s\n", a.info->name.c_str(),
                        a.info->kind == bench::AllocatorKind::Preloaded ? "process" : "explicit", a.version.c_str(),
                        a.library.empty() ? "" : ("  " + a.library).c_str());
        return 0;
    });
}
