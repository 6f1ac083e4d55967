// replay_engine.h: replays one trace image against one allocator, in one of
// the passes below, following docs/measuring.md:
// - every op in file order (or, threaded, each trace thread on its own OS
//   thread, in its own order, waiting where an op depends on another thread's;
//   or, in lockstep, on its own OS thread with the threads taking turns in
//   file order, so the live bytes follow the trace's exactly);
// - every new block is written (first and last byte, one byte per 4 KiB page);
//   a growing realloc writes only the grown part;
// - blocks still live at the end are freed after the measured part;
// - the replay's own tables are mapped and faulted in before anything is
//   measured, so they are neither in the allocator's heap nor in the RSS rise.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "allocator.h"
#include "memory.h"
#include "replay_image.h"

namespace replay {

enum class Pass {
    Throughput,    // timed: the replay only; minor faults around it
    Memory,        // resident memory sampled every 1% of ops and at the live peak
    Latency,       // each malloc/free/realloc call timed on its own
    Check,         // untimed: alignment and contents of every block, heap checks
    Instructions,  // like Throughput, with callgrind instrumentation on around the replay
};

const char *pass_name(Pass pass);
bool parse_pass(const std::string &text, Pass *pass);

// Kinds of call the latency pass times: "malloc" is every allocation (a, c, m).
enum LatencyKind { kLatencyMalloc = 0, kLatencyFree = 1, kLatencyRealloc = 2, kLatencyKinds = 3 };
const char *latency_kind_name(int kind);

struct LatencyFigures {
    uint64_t calls = 0;
    uint64_t p50_ns = 0, p99_ns = 0, p999_ns = 0, max_ns = 0;
};

// One point of the memory pass: after op_index ops.
struct Sample {
    uint64_t op_index = 0;
    uint64_t live_bytes = 0;      // sum of requested sizes of live blocks (file order)
    uint64_t rss_bytes = 0;       // resident memory above the baseline taken before the allocator existed
    bool has_mapped = false;
    uint64_t mapped_bytes = 0;    // the allocator's own footprint figure
};

struct CheckFindings {
    uint64_t blocks = 0;              // blocks whose contents were verified at least once
    uint64_t misaligned = 0, not_zeroed = 0, corrupted = 0, heap_errors = 0;
    std::vector<std::string> examples;  // the first few problems, one line each
    bool clean() const { return !misaligned && !not_zeroed && !corrupted && !heap_errors; }
};

struct Outcome {
    bool ok = true;
    std::string error;               // when !ok: what failed, at which op
    bool over_budget = false;        // stopped after the time budget
    uint64_t ops_done = 0;
    double seconds = 0;              // the replay (the timed part of timed passes)
    double cpu_seconds = 0;          // CPU time of the replaying threads, their waits for one another left out
    uint64_t minor_faults = 0;
    // Memory pass
    uint64_t rss_peak_bytes = 0;     // largest rise of resident memory over the baseline
    uint64_t live_at_rss_peak = 0;   // live bytes at that sample
    uint64_t rss_after_bytes = 0;    // rise left after every block was freed
    bool has_internal_frag = false;
    double internal_frag = 0;        // usable / requested over live blocks at the live peak
    bool has_footprint = false;
    uint64_t footprint_bytes = 0;    // largest footprint figure over the samples
    std::vector<Sample> timeline;
    // Latency pass
    LatencyFigures latency[kLatencyKinds];
    double timer_overhead_ns = 0;    // median of back-to-back clock readings
    // Check pass
    CheckFindings check;
};

struct SessionOptions {
    Pass pass = Pass::Throughput;
    bool threaded = false;           // replay each trace thread on its own OS thread
    bool lockstep = false;           // threaded: one op at a time, in file order (the threads take turns)
    double budget_seconds = 0;       // stop a replay that runs longer (0 = no limit)
    const bench::AllocatorInfo *allocator = nullptr;
    bench::AllocatorSettings settings;
};

// One replay in one process: prepare() before anything is measured, start()
// above the timed loop (takes the resident baseline, then creates the
// allocator), replay() is what is measured, finish() frees what is left and
// takes the after-figures.
class Session {
public:
    Session(const Image &image, const SessionOptions &options);
    ~Session();
    Session(const Session &) = delete;
    Session &operator=(const Session &) = delete;

    bool prepare(std::string *error);
    bool start(std::string *error);
    void replay();
    void finish();
    const Outcome &outcome() const { return outcome_; }

private:
    struct State;
    std::unique_ptr<State> state_;
    Outcome outcome_;
};

}  // namespace replay
