// runner.h: the parent side of "every allocator in a process of its own":
// which allocators can run here, and the child command that runs one of them
// (the driver itself, re-executed with LD_PRELOAD for a process malloc).
#pragma once

#include <functional>
#include <string>
#include <vector>

#include "allocator.h"
#include "child.h"
#include "facts.h"

namespace bench {

struct UsableAllocator {
    const AllocatorInfo *info = nullptr;
    std::string library;  // the preloaded library ("" = nothing preloaded)
    std::string version;  // as the allocator reports it in its own process
};

// The allocators of `wanted` (empty: every registered one) that can run here,
// in table order. A preloaded one whose library is missing, or whose probe
// child fails, gets one line on stderr and is left out; entry points it does
// not interpose get one line too; each one left out is named in *left_out
// (when given) with why. An unknown name is a UsageError.
struct LeftOut {
    const AllocatorInfo *info;
    std::string why;
};
std::vector<UsableAllocator> find_usable_allocators(const std::vector<std::string> &wanted,
                                                    std::vector<LeftOut> *left_out = nullptr);

// The value of --allocators: known names, at least one (a UsageError otherwise).
std::vector<std::string> parse_allocator_list(const std::string &text);

// What a driver runs: the usable allocators of `wanted` (empty: all) that
// `fits` accepts, each with an allocator.<name> fact; one that cannot run here
// gets an unavailable.<name> fact with why, so that the CSV says what is
// missing from it, not only the run's stderr. One that was named in
// `wanted` but does not fit gets one line "NAME: <why_not>; left out"; when
// no named one fits, that is a UsageError. When none is left (none available),
// says so on stderr and returns nothing.
std::vector<UsableAllocator> allocators_to_run(const std::vector<std::string> &wanted,
                                               bool (*fits)(const AllocatorInfo &), const std::string &why_not,
                                               Facts *facts);

// Makes spec's program run with the allocator as its malloc: LD_PRELOAD set
// to its library, or cleared when it needs none.
void preload(const UsableAllocator &allocator, ChildSpec *spec);

// A child running this driver with `args` under the allocator (LD_PRELOAD
// set, or cleared for glibc and explicit allocators), reporting on fd 3.
ChildSpec child_for(const UsableAllocator &allocator, const std::vector<std::string> &args);

// The child side of the probe: `DRIVER --child-info=NAME` writes version=,
// malloc_from=, malloc_interposed=, not_interposed= (entry points that are
// not the preloaded library's and that the drivers call) and
// not_interposed_uncalled= (those they never call) on the result fd. A
// driver's main calls this first: it returns the exit status of the probe, or
// -1 when argv asks for something else.
int run_probe_if_asked(int argc, char **argv);

// A fresh directory for a run's temporary files, $TMPDIR/PREFIX.XXXXXX
// (mkdtemp): never one left by an earlier run whose files could be read as
// this run's. "" after one line on stderr when it cannot be made.
std::string make_temp_dir(const std::string &prefix);

// From this call on, SIGINT, SIGTERM, SIGHUP and SIGPIPE (those not ignored
// when the driver started) set a flag (interrupted()) instead of ending the
// driver: it stops between jobs, says so, writes nothing and removes its
// temporary directory. Called before the run makes any file (the probe of its
// outputs, which makes and removes them, its temporary directory), so that no
// moment of the run leaves one behind: a SIGTERM in the probe left an empty
// CSV (bench.interrupted failed once so, under ASan). A child running then
// ends within its job (from the terminal, the signal reaches it too).
void catch_interrupts();
bool interrupted();
// The end of an interrupted run: temp_dir removed (none when ""), "PROGRAM:
// interrupted; nothing written" on stderr; returns the exit status, 130.
int stop_interrupted(const char *program, const std::string &temp_dir);

// The main of a driver around `run`: answers the allocator probe and --help;
// a UsageError thrown by run prints "program: what" and the usage on stderr
// and exits 2.
int driver_main(int argc, char **argv, const char *program, const char *usage, const std::function<int()> &run);

}  // namespace bench
