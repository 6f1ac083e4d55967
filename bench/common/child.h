// child.h: running a child process and collecting what it reports: its exit
// status, its resource usage (wait4), and the lines it writes on fd 3.
#pragma once

#include <sys/resource.h>

#include <string>
#include <utility>
#include <vector>

namespace bench {

struct ChildSpec {
    std::vector<std::string> argv;       // argv[0]: a path, or a name looked up in PATH
    std::vector<std::string> set_env;    // NAME=VALUE, replacing the parent's NAME
    std::vector<std::string> unset_env;  // NAMEs the child does not inherit
    bool result_pipe = false;            // fd 3 of the child is a pipe the parent reads
    std::string stdin_path, stdout_path, stderr_path;  // "" = inherited
};

struct ChildResult {
    bool started = false;
    std::string error;        // why it did not start
    int exit_code = -1;
    int signal = 0;
    std::string results;      // everything written on fd 3
    double wall_seconds = 0;  // spawn to wait4
    struct rusage usage {};
    bool succeeded() const { return started && signal == 0 && exit_code == 0; }
    std::string status() const;  // "exit 3", "killed by signal 11 (Segmentation fault)"
};

ChildResult run_child(const ChildSpec &spec);

// The fd on which a child writes its results when ChildSpec::result_pipe.
constexpr int kResultFd = 3;

// Results are lines "key=value"; a key may repeat.
using ResultLines = std::vector<std::pair<std::string, std::string>>;
ResultLines parse_result_lines(const std::string &text);
// The last value of key, or fallback.
std::string result_value(const ResultLines &lines, const std::string &key, const std::string &fallback = "");

// Writes "key=value\n" to the result fd (child side). Values have no newline.
void write_result(const std::string &key, const std::string &value);

// Writes all of text to fd, again after EINTR and short writes. False with
// errno set (ENOSPC for a write that took nothing).
bool write_all(int fd, const std::string &text);

// The running program and its directory (from /proc/self/exe).
std::string self_executable();
std::string self_directory();

}  // namespace bench
