// micro_benchmarks.h: the micro benchmarks of bench_micro (malloc/free pairs
// by size, batches freed LIFO/FIFO/random, realloc growth, calloc, reset
// against freeing each block, threads with local work, a producer/consumer
// pair with cross-thread frees).
#pragma once

#include <string>

#include "allocator.h"

namespace micro {

// Registers every benchmark that `info` supports with Google Benchmark. Each
// run is labelled `label` (the allocator and the repetition: the runs of
// every child have the same names in the JSON the parent joins).
void register_benchmarks(const bench::AllocatorInfo &info, const bench::AllocatorSettings &settings,
                         const std::string &label = "");

}  // namespace micro
