// csv.h: the tidy result files: `# key: value` facts, a header, one row per
// measurement; numbers in full precision, an empty field for "not measured".
// tools/resultcsv.py reads them.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "facts.h"

namespace bench {

// One row: column name -> field text. Columns a row lacks stay empty.
class CsvRow {
public:
    void set(const std::string &column, const std::string &text) { fields_[column] = text; }
    void set(const std::string &column, uint64_t value) { fields_[column] = std::to_string(value); }
    void set(const std::string &column, double value);  // empty when not finite
    std::string get(const std::string &column) const;
    bool has(const std::string &column) const { return fields_.count(column) != 0; }

private:
    std::map<std::string, std::string> fields_;
};

// A number with all the digits a double has (17 significant).
std::string full_precision(double value);

// The file's text: facts, header and rows.
std::string csv_text(const Facts &facts, const std::vector<std::string> &columns, const std::vector<CsvRow> &rows);

// Output files written whole or not at all: each is staged in a temporary file
// beside its path and renamed over it only by commit, once every file of the
// run is written; one that fails (a full disk, a file size limit) leaves every
// path as it was, and the destructor removes what was staged. Text for "-"
// goes to stdout at commit, and text for a path that is no regular file (a
// device, a pipe) to it then, checked (a full pipe or /dev/full is an error).
class OutputFiles {
public:
    OutputFiles() = default;
    OutputFiles(const OutputFiles &) = delete;
    OutputFiles &operator=(const OutputFiles &) = delete;
    ~OutputFiles();
    // False with *error set ("PATH: cannot write: REASON").
    bool stage(const std::string &path, const std::string &text, std::string *error);
    bool commit(std::string *error);

private:
    struct Staged {
        std::string path, temporary;  // the file and, for a regular one, where it is staged
        bool direct = false;          // a device or a pipe: written at commit, from text
        std::string text;
    };
    std::vector<Staged> staged_;
    std::string stdout_text_;
};

// csv_text written to path ("-" = stdout) as OutputFiles writes. False with *error set.
bool write_csv(const std::string &path, const Facts &facts, const std::vector<std::string> &columns,
               const std::vector<CsvRow> &rows, std::string *error);

// Where the JSON beside a CSV goes: the same path with .json for its extension;
// none ("") for a CSV on stdout.
std::string json_beside(const std::string &csv_path);

// The JSON file of a run: --json's path, else json_beside the CSV. "-" is a
// UsageError: stdout is for the CSV or the summary, not both with the JSON.
std::string json_output(const std::string &csv_path, const std::string &json_path);

// True when each of paths (empty and "-" skipped) can be written and no two
// name one file, checked before a run so that an unwritable output stops it
// before its measurements, not after. An existing file is left as it is, a new
// one not left behind. False with *error set ("PATH: cannot write: REASON").
bool outputs_writable(const std::vector<std::string> &paths, std::string *error);

// Joins Google Benchmark JSON files (one per child) into one (*merged): the
// context of the first, the "benchmarks" entries of all in order (of a file cut
// short by a child that died, its whole entries). False with *error set.
bool merge_benchmark_json(const std::vector<std::string> &inputs, std::string *merged, std::string *error);

}  // namespace bench
