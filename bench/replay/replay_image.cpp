#include "replay_image.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <vector>

#include "builder.h"
#include "bump.h"

namespace replay {

void truncate_trace(trace::Trace *t, uint64_t ops) {
    if (t->ops.size() <= ops) return;
    // The builder numbers slots the way the reader did (lowest free first), so
    // feeding it the prefix gives the same slots and the prefix's own facts.
    trace::Builder builder;
    for (uint64_t i = 0; i < ops; i++) {
        const trace::Op &op = t->ops[i];
        uint32_t slot = 0;
        if (op.kind == trace::OpKind::Free)
            builder.free(op.slot, op.thread);
        else if (op.kind == trace::OpKind::Realloc)
            builder.realloc(op.slot, op.size, op.thread);
        else
            builder.alloc(op.kind, op.size, op.arg, op.thread, &slot);
    }
    builder.finish(t);
}

uint64_t bump_reserve_bytes(const trace::Trace &t) {
    std::vector<uint64_t> size(t.facts.slot_count);
    uint64_t total = 0;
    auto add = [&total](uint64_t bytes) { total = bench::bump_add_bytes(total, bytes); };
    for (const trace::Op &op : t.ops) {
        switch (op.kind) {
        case trace::OpKind::Malloc:
        case trace::OpKind::Calloc:
            size[op.slot] = trace::requested_bytes(op);
            add(bench::bump_block_bytes(size[op.slot], 0));
            break;
        case trace::OpKind::Memalign:
            size[op.slot] = op.size;
            add(bench::bump_block_bytes(op.size, op.arg));
            break;
        case trace::OpKind::Realloc:
            if (op.size > size[op.slot]) add(bench::bump_block_bytes(op.size, 0));
            size[op.slot] = op.size;
            break;
        case trace::OpKind::Free:
            break;
        }
    }
    return total;
}

static bool write_all(int fd, const void *data, size_t bytes) {
    const char *p = static_cast<const char *>(data);
    while (bytes > 0) {
        ssize_t n = ::write(fd, p, bytes);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) return false;
        p += n;
        bytes -= static_cast<size_t>(n);
    }
    return true;
}

bool write_image(const trace::Trace &t, const std::string &path, std::string *error) {
    ImageHeader h{};
    std::memcpy(h.magic, kImageMagic, sizeof h.magic);
    h.ops = t.ops.size();
    h.slot_count = t.facts.slot_count;
    h.threads = t.facts.threads;
    h.max_thread = t.facts.max_thread;
    h.peak_live_bytes = t.facts.peak_live_bytes;
    h.peak_op = t.facts.peak_op;
    for (int k = 0; k < 5; k++) h.count[k] = t.facts.count[k];
    h.bump_reserve_bytes = bump_reserve_bytes(t);
    std::snprintf(h.name, sizeof h.name, "%s", t.name.c_str());

    std::vector<uint64_t> previous, thread_start, thread_ops;
    if (t.facts.threads > 1) {
        previous = trace::previous_op_on_slot(t);
        thread_start.push_back(0);
        for (const auto &ops : trace::ops_by_thread(t)) {
            thread_ops.insert(thread_ops.end(), ops.begin(), ops.end());
            thread_start.push_back(thread_ops.size());
        }
    }
    h.ops_offset = sizeof h;
    uint64_t end = h.ops_offset + h.ops * sizeof(trace::Op);
    if (!previous.empty()) {
        h.previous_offset = end;
        h.thread_start_offset = h.previous_offset + previous.size() * sizeof(uint64_t);
        h.thread_ops_offset = h.thread_start_offset + thread_start.size() * sizeof(uint64_t);
        end = h.thread_ops_offset + thread_ops.size() * sizeof(uint64_t);
    }
    h.file_bytes = end;

    int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    bool ok = fd >= 0 && write_all(fd, &h, sizeof h) &&
              write_all(fd, t.ops.data(), t.ops.size() * sizeof(trace::Op)) &&
              write_all(fd, previous.data(), previous.size() * sizeof(uint64_t)) &&
              write_all(fd, thread_start.data(), thread_start.size() * sizeof(uint64_t)) &&
              write_all(fd, thread_ops.data(), thread_ops.size() * sizeof(uint64_t));
    int saved = errno;
    if (fd >= 0 && ::close(fd) != 0 && ok) {
        ok = false;
        saved = errno;
    }
    if (!ok) *error = path + ": cannot write the replay image: " + std::strerror(saved);
    return ok;
}

Image::~Image() {
    if (base_) munmap(base_, length_);
}

bool Image::map(const std::string &path, std::string *error) {
    int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    struct stat st;
    if (fd < 0 || fstat(fd, &st) != 0) {
        *error = path + ": " + std::strerror(errno);
        if (fd >= 0) ::close(fd);
        return false;
    }
    length_ = static_cast<uint64_t>(st.st_size);
    if (length_ < sizeof(ImageHeader)) {
        ::close(fd);
        *error = path + ": not a replay image (too short)";
        return false;
    }
    // MAP_POPULATE: every page resident now, before any baseline is taken.
    base_ = mmap(nullptr, length_, PROT_READ, MAP_PRIVATE | MAP_POPULATE, fd, 0);
    ::close(fd);
    if (base_ == MAP_FAILED) {
        base_ = nullptr;
        *error = path + ": cannot map: " + std::strerror(errno);
        return false;
    }
    const char *bytes = static_cast<const char *>(base_);
    header_ = reinterpret_cast<const ImageHeader *>(bytes);
    if (std::memcmp(header_->magic, kImageMagic, sizeof kImageMagic) != 0 ||
        header_->file_bytes != length_) {
        *error = path + ": not a replay image of this version";
        return false;
    }
    ops_ = reinterpret_cast<const trace::Op *>(bytes + header_->ops_offset);
    if (header_->previous_offset) {
        previous_ = reinterpret_cast<const uint64_t *>(bytes + header_->previous_offset);
        thread_start_ = reinterpret_cast<const uint64_t *>(bytes + header_->thread_start_offset);
        thread_ops_ = reinterpret_cast<const uint64_t *>(bytes + header_->thread_ops_offset);
    }
    return true;
}

}  // namespace replay
