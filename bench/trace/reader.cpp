// reader.cpp: load(), load_bytes(), parse(). The whole (decompressed) text is in
// memory; a hand-written tokenizer walks it line by line and checks every rule
// of docs/trace-format.md before anything is handed back.
//
// Choices the format leaves open, made here (and in docs of the CLI):
// - a line ends at '\n'; one '\r' just before it (CRLF), or as the last byte of
//   the text, is dropped; any other '\r' is part of a field (and so, e.g., not a
//   number);
// - the last line may lack its '\n';
// - a comment is a line whose first non-blank character is '#'; a '#' after
//   fields is an extra field, not a comment;
// - blanks are spaces and tabs; the header is the two fields `arena-trace 1`.
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include <cerrno>
#include <cstdint>
#include <cstdlib>
#include <cstring>

#include "builder.h"
#include "trace.h"

namespace trace {
namespace {

constexpr size_t kMaxFields = 4;  // op letter + up to 3 numbers
// No allocation is larger (malloc refuses more: pointer differences inside a
// block must fit ptrdiff_t); a trace asking for more could not be replayed by
// any allocator, and would stop a run at its first timed replay.
constexpr uint64_t kMaxRequest = PTRDIFF_MAX;

struct Field {
    const char *text;
    size_t len;
};

// A field as it can be shown in a message: quoted, escaped, cut when long.
std::string show(const Field &f) {
    std::string out = "'";
    for (size_t i = 0; i < f.len && i < 40; i++) {
        unsigned char ch = static_cast<unsigned char>(f.text[i]);
        if (ch >= 0x20 && ch < 0x7f && ch != '\'') {
            out += static_cast<char>(ch);
        } else {
            static const char hex[] = "0123456789abcdef";
            out += "\\x";
            out += hex[ch >> 4];
            out += hex[ch & 15];
        }
    }
    if (f.len > 40) out += "...";
    return out + "'";
}

// A number past kMaxRequest, named: what the message after "'a 7': " says.
std::string too_large(const char *name, uint64_t value) {
    return std::string(name) + " " + std::to_string(value) + " is more than any allocation can have (at most " +
           std::to_string(kMaxRequest) + ", PTRDIFF_MAX)";
}

struct OpSyntax {
    char letter;
    size_t numbers;
    const char *names[3];  // what each number field is called in messages
};
const OpSyntax kSyntax[] = {
    {'a', 2, {"ID", "SIZE", nullptr}},   {'c', 3, {"ID", "N", "SIZE"}},
    {'m', 3, {"ID", "ALIGN", "SIZE"}},   {'r', 2, {"ID", "SIZE", nullptr}},
    {'f', 1, {"ID", nullptr, nullptr}},  {'t', 1, {"THREAD", nullptr, nullptr}},
};

std::string usage_of(const OpSyntax &s) {
    std::string u(1, s.letter);
    for (size_t i = 0; i < s.numbers; i++) u += std::string(" ") + s.names[i];
    return u;
}

bool is_blank(char ch) { return ch == ' ' || ch == '\t'; }

// Splits [p, end) at blanks. Returns the number of fields; more than kMaxFields
// are counted but not stored beyond the first extra one.
size_t split(const char *p, const char *end, Field *fields) {
    size_t n = 0;
    while (p < end) {
        while (p < end && is_blank(*p)) p++;
        if (p == end) break;
        const char *start = p;
        while (p < end && !is_blank(*p)) p++;
        if (n <= kMaxFields) fields[n] = Field{start, static_cast<size_t>(p - start)};
        n++;
    }
    return n;
}

enum class NumberError { None, NotANumber, OutOfRange };

NumberError parse_u64(const Field &f, uint64_t *value) {
    uint64_t v = 0;
    for (size_t i = 0; i < f.len; i++) {
        unsigned digit = static_cast<unsigned char>(f.text[i]) - '0';
        if (digit > 9) return NumberError::NotANumber;
        if (v > (UINT64_MAX - digit) / 10) {
            for (size_t j = i + 1; j < f.len; j++)
                if (static_cast<unsigned>(static_cast<unsigned char>(f.text[j]) - '0') > 9)
                    return NumberError::NotANumber;
            return NumberError::OutOfRange;
        }
        v = v * 10 + digit;
    }
    *value = v;
    return NumberError::None;
}

class Parser {
public:
    Parser(const std::string &path, std::string *error) : path_(path), error_(error) {
        id_map_init(&ids_, {zeroed, release});
    }
    ~Parser() { id_map_destroy(&ids_); }

    bool run(const char *text, size_t len, Trace *out);

private:
    static void *zeroed(size_t bytes) { return std::calloc(1, bytes); }
    static void release(void *p, size_t) { std::free(p); }

    bool fail(const std::string &what) {
        if (error_) *error_ = path_ + ":" + std::to_string(line_) + ": " + what;
        return false;
    }
    bool header(const Field *f, size_t n);
    bool op(const Field *f, size_t n);

    const std::string &path_;
    std::string *error_;
    uint64_t line_ = 0;
    bool have_header_ = false;
    uint16_t thread_ = 0;
    id_map ids_;                     // trace id -> slot, for live objects
    std::vector<uint64_t> line_of_;  // by slot: line that allocated it
    Builder builder_;
};

bool Parser::run(const char *text, size_t len, Trace *out) {
    const char *p = text, *end = text + len;
    Field fields[kMaxFields + 1];
    while (p < end) {
        line_++;
        const char *nl = static_cast<const char *>(memchr(p, '\n', static_cast<size_t>(end - p)));
        const char *line_end = nl ? nl : end;
        const char *next = nl ? nl + 1 : end;
        if (line_end > p && line_end[-1] == '\r') line_end--;
        size_t n = split(p, line_end, fields);
        p = next;
        if (n == 0 || fields[0].text[0] == '#') continue;
        if (!(have_header_ ? op(fields, n) : header(fields, n))) return false;
    }
    if (!have_header_) {
        if (line_ == 0) line_ = 1;
        return fail("missing header 'arena-trace 1': the trace has no lines other than comments");
    }
    builder_.finish(out);
    return true;
}

bool Parser::header(const Field *f, size_t n) {
    if (f[0].len != 11 || memcmp(f[0].text, "arena-trace", 11) != 0)
        return fail("missing header: the first line must be 'arena-trace 1', found " + show(f[0]));
    if (n < 2) return fail("header 'arena-trace' lacks its version (expected 'arena-trace 1')");
    if (f[1].len != 1 || f[1].text[0] != '1')
        return fail("unsupported version " + show(f[1]) + ": this reader reads version 1");
    if (n > 2) return fail("extra field " + show(f[2]) + " after the header 'arena-trace 1'");
    have_header_ = true;
    return true;
}

bool Parser::op(const Field *f, size_t n) {
    const OpSyntax *syntax = nullptr;
    if (f[0].len == 1)
        for (const OpSyntax &s : kSyntax)
            if (s.letter == f[0].text[0]) syntax = &s;
    if (!syntax && f[0].len == 11 && memcmp(f[0].text, "arena-trace", 11) == 0)
        return fail("a second header: 'arena-trace 1' is the first line alone");
    if (!syntax) return fail("unknown op " + show(f[0]) + " (expected a, c, m, r, f or t)");
    if (n - 1 < syntax->numbers)
        return fail(std::string("missing field ") + syntax->names[n - 1] + ": '" + syntax->letter +
                    "' takes " + usage_of(*syntax));
    if (n - 1 > syntax->numbers)
        return fail("extra field " + show(f[syntax->numbers + 1]) + ": '" + syntax->letter +
                    "' takes " + usage_of(*syntax));
    uint64_t v[3];
    for (size_t i = 0; i < syntax->numbers; i++) {
        switch (parse_u64(f[i + 1], &v[i])) {
            case NumberError::None: break;
            case NumberError::NotANumber:
                return fail(std::string(syntax->names[i]) + " " + show(f[i + 1]) +
                            " is not an unsigned decimal number");
            case NumberError::OutOfRange:
                return fail(std::string(syntax->names[i]) + " " + show(f[i + 1]) + " is out of range (largest is " +
                            (syntax->letter == 't' ? std::to_string(kMaxThread) : "18446744073709551615") + ")");
        }
    }
    const char letter = syntax->letter;
    if (letter == 't') {
        if (v[0] > kMaxThread)
            return fail("thread id " + std::to_string(v[0]) + " is out of range (0.." +
                        std::to_string(kMaxThread) + ")");
        thread_ = static_cast<uint16_t>(v[0]);
        return true;
    }
    const uint64_t id = v[0];
    const std::string what = std::string("'") + letter + " " + std::to_string(id) + "'";
    uint64_t slot = 0;
    const bool live = id_map_get(&ids_, id, &slot);
    if (letter == 'r' || letter == 'f') {
        if (!live) return fail(what + ": id " + std::to_string(id) + " is not live");
        const uint32_t s = static_cast<uint32_t>(slot);
        if (letter == 'f') {
            id_map_take(&ids_, id, &slot);
            builder_.free(s, thread_);
            return true;
        }
        if (v[1] == 0)
            return fail("'r " + std::to_string(id) + " 0': realloc to size 0 is not allowed (a recorder writes 'f " +
                        std::to_string(id) + "')");
        if (v[1] > kMaxRequest) return fail(what + ": " + too_large("SIZE", v[1]));
        if (!builder_.realloc(s, v[1], thread_)) return fail("live bytes exceed 2^64-1");
        return true;
    }
    if (live)
        return fail(what + ": id " + std::to_string(id) + " is already live (allocated at line " +
                    std::to_string(line_of_[slot]) + ")");
    OpKind kind = OpKind::Malloc;
    uint64_t size = v[1], arg = 0;
    if (letter == 'c') {
        kind = OpKind::Calloc;
        arg = v[1];
        size = v[2];
        if (size != 0 && arg > UINT64_MAX / size)
            return fail(what + ": N*SIZE = " + std::to_string(arg) + "*" + std::to_string(size) +
                        " overflows 64 bits");
    } else if (letter == 'm') {
        kind = OpKind::Memalign;
        arg = v[1];
        size = v[2];
        if (arg == 0 || (arg & (arg - 1)) != 0)
            return fail("ALIGN " + std::to_string(arg) + " is not a power of two");
        if (arg > kMaxRequest) return fail(what + ": " + too_large("ALIGN", arg));
    }
    const bool calloc = kind == OpKind::Calloc;
    const uint64_t requested = calloc ? arg * size : size;  // no overflow: checked above
    if (requested > kMaxRequest) return fail(what + ": " + too_large(calloc ? "N*SIZE" : "SIZE", requested));
    uint32_t s = 0;
    if (!builder_.alloc(kind, size, arg, thread_, &s)) return fail("live bytes exceed 2^64-1");
    if (s >= line_of_.size()) line_of_.resize(s + 1);
    line_of_[s] = line_;
    if (!id_map_put(&ids_, id, s)) return fail("out of memory");
    return true;
}

// Another file (named on the command line) keeps its name, without a last .gz.
std::string trace_name(const std::string &path) {
    std::string name = trace_file_name(path);
    if (!name.empty()) return name;
    name = path.substr(path.find_last_of('/') + 1);
    if (name.size() > 3 && name.compare(name.size() - 3, 3, ".gz") == 0) name.resize(name.size() - 3);
    return name;
}

// Inflates one or more concatenated gzip members.
bool gunzip(const std::string &path, const char *bytes, size_t len, std::string *text,
            std::string *error) {
    z_stream z{};
    if (inflateInit2(&z, 15 + 16) != Z_OK) {
        *error = path + ": cannot start zlib";
        return false;
    }
    // zlib counts input in 32 bits: it is handed over in pieces, or everything
    // past 4 GiB would be left unread (and a member ending just there would
    // pass for the end of the file).
    constexpr size_t kInputPiece = size_t{1} << 30;
    size_t fed = 0;
    text->resize(std::min(len, kInputPiece / 16) * 4 + 4096);  // a first guess; it doubles as needed
    size_t used = 0;
    for (;;) {
        if (z.avail_in == 0 && fed < len) {
            z.next_in = reinterpret_cast<Bytef *>(const_cast<char *>(bytes + fed));
            z.avail_in = static_cast<uInt>(std::min(len - fed, kInputPiece));
            fed += z.avail_in;
        }
        if (used == text->size()) text->resize(text->size() * 2);
        z.next_out = reinterpret_cast<Bytef *>(&(*text)[used]);
        z.avail_out = static_cast<uInt>(std::min<size_t>(text->size() - used, 1u << 30));
        const uInt before = z.avail_out;
        int rc = inflate(&z, Z_NO_FLUSH);
        used += before - z.avail_out;
        const bool input_left = z.avail_in > 0 || fed < len;
        if (rc == Z_STREAM_END) {
            if (!input_left) break;
            inflateReset(&z);  // another gzip member follows
            continue;
        }
        if (rc == Z_OK || (rc == Z_BUF_ERROR && input_left)) continue;
        *error = path + ": not valid gzip data (" +
                 (rc == Z_BUF_ERROR ? std::string("the file ends early") : std::string(z.msg ? z.msg : "zlib error")) + ")";
        inflateEnd(&z);
        return false;
    }
    inflateEnd(&z);
    text->resize(used);
    return true;
}

}  // namespace

std::string trace_file_name(const std::string &path) {
    std::string name = path.substr(path.find_last_of('/') + 1);
    auto drop_suffix = [&](const std::string &suffix) {
        const bool there = name.size() > suffix.size() &&
                           name.compare(name.size() - suffix.size(), std::string::npos, suffix) == 0;
        if (there) name.resize(name.size() - suffix.size());
        return there;
    };
    auto drop_number = [&]() {  // ".123" at the end: the digits, else ""
        const size_t dot = name.find_last_of('.');
        if (dot == std::string::npos || dot + 1 == name.size() ||
            name.find_first_not_of("0123456789", dot + 1) != std::string::npos)
            return std::string();
        std::string digits = name.substr(dot);
        name.resize(dot);
        return digits;
    };
    drop_suffix(".gz");
    if (drop_suffix(".trace")) return name;
    std::string numbers = drop_number();
    if (numbers.empty()) return "";
    if (drop_suffix(".trace")) return name + numbers;
    numbers = drop_number() + numbers;  // a second number, or nothing (and then no .trace is left)
    return drop_suffix(".trace") ? name + numbers : "";
}

char op_letter(OpKind kind) { return "acmrf"[static_cast<int>(kind)]; }

bool parse(const std::string &path, const char *text, size_t len, Trace *out, std::string *error) {
    Trace result;
    Parser parser(path, error);
    if (!parser.run(text, len, &result)) return false;
    result.path = path;
    result.name = trace_name(path);
    *out = std::move(result);
    return true;
}

bool load_bytes(const std::string &path, const char *bytes, size_t len, Trace *out,
                std::string *error) {
    if (len >= 2 && static_cast<unsigned char>(bytes[0]) == 0x1f &&
        static_cast<unsigned char>(bytes[1]) == 0x8b) {
        std::string text;
        std::string ignored;
        if (!gunzip(path, bytes, len, &text, error ? error : &ignored)) return false;
        return parse(path, text.data(), text.size(), out, error);
    }
    return parse(path, bytes, len, out, error);
}

bool load(const std::string &path, Trace *out, std::string *error) {
    std::string bytes;
    int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
    struct stat st;
    bool ok = fd >= 0 && fstat(fd, &st) == 0;
    if (ok) {
        bytes.resize(static_cast<size_t>(st.st_size));
        size_t got = 0;
        for (;;) {  // files that grow or lie about their size (pipes, /proc) still work
            if (got == bytes.size()) bytes.resize(bytes.size() * 2 + 65536);
            ssize_t n = read(fd, &bytes[got], bytes.size() - got);
            if (n < 0 && errno == EINTR) continue;
            if (n <= 0) {
                ok = n == 0;
                break;
            }
            got += static_cast<size_t>(n);
        }
        bytes.resize(got);
    }
    if (!ok) {
        if (error) *error = path + ": cannot read: " + strerror(errno);
        if (fd >= 0) close(fd);
        return false;
    }
    close(fd);
    return load_bytes(path, bytes.data(), bytes.size(), out, error);
}

}  // namespace trace
