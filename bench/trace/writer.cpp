// writer.cpp: to_text(), write(), write_text(). The canonical form is the header,
// one op per line with its slot as the id, and a `t` line whenever the thread
// changes (thread 0 needs none at the start).
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include <cerrno>
#include <cstdio>
#include <cstring>

#include "trace.h"

namespace trace {
namespace {

char *put_u64(char *p, uint64_t v) {
    char digits[20];
    int n = 0;
    do {
        digits[n++] = static_cast<char>('0' + v % 10);
        v /= 10;
    } while (v);
    while (n) *p++ = digits[--n];
    return p;
}

bool ends_with(const std::string &s, const char *suffix) {
    size_t n = strlen(suffix);
    return s.size() >= n && s.compare(s.size() - n, n, suffix) == 0;
}

// gzip with zlib's own header: no file name, mtime 0, so equal text gives equal
// bytes.
bool gzip(const std::string &text, std::string *out) {
    z_stream z{};
    if (deflateInit2(&z, 9, Z_DEFLATED, 15 + 16, 9, Z_DEFAULT_STRATEGY) != Z_OK) return false;
    out->resize(deflateBound(&z, text.size()));
    z.next_in = reinterpret_cast<Bytef *>(const_cast<char *>(text.data()));
    z.avail_in = static_cast<uInt>(text.size());
    z.next_out = reinterpret_cast<Bytef *>(&(*out)[0]);
    z.avail_out = static_cast<uInt>(out->size());
    int rc = deflate(&z, Z_FINISH);
    out->resize(z.total_out);
    deflateEnd(&z);
    return rc == Z_STREAM_END;
}

}  // namespace

std::string to_text(const Trace &t) {
    std::string text;
    text.resize(16 + t.ops.size() * 64);  // longest op line: "m" + 3 * (1 + 20) + "\n"
    char *const begin = &text[0];
    char *p = begin;
    memcpy(p, "arena-trace 1\n", 14);
    p += 14;
    uint16_t thread = 0;
    for (const Op &op : t.ops) {
        if (op.thread != thread) {
            thread = op.thread;
            *p++ = 't';
            *p++ = ' ';
            p = put_u64(p, thread);
            *p++ = '\n';
        }
        *p++ = op_letter(op.kind);
        *p++ = ' ';
        p = put_u64(p, op.slot);
        if (op.kind == OpKind::Calloc || op.kind == OpKind::Memalign) {
            *p++ = ' ';
            p = put_u64(p, op.arg);
        }
        if (op.kind != OpKind::Free) {
            *p++ = ' ';
            p = put_u64(p, op.size);
        }
        *p++ = '\n';
    }
    text.resize(static_cast<size_t>(p - begin));
    return text;
}

bool write_text(const std::string &path, const std::string &text, bool compress, std::string *error) {
    std::string packed;
    const std::string *bytes = &text;
    if (compress) {
        if (text.size() >= (1ull << 32) || !gzip(text, &packed)) {
            if (error) *error = path + ": cannot compress";
            return false;
        }
        bytes = &packed;
    }
    FILE *f = fopen(path.c_str(), "wb");
    bool ok = f && fwrite(bytes->data(), 1, bytes->size(), f) == bytes->size();
    int saved = errno;
    struct stat st;
    const bool regular_file = f && fstat(fileno(f), &st) == 0 && S_ISREG(st.st_mode);
    if (f && fclose(f) != 0 && ok) {
        ok = false;
        saved = errno;
    }
    if (!ok) {
        // A plain trace cut short at a line end reads as a valid, shorter
        // trace: a file that was not written whole is removed (a device such
        // as /dev/full is left alone).
        if (regular_file) unlink(path.c_str());
        if (error) *error = path + ": cannot write: " + strerror(saved);
    }
    return ok;
}

bool write_text(const std::string &path, const std::string &text, std::string *error) {
    return write_text(path, text, ends_with(path, ".gz"), error);
}

bool write(const std::string &path, const Trace &t, std::string *error) {
    return write_text(path, to_text(t), error);
}

}  // namespace trace
