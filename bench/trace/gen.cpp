// gen.cpp: the synthetic workloads. Every one ends by freeing what is still
// live (the op budget is planned so), which lets a replay measure the memory an
// allocator hands back; every one has exactly the requested number of ops.
#include "gen.h"

#include <algorithm>

#include "builder.h"

namespace trace {
namespace {

// xoshiro256** seeded by splitmix64: fast, good, and the same everywhere.
class Rng {
public:
    explicit Rng(uint64_t seed) {
        for (uint64_t &word : s_) {
            seed += 0x9e3779b97f4a7c15ULL;
            uint64_t z = seed;
            z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
            z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
            word = z ^ (z >> 31);
        }
    }
    uint64_t next() {
        const uint64_t result = rotl(s_[1] * 5, 7) * 9;
        const uint64_t t = s_[1] << 17;
        s_[2] ^= s_[0];
        s_[3] ^= s_[1];
        s_[1] ^= s_[2];
        s_[0] ^= s_[3];
        s_[2] ^= t;
        s_[3] = rotl(s_[3], 45);
        return result;
    }
    // Uniform in [0, n) (n > 0), by the multiply-high method.
    uint64_t below(uint64_t n) { return static_cast<uint64_t>((static_cast<unsigned __int128>(next()) * n) >> 64); }
    uint64_t between(uint64_t lo, uint64_t hi) { return lo + below(hi - lo + 1); }
    bool per_mille(uint64_t chance) { return below(1000) < chance; }

private:
    static uint64_t rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }
    uint64_t s_[4];
};

enum class Shape { LogUniform, PowerLaw };

// A size in [lo, hi]: first a power-of-two band (each band equally likely for
// LogUniform; each band 0.6 times as likely as the one below for PowerLaw),
// then uniform within the band. Integers only, so every machine agrees.
uint64_t pick_size(Rng &rng, Shape shape, uint64_t lo, uint64_t hi) {
    const unsigned low_band = bit_width(lo), high_band = bit_width(hi);
    unsigned band = low_band;
    if (shape == Shape::LogUniform) {
        band += static_cast<unsigned>(rng.below(high_band - low_band + 1));
    } else {
        uint64_t weights[65], total = 0, w = 1ull << 40;
        for (unsigned b = low_band; b <= high_band; b++, w = w * 6 / 10) total += weights[b] = w;
        uint64_t r = rng.below(total);
        while (r >= weights[band]) r -= weights[band++];
    }
    const uint64_t band_lo = std::max<uint64_t>(lo, band ? 1ull << (band - 1) : 0);
    const uint64_t band_hi = std::min<uint64_t>(hi, band < 64 ? (1ull << band) - 1 : UINT64_MAX);
    return rng.between(band_lo, band_hi);
}

enum class Order { Random, Lifo, Fifo };

struct Params {
    uint64_t lo, hi;
    Shape shape = Shape::LogUniform;
    Order order = Order::Random;
    uint64_t target_live = 20000;
    uint64_t calloc_per_mille = 0, memalign_per_mille = 0, realloc_per_mille = 0;
};

// The state every workload shares: the builder, the random stream, the budget.
struct Gen {
    Gen(uint64_t ops, uint64_t seed) : rng(seed), budget(ops) {}
    Builder builder;
    Rng rng;
    uint64_t budget;  // ops still to write

    uint64_t remaining() const { return budget - builder.op_count(); }

    // One allocation of `bytes` total: malloc, or now and then a calloc (N*SIZE
    // == bytes exactly when N divides it, else the largest N*SIZE <= bytes that
    // stays >= lo) or an aligned allocation.
    uint32_t allocate(const Params &p, uint64_t bytes, uint16_t thread) {
        uint32_t slot = 0;
        if (rng.per_mille(p.calloc_per_mille)) {
            uint64_t n = 1ull << rng.below(4);
            while (n > 1 && bytes / n * n < p.lo) n /= 2;
            builder.alloc(OpKind::Calloc, bytes / n, n, thread, &slot);
        } else if (rng.per_mille(p.memalign_per_mille)) {
            builder.alloc(OpKind::Memalign, bytes, 1ull << rng.between(4, 12), thread, &slot);
        } else {
            builder.alloc(OpKind::Malloc, bytes, 0, thread, &slot);
        }
        return slot;
    }
    uint32_t allocate(const Params &p, uint16_t thread = 0) {
        return allocate(p, pick_size(rng, p.shape, p.lo, p.hi), thread);
    }

    // Picks, removes and returns one of `live` (whose first `head` entries are
    // already gone, for FIFO).
    uint32_t take(std::vector<uint32_t> &live, size_t &head, Order order) {
        uint32_t slot;
        if (order == Order::Fifo) {
            slot = live[head++];
            if (head * 2 > live.size() && head > 1024) {
                live.erase(live.begin(), live.begin() + static_cast<long>(head));
                head = 0;
            }
            return slot;
        }
        size_t i = order == Order::Lifo ? live.size() - 1 : head + rng.below(live.size() - head);
        slot = live[i];
        live[i] = live.back();
        live.pop_back();
        return slot;
    }

    // Allocation chance in per mille: pulls the live count back toward target.
    uint64_t alloc_chance(uint64_t live, uint64_t target) const {
        if (live == 0) return 1000;
        int64_t chance = 500 + 400 * (static_cast<int64_t>(target) - static_cast<int64_t>(live)) /
                                   static_cast<int64_t>(target);
        return static_cast<uint64_t>(std::clamp<int64_t>(chance, 100, 900));
    }
};

// Steady state around target_live objects, freed in the given order; the last
// ops free everything left.
void steady(Gen &g, const Params &p) {
    std::vector<uint32_t> live;
    size_t head = 0;
    while (g.remaining()) {
        const uint64_t count = live.size() - head;
        if (g.remaining() <= count) {
            g.builder.free(g.take(live, head, p.order), 0);
        } else if (count && (g.remaining() == count + 1 || g.rng.per_mille(p.realloc_per_mille))) {
            // one op more than the teardown needs: only a realloc keeps the end free of live blocks
            // Two draws, in the order GCC took them as arguments (the size
            // first), which the committed traces keep; in one call's
            // arguments their order was the compiler's (clang took the block first).
            const uint64_t size = pick_size(g.rng, p.shape, p.lo, p.hi);
            g.builder.realloc(live[head + g.rng.below(count)], size, 0);
        } else if (g.rng.per_mille(g.alloc_chance(count, p.target_live))) {
            live.push_back(g.allocate(p));
        } else {
            g.builder.free(g.take(live, head, p.order), 0);
        }
    }
}

// Buffers that start small and grow by realloc (x1.5 to x2 each time) to a
// final size, then are freed; about target_live of them at once.
void realloc_grow(Gen &g, const Params &p) {
    struct Buffer {
        uint32_t slot;
        uint64_t size, final_size;
    };
    std::vector<Buffer> active;
    while (g.remaining()) {
        // Ops beyond the teardown's: an allocation takes two of them (itself
        // and its free), a realloc one; at one, only a realloc can spend it.
        const uint64_t spare = g.remaining() - active.size();
        if ((spare >= 2 || active.empty()) &&
            (active.empty() || (active.size() < p.target_live && g.rng.per_mille(300)))) {
            const uint64_t start = pick_size(g.rng, Shape::LogUniform, p.lo, 256);
            active.push_back({g.allocate(p, start, 0), start, pick_size(g.rng, Shape::LogUniform, 1024, p.hi)});
            continue;
        }
        const size_t i = g.rng.below(active.size());
        Buffer &b = active[i];
        if (spare && (b.size < b.final_size || spare == 1)) {
            b.size = std::min(b.final_size, b.size + b.size / 2 + g.rng.below(b.size / 2 + 1));
            g.builder.realloc(b.slot, b.size, 0);
        } else {
            g.builder.free(b.slot, 0);
            active[i] = active.back();
            active.pop_back();
        }
    }
}

// Build up many small objects, free 90% of them at random, build again with
// larger sizes that cannot reuse the holes, then tear everything down.
void phased(Gen &g, const Params &p) {
    const uint64_t first = g.budget * 4 / 10, second = (g.budget - 2 * first) / 2;
    const bool spare_op = (g.budget - 2 * first) % 2 == 1;  // spent on one realloc
    Params small = p, large = p;
    small.hi = 255;
    large.lo = 256;
    std::vector<uint32_t> a, b;
    size_t head = 0;
    for (uint64_t i = 0; i < first; i++) a.push_back(g.allocate(small));
    for (uint64_t i = 0; i < first * 9 / 10; i++) g.builder.free(g.take(a, head, Order::Random), 0);
    for (uint64_t i = 0; i < second; i++) b.push_back(g.allocate(large));
    if (spare_op) g.builder.realloc(b.empty() ? a.back() : b.back(), pick_size(g.rng, p.shape, large.lo, large.hi), 0);
    while (!b.empty()) g.builder.free(g.take(b, head, Order::Random), 0);
    while (!a.empty()) g.builder.free(g.take(a, head, Order::Random), 0);
}

// Several threads, each running bursts of ops; 30% of frees release a block of
// a thread drawn at random, the freeing one included, so 0.3 (n - 1) / n of them
// (22.5% on 4 threads) release a block another thread allocated (always later in
// file order than its allocation).
void threads(Gen &g, const Params &p, uint32_t thread_count) {
    std::vector<std::vector<uint32_t>> live(thread_count);
    uint64_t total_live = 0;
    size_t no_head = 0;
    for (uint64_t burst = 0; g.remaining(); burst++) {
        const uint16_t thread = static_cast<uint16_t>(burst < thread_count ? burst : g.rng.below(thread_count));
        for (uint64_t n = g.rng.between(1, 32); n && g.remaining(); n--) {
            // Ops beyond the teardown's: an allocation takes two (itself and
            // its free), a realloc one; at one, only a realloc can spend it.
            // A free keeps the spare op, so at one a thread with no block of its
            // own waits for a burst of one that has: freeing another thread's
            // block could empty the trace with that op still to spend.
            const uint64_t spare = g.remaining() > total_live ? g.remaining() - total_live : 0;
            if (spare == 1) {
                if (!live[thread].empty()) {
                    const uint64_t size = pick_size(g.rng, p.shape, p.lo, p.hi);  // first, as above
                    g.builder.realloc(live[thread][g.rng.below(live[thread].size())], size, thread);
                }
                continue;
            }
            if (spare >= 2 && g.rng.per_mille(g.alloc_chance(total_live, p.target_live))) {
                live[thread].push_back(g.allocate(p, thread));
                total_live++;
                continue;
            }
            if (total_live == 0) continue;
            uint32_t owner = thread;
            if (live[owner].empty() || g.rng.per_mille(300))
                do owner = static_cast<uint32_t>(g.rng.below(thread_count)); while (live[owner].empty());
            g.builder.free(g.take(live[owner], no_head, Order::Random), thread);
            total_live--;
        }
    }
}

enum class Kind { Steady, ReallocGrow, Phased, Threads };

struct Entry {
    Workload info;
    Kind kind;
    Params params;
};

// One row per workload: name, summary, default ops, kind, sizes lo-hi, objects
// live at once, then calloc / aligned / realloc chances in per mille.
Entry row(const char *name, const char *summary, uint64_t default_ops, Kind kind, uint64_t lo, uint64_t hi,
          uint64_t target_live, uint64_t calloc_pm = 0, uint64_t memalign_pm = 0, uint64_t realloc_pm = 0,
          Order order = Order::Random, Shape shape = Shape::LogUniform) {
    Params p{lo, hi, shape, order, target_live, calloc_pm, memalign_pm, realloc_pm};
    return {{name, summary, default_ops, lo, hi, kind == Kind::Threads ? 4u : 1u}, kind, p};
}

const std::vector<Entry> &entries() {
    static const std::vector<Entry> table = {
        row("tiny", "8-64 B objects, random lifetimes, ~40k live; some calloc",
            1000000, Kind::Steady, 8, 64, 40000, 20),
        row("small", "16-512 B, random lifetimes, ~20k live; some calloc and aligned",
            1000000, Kind::Steady, 16, 512, 20000, 20, 10),
        row("medium", "512 B-32 KiB, random lifetimes, ~1500 live; some aligned",
            500000, Kind::Steady, 512, 32768, 1500, 0, 30),
        row("large", "32 KiB-4 MiB, random lifetimes, ~24 live (mmap territory)",
            20000, Kind::Steady, 32768, 4u << 20, 24),
        row("powerlaw", "8 B-1 MiB, heavy tail (each size band 0.6x the one below), ~20k live",
            500000, Kind::Steady, 8, 1u << 20, 20000, 10, 0, 0, Order::Random, Shape::PowerLaw),
        row("realloc-grow", "buffers of 16-256 B grown by realloc (x1.5-x2) to 1 KiB-1 MiB, then freed; ~128 at once",
            500000, Kind::ReallocGrow, 16, 1u << 20, 128),
        row("lifo", "16 B-1 KiB, freed newest first (stack order), ~20k live",
            1000000, Kind::Steady, 16, 1024, 20000, 0, 0, 0, Order::Lifo),
        row("fifo", "16 B-1 KiB, freed oldest first (queue order), ~20k live",
            1000000, Kind::Steady, 16, 1024, 20000, 0, 0, 0, Order::Fifo),
        row("random", "16 B-1 KiB, freed in random order, ~20k live; calloc, aligned and realloc mixed in",
            1000000, Kind::Steady, 16, 1024, 20000, 30, 10, 50),
        row("phased", "build 16-255 B objects, free 90% at random, build 256-1023 B ones, tear all down (fragmentation)",
            300000, Kind::Phased, 16, 1023, 0, 10),
        row("threads", "16 B-1 KiB over 4 threads in bursts; about 23% of frees cross threads; ~20k live",
            1000000, Kind::Threads, 16, 1024, 20000, 20, 5),
    };
    return table;
}

const Entry *find_entry(const std::string &name) {
    for (const Entry &e : entries())
        if (name == e.info.name) return &e;
    return nullptr;
}

}  // namespace

const std::vector<Workload> &workloads() {
    static const std::vector<Workload> list = [] {
        std::vector<Workload> l;
        for (const Entry &e : entries()) l.push_back(e.info);
        return l;
    }();
    return list;
}

const Workload *find_workload(const std::string &name) {
    const Entry *e = find_entry(name);
    return e ? &e->info : nullptr;
}

bool generate(const std::string &workload, const GenOptions &options, Trace *out, std::string *error) {
    const Entry *entry = find_entry(workload);
    if (!entry) {
        if (error) *error = "unknown workload '" + workload + "' (gen --list names them)";
        return false;
    }
    const uint32_t thread_count = options.threads ? options.threads : entry->info.default_threads;
    if (thread_count > kMaxThread + 1 || (thread_count > 1 && entry->kind != Kind::Threads)) {
        if (error)
            *error = entry->kind == Kind::Threads
                         ? "--threads: workload '" + workload + "' takes 1 to " + std::to_string(kMaxThread + 1) +
                               " threads"
                         : "--threads: workload '" + workload + "' runs on one thread (only 'threads' takes more)";
        return false;
    }
    if (options.ops && options.ops < kMinGenOps) {
        if (error) *error = "--ops: a workload needs at least " + std::to_string(kMinGenOps) +
                            " ops (it ends with nothing live)";
        return false;
    }
    Gen g(options.ops ? options.ops : entry->info.default_ops, options.seed);
    switch (entry->kind) {
        case Kind::Steady: steady(g, entry->params); break;
        case Kind::ReallocGrow: realloc_grow(g, entry->params); break;
        case Kind::Phased: phased(g, entry->params); break;
        case Kind::Threads: threads(g, entry->params, thread_count); break;
    }
    g.builder.finish(out);
    out->path.clear();
    out->name = workload;
    return true;
}

}  // namespace trace
