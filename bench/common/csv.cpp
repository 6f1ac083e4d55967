#include "csv.h"

#include <unistd.h>

#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <iostream>
#include <sstream>

#include "cli.h"

namespace bench {

std::string full_precision(double value) {
    if (!std::isfinite(value)) return "";
    char text[64];
    std::snprintf(text, sizeof text, "%.17g", value);
    return text;
}

void CsvRow::set(const std::string &column, double value) { fields_[column] = full_precision(value); }

std::string CsvRow::get(const std::string &column) const {
    auto it = fields_.find(column);
    return it == fields_.end() ? "" : it->second;
}

static std::string csv_field(const std::string &text) {
    if (text.find_first_of(",\"\n\r") == std::string::npos) return text;
    std::string quoted = "\"";
    for (char c : text) quoted += c == '"' ? std::string("\"\"") : std::string(1, c);
    return quoted + "\"";
}

bool write_csv(const std::string &path, const Facts &facts, const std::vector<std::string> &columns,
               const std::vector<CsvRow> &rows, std::string *error) {
    std::ostringstream out;
    for (const auto &fact : facts) {
        std::string value = fact.second;
        for (char &c : value)
            if (c == '\n' || c == '\r') c = ' ';
        out << "# " << fact.first << ": " << value << "\n";
    }
    for (size_t i = 0; i < columns.size(); i++) out << (i ? "," : "") << columns[i];
    out << "\n";
    for (const CsvRow &row : rows) {
        for (size_t i = 0; i < columns.size(); i++) out << (i ? "," : "") << csv_field(row.get(columns[i]));
        out << "\n";
    }
    if (path == "-") {
        std::cout << out.str() << std::flush;
        return true;
    }
    std::ofstream file(path, std::ios::binary | std::ios::trunc);
    file << out.str();
    file.close();
    if (!file) {
        *error = path + ": cannot write: " + std::strerror(errno);
        return false;
    }
    return true;
}

std::string json_beside(const std::string &csv_path) {
    if (csv_path == "-") return "";  // CSV on stdout: no JSON unless --json names a file
    std::string path = csv_path;
    const size_t dot = path.rfind('.');
    if (dot != std::string::npos && path.find('/', dot) == std::string::npos) path.resize(dot);
    return path + ".json";
}

std::string json_output(const std::string &csv_path, const std::string &json_path) {
    if (json_path == "-") throw UsageError("--json takes a file, not '-' (--csv=- puts the CSV on stdout)");
    if (!json_path.empty()) return json_path;
    return csv_path.empty() ? "" : json_beside(csv_path);
}

bool outputs_writable(const std::vector<std::string> &paths, std::string *error) {
    for (const std::string &path : paths) {
        if (path.empty() || path == "-") continue;
        const bool existed = access(path.c_str(), F_OK) == 0;
        FILE *probe = std::fopen(path.c_str(), "a");  // "a": an existing file keeps its bytes
        if (!probe) {
            *error = path + ": cannot write: " + std::strerror(errno);
            return false;
        }
        std::fclose(probe);
        if (!existed) unlink(path.c_str());
    }
    return true;
}

static bool read_file(const std::string &path, std::string *text) {
    std::ifstream file(path, std::ios::binary);
    if (!file) return false;
    std::ostringstream content;
    content << file.rdbuf();
    *text = content.str();
    return true;
}

// Google Benchmark's JSON reporter writes {"context": {...}, "benchmarks": [
// {...}, ... ]} with the array last; the entries are taken as text.
static bool benchmark_entries(const std::string &text, size_t *begin, size_t *end) {
    size_t key = text.find("\"benchmarks\"");
    if (key == std::string::npos) return false;
    size_t open = text.find('[', key);
    size_t close = text.rfind(']');
    if (open == std::string::npos || close == std::string::npos || close < open) return false;
    *begin = open + 1;
    *end = close;
    return true;
}

bool merge_benchmark_json(const std::vector<std::string> &inputs, const std::string &output,
                          std::string *error) {
    std::string head, entries;
    for (const auto &path : inputs) {
        std::string text;
        size_t begin, end;
        if (!read_file(path, &text)) continue;  // a child that failed before reporting
        if (!benchmark_entries(text, &begin, &end)) {
            *error = path + ": not Google Benchmark JSON";
            return false;
        }
        if (head.empty()) head = text.substr(0, begin);
        std::string part = text.substr(begin, end - begin);
        size_t first = part.find_first_not_of(" \t\r\n"), last = part.find_last_not_of(" \t\r\n");
        if (first == std::string::npos) continue;
        entries += (entries.empty() ? "\n    " : ",\n    ") + part.substr(first, last - first + 1);
    }
    if (head.empty()) head = "{\n  \"benchmarks\": [";
    std::ofstream file(output, std::ios::binary | std::ios::trunc);
    file << head << entries << "\n  ]\n}\n";
    file.close();
    if (!file) {
        *error = output + ": cannot write: " + std::strerror(errno);
        return false;
    }
    return true;
}

}  // namespace bench
