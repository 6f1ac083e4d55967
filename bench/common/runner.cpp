#include "runner.h"

#include <dlfcn.h>
#include <limits.h>
#include <signal.h>
#include <stdlib.h>
#include <unistd.h>

#include <cerrno>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <filesystem>

#include "cli.h"
#include "facts.h"

namespace bench {

static const char kProbeFlag[] = "--child-info=";

static std::string real_path(const std::string &path) {
    char resolved[PATH_MAX];
    return realpath(path.c_str(), resolved) ? resolved : path;
}

// The candidate paths with "{exe}" resolved.
static std::vector<std::string> library_paths(const AllocatorInfo &info) {
    std::vector<std::string> paths;
    const std::string exe = "{exe}";
    for (std::string candidate : info.library_candidates) {
        if (candidate.empty()) continue;
        if (candidate.compare(0, exe.size(), exe) == 0) candidate = self_directory() + candidate.substr(exe.size());
        paths.push_back(candidate);
    }
    return paths;
}

// The first candidate file that exists; "" when none does.
static std::string locate_library(const AllocatorInfo &info) {
    for (const std::string &candidate : library_paths(info))
        if (access(candidate.c_str(), R_OK) == 0) return real_path(candidate);
    return "";
}

void preload(const UsableAllocator &allocator, ChildSpec *spec) {
    if (allocator.library.empty())
        spec->unset_env.push_back("LD_PRELOAD");
    else
        spec->set_env.push_back("LD_PRELOAD=" + allocator.library);
}

ChildSpec child_for(const UsableAllocator &allocator, const std::vector<std::string> &args) {
    ChildSpec spec;
    spec.argv.push_back(self_executable());
    spec.argv.insert(spec.argv.end(), args.begin(), args.end());
    preload(allocator, &spec);
    // Google Benchmark takes each of its flags from the environment too, where
    // the facts do not show it: BENCHMARK_REPETITIONS=3 gave bench_micro three
    // rows of one repetition for each benchmark, BENCHMARK_FILTER ran other
    // benchmarks than its command says, and made bench_replay's child measure
    // nothing (a row of 0 ns per op). A child takes the flags its driver passes.
    for (char **e = environ; *e; ++e)
        if (std::strncmp(*e, "BENCHMARK_", 10) == 0) spec.unset_env.emplace_back(*e, std::strcspn(*e, "="));
    spec.result_pipe = true;
    return spec;
}

std::vector<UsableAllocator> find_usable_allocators(const std::vector<std::string> &wanted,
                                                    std::vector<LeftOut> *left_out) {
    auto leave_out = [left_out](const AllocatorInfo &info, const std::string &why) {
        std::fprintf(stderr, "%s: %s; the run goes on without it\n", info.name.c_str(), why.c_str());
        if (left_out) left_out->push_back({&info, why});
    };
    for (const auto &name : wanted)
        if (!find_allocator(name))
            throw UsageError("unknown allocator '" + name + "' (known: " + allocator_names() + ")");
    std::vector<UsableAllocator> usable;
    for (const AllocatorInfo &info : all_allocators()) {
        bool asked = wanted.empty();
        for (const auto &name : wanted) asked = asked || name == info.name;
        if (!asked) continue;
        UsableAllocator candidate;
        candidate.info = &info;
        if (!info.library_candidates.empty()) {
            candidate.library = locate_library(info);
            if (candidate.library.empty()) {
                leave_out(info, "not available (no " + library_paths(info).front() + ")");
                continue;
            }
        }
        // Probe it in a process of its own: it loads, it says its version, and
        // its entry points really are the ones in use.
        ChildResult probe = run_child(child_for(candidate, {std::string(kProbeFlag) + info.name}));
        ResultLines lines = parse_result_lines(probe.results);
        if (!probe.succeeded()) {
            leave_out(info, "not usable (its probe process ended with " + probe.status() + ")");
            continue;
        }
        if (result_value(lines, "malloc_interposed", "1") != "1") {
            leave_out(info, "not usable (malloc in its process comes from " + result_value(lines, "malloc_from") +
                                ", not " + candidate.library + ")");
            continue;
        }
        candidate.version = result_value(lines, "version");
        std::string missing = result_value(lines, "not_interposed");
        if (!missing.empty())
            std::fprintf(stderr,
                         "%s: these entry points are not its own, and the drivers call them: their calls "
                         "go elsewhere: %s\n",
                         info.name.c_str(), missing.c_str());
        missing = result_value(lines, "not_interposed_uncalled");
        if (!missing.empty())
            std::fprintf(stderr,
                         "%s: these entry points are not its own; the drivers never call them, a real "
                         "program may: %s\n",
                         info.name.c_str(), missing.c_str());
        usable.push_back(candidate);
    }
    return usable;
}

std::vector<std::string> parse_allocator_list(const std::string &text) {
    std::vector<std::string> names = split_list("--allocators", text);
    for (const auto &name : names)
        if (!find_allocator(name))
            throw UsageError("unknown allocator '" + name + "' (known: " + allocator_names() + ")");
    return names;
}

std::vector<UsableAllocator> allocators_to_run(const std::vector<std::string> &wanted,
                                               bool (*fits)(const AllocatorInfo &), const std::string &why_not,
                                               Facts *facts) {
    // Named allocators of which none takes part: a usage error, before any probe.
    std::string unfit;
    bool any_fits = wanted.empty();
    for (const auto &name : wanted) {
        const AllocatorInfo *info = find_allocator(name);
        if (info && fits(*info)) any_fits = true;
        else unfit += (unfit.empty() ? "" : ", ") + name;
    }
    if (!any_fits) throw UsageError("--allocators: " + unfit + ": " + why_not);
    std::vector<UsableAllocator> chosen;
    std::vector<LeftOut> left_out;
    const std::vector<UsableAllocator> usable = find_usable_allocators(wanted, &left_out);
    for (const LeftOut &gone : left_out)
        if (fits(*gone.info)) set_fact(facts, "unavailable." + gone.info->name, gone.why);
    for (auto &a : usable) {
        if (fits(*a.info)) {
            chosen.push_back(a);
            set_fact(facts, "allocator." + a.info->name, a.version.empty() ? "unknown" : a.version);
        } else if (!wanted.empty()) {
            std::fprintf(stderr, "%s: %s; left out\n", a.info->name.c_str(), why_not.c_str());
        }
    }
    if (chosen.empty()) std::fprintf(stderr, "no allocator to run\n");
    return chosen;
}

int run_probe_if_asked(int argc, char **argv) {
    if (argc < 2 || std::strncmp(argv[1], kProbeFlag, std::strlen(kProbeFlag)) != 0) return -1;
    const char *allocator_name = argv[1] + std::strlen(kProbeFlag);
    const AllocatorInfo *info = find_allocator(allocator_name);
    if (!info) {
        std::fprintf(stderr, "unknown allocator '%s'\n", allocator_name);
        return 1;
    }
    write_result("version", info->version ? info->version() : "");
    const char *preload = getenv("LD_PRELOAD");
    if (info->kind != AllocatorKind::Preloaded) return 0;
    // Where each entry point of the malloc family comes from in this process,
    // and whether the drivers' own calls (ProcessMalloc's) reach it: one that
    // they reach and the library does not define mixes glibc into its figures.
    struct EntryPoint {
        const char *name;
        bool called_by_drivers;
    };
    // aligned_alloc: libstdc++'s aligned operator new, which the replay's
    // session (64-byte aligned for its threads' turn) is made with.
    static const EntryPoint entry_points[] = {{"malloc", true},          {"free", true},
                                              {"calloc", true},          {"realloc", true},
                                              {"memalign", true},        {"malloc_usable_size", true},
                                              {"aligned_alloc", true},   {"posix_memalign", false},
                                              {"valloc", false},         {"pvalloc", false}};
    const std::string expected = preload && *preload ? real_path(preload) : "";
    std::string not_interposed, not_interposed_uncalled, malloc_from;
    for (const EntryPoint &entry : entry_points) {
        Dl_info where{};
        void *function = dlsym(RTLD_DEFAULT, entry.name);
        std::string from = function && dladdr(function, &where) && where.dli_fname ? real_path(where.dli_fname) : "(none)";
        if (std::string(entry.name) == "malloc") malloc_from = from;
        if (expected.empty() || from == expected) continue;
        std::string &list = entry.called_by_drivers ? not_interposed : not_interposed_uncalled;
        list += (list.empty() ? "" : ", ") + std::string(entry.name) + " (from " + from + ")";
    }
    write_result("malloc_from", malloc_from);
    write_result("malloc_interposed", expected.empty() || malloc_from == expected ? "1" : "0");
    write_result("not_interposed", not_interposed);
    write_result("not_interposed_uncalled", not_interposed_uncalled);
    return 0;
}

int driver_main(int argc, char **argv, const char *program, const char *usage, const std::function<int()> &run) {
    const int probe = run_probe_if_asked(argc, argv);
    if (probe >= 0) return probe;
    for (int i = 1; i < argc; i++)
        if (std::strcmp(argv[i], "--help") == 0 || std::strcmp(argv[i], "-h") == 0) {
            std::fputs(usage, stdout);
            return 0;
        }
    try {
        return run();
    } catch (const UsageError &e) {
        std::fprintf(stderr, "%s: %s\n%s", program, e.what(), usage);
        return kExitUsage;
    }
}

static volatile sig_atomic_t interrupt_seen = 0;
static void on_interrupt(int) { interrupt_seen = 1; }

void catch_interrupts() {
    // A closed terminal and a reader of the output gone (`| head`) too: the
    // run stops as interrupted and removes its temporary files, as it did not
    // when SIGPIPE ended it. A signal the driver was started with ignored
    // stays ignored: `nohup` runs go on after a hang-up, a background job's
    // SIGINT is not the terminal's.
    for (int sig : {SIGINT, SIGTERM, SIGHUP, SIGPIPE}) {
        struct sigaction old {};
        if (sigaction(sig, nullptr, &old) == 0 && old.sa_handler == SIG_IGN) continue;
        std::signal(sig, on_interrupt);
    }
}

bool interrupted() { return interrupt_seen != 0; }

int stop_interrupted(const char *program, const std::string &temp_dir) {
    std::error_code ignored;
    if (!temp_dir.empty()) std::filesystem::remove_all(temp_dir, ignored);
    std::fprintf(stderr, "\n%s: interrupted; nothing written\n", program);
    return 130;
}

std::string make_temp_dir(const std::string &prefix) {
    const char *tmpdir = getenv("TMPDIR");
    std::string pattern = std::string(tmpdir && *tmpdir ? tmpdir : "/tmp") + "/" + prefix + ".XXXXXX";
    std::vector<char> temp(pattern.begin(), pattern.end());
    temp.push_back('\0');
    if (!mkdtemp(temp.data())) {
        std::fprintf(stderr, "%s: cannot make a temporary directory %s: %s\n", prefix.c_str(), pattern.c_str(),
                     std::strerror(errno));
        return "";
    }
    return temp.data();
}

}  // namespace bench
