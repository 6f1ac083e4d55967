#include "builder.h"

#include <cstdlib>

namespace trace {

static void *zeroed(size_t bytes) { return std::calloc(1, bytes); }
static void release(void *p, size_t) { std::free(p); }

Builder::Builder() : thread_seen_(kMaxThread + 1) { id_pool_init(&slots_, {zeroed, release}); }

Builder::~Builder() { id_pool_destroy(&slots_); }

bool Builder::add_live_bytes(uint64_t bytes) {
    if (bytes > UINT64_MAX - live_bytes_) return false;
    live_bytes_ += bytes;
    return true;
}

void Builder::push(OpKind kind, uint64_t size, uint64_t arg, uint32_t slot, uint16_t thread) {
    ops_.push_back(Op{size, arg, slot, thread, kind, 0});
    facts_.count[static_cast<int>(kind)]++;
    if (kind != OpKind::Free) facts_.size_hist[bit_width(requested_bytes(ops_.back()))]++;
    if (!thread_seen_[thread]) {
        thread_seen_[thread] = true;
        distinct_threads_++;
        if (thread > facts_.max_thread) facts_.max_thread = thread;
    }
    if (live_bytes_ > facts_.peak_live_bytes) {
        facts_.peak_live_bytes = live_bytes_;
        facts_.peak_op = ops_.size() - 1;
    }
    if (live_blocks_ > facts_.peak_live_blocks) facts_.peak_live_blocks = live_blocks_;
}

bool Builder::alloc(OpKind kind, uint64_t size, uint64_t arg, uint16_t thread, uint32_t *slot) {
    Op probe{size, arg, 0, thread, kind, 0};
    uint64_t bytes = requested_bytes(probe);
    if (!add_live_bytes(bytes)) return false;
    *slot = static_cast<uint32_t>(id_pool_acquire(&slots_));
    if (*slot >= live_size_.size()) {
        live_size_.resize(*slot + 1);
        live_.resize(*slot + 1);
    }
    live_size_[*slot] = bytes;
    live_[*slot] = true;
    live_blocks_++;
    push(kind, size, arg, *slot, thread);
    return true;
}

bool Builder::realloc(uint32_t slot, uint64_t size, uint16_t thread) {
    uint64_t old = live_size_[slot];
    live_bytes_ -= old;
    if (!add_live_bytes(size)) {
        live_bytes_ += old;
        return false;
    }
    live_size_[slot] = size;
    push(OpKind::Realloc, size, 0, slot, thread);
    return true;
}

void Builder::free(uint32_t slot, uint16_t thread) {
    live_bytes_ -= live_size_[slot];
    live_size_[slot] = 0;
    live_[slot] = false;
    live_blocks_--;
    id_pool_release(&slots_, slot);
    push(OpKind::Free, 0, 0, slot, thread);
}

void Builder::finish(Trace *out) {
    facts_.ops = ops_.size();
    facts_.final_live_blocks = live_blocks_;
    facts_.final_live_bytes = live_bytes_;
    facts_.slot_count = static_cast<uint32_t>(live_size_.size());
    facts_.threads = distinct_threads_ ? distinct_threads_ : 1;
    out->ops = std::move(ops_);
    out->facts = facts_;
    ops_.clear();
    facts_ = Facts{};
    id_pool_destroy(&slots_);
    id_pool_init(&slots_, {zeroed, release});
    live_size_.clear();
    live_.clear();
    live_bytes_ = live_blocks_ = 0;
    distinct_threads_ = 0;
    thread_seen_.assign(kMaxThread + 1, false);
}

}  // namespace trace
