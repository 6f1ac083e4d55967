#include "replay_engine.h"

#include <pthread.h>
#include <sched.h>
#include <sys/mman.h>
#include <time.h>
#include <valgrind/callgrind.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <cstdarg>
#include <cerrno>
#include <cinttypes>
#include <cstdio>
#include <cstring>

namespace replay {

using trace::Op;
using trace::OpKind;

const char *pass_name(Pass pass) {
    switch (pass) {
    case Pass::Throughput: return "throughput";
    case Pass::Memory: return "memory";
    case Pass::Latency: return "latency";
    case Pass::Check: return "check";
    case Pass::Instructions: return "instructions";
    }
    return "?";
}

bool parse_pass(const std::string &text, Pass *pass) {
    for (Pass p : {Pass::Throughput, Pass::Memory, Pass::Latency, Pass::Check, Pass::Instructions})
        if (text == pass_name(p)) {
            *pass = p;
            return true;
        }
    return false;
}

const char *latency_kind_name(int kind) {
    static const char *const names[kLatencyKinds] = {"malloc", "free", "realloc"};
    return names[kind];
}

static inline uint64_t clock_ns(clockid_t clock) {
    struct timespec ts;
    clock_gettime(clock, &ts);
    return static_cast<uint64_t>(ts.tv_sec) * 1000000000u + static_cast<uint64_t>(ts.tv_nsec);
}

static inline uint64_t now_ns() { return clock_ns(CLOCK_MONOTONIC); }

// CPU time of the calling thread: what it ran, whoever else had the cores.
static inline uint64_t thread_cpu_ns() { return clock_ns(CLOCK_THREAD_CPUTIME_ID); }

static inline void cpu_relax() {
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#endif
}

// Waits, spinning briefly and then yielding the CPU, until `done` reaches
// `needed` or `abort` is set. False when aborted. The CPU time spent yielding
// goes to *waited_cpu_ns (reading the thread's CPU clock is a system call, too
// slow for the brief spins).
static inline bool wait_for(const std::atomic<uint64_t> &done, uint64_t needed,
                            const std::atomic<bool> &abort, uint64_t *waited_cpu_ns) {
    uint64_t cpu0 = 0;
    bool ok = true;
    for (unsigned spins = 0; done.load(std::memory_order_acquire) < needed; spins++) {
        if (spins < 128) {
            cpu_relax();
            continue;
        }
        if (spins == 128) cpu0 = thread_cpu_ns();
        if (abort.load(std::memory_order_relaxed)) {
            ok = false;
            break;
        }
        sched_yield();
    }
    if (cpu0) *waited_cpu_ns += thread_cpu_ns() - cpu0;
    return ok;
}

// ---- writes into blocks ------------------------------------------------------

static constexpr uintptr_t kPage = 4096;

// A replay under a budget looks at the clock every this many ops (of each
// thread, threaded), not at fractions of the trace: late in gen-phased seed's
// first fit takes milliseconds an op, and 1/64 of its ops (4687) ran its 2 s
// budget to 33 s. A reading per 256 ops costs about 0.1 ns an op, in the one
// pass the budget bounds.
static constexpr uint64_t kBudgetCheckOps = 256;
static_assert((kBudgetCheckOps & (kBudgetCheckOps - 1)) == 0, "a threaded replay masks its op count with it");

// Writes bytes [from, to) of a block the way measuring.md asks: the first and
// last byte and one byte in every 4 KiB page between, so that resident memory
// counts what a program that uses its blocks would have resident.
static inline void touch(void *block, uint64_t from, uint64_t to, uint32_t slot) {
    if (from >= to) return;
    const char value = static_cast<char>(slot);
    const uintptr_t first = reinterpret_cast<uintptr_t>(block) + from;
    const uintptr_t last = reinterpret_cast<uintptr_t>(block) + to - 1;
    *reinterpret_cast<volatile char *>(first) = value;
    for (uintptr_t page = (first | (kPage - 1)) + 1; page <= last; page += kPage)
        *reinterpret_cast<volatile char *>(page) = value;
    *reinterpret_cast<volatile char *>(last) = value;
}

struct Slots {
    void **ptr;
    uint64_t *size;  // bytes the replay asked for (calloc: N*SIZE)
};

// What timed passes write: touch() only.
struct TouchWrites {
    void fresh(uint64_t, uint32_t slot, void *p, uint64_t bytes, uint64_t, bool) {
        touch(p, 0, bytes, slot);
    }
    void before_realloc(uint64_t, uint32_t, void *, uint64_t) {}
    void after_realloc(uint64_t, uint32_t slot, void *p, uint64_t old_bytes, uint64_t new_bytes) {
        if (new_bytes > old_bytes) touch(p, old_bytes, new_bytes, slot);
    }
    void before_free(uint64_t, uint32_t, void *, uint64_t) {}
};

// ---- the check pass: every byte of every block has a known value -------------

static inline uint64_t mix64(uint64_t x) {  // splitmix64's finalizer
    x += 0x9E3779B97F4A7C15ull;
    x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ull;
    x = (x ^ (x >> 27)) * 0x94D049BB133111EBull;
    return x ^ (x >> 31);
}

// The pattern of a slot: a word per 8 bytes of offset, so a copy shifted by any
// amount and a block shared by two slots both show.
static inline uint64_t pattern_word(uint64_t seed, uint64_t word) {
    return seed ^ (word * 0x9E3779B97F4A7C15ull);
}
static inline uint8_t pattern_byte(uint64_t seed, uint64_t offset) {
    return static_cast<uint8_t>(pattern_word(seed, offset >> 3) >> ((offset & 7) * 8));
}

static void fill_pattern(void *block, uint64_t from, uint64_t to, uint64_t seed) {
    unsigned char *p = static_cast<unsigned char *>(block);
    uint64_t o = from;
    for (; o < to && (o & 7); o++) p[o] = pattern_byte(seed, o);
    for (; o + 8 <= to; o += 8) {
        uint64_t w = pattern_word(seed, o >> 3);
        std::memcpy(p + o, &w, 8);
    }
    for (; o < to; o++) p[o] = pattern_byte(seed, o);
}

// The first offset in [from, to) that does not hold the pattern, or `to`.
static uint64_t find_mismatch(const void *block, uint64_t from, uint64_t to, uint64_t seed) {
    const unsigned char *p = static_cast<const unsigned char *>(block);
    uint64_t o = from;
    for (; o < to && (o & 7); o++)
        if (p[o] != pattern_byte(seed, o)) return o;
    for (; o + 8 <= to; o += 8) {
        uint64_t w;
        std::memcpy(&w, p + o, 8);
        if (w != pattern_word(seed, o >> 3)) break;
    }
    for (; o < to; o++)
        if (p[o] != pattern_byte(seed, o)) return o;
    return to;
}

static inline uint64_t lowest_alignment(const void *p) {
    uintptr_t a = reinterpret_cast<uintptr_t>(p);
    return a ? (a & -a) : UINT64_MAX;
}

struct CheckWrites {
    CheckFindings *findings;
    size_t block_alignment;  // the allocator's promise for every block, 0 = the C rule
    const Op *ops;
    static constexpr size_t kExamples = 8;
    static constexpr uint64_t kAtEnd = UINT64_MAX;  // the op index of checks after the replay

    // Messages number ops from 1 (op index i is "op i+1"), as arena-trace does.
    void note(const char *format, ...) __attribute__((format(printf, 2, 3))) {
        if (findings->examples.size() >= kExamples) return;
        char line[512];
        va_list args;
        va_start(args, format);
        std::vsnprintf(line, sizeof line, format, args);
        va_end(args);
        findings->examples.emplace_back(line);
    }

    static uint64_t seed_of(uint32_t slot) { return mix64(slot); }

    // malloc's promise (C17 7.22.3): aligned for any object that fits, i.e. up
    // to max_align_t (16 here), never more than the size rounded down to a
    // power of two. aligned_alloc promises what it was asked.
    uint64_t required_alignment(uint64_t bytes, uint64_t asked) const {
        uint64_t need = block_alignment;
        if (!need) {
            need = 16;
            while (need > 1 && need > (bytes ? bytes : 1)) need >>= 1;
        }
        return std::max<uint64_t>(need, asked);
    }

    void check_alignment(uint64_t i, const void *p, uint64_t bytes, uint64_t asked) {
        uint64_t need = required_alignment(bytes, asked);
        if (!p || lowest_alignment(p) >= need) return;
        findings->misaligned++;
        const Op &op = ops[i];
        note("op %" PRIu64 " (%c, %" PRIu64 " bytes%s%s): %p is aligned to %" PRIu64 ", needs %" PRIu64,
             i + 1, trace::op_letter(op.kind), bytes, op.kind == OpKind::Memalign ? ", alignment " : "",
             op.kind == OpKind::Memalign ? std::to_string(op.arg).c_str() : "", p, lowest_alignment(p),
             need);
    }

    void verify(uint64_t i, uint32_t slot, const void *p, uint64_t bytes) {
        if (!p || !bytes) return;
        uint64_t seed = seed_of(slot);
        uint64_t bad = find_mismatch(p, 0, bytes, seed);
        if (bad == bytes) return;
        findings->corrupted++;
        const std::string where = i == kAtEnd ? std::string("at the end")
                                              : "at op " + std::to_string(i + 1) + " (" + trace::op_letter(ops[i].kind) + ")";
        note("%s, slot %u: byte %" PRIu64 " of the %" PRIu64 "-byte block at %p is 0x%02x, expected 0x%02x",
             where.c_str(), slot, bad, bytes, p, static_cast<const unsigned char *>(p)[bad],
             pattern_byte(seed, bad));
        fill_pattern(const_cast<void *>(p), 0, bytes, seed);  // report each damage once
    }

    void fresh(uint64_t i, uint32_t slot, void *p, uint64_t bytes, uint64_t asked, bool zeroed) {
        if (!p) return;
        check_alignment(i, p, bytes, asked);
        if (zeroed) {
            const unsigned char *bytes_at = static_cast<const unsigned char *>(p);
            for (uint64_t o = 0; o < bytes; o++)
                if (bytes_at[o]) {
                    findings->not_zeroed++;
                    note("op %" PRIu64 " (c, %" PRIu64 " bytes): byte %" PRIu64 " of the calloc block at %p is 0x%02x, not 0",
                         i + 1, bytes, o, p, bytes_at[o]);
                    break;
                }
        }
        fill_pattern(p, 0, bytes, seed_of(slot));
        findings->blocks++;
    }
    void before_realloc(uint64_t i, uint32_t slot, void *p, uint64_t bytes) { verify(i, slot, p, bytes); }
    void after_realloc(uint64_t i, uint32_t slot, void *p, uint64_t old_bytes, uint64_t new_bytes) {
        check_alignment(i, p, new_bytes, 0);
        verify(i, slot, p, std::min(old_bytes, new_bytes));
        if (new_bytes > old_bytes) fill_pattern(p, old_bytes, new_bytes, seed_of(slot));
    }
    void before_free(uint64_t i, uint32_t slot, void *p, uint64_t bytes) { verify(i, slot, p, bytes); }
};

// ---- timers ------------------------------------------------------------------

struct NoTimer {
    uint64_t start() { return 0; }
    void stop(int, uint64_t) {}
};

// Times each allocator call with CLOCK_MONOTONIC (vDSO, no system call); the
// figure includes one clock reading (Outcome::timer_overhead_ns).
struct CallTimer {
    uint32_t *samples[kLatencyKinds] = {};
    uint64_t count[kLatencyKinds] = {};
    uint64_t start() { return now_ns(); }
    void stop(int kind, uint64_t t0) {
        uint64_t d = now_ns() - t0;
        samples[kind][count[kind]++] = d > UINT32_MAX ? UINT32_MAX : static_cast<uint32_t>(d);
    }
};

// ---- one op --------------------------------------------------------------------

template <class Timer, class Writes>
static inline bool apply(const Op &op, uint64_t i, const Slots &s, bench::Allocator &a, Timer &timer,
                         Writes &writes) {
    const uint32_t slot = op.slot;
    void *p;
    uint64_t t0;
    switch (op.kind) {
    case OpKind::Malloc:
        t0 = timer.start();
        p = a.malloc(op.size);
        timer.stop(kLatencyMalloc, t0);
        if (!p && op.size) return false;
        s.ptr[slot] = p;
        s.size[slot] = op.size;
        writes.fresh(i, slot, p, op.size, 0, false);
        return true;
    case OpKind::Calloc: {
        const uint64_t bytes = op.size * op.arg;  // the reader rejected overflow
        t0 = timer.start();
        p = a.calloc(op.arg, op.size);
        timer.stop(kLatencyMalloc, t0);
        if (!p && bytes) return false;
        s.ptr[slot] = p;
        s.size[slot] = bytes;
        writes.fresh(i, slot, p, bytes, 0, true);
        return true;
    }
    case OpKind::Memalign:
        t0 = timer.start();
        p = a.memalign(op.arg, op.size);
        timer.stop(kLatencyMalloc, t0);
        if (!p && op.size) return false;
        s.ptr[slot] = p;
        s.size[slot] = op.size;
        writes.fresh(i, slot, p, op.size, op.arg, false);
        return true;
    case OpKind::Realloc: {
        void *old = s.ptr[slot];
        const uint64_t old_bytes = s.size[slot];
        writes.before_realloc(i, slot, old, old_bytes);
        t0 = timer.start();
        p = a.realloc(old, old_bytes, op.size);
        timer.stop(kLatencyRealloc, t0);
        if (!p) return false;  // the format never asks for realloc(p, 0)
        s.ptr[slot] = p;
        s.size[slot] = op.size;
        writes.after_realloc(i, slot, p, old_bytes, op.size);
        return true;
    }
    case OpKind::Free:
        writes.before_free(i, slot, s.ptr[slot], s.size[slot]);
        t0 = timer.start();
        a.free(s.ptr[slot], s.size[slot]);
        timer.stop(kLatencyFree, t0);
        s.ptr[slot] = nullptr;
        return true;
    }
    return false;
}

// error_number: errno after the call. The replay clears errno before its first
// op (not before each: that would be a store in every timed op), so 0 means no
// call of the replay set it (Debian's mimalloc returns NULL for some sizes
// without); anything else is the failing call's error or an earlier call's.
static std::string failed_op_message(const Op &op, uint64_t i, int error_number) {
    char text[256];
    std::snprintf(text, sizeof text, "op %" PRIu64 " (%c, %" PRIu64 " bytes): the allocator returned NULL (%s)",
                  i + 1, trace::op_letter(op.kind), trace::requested_bytes(op),
                  error_number ? std::strerror(error_number) : "errno 0: no call of the replay set it");
    return text;
}

// ---- the session -------------------------------------------------------------

struct Session::State {
    const Image &image;
    SessionOptions options;
    uint64_t ops = 0;
    bench::MappedArray<void *> ptr;
    bench::MappedArray<uint64_t> size;
    Slots slots{};

    // Stops of a serial replay: after these many ops it samples (memory),
    // checks the heap (check) or looks at the clock (budget).
    std::vector<uint64_t> stops;
    std::vector<uint64_t> live_at_stop;
    size_t peak_stop = SIZE_MAX;  // the stop right after the live peak

    // Threaded replays
    bench::MappedArray<std::atomic<uint64_t>> slot_done;  // by slot: index + 1 of its last op done
    std::vector<uint64_t> threads_with_ops;
    std::vector<std::vector<size_t>> stops_of_thread;     // stops each thread samples at
    // A replay thread runs on a stack mapped here, not by glibc, which hands a
    // thread's own stack back to the OS as the thread ends (madvise; a stack
    // given by pthread_attr_setstack it leaves alone, from about glibc 2.34 on:
    // 2.28 still madvised it, and ReplayThreaded's stack test says so): the part
    // the baseline counted went with it, and every reading after a thread was
    // done came out low, rss_after_bytes on every threaded row (bump's 188-260
    // KiB under its reserve in 10f1fa5's reference run; glibc's 0 where it kept
    // 124 KiB on one thread). The stacks stay resident until finish() has taken
    // its last reading; the threads still end at their last op, as they did.
    struct Worker {
        State *state = nullptr;
        Outcome *out = nullptr;
        size_t index = 0;
        pthread_t thread{};
        void *stack = nullptr;  // kWorkerStackBytes, its lowest page a guard
        bool joinable = false;
    };
    std::vector<Worker> workers;  // sized once: each thread holds its element's address
    std::atomic<int> go{0};
    std::atomic<size_t> workers_ready{0};  // workers whose stacks are touched (start())
    std::atomic<bool> abort{false};
    std::atomic<uint64_t> failed_at{UINT64_MAX};
    // Lockstep: the index of the next op in file order; only the thread that
    // owns that op runs, and it hands the turn on as it finishes each op.
    alignas(64) std::atomic<uint64_t> turn{0};
    int failed_errno = 0;
    std::atomic<bool> over_budget{false};
    std::atomic<uint64_t> replay_cpu_ns{0};  // the workers' CPU time outside their waits

    // Latency
    bench::MappedArray<uint32_t> latency[kLatencyKinds];
    std::vector<CallTimer> timers;  // one per thread (one when serial)

    CheckFindings *findings = nullptr;
    bench::ResidentReader resident;
    uint64_t baseline = 0;
    std::unique_ptr<bench::Allocator> allocator;

    State(const Image &i, const SessionOptions &o) : image(i), options(o), ops(i.header().ops) {}

    bool sampling() const { return options.pass == Pass::Memory; }
    uint64_t budget_ns() const { return static_cast<uint64_t>(options.budget_seconds * 1e9); }

    void plan_stops();
    void plan_latency(std::string *error, bool *ok);
    void take_sample(size_t stop, Outcome &out);
    void at_stop(size_t stop, Outcome &out);

    template <class Timer, class Writes>
    void run_serial(Timer &timer, Writes &writes, Outcome &out);
    template <class Timer, class Writes>
    void run_thread(size_t worker, Timer &timer, Writes &writes, Outcome &out);
    void run_threaded(Outcome &out);
    static void *worker_main(void *worker);
    bool start_worker(Worker &worker, std::string *error);
    void worker_body(size_t w, Outcome &out);
    void join_workers();
    void end_workers();
};

Session::Session(const Image &image, const SessionOptions &options)
    : state_(new State(image, options)) {}

Session::~Session() {
    if (state_->allocator) finish();
    state_->end_workers();
}

void Session::State::plan_stops() {
    const Pass pass = options.pass;
    if (pass == Pass::Memory || pass == Pass::Check) {
        // Every 1% of the ops, and right after the op where live bytes peak.
        const uint64_t step = std::max<uint64_t>(1, ops / 100);
        for (uint64_t at = step; at < ops; at += step) stops.push_back(at);
        if (ops) stops.push_back(ops);
        const uint64_t after_peak = std::min(image.header().peak_op + 1, ops);
        auto place = std::lower_bound(stops.begin(), stops.end(), after_peak);
        if (after_peak > 0 && (place == stops.end() || *place != after_peak)) stops.insert(place, after_peak);
        peak_stop = static_cast<size_t>(std::lower_bound(stops.begin(), stops.end(), after_peak) - stops.begin());
    } else if (options.budget_seconds > 0) {
        const uint64_t step = kBudgetCheckOps;
        for (uint64_t at = step; at < ops; at += step) stops.push_back(at);
        stops.push_back(ops);
    } else {
        stops.push_back(ops);
    }
    // Live bytes at each stop, in file order (the size table is scratch here),
    // for the samples alone: a walk of every op, 30 ms of a job on perl-text.
    if (!sampling()) return;
    live_at_stop.assign(stops.size(), 0);
    uint64_t live = 0;
    size_t k = 0;
    const Op *op = image.ops();
    for (uint64_t i = 0; i < ops && k < stops.size(); i++) {
        const uint64_t bytes = trace::requested_bytes(op[i]);
        live += bytes;
        live -= op[i].kind == OpKind::Free || op[i].kind == OpKind::Realloc ? size[op[i].slot] : 0;
        size[op[i].slot] = bytes;
        while (k < stops.size() && stops[k] == i + 1) live_at_stop[k++] = live;
    }
    std::fill(size.data(), size.data() + image.header().slot_count, 0);
}

void Session::State::plan_latency(std::string *error, bool *ok) {
    // One slice of each kind's array per thread, sized by that thread's calls.
    const uint64_t thread_count = options.threaded ? image.header().max_thread + 1 : 1;
    std::vector<std::array<uint64_t, kLatencyKinds>> calls(thread_count, {0, 0, 0});
    for (uint64_t i = 0; i < ops; i++) {
        const Op &op = image.ops()[i];
        const int kind = op.kind == OpKind::Free ? kLatencyFree
                         : op.kind == OpKind::Realloc ? kLatencyRealloc : kLatencyMalloc;
        calls[options.threaded ? op.thread : 0][kind]++;
    }
    timers.assign(thread_count, CallTimer());
    for (int kind = 0; kind < kLatencyKinds; kind++) {
        uint64_t total = 0;
        for (const auto &c : calls) total += c[kind];
        if (!latency[kind].allocate(total, error)) {
            *ok = false;
            return;
        }
        uint64_t offset = 0;
        for (uint64_t t = 0; t < thread_count; t++) {
            timers[t].samples[kind] = latency[kind].data() + offset;
            offset += calls[t][kind];
        }
    }
}

bool Session::prepare(std::string *error) {
    State &s = *state_;
    const ImageHeader &h = s.image.header();
    if (!s.resident.ok()) {
        *error = "cannot open /proc/self/statm";
        return false;
    }
    // Checks and instruction counts replay in file order: both need one thread
    // (and waiting threads would count their spins as instructions).
    if (!s.image.has_threads() || s.options.pass == Pass::Check || s.options.pass == Pass::Instructions)
        s.options.threaded = false;
    if (!s.ptr.allocate(h.slot_count, error) || !s.size.allocate(h.slot_count, error)) return false;
    s.slots = Slots{s.ptr.data(), s.size.data()};
    s.plan_stops();
    if (s.sampling()) outcome_.timeline.resize(s.stops.size());
    if (s.options.pass == Pass::Check) s.findings = &outcome_.check;
    if (s.options.pass == Pass::Latency) {
        bool ok = true;
        s.plan_latency(error, &ok);
        if (!ok) return false;
        // What one reading of the clock adds to every figure.
        std::vector<uint64_t> gaps(1001);
        for (auto &gap : gaps) {
            uint64_t t0 = now_ns();
            gap = now_ns() - t0;
        }
        std::nth_element(gaps.begin(), gaps.begin() + 500, gaps.end());
        outcome_.timer_overhead_ns = static_cast<double>(gaps[500]);
    }
    if (s.options.threaded) {
        if (!s.slot_done.allocate(h.slot_count, error)) return false;
        s.stops_of_thread.assign(h.max_thread + 1, {});
        for (uint64_t t = 0; t <= h.max_thread; t++)
            if (s.image.thread_ops_begin(t) != s.image.thread_ops_end(t)) s.threads_with_ops.push_back(t);
        if (s.sampling())
            for (size_t k = 0; k < s.stops.size(); k++)
                s.stops_of_thread[s.image.ops()[s.stops[k] - 1].thread].push_back(k);
    }
    return true;
}

// More of a worker's stack than the replay's frames reach (the op's call into
// the allocator, the writes to its block, a sample's read of /proc and of the
// allocator's footprint), written before the baseline: else the stack pages the
// replay first reaches count as the allocator's resident memory. They did, up to
// three OS pages a thread, and the rise's last sample, where nothing is live,
// became its peak: bump's threaded rise passed its whole mapping, and its
// frag_at_peak came out empty.
constexpr size_t kWorkerStackTouched = 64 << 10;

__attribute__((noinline)) static void touch_worker_stack() {
    volatile char frame[kWorkerStackTouched];
    for (size_t i = 0; i < sizeof frame; i += 4096) frame[i] = 0;
    frame[sizeof frame - 1] = 0;
}

constexpr size_t kWorkerStackBytes = 8 << 20;  // glibc's default

void *Session::State::worker_main(void *arg) {
    auto &worker = *static_cast<Worker *>(arg);
    worker.state->worker_body(worker.index, *worker.out);
    return nullptr;
}

bool Session::State::start_worker(Worker &worker, std::string *error) {
    void *stack = mmap(nullptr, kWorkerStackBytes, PROT_READ | PROT_WRITE,
                       MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE | MAP_STACK, -1, 0);
    if (stack == MAP_FAILED) {
        *error = std::string("cannot map a replay thread's stack: ") + std::strerror(errno);
        return false;
    }
    if (mprotect(stack, 4096, PROT_NONE) != 0) {  // the guard: the stack grows down to it
        *error = std::string("cannot set a replay thread's stack guard: ") + std::strerror(errno);
        munmap(stack, kWorkerStackBytes);
        return false;
    }
    pthread_attr_t attributes;
    pthread_attr_init(&attributes);
    pthread_attr_setstack(&attributes, stack, kWorkerStackBytes);
    const int failed = pthread_create(&worker.thread, &attributes, worker_main, &worker);
    pthread_attr_destroy(&attributes);
    if (failed) {
        munmap(stack, kWorkerStackBytes);
        *error = std::string("cannot start a replay thread: ") + std::strerror(failed);
        return false;
    }
    worker.stack = stack;
    worker.joinable = true;
    return true;
}

void Session::State::worker_body(size_t w, Outcome &out) {
    touch_worker_stack();
    workers_ready.fetch_add(1, std::memory_order_release);
    while (!go.load(std::memory_order_acquire)) sched_yield();
    if (go.load() < 0) return;  // nothing to replay: the allocator failed
    if (options.pass == Pass::Latency) {
        TouchWrites writes;
        run_thread(w, timers[threads_with_ops[w]], writes, out);
    } else {
        NoTimer timer;
        TouchWrites writes;
        run_thread(w, timer, writes, out);
    }
}

void Session::State::join_workers() {
    for (Worker &worker : workers)
        if (worker.joinable) {
            pthread_join(worker.thread, nullptr);
            worker.joinable = false;
        }
}

// Lets every worker end (one never let go returns at once), joins it and
// unmaps its stack.
void Session::State::end_workers() {
    if (workers.empty()) return;
    int waiting = 0;
    go.compare_exchange_strong(waiting, -1, std::memory_order_release);
    join_workers();
    for (Worker &worker : workers)
        if (worker.stack) munmap(worker.stack, kWorkerStackBytes);
    workers.clear();
}

bool Session::start(std::string *error) {
    State &s = *state_;
    if (s.options.threaded) {
        // Threads exist, their stacks touched, before the baseline.
        s.workers.resize(s.threads_with_ops.size());
        for (size_t w = 0; w < s.workers.size(); w++) {
            State::Worker &worker = s.workers[w];
            worker.state = &s;
            worker.out = &outcome_;
            worker.index = w;
            if (!s.start_worker(worker, error)) {
                s.end_workers();
                return false;
            }
        }
        while (s.workers_ready.load(std::memory_order_acquire) < s.workers.size()) sched_yield();
    }
    s.baseline = s.resident.anonymous_bytes();
    bench::AllocatorSettings settings = s.options.settings;
    settings.threaded = s.options.threaded;
    settings.reserve_bytes = s.image.header().bump_reserve_bytes;
    s.allocator = s.options.allocator->create(settings, error);
    if (!s.allocator) {
        s.end_workers();
        return false;
    }
    return true;
}

void Session::State::take_sample(size_t stop, Outcome &out) {
    Sample &sample = out.timeline[stop];
    sample.op_index = stops[stop];
    sample.live_bytes = live_at_stop[stop];
    const uint64_t rss = resident.anonymous_bytes();
    sample.rss_bytes = rss > baseline ? rss - baseline : 0;
    sample.has_mapped = allocator->footprint(&sample.mapped_bytes);
    if (stop != peak_stop || options.threaded) return;
    // Usable over requested, over the blocks live at the peak.
    uint64_t usable = 0, requested = 0;
    const uint64_t slot_count = image.header().slot_count;
    for (uint64_t slot = 0; slot < slot_count; slot++) {
        if (!slots.ptr[slot]) continue;
        const size_t u = allocator->usable_size(slots.ptr[slot]);
        if (!u) return;  // the allocator cannot tell
        usable += u;
        requested += slots.size[slot];
    }
    if (requested) {
        out.has_internal_frag = true;
        out.internal_frag = static_cast<double>(usable) / static_cast<double>(requested);
    }
}

void Session::State::at_stop(size_t stop, Outcome &out) {
    if (sampling()) {
        take_sample(stop, out);
    } else if (options.pass == Pass::Check && (stop == peak_stop || stop + 1 == stops.size())) {
        std::string why;
        if (!allocator->check_heap(&why)) {
            out.check.heap_errors++;
            if (out.check.examples.size() < CheckWrites::kExamples)
                out.check.examples.push_back("after op " + std::to_string(stops[stop]) + ": " + why);
        }
    }
}

template <class Timer, class Writes>
void Session::State::run_serial(Timer &timer, Writes &writes, Outcome &out) {
    const Op *op = image.ops();
    bench::Allocator &a = *allocator;
    const uint64_t budget = budget_ns();
    const bool instrument = options.pass == Pass::Instructions;
    const uint64_t faults_before = bench::minor_faults();
    errno = 0;  // see failed_op_message
    if (instrument) CALLGRIND_START_INSTRUMENTATION;
    const uint64_t t0 = now_ns();
    const uint64_t cpu0 = thread_cpu_ns();  // inside the wall interval: CPU <= wall
    uint64_t i = 0;
    for (size_t k = 0; k < stops.size(); k++) {
        for (const uint64_t end = stops[k]; i < end; i++)
            if (__builtin_expect(!apply(op[i], i, slots, a, timer, writes), 0)) {
                const int error_number = errno;
                out.ok = false;
                out.error = failed_op_message(op[i], i, error_number);
                goto done;
            }
        at_stop(k, out);
        if (budget && i < ops && now_ns() - t0 > budget) {
            out.over_budget = true;
            break;
        }
    }
done:
    const uint64_t cpu1 = thread_cpu_ns();
    const uint64_t t1 = now_ns();
    if (instrument) CALLGRIND_STOP_INSTRUMENTATION;
    out.minor_faults = bench::minor_faults() - faults_before;
    out.seconds = static_cast<double>(t1 - t0) / 1e9;
    out.cpu_seconds = static_cast<double>(cpu1 - cpu0) / 1e9;
    out.ops_done = i;
}

// One trace thread's ops on one OS thread. Before an op that depends on an op
// of another thread (the one that made the block it frees or resizes, or the
// free that ended its slot's previous life) it waits for that op; in lockstep,
// before every op, for every op before it in the file.
template <class Timer, class Writes>
void Session::State::run_thread(size_t worker, Timer &timer, Writes &writes, Outcome &out) {
    const uint64_t thread = threads_with_ops[worker];
    const Op *op = image.ops();
    const uint64_t *previous = image.previous();
    const uint64_t *begin = image.thread_ops_begin(thread), *end = image.thread_ops_end(thread);
    const std::vector<size_t> &my_stops = stops_of_thread[thread];
    size_t next_stop = 0;
    const uint64_t budget = budget_ns();
    const uint64_t t0 = budget ? now_ns() : 0;
    // Under a budget the clock as often as run_serial's stops look at it (every
    // 16384 ops, a --quick replay's threads never did); otherwise the abort flag alone.
    const uint64_t check_mask = budget ? kBudgetCheckOps - 1 : 16383;
    bench::Allocator &a = *allocator;
    std::atomic<uint64_t> *done = slot_done.data();
    uint64_t n = 0, waited_cpu_ns = 0;
    errno = 0;  // see failed_op_message
    const uint64_t cpu0 = thread_cpu_ns();
    struct CountCpu {  // on every way out: this worker's CPU time outside its waits
        std::atomic<uint64_t> &total;
        const uint64_t &cpu0, &waited;
        ~CountCpu() { total.fetch_add(thread_cpu_ns() - cpu0 - waited, std::memory_order_relaxed); }
    } count_cpu{replay_cpu_ns, cpu0, waited_cpu_ns};
    const bool lockstep = options.lockstep;
    for (const uint64_t *at = begin; at != end; ++at, ++n) {
        const uint64_t i = *at;
        const uint64_t before = previous[i];
        if (lockstep) {
            if (!wait_for(turn, i, abort, &waited_cpu_ns)) return;
        } else if (before != trace::kNoOp && op[before].thread != thread &&
                   !wait_for(done[op[i].slot], before + 1, abort, &waited_cpu_ns)) {
            return;
        }
        if (__builtin_expect(!apply(op[i], i, slots, a, timer, writes), 0)) {
            failed_errno = errno;
            uint64_t none = UINT64_MAX;
            failed_at.compare_exchange_strong(none, i);
            abort.store(true);
            return;
        }
        done[op[i].slot].store(i + 1, std::memory_order_release);
        if (next_stop < my_stops.size() && stops[my_stops[next_stop]] == i + 1) at_stop(my_stops[next_stop++], out);
        if (lockstep) turn.store(i + 1, std::memory_order_release);  // after the sample: it sees op i's memory alone
        if ((n & check_mask) == check_mask) {
            if (abort.load(std::memory_order_relaxed)) return;
            if (budget && now_ns() - t0 > budget) {
                over_budget.store(true);
                abort.store(true);
                return;
            }
        }
    }
}

// The workers were started (and wait) in start(); this lets them go.
void Session::State::run_threaded(Outcome &out) {
    const uint64_t faults_before = bench::minor_faults();
    const bool instrument = options.pass == Pass::Instructions;
    if (instrument) CALLGRIND_START_INSTRUMENTATION;
    const uint64_t t0 = now_ns();
    go.store(1, std::memory_order_release);
    join_workers();
    const uint64_t t1 = now_ns();
    if (instrument) CALLGRIND_STOP_INSTRUMENTATION;
    out.minor_faults = bench::minor_faults() - faults_before;
    out.seconds = static_cast<double>(t1 - t0) / 1e9;
    out.cpu_seconds = static_cast<double>(replay_cpu_ns.load()) / 1e9;
    out.over_budget = over_budget.load();
    const uint64_t failed = failed_at.load();
    if (failed != UINT64_MAX) {
        out.ok = false;
        out.error = failed_op_message(image.ops()[failed], failed, failed_errno);
    }
    out.ops_done = out.ok && !out.over_budget ? ops : 0;
}

static LatencyFigures latency_figures(uint32_t *samples, uint64_t count) {
    LatencyFigures f;
    f.calls = count;
    if (!count) return f;
    auto at_rank = [&](double q) {  // nearest rank
        uint64_t rank = static_cast<uint64_t>(q * static_cast<double>(count) + 0.999999);
        uint64_t index = rank ? std::min(rank, count) - 1 : 0;
        std::nth_element(samples, samples + index, samples + count);
        return static_cast<uint64_t>(samples[index]);
    };
    f.p50_ns = at_rank(0.5);
    f.p99_ns = at_rank(0.99);
    f.p999_ns = at_rank(0.999);
    f.max_ns = *std::max_element(samples, samples + count);
    return f;
}

void Session::replay() {
    State &s = *state_;
    Outcome &out = outcome_;
    if (s.options.threaded) {
        s.run_threaded(out);
    } else if (s.options.pass == Pass::Check) {
        NoTimer timer;
        CheckWrites writes{s.findings, s.allocator->block_alignment(), s.image.ops()};
        s.run_serial(timer, writes, out);
    } else if (s.options.pass == Pass::Latency) {
        TouchWrites writes;
        s.run_serial(s.timers[0], writes, out);
    } else {
        NoTimer timer;
        TouchWrites writes;
        s.run_serial(timer, writes, out);
    }
    if (s.options.pass == Pass::Latency && out.ok) {
        for (int kind = 0; kind < kLatencyKinds; kind++) {
            uint64_t total = 0;
            for (const CallTimer &t : s.timers) total += t.count[kind];
            out.latency[kind] = latency_figures(s.latency[kind].data(), total);
        }
    }
    if (s.sampling()) {
        // Threaded replays that stopped early leave later samples unset.
        uint64_t taken = s.options.threaded && out.ops_done < s.ops ? 0 : out.timeline.size();
        if (!s.options.threaded)
            while (taken > 0 && out.timeline[taken - 1].op_index == 0) taken--;
        out.timeline.resize(taken);
        // The largest rise; on a plateau of it, the sample with the most live
        // bytes (frag_at_peak): a plateau may start before the live peak, as
        // bump's does, its whole reserve resident before the first op.
        bool first = true;
        for (const Sample &sample : out.timeline) {
            if (first || sample.rss_bytes > out.rss_peak_bytes ||
                (sample.rss_bytes == out.rss_peak_bytes && sample.live_bytes > out.live_at_rss_peak)) {
                first = false;
                out.rss_peak_bytes = sample.rss_bytes;
                out.live_at_rss_peak = sample.live_bytes;
            }
            if (sample.has_mapped) {
                out.has_footprint = true;
                out.footprint_bytes = std::max(out.footprint_bytes, sample.mapped_bytes);
            }
        }
    }
}

void Session::finish() {
    State &s = *state_;
    if (!s.allocator) return;
    // Blocks the trace never freed (or that a stopped replay left) go now, untimed.
    CheckWrites checker{&outcome_.check, s.allocator->block_alignment(), s.image.ops()};
    const uint64_t slot_count = s.image.header().slot_count;
    for (uint64_t slot = 0; slot < slot_count; slot++) {
        void *p = s.slots.ptr[slot];
        if (!p) continue;
        if (s.options.pass == Pass::Check) checker.verify(CheckWrites::kAtEnd, static_cast<uint32_t>(slot), p, s.slots.size[slot]);
        s.allocator->free(p, s.slots.size[slot]);
        s.slots.ptr[slot] = nullptr;
    }
    if (s.options.pass == Pass::Check) {
        std::string why;
        if (!s.allocator->check_heap(&why)) {
            outcome_.check.heap_errors++;
            checker.note("after freeing every block: %s", why.c_str());
        }
    }
    const uint64_t rss = s.resident.anonymous_bytes();
    outcome_.rss_after_bytes = rss > s.baseline ? rss - s.baseline : 0;
    s.end_workers();  // their stacks, kept to the last reading
    s.allocator.reset();
}

}  // namespace replay
