// arena-trace: validate, describe, generate and record allocation traces.
// Exit codes: 0 done, 1 a bad trace or a failure, 2 bad usage.
#include <dirent.h>
#include <fcntl.h>
#include <sys/personality.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <map>
#include <new>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "gen.h"
#include "trace.h"

namespace {

struct Command {
    const char *name;
    const char *synopsis;
    const char *help;
    int (*run)(const std::vector<std::string> &args);
};
extern const Command kCommands[];
extern const size_t kCommandCount;

const char *const kOverview =
    "usage: arena-trace COMMAND [ARGS...]\n"
    "Reads, checks, describes, generates and records allocation traces\n"
    "(format: docs/trace-format.md; FILE may be .trace or .trace.gz).\n\ncommands:\n";

void print_usage(FILE *out) {
    fputs(kOverview, out);
    for (size_t i = 0; i < kCommandCount; i++) fprintf(out, "  %s\n", kCommands[i].synopsis);
    fputs("\n'arena-trace COMMAND --help' tells more about one command.\n", out);
}

int usage_error(const Command &c, const std::string &why) {
    fprintf(stderr, "arena-trace %s: %s\nusage: arena-trace %s\n", c.name, why.c_str(), c.synopsis);
    return 2;
}

bool parse_count(const std::string &text, uint64_t *value) {
    if (text.empty() || text.size() > 20 || text.find_first_not_of("0123456789") != std::string::npos)
        return false;
    errno = 0;
    *value = strtoull(text.c_str(), nullptr, 10);
    return errno == 0;
}

std::string op_counts(const trace::Facts &f) {
    std::ostringstream s;
    s << f.ops << " ops (a " << f.count[0] << ", c " << f.count[1] << ", m " << f.count[2] << ", r "
      << f.count[3] << ", f " << f.count[4] << ")";
    return s.str();
}

// The two peaks are apart: the most live blocks need not be live when the live
// bytes peak, so the blocks are not said to be those of the byte peak.
std::string summary(const trace::Trace &t) {
    std::ostringstream s;
    s << op_counts(t.facts) << ", " << t.facts.threads << " thread" << (t.facts.threads == 1 ? "" : "s")
      << ", peak " << t.facts.peak_live_bytes << " live bytes, " << t.facts.peak_live_blocks
      << " live blocks at most";
    return s.str();
}

// The FILE operands of a command that takes no options: an argument starting
// with '-' is an unknown option (but '-' alone), up to a '--' after which every
// argument is a file. Returns false after printing the usage.
bool file_operands(const Command &c, const std::vector<std::string> &args, std::vector<std::string> *files) {
    bool options_end = false;
    for (const std::string &a : args) {
        if (!options_end && a == "--") {
            options_end = true;
        } else if (!options_end && a.size() > 1 && a[0] == '-') {
            usage_error(c, "unknown option '" + a + "'");
            return false;
        } else {
            files->push_back(a);
        }
    }
    return true;
}

// The options of gen and record that take a value: the next argument is it.
bool option_takes_value(const std::string &a) { return a == "--ops" || a == "--seed" || a == "--threads" || a == "-o"; }

int cmd_validate(const std::vector<std::string> &args) {
    std::vector<std::string> files;
    if (!file_operands(kCommands[0], args, &files)) return 2;
    if (files.empty()) return usage_error(kCommands[0], "no FILE given");
    int status = 0;
    for (const std::string &path : files) {
        trace::Trace t;
        std::string error;
        if (trace::load(path, &t, &error)) {
            printf("%s: ok, %s\n", path.c_str(), summary(t).c_str());
        } else {
            fprintf(stderr, "%s\n", error.c_str());
            status = 1;
        }
    }
    return status;
}

std::string band_label(unsigned k, const char *unit) {
    char label[64];
    if (k == 0) snprintf(label, sizeof label, "0 %s", unit);
    else if (k == 1) snprintf(label, sizeof label, "1 %s", unit);
    else snprintf(label, sizeof label, "%llu-%llu %s", 1ull << (k - 1), k == 64 ? UINT64_MAX : (1ull << k) - 1, unit);
    return label;
}

void print_histogram(const char *title, const uint64_t *hist, const char *unit) {
    uint64_t total = 0, most = 0;
    for (unsigned k = 0; k <= 64; k++) total += hist[k], most = std::max(most, hist[k]);
    printf("%s\n", title);
    for (unsigned k = 0; k <= 64; k++) {
        if (!hist[k]) continue;
        const int bar = static_cast<int>((hist[k] * 40 + most - 1) / most);
        printf("  %-26s %12llu %6.2f%% %.*s\n", band_label(k, unit).c_str(), (unsigned long long)hist[k],
               100.0 * static_cast<double>(hist[k]) / static_cast<double>(total), bar,
               "########################################");
    }
}

int cmd_stats(const std::vector<std::string> &args) {
    std::vector<std::string> files;
    if (!file_operands(kCommands[1], args, &files)) return 2;
    if (files.size() != 1) return usage_error(kCommands[1], files.empty() ? "no FILE given" : "one FILE at a time");
    trace::Trace t;
    std::string error;
    if (!trace::load(files[0], &t, &error)) {
        fprintf(stderr, "%s\n", error.c_str());
        return 1;
    }
    const trace::Facts &f = t.facts;
    // Ops count from 1, as in FILE:LINE messages and validate: the first op is
    // op 1, and op 0 is the start, where a trace that never holds a live byte peaks.
    const uint64_t peak_op = f.peak_live_bytes ? f.peak_op + 1 : 0;
    printf("trace        %s\n", t.name.c_str());
    printf("ops          %s\n", op_counts(f).c_str());
    printf("peak live    %llu bytes (%.2f MiB) after op %llu; %llu blocks at most\n",
           (unsigned long long)f.peak_live_bytes, static_cast<double>(f.peak_live_bytes) / 1048576.0,
           (unsigned long long)peak_op, (unsigned long long)f.peak_live_blocks);
    printf("never freed  %llu blocks, %llu bytes\n", (unsigned long long)f.final_live_blocks,
           (unsigned long long)f.final_live_bytes);
    printf("threads      %u (largest id %u)", f.threads, f.max_thread);
    if (f.threads > 1)  // what a threaded replay has to wait for
        printf("; %llu frees of blocks another thread allocated", (unsigned long long)trace::cross_thread_frees(t));
    printf("\n");
    printf("slots        %u\n", f.slot_count);
    print_histogram("sizes (bytes asked by a/c/m/r; c: N*SIZE):", f.size_hist, "B");
    const trace::Lifetimes life = trace::lifetimes(t);
    print_histogram("lifetimes (ops from allocation to free):", life.hist, "ops");
    printf("  %-26s %12llu\n", "never freed", (unsigned long long)life.never_freed);
    return 0;
}

int cmd_gen(const std::vector<std::string> &args) {
    const Command &c = kCommands[2];
    if (std::find(args.begin(), args.end(), "--list") != args.end()) {
        if (args.size() != 1) return usage_error(c, "--list takes no WORKLOAD or option");
        for (const trace::Workload &w : trace::workloads())
            printf("%-13s %s (default --ops %llu)\n", w.name, w.summary, (unsigned long long)w.default_ops);
        return 0;
    }
    std::string workload, output;
    trace::GenOptions options;
    for (size_t i = 0; i < args.size(); i++) {
        // --ops N and --ops=N alike, as the bench drivers take them
        std::string a = args[i], inline_value;
        const size_t equals = a.find('=');
        const bool inline_given = a.compare(0, 2, "--") == 0 && equals != std::string::npos;
        if (inline_given) {
            inline_value = a.substr(equals + 1);
            a.resize(equals);
        }
        uint64_t value = 0;
        if (option_takes_value(a)) {
            if (!inline_given && i + 1 == args.size()) return usage_error(c, a + " needs a value");
            const std::string v = inline_given ? inline_value : args[++i];
            if (v.empty()) return usage_error(c, a + " needs a value, not ''");
            if (a == "-o") {
                output = v;
                continue;
            }
            if (!parse_count(v, &value)) return usage_error(c, a + " takes an unsigned number, not '" + v + "'");
            if (a == "--ops" && (value < trace::kMinGenOps || value > (1ull << 32)))
                return usage_error(c, "--ops takes " + std::to_string(trace::kMinGenOps) + " to 4294967296");
            if (a == "--threads" && (value == 0 || value > trace::kMaxThread + 1))
                return usage_error(c, "--threads takes 1 to " + std::to_string(trace::kMaxThread + 1));
            if (a == "--ops") options.ops = value;
            if (a == "--seed") options.seed = value;
            if (a == "--threads") options.threads = static_cast<uint32_t>(value);
        } else if (a[0] == '-') {
            return usage_error(c, "unknown option '" + args[i] + "'");
        } else if (workload.empty()) {
            workload = a;
        } else {
            return usage_error(c, "one WORKLOAD at a time");
        }
    }
    if (workload.empty()) return usage_error(c, "no WORKLOAD given (gen --list names them)");
    if (!trace::find_workload(workload)) return usage_error(c, "unknown workload '" + workload + "' (gen --list names them)");
    trace::Trace t;
    std::string error;
    if (!trace::generate(workload, options, &t, &error)) return usage_error(c, error);
    if (output.empty() || output == "-") {
        const std::string text = trace::to_text(t);
        if (fwrite(text.data(), 1, text.size(), stdout) != text.size() || fflush(stdout) != 0) {
            fprintf(stderr, "arena-trace gen: cannot write to stdout: %s\n", strerror(errno));
            return 1;
        }
        return 0;
    }
    if (!trace::write(output, t, &error)) {
        fprintf(stderr, "arena-trace gen: %s\n", error.c_str());
        return 1;
    }
    return 0;
}

// ---- record ----------------------------------------------------------------

bool ends_with(const std::string &s, const std::string &suffix) {
    return s.size() >= suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

std::string recorder_library() {
    char self[4096];
    ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
    if (n <= 0) return "";
    std::string dir(self, static_cast<size_t>(n));
    dir.resize(dir.find_last_of('/'));
    return dir + "/../lib/libarena_record.so";
}

volatile sig_atomic_t recorded_pid = 0;
void forward_to_recorded(int signal_number) {
    const int saved = errno;
    if (recorded_pid > 0) kill(recorded_pid, signal_number);
    errno = saved;
}

// While the command runs, a ctrl-C (SIGINT to the whole process group) is the
// command's to handle, as system(3) does: record waits, then keeps what was
// written and says how the command ended. Before, record died first and left
// its temporary files, the child's growing on. A SIGTERM or SIGHUP sent to
// record alone goes on to the command.
//
// The four are blocked from before record makes its first temporary file
// until it handles them: one that came between the fork and the handlers
// killed record (its temporary files left, the command running on unwatched).
// The child puts back what record had before it runs the command, as
// system(3) and posix_spawn do. Held from construction to restore(), and
// blocked again from then to release(): once the command has ended, record
// moves the traces from their temporary names, and one that came meanwhile
// killed it halfway, leaving the rest as FILE.tmp*; it now waits until they
// are all in place, then acts as record was started to have it act.
class RecordingSignals {
public:
    RecordingSignals() {
        sigemptyset(&these_);
        for (int s : kSignals) sigaddset(&these_, s);
        sigprocmask(SIG_BLOCK, &these_, &old_mask_);
        struct sigaction ignore {}, forward {};
        ignore.sa_handler = SIG_IGN;
        forward.sa_handler = forward_to_recorded;
        for (size_t i = 0; i < kCount; i++)
            sigaction(kSignals[i], kSignals[i] == SIGINT || kSignals[i] == SIGQUIT ? &ignore : &forward, &old_[i]);
        // Started with SIGCHLD ignored (or SA_NOCLDWAIT), record's child
        // would be reaped by the kernel: waitpid fails (ECHILD), and record
        // said "cannot run" and left the traces as FILE.tmp*.
        struct sigaction child_default {};
        child_default.sa_handler = SIG_DFL;
        sigaction(SIGCHLD, &child_default, &old_child_);
    }
    // In record, once recorded_pid names the child: what came meanwhile is
    // handled now.
    void unblock() const { sigprocmask(SIG_SETMASK, &old_mask_, nullptr); }
    // The dispositions record was started with (SIGCHLD's too), the four
    // blocked: in record once the child has ended (before it is reaped),
    // while it moves the traces (an ignored signal is dropped even while
    // blocked: SIGINT and SIGQUIT must not be ignored then).
    void restore() {
        if (!held_) return;
        held_ = false;
        const int saved = errno;
        sigprocmask(SIG_BLOCK, &these_, nullptr);
        for (size_t i = 0; i < kCount; i++) sigaction(kSignals[i], &old_[i], nullptr);
        sigaction(SIGCHLD, &old_child_, nullptr);
        errno = saved;
    }
    // All as record was started: in the child before exec, and in record once
    // the traces are in place. One that came meanwhile acts now.
    void release() {
        restore();  // keeps errno, as sigprocmask does when it succeeds
        unblock();
    }
    ~RecordingSignals() { release(); }
    RecordingSignals(const RecordingSignals &) = delete;
    RecordingSignals &operator=(const RecordingSignals &) = delete;

private:
    bool held_ = true;
    static constexpr int kSignals[] = {SIGINT, SIGQUIT, SIGTERM, SIGHUP};
    static constexpr size_t kCount = sizeof kSignals / sizeof kSignals[0];
    sigset_t these_, old_mask_;
    struct sigaction old_[kCount], old_child_;
};

// SIGXFSZ's disposition when arena-trace started (main ignores it).
struct sigaction g_started_xfsz;

// Runs argv with the recorder preloaded and address randomisation off (the
// personality setarch -R sets, applied here so that setarch itself is not
// recorded). Returns the wait status, or -1 with errno set; *exec_errno is the
// error of an exec that failed (0 when the command started), told apart from a
// command that ran and exited 127 by a close-on-exec pipe the child writes it to.
int run_recorded(const std::vector<std::string> &argv, const std::string &library, const std::string &base,
                 const std::string &list, RecordingSignals &signals, int *exec_errno, pid_t *command_pid) {
    *exec_errno = 0;
    int exec_report[2];
    if (pipe2(exec_report, O_CLOEXEC) != 0) return -1;
    pid_t pid = fork();
    if (pid < 0) {
        const int saved = errno;
        close(exec_report[0]);
        close(exec_report[1]);
        errno = saved;
        return -1;
    }
    if (pid == 0) {
        signals.release();
        sigaction(SIGXFSZ, &g_started_xfsz, nullptr);
        close(exec_report[0]);
        std::string preload = library;
        if (const char *old = getenv("LD_PRELOAD"); old && *old) preload += std::string(":") + old;
        setenv("LD_PRELOAD", preload.c_str(), 1);
        setenv("ARENA_RECORD_FILE", base.c_str(), 1);
        setenv("ARENA_RECORD_LIST", list.c_str(), 1);
        setenv("ARENA_RECORD_ROOT_PID", std::to_string(getpid()).c_str(), 1);
        if (personality(0xffffffff) != -1) personality(static_cast<unsigned long>(personality(0xffffffff)) | ADDR_NO_RANDOMIZE);
        std::vector<char *> args;
        for (const std::string &a : argv) args.push_back(const_cast<char *>(a.c_str()));
        args.push_back(nullptr);
        execvp(args[0], args.data());
        const int error = errno;
        (void)!write(exec_report[1], &error, sizeof error);
        _exit(127);
    }
    close(exec_report[1]);
    *command_pid = pid;
    recorded_pid = pid;
    signals.unblock();
    while (read(exec_report[0], exec_errno, sizeof *exec_errno) < 0 && errno == EINTR) {
    }
    close(exec_report[0]);
    // Waited for without reaping first: until the handlers are gone, one may
    // send a signal to recorded_pid, which must still be the command's (a
    // zombie), never another process's that took its pid once reaped.
    int status = 0, result = 0;
    siginfo_t ended;
    while (waitid(P_PID, static_cast<id_t>(pid), &ended, WEXITED | WNOWAIT) < 0)
        if (errno != EINTR) {
            result = -1;
            break;
        }
    signals.restore();  // a signal now waits for the traces to move
    recorded_pid = 0;
    while (waitpid(pid, &status, 0) < 0)
        if (errno != EINTR) {
            result = -1;
            break;
        }
    return result ? result : status;
}

// A line of the recorder's list: a trace it made (mark 0), one it could not
// create ('!') or one cut short ('~'), why (errno) and whose.
struct Listed {
    std::string plain;  // where the recorder wrote it, or would have
    char mark = 0;
    int error = 0;
    long pid = 0;
    std::string process;  // the kernel's name for it (at most 15 bytes)
    // A trace made: the images of its pid that could not create a trace under
    // its name, before the one that made it and after (it names the trace an
    // image would have made first, whatever the error). One never made: the
    // later images that could not create it either (unmade_after).
    std::vector<Listed> unmade_before, unmade_after;
    std::vector<Listed> lost;  // a trace made: why it was cut short
};

// The recorder's list, in its order: a trace made is listed by its plain name,
// one it could not create as "! ERRNO PID NAME PATH", and one it made and
// then lost (the program took its descriptor, and it could not be opened
// again) as "~ ERRNO PID NAME PATH" (record.c). Lines of other files are
// skipped. A path listed made and not made is one trace, made by one image of
// the pid and not by another (exec): it is reported once, as made, with what
// the others could not record; one listed not made by every image, once, as
// not made.
std::vector<Listed> read_list(const std::string &list, const std::string &base) {
    std::vector<Listed> listed;
    std::ifstream names(list);
    for (std::string line; std::getline(names, line);) {
        Listed entry;
        if (line.compare(0, 2, "! ") == 0 || line.compare(0, 2, "~ ") == 0) {
            entry.mark = line[0];
            std::istringstream fields(line.substr(2));
            if (!(fields >> entry.error >> entry.pid >> entry.process) || fields.get() != ' ') continue;
            std::getline(fields, line);
        }
        entry.plain = line;
        if (line.compare(0, base.size(), base) == 0) listed.push_back(entry);
    }
    std::vector<bool> folded(listed.size());
    for (size_t i = 0; i < listed.size(); i++) {
        if (listed[i].mark == 0) continue;
        const auto made = std::find_if(listed.begin(), listed.end(),
                                       [&](const Listed &e) { return e.mark == 0 && e.plain == listed[i].plain; });
        if (made == listed.end()) {
            if (listed[i].mark == '~') {  // lost, its making not listed (the list was lost then): made
                const Listed why = listed[i];
                listed[i].lost.push_back(why);
                listed[i].mark = 0;
                continue;
            }
            // Never made, by any image of its pid: said once, with the later ones.
            const auto first = std::find_if(listed.begin(), listed.begin() + static_cast<long>(i), [&](const Listed &e) {
                return e.mark == '!' && e.plain == listed[i].plain;
            });
            if (first == listed.begin() + static_cast<long>(i)) continue;
            folded[i] = true;
            first->unmade_after.push_back(listed[i]);
            continue;
        }
        folded[i] = true;
        if (listed[i].mark == '~') made->lost.push_back(listed[i]);
        else (made - listed.begin() > static_cast<long>(i) ? made->unmade_before : made->unmade_after).push_back(listed[i]);
    }
    std::vector<Listed> merged;
    for (size_t i = 0; i < listed.size(); i++)
        if (!folded[i]) merged.push_back(listed[i]);
    return merged;
}

// What the recorder's list says of the processes, in one pass over it:
// - loaded: the command's first process loaded the recorder (its line,
//   record.c: RECORD_LOADED_LINE);
// - unrecorded_execs: the processes whose last exec ran an image without the
//   recorder ("exec PID" with neither "exec-failed PID" nor "image PID" after
//   it): a static, setuid or setgid program that a recorded one started by
//   exec. Its heap calls are in no trace.
struct ListedProcesses {
    bool loaded = false;
    std::vector<long> unrecorded_execs;
    std::set<long> started;  // every process that loaded the recorder or was forked by one
};
ListedProcesses read_list_processes(const std::string &list) {
    ListedProcesses out;
    std::map<long, bool> pending;
    std::ifstream names(list);
    for (std::string line; std::getline(names, line);) {
        if (line == "loaded") out.loaded = true;
        std::istringstream fields(line);
        std::string word;
        long pid = 0;
        if (!(fields >> word >> pid) || !fields.eof()) continue;
        if (word == "exec") pending[pid] = true;
        else if (word == "exec-failed" || word == "image") pending[pid] = false;
        if (word == "image" || word == "fork") out.started.insert(pid);
    }
    for (const auto &p : pending)
        if (p.second) out.unrecorded_execs.push_back(p.first);
    return out;
}

// Says what the images of a made trace's pid that could not create it lost;
// true when there were any.
bool report_unmade_images(const Listed &made, const std::string &path) {
    for (const Listed &e : made.unmade_before)
        fprintf(stderr, "arena-trace record: %s holds what a later image of process %ld recorded: an earlier one "
                        "(%s) could not create it (%s), and its heap calls went unrecorded\n", path.c_str(), e.pid,
                e.process.c_str(), strerror(e.error));
    for (const Listed &e : made.unmade_after)
        fprintf(stderr, "arena-trace record: %s holds what an earlier image of process %ld recorded: a later one "
                        "(%s) could not create a trace of its own (%s), and its heap calls went unrecorded\n",
                path.c_str(), e.pid, e.process.c_str(), strerror(e.error));
    return !made.unmade_before.empty() || !made.unmade_after.empty();
}

// Why a trace made was cut short, when the recorder knows.
std::string lost_cause(const Listed &made) {
    if (made.lost.empty()) return "";
    const Listed &e = made.lost.front();
    return "process " + std::to_string(e.pid) + " (" + e.process + ") closed the recorder's descriptor of it (or put " +
           "another file there) and it could not be opened again (" + strerror(e.error) + ")";
}

// The recorder ends each trace with a comment line ('# exit: ...', '# _exit: ...',
// '# exec: ...', '# abort: ...') when its process leaves through a way it
// sees; one killed by a signal loses its buffer and that line. A trace made
// here for a first process that never allocated is complete too.
bool closed_by_recorder(const std::string &text) {
    if (text == "arena-trace 1\n") return true;
    if (text.size() < 2 || text.back() != '\n') return false;  // the recorder writes whole lines
    const size_t newline = text.rfind('\n', text.size() - 2);
    const std::string last = text.substr(newline == std::string::npos ? 0 : newline + 1);
    return last.compare(0, 2, "# ") == 0 && last.compare(0, 14, "# recorded by ") != 0;
}

// The last `max` bytes of the file at path (all of it when shorter); empty when
// it cannot be read.
std::string file_tail(const std::string &path, std::streamoff max) {
    std::ifstream in(path, std::ios::binary | std::ios::ate);
    const std::streamoff size = in ? static_cast<std::streamoff>(in.tellg()) : 0;
    const std::streamoff start = size > max ? size - max : 0;
    in.seekg(start);
    return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
}

// Cuts the file at path (size bytes) back to the end of its last whole line;
// true when there was a part of a line to cut.
bool drop_partial_line(const std::string &path, off_t size) {
    const std::string tail = file_tail(path, 65536);
    if (tail.empty() || tail.back() == '\n') return false;
    const size_t newline = tail.rfind('\n');
    if (newline == std::string::npos && static_cast<off_t>(tail.size()) < size) return false;  // no line end near
    const off_t keep = size - static_cast<off_t>(tail.size() - (newline == std::string::npos ? 0 : newline + 1));
    return truncate(path.c_str(), keep) == 0;
}

// Whether process pid is still running: there, and not a zombie (a child of
// the command's that ended unreaped, under a PID 1 that reaps nothing).
bool process_running(pid_t pid) {
    std::ifstream stat_file("/proc/" + std::to_string(pid) + "/stat");
    std::string line;
    if (!std::getline(stat_file, line)) return kill(pid, 0) == 0 || errno == EPERM;  // no /proc
    const size_t name_end = line.rfind(')');
    return name_end != std::string::npos && name_end + 2 < line.size() && line[name_end + 2] != 'Z' &&
           line[name_end + 2] != 'X';
}

// Whether process pid is one of this recording's still running: running, with
// this recording's list in its environment (`entry`, ARENA_RECORD_LIST=...). A
// pid listed may be another process's by now (reused, or in another pid
// namespace: a command run under `unshare -p` lists pids 1 and 2). Not the
// recorder in its maps: an image just exec'd has not mapped it yet. An
// environment read as empty is read again for up to 100 ms: a process in the
// middle of an exec shows none (a kernel thread never does). Without /proc,
// running alone.
bool recorded_process_running(pid_t pid, const std::string &entry) {
    for (int attempt = 0; attempt < 20; attempt++) {
        if (!process_running(pid)) return false;
        std::ifstream environment("/proc/" + std::to_string(pid) + "/environ", std::ios::binary);
        if (!environment) return access("/proc/self/environ", R_OK) != 0;
        bool empty = true;
        for (std::string variable; std::getline(environment, variable, '\0'); empty = false)
            if (variable == entry) return true;
        if (!empty) return false;
        usleep(5000);
    }
    return false;
}

// The recorder's files of other processes (BASE.PID, BASE.PID.N) still there
// once record has moved what the list named, in name order.
std::vector<std::string> traces_left_behind(const std::string &base) {
    const size_t slash = base.find_last_of('/');
    const std::string directory = base.substr(0, slash), prefix = base.substr(slash + 1) + ".";
    std::vector<std::string> left;
    if (DIR *d = opendir(directory.c_str())) {
        while (const dirent *e = readdir(d)) {
            const std::string name = e->d_name;
            if (name.size() > prefix.size() && name.compare(0, prefix.size(), prefix) == 0 &&
                name.find_first_not_of("0123456789.", prefix.size()) == std::string::npos)
                left.push_back(directory + "/" + name);
        }
        closedir(d);
    }
    std::sort(left.begin(), left.end());
    return left;
}

int cmd_record(const std::vector<std::string> &args) {
    const Command &c = kCommands[3];
    std::string output;
    size_t i = 0;
    for (; i < args.size() && args[i] != "--"; i++) {
        if (args[i] != "-o") return usage_error(c, "unexpected '" + args[i] + "'");
        if (i + 1 == args.size() || args[i + 1] == "--") return usage_error(c, "-o needs a FILE");
        output = args[++i];
    }
    if (output.empty()) return usage_error(c, "-o FILE is required");
    // The list of traces the recorder passes back holds one path a line.
    if (output.find('\n') != std::string::npos) return usage_error(c, "-o FILE may not hold a newline");
    if (output[0] != '/') {  // the recorded program may change directory
        char cwd[4096];
        if (!getcwd(cwd, sizeof cwd)) {
            fprintf(stderr, "arena-trace record: cannot tell the current directory: %s\n", strerror(errno));
            return 1;
        }
        output = std::string(cwd) + "/" + output;
    }
    if (i == args.size()) return usage_error(c, "no -- and COMMAND after -o FILE");
    if (i + 1 >= args.size()) return usage_error(c, "no COMMAND after --");
    const std::vector<std::string> command(args.begin() + static_cast<long>(i) + 1, args.end());
    const std::string library = recorder_library();
    if (access(library.c_str(), R_OK) != 0) {
        fprintf(stderr, "arena-trace record: recorder library not found at %s\n", library.c_str());
        return 1;
    }
    if (library.find_first_of(" :") != std::string::npos) {
        fprintf(stderr, "arena-trace record: cannot preload %s: LD_PRELOAD splits paths at blanks and colons "
                        "(build in a directory whose path has neither)\n", library.c_str());
        return 1;
    }
    // The recorder writes plain text (a process may end without a chance to
    // finish a gzip stream); the files are compressed here afterwards. It
    // writes beside FILE, which is replaced only once the command has run: a
    // command that cannot be started leaves an earlier FILE as it was.
    // FILE is checked before the command runs, which may take long: a
    // directory there could not be replaced by the trace once it is made.
    const bool gz = ends_with(output, ".gz");
    struct stat existing;
    if (stat(output.c_str(), &existing) == 0 && S_ISDIR(existing.st_mode)) {
        fprintf(stderr, "arena-trace record: cannot write %s: %s\n", output.c_str(), strerror(EISDIR));
        return 1;
    }
    const std::string base = output + ".tmp", list = output + ".files.tmp";
    RecordingSignals signals;
    unlink(base.c_str());
    FILE *l = fopen(list.c_str(), "w");
    if (!l) {
        fprintf(stderr, "arena-trace record: cannot write %s (beside it, %s): %s\n", output.c_str(), list.c_str(),
                strerror(errno));
        return 1;
    }
    fclose(l);
    // FILE.tmp.PID files of an earlier record of FILE (a background process
    // that outlived it) are not this run's: they are left as they are.
    const std::vector<std::string> stale = traces_left_behind(base);
    int exec_errno = 0;
    pid_t command_pid = 0;
    const int status = run_recorded(command, library, base, list, signals, &exec_errno, &command_pid);
    if (status == -1 || exec_errno) {
        const int error = exec_errno ? exec_errno : errno;
        unlink(list.c_str());
        fprintf(stderr, "arena-trace record: cannot run '%s': %s; nothing written\n", command[0].c_str(),
                strerror(error));
        return exec_errno ? 127 : 1;
    }
    std::vector<Listed> written = read_list(list, base);
    const ListedProcesses processes = read_list_processes(list);
    const bool loaded = processes.loaded;
    unlink(list.c_str());
    if (!loaded) {
        // No trace is made up for it: the dynamic loader ignores LD_PRELOAD for
        // a setuid or setgid program, a static one has no loader at all, and a
        // command may die (a signal, a library the loader cannot find: 127)
        // before the recorder is loaded. Its children may still have recorded
        // (a static shell's), and their traces are moved as usual.
        std::string why = "'" + command[0] + "' ran without the recorder (a setuid, setgid or static program?)";
        if (WIFSIGNALED(status))
            why = "the command was killed before the recorder was loaded in it, or " + why;
        else if (WEXITSTATUS(status) == 127)
            why = "the command exited 127 before the recorder was loaded in it (the dynamic loader could not "
                  "start it?), or " + why;
        fprintf(stderr, "arena-trace record: %s was not written: %s\n", output.c_str(), why.c_str());
    } else if (std::none_of(written.begin(), written.end(), [&](const Listed &e) { return e.plain == base; })) {
        // the first process never allocated: its trace is empty
        std::string error;
        if (!trace::write_text(base, "arena-trace 1\n", &error)) {
            fprintf(stderr, "arena-trace record: %s\n", error.c_str());
            return 1;
        }
        Listed empty;
        empty.plain = base;
        written.push_back(empty);
    }
    // FILE first, then FILE.PID and FILE.PID.N by pid and N: the order processes started
    auto order = [&](const Listed &e) {
        unsigned long long pid = 0, n = 0;
        sscanf(e.plain.c_str() + base.size(), ".%llu.%llu", &pid, &n);
        return std::make_pair(pid, n);
    };
    std::stable_sort(written.begin(), written.end(),
                     [&](const Listed &a, const Listed &b) { return order(a) < order(b); });
    int result = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    if (!loaded && result == 0) result = 1;  // a failure of its own (127, a signal) comes through
    // FILE.PID and FILE.PID.N, but the .PID goes before a last .gz (x.trace.gz:
    // x.trace.PID.gz): a name ending .gz.PID is no gzip name to the tools that
    // go by the suffix, and it unpacks to the name an uncompressed record gives.
    const std::string stem = gz ? output.substr(0, output.size() - 3) : output;
    const std::string list_entry = "ARENA_RECORD_LIST=" + list;
    std::vector<std::string> left_in_place;  // traces that could not be moved, said so
    std::set<long> named_running;            // processes said to be still running
    for (const Listed &entry : written) {
        const std::string &plain = entry.plain;
        std::string path = stem + plain.substr(base.size()) + (gz ? ".gz" : ""), error;
        if (entry.mark == '!') {
            // Never made: the process ran on unrecorded, its calls in no trace.
            std::string later;
            for (const Listed &e : entry.unmade_after)
                later += std::string(", nor could a later image of it (") + e.process + ") (" + strerror(e.error) + ")";
            fprintf(stderr, "arena-trace record: %s was not written: process %ld (%s) could not create it (%s)%s; "
                            "%s heap calls went unrecorded\n", path.c_str(), entry.pid, entry.process.c_str(),
                    strerror(entry.error), later.c_str(), later.empty() ? "its" : "their");
            result = 1;
            continue;
        }
        struct stat made;
        if (stat(plain.c_str(), &made) != 0) {
            // The recorder removes a trace it could not write whole (a full
            // disk, a size limit): one cut short would read as a shorter run.
            if (entry.lost.empty())
                fprintf(stderr, "arena-trace record: %s was not written: the recorder could not write it whole "
                                "(disk full?) and removed it\n", path.c_str());
            else
                fprintf(stderr, "arena-trace record: %s was not written: %s, and it is gone\n", path.c_str(),
                        lost_cause(entry).c_str());
            result = 1;
            continue;
        }
        // A process killed in the middle of a write (SIGKILL, SIGXFSZ) leaves
        // its last line cut short: `r 340 5` of `r 340 5120` still reads as
        // an op. The recorder writes whole lines, so the part goes.
        // Not while its process runs on (in the background): its next write
        // would land past the cut, behind a hole of zeros.
        const unsigned long long pid = order(entry).first;
        const bool running = pid && recorded_process_running(static_cast<pid_t>(pid), list_entry);
        const bool cut_mid_line = !running && drop_partial_line(plain, made.st_size);
        // The end is enough to tell whether the recorder closed the trace (its
        // lines are short); the whole text is read only to compress it.
        std::string text;
        bool moved;
        if (gz) {
            std::ifstream in(plain, std::ios::binary);
            text.assign(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
            in.close();
            moved = trace::write_text(path, text, true, &error) && unlink(plain.c_str()) == 0;
        } else {
            text = file_tail(plain, 65536);
            moved = rename(plain.c_str(), path.c_str()) == 0;
        }
        if (!moved) {
            if (error.empty()) error = path + ": " + strerror(errno);
            // The trace is whole where the recorder wrote it: kept there, and
            // the other processes' traces still move.
            fprintf(stderr, "arena-trace record: %s; the trace is left in %s\n", error.c_str(), plain.c_str());
            left_in_place.push_back(plain);
            result = 1;
            continue;
        }
        trace::Trace t;
        if (!trace::load(path, &t, &error)) {
            fprintf(stderr, "arena-trace record: wrote an invalid trace: %s\n", error.c_str());
            result = 1;
            continue;
        }
        fprintf(stderr, "arena-trace record: wrote %s: %s\n", path.c_str(), summary(t).c_str());
        if (report_unmade_images(entry, path)) result = 1;
        if (!entry.lost.empty()) {
            // Its ops up to the last flush are there, in whole lines; the rest is not.
            fprintf(stderr, "arena-trace record: %s is incomplete: %s; its later heap calls went unrecorded\n",
                    path.c_str(), lost_cause(entry).c_str());
            result = 1;
        } else if (!closed_by_recorder(text)) {
            if (running) {
                named_running.insert(static_cast<long>(pid));
                // Its later calls go to a new FILE.tmp.PID, which nothing moves.
                fprintf(stderr, "arena-trace record: %s is incomplete: process %llu was still running when the "
                                "command ended (in the background?); its later heap calls are not in it\n",
                        path.c_str(), pid);
                result = 1;
            } else {
                fprintf(stderr, "arena-trace record: %s is incomplete: its process ended without the recorder's "
                                "closing line (killed by a signal?); its last ops are missing%s\n", path.c_str(),
                        cut_mid_line ? " (a line it was writing, cut short, was dropped)" : "");
            }
        }
    }
    // A process that outlived the command with no trace open (a background
    // child before its first heap call, or an image exec'd after its trace
    // closed) is named too: it may make one later.
    for (long pid : processes.started) {
        // The command itself is reaped: its pid may be another process's now.
        if (pid == command_pid || named_running.count(pid) ||
            !recorded_process_running(static_cast<pid_t>(pid), list_entry))
            continue;
        fprintf(stderr, "arena-trace record: process %ld was still running when the command ended (in the "
                        "background?); its later heap calls go to a %s.%ld file that nothing moves\n", pid,
                base.c_str(), pid);
        result = 1;
    }
    // A process that outlived the command (a background child) may make its
    // trace after the list was read: named, not left behind unsaid.
    for (const std::string &left : traces_left_behind(base)) {
        if (std::find(left_in_place.begin(), left_in_place.end(), left) != left_in_place.end()) continue;
        if (std::find(stale.begin(), stale.end(), left) != stale.end()) {
            fprintf(stderr, "arena-trace record: %s was there before this run (an earlier record's): left as it "
                            "was\n", left.c_str());
            continue;
        }
        fprintf(stderr, "arena-trace record: %s is the trace of a process still running when the command ended "
                        "(in the background?): left there, neither moved nor checked\n", left.c_str());
        result = 1;
    }
    for (long pid : processes.unrecorded_execs) {
        fprintf(stderr, "arena-trace record: process %ld started a program by exec that ran without the recorder (a "
                        "setuid, setgid or static program, an environment without LD_PRELOAD, or one that died "
                        "while loading?): its heap calls went unrecorded\n", pid);
        result = 1;
    }
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
        fprintf(stderr, "arena-trace record: the command %s %d\n", WIFEXITED(status) ? "exited with" : "was killed by signal",
                WIFEXITED(status) ? WEXITSTATUS(status) : WTERMSIG(status));
    fflush(stderr);
    signals.release();  // a signal that came while the traces moved ends record now
    // A command ended by ctrl-C ends record the same way, its work done: a
    // shell running record in a loop then stops too (an exit status of 130
    // would tell it the interrupt was handled).
    if (WIFSIGNALED(status) && (WTERMSIG(status) == SIGINT || WTERMSIG(status) == SIGQUIT)) {
        signal(WTERMSIG(status), SIG_DFL);
        raise(WTERMSIG(status));
    }
    return result;
}

int cmd_help(const std::vector<std::string> &args);

}  // namespace

namespace {
const Command kCommands[] = {
    {"validate", "validate [--] FILE...",
     "Checks every rule of the format in each FILE. Prints a one-line summary per\n"
     "valid file on stdout; for a bad one, its first error as FILE:LINE: what is\n"
     "wrong on stderr. Exit 1 when any FILE is bad.\n"
     "Accepted beyond the letter of the format: CRLF line ends, a last line\n"
     "without '\\n', comment lines indented by blanks. Thread ids are 0..1023.",
     cmd_validate},
    {"stats", "stats [--] FILE",
     "Describes one trace: ops by kind, peak live bytes and blocks (and the op\n"
     "where live bytes peak, counted from 1 for the first op), what is never\n"
     "freed, threads, slots, a histogram of sizes by power of two and one of\n"
     "lifetimes in ops.",
     cmd_stats},
    {"gen", "gen WORKLOAD [--ops N] [--seed S] [--threads T] [-o FILE] | gen --list",
     "Writes a synthetic trace of WORKLOAD (exactly N ops, N >= 2, the last ones\n"
     "freeing every block still live; the same arguments give the same bytes)\n"
     "to FILE (.gz: gzip) or stdout (no -o, or -o -). --seed defaults to 1,\n"
     "--threads applies to the 'threads' workload (default 4). 'gen --list'\n"
     "describes every workload with its default --ops.",
     cmd_gen},
    {"record", "record -o FILE -- COMMAND [ARGS...]",
     "Runs COMMAND with libarena_record.so preloaded (found in ../lib next to this\n"
     "program) and address randomisation off (as setarch -R), so traces reproduce.\n"
     "The first process's trace goes to FILE; every other process (forked, or a new\n"
     "image after exec) gets FILE.PID (FILE.PID.N if that exists); gzip when FILE\n"
     "ends in .gz, and then .gz stays last: x.trace.gz, x.trace.PID.gz,\n"
     "x.trace.PID.N.gz. Says on stderr which files it wrote and validates them.\n"
     "The command's stdin, stdout and stderr are its own; the exit code is the\n"
     "command's (1 if a trace came out invalid or was not written, or a process's\n"
     "heap calls went unrecorded).",
     cmd_record},
    {"help", "help [COMMAND]", "Prints the overview or one command's help.", cmd_help},
};
const size_t kCommandCount = sizeof kCommands / sizeof kCommands[0];

const Command *find_command(const std::string &name) {
    for (const Command &c : kCommands)
        if (name == c.name) return &c;
    return nullptr;
}

void print_help(const Command &c) { printf("usage: arena-trace %s\n\n%s\n", c.synopsis, c.help); }

int cmd_help(const std::vector<std::string> &args) {
    if (args.empty()) {
        print_usage(stdout);
        return 0;
    }
    const Command *c = find_command(args[0]);
    if (!c) return usage_error(kCommands[kCommandCount - 1], "no command '" + args[0] + "'");
    print_help(*c);
    return 0;
}
}  // namespace

namespace {
// What went to stdout (validate's summaries, stats, gen --list, help) is the
// output: a full disk or a closed pipe is a failure, not a success with
// nothing said. A command that failed has said why (gen writing to stdout,
// for one). Returns the exit status.
int stdout_written(const char *who, int status) {
    errno = 0;
    if ((fflush(stdout) != 0 || ferror(stdout)) && status == 0) {
        fprintf(stderr, "%s: cannot write to stdout: %s\n", who, strerror(errno ? errno : EIO));
        return 1;
    }
    return status;
}
// Whether command c's arguments ask for its help: --help or -h before any --
// (after it, record's command and its arguments, or file names), and not as
// the value of one of gen's or record's options (gen tiny -o -h writes a file
// named -h). A -- is never such a value: record -o -- PROGRAM --help is an
// -o without its FILE, not a call for help (a script's unset $OUT would
// otherwise record nothing and exit 0).
bool asks_for_help(const Command &c, const std::vector<std::string> &args) {
    const bool has_values = std::strcmp(c.name, "gen") == 0 || std::strcmp(c.name, "record") == 0;
    for (size_t i = 0; i < args.size() && args[i] != "--"; i++) {
        if (args[i] == "--help" || args[i] == "-h") return true;
        if (has_values && option_takes_value(args[i]) && i + 1 < args.size() && args[i + 1] != "--") i++;
    }
    return false;
}

}  // namespace

int main(int argc, char **argv) {
    // A file size limit makes a write fail (EFBIG), and the writer removes
    // what it cut short; SIGXFSZ would kill the tool with the file half made.
    // The command record runs gets the disposition arena-trace started with.
    struct sigaction ignore {};
    ignore.sa_handler = SIG_IGN;
    sigaction(SIGXFSZ, &ignore, &g_started_xfsz);
    if (argc < 2) {
        print_usage(stderr);
        return 2;
    }
    const std::string name = argv[1];
    if (name == "--help" || name == "-h") return stdout_written("arena-trace", cmd_help({}));
    const Command *c = find_command(name);
    if (!c) {
        fprintf(stderr, "arena-trace: unknown command '%s'\n", name.c_str());
        print_usage(stderr);
        return 2;
    }
    std::vector<std::string> args(argv + 2, argv + argc);
    if (asks_for_help(*c, args)) {
        print_help(*c);
        return stdout_written((std::string("arena-trace ") + c->name).c_str(), 0);
    }
    int status;
    try {
        status = c->run(args);
    } catch (const std::bad_alloc &) {
        // A trace too large for memory (a gzip bomb among them): said, not an abort.
        fflush(stdout);
        fprintf(stderr, "arena-trace %s: out of memory\n", c->name);
        return 1;
    }
    return stdout_written((std::string("arena-trace ") + c->name).c_str(), status);
}
