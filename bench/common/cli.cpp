#include "cli.h"

#include <cerrno>
#include <cctype>
#include <cmath>
#include <cstdlib>

namespace bench {

bool FlagReader::value(const std::string &name, std::string *out) {
    if (done()) return false;
    const std::string &arg = args_[next_];
    if (arg.compare(0, name.size() + 1, name + "=") == 0) {
        *out = arg.substr(name.size() + 1);
        next_++;
    } else if (arg == name) {
        if (next_ + 1 >= args_.size()) throw UsageError(name + " needs a value");
        // `--trace --allocators=arena` forgot the trace: the next flag is no value.
        if (args_[next_ + 1].compare(0, 2, "--") == 0)
            throw UsageError(name + " needs a value, not the flag '" + args_[next_ + 1] + "' (" + name +
                             "=VALUE takes one that starts with --)");
        *out = args_[next_ + 1];
        next_ += 2;
    } else {
        return false;
    }
    if (out->empty()) throw UsageError(name + " needs a value");
    return true;
}

bool FlagReader::flag(const std::string &name) {
    if (done() || args_[next_] != name) return false;
    next_++;
    return true;
}

uint64_t parse_count(const std::string &flag, const std::string &text, uint64_t max) {
    char *end = nullptr;
    errno = 0;
    unsigned long long v = std::strtoull(text.c_str(), &end, 10);
    // strtoull skips blanks and takes a sign: " -1" would be 2^64-1
    if (text.empty() || text[0] < '0' || text[0] > '9' || *end || errno)
        throw UsageError(flag + " takes a whole number, not '" + text + "'");
    if (v > max) throw UsageError(flag + " takes at most " + std::to_string(max) + ", not " + text);
    return v;
}

uint64_t parse_positive(const std::string &flag, const std::string &text, uint64_t max) {
    const uint64_t v = parse_count(flag, text, max);
    if (!v) throw UsageError(flag + " must be at least 1");
    return v;
}

double parse_nonnegative(const std::string &flag, const std::string &text, const std::string &what) {
    // Decimal only: strtod also reads hex (0x10), inf and nan.
    const bool decimal = !text.empty() && text.find_first_not_of("0123456789.eE+-") == std::string::npos &&
                         (std::isdigit(static_cast<unsigned char>(text[0])) || text[0] == '.');
    char *end = nullptr;
    double v = decimal ? std::strtod(text.c_str(), &end) : -1;
    if (!decimal || *end || !std::isfinite(v) || v < 0)
        throw UsageError(flag + " takes " + what + " >= 0, not '" + text + "'");
    return v;
}

double parse_seconds(const std::string &flag, const std::string &text) {
    return parse_nonnegative(flag, text, "a number of seconds");
}

uint64_t parse_bytes(const std::string &flag, const std::string &text) {
    char *end = nullptr;
    errno = 0;
    unsigned long long v = std::strtoull(text.c_str(), &end, 10);
    uint64_t unit = 1;
    std::string suffix = end ? end : "";
    if (suffix == "K" || suffix == "KiB") unit = 1ull << 10;
    else if (suffix == "M" || suffix == "MiB") unit = 1ull << 20;
    else if (suffix == "G" || suffix == "GiB") unit = 1ull << 30;
    else if (!suffix.empty()) unit = 0;
    if (text.empty() || text[0] < '0' || text[0] > '9' || errno || !unit || v > UINT64_MAX / unit)
        throw UsageError(flag + " takes sizes in bytes (4096, 64K, 4M, 1G), not '" + text + "'");
    return v * unit;
}

uint64_t parse_block_size(const std::string &flag, const std::string &text) {
    const uint64_t size = parse_bytes(flag, text);
    if (size < 8 || size > 65536 || (size & (size - 1)))
        throw UsageError(flag + ": " + std::to_string(size) + " is not a power of two from 8 to 65536");
    return size;
}

uint64_t parse_huge_pages_from(const std::string &flag, const std::string &text) {
    if (text == "never") return kHugePagesNever;
    try {
        return parse_bytes(flag, text);
    } catch (const UsageError &) {
        throw UsageError(flag + " takes sizes in bytes (16M, 32M, 1G), 0 or never, not '" + text + "'");
    }
}

std::string huge_pages_from_text(uint64_t value) {
    return value == kHugePagesNever ? "never" : std::to_string(value);
}

std::vector<std::string> split_list(const std::string &flag, const std::string &text) {
    std::vector<std::string> items;
    size_t start = 0;
    while (start <= text.size()) {
        size_t comma = text.find(',', start);
        if (comma == std::string::npos) comma = text.size();
        std::string item = text.substr(start, comma - start);
        if (item.empty()) throw UsageError(flag + " has an empty item in '" + text + "'");
        items.push_back(item);
        start = comma + 1;
    }
    return items;
}

}  // namespace bench
