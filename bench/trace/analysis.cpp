// analysis.cpp: descriptions of a loaded trace beyond its Facts: lifetimes, and
// the per-thread views a threaded replay needs.
#include "trace.h"

namespace trace {

Lifetimes lifetimes(const Trace &t) {
    Lifetimes result;
    std::vector<uint64_t> born(t.facts.slot_count, kNoOp);  // by slot: op index of its a/c/m
    for (uint64_t i = 0; i < t.ops.size(); i++) {
        const Op &op = t.ops[i];
        if (op.kind == OpKind::Free) {
            result.hist[bit_width(i - born[op.slot])]++;
            born[op.slot] = kNoOp;
        } else if (op.kind != OpKind::Realloc) {
            born[op.slot] = i;
        }
    }
    for (uint64_t b : born) result.never_freed += b != kNoOp;
    return result;
}

std::vector<uint64_t> previous_op_on_slot(const Trace &t) {
    std::vector<uint64_t> previous(t.ops.size());
    std::vector<uint64_t> last(t.facts.slot_count, kNoOp);  // by slot: latest op on it
    for (uint64_t i = 0; i < t.ops.size(); i++) {
        previous[i] = last[t.ops[i].slot];
        last[t.ops[i].slot] = i;
    }
    return previous;
}

uint64_t cross_thread_frees(const Trace &t) {
    std::vector<uint16_t> allocated_by(t.facts.slot_count);
    uint64_t cross = 0;
    for (const Op &op : t.ops) {
        if (op.kind == OpKind::Free) cross += allocated_by[op.slot] != op.thread;
        else if (op.kind != OpKind::Realloc) allocated_by[op.slot] = op.thread;
    }
    return cross;
}

std::vector<std::vector<uint64_t>> ops_by_thread(const Trace &t) {
    std::vector<std::vector<uint64_t>> result(t.facts.max_thread + 1u);
    for (uint64_t i = 0; i < t.ops.size(); i++) result[t.ops[i].thread].push_back(i);
    return result;
}

}  // namespace trace
