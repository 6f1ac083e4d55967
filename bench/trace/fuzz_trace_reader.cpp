// fuzz_trace_reader: libFuzzer target for the reader (plain text or gzip).
// Besides "no crash, no leak, no undefined behaviour" it checks two properties:
// a rejected input names the file and a line ("fuzz:LINE: ...", or "fuzz: ..."
// for gzip damage), and an accepted one survives the canonical round trip
// (to_text -> parse -> to_text gives the same text and the same facts).
#include <cstdlib>
#include <cstring>

#include "trace.h"

// Field by field: Facts has padding, which memcmp would compare too.
static bool same_facts(const trace::Facts &a, const trace::Facts &b) {
    return a.ops == b.ops && memcmp(a.count, b.count, sizeof a.count) == 0 &&
           a.peak_live_bytes == b.peak_live_bytes && a.peak_op == b.peak_op &&
           a.peak_live_blocks == b.peak_live_blocks && a.final_live_blocks == b.final_live_blocks &&
           a.final_live_bytes == b.final_live_bytes && a.slot_count == b.slot_count && a.threads == b.threads &&
           a.max_thread == b.max_thread && memcmp(a.size_hist, b.size_hist, sizeof a.size_hist) == 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    trace::Trace t;
    std::string error;
    if (!trace::load_bytes("fuzz", reinterpret_cast<const char *>(data), size, &t, &error)) {
        if (error.compare(0, 5, "fuzz:") != 0 || !t.ops.empty()) abort();
        return 0;
    }
    const std::string text = trace::to_text(t);
    trace::Trace back;
    if (!trace::parse("canonical", text.data(), text.size(), &back, &error)) abort();
    if (trace::to_text(back) != text) abort();
    if (!same_facts(back.facts, t.facts)) abort();
    return 0;
}
