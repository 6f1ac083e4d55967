#include "facts.h"

#include <gnu/libc-version.h>
#include <sys/mman.h>
#include <sys/utsname.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <ctime>
#include <fstream>
#include <vector>

extern char **environ;

#ifndef BENCH_SOURCE_DIR
#define BENCH_SOURCE_DIR "."
#endif

namespace bench {

static std::string first_line_of_command(const std::string &command) {
    FILE *pipe = popen(command.c_str(), "r");
    if (!pipe) return "";
    char line[512] = "";
    if (!std::fgets(line, sizeof line, pipe)) line[0] = '\0';
    pclose(pipe);
    std::string text = line;
    while (!text.empty() && (text.back() == '\n' || text.back() == '\r')) text.pop_back();
    return text;
}

// The source tree's commit now (not at build time), "-dirty" when tracked
// files differ from it.
static std::string source_commit() {
    const std::string git = "git -C '" BENCH_SOURCE_DIR "' ";
    std::string commit = first_line_of_command(git + "rev-parse --short=12 HEAD 2>/dev/null");
    if (commit.empty()) return "unknown";
    if (!first_line_of_command(git + "status --porcelain --untracked-files=no 2>/dev/null").empty())
        commit += "-dirty";
    return commit;
}

static std::string cpu_model() {
    std::ifstream cpuinfo("/proc/cpuinfo");
    std::string line;
    while (std::getline(cpuinfo, line))
        if (line.rfind("model name", 0) == 0 && line.find(':') != std::string::npos) {
            std::string model = line.substr(line.find(':') + 1);
            return model.substr(model.find_first_not_of(" \t"));
        }
    return "unknown";
}

static std::string compiler() {
#if defined(__clang__)
    return std::string("clang ") + __clang_version__;
#elif defined(__GNUC__)
    return std::string("gcc ") + __VERSION__;
#else
    return "unknown";
#endif
}

// What a first write to an OS page of fresh anonymous memory costs here, in
// microseconds: the median of 3 rounds over 8 MiB of small pages; "unknown"
// when the memory cannot be had. Every allocator pays it for each page it hands
// out, and on VMs it is 1.6 to 15 us from one host to the next (docs/design.md:
// faults were most of a recorded replay's time at 14 us), so two runs' ratios
// can differ by it alone.
static std::string page_fault_us() {
    const size_t bytes = size_t{8} << 20, page = static_cast<size_t>(sysconf(_SC_PAGESIZE));
    std::vector<double> rounds;
    for (int round = 0; round < 3; round++) {
        void *map = mmap(nullptr, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        if (map == MAP_FAILED) return "unknown";
#ifdef MADV_NOHUGEPAGE
        madvise(map, bytes, MADV_NOHUGEPAGE); // one fault per small page, whatever THP is set to
#endif
        volatile char *bytes_at = static_cast<volatile char *>(map);
        const auto start = std::chrono::steady_clock::now();
        for (size_t offset = 0; offset < bytes; offset += page) bytes_at[offset] = 1;
        const std::chrono::duration<double, std::micro> took = std::chrono::steady_clock::now() - start;
        munmap(map, bytes);
        rounds.push_back(took.count() / static_cast<double>(bytes / page));
    }
    std::sort(rounds.begin(), rounds.end());
    char text[32];
    std::snprintf(text, sizeof text, "%.2f", rounds[1]);
    return text;
}

Facts machine_facts(const std::string &command) {
    Facts facts;
    facts.emplace_back("command", command);
    char date[64];
    std::time_t now = std::time(nullptr);
    std::strftime(date, sizeof date, "%Y-%m-%dT%H:%M:%SZ", std::gmtime(&now));
    facts.emplace_back("date", date);
    facts.emplace_back("commit", source_commit());
    facts.emplace_back("cpu", cpu_model());
    facts.emplace_back("cores", std::to_string(sysconf(_SC_NPROCESSORS_ONLN)));
    struct utsname u;
    facts.emplace_back("kernel", uname(&u) == 0 ? u.release : "unknown");
    facts.emplace_back("glibc", gnu_get_libc_version());
    facts.emplace_back("compiler", compiler());
    facts.emplace_back("page_fault_us", page_fault_us());
    return facts;
}

std::string shell_word(const std::string &text) {
    const bool plain = !text.empty() && text.find_first_not_of("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
                                                               "0123456789-_=./,:+@%") == std::string::npos;
    if (plain) return text;
    std::string quoted = "'";
    for (char c : text) quoted += c == '\'' ? std::string("'\\''") : std::string(1, c);
    return quoted + "'";
}

std::string shell_setting(const std::string &name_value) {
    const size_t eq = name_value.find('=');
    return name_value.substr(0, eq + 1) + shell_word(name_value.substr(eq + 1));
}

// Variables that change how an allocator behaves: arena's (ARENA_CHECKED,
// ARENA_SECURE, ARENA_BLOCK_SIZE ...), glibc's malloc tunables, and the
// comparators' options. The children inherit them.
static bool changes_an_allocator(const std::string &name) {
    for (const char *prefix : {"ARENA_", "MALLOC_", "MIMALLOC_", "TCMALLOC_"})
        if (name.rfind(prefix, 0) == 0) return true;
    return name == "GLIBC_TUNABLES" || name == "JE_MALLOC_CONF";
}

std::string command_line(int argc, char **argv) {
    std::vector<std::string> settings;
    for (char **e = environ; *e; ++e) {
        const std::string entry = *e;
        if (changes_an_allocator(entry.substr(0, entry.find('=')))) settings.push_back(entry);
    }
    std::sort(settings.begin(), settings.end());
    std::string line;
    for (const std::string &setting : settings) line += shell_setting(setting) + " ";
    for (int i = 0; i < argc; i++) line += (i ? " " : "") + shell_word(argv[i]);
    return line;
}

void set_fact(Facts *facts, const std::string &key, const std::string &value) {
    for (auto &fact : *facts)
        if (fact.first == key) {
            fact.second = value;
            return;
        }
    facts->emplace_back(key, value);
}

}  // namespace bench
