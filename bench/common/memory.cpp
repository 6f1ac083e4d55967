#include "memory.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>

namespace bench {

ResidentReader::ResidentReader()
    : fd_(::open("/proc/self/statm", O_RDONLY | O_CLOEXEC)),
      page_size_(static_cast<uint64_t>(sysconf(_SC_PAGESIZE))) {}

ResidentReader::~ResidentReader() {
    if (fd_ >= 0) ::close(fd_);
}

uint64_t ResidentReader::anonymous_bytes() const {
    char text[128];
    ssize_t n = fd_ >= 0 ? pread(fd_, text, sizeof text - 1, 0) : -1;
    if (n <= 0) return 0;
    text[n] = '\0';
    // statm: size resident shared text lib data dt, in pages; "shared" counts
    // the file-backed (and shmem) resident pages, the rest are anonymous.
    char *end = nullptr;
    std::strtoull(text, &end, 10);
    const uint64_t resident = std::strtoull(end, &end, 10);
    const uint64_t file_backed = std::strtoull(end, nullptr, 10);
    return (resident > file_backed ? resident - file_backed : 0) * page_size_;
}

uint64_t minor_faults() {
    struct rusage usage;
    getrusage(RUSAGE_SELF, &usage);
    return static_cast<uint64_t>(usage.ru_minflt);
}

void prefault_pages(void *p, size_t bytes) {
    const size_t page = static_cast<size_t>(sysconf(_SC_PAGESIZE));
    volatile char *bytes_at = static_cast<volatile char *>(p);
    for (size_t at = 0; at < bytes; at += page) bytes_at[at] = 0;
}

MappedBytes::~MappedBytes() {
    if (data_) munmap(data_, bytes_);
}

bool MappedBytes::allocate(size_t bytes, std::string *error) {
    void *p = mmap(nullptr, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED) {
        *error = "cannot map " + std::to_string(bytes) + " bytes for the replay's tables: " +
                 std::strerror(errno);
        return false;
    }
    prefault_pages(p, bytes);
    data_ = p;
    bytes_ = bytes;
    return true;
}

}  // namespace bench
