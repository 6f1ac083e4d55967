// builder.h: assembles a Trace op by op, giving each new object the lowest free
// slot and keeping the Facts up to date. The reader feeds it what it parses and
// the workload generators what they invent, so both number slots the same way
// (which is what makes write -> read -> write give identical bytes).
#pragma once

#include "id_table.h"
#include "trace.h"

namespace trace {

class Builder {
public:
    Builder();
    ~Builder();
    Builder(const Builder &) = delete;
    Builder &operator=(const Builder &) = delete;

    // Each call appends one op. The caller guarantees the op is legal (slot live
    // for realloc/free, a power-of-two alignment, N*SIZE without overflow); the
    // calls that add bytes return false only when the sum of live bytes would
    // overflow 64 bits, and then append nothing.
    bool alloc(OpKind kind, uint64_t size, uint64_t arg, uint16_t thread, uint32_t *slot);
    bool realloc(uint32_t slot, uint64_t size, uint16_t thread);
    void free(uint32_t slot, uint16_t thread);

    bool is_live(uint32_t slot) const { return slot < live_size_.size() && live_[slot]; }
    uint64_t live_size(uint32_t slot) const { return live_size_[slot]; }
    uint64_t live_blocks() const { return live_blocks_; }
    size_t op_count() const { return ops_.size(); }

    // Moves the ops and facts into out (path and name untouched) and resets.
    void finish(Trace *out);

private:
    bool add_live_bytes(uint64_t bytes);
    void push(OpKind kind, uint64_t size, uint64_t arg, uint32_t slot, uint16_t thread);

    std::vector<Op> ops_;
    Facts facts_;
    id_pool slots_;
    std::vector<uint64_t> live_size_;  // by slot: bytes the live object holds
    std::vector<bool> live_;
    uint64_t live_bytes_ = 0, live_blocks_ = 0;
    std::vector<bool> thread_seen_;
    uint32_t distinct_threads_ = 0;
};

}  // namespace trace
