// Helpers shared by the trace tests.
#pragma once

#include <gtest/gtest.h>
#include <stdlib.h>
#include <unistd.h>

#include <fstream>
#include <sstream>
#include <string>

#include "trace.h"

namespace trace_test {

// A fresh directory under /tmp, removed with everything in it at the end.
class TempDir {
public:
    TempDir() {
        char name[] = "/tmp/arena-trace-test.XXXXXX";
        path_ = mkdtemp(name) ? name : "";
    }
    ~TempDir() {
        if (!path_.empty()) (void)!system(("rm -rf '" + path_ + "'").c_str());
    }
    std::string operator/(const std::string &file) const { return path_ + "/" + file; }
    const std::string &path() const { return path_; }

private:
    std::string path_;
};

inline std::string read_file(const std::string &path) {
    std::ifstream in(path, std::ios::binary);
    std::ostringstream s;
    s << in.rdbuf();
    return s.str();
}

inline void write_file(const std::string &path, const std::string &bytes) {
    std::ofstream(path, std::ios::binary) << bytes;
}

// parse() of text named "t.trace": the error, or "" when it loads.
inline std::string parse_error(const std::string &text, trace::Trace *out = nullptr) {
    trace::Trace scratch;
    std::string error;
    return trace::parse("t.trace", text.data(), text.size(), out ? out : &scratch, &error) ? "" : error;
}

}  // namespace trace_test
