// memory.h: what the operating system says about this process's memory.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

namespace bench {

// Anonymous resident bytes of this process from /proc/self/statm (one pread
// on a file opened once, so sampling allocates nothing). Heaps are anonymous
// memory; file-backed pages are not counted, so the code of an allocator
// first run during a replay (an explicit arena's, unlike a process malloc's,
// which ran before) is not taken for heap memory.
class ResidentReader {
public:
    ResidentReader();
    ~ResidentReader();
    ResidentReader(const ResidentReader &) = delete;
    ResidentReader &operator=(const ResidentReader &) = delete;
    bool ok() const { return fd_ >= 0; }
    uint64_t anonymous_bytes() const;  // 0 when it cannot be read

private:
    int fd_;
    uint64_t page_size_;
};

// Minor page faults of this process so far (every thread).
uint64_t minor_faults();

// Writes a zero into every page of [p, p + bytes) (writable, already zero):
// memory really backed before anything is timed. MAP_POPULATE alone is not
// that on every VM: on a Firecracker guest of this kind it maps the pages in
// the guest only, and the first access to each (a read as well) still costs
// 5-7 us under a fault the host takes and getrusage does not count.
void prefault_pages(void *p, size_t bytes);

// An array of T mapped straight from the OS and faulted in now: the replay's
// own bookkeeping stays out of the allocator under test and out of the
// resident-memory rise measured during the replay.
class MappedBytes {
public:
    MappedBytes() = default;
    ~MappedBytes();
    MappedBytes(const MappedBytes &) = delete;
    MappedBytes &operator=(const MappedBytes &) = delete;
    bool allocate(size_t bytes, std::string *error);
    void *data() const { return data_; }

private:
    void *data_ = nullptr;
    size_t bytes_ = 0;
};

template <class T>
class MappedArray {
public:
    bool allocate(size_t count, std::string *error) {
        return bytes_.allocate((count ? count : 1) * sizeof(T), error);
    }
    T *data() const { return static_cast<T *>(bytes_.data()); }
    T &operator[](size_t i) const { return data()[i]; }

private:
    MappedBytes bytes_;
};

}  // namespace bench
