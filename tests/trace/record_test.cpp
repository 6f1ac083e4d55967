// The recorder, through `arena-trace record`: a program with a known sequence of
// calls (record_probe.c) comes out as exactly that sequence, threads and fork
// included; a real program (python3) gives a valid trace and unchanged output.
#include <sys/wait.h>
#include <unistd.h>
#include <fcntl.h>

#include <csignal>
#include <cstring>

#include <dirent.h>

#include <algorithm>
#include <vector>

#include "trace_test_util.h"

namespace {

struct Outcome {
    int exit_code;
    std::string out, err;
};

// Runs a shell command line with stdout and stderr captured in dir.
Outcome run(const trace_test::TempDir &dir, const std::string &command) {
    const int status = system((command + " >'" + (dir / "out.txt") + "' 2>'" + (dir / "err.txt") + "'").c_str());
    return {WIFEXITED(status) ? WEXITSTATUS(status) : -1, trace_test::read_file(dir / "out.txt"),
            trace_test::read_file(dir / "err.txt")};
}

std::vector<std::string> files_starting(const std::string &dir, const std::string &prefix) {
    std::vector<std::string> names;
    if (DIR *d = opendir(dir.c_str())) {
        while (dirent *e = readdir(d))
            if (std::string(e->d_name).rfind(prefix, 0) == 0) names.push_back(e->d_name);
        closedir(d);
    }
    std::sort(names.begin(), names.end());
    return names;
}

// name is PREFIX, a process id (one digit or more), then SUFFIX: a trace's
// FILE.PID or FILE.PID.gz.
bool names_pid(const std::string &name, const std::string &prefix, const std::string &suffix = "") {
    if (name.size() <= prefix.size() + suffix.size() || name.compare(0, prefix.size(), prefix) != 0 ||
        name.compare(name.size() - suffix.size(), suffix.size(), suffix) != 0)
        return false;
    const std::string pid = name.substr(prefix.size(), name.size() - prefix.size() - suffix.size());
    return pid.find_first_not_of("0123456789") == std::string::npos;
}

// The ops of t from its first op matching `first` through the free of that
// block, as text with slots renumbered by first appearance (so libc's own
// blocks, live before, do not matter) and a thread field.
std::vector<std::string> window(const trace::Trace &t, uint64_t marker_size) {
    std::vector<std::string> lines;
    size_t begin = 0;
    while (begin < t.ops.size() && !(t.ops[begin].kind == trace::OpKind::Malloc && t.ops[begin].size == marker_size))
        begin++;
    if (begin == t.ops.size()) return lines;
    std::vector<int> renumbered(t.facts.slot_count, -1);
    int next = 0;
    for (size_t i = begin; i < t.ops.size(); i++) {
        const trace::Op &op = t.ops[i];
        if (op.kind != trace::OpKind::Free && op.kind != trace::OpKind::Realloc) renumbered[op.slot] = next++;
        std::string line = std::string(1, trace::op_letter(op.kind)) + " " + std::to_string(renumbered[op.slot]);
        if (op.kind == trace::OpKind::Calloc || op.kind == trace::OpKind::Memalign) line += " " + std::to_string(op.arg);
        if (op.kind != trace::OpKind::Free) line += " " + std::to_string(op.size);
        lines.push_back("t" + std::to_string(op.thread) + ": " + line);
        if (op.kind == trace::OpKind::Free && op.slot == t.ops[begin].slot) break;
    }
    return lines;
}

TEST(Recorder, KnownSequenceWithThreadsAndFork) {
    trace_test::TempDir dir;
    const Outcome r = run(dir, std::string(ARENA_TRACE) + " record -o '" + (dir / "probe.trace") + "' -- " + RECORD_PROBE);
    EXPECT_EQ(r.exit_code, 7) << "the probe's own exit code comes through\n" << r.err;
    EXPECT_EQ(r.out, "");
    const std::vector<std::string> files = files_starting(dir.path(), "probe.trace");
    ASSERT_EQ(files.size(), 2u) << r.err;  // the probe and its forked child
    EXPECT_TRUE(names_pid(files[1], "probe.trace.")) << files[1];  // FILE.PID
    EXPECT_NE(r.err.find("wrote " + (dir / "probe.trace") + ":"), std::string::npos) << r.err;
    EXPECT_NE(r.err.find("wrote " + (dir / files[1]) + ":"), std::string::npos) << r.err;

    trace::Trace parent, child;
    std::string error;
    ASSERT_TRUE(trace::load(dir / "probe.trace", &parent, &error)) << error;
    const std::vector<std::string> expected_parent = {
        "t0: a 0 11111", "t0: a 1 100", "t0: c 2 3 40", "t0: r 1 300", "t0: m 3 64 200", "t0: m 4 128 256",
        "t0: m 5 32 50", "t0: m 6 4096 1000", "t0: m 7 4096 8192", "t0: a 8 100", "t0: f 2", "t0: f 8",
        "t0: a 9 0", "t0: a 10 777",  // (no calloc for the new thread: the probe warmed that up)
        "t1: a 11 2001", "t1: f 10", "t1: r 11 2500", "t1: f 11",
        "t2: c 12 2 1001", "t2: f 12",
        "t0: a 13 4242", "t0: f 13",
        "t0: f 1", "t0: f 3", "t0: f 4", "t0: f 5", "t0: f 6", "t0: f 7", "t0: f 9", "t0: f 0"};
    EXPECT_EQ(window(parent, 11111), expected_parent);

    ASSERT_TRUE(trace::load(dir / files[1], &child, &error)) << error;
    EXPECT_EQ(window(child, 3001), (std::vector<std::string>{"t0: a 0 3001", "t0: a 1 3002", "t0: f 0"}));
    const std::string child_text = trace_test::read_file(dir / files[1]);
    EXPECT_NE(child_text.find("# _exit: "), std::string::npos) << child_text;
    EXPECT_NE(child_text.find("1 frees of inherited blocks skipped"), std::string::npos) << child_text;
    EXPECT_NE(child_text.find("1 reallocs of inherited blocks written as allocations"), std::string::npos);
}

TEST(Recorder, ThreadsRacingStillGiveAValidTrace) {
    trace_test::TempDir dir;
    const Outcome r = run(dir, std::string(ARENA_TRACE) + " record -o '" + (dir / "s.trace") + "' -- " + RECORD_STRESS);
    ASSERT_EQ(r.exit_code, 0) << r.err;
    trace::Trace t;
    std::string error;
    ASSERT_TRUE(trace::load(dir / "s.trace", &t, &error)) << error;
    // every call the program counted (free(NULL) is not written), plus libc's own
    const uint64_t calls = std::stoull(r.out);
    EXPECT_GT(t.facts.ops, calls * 9 / 10) << calls;
    EXPECT_GE(t.facts.threads, 4u);
    EXPECT_GT(trace::cross_thread_frees(t), 1000u);
}

// A signal handler's heap calls that come while its thread is inside the
// recorder pass through unrecorded (the thread holds the lock): the trace's
// last line counts them. It said nothing, and such a trace lacked 84-89% of a
// timer handler's calls with no word of it (found in review).
TEST(Recorder, CallsFromASignalHandlerInsideTheRecorderAreCounted) {
    trace_test::TempDir dir;
    // The handler's library after the recorder's, in the program alone: the
    // shell execs it with both.
    const std::string command = std::string(ARENA_TRACE) + " record -o '" + (dir / "h.trace") +
                                "' -- sh -c 'LD_PRELOAD=\"$LD_PRELOAD:" + RAISE_IN_MALLOC +
                                "\" RAISE_IN_MALLOC_SIZE=31337 exec " + RECORD_HANDLER + "'";
    const Outcome r = run(dir, command);
    ASSERT_EQ(r.exit_code, 0) << r.err;
    std::string handler_trace;
    for (const std::string &f : files_starting(dir.path(), "h.trace")) {
        trace::Trace t;
        std::string error;
        ASSERT_TRUE(trace::load(dir / f, &t, &error)) << f << ": " << error;
        const std::string text = trace_test::read_file(dir / f);
        if (text.find(" 31337\n") != std::string::npos) handler_trace = text;
    }
    ASSERT_FALSE(handler_trace.empty()) << "no trace holds record_handler's calls\n" << r.err;
    EXPECT_EQ(handler_trace.find(" 40\n"), std::string::npos) << "a handler's call was written";
    EXPECT_NE(handler_trace.find(", 10 calls from inside the recorder (a signal handler's, or the allocator's own) not recorded\n"),
              std::string::npos)
        << handler_trace.substr(handler_trace.rfind('#'));
}

// A program killed before the recorder's first flush: the trace holds at least
// its header (it held nothing, failed validation, and record exited 1 instead
// of with the program's own status).
TEST(Recorder, AProgramKilledEarlyLeavesAValidTraceAndItsStatus) {
    trace_test::TempDir dir;
    // A shell makes a few heap calls, far fewer than fill the recorder's buffer.
    const Outcome r = run(dir, std::string(ARENA_TRACE) + " record -o '" + (dir / "k.trace") + "' -- sh -c 'kill -ABRT $$'");
    EXPECT_EQ(r.exit_code, 128 + 6) << r.err;
    // ... and says that trace lacks what the shell did after its header
    EXPECT_NE(r.err.find("arena-trace record: " + (dir / "k.trace") + " is incomplete: "), std::string::npos) << r.err;
    const std::vector<std::string> files = files_starting(dir.path(), "k.trace");
    ASSERT_GE(files.size(), 1u) << r.err;
    for (const std::string &f : files) {
        trace::Trace t;
        std::string error;
        EXPECT_TRUE(trace::load(dir / f, &t, &error)) << f << ": " << error;
    }
}

// A trace the recorder cannot write whole (here a file size limit; a full disk
// is the same) is removed by the recorder, and record says so and exits 1.
// Before, the file was left cut off mid-line (its last op 'r 297 1' where the
// program asked for 101: it still validated), record blamed a signal and
// exited 0, and with .gz the temporary files stayed behind.
TEST(Recorder, ATraceThatCannotBeWrittenWholeIsRemovedAndSaidSo) {
    for (const char *name : {"big.trace", "big.trace.gz"}) {
        trace_test::TempDir dir;
        // SIGXFSZ ignored: a write past the limit fails with EFBIG (record's
        // own files stay far under it). 64 blocks of 1 KiB.
        const Outcome r = run(dir, std::string("trap '' XFSZ; ulimit -f 64; exec ") + ARENA_TRACE + " record -o '" +
                                       (dir / name) + "' -- " + RECORD_STRESS);
        EXPECT_EQ(r.exit_code, 1) << name << ": " << r.err;
        EXPECT_NE(r.err.find(dir / name + " was not written: the recorder could not write it whole"),
                  std::string::npos) << r.err;
        EXPECT_EQ(r.err.find("is incomplete"), std::string::npos) << r.err;
        EXPECT_EQ(files_starting(dir.path(), "big"), std::vector<std::string>{}) << r.err;
    }
}

// A process that cannot create its trace (here a forked child with no file
// descriptor left; privileges dropped or a directory it may not write are the
// same) runs on unrecorded: record names it, says why, and exits 1. Before,
// nothing was said and record exited 0, as if the child had never allocated.
void expect_not_created_said(const char *mode, int error) {
    for (const char *name : {"nf.trace", "nf.trace.gz"}) {
        trace_test::TempDir dir;
        const Outcome r = run(dir, std::string(ARENA_TRACE) + " record -o '" + (dir / name) + "' -- " + RECORD_ENDINGS +
                                       " " + mode);
        EXPECT_EQ(r.exit_code, 1) << name << ": " << r.err;
        // nf.trace.PID, or nf.trace.PID.gz, named with the process's own id
        const std::string head = "arena-trace record: " + dir / "nf.trace.";
        const size_t at = r.err.find(head);
        ASSERT_NE(at, std::string::npos) << r.err;
        const size_t digits = at + head.size();
        const size_t digits_end = std::min(r.err.find_first_not_of("0123456789", digits), r.err.size());
        const std::string pid = r.err.substr(digits, digits_end - digits);
        EXPECT_FALSE(pid.empty()) << r.err;
        const std::string said = std::string(name).substr(8) + " was not written: process " + pid +
                                 " (record_endings) could not create it (" + strerror(error) +
                                 "); its heap calls went unrecorded\n";
        EXPECT_EQ(r.err.compare(digits_end, said.size(), said), 0) << r.err;
        EXPECT_EQ(files_starting(dir.path(), "nf"), std::vector<std::string>{name}) << r.err;  // the parent's
        trace::Trace t;
        std::string error_text;
        EXPECT_TRUE(trace::load(dir / name, &t, &error_text)) << error_text;
    }
}

TEST(Recorder, ATraceThatCannotBeCreatedIsSaidSo) { expect_not_created_said("no-fd", EMFILE); }

// The list record reads is open in the child from before it gave up root: the
// recorder could not have opened it then (the directory is root's, 0700).
TEST(Recorder, ATraceOfAProcessThatDroppedPrivilegesIsSaidNotWritten) {
    if (geteuid() != 0) GTEST_SKIP() << "needs root, to drop privileges";
    expect_not_created_said("drop-privileges", EACCES);
}

// The recorder keeps its descriptors (the list, then the trace) out of the
// way of a program's own, which may dup2 onto 3 or closefrom(3): from 512 up,
// or where none is free there the highest free ones below 512 and the soft
// RLIMIT_NOFILE. Before, under a limit of 512 or less they stayed where open
// put them, at 3 and 4; and under a limit of 513 the list took 512 and the
// trace stayed at 3.
TEST(Recorder, ItsDescriptorsStayHighUnderALowDescriptorLimit) {
    const struct {
        const char *limit, *fds;
    } cases[] = {{"256", "254\n255\n"}, {"512", "510\n511\n"}, {"513", "511\n512\n"}, {"4096", "512\n513\n"}};
    for (const auto &c : cases) {
        trace_test::TempDir dir;
        const Outcome r = run(dir, std::string("ulimit -n ") + c.limit + "; exec " + ARENA_TRACE + " record -o '" +
                                       (dir / "fd.trace") + "' -- " + RECORD_ENDINGS + " recorder-fds");
        EXPECT_EQ(r.exit_code, 0) << c.limit << ": " << r.err;
        EXPECT_EQ(r.out, c.fds) << c.limit;
    }
}

// A program that closes the recorder's descriptor of its trace (or puts a
// file of its own there) when no descriptor is left to open it again with:
// the trace ends there, and record says so and why, and exits 1 (the
// recorder tells it in its list: "~ ERRNO PID NAME PATH"). Before, record
// blamed a signal ("killed by a signal?") and exited 0.
TEST(Recorder, ATraceWhoseDescriptorTheProgramTookIsSaidCutShortAndWhy) {
    trace_test::TempDir dir;
    const std::string trace_path = dir / "lt.trace";
    const Outcome r = run(dir, std::string(ARENA_TRACE) + " record -o '" + trace_path + "' -- " + RECORD_ENDINGS +
                                   " lose-trace-fd");
    EXPECT_EQ(r.exit_code, 1) << r.err;
    EXPECT_NE(r.err.find("arena-trace record: wrote " + trace_path + ": "), std::string::npos) << r.err;
    trace::Trace t;
    std::string error;
    ASSERT_TRUE(trace::load(trace_path, &t, &error)) << error;
    const std::string text = trace_test::read_file(trace_path), header = "# recorded by libarena_record, pid ";
    const size_t pid_at = text.find(header) + header.size();
    const std::string pid = text.substr(pid_at, text.find(':', pid_at) - pid_at);
    EXPECT_NE(r.err.find("arena-trace record: " + trace_path + " is incomplete: process " + pid + " (record_endings) "
                         "closed the recorder's descriptor of it (or put another file there) and it could not be "
                         "opened again (" + strerror(EMFILE) + "); its later heap calls went unrecorded\n"),
              std::string::npos) << r.err;
    EXPECT_EQ(r.err.find("killed by a signal"), std::string::npos) << r.err;
    EXPECT_EQ(files_starting(dir.path(), "lt"), std::vector<std::string>{"lt.trace"}) << r.err;
}

// One pid, two images (exec), one of which could not create the trace
// (FILE.PID) the other made: record says it once, as written and holding what
// the other image recorded, and that the one image's calls went unrecorded;
// exit 1, as for a trace not written. Before, it said both "FILE.PID was not
// written" and "wrote FILE.PID". The child that could not is the first image
// (no descriptor left; it frees them and execs), or the later one (its list
// took the last descriptor).
TEST(Recorder, AnImageThatCouldNotCreateTheTraceAnotherImageMadeIsSaidOnce) {
    const struct {
        const char *mode, *holds, *other;
    } cases[] = {{"no-fd-then-exec", " holds what a later image of process ",
                  " recorded: an earlier one (record_endings) could not create it ("},
                 {"exec-with-one-fd", " holds what an earlier image of process ",
                  " recorded: a later one (record_endings) could not create a trace of its own ("}};
    for (const auto &c : cases) {
        trace_test::TempDir dir;
        const Outcome r = run(dir, std::string(ARENA_TRACE) + " record -o '" + (dir / "ex.trace") + "' -- " +
                                       RECORD_ENDINGS + " " + c.mode);
        EXPECT_EQ(r.exit_code, 1) << c.mode << ": " << r.err;
        EXPECT_EQ(r.err.find("was not written"), std::string::npos) << c.mode << ": " << r.err;
        const std::vector<std::string> files = files_starting(dir.path(), "ex.trace");
        ASSERT_EQ(files.size(), 2u) << c.mode << ": " << r.err;
        const std::string child = dir / files[1], pid = files[1].substr(std::string("ex.trace.").size());
        const size_t wrote = r.err.find("arena-trace record: wrote " + child + ": ");
        ASSERT_NE(wrote, std::string::npos) << c.mode << ": " << r.err;
        const std::string said = "\narena-trace record: " + child + c.holds + pid + c.other + strerror(EMFILE) +
                                 "), and its heap calls went unrecorded\n";
        EXPECT_EQ(r.err.find(said), r.err.find('\n', wrote)) << c.mode << ": " << r.err;  // on the next line
        trace::Trace t;
        std::string error;
        EXPECT_TRUE(trace::load(child, &t, &error)) << error;
        const std::string text = trace_test::read_file(child);
        // the image that made it: the later one's heap call, or the earlier one's
        const bool later_made_it = std::string(c.mode) == "no-fd-then-exec";
        EXPECT_EQ(text.find(" 33334\n") != std::string::npos, later_made_it) << text;
        EXPECT_EQ(text.find(" 33333\n") != std::string::npos, !later_made_it) << text;
    }
}

// One pid, two images, neither of which could create its trace: record says
// once that FILE.PID was not written, with why for each image. Before, it said
// the same line twice.
TEST(Recorder, ATraceNoImageOfItsPidCouldCreateIsSaidNotWrittenOnce) {
    trace_test::TempDir dir;
    const Outcome r = run(dir, std::string(ARENA_TRACE) + " record -o '" + (dir / "nw.trace") + "' -- " +
                                   RECORD_ENDINGS + " no-fd-then-exec-with-one-fd");
    EXPECT_EQ(r.exit_code, 1) << r.err;
    EXPECT_EQ(files_starting(dir.path(), "nw"), std::vector<std::string>{"nw.trace"}) << r.err;
    const std::string said = "arena-trace record: " + (dir / "nw.trace.");
    const size_t at = r.err.find(said);
    ASSERT_NE(at, std::string::npos) << r.err;
    EXPECT_EQ(r.err.find(said, at + 1), std::string::npos) << "said twice: " << r.err;
    const size_t pid_at = at + said.size(), pid_end = r.err.find(' ', pid_at);
    const std::string pid = r.err.substr(pid_at, pid_end - pid_at);
    const std::string emfile = strerror(EMFILE);
    EXPECT_EQ(r.err.substr(pid_end, r.err.find('\n', at) + 1 - pid_end),
              " was not written: process " + pid + " (record_endings) could not create it (" + emfile +
                  "), nor could a later image of it (record_endings) (" + emfile +
                  "); their heap calls went unrecorded\n")
        << r.err;
}

// With no list to tell, the recorder says it on stderr: only while descriptor 2
// is the stderr the program started with. Before, a program that closed it and
// opened a data file there found the recorder's message in its data.
TEST(Recorder, ATraceNotCreatedIsNeverToldIntoAFileThatTookStderrsPlace) {
    trace_test::TempDir dir;
    const std::string data = dir / "data.txt";
    // record_endings preloaded by hand, its trace in a directory that does not exist
    const std::string unrecordable = std::string("LD_PRELOAD='") + RECORD_LIBRARY + "' ARENA_RECORD_FILE='" +
                                     (dir / "missing/x.trace") + "' " + RECORD_ENDINGS;
    const Outcome r = run(dir, unrecordable + " stderr-reused '" + data + "'");
    EXPECT_EQ(r.exit_code, 0) << r.err;
    EXPECT_EQ(trace_test::read_file(data), "DATA\n");
    // Where stderr stays, the message is there.
    const Outcome kept = run(dir, unrecordable + " no-fd");
    EXPECT_NE(kept.err.find("cannot create its trace"), std::string::npos) << kept.err;
}

// A ctrl-C reaches the whole process group: the command handles it, record
// waits for it, keeps what was written and says how the command ended. Before,
// record died at once, printed nothing and left its temporary files (and the
// command's trace, still growing, under a name nothing would ever rename).
TEST(Recorder, ACtrlCEndsTheCommandAndRecordKeepsItsTrace) {
    trace_test::TempDir dir;
    const std::string trace_path = dir / "c.trace", err_path = dir / "err.txt";
    const pid_t pid = fork();
    ASSERT_GE(pid, 0);
    if (pid == 0) {  // record in a process group of its own, as a shell's foreground job
        setpgid(0, 0);
        signal(SIGINT, SIG_DFL);
        const int err = open(err_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
        dup2(err, 2);
        execl(ARENA_TRACE, ARENA_TRACE, "record", "-o", trace_path.c_str(), "--", "sh", "-c",
              "while :; do :; done", (char *)nullptr);
        _exit(127);
    }
    setpgid(pid, pid);
    for (int waited = 0; waited < 100 && files_starting(dir.path(), "c.trace.tmp").empty(); waited++)
        usleep(20000);  // the command is running once the recorder made its trace
    usleep(100000);
    kill(-pid, SIGINT);  // what the terminal does on ctrl-C
    int status = 0;
    pid_t ended = 0;
    for (int waited = 0; waited < 500 && (ended = waitpid(pid, &status, WNOHANG)) == 0; waited++) usleep(20000);
    if (ended == 0) {
        kill(-pid, SIGKILL);
        waitpid(pid, &status, 0);
        FAIL() << "record did not end within 10 s of the SIGINT";
    }
    const std::string err = trace_test::read_file(err_path);
    // ... then ends as its command did, so that a shell loop running record stops too
    ASSERT_TRUE(WIFSIGNALED(status)) << "record exited with " << WEXITSTATUS(status) << ": " << err;
    EXPECT_EQ(WTERMSIG(status), SIGINT) << err;
    EXPECT_NE(err.find("arena-trace record: wrote " + trace_path + ":"), std::string::npos) << err;
    EXPECT_NE(err.find("the command was killed by signal 2"), std::string::npos) << err;
    EXPECT_EQ(files_starting(dir.path(), "c.trace"), std::vector<std::string>{"c.trace"}) << err;
}

// record started with SIGCHLD ignored (a parent that ignores it passes that
// on across exec): the kernel would reap its command itself. record still
// waits for it, reports the traces and exits with its status, and the
// command gets SIGCHLD ignored, as record had it. Before, waitpid failed
// (ECHILD): "cannot run ...: No child processes; nothing written", exit 1,
// and the traces left as FILE.tmp*.
TEST(Recorder, ARecordStartedWithSigchldIgnoredStillReapsItsCommand) {
    trace_test::TempDir dir;
    const std::string trace_path = dir / "ch.trace", out_path = dir / "out.txt", err_path = dir / "err.txt";
    const pid_t pid = fork();
    ASSERT_GE(pid, 0);
    if (pid == 0) {
        signal(SIGCHLD, SIG_IGN);
        const int out = open(out_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
        const int err = open(err_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
        dup2(out, 1);
        dup2(err, 2);
        execl(ARENA_TRACE, ARENA_TRACE, "record", "-o", trace_path.c_str(), "--", "grep", "SigIgn",
              "/proc/self/status", (char *)nullptr);
        _exit(127);
    }
    int status = 0;
    ASSERT_EQ(waitpid(pid, &status, 0), pid);
    const std::string err = trace_test::read_file(err_path), out = trace_test::read_file(out_path);
    ASSERT_TRUE(WIFEXITED(status)) << err;
    EXPECT_EQ(WEXITSTATUS(status), 0) << err;
    EXPECT_NE(err.find("arena-trace record: wrote " + trace_path + ":"), std::string::npos) << err;
    EXPECT_EQ(files_starting(dir.path(), "ch.trace"), std::vector<std::string>{"ch.trace"}) << err;
    // SigIgn: a hexadecimal mask, signal N at bit N - 1
    const size_t colon = out.find(':');
    ASSERT_NE(colon, std::string::npos) << out;
    EXPECT_TRUE(std::stoull(out.substr(colon + 1), nullptr, 16) >> (SIGCHLD - 1) & 1) << out;
}

// The start of a command line that runs arena-trace with raise_in_record.so
// preloaded, `variable` (SIGNAL_AFTER_FORK, SIGNAL_BEFORE_RENAME) set to the
// signal number that follows. The sanitizers' runtime must come first among
// the libraries, which a preloaded one is not.
std::string raise_in_record(const char *variable) {
    return std::string("ASAN_OPTIONS=verify_asan_link_order=0 LD_PRELOAD='") + RAISE_IN_RECORD + "' " + variable + "=";
}

// A signal that reaches record between its fork and its handlers (made
// certain here: raised as fork returns, by a library preloaded into record)
// waits until they are in place. Before, record died of it there, leaving its
// temporary files and the command running on, watched by nobody. A SIGTERM
// goes on to the command, which ends by it; a ctrl-C's SIGINT, which the
// command's process group gets too, record ignores.
TEST(Recorder, ASignalAsRecordStartsTheCommandIsHandled) {
    const std::string preload = raise_in_record("SIGNAL_AFTER_FORK");
    {
        trace_test::TempDir dir;
        const Outcome r = run(dir, preload + std::to_string(SIGTERM) + " " + ARENA_TRACE + " record -o '" +
                                       (dir / "t.trace") + "' -- sleep 20");
        EXPECT_EQ(r.exit_code, 128 + SIGTERM) << r.err;
        EXPECT_NE(r.err.find("the command was killed by signal " + std::to_string(SIGTERM)), std::string::npos) << r.err;
        // Killed before its recorder loaded (the signal may also come just
        // after): then no trace is made up for it, and that is said.
        if (files_starting(dir.path(), "t.trace").empty())
            EXPECT_NE(r.err.find(dir / "t.trace" + " was not written: the command was killed before the recorder "
                                                    "was loaded in it"),
                      std::string::npos)
                << r.err;
        else
            EXPECT_EQ(files_starting(dir.path(), "t.trace"), std::vector<std::string>{"t.trace"}) << r.err;
    }
    {
        trace_test::TempDir dir;
        const Outcome r = run(dir, preload + std::to_string(SIGINT) + " " + ARENA_TRACE + " record -o '" +
                                       (dir / "i.trace") + "' -- true");
        EXPECT_EQ(r.exit_code, 0) << r.err;
        EXPECT_NE(r.err.find("arena-trace record: wrote " + (dir / "i.trace") + ":"), std::string::npos) << r.err;
        EXPECT_EQ(files_starting(dir.path(), "i.trace"), std::vector<std::string>{"i.trace"}) << r.err;
    }
}

// A SIGTERM or a ctrl-C's SIGINT that reaches record after the command ended,
// while it moves the traces (made certain here: raised as record renames the
// first), waits until they are all in place; then record ends by it. Before,
// record died of it there and left the traces it had not moved yet as
// FILE.tmp*.
TEST(Recorder, ASignalWhileRecordMovesTheTracesWaitsUntilTheyAreMoved) {
    for (const int signal_number : {SIGTERM, SIGINT}) {
        trace_test::TempDir dir;
        const std::string trace_path = dir / "mv.trace";
        const Outcome r = run(dir, raise_in_record("SIGNAL_BEFORE_RENAME") + std::to_string(signal_number) + " " +
                                       ARENA_TRACE + " record -o '" + trace_path + "' -- " + RECORD_PROBE);
        const std::vector<std::string> files = files_starting(dir.path(), "mv.trace");
        ASSERT_EQ(files.size(), 2u) << signal_number << ": " << r.err;  // the probe and its forked child
        EXPECT_TRUE(names_pid(files[1], "mv.trace.")) << files[1];
        for (const std::string &f : files)
            EXPECT_NE(r.err.find("arena-trace record: wrote " + (dir / f) + ":"), std::string::npos) << r.err;
        // record ended by the signal, once it had moved them (the shell says 128 + N)
        EXPECT_EQ(r.exit_code, 128 + signal_number) << r.err;
    }
}

// A SIGTERM that reaches record the moment its command is reaped (made
// certain here: raised as waitpid returns) waits until the traces are moved,
// then ends record. Before, record reaped the command with its forwarding
// handler still in place: the signal went on to the reaped command's pid,
// which by then may be another process's, and record ended as if none came.
TEST(Recorder, ASignalAsTheCommandIsReapedIsNeverSentToItsPid) {
    trace_test::TempDir dir;
    const std::string trace_path = dir / "rp.trace";
    const Outcome r = run(dir, raise_in_record("SIGNAL_AFTER_REAP") + std::to_string(SIGTERM) + " " + ARENA_TRACE +
                                   " record -o '" + trace_path + "' -- " + RECORD_ENDINGS + " heap-call");
    EXPECT_EQ(r.err.find("kill of a reaped pid"), std::string::npos) << r.err;
    EXPECT_NE(r.err.find("arena-trace record: wrote " + trace_path + ":"), std::string::npos) << r.err;
    EXPECT_EQ(files_starting(dir.path(), "rp.trace"), std::vector<std::string>{"rp.trace"}) << r.err;
    EXPECT_EQ(r.exit_code, 128 + SIGTERM) << r.err;
}

// A child made by _Fork runs no atfork handler. It held the parent's unflushed
// ops and the parent's descriptor: its first flush wrote them, and its own ops
// under the parent's ids, into the parent's trace (invalid: 'a 0' of a live
// id). It gets a trace of its own now, as a forked child does.
TEST(Recorder, AChildThatSkipsTheForkHandlersGetsItsOwnTrace) {
    trace_test::TempDir dir;
    const Outcome r = run(dir, std::string(ARENA_TRACE) + " record -o '" + (dir / "rf.trace") + "' -- " + RECORD_ENDINGS +
                                   " raw-fork");
    ASSERT_EQ(r.exit_code, 0) << r.err;
    const std::vector<std::string> files = files_starting(dir.path(), "rf.trace");
    ASSERT_EQ(files.size(), 2u) << r.err;
    trace::Trace parent, child;
    std::string error;
    ASSERT_TRUE(trace::load(dir / "rf.trace", &parent, &error)) << error;
    const std::vector<std::string> ops = window(parent, 11111);
    ASSERT_EQ(ops.size(), 202u) << "the marker, 100 blocks, their frees and the marker's: nothing of the child";
    EXPECT_EQ(ops.front(), "t0: a 0 11111");
    EXPECT_EQ(ops.back(), "t0: f 0");
    ASSERT_TRUE(trace::load(dir / files[1], &child, &error)) << error;
    EXPECT_EQ(child.facts.count[static_cast<int>(trace::OpKind::Malloc)], 20001u);
    EXPECT_EQ(child.facts.count[static_cast<int>(trace::OpKind::Free)], 20001u);
    EXPECT_NE(trace_test::read_file(dir / files[1]).find("50 frees of inherited blocks skipped"), std::string::npos);
}

// abort(), which std::terminate calls for an uncaught C++ exception, ends the
// process with no destructor: the ops still in the buffer (all of them, in a
// program this small) were lost and the trace read as 0 ops.
// Fork handlers registered before the recorder's run while it holds its lock:
// their heap calls pass through instead of waiting on it for good (the program
// turns a hang into SIGALRM after 30 s).
TEST(Recorder, ForkHandlersThatAllocateBeforeTheRecordersOwnDoNotHang) {
    trace_test::TempDir dir;
    const Outcome r = run(dir, std::string(ARENA_TRACE) + " record -o '" + (dir / "af.trace") + "' -- " +
                                   RECORD_ATFORK_EARLY);
    EXPECT_EQ(r.exit_code, 0) << r.err;
    const std::vector<std::string> files = files_starting(dir.path(), "af.trace");
    EXPECT_EQ(files.size(), 21u) << r.err;  // the program and its 20 children
    for (const std::string &name : files) {
        trace::Trace t;
        std::string error;
        EXPECT_TRUE(trace::load(dir / name, &t, &error)) << error;
    }
    // The handlers' calls are in the parent's trace: each of the 20 forks ran
    // the prepare and the parent handler, each of which makes a 32 MiB block
    // and frees it (passed through unrecorded, a free there of a recorded
    // block had left it live in the trace to its end).
    const std::string text = trace_test::read_file(dir / "af.trace");
    size_t handler_blocks = 0;
    for (size_t at = text.find(" 33554432\n"); at != std::string::npos; at = text.find(" 33554432\n", at + 1))
        handler_blocks++;
    EXPECT_EQ(handler_blocks, 40u);
}

// A static program never loads the recorder: record says so and fails, where
// it wrote an empty trace and exited 0, as for a program that never allocated.
TEST(Recorder, AProgramTheRecorderNeverReachesIsSaidNotRecorded) {
    if (std::string(RECORD_STATIC).empty()) GTEST_SKIP() << "no static libc to link a static program with";
    trace_test::TempDir dir;
    const Outcome r = run(dir, std::string(ARENA_TRACE) + " record -o '" + (dir / "st.trace") + "' -- " +
                                   RECORD_STATIC + " heap-call");
    EXPECT_EQ(r.exit_code, 1) << r.err;
    EXPECT_NE(r.err.find(dir / "st.trace" + " was not written: '" + RECORD_STATIC +
                         "' ran without the recorder (a setuid, setgid or static program?)"),
              std::string::npos)
        << r.err;
    EXPECT_TRUE(files_starting(dir.path(), "st.trace").empty()) << r.err;
    // One that fails before it could have loaded it (127: the dynamic loader's
    // status when it cannot start a program) keeps its status.
    const Outcome failed = run(dir, std::string(ARENA_TRACE) + " record -o '" + (dir / "f.trace") + "' -- " +
                                        RECORD_STATIC + " exit-127");
    EXPECT_EQ(failed.exit_code, 127) << failed.err;
    EXPECT_NE(failed.err.find("f.trace was not written: the command exited 127 before the recorder was loaded in it"),
              std::string::npos)
        << failed.err;
    // A program that never allocates still gets its empty trace: the recorder
    // was there to see it.
    const Outcome quiet = run(dir, std::string(ARENA_TRACE) + " record -o '" + (dir / "q.trace") + "' -- /bin/true");
    EXPECT_EQ(quiet.exit_code, 0) << quiet.err;
    trace::Trace t;
    std::string error;
    ASSERT_TRUE(trace::load(dir / "q.trace", &t, &error)) << error;
}

// A recorded program that starts one the recorder cannot reach by exec (a
// static one here): its heap calls are in no trace, and record says so. It
// exited 0 with nothing said: only the command's first image was checked.
TEST(Recorder, AProgramStartedByExecThatTheRecorderNeverReachesIsSaid) {
    if (std::string(RECORD_STATIC).empty()) GTEST_SKIP() << "no static libc to link a static program with";
    trace_test::TempDir dir;
    const Outcome r = run(dir, std::string(ARENA_TRACE) + " record -o '" + (dir / "ex.trace") + "' -- " +
                                   RECORD_ENDINGS + " exec " + RECORD_STATIC);
    EXPECT_EQ(r.exit_code, 1) << r.err;
    EXPECT_NE(r.err.find("started a program by exec that ran without the recorder (a setuid, setgid or static "
                         "program, an environment without LD_PRELOAD, or one that died while loading?): its heap "
                         "calls went unrecorded"),
              std::string::npos)
        << r.err;
    trace::Trace t;
    std::string error;
    ASSERT_TRUE(trace::load(dir / "ex.trace", &t, &error)) << error;  // the first image's calls
    // An exec that fails leaves its image recording: nothing is lost.
    const Outcome failed = run(dir, std::string(ARENA_TRACE) + " record -o '" + (dir / "f.trace") + "' -- " +
                                        RECORD_ENDINGS + " exec '" + (dir / "no-such-program") + "'");
    EXPECT_EQ(failed.exit_code, 0) << failed.err;
    EXPECT_EQ(failed.err.find("ran without the recorder"), std::string::npos) << failed.err;
    // One the recorder reaches has its own trace, and nothing is said.
    const Outcome reached = run(dir, std::string(ARENA_TRACE) + " record -o '" + (dir / "r.trace") + "' -- " +
                                         RECORD_ENDINGS + " exec " + RECORD_ENDINGS);
    EXPECT_EQ(reached.exit_code, 0) << reached.err;
    EXPECT_EQ(files_starting(dir.path(), "r.trace").size(), 2u) << reached.err;
}

// Each image of a pid that execs itself gets a trace (FILE.PID.N): at 100 the
// later ones were said to fail with "File exists".
TEST(Recorder, EveryImageOfAPidThatExecsItselfHasATrace) {
    trace_test::TempDir dir;
    const Outcome r = run(dir, std::string(ARENA_TRACE) + " record -o '" + (dir / "ex.trace") + "' -- " +
                                   RECORD_ENDINGS + " exec-self 102");
    EXPECT_EQ(r.exit_code, 0) << r.err;
    EXPECT_EQ(files_starting(dir.path(), "ex.trace").size(), 103u);
    EXPECT_EQ(r.err.find("could not create"), std::string::npos) << r.err;
}

// A trace file of an earlier record of FILE (a process it left in the
// background) is not this run's: every later record of FILE failed, naming it.
TEST(Recorder, ATraceLeftByAnEarlierRecordIsLeftAlone) {
    trace_test::TempDir dir;
    std::string error;
    ASSERT_TRUE(trace::write_text(dir / "st.trace.tmp.99999", "arena-trace 1\n", &error)) << error;
    const Outcome r = run(dir, std::string(ARENA_TRACE) + " record -o '" + (dir / "st.trace") + "' -- /bin/true");
    EXPECT_EQ(r.exit_code, 0) << r.err;
    EXPECT_NE(r.err.find("st.trace.tmp.99999 was there before this run (an earlier record's): left as it was"),
              std::string::npos)
        << r.err;
    EXPECT_EQ(trace_test::read_file(dir / "st.trace.tmp.99999"), "arena-trace 1\n");
}

// A process killed in the middle of a write (here by SIGXFSZ, its file size
// limit reached) leaves a line cut short: `r 340 5` of `r 340 5120`, which
// read as an op. record keeps the whole lines.
TEST(Recorder, ALineCutShortByAKillIsDropped) {
    // Where the limit cuts depends on the header's length (the command's path):
    // three limits, a line end at each by chance in about one case in 2000.
    int dropped = 0;
    for (int blocks : {4, 5, 6}) {
        trace_test::TempDir dir;
        const Outcome r = run(dir, "ulimit -f " + std::to_string(blocks) + "; " + std::string(ARENA_TRACE) +
                                       " record -o '" + (dir / "cut.trace") + "' -- " + RECORD_ENDINGS + " many-calls");
        EXPECT_EQ(r.exit_code, 128 + SIGXFSZ) << r.err;
        const std::string text = trace_test::read_file(dir / "cut.trace");
        ASSERT_FALSE(text.empty()) << r.err;
        EXPECT_EQ(text.back(), '\n') << r.err;
        // The shell's unit: 512 bytes (dash, system()'s sh) or 1024 (bash).
        ASSERT_LE(text.size(), (size_t)blocks * 1024);
        dropped += r.err.find("(a line it was writing, cut short, was dropped)") != std::string::npos;
        trace::Trace t;
        std::string error;
        EXPECT_TRUE(trace::load(dir / "cut.trace", &t, &error)) << error;
    }
    EXPECT_GT(dropped, 0) << "no limit cut a line";
}

TEST(Recorder, AbortKeepsTheOpsBeforeIt) {
    trace_test::TempDir dir;
    const Outcome r = run(dir, std::string(ARENA_TRACE) + " record -o '" + (dir / "ab.trace") + "' -- " + RECORD_ENDINGS +
                                   " abort");
    EXPECT_EQ(r.exit_code, 128 + 6) << r.err;
    trace::Trace t;
    std::string error;
    ASSERT_TRUE(trace::load(dir / "ab.trace", &t, &error)) << error;
    EXPECT_EQ(window(t, 22222).size(), 2002u) << t.facts.ops << " ops in all";
    EXPECT_NE(trace_test::read_file(dir / "ab.trace").find("\n# abort: "), std::string::npos);
    EXPECT_EQ(r.err.find("is incomplete"), std::string::npos) << r.err;
}

// quick_exit and execveat end the image without the wrappers of _exit and
// execve: the recorder still writes its buffer first (they lost it, and record
// took the trace for one whose process was killed).
TEST(Recorder, QuickExitAndExecveatKeepTheOpsBeforeThem) {
    for (const char *mode : {"quick-exit", "execveat"}) {
        trace_test::TempDir dir;
        const Outcome r = run(dir, std::string(ARENA_TRACE) + " record -o '" + (dir / "q.trace") + "' -- " +
                                       RECORD_ENDINGS + " " + mode);
        EXPECT_EQ(r.exit_code, 0) << mode << "\n" << r.err;
        trace::Trace t;
        std::string error;
        ASSERT_TRUE(trace::load(dir / "q.trace", &t, &error)) << error;
        EXPECT_EQ(window(t, 22222).size(), 2002u) << mode << ": " << t.facts.ops << " ops in all";
        EXPECT_EQ(r.err.find("is incomplete"), std::string::npos) << mode << "\n" << r.err;
    }
}

// A process the command left running in the background: its trace is said to
// be cut short because it still runs, not because it was killed, and record
// fails (its later calls are in no trace it moves).
TEST(Recorder, AProcessStillRunningWhenTheCommandEndsIsSaidSo) {
    trace_test::TempDir dir;
    const Outcome r = run(dir, std::string(ARENA_TRACE) + " record -o '" + (dir / "bg.trace") +
                                   "' -- " + RECORD_ENDINGS + " background");
    EXPECT_EQ(r.exit_code, 1) << r.err;
    EXPECT_NE(r.err.find("was still running when the command ended (in the background?)"), std::string::npos)
        << r.err;
    EXPECT_EQ(r.err.find("killed by a signal?"), std::string::npos) << r.err;
}

// A process left in the background before its first heap call has no trace
// to say it still runs; it was not named, record exited 0, and its trace
// turned up later as a FILE.tmp.PID. Its fork is in the list now.
TEST(Recorder, AProcessStillRunningWithNoTraceYetIsNamed) {
    trace_test::TempDir dir;
    const Outcome r = run(dir, std::string(ARENA_TRACE) + " record -o '" + (dir / "bi.trace") +
                                   "' -- " + RECORD_ENDINGS + " background-idle");
    EXPECT_EQ(r.exit_code, 1) << r.err;
    EXPECT_NE(r.err.find("was still running when the command ended (in the background?); its later heap calls go "
                         "to a " + (dir / "bi.trace.tmp.")),
              std::string::npos)
        << r.err;
}

// A shell's background job whose parent exits at once: the child may not have
// run yet when the command ends, so it is listed by its parent's fork.
TEST(Recorder, ABackgroundJobOfAShellThatExitsAtOnceIsNamed) {
    trace_test::TempDir dir;
    const Outcome r = run(dir, std::string(ARENA_TRACE) + " record -o '" + (dir / "sh.trace") +
                                   "' -- sh -c 'sleep 2 & exit 0'");
    EXPECT_EQ(r.exit_code, 1) << r.err;
    EXPECT_NE(r.err.find("was still running when the command ended (in the background?)"), std::string::npos)
        << r.err;
}

// A child made by _Fork in a threaded program could copy the recorder's lock
// held by a thread it does not have: its first heap call waited for good (and
// the parent, waiting for it, recorded its threads' calls without end).
TEST(Recorder, AChildOfARawForkBesideBusyThreadsGoesOn) {
    trace_test::TempDir dir;
    const Outcome r = run(dir, std::string(ARENA_TRACE) + " record -o '" + (dir / "rt.trace") + "' -- " +
                                   RECORD_ENDINGS + " raw-fork-threads");
    ASSERT_EQ(r.exit_code, 0) << "7: a child did not end within 10 s\n" << r.err;
    const std::vector<std::string> files = files_starting(dir.path(), "rt.trace");
    EXPECT_EQ(files.size(), 21u) << r.err;
    for (const std::string &f : files) {
        trace::Trace t;
        std::string error;
        EXPECT_TRUE(trace::load(dir / f, &t, &error)) << error;
    }
}

// The child's trace keeps .gz last (p.trace.PID.gz): p.trace.gz.PID is no
// gzip name to the tools that go by the suffix.
TEST(Recorder, GzipOutput) {
    trace_test::TempDir dir;
    const Outcome r = run(dir, std::string(ARENA_TRACE) + " record -o '" + (dir / "p.trace.gz") + "' -- " + RECORD_PROBE);
    EXPECT_EQ(r.exit_code, 7) << r.err;
    const std::vector<std::string> files = files_starting(dir.path(), "p.trace");
    ASSERT_EQ(files.size(), 2u) << r.err;
    ASSERT_EQ(std::count(files.begin(), files.end(), "p.trace.gz"), 1) << r.err;
    const std::string &child = files[0] == "p.trace.gz" ? files[1] : files[0];
    EXPECT_TRUE(names_pid(child, "p.trace.", ".gz")) << child;
    EXPECT_NE(r.err.find("wrote " + (dir / child) + ":"), std::string::npos) << r.err;
    for (const std::string &f : files) {
        EXPECT_EQ(trace_test::read_file(dir / f).substr(0, 2), "\x1f\x8b") << f;
        trace::Trace t;
        std::string error;
        EXPECT_TRUE(trace::load(dir / f, &t, &error)) << error;
    }
}

TEST(Recorder, RealProgramValidatesAndBehavesTheSame) {
    trace_test::TempDir dir;
    trace_test::write_file(dir / "script.py",
                           "import json, sys, subprocess\n"
                           "d = {str(i): [i] * (i % 7) for i in range(20000)}\n"
                           "s = json.dumps(d)\n"
                           "print(len(s), sum(len(v) for v in json.loads(s).values()))\n"
                           "print(subprocess.run(['echo', 'child'], capture_output=True, text=True).stdout.strip())\n"
                           "sys.stderr.write('to stderr\\n')\n"
                           "sys.exit(3)\n");
    const std::string python = "PYTHONMALLOC=malloc /usr/bin/python3 '" + (dir / "script.py") + "'";
    const Outcome plain = run(dir, python);
    const Outcome recorded = run(dir, std::string(ARENA_TRACE) + " record -o '" + (dir / "py.trace.gz") + "' -- env " + python);
    EXPECT_EQ(plain.exit_code, 3);
    EXPECT_EQ(recorded.exit_code, plain.exit_code);
    EXPECT_EQ(recorded.out, plain.out);
    EXPECT_NE(plain.out.find(" 59997\nchild\n"), std::string::npos) << plain.out;
    EXPECT_EQ(recorded.err.rfind("to stderr\n", 0), 0u) << recorded.err;
    // env, then python (same pid after exec), the forked child, echo after its exec
    const std::vector<std::string> files = files_starting(dir.path(), "py.trace");
    EXPECT_GE(files.size(), 3u) << recorded.err;
    uint64_t biggest = 0;
    for (const std::string &f : files) {
        trace::Trace t;
        std::string error;
        EXPECT_TRUE(trace::load(dir / f, &t, &error)) << error;
        biggest = std::max(biggest, t.facts.ops);
    }
    EXPECT_GT(biggest, 50000u) << "python's own trace holds its dict and json work";
    EXPECT_EQ(recorded.err.find("is incomplete"), std::string::npos) << recorded.err;
}

}  // namespace
