// replay_child.h: one measurement in a process of its own. The parent runs
// `bench_replay --child ...` (with LD_PRELOAD for a process malloc); the child
// maps the trace image, replays it once in one pass inside Google Benchmark
// (one registered benchmark, one iteration, manual time = the replay only)
// and writes its figures as key=value lines on fd 3.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "replay_engine.h"

namespace replay {

struct ChildRequest {
    std::string image;          // replay image file
    std::string allocator;
    Pass pass = Pass::Throughput;
    uint64_t block_size = 0;
    uint64_t region_size = 0;
    uint64_t huge_pages_from = 0;  // 0 = the policy's own, bench::kHugePagesNever = never
    bool threaded = false;
    bool lockstep = false;      // threaded, the threads taking turns in file order
    uint64_t repetition = 1;
    double budget_seconds = 0;
    std::string benchmark_out;  // Google Benchmark JSON of this child ("" = none)
};

constexpr const char *kChildFlag = "--child";

// The arguments after the driver's path that make a child do `request`.
std::vector<std::string> child_arguments(const ChildRequest &request);

// The child's main; argv[1] is kChildFlag.
int child_main(int argc, char **argv);

// The Google Benchmark name of a measurement.
std::string benchmark_name(const std::string &trace, const ChildRequest &request, uint64_t threads);

}  // namespace replay
