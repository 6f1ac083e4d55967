// soak: the drop-in malloc under a long mixed load, phase after phase, to show
// that nothing creeps. See README.md in this directory.
//
// Each phase starts fresh threads (--threads, default 6). Each thread runs
// --ops operations on its own blocks (malloc, calloc, memalign, realloc,
// free; sizes mostly small, some medium, a few up to 6 MiB; random
// lifetimes) and on a pool of slots shared by all threads, where blocks are
// freed and reallocated by threads that did not allocate them. Every block
// carries a pattern that is verified on every free and realloc. At the end of
// a phase the threads free everything and exit; then
//   - arena_malloc_check() must hold and arena_malloc_stats must count no
//     live block and no live byte;
//   - resident memory (/proc/self/statm, less AddressSanitizer's shadow
//     memory in an ASan build) after the phase must be within
//     --rss-slack MiB of its value after phase 1, and the peak sampled during
//     the phase within --peak-slack MiB (plus a quarter) of phase 1's peak.
//     "After the phase" is once the heaps the threads left have stopped
//     keeping memory warm for new threads: a pause past that time, then
//     small mallocs and frees by the main thread, whose slow path cools them.
// It prints a line per phase and the totals, and exits 1 on a broken
// property (abort() on damaged contents).
//
// The program calls the drop-in's code under the names arena_test_malloc, ...
// (the arena_malloc_prefixed library), so it runs under ASan and TSan too; its
// own bookkeeping uses the process's malloc, all of it allocated before phase
// 1 so that it does not move the resident figures.
#include <fcntl.h>
#include <unistd.h>

#include <atomic>
#include <cctype>
#include <cerrno>
#include <chrono>
#include <condition_variable>
#include <cstdarg>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <mutex>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "dropin.h"
#include "resident.h"

namespace {

struct Options {
    int threads = 6;
    int phases = 8;
    long ops = 150000;      // per thread per phase
    uint64_t seed = 1;
    double rss_slack = 8;   // MiB
    double peak_slack = 32; // MiB
    bool check_rss = true;
};

[[noreturn]] void Die(const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    fputs("soak: ", stderr);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    abort();
}

// ---- patterns ---------------------------------------------------------------

uint64_t PatternWord(uint32_t tag, size_t i) {
    uint64_t x = (uint64_t)tag * 0x9E3779B97F4A7C15ull + (uint64_t)i * 0xD6E8FEB86659FD93ull;
    return x ^ (x >> 29);
}

uint8_t PatternByte(uint32_t tag, size_t i) { return (uint8_t)(PatternWord(tag, i >> 3) >> (8 * (i & 7))); }

// The pattern of `tag` over [from, to) of block p (p is 8-byte aligned).
void Fill(void *p, size_t from, size_t to, uint32_t tag) {
    auto *b = static_cast<uint8_t *>(p);
    size_t i = from;
    for (; i < to && (i & 7); i++) b[i] = PatternByte(tag, i);
    for (; i + 8 <= to; i += 8) {
        uint64_t w = PatternWord(tag, i >> 3);
        memcpy(b + i, &w, 8);
    }
    for (; i < to; i++) b[i] = PatternByte(tag, i);
}

void Verify(const void *p, size_t n, uint32_t tag, const char *when) {
    auto *b = static_cast<const uint8_t *>(p);
    size_t i = 0;
    for (; i + 8 <= n; i += 8) {
        uint64_t w;
        memcpy(&w, b + i, 8);
        if (w != PatternWord(tag, i >> 3)) break;
    }
    for (; i < n; i++)
        if (b[i] != PatternByte(tag, i))
            Die("%s: block %p of %zu bytes (tag %u) damaged at offset %zu", when, p, n, tag, i);
}

double MiB(size_t bytes) { return bytes / 1048576.0; }

// ---- the load -------------------------------------------------------------------

struct Block {
    void *p = nullptr;
    size_t size = 0;
    uint32_t tag = 0;
};

// A slot of the shared pool: any thread may free or reallocate what is in it.
struct Slot {
    std::mutex lock;
    Block b;
    int owner = -1; // the thread that allocated or last reallocated it
};

class Barrier {
  public:
    explicit Barrier(int n) : n_(n) {}
    void Wait() {
        std::unique_lock<std::mutex> g(lock_);
        int gen = generation_;
        if (++waiting_ == n_) {
            waiting_ = 0;
            generation_++;
            cv_.notify_all();
        } else {
            cv_.wait(g, [&] { return gen != generation_; });
        }
    }

  private:
    std::mutex lock_;
    std::condition_variable cv_;
    int n_, waiting_ = 0, generation_ = 0;
};

constexpr size_t kPrivateMax = 1200; // blocks a thread keeps at most
constexpr size_t kPoolSlots = 4096;

// Mostly small, some medium, a few large: 80% up to 256 B, 15% up to 16 KiB,
// 4.8% up to 512 KiB, 0.2% up to 6 MiB; 0 now and then.
size_t RandomSize(std::mt19937_64 &rng) {
    unsigned r = rng() % 10000;
    if (r < 8000) return rng() % 257;
    if (r < 9500) return 257 + rng() % 16128;
    if (r < 9980) return 16384 + rng() % (496u << 10);
    return (512u << 10) + rng() % (5632u << 10);
}

std::atomic<uint32_t> next_tag{1};

// One operation count per kind, summed over threads.
struct Counts {
    std::atomic<uint64_t> mallocs{0}, frees{0}, reallocs{0}, cross_frees{0}, cross_reallocs{0};
};

class Worker {
  public:
    Worker(int id, std::vector<Block> *own, Slot *pool, Counts *counts)
        : id_(id), own_(own), pool_(pool), counts_(counts) {}

    void Run(uint64_t seed, long ops, int threads, Barrier *barrier) {
        rng_.seed(seed);
        mallocs_ = frees_ = reallocs_ = cross_frees_ = cross_reallocs_ = 0;
        for (long i = 0; i < ops; i++) Step();
        // Everything goes: own blocks, then (once every thread is done) a
        // stripe of the pool, most of it allocated by other threads; no thread
        // exits before every free is done, so each collects what others freed
        // of its blocks when it exits.
        for (Block &b : *own_) Release(b);
        own_->clear();
        barrier->Wait();
        for (size_t s = (size_t)id_; s < kPoolSlots; s += (size_t)threads) {
            Slot &slot = pool_[s];
            std::lock_guard<std::mutex> g(slot.lock);
            if (slot.b.p) {
                if (slot.owner != id_) cross_frees_++;
                Release(slot.b);
                slot.b = Block{};
            }
        }
        barrier->Wait();
        counts_->mallocs += mallocs_;
        counts_->frees += frees_;
        counts_->reallocs += reallocs_;
        counts_->cross_frees += cross_frees_;
        counts_->cross_reallocs += cross_reallocs_;
    }

  private:
    Block Allocate() {
        Block b;
        b.size = RandomSize(rng_);
        b.tag = next_tag.fetch_add(1, std::memory_order_relaxed);
        unsigned kind = rng_() % 20;
        size_t align = 16;
        if (kind < 16) {
            b.p = arena_test_malloc(b.size);
        } else if (kind < 18) {
            size_t n = 1 + rng_() % 4;
            b.size /= n;
            b.p = arena_test_calloc(n, b.size);
            b.size *= n;
            if (b.p)
                for (size_t i = 0; i < b.size; i++)
                    if (static_cast<uint8_t *>(b.p)[i]) Die("calloc block %p: byte %zu not zero", b.p, i);
        } else if (kind < 19) {
            align = (size_t)16 << (rng_() % 9);
            b.p = arena_test_memalign(align, b.size);
        } else {
            b.p = arena_test_realloc(nullptr, b.size);
        }
        if (!b.p) Die("allocation of %zu bytes failed", b.size);
        if ((uintptr_t)b.p % align) Die("block %p not aligned to %zu", b.p, align);
        if (arena_test_malloc_usable_size(b.p) < b.size) Die("usable size of %p below %zu", b.p, b.size);
        Fill(b.p, 0, b.size, b.tag);
        mallocs_++;
        return b;
    }

    void Release(Block &b) {
        Verify(b.p, b.size, b.tag, "before free");
        arena_test_free(b.p);
        frees_++;
    }

    void Resize(Block &b) {
        Verify(b.p, b.size, b.tag, "before realloc");
        size_t n = rng_() % 4 ? RandomSize(rng_) : b.size + rng_() % 64;
        if (n == 0) n = 1;
        void *q = arena_test_realloc(b.p, n);
        if (!q) Die("realloc of %p to %zu bytes failed", b.p, n);
        size_t kept = b.size < n ? b.size : n;
        Verify(q, kept, b.tag, "after realloc");
        Fill(q, kept, n, b.tag);
        b.p = q;
        b.size = n;
        reallocs_++;
    }

    void Step() {
        unsigned r = rng_() % 100;
        if (r < 55) {
            std::vector<Block> &own = *own_;
            bool grow = own.empty() || (own.size() < kPrivateMax && rng_() % 2);
            if (grow) {
                Block b = Allocate();
                if (rng_() % 10 == 0) Release(b); // short-lived
                else own.push_back(b);
            } else {
                size_t i = rng_() % own.size();
                if (rng_() % 5 == 0) {
                    Resize(own[i]);
                } else {
                    Release(own[i]);
                    own[i] = own.back();
                    own.pop_back();
                }
            }
            return;
        }
        Slot &slot = pool_[rng_() % kPoolSlots];
        std::lock_guard<std::mutex> g(slot.lock);
        if (!slot.b.p) {
            slot.b = Allocate();
            slot.owner = id_;
        } else if (r < 80) {
            if (slot.owner != id_) cross_frees_++;
            Release(slot.b);
            slot.b = Block{};
        } else {
            if (slot.owner != id_) cross_reallocs_++;
            Resize(slot.b);
            slot.owner = id_;
        }
    }

    int id_;
    std::vector<Block> *own_;
    Slot *pool_;
    Counts *counts_;
    std::mt19937_64 rng_;
    uint64_t mallocs_ = 0, frees_ = 0, reallocs_ = 0, cross_frees_ = 0, cross_reallocs_ = 0;
};

}  // namespace

namespace {

const char kUsage[] =
    "usage: soak [--threads N] [--phases N] [--ops N (per thread per phase)] [--seed N]\n"
    "            [--rss-slack MiB] [--peak-slack MiB] [--no-rss-check]\n";

// A bad command line: what is wrong, then the usage, exit 2.
[[noreturn]] void Usage(const std::string &what) {
    fprintf(stderr, "soak: %s\n%s", what.c_str(), kUsage);
    exit(2);
}

// The whole of text as a whole number in [min, max], else Usage naming the flag.
uint64_t WholeOf(const std::string &flag, const char *text, uint64_t min, uint64_t max) {
    char *end = nullptr;
    errno = 0;
    const unsigned long long v = strtoull(text, &end, 10);
    if (!isdigit(static_cast<unsigned char>(*text)) || *end || errno || v < min || v > max)
        Usage(flag + " takes a whole number from " + std::to_string(min) + " to " + std::to_string(max) + ", not '" +
              text + "'");
    return v;
}

// The whole of text as a number of MiB, 0 or more, else Usage naming the flag.
double MebibytesOf(const std::string &flag, const char *text) {
    char *end = nullptr;
    errno = 0;
    const double v = strtod(text, &end);
    if (end == text || *end || errno || !(v >= 0 && v <= 1e6))
        Usage(flag + " takes MiB, 0 to 1000000, not '" + text + "'");
    return v;
}

Options ParseOptions(int argc, char **argv) {
    Options o;
    for (int i = 1; i < argc; i++) {
        std::string a = argv[i];
        if (a == "--help" || a == "-h") {
            fputs(kUsage, stdout);
            exit(0);
        }
        if (a == "--no-rss-check") {
            o.check_rss = false;
            continue;
        }
        // The flag's value, taken once the flag is known.
        auto value = [&]() -> const char * {
            if (i + 1 >= argc) Usage(a + " needs a value");
            return argv[++i];
        };
        if (a == "--threads") o.threads = static_cast<int>(WholeOf(a, value(), 1, 1024));
        else if (a == "--phases") o.phases = static_cast<int>(WholeOf(a, value(), 1, 1000000));
        else if (a == "--ops") o.ops = static_cast<long>(WholeOf(a, value(), 0, 1000000000000));
        else if (a == "--seed") o.seed = WholeOf(a, value(), 0, UINT64_MAX);
        else if (a == "--rss-slack") o.rss_slack = MebibytesOf(a, value());
        else if (a == "--peak-slack") o.peak_slack = MebibytesOf(a, value());
        else Usage("unknown flag '" + a + "'");
    }
    return o;
}

struct Phase {
    double seconds;
    size_t rss_end, rss_after, rss_peak, mapped_after;
};

// An ended thread's heap keeps free memory resident for the next thread for
// 4 purge delays (WARM_TICKS: 2^28 TSC cycles, 103-128 ms at 2.1-2.6 GHz);
// the soak waits well past that before it measures what stays. A new thread
// would take such a heap, warm; the soak asks what is left when none comes.
constexpr auto kWarmPeriodPassed = std::chrono::milliseconds(500);
// The main thread's work after the pause: small blocks, enough to empty a
// page and take the slow path that cools ended heaps (a medium block can be
// served from a cache that skips it).
constexpr size_t kSettleBlocks = 256, kSettleBlockBytes = 1024;

void SettleProbe() {
    static void *blocks[kSettleBlocks];
    for (void *&p : blocks)
        if (!(p = arena_test_malloc(kSettleBlockBytes))) {
            fprintf(stderr, "soak: the main thread's malloc(%zu) failed\n", kSettleBlockBytes);
            exit(1);
        }
    for (void *p : blocks) arena_test_free(p);
}

}  // namespace

// One failed check, said on stderr and counted.
__attribute__((format(printf, 2, 3))) static void fail(int *failures, const char *format, ...) {
    fprintf(stderr, "soak: FAIL: ");
    va_list args;
    va_start(args, format);
    vfprintf(stderr, format, args);
    va_end(args);
    fputc('\n', stderr);
    ++*failures;
}

int main(int argc, char **argv) {
    Options o = ParseOptions(argc, argv);
#ifdef ARENA_SOAK_SANITIZE
    const char *build = "built with -fsanitize=" ARENA_SOAK_SANITIZE;
#else
    const char *build = "no sanitizer";
#endif
    // Every piece of bookkeeping is allocated here, before the first phase.
    std::vector<std::vector<Block>> own((size_t)o.threads);
    for (auto &v : own) v.reserve(kPrivateMax);
    std::unique_ptr<Slot[]> pool(new Slot[kPoolSlots]);
    Counts counts;
    std::vector<Worker> workers;
    workers.reserve((size_t)o.threads);
    for (int i = 0; i < o.threads; i++) workers.emplace_back(i, &own[(size_t)i], pool.get(), &counts);
    std::vector<std::thread> threads;
    threads.reserve((size_t)o.threads);
    std::vector<Phase> phases;
    phases.reserve((size_t)o.phases);
    SettleProbe(); // the main thread's heap, made before phase 1 as it is before every later one

    printf("soak: %d threads, %d phases of %ld ops per thread, seed %llu (%s)\n", o.threads, o.phases, o.ops,
           (unsigned long long)o.seed, build);
    printf("soak: resident before phase 1: %.1f MiB\n", MiB(resident_bytes()));
    printf("%5s %12s %8s %14s %14s %14s %14s\n", "phase", "ops", "seconds", "rss_end_MiB", "rss_after_MiB",
           "rss_peak_MiB", "mapped_MiB");
    int failures = 0;
    auto start = std::chrono::steady_clock::now();
    for (int ph = 0; ph < o.phases; ph++) {
        auto t0 = std::chrono::steady_clock::now();
        Barrier barrier(o.threads);
        std::atomic<int> done{0};
        size_t peak = resident_bytes();
        for (int i = 0; i < o.threads; i++)
            threads.emplace_back([&, i] {
                workers[(size_t)i].Run(o.seed * 1000003u + (uint64_t)ph * 1009u + (uint64_t)i, o.ops, o.threads,
                                       &barrier);
                done.fetch_add(1);
            });
        while (done.load() < o.threads) {
            size_t now = resident_bytes();
            if (now > peak) peak = now;
            std::this_thread::sleep_for(std::chrono::milliseconds(5));
        }
        for (auto &t : threads) t.join();
        threads.clear();
        Phase f;
        f.rss_end = resident_bytes();
        if (f.rss_end > peak) peak = f.rss_end;
        f.rss_peak = peak;
        f.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
        std::this_thread::sleep_for(kWarmPeriodPassed);
        SettleProbe();
        f.rss_after = resident_bytes();
        arena_stats st;
        if (arena_malloc_stats(&st) != 0) fail(&failures, "arena_malloc_stats failed");
        f.mapped_after = st.mapped_bytes;
        phases.push_back(f);
        printf("%5d %12ld %8.2f %14.1f %14.1f %14.1f %14.1f\n", ph + 1, o.ops * o.threads, f.seconds, MiB(f.rss_end),
               MiB(f.rss_after), MiB(f.rss_peak), MiB(f.mapped_after));
        fflush(stdout);

        if (arena_malloc_check() != 0) fail(&failures, "phase %d: arena_malloc_check failed (message above)", ph + 1);
        if (st.live_blocks != 0 || st.live_bytes != 0)
            fail(&failures, "phase %d: everything was freed, but %zu blocks and %zu bytes are live", ph + 1, st.live_blocks,
                 st.live_bytes);
        const Phase &first = phases[0];
        if (o.check_rss && f.rss_after > first.rss_after + (size_t)(o.rss_slack * 1048576))
            fail(&failures, "phase %d: resident after the phase %.1f MiB > phase 1's %.1f MiB + %.0f MiB", ph + 1,
                 MiB(f.rss_after), MiB(first.rss_after), o.rss_slack);
        size_t peak_limit = first.rss_peak + first.rss_peak / 4 + (size_t)(o.peak_slack * 1048576);
        if (o.check_rss && f.rss_peak > peak_limit)
            fail(&failures, "phase %d: resident peak %.1f MiB > phase 1's %.1f MiB + 25%% + %.0f MiB", ph + 1,
                 MiB(f.rss_peak), MiB(first.rss_peak), o.peak_slack);
    }
    double total = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    printf("soak: %llu allocations, %llu frees (%llu by another thread), %llu reallocs (%llu of another "
           "thread's block) in %.1f s\n",
           (unsigned long long)counts.mallocs.load(), (unsigned long long)counts.frees.load(),
           (unsigned long long)counts.cross_frees.load(), (unsigned long long)counts.reallocs.load(),
           (unsigned long long)counts.cross_reallocs.load(), total);
    if (counts.mallocs.load() != counts.frees.load()) fail(&failures, "allocations and frees do not match");
    if (failures) {
        printf("soak: %d check(s) failed\n", failures);
        return 1;
    }
    printf("soak: passed%s\n", o.check_rss ? "" : " (resident memory not checked)");
    return 0;
}
