#include "child.h"

#include <fcntl.h>
#include <limits.h>
#include <signal.h>
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

// In the forked child: sets fd `target` to a file opened with `flags`.
static bool redirect(const std::string &path, int flags, int target) {
    if (path.empty()) return true;
    int fd = ::open(path.c_str(), flags | O_CLOEXEC, 0644);
    return fd >= 0 && dup2(fd, target) == target;
}

ChildResult run_child(const ChildSpec &spec) {
    ChildResult result;
    // Everything the child needs is built before fork: after it, only
    // async-signal-safe calls.
    std::vector<std::string> env = child_environment(spec);
    std::vector<char *> argv, envp;
    for (const auto &a : spec.argv) argv.push_back(const_cast<char *>(a.c_str()));
    argv.push_back(nullptr);
    for (const auto &e : env) envp.push_back(const_cast<char *>(e.c_str()));
    envp.push_back(nullptr);

    int results[2] = {-1, -1}, exec_status[2] = {-1, -1};
    if ((spec.result_pipe && pipe2(results, O_CLOEXEC) != 0) || pipe2(exec_status, O_CLOEXEC) != 0) {
        result.error = std::string("pipe: ") + std::strerror(errno);
        return result;
    }
    const double t0 = monotonic_seconds();
    pid_t pid = fork();
    if (pid < 0) {
        result.error = std::string("fork: ") + std::strerror(errno);
        return result;
    }
    if (pid == 0) {
        bool ok = redirect(spec.stdin_path, O_RDONLY, 0) &&
                  redirect(spec.stdout_path, O_WRONLY | O_CREAT | O_TRUNC, 1) &&
                  redirect(spec.stderr_path, O_WRONLY | O_CREAT | O_TRUNC, 2);
        if (ok && spec.result_pipe) {
            if (results[1] == kResultFd)
                ok = fcntl(kResultFd, F_SETFD, 0) == 0;  // keep it across exec
            else
                ok = dup2(results[1], kResultFd) == kResultFd;
        }
        if (ok) execvpe(argv[0], argv.data(), envp.data());
        int error_number = errno;
        ssize_t ignored = ::write(exec_status[1], &error_number, sizeof error_number);
        (void)ignored;
        _exit(127);
    }
    ::close(exec_status[1]);
    if (spec.result_pipe) {
        ::close(results[1]);
        char buffer[65536];
        for (;;) {
            ssize_t n = ::read(results[0], buffer, sizeof buffer);
            if (n < 0 && errno == EINTR) continue;
            if (n <= 0) break;
            result.results.append(buffer, static_cast<size_t>(n));
        }
        ::close(results[0]);
    }
    int exec_errno = 0;
    ssize_t got = ::read(exec_status[0], &exec_errno, sizeof exec_errno);
    ::close(exec_status[0]);
    int status = 0;
    while (wait4(pid, &status, 0, &result.usage) < 0 && errno == EINTR) {
    }
    result.wall_seconds = monotonic_seconds() - t0;
    if (got == static_cast<ssize_t>(sizeof exec_errno)) {
        result.error = "cannot run " + spec.argv[0] + ": " + std::strerror(exec_errno);
        return result;
    }
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

void write_result(const std::string &key, const std::string &value) {
    std::string line = key + "=" + value + "\n";
    const char *p = line.data();
    size_t left = line.size();
    while (left > 0) {
        ssize_t n = ::write(kResultFd, p, left);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) return;  // no parent listening: a child run by hand
        p += n;
        left -= static_cast<size_t>(n);
    }
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
