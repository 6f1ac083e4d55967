// summary.h: the table a driver prints on stdout when it is done: per
// workload (trace or micro benchmark) and allocator configuration, the median
// of each chosen figure and its ratio to a baseline allocator of the same run,
// then the geometric mean of those ratios over the workloads.
#pragma once

#include <cstdio>
#include <string>
#include <vector>

#include "csv.h"

namespace bench {

struct SummaryFigure {
    std::string column;   // a CSV column
    std::string heading;  // its name in the table
    bool spread;          // also show min-max over the repetitions
};

void print_summary(const std::vector<CsvRow> &rows, const std::vector<SummaryFigure> &figures,
                   const std::string &baseline, FILE *out);

// Where the summary goes: stdout, or stderr when the CSV itself is written to
// stdout (--csv=-), which must hold the CSV alone for the tools to read it.
FILE *summary_stream(const std::string &csv_path);

// Below a replay summary: what makes its throughput ratios shaky, said where a
// reader of the table would otherwise take them at face value. A replay of a
// few milliseconds moves with the host's slightest noise (a recorded trace of
// 4430 ops gave arena 0.16x to 4.2x glibc's in five runs), and repetitions of
// one configuration far apart (fastest over slowest above kWideSpread) say the
// host was busy while it ran. Prints nothing when neither holds.
constexpr double kShortReplaySeconds = 0.01, kWideSpread = 1.5;
void print_noise_notes(const std::vector<CsvRow> &rows, FILE *out);

}  // namespace bench
