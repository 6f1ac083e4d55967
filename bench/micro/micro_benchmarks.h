// micro_benchmarks.h: the micro benchmarks of bench_micro (malloc/free pairs
// by size, batches freed LIFO/FIFO/random, realloc growth, calloc, reset
// against freeing each block, threads with local work, a producer/consumer
// pair with cross-thread frees).
#pragma once

#include "allocator.h"

namespace micro {

// Registers every benchmark that `info` supports with Google Benchmark.
void register_benchmarks(const bench::AllocatorInfo &info, const bench::AllocatorSettings &settings);

}  // namespace micro
