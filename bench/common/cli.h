// cli.h: flags of the bench drivers: --name=VALUE (or --name VALUE) and
// --switch; a bad flag is a UsageError, which the drivers turn into their
// usage text on stderr and exit status 2.
#pragma once

#include <algorithm>
#include <cstdint>
#include <stdexcept>
#include <string>
#include <vector>

namespace bench {

struct UsageError : std::runtime_error {
    using std::runtime_error::runtime_error;
};

constexpr int kExitUsage = 2;

class FlagReader {
public:
    FlagReader(int argc, char **argv) : args_(argv + 1, argv + argc) {}
    bool done() const { return next_ >= args_.size(); }
    const std::string &peek() const { return args_[next_]; }
    // True (and the value taken) when the next argument is --name=VALUE or --name VALUE.
    // An empty VALUE is a UsageError: no flag takes one, and an empty file or
    // list is more likely an unset shell variable than a wish for the default.
    bool value(const std::string &name, std::string *out);
    // True when the next argument is exactly --name.
    bool flag(const std::string &name);
    // Takes the next argument as it is.
    std::string take() { return args_[next_++]; }

private:
    std::vector<std::string> args_;
    size_t next_ = 0;
};

// 0, 1, 2, ... up to max (a larger number is a UsageError naming the bound).
uint64_t parse_count(const std::string &flag, const std::string &text, uint64_t max = UINT64_MAX);
// 1, 2, ... up to max.
uint64_t parse_positive(const std::string &flag, const std::string &text, uint64_t max = UINT64_MAX);
// The most repetitions (or warm-up replays) a driver takes: past it a run
// would outlast any machine, and a count near 2^64 never ends its loops.
constexpr uint64_t kRepetitionsMax = 1000000;
double parse_seconds(const std::string &flag, const std::string &text);     // a decimal number >= 0
// A number >= 0; the error names it as `what` ("a percentage").
double parse_nonnegative(const std::string &flag, const std::string &text, const std::string &what);
// Byte sizes: 4096, 64K, 4M, 1G (binary units).
uint64_t parse_bytes(const std::string &flag, const std::string &text);
// A block size of arena and seed: a byte size as parse_bytes takes it (16, 4K),
// a power of two from 8 to 65536.
uint64_t parse_block_size(const std::string &flag, const std::string &text);
// When arena's default policy asks for transparent huge pages (arena.h's
// huge_pages_from): a byte size as parse_bytes takes it (16M), 0 for the
// policy's own, or the word `never` (kHugePagesNever, ARENA_HUGE_PAGES_NEVER).
constexpr uint64_t kHugePagesNever = UINT64_MAX;
uint64_t parse_huge_pages_from(const std::string &flag, const std::string &text);
// The text parse_huge_pages_from takes back: the bytes in decimal, or `never`.
std::string huge_pages_from_text(uint64_t value);
// The items of a,b,c; an empty item (a,,c or a trailing comma) is a UsageError
// naming flag, so the list is never empty.
std::vector<std::string> split_list(const std::string &flag, const std::string &text);

// Drops the second and later copies of an item, keeping the first order: a
// list flag naming one value twice would run its configuration twice and give
// rows with the same key.
template <typename T>
std::vector<T> without_repeats(const std::vector<T> &items) {
    std::vector<T> kept;
    for (const T &item : items)
        if (std::find(kept.begin(), kept.end(), item) == kept.end()) kept.push_back(item);
    return kept;
}

}  // namespace bench
