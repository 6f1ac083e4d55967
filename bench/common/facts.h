// facts.h: the facts a result file starts with (`# key: value` lines), so a
// number can be traced to the machine, build and command that made it.
#pragma once

#include <string>
#include <utility>
#include <vector>

namespace bench {

using Facts = std::vector<std::pair<std::string, std::string>>;

// command (first: the command that made the file), date, commit, cpu, cores,
// kernel, glibc, compiler, page_fault_us (what a first write to a fresh page
// costs here, measured: it sets how much of a replay is the kernel's).
Facts machine_facts(const std::string &command);

// argv as one shell-quoted line, after the NAME=VALUE settings of the
// environment variables that change an allocator (ARENA_*, MALLOC_*, ...), so
// that the line remakes the run.
std::string command_line(int argc, char **argv);

// text as one word of a POSIX shell command: as it is when it needs no quotes,
// else in single quotes.
std::string shell_word(const std::string &text);
// NAME=VALUE with VALUE as one shell word.
std::string shell_setting(const std::string &name_value);

// Sets key to value, replacing an earlier value of key.
void set_fact(Facts *facts, const std::string &key, const std::string &value);

}  // namespace bench
