#include "child.h"

#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

extern char **environ;

namespace bench {

std::string ChildResult::status() const {
    if (!started) return "not started: " + error;
    if (signal) return "killed by signal " + std::to_string(signal) + " (" + strsignal(signal) + ")";
    return "exit " + std::to_string(exit_code);
}

static double monotonic_seconds() {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) / 1e9;
}

static std::vector<std::string> child_environment(const ChildSpec &spec) {
    auto replaced = [&](const std::string &entry) {
        std::string name = entry.substr(0, entry.find('='));
        for (const auto &n : spec.unset_env)
            if (n == name) return true;
        for (const auto &e : spec.set_env)
            if (e.substr(0, e.find('=')) == name) return true;
        return false;
    };
    std::vector<std::string> env;
    for (char **e = environ; *e; ++e)
        if (!replaced(*e)) env.emplace_back(*e);
    env.insert(env.end(), spec.set_env.begin(), spec.set_env.end());
    return env;
}

// The child is started with posix_spawn, which glibc runs as a vfork: the
// parent's page tables are not copied. fork() copied them: the parent holds
// every trace's images and rows (over 100 MB), and on a Firecracker guest of
// this kind a fork and exec from a process that size took 26 ms against
// posix_spawn's 2.5; a job's time beyond its replay fell from 41 to 20 ms
// (median) over a default run's 1500 jobs.
ChildResult run_child(const ChildSpec &spec) {
    ChildResult result;
    std::vector<std::string> env = child_environment(spec);
    std::vector<char *> argv, envp;
    for (const auto &a : spec.argv) argv.push_back(const_cast<char *>(a.c_str()));
    argv.push_back(nullptr);
    for (const auto &e : env) envp.push_back(const_cast<char *>(e.c_str()));
    envp.push_back(nullptr);

    int results[2] = {-1, -1};
    if (spec.result_pipe && pipe2(results, O_CLOEXEC) != 0) {
        result.error = std::string("pipe: ") + std::strerror(errno);
        return result;
    }
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    if (!spec.stdin_path.empty()) posix_spawn_file_actions_addopen(&actions, 0, spec.stdin_path.c_str(), O_RDONLY, 0);
    if (!spec.stdout_path.empty())
        posix_spawn_file_actions_addopen(&actions, 1, spec.stdout_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (!spec.stderr_path.empty())
        posix_spawn_file_actions_addopen(&actions, 2, spec.stderr_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    // Where the write end is kResultFd already, the dup2 clears its
    // close-on-exec flag (POSIX 2024, glibc since 2.29).
    if (spec.result_pipe) posix_spawn_file_actions_adddup2(&actions, results[1], kResultFd);

    const double t0 = monotonic_seconds();
    pid_t pid = -1;
    // Fails (an errno value) when a file action or the exec failed: the child
    // never ran the program.
    const int spawn_error = posix_spawnp(&pid, argv[0], &actions, nullptr, argv.data(), envp.data());
    posix_spawn_file_actions_destroy(&actions);
    if (spec.result_pipe) ::close(results[1]);
    if (spawn_error != 0) {
        if (spec.result_pipe) ::close(results[0]);
        result.error = "cannot run " + spec.argv[0] + ": " + std::strerror(spawn_error);
        return result;
    }
    if (spec.result_pipe) {
        char buffer[65536];
        for (;;) {
            ssize_t n = ::read(results[0], buffer, sizeof buffer);
            if (n < 0 && errno == EINTR) continue;
            if (n <= 0) break;
            result.results.append(buffer, static_cast<size_t>(n));
        }
        ::close(results[0]);
    }
    int status = 0;
    while (wait4(pid, &status, 0, &result.usage) < 0 && errno == EINTR) {
    }
    result.wall_seconds = monotonic_seconds() - t0;
    result.started = true;
    if (WIFEXITED(status)) result.exit_code = WEXITSTATUS(status);
    if (WIFSIGNALED(status)) result.signal = WTERMSIG(status);
    return result;
}

ResultLines parse_result_lines(const std::string &text) {
    ResultLines lines;
    size_t start = 0;
    while (start < text.size()) {
        size_t end = text.find('\n', start);
        if (end == std::string::npos) end = text.size();
        std::string line = text.substr(start, end - start);
        size_t eq = line.find('=');
        if (eq != std::string::npos) lines.emplace_back(line.substr(0, eq), line.substr(eq + 1));
        start = end + 1;
    }
    return lines;
}

std::string result_value(const ResultLines &lines, const std::string &key, const std::string &fallback) {
    for (auto it = lines.rbegin(); it != lines.rend(); ++it)
        if (it->first == key) return it->second;
    return fallback;
}

bool write_all(int fd, const std::string &text) {
    size_t written = 0;
    while (written < text.size()) {
        const ssize_t n = ::write(fd, text.data() + written, text.size() - written);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) {
            if (n == 0) errno = ENOSPC;
            return false;
        }
        written += static_cast<size_t>(n);
    }
    return true;
}

void write_result(const std::string &key, const std::string &value) {
    write_all(kResultFd, key + "=" + value + "\n");  // false: no parent listening, a child run by hand
}

std::string self_executable() {
    char path[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", path, sizeof path - 1);
    if (n <= 0) return "";
    path[n] = '\0';
    return path;
}

std::string self_directory() {
    std::string exe = self_executable();
    size_t slash = exe.rfind('/');
    return slash == std::string::npos ? "." : exe.substr(0, slash);
}

}  // namespace bench
