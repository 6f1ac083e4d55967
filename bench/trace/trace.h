// trace.h: the allocation trace library. It reads, checks, writes and describes
// traces in the format of docs/trace-format.md; it knows nothing of any allocator.
//
// Contract shared by every tool and driver in bench/ (extend, do not change):
// - load() validates the whole file before returning anything; on the first
//   error it returns false and sets error to "FILE:LINE: what is wrong".
// - ops come back in file order with ids remapped to dense slots
//   (0 .. slot_count-1), so a replay indexes an array, not a hash table. A slot
//   is live from its a/c/m op to its f op; after that it may be reused.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace trace {

enum class OpKind : uint8_t {
    Malloc = 0,    // a ID SIZE                 size
    Calloc = 1,    // c ID N SIZE               size = element size, arg = N
    Memalign = 2,  // m ID ALIGN SIZE           size, arg = alignment (power of two)
    Realloc = 3,   // r ID SIZE                 size (never 0)
    Free = 4,      // f ID
};

struct Op {
    uint64_t size;    // bytes (calloc: element size)
    uint64_t arg;     // calloc: element count; memalign: alignment; else 0
    uint32_t slot;    // dense slot of the object
    uint16_t thread;  // thread that made the call (0 unless a `t` line said otherwise)
    OpKind kind;
    uint8_t reserved;
};
static_assert(sizeof(Op) == 24, "Op stays compact: a replay streams through them");

// Facts about a whole trace, computed while loading.
struct Facts {
    uint64_t ops = 0;
    uint64_t count[5] = {0, 0, 0, 0, 0};  // by OpKind
    uint64_t peak_live_bytes = 0;         // max over the trace of the sum of live sizes
    uint64_t peak_op = 0;                 // index of the op after which live bytes peak
    uint64_t peak_live_blocks = 0;
    uint64_t final_live_blocks = 0;       // never freed by the program
    uint64_t final_live_bytes = 0;
    uint32_t slot_count = 0;              // slots needed for a replay
    uint32_t threads = 1;                 // distinct thread ids seen (1 when none)
    uint16_t max_thread = 0;              // largest thread id seen
    uint64_t size_hist[65] = {};          // by bit width of the size: [0] size 0,
                                          // [k] 2^(k-1) <= size < 2^k
};

struct Trace {
    std::string path;      // as given to load()
    std::string name;      // trace_file_name(path), or the file name when that is ""
    std::vector<Op> ops;
    Facts facts;
};

// The name of a trace file without directories and its .trace/.trace.gz, or
// "" when the file name is no trace's: NAME.trace and NAME.trace.gz, and the
// traces `arena-trace record` writes for other processes, NAME.trace.PID and
// NAME.trace.PID.N (each maybe .gz), named NAME.PID and NAME.PID.N.
std::string trace_file_name(const std::string &path);

// Reads a .trace or .trace.gz file (gzip is detected from the content).
// Returns false with error = "FILE:LINE: what is wrong" on the first problem.
bool load(const std::string &path, Trace *out, std::string *error);

// Parses trace text already in memory; `path` only names it in errors.
bool parse(const std::string &path, const char *text, size_t len, Trace *out,
           std::string *error);

// Writes a trace in canonical form (header, one op per line, `t` lines where the
// thread changes); gzip when path ends in .gz. Returns false with error set, and
// then leaves no regular file at path (none cut short).
bool write(const std::string &path, const Trace &t, std::string *error);

// The canonical text of a trace (what write() puts in a plain file).
std::string to_text(const Trace &t);

}  // namespace trace

// ---- Additions beyond the contract above ----------------------------------

namespace trace {

// Thread ids this library accepts: 0 .. kMaxThread (a `t` line naming a larger
// one is an error). A recorder maps real threads onto these in order of first
// appearance.
constexpr uint32_t kMaxThread = 1023;

// The op letter of the format: 'a', 'c', 'm', 'r' or 'f'.
char op_letter(OpKind kind);

// Number of bits needed to write v (0 for 0): the bucket of the histograms.
inline unsigned bit_width(uint64_t v) { return v ? 64u - static_cast<unsigned>(__builtin_clzll(v)) : 0u; }

// Bytes an op asks for: size, or N*SIZE for a calloc; 0 for a free.
// (Facts::size_hist counts every a/c/m/r op by this number.)
inline uint64_t requested_bytes(const Op &op) {
    return op.kind == OpKind::Calloc ? op.size * op.arg : op.kind == OpKind::Free ? 0 : op.size;
}

// Like parse(), but `bytes` may also be gzip data (detected from the content).
// load() is this applied to the file's bytes.
bool load_bytes(const std::string &path, const char *bytes, size_t len, Trace *out,
                std::string *error);

// Writes text as it is: gzip (deterministic: no name, mtime 0) when `gzip`,
// plain otherwise. The short form decides by the path: gzip when it ends in
// .gz. write() is write_text(path, to_text(t)).
bool write_text(const std::string &path, const std::string &text, bool gzip, std::string *error);
bool write_text(const std::string &path, const std::string &text, std::string *error);

// Lifetime of every object in ops (from its a/c/m to its f; a realloc keeps it
// alive), by bit width like Facts::size_hist: [0] lifetime 0 (cannot happen),
// [k] 2^(k-1) <= ops later < 2^k.
struct Lifetimes {
    uint64_t hist[65] = {};
    uint64_t never_freed = 0;
};
Lifetimes lifetimes(const Trace &t);

// For threaded replay: for op i, the index of the previous op on the same slot
// (the a/c/m/r that made the block an f or r acts on, or the f that ended the
// slot's previous life for an a/c/m), or kNoOp. A thread replaying op i waits
// until op previous[i] is done when another thread made it.
constexpr uint64_t kNoOp = UINT64_MAX;
std::vector<uint64_t> previous_op_on_slot(const Trace &t);

// Frees of a block that another thread allocated (by its a/c/m op).
uint64_t cross_thread_frees(const Trace &t);

// Indices of each thread's ops, in file order: result[thread] (empty for ids
// never seen; size max_thread + 1).
std::vector<std::vector<uint64_t>> ops_by_thread(const Trace &t);

}  // namespace trace
