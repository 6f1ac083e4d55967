#include "summary.h"

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <map>
#include <string>
#include <tuple>

#include "allocator.h"

namespace bench {

namespace {

struct Cell {
    std::vector<double> values;
    double median() const {
        std::vector<double> v = values;
        std::sort(v.begin(), v.end());
        size_t n = v.size();
        return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
    }
};

// A byte count in the largest binary unit that divides it ("4 MiB", "65 B"),
// as the tools write it (resultcsv.human_bytes); other text as it is.
std::string bytes_text(const std::string &text) {
    char *end = nullptr;
    const unsigned long long count = std::strtoull(text.c_str(), &end, 10);
    if (text.empty() || *end != '\0') return text;
    static const struct {
        const char *unit;
        unsigned shift;
    } units[] = {{"GiB", 30}, {"MiB", 20}, {"KiB", 10}};
    for (const auto &u : units)
        if (count >= (1ULL << u.shift) && count % (1ULL << u.shift) == 0)
            return std::to_string(count >> u.shift) + " " + u.unit;
    return std::to_string(count) + " B";
}

// A configuration: the allocator, with its block size, region size and
// huge-pages threshold when it has them. Configurations sort by allocator,
// then by those numbers (bs=16 before bs=128), never "never" below a size.
struct Config {
    std::string label, allocator;
    int rank;
    unsigned long long block_size, region_size;
    int huge_pages_kind;  // 0 none, 1 a size, 2 never
    unsigned long long huge_pages_from;

    bool operator<(const Config &o) const {
        return std::tie(rank, allocator, block_size, region_size, huge_pages_kind, huge_pages_from, label) <
               std::tie(o.rank, o.allocator, o.block_size, o.region_size, o.huge_pages_kind, o.huge_pages_from,
                        o.label);
    }
};

int allocator_rank(const std::string &allocator) {
    const AllocatorInfo *info = find_allocator(allocator);
    return info ? info->order : 1000;
}

Config config_of(const CsvRow &row) {
    Config c;
    const std::string bs = row.get("block_size"), rs = row.get("region_size"), hp = row.get("huge_pages_from");
    c.label = c.allocator = row.get("allocator");
    c.rank = allocator_rank(c.allocator);
    c.block_size = std::strtoull(bs.c_str(), nullptr, 10);
    c.region_size = std::strtoull(rs.c_str(), nullptr, 10);
    c.huge_pages_kind = hp.empty() ? 0 : hp == "never" ? 2 : 1;
    c.huge_pages_from = c.huge_pages_kind == 1 ? std::strtoull(hp.c_str(), nullptr, 10) : 0;
    if (!bs.empty() && bs != "0") c.label += " bs=" + bs;
    if (!rs.empty()) c.label += " rs=" + bytes_text(rs);
    if (!hp.empty()) c.label += " hp=" + bytes_text(hp);
    return c;
}

// The workload of a row as the table names it: the trace, and " t=N" for N threads.
std::string workload_of(const CsvRow &row) {
    std::string workload = row.get("trace");
    const std::string threads = row.get("threads");
    if (!threads.empty() && threads != "1") workload += " t=" + threads;
    return workload;
}

// Three significant digits, trailing zeros kept: with %.3g a frag_rss of
// 1.0043 printed as "1", as an exact 1.000 does, beside a 1.0062 as "1.01".
std::string number_text(double v) {
    char text[32];
    if (v >= 1000) std::snprintf(text, sizeof text, "%.0f", v);
    else if (v >= 10) std::snprintf(text, sizeof text, "%.1f", v);
    else std::snprintf(text, sizeof text, "%#.3g", v);
    return text;
}

}  // namespace

FILE *summary_stream(const std::string &csv_path) { return csv_path == "-" ? stderr : stdout; }

void print_summary(const std::vector<CsvRow> &rows, const std::vector<SummaryFigure> &figures,
                   const std::string &baseline, FILE *out) {
    // workload (trace [t=N]) -> configuration -> figure -> values
    std::vector<std::string> workloads;
    std::map<std::string, std::map<Config, std::vector<Cell>>> cells;
    for (const CsvRow &row : rows) {
        const std::string workload = workload_of(row);
        if (!cells.count(workload)) workloads.push_back(workload);
        auto &figure_cells = cells[workload][config_of(row)];
        figure_cells.resize(figures.size());
        for (size_t f = 0; f < figures.size(); f++) {
            const std::string text = row.get(figures[f].column);
            if (!text.empty()) figure_cells[f].values.push_back(std::strtod(text.c_str(), nullptr));
        }
    }
    if (workloads.empty()) {
        std::fprintf(out, "no results\n");
        return;
    }
    size_t name_width = 8, label_width = 9;
    for (const auto &w : workloads) {
        name_width = std::max(name_width, w.size());
        for (const auto &c : cells[w]) label_width = std::max(label_width, c.first.label.size());
    }
    std::fprintf(out, "\n%-*s  %-*s", static_cast<int>(name_width), "workload", static_cast<int>(label_width),
                 "allocator");
    for (const auto &f : figures)
        std::fprintf(out, "  %10s%s  %8s", f.heading.c_str(), f.spread ? "  (min-max)          " : "",
                     ("x " + baseline).c_str());
    std::fprintf(out, "\n");

    std::map<Config, std::vector<std::vector<double>>> ratios;  // configuration -> figure -> ratios
    for (const auto &w : workloads) {
        const auto base = std::find_if(cells[w].begin(), cells[w].end(),
                                       [&](const auto &entry) { return entry.first.label == baseline; });
        for (const auto &entry : cells[w]) {
            std::fprintf(out, "%-*s  %-*s", static_cast<int>(name_width), w.c_str(), static_cast<int>(label_width),
                         entry.first.label.c_str());
            auto &label_ratios = ratios[entry.first];
            label_ratios.resize(figures.size());
            for (size_t f = 0; f < figures.size(); f++) {
                const Cell &cell = entry.second[f];
                if (cell.values.empty()) {
                    std::fprintf(out, "  %10s%s  %8s", "-", figures[f].spread ? "                     " : "", "");
                    continue;
                }
                const double median = cell.median();
                std::fprintf(out, "  %10s", number_text(median).c_str());
                if (figures[f].spread) {
                    auto [lo, hi] = std::minmax_element(cell.values.begin(), cell.values.end());
                    std::string spread = "(" + number_text(*lo) + "-" + number_text(*hi) + ")";
                    std::fprintf(out, "  %-19s", spread.c_str());
                }
                double ratio = NAN;
                if (base != cells[w].end() && !base->second[f].values.empty() && base->second[f].median() > 0)
                    ratio = median / base->second[f].median();
                if (std::isfinite(ratio) && ratio > 0) {
                    std::fprintf(out, "  %7.2fx", ratio);
                    label_ratios[f].push_back(ratio);
                } else {
                    std::fprintf(out, "  %8s", "");
                }
            }
            std::fprintf(out, "\n");
        }
    }

    std::fprintf(out, "\ngeometric mean of the ratios to %s over the workloads both ran:\n", baseline.c_str());
    for (const auto &entry : ratios) {
        std::fprintf(out, "  %-*s", static_cast<int>(label_width), entry.first.label.c_str());
        for (size_t f = 0; f < figures.size(); f++) {
            const auto &r = entry.second[f];
            if (r.empty()) {
                std::fprintf(out, "  %s -", figures[f].heading.c_str());
                continue;
            }
            double log_sum = 0;
            for (double v : r) log_sum += std::log(v);
            std::fprintf(out, "  %s %.2fx (%zu)", figures[f].heading.c_str(), std::exp(log_sum / r.size()), r.size());
        }
        std::fprintf(out, "\n");
    }
}

void print_noise_notes(const std::vector<CsvRow> &rows, FILE *out) {
    std::map<std::string, Cell> seconds;                 // by workload
    std::map<std::string, std::vector<double>> mops;     // by workload and configuration, as the table names them
    std::vector<std::string> workloads;
    for (const CsvRow &row : rows) {
        const std::string ns = row.get("ns_per_op"), ops = row.get("ops"), rate = row.get("mops");
        if (ns.empty() || ops.empty() || rate.empty()) continue;
        const std::string workload = workload_of(row);
        if (!seconds.count(workload)) workloads.push_back(workload);
        seconds[workload].values.push_back(std::strtod(ns.c_str(), nullptr) * std::strtod(ops.c_str(), nullptr) / 1e9);
        mops[workload + ": " + config_of(row).label].push_back(std::strtod(rate.c_str(), nullptr));
    }
    std::string short_ones;
    size_t short_count = 0;
    for (const std::string &w : workloads) {
        const double median = seconds[w].median();
        if (median >= kShortReplaySeconds) continue;
        char text[64];
        std::snprintf(text, sizeof text, "%s%s (%.2g ms)", short_count ? ", " : "", w.c_str(), median * 1e3);
        if (++short_count <= 5) short_ones += text;
    }
    if (short_count)
        std::fprintf(out,
                     "\nnote: %zu of %zu workloads replay in under %.0f ms (the median over every allocator):\n"
                     "  %s%s.\n  Times that short move with the host's slightest noise: read their ratios with\n"
                     "  their min-max, and use more --repetitions or longer traces before drawing a conclusion.\n",
                     short_count, workloads.size(), kShortReplaySeconds * 1e3, short_ones.c_str(),
                     short_count > 5 ? ", ..." : "");
    size_t wide = 0, counted = 0;
    double widest = 0;
    std::string widest_config;
    for (const auto &entry : mops) {
        if (entry.second.size() < 2) continue;
        counted++;
        const auto [lo, hi] = std::minmax_element(entry.second.begin(), entry.second.end());
        if (*lo <= 0) continue;
        const double spread = *hi / *lo;
        if (spread > kWideSpread) wide++;
        if (spread > widest) widest = spread, widest_config = entry.first;
    }
    if (wide)
        std::fprintf(out,
                     "\nnote: the throughput repetitions of %zu of %zu configurations spread by more than %.1fx\n"
                     "  (fastest / slowest; widest %.2fx: %s): the host was busy or noisy while\n"
                     "  they ran. tools/compare.py tells a significant difference from noise.\n",
                     wide, counted, kWideSpread, widest, widest_config.c_str());
}

}  // namespace bench
