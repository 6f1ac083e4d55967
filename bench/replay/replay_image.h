// replay_image.h: the compact binary form of a validated trace that the parent
// writes once and every child maps (hundreds of children must not parse a big
// .trace.gz each). The file holds the ops as the trace library made them, the
// facts a replay needs, and for multi-thread traces the dependencies of
// threaded replay. It lives in the run's temporary directory only.
#pragma once

#include <cstdint>
#include <string>

#include "trace.h"

namespace replay {

struct ImageHeader {
    char magic[8];                 // kImageMagic
    uint64_t ops;
    uint64_t slot_count;
    uint64_t threads;              // distinct thread ids in the trace
    uint64_t max_thread;
    uint64_t peak_live_bytes;
    uint64_t peak_op;              // live bytes peak after this op
    uint64_t count[5];             // ops by trace::OpKind
    uint64_t bump_reserve_bytes;   // what the bump reference must map beforehand
    uint64_t ops_offset;           // trace::Op[ops]
    uint64_t previous_offset;      // uint64_t[ops]: trace::previous_op_on_slot (threads > 1)
    uint64_t thread_start_offset;  // uint64_t[max_thread + 2]: where each thread's ops start
    uint64_t thread_ops_offset;    // uint64_t[ops]: op indices grouped by thread, file order
    uint64_t file_bytes;
    char name[256];                // the trace's name, NUL-terminated
};

constexpr char kImageMagic[8] = {'A', 'R', 'P', 'L', 'A', 'Y', '0', '1'};

// Shortens a trace to its first `ops` ops (nothing when it has no more),
// recomputing the facts of what is left.
void truncate_trace(trace::Trace *t, uint64_t ops);

// Bytes the bump reference maps for a replay of t: every allocation and every
// growing realloc takes fresh memory.
uint64_t bump_reserve_bytes(const trace::Trace &t);

// Writes the image of t to path. False with *error set on failure.
bool write_image(const trace::Trace &t, const std::string &path, std::string *error);

// A mapped image, every page faulted in (so reading ops during a replay adds
// nothing to resident memory).
class Image {
public:
    Image() = default;
    ~Image();
    Image(const Image &) = delete;
    Image &operator=(const Image &) = delete;

    bool map(const std::string &path, std::string *error);

    const ImageHeader &header() const { return *header_; }
    std::string name() const { return header_->name; }
    const trace::Op *ops() const { return ops_; }
    bool has_threads() const { return previous_ != nullptr; }
    const uint64_t *previous() const { return previous_; }
    // Op indices of one thread, in file order: [begin, end).
    const uint64_t *thread_ops_begin(uint64_t thread) const { return thread_ops_ + thread_start_[thread]; }
    const uint64_t *thread_ops_end(uint64_t thread) const { return thread_ops_ + thread_start_[thread + 1]; }

private:
    void *base_ = nullptr;
    uint64_t length_ = 0;
    const ImageHeader *header_ = nullptr;
    const trace::Op *ops_ = nullptr;
    const uint64_t *previous_ = nullptr;
    const uint64_t *thread_start_ = nullptr;
    const uint64_t *thread_ops_ = nullptr;
};

}  // namespace replay
