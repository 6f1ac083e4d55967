// The reader: one failing test per rule of docs/trace-format.md, each checking
// the line it reports and the words that say what is wrong; then what loads,
// the facts it computes, gzip and the writer.
#include <sys/mman.h>

#include <cstring>

#include "trace_test_util.h"

using trace_test::parse_error;

namespace {

struct BadTrace {
    const char *rule;
    const char *text;
    const char *where;  // "t.trace:LINE: "
    const char *says;   // part of what follows
};

const BadTrace kBadTraces[] = {
    {"empty file", "", "t.trace:1: ", "missing header"},
    {"only comments", "# a\n\n# b\n", "t.trace:3: ", "missing header"},
    {"no header", "a 1 10\n", "t.trace:1: ", "missing header: the first line must be 'arena-trace 1', found 'a'"},
    {"header after comment", "# c\narena-trace\n", "t.trace:2: ", "lacks its version"},
    {"unsupported version", "arena-trace 2\na 1 1\n", "t.trace:1: ", "unsupported version '2'"},
    {"version not a number", "arena-trace one\n", "t.trace:1: ", "unsupported version 'one'"},
    {"header extra field", "arena-trace 1 x\n", "t.trace:1: ", "extra field 'x' after the header"},
    {"unknown op", "arena-trace 1\na 1 1\nx 1 1\n", "t.trace:3: ", "unknown op 'x'"},
    {"op of two letters", "arena-trace 1\naa 1 1\n", "t.trace:2: ", "unknown op 'aa'"},
    {"missing field a", "arena-trace 1\na 1\n", "t.trace:2: ", "missing field SIZE: 'a' takes a ID SIZE"},
    {"missing field c", "arena-trace 1\nc 1 2\n", "t.trace:2: ", "missing field SIZE: 'c' takes c ID N SIZE"},
    {"missing field m", "arena-trace 1\nm 1\n", "t.trace:2: ", "missing field ALIGN"},
    {"missing field f", "arena-trace 1\nf\n", "t.trace:2: ", "missing field ID"},
    {"missing field t", "arena-trace 1\nt\n", "t.trace:2: ", "missing field THREAD"},
    {"extra field a", "arena-trace 1\na 1 2 3\n", "t.trace:2: ", "extra field '3': 'a' takes a ID SIZE"},
    {"extra field f", "arena-trace 1\na 1 2\nf 1 2\n", "t.trace:3: ", "extra field '2'"},
    {"extra field t", "arena-trace 1\nt 1 2\n", "t.trace:2: ", "extra field '2': 't' takes t THREAD"},
    {"trailing comment", "arena-trace 1\na 1 2 # note\n", "t.trace:2: ", "extra field '#'"},
    {"non-number id", "arena-trace 1\na x1 2\n", "t.trace:2: ", "ID 'x1' is not an unsigned decimal number"},
    {"negative size", "arena-trace 1\na 1 -2\n", "t.trace:2: ", "SIZE '-2' is not an unsigned decimal number"},
    {"trailing garbage", "arena-trace 1\na 1 24x\n", "t.trace:2: ", "SIZE '24x' is not"},
    {"hex number", "arena-trace 1\na 0x10 2\n", "t.trace:2: ", "ID '0x10' is not"},
    {"lone carriage return", "arena-trace 1\na 1 2\r3\n", "t.trace:2: ", "SIZE '2\\x0d3' is not"},
    {"id out of range", "arena-trace 1\na 18446744073709551616 1\n", "t.trace:2: ",
     "ID '18446744073709551616' is out of range"},
    {"size out of range", "arena-trace 1\na 1 99999999999999999999\n", "t.trace:2: ",
     "SIZE '99999999999999999999' is out of range"},
    {"thread out of range", "arena-trace 1\nt 1024\n", "t.trace:2: ", "thread id 1024 is out of range (0..1023)"},
    {"thread out of 64 bits", "arena-trace 1\nt 99999999999999999999\n", "t.trace:2: ",
     "THREAD '99999999999999999999' is out of range (largest is 1023)"},
    {"thread not a number", "arena-trace 1\nt one\n", "t.trace:2: ", "THREAD 'one' is not"},
    {"alloc of live id", "arena-trace 1\na 7 1\n\nc 7 1 1\n", "t.trace:4: ",
     "'c 7': id 7 is already live (allocated at line 2)"},
    {"memalign of live id", "arena-trace 1\na 7 1\nm 7 16 1\n", "t.trace:3: ", "id 7 is already live"},
    {"free of unknown id", "arena-trace 1\na 1 1\nf 2\n", "t.trace:3: ", "'f 2': id 2 is not live"},
    {"double free", "arena-trace 1\na 1 1\nf 1\nf 1\n", "t.trace:4: ", "'f 1': id 1 is not live"},
    {"realloc of dead id", "arena-trace 1\nr 5 10\n", "t.trace:2: ", "'r 5': id 5 is not live"},
    {"realloc to zero", "arena-trace 1\na 5 1\nr 5 0\n", "t.trace:3: ", "'r 5 0': realloc to size 0 is not allowed"},
    {"second header", "arena-trace 1\na 5 1\narena-trace 1\n", "t.trace:3: ",
     "a second header: 'arena-trace 1' is the first line alone"},
    {"alignment zero", "arena-trace 1\nm 1 0 8\n", "t.trace:2: ", "ALIGN 0 is not a power of two"},
    {"alignment not a power of two", "arena-trace 1\nm 1 48 8\n", "t.trace:2: ", "ALIGN 48 is not a power of two"},
    {"calloc overflow", "arena-trace 1\nc 1 4294967296 4294967296\n", "t.trace:2: ", "overflows 64 bits"},
    {"live bytes overflow", "arena-trace 1\na 1 9223372036854775807\na 2 9223372036854775807\na 3 2\n",
     "t.trace:4: ", "live bytes exceed"},
    {"live bytes overflow by realloc",
     "arena-trace 1\na 1 9223372036854775807\na 2 9223372036854775807\na 3 0\nr 3 2\n", "t.trace:5: ",
     "live bytes exceed"},
    {"live bytes overflow by calloc", "arena-trace 1\na 1 9223372036854775807\na 2 9223372036854775807\nc 3 2 1\n",
     "t.trace:4: ", "live bytes exceed"},
    {"size past PTRDIFF_MAX", "arena-trace 1\na 1 9223372036854775808\n", "t.trace:2: ",
     "'a 1': SIZE 9223372036854775808 is more than any allocation can have (at most 9223372036854775807, PTRDIFF_MAX)"},
    {"realloc past PTRDIFF_MAX", "arena-trace 1\na 1 8\nr 1 18446744073709551615\n", "t.trace:3: ",
     "'r 1': SIZE 18446744073709551615 is more than any allocation can have"},
    {"calloc past PTRDIFF_MAX", "arena-trace 1\nc 1 2 4611686018427387904\n", "t.trace:2: ",
     "'c 1': N*SIZE 9223372036854775808 is more than any allocation can have"},
    {"memalign past PTRDIFF_MAX", "arena-trace 1\nm 1 16 9223372036854775808\n", "t.trace:2: ",
     "'m 1': SIZE 9223372036854775808 is more than"},
    {"alignment past PTRDIFF_MAX", "arena-trace 1\nm 1 9223372036854775808 8\n", "t.trace:2: ",
     "'m 1': ALIGN 9223372036854775808 is more than"},
    {"malloc of live id", "arena-trace 1\na 7 1\na 7 2\n", "t.trace:3: ", "'a 7': id 7 is already live"},
    {"realloc of freed id", "arena-trace 1\na 7 1\nf 7\nr 7 2\n", "t.trace:4: ", "'r 7': id 7 is not live"},
    {"control character", "arena-trace 1\na 1\x01 2\n", "t.trace:2: ", "ID '1\\x01' is not"},
    {"missing field r", "arena-trace 1\na 1 1\nr 1\n", "t.trace:3: ", "missing field SIZE: 'r' takes r ID SIZE"},
    {"missing size m", "arena-trace 1\nm 1 16\n", "t.trace:2: ", "missing field SIZE: 'm' takes m ID ALIGN SIZE"},
    {"extra field c", "arena-trace 1\nc 1 2 3 4\n", "t.trace:2: ", "extra field '4': 'c' takes c ID N SIZE"},
    {"extra field m", "arena-trace 1\nm 1 16 8 9\n", "t.trace:2: ", "extra field '9': 'm' takes m ID ALIGN SIZE"},
    {"extra field r", "arena-trace 1\na 1 1\nr 1 2 3\n", "t.trace:3: ", "extra field '3': 'r' takes r ID SIZE"},
    {"live bytes overflow by memalign",
     "arena-trace 1\na 1 9223372036854775807\na 2 9223372036854775807\nm 3 16 2\n", "t.trace:4: ",
     "live bytes exceed 2^64-1"},
    {"leading plus", "arena-trace 1\na +5 1\n", "t.trace:2: ", "ID '+5' is not an unsigned decimal number"},
    {"hex count", "arena-trace 1\nc 1 0x2 3\n", "t.trace:2: ", "N '0x2' is not an unsigned decimal number"},
    {"error on last line", "arena-trace 1\na 1 1\na 2 2\nf 3", "t.trace:4: ", "id 3 is not live"},
};

class BadTraceTest : public testing::TestWithParam<BadTrace> {};

TEST_P(BadTraceTest, RejectedAtItsLine) {
    const BadTrace &bad = GetParam();
    trace::Trace out;
    out.ops.resize(3);  // whatever was there stays: nothing of a bad trace comes back
    const std::string error = parse_error(bad.text, &out);
    EXPECT_EQ(error.rfind(bad.where, 0), 0u) << bad.rule << ": " << error;
    EXPECT_NE(error.find(bad.says), std::string::npos) << bad.rule << ": " << error;
    EXPECT_EQ(out.ops.size(), 3u) << bad.rule;
}

std::string test_name(const testing::TestParamInfo<BadTrace> &info) {
    std::string name;
    for (const char *p = info.param.rule; *p; p++) name += isalnum(static_cast<unsigned char>(*p)) ? *p : '_';
    return name;
}

INSTANTIATE_TEST_SUITE_P(Rules, BadTraceTest, testing::ValuesIn(kBadTraces), test_name);

// A NUL byte is no field separator or end: it is shown, at its line, in the
// field or op it sits in (the table's C strings cannot hold one).
TEST(Reader, ANulByteIsRejectedAtItsLine) {
    const std::pair<std::string, std::string> cases[] = {
        {std::string("arena-trace 1\na 5\0" "2 1\n", 22), "t.trace:2: ID '5\\x002' is not an unsigned decimal number"},
        {std::string("arena-trace 1\na 1 1\n\0\n", 22), "t.trace:3: unknown op '\\x00'"},
    };
    for (const auto &[text, says] : cases) {
        trace::Trace out;
        const std::string error = parse_error(text, &out);
        EXPECT_EQ(error.rfind(says, 0), 0u) << error;
        EXPECT_TRUE(out.ops.empty());
    }
}

TEST(Reader, AcceptsWhatTheFormatAllows) {
    trace::Trace t;
    const std::string text =
        "# comment before the header\n\n"
        "arena-trace 1\n"
        "  # indented comment\n"
        "a 17 24\r\n"                  // CRLF
        "c\t18  4   32\n"              // tabs and runs of blanks
        "m 19 64 100\n"
        "r 17 48\n"
        "f 18\n"
        "a 18446744073709551615 0\n"   // largest id, malloc(0)
        "t 1\n"
        "f 17\n"
        "t 1023\n"
        "a 17 9223372036854775807\n"   // PTRDIFF_MAX: huge sizes are fine while the sum fits
        "f 19";                         // no final newline
    ASSERT_EQ(parse_error(text, &t), "");
    ASSERT_EQ(t.ops.size(), 9u);
    EXPECT_EQ(t.name, "t");
    EXPECT_EQ(t.ops[1].kind, trace::OpKind::Calloc);
    EXPECT_EQ(t.ops[1].arg, 4u);
    EXPECT_EQ(t.ops[1].size, 32u);
    EXPECT_EQ(t.ops[2].arg, 64u);
    EXPECT_EQ(t.ops[5].thread, 0u);
    EXPECT_EQ(t.ops[6].thread, 1u);
    EXPECT_EQ(t.ops[7].thread, 1023u);
    EXPECT_EQ(t.facts.threads, 3u);
    EXPECT_EQ(t.facts.max_thread, 1023u);
}

// Each number field at the largest value the rules allow: ids 2^64-1, ALIGN
// 2^62 (the largest power of two up to PTRDIFF_MAX), a calloc whose N*SIZE is
// exactly PTRDIFF_MAX (one more byte is no allocation's size), and a sum of
// live bytes of exactly 2^64-1 (one more would overflow).
TEST(Reader, LargestValuesEachFieldTakes) {
    trace::Trace t;
    ASSERT_EQ(parse_error("arena-trace 1\n"
                          "m 18446744073709551615 4611686018427387904 0\n"
                          "f 18446744073709551615\n"
                          "c 1 7 1317624576693539401\n"
                          "c 2 1 9223372036854775807\n"
                          "a 3 0\n"
                          "r 3 1\n",
                          &t),
              "");
    EXPECT_EQ(t.ops[0].arg, 1ull << 62);
    EXPECT_EQ(trace::requested_bytes(t.ops[2]), uint64_t{PTRDIFF_MAX});
    EXPECT_EQ(t.facts.peak_live_bytes, UINT64_MAX);
    EXPECT_EQ(t.facts.final_live_bytes, UINT64_MAX);
    EXPECT_EQ(t.facts.size_hist[63], 2u);
}

// CRLF throughout, including the header, blank lines and comments; and a last
// line that ends in a lone '\r' (its '\n' lost) reads as if the '\n' were there.
TEST(Reader, CrlfEverywhereAndACarriageReturnAtTheEnd) {
    trace::Trace t;
    ASSERT_EQ(parse_error("# made on Windows\r\n\r\narena-trace 1\r\na 1 8\r\n\t\r\nr 1 9\r\nf 1\r", &t), "");
    EXPECT_EQ(t.ops.size(), 3u);
    EXPECT_EQ(t.ops[1].size, 9u);
}

TEST(Reader, SlotsAreDenseAndLowestFreeFirst) {
    trace::Trace t;
    ASSERT_EQ(parse_error("arena-trace 1\na 900 1\na 5 1\na 77 1\nf 5\nf 900\na 3 1\na 4 1\n", &t), "");
    const uint32_t expected[] = {0, 1, 2, 1, 0, 0, 1};
    for (size_t i = 0; i < t.ops.size(); i++) EXPECT_EQ(t.ops[i].slot, expected[i]) << i;
    EXPECT_EQ(t.facts.slot_count, 3u);
}

TEST(Reader, IdIsFreeAgainAfterFree) {
    EXPECT_EQ(parse_error("arena-trace 1\na 1 1\nf 1\nm 1 8 1\nf 1\n"), "");
}

TEST(Reader, Facts) {
    trace::Trace t;
    ASSERT_EQ(parse_error("arena-trace 1\n"
                          "a 1 100\n"      // 100
                          "c 2 3 100\n"    // 400
                          "r 1 50\n"       // 350
                          "m 3 16 1000\n"  // 1350: the peak, after op 3
                          "f 3\n"          // 350
                          "t 2\n"
                          "a 4 0\n"        // 350, 3 blocks
                          "f 2\n",         // 50
                          &t),
              "");
    const trace::Facts &f = t.facts;
    EXPECT_EQ(f.ops, 7u);
    EXPECT_EQ(f.count[0], 2u);
    EXPECT_EQ(f.count[1], 1u);
    EXPECT_EQ(f.count[2], 1u);
    EXPECT_EQ(f.count[3], 1u);
    EXPECT_EQ(f.count[4], 2u);
    EXPECT_EQ(f.peak_live_bytes, 1350u);
    EXPECT_EQ(f.peak_op, 3u);
    EXPECT_EQ(f.peak_live_blocks, 3u);
    EXPECT_EQ(f.final_live_blocks, 2u);
    EXPECT_EQ(f.final_live_bytes, 50u);
    EXPECT_EQ(f.threads, 2u);
    EXPECT_EQ(f.max_thread, 2u);
    EXPECT_EQ(f.size_hist[0], 1u);   // a 4 0
    EXPECT_EQ(f.size_hist[6], 1u);   // 50
    EXPECT_EQ(f.size_hist[7], 1u);   // 100
    EXPECT_EQ(f.size_hist[9], 1u);   // calloc: 300
    EXPECT_EQ(f.size_hist[10], 1u);  // 1000
    const trace::Lifetimes life = trace::lifetimes(t);
    EXPECT_EQ(life.hist[1], 1u);  // m 3 .. f 3: 1 op
    EXPECT_EQ(life.hist[3], 1u);  // c 2 .. f 2: 5 ops
    EXPECT_EQ(life.never_freed, 2u);
}

TEST(Reader, ThreadHelpers) {
    trace::Trace t;
    ASSERT_EQ(parse_error("arena-trace 1\na 1 8\nt 3\nr 1 16\nf 1\nt 0\na 2 8\n", &t), "");
    const std::vector<uint64_t> previous = trace::previous_op_on_slot(t);
    EXPECT_EQ(previous, (std::vector<uint64_t>{trace::kNoOp, 0, 1, 2}));  // slot 0 reused by op 3
    const auto by_thread = trace::ops_by_thread(t);
    ASSERT_EQ(by_thread.size(), 4u);
    EXPECT_EQ(by_thread[0], (std::vector<uint64_t>{0, 3}));
    EXPECT_EQ(by_thread[3], (std::vector<uint64_t>{1, 2}));
    EXPECT_EQ(trace::cross_thread_frees(t), 1u);
}

TEST(Reader, GzipFileWithErrorReportsItsLine) {
    trace_test::TempDir dir;
    std::string error;
    ASSERT_TRUE(trace::write_text(dir / "bad.trace.gz", "arena-trace 1\na 1 1\n\nf 2\n", &error)) << error;
    EXPECT_NE(trace_test::read_file(dir / "bad.trace.gz").substr(0, 2), "ar");  // really compressed
    trace::Trace t;
    EXPECT_FALSE(trace::load(dir / "bad.trace.gz", &t, &error));
    EXPECT_EQ(error, dir / "bad.trace.gz:4: 'f 2': id 2 is not live");
    EXPECT_TRUE(t.ops.empty());
}

TEST(Reader, GzipDetectedFromContentAndMembersConcatenated) {
    trace_test::TempDir dir;
    std::string error;
    ASSERT_TRUE(trace::write_text(dir / "one.gz", "arena-trace 1\na 1 5\n", &error));
    ASSERT_TRUE(trace::write_text(dir / "two.gz", "f 1\n", &error));
    trace_test::write_file(dir / "both.trace",
                           trace_test::read_file(dir / "one.gz") + trace_test::read_file(dir / "two.gz"));
    trace::Trace t;
    ASSERT_TRUE(trace::load(dir / "both.trace", &t, &error)) << error;
    EXPECT_EQ(t.ops.size(), 2u);
}

TEST(Reader, TruncatedGzipIsAnError) {
    trace_test::TempDir dir;
    std::string error;
    ASSERT_TRUE(trace::write_text(dir / "x.trace.gz", "arena-trace 1\na 1 5\nf 1\n", &error));
    const std::string bytes = trace_test::read_file(dir / "x.trace.gz");
    trace_test::write_file(dir / "cut.trace.gz", bytes.substr(0, bytes.size() - 6));
    trace::Trace t;
    EXPECT_FALSE(trace::load(dir / "cut.trace.gz", &t, &error));
    EXPECT_NE(error.find("cut.trace.gz: not valid gzip data"), std::string::npos) << error;
}

// zlib counts input in 32 bits. A gzip member followed by 4 GiB of bytes that
// are not gzip is damaged, not a trace of that member alone. (The 4 GiB are
// untouched anonymous memory: no RAM is used for them.)
TEST(Reader, GzipInputPastFourGiBIsReadToItsEnd) {
    trace_test::TempDir dir;
    std::string error;
    ASSERT_TRUE(trace::write_text(dir / "m.gz", "arena-trace 1\na 1 5\n", &error)) << error;
    const std::string member = trace_test::read_file(dir / "m.gz");
    const size_t len = (size_t{1} << 32) + member.size();
    void *bytes = mmap(nullptr, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (bytes == MAP_FAILED) GTEST_SKIP() << "no 4 GiB of address space here";
    memcpy(bytes, member.data(), member.size());
    trace::Trace t;
    EXPECT_FALSE(trace::load_bytes("big.trace.gz", static_cast<const char *>(bytes), len, &t, &error))
        << "read as a trace of " << t.ops.size() << " ops";
    EXPECT_EQ(error.rfind("big.trace.gz: not valid gzip data", 0), 0u) << error;
    munmap(bytes, len);
}

TEST(Reader, MissingFile) {
    trace::Trace t;
    std::string error;
    EXPECT_FALSE(trace::load("/nonexistent/x.trace", &t, &error));
    EXPECT_EQ(error, "/nonexistent/x.trace: cannot read: No such file or directory");
}

TEST(Writer, CanonicalText) {
    trace::Trace t;
    ASSERT_EQ(parse_error("arena-trace 1\n# c\nt 2\na 50 8\nc 60 2 4\nt 0\nm 70 32 9\nr 50 16\nf 60\n", &t), "");
    EXPECT_EQ(trace::to_text(t), "arena-trace 1\nt 2\na 0 8\nc 1 2 4\nt 0\nm 2 32 9\nr 0 16\nf 1\n");
}

TEST(Writer, GzipIsDeterministicAndReadsBack) {
    trace_test::TempDir dir;
    trace::Trace t, back;
    ASSERT_EQ(parse_error("arena-trace 1\na 1 8\nt 1\nf 1\n", &t), "");
    std::string error;
    ASSERT_TRUE(trace::write(dir / "a.trace.gz", t, &error)) << error;
    sleep(1);  // a gzip header with a time stamp would now differ
    ASSERT_TRUE(trace::write(dir / "b.trace.gz", t, &error)) << error;
    EXPECT_EQ(trace_test::read_file(dir / "a.trace.gz"), trace_test::read_file(dir / "b.trace.gz"));
    ASSERT_TRUE(trace::load(dir / "a.trace.gz", &back, &error)) << error;
    EXPECT_EQ(trace::to_text(back), trace::to_text(t));
    EXPECT_EQ(back.name, "a");
}

TEST(Writer, UnwritablePath) {
    trace::Trace t;
    std::string error;
    EXPECT_FALSE(trace::write("/nonexistent/dir/x.trace", t, &error));
    EXPECT_EQ(error.rfind("/nonexistent/dir/x.trace: cannot write", 0), 0u) << error;
}

// A record of several processes writes x.trace and x.trace.PID[.N][.gz]: all
// are traces a directory holds, named x, x.PID and x.PID.N; other files are not.
TEST(Reader, TraceFileNamesTakeRecordsChildren) {
    const std::pair<const char *, const char *> names[] = {
        {"/d/x.trace", "x"},           {"x.trace.gz", "x"},         {"x.trace.1234", "x.1234"},
        {"x.trace.1234.2", "x.1234.2"}, {"x.trace.1234.gz", "x.1234"}, {"a.b.trace.77.3.gz", "a.b.77.3"},
        {"x.trace.tmp.12", ""},        {"x.trace.1.2.3", ""},       {"x.trace.", ""},
        {"x.gz", ""},                  {"x.1234", ""},              {"x.trace.12a", ""},
        {".trace", ""},                {"x.files.tmp", ""},
    };
    for (const auto &[path, name] : names) EXPECT_EQ(trace::trace_file_name(path), name) << path;
}

}  // namespace
