#include "csv.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <sstream>

#include "child.h"
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

std::string csv_text(const Facts &facts, const std::vector<std::string> &columns, const std::vector<CsvRow> &rows) {
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
    return out.str();
}

bool write_csv(const std::string &path, const Facts &facts, const std::vector<std::string> &columns,
               const std::vector<CsvRow> &rows, std::string *error) {
    OutputFiles out;
    return out.stage(path, csv_text(facts, columns, rows), error) && out.commit(error);
}

OutputFiles::~OutputFiles() {
    for (const Staged &file : staged_)
        if (!file.direct) unlink(file.temporary.c_str());
}

bool OutputFiles::stage(const std::string &path, const std::string &text, std::string *error) {
    if (path == "-") {
        stdout_text_ += text;
        return true;
    }
    Staged file;
    file.path = path;
    struct stat st;
    if (stat(path.c_str(), &st) == 0 && !S_ISREG(st.st_mode)) {
        // A device or a pipe (/dev/stdout, a FIFO) is written as it is, at commit.
        file.direct = true;
        file.text = text;
        staged_.push_back(file);
        return true;
    }
    // A symbolic link keeps pointing where it did: its target is replaced (or made).
    std::error_code no_link;
    for (int hops = 0; hops < 40 && std::filesystem::is_symlink(file.path, no_link); hops++) {
        const std::filesystem::path link(file.path), target = std::filesystem::read_symlink(link, no_link);
        if (no_link) break;
        file.path = (target.is_absolute() ? target : link.parent_path() / target).string();
    }
    // Beside the file, so that the rename stays within one file system.
    file.temporary = file.path + ".partial.XXXXXX";
    const int fd = mkstemp(&file.temporary[0]);
    if (fd < 0) {
        *error = path + ": cannot write: " + std::strerror(errno);
        return false;
    }
    staged_.push_back(file);
    // mkstemp makes the file 0600; the outputs are as readable as any the user writes.
    const mode_t mask = umask(0);
    umask(mask);
    const bool ok = write_all(fd, text) && fchmod(fd, 0666 & ~mask) == 0;
    const int saved = errno;
    if (close(fd) != 0 || !ok) {
        *error = path + ": cannot write: " + std::strerror(ok ? errno : saved);
        return false;
    }
    return true;
}

bool OutputFiles::commit(std::string *error) {
    // Devices and pipes first: one that fails then leaves every file as it was.
    std::stable_partition(staged_.begin(), staged_.end(), [](const Staged &file) { return file.direct; });
    for (auto file = staged_.begin(); file != staged_.end(); file = staged_.erase(file)) {
        bool ok;
        if (file->direct) {
            const int fd = open(file->path.c_str(), O_WRONLY | O_TRUNC | O_CLOEXEC);
            ok = fd >= 0 && write_all(fd, file->text);
            const int saved = errno;
            if (fd >= 0 && close(fd) != 0 && ok) ok = false;
            else errno = saved;
        } else {
            ok = rename(file->temporary.c_str(), file->path.c_str()) == 0;
        }
        if (!ok) {
            *error = file->path + ": cannot write: " + std::strerror(errno);
            return false;
        }
    }
    if (!stdout_text_.empty()) {
        errno = 0;
        std::cout << stdout_text_ << std::flush;
        stdout_text_.clear();
        if (!std::cout) {
            *error = std::string("stdout: cannot write: ") + std::strerror(errno ? errno : EIO);
            return false;
        }
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
    std::vector<std::filesystem::path> seen;
    for (const std::string &path : paths) {
        if (path.empty() || path == "-") continue;
        // Two outputs on one file: the one written last would replace the other.
        std::error_code ignored;
        const std::filesystem::path resolved =
            std::filesystem::weakly_canonical(std::filesystem::absolute(path, ignored), ignored);
        if (std::find(seen.begin(), seen.end(), resolved) != seen.end()) {
            *error = path + ": two outputs of the run would both go to this file (a JSON file goes beside "
                            "the CSV, with .json for its extension, unless --json names another)";
            return false;
        }
        seen.push_back(resolved);
        const bool existed = access(path.c_str(), F_OK) == 0;
        FILE *probe = std::fopen(path.c_str(), "a");  // "a": an existing file keeps its bytes
        if (!probe) {
            *error = path + ": cannot write: " + std::strerror(errno);
            return false;
        }
        std::fclose(probe);
        if (!existed) {
            // Through a dangling symbolic link the probe made its target: that goes, the link stays.
            char *made = realpath(path.c_str(), nullptr);
            unlink(made ? made : path.c_str());
            std::free(made);
        }
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
// {...}, ... ]} with the array last; the entries are taken as text. It writes
// as the runs end, so the file of a child that died while it ran (a crash in a
// benchmark) is cut short, without the closing "]}": its entries are the whole
// ones it has, up to the last closing brace at the entries' indent (none when
// it ends before the array). Such a file once stopped the run, every other
// child's rows with it, as "not Google Benchmark JSON". False for a whole file
// that is not Google Benchmark JSON.
static bool benchmark_entries(const std::string &text, size_t *begin, size_t *end) {
    const size_t npos = std::string::npos;
    const size_t brace = text.find_last_not_of(" \t\r\n");
    const size_t bracket = brace == npos || brace == 0 ? npos : text.find_last_not_of(" \t\r\n", brace - 1);
    const bool whole = bracket != npos && text[brace] == '}' && text[bracket] == ']';
    const size_t key = text.find("\"benchmarks\"");
    const size_t open = key == npos ? npos : text.find('[', key);
    if (open == npos || (whole && bracket < open)) {
        *begin = *end = 0;
        return !whole;
    }
    *begin = open + 1;
    if (whole) {
        *end = bracket;
    } else {
        const size_t last = text.rfind("\n    }");
        *end = last == npos || last < open ? open + 1 : last + 6;
    }
    return true;
}

bool merge_benchmark_json(const std::vector<std::string> &inputs, std::string *merged, std::string *error) {
    std::string head, entries;
    for (const auto &path : inputs) {
        std::string text;
        size_t begin, end;
        if (!read_file(path, &text)) continue;  // a child that failed before reporting
        if (!benchmark_entries(text, &begin, &end)) {
            *error = path + ": not Google Benchmark JSON";
            return false;
        }
        if (head.empty() && begin > 0) head = text.substr(0, begin);
        std::string part = text.substr(begin, end - begin);
        size_t first = part.find_first_not_of(" \t\r\n"), last = part.find_last_not_of(" \t\r\n");
        if (first == std::string::npos) continue;
        entries += (entries.empty() ? "\n    " : ",\n    ") + part.substr(first, last - first + 1);
    }
    if (head.empty()) head = "{\n  \"benchmarks\": [";
    *merged = head + entries + "\n  ]\n}\n";
    return true;
}

}  // namespace bench
