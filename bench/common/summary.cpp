#include "summary.h"

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <map>

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

// The label of a configuration: the allocator, with its block size, region
// size and huge-pages threshold when it has them.
std::string config_label(const CsvRow &row) {
    std::string label = row.get("allocator");
    const std::string bs = row.get("block_size"), rs = row.get("region_size"), hp = row.get("huge_pages_from");
    if (!bs.empty() && bs != "0") label += " bs=" + bs;
    if (!rs.empty()) label += " rs=" + rs;
    if (!hp.empty()) label += " hp=" + hp;
    return label;
}

int allocator_rank(const std::string &label) {
    const AllocatorInfo *info = find_allocator(label.substr(0, label.find(' ')));
    return info ? info->order : 1000;
}

std::string number_text(double v) {
    char text[32];
    if (v >= 1000) std::snprintf(text, sizeof text, "%.0f", v);
    else if (v >= 10) std::snprintf(text, sizeof text, "%.1f", v);
    else std::snprintf(text, sizeof text, "%.3g", v);
    return text;
}

}  // namespace

FILE *summary_stream(const std::string &csv_path) { return csv_path == "-" ? stderr : stdout; }

void print_summary(const std::vector<CsvRow> &rows, const std::vector<SummaryFigure> &figures,
                   const std::string &baseline, FILE *out) {
    // workload (trace [t=N]) -> config label -> figure -> values
    std::vector<std::string> workloads;
    std::map<std::string, std::map<std::string, std::vector<Cell>>> cells;
    for (const CsvRow &row : rows) {
        std::string workload = row.get("trace");
        const std::string threads = row.get("threads");
        if (!threads.empty() && threads != "1") workload += " t=" + threads;
        if (!cells.count(workload)) workloads.push_back(workload);
        auto &figure_cells = cells[workload][config_label(row)];
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
        for (const auto &c : cells[w]) label_width = std::max(label_width, c.first.size());
    }
    std::fprintf(out, "\n%-*s  %-*s", static_cast<int>(name_width), "workload", static_cast<int>(label_width),
                 "allocator");
    for (const auto &f : figures)
        std::fprintf(out, "  %10s%s  %8s", f.heading.c_str(), f.spread ? "  (min-max)          " : "",
                     ("x " + baseline).c_str());
    std::fprintf(out, "\n");

    std::map<std::string, std::vector<std::vector<double>>> ratios;  // label -> figure -> ratios
    for (const auto &w : workloads) {
        std::vector<std::pair<std::string, std::vector<Cell>>> ordered(cells[w].begin(), cells[w].end());
        std::stable_sort(ordered.begin(), ordered.end(), [](const auto &a, const auto &b) {
            return allocator_rank(a.first) < allocator_rank(b.first);
        });
        const auto base = cells[w].find(baseline);
        for (const auto &entry : ordered) {
            std::fprintf(out, "%-*s  %-*s", static_cast<int>(name_width), w.c_str(), static_cast<int>(label_width),
                         entry.first.c_str());
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
    std::vector<std::pair<std::string, std::vector<std::vector<double>>>> ordered(ratios.begin(), ratios.end());
    std::stable_sort(ordered.begin(), ordered.end(),
                     [](const auto &a, const auto &b) { return allocator_rank(a.first) < allocator_rank(b.first); });
    for (const auto &entry : ordered) {
        std::fprintf(out, "  %-*s", static_cast<int>(label_width), entry.first.c_str());
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

}  // namespace bench
