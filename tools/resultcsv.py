"""Reading and validating the result CSV files that the bench drivers write.

Every tool in tools/ reads results through this module, so the CSV contract
(see results/README.md and issue 6) is checked in one place. A file that breaks
the contract raises CsvFormatError, whose text is `FILE:LINE: what is wrong`;
the command-line tools print it and exit 2.

Three kinds of file share the same reader, told apart by their header:
- "replay": replay.csv, micro.csv, sweep.csv (bench_replay, bench_micro);
- "realprog": realprog.csv (real programs run under each allocator);
- "timeline": timeline.csv (bench_replay --timeline), samples over one replay.

Python standard library only.
"""

import argparse
import csv
import errno
import math
import os
import re
import shlex
import statistics
import sys
from collections import OrderedDict

# ---- the pinned contract ----------------------------------------------------

# The first columns of each kind, in this order exactly.
REPLAY_COLUMNS = ("trace", "allocator", "block_size", "threads", "repetition", "ops",
                  "ns_per_op", "mops", "peak_live_bytes", "rss_peak_bytes", "frag_rss")
REALPROG_COLUMNS = ("trace", "allocator", "block_size", "threads", "repetition",
                    "wall_seconds", "max_rss_bytes", "user_seconds", "sys_seconds",
                    "minor_faults", "output_ok")
TIMELINE_COLUMNS = ("trace", "allocator", "block_size", "threads", "op_index",
                    "live_bytes", "rss_bytes", "mapped_bytes")
FIRST_COLUMNS = {"replay": REPLAY_COLUMNS, "realprog": REALPROG_COLUMNS,
                 "timeline": TIMELINE_COLUMNS}

TEXT_COLUMNS = ("trace", "allocator")
# Integer columns that identify a configuration (never compared as figures).
INTEGER_KEY_COLUMNS = ("block_size", "threads", "repetition", "region_size")
# The key of one measured configuration; the repetition is what varies inside it.
# region_size and huge_pages_from join the key, in this order, in files that
# have those columns (sweeps).
CONFIG_COLUMNS = ("trace", "allocator", "block_size", "threads")
# arena's and seed's huge-pages threshold: empty (None: the policy's own), a
# byte count (an int), or the word "never" (kept as that text).
HUGE_PAGES_COLUMN = "huge_pages_from"
HUGE_PAGES_NEVER = "never"
OPTIONAL_CONFIG_COLUMNS = ("region_size", HUGE_PAGES_COLUMN)

# Which way is better for each known figure, and what kind of figure it is.
# The kind picks the verdict words (faster/slower or leaner/fatter) and the
# noise floor in compare.py. Figures not listed here are compared without a
# verdict of direction.
HIGHER_IS_BETTER = "higher"
LOWER_IS_BETTER = "lower"
_TIME, _MEMORY = "time", "memory"

_LATENCY_FIGURES = tuple("lat_%s_%s_ns" % (call, point)
                         for call in ("malloc", "free", "realloc")
                         for point in ("p50", "p99", "p999", "max"))

FIGURES = {
    "mops": (HIGHER_IS_BETTER, _TIME),
    "ns_per_op": (LOWER_IS_BETTER, _TIME),
    "instructions_per_op": (LOWER_IS_BETTER, _TIME),
    "cpu_ns_per_op": (LOWER_IS_BETTER, _TIME),
    "wall_seconds": (LOWER_IS_BETTER, _TIME),
    "user_seconds": (LOWER_IS_BETTER, _TIME),
    "sys_seconds": (LOWER_IS_BETTER, _TIME),
    "frag_rss": (LOWER_IS_BETTER, _MEMORY),
    "rss_peak_bytes": (LOWER_IS_BETTER, _MEMORY),
    "frag_at_peak": (LOWER_IS_BETTER, _MEMORY),
    "internal_frag": (LOWER_IS_BETTER, _MEMORY),
    "footprint_bytes": (LOWER_IS_BETTER, _MEMORY),
    "rss_after_bytes": (LOWER_IS_BETTER, _MEMORY),
    "max_rss_bytes": (LOWER_IS_BETTER, _MEMORY),
    # Page faults come from touching fresh memory: counted with memory, so a
    # rise reads "fatter" and takes the (tighter) memory noise floor.
    "minor_faults": (LOWER_IS_BETTER, _MEMORY),
}
FIGURES.update({name: (LOWER_IS_BETTER, _TIME) for name in _LATENCY_FIGURES})

# Numbers that describe the workload, not the allocator: never given a verdict.
INFORMATIONAL_COLUMNS = ("ops", "peak_live_bytes", "repetition", "block_size", "threads",
                         "region_size", "op_index", "output_ok")

# Known numeric columns: a value there that is not a number is an error.
# Columns nobody has told us about are numeric when every value is a number.
KNOWN_NUMERIC_COLUMNS = (set(FIGURES) | set(INFORMATIONAL_COLUMNS)
                         | {"live_bytes", "rss_bytes", "mapped_bytes"}) - {"output_ok"}

# Figures every ratio divides by: a row with 0 there is broken, not fast.
RATE_COLUMNS = ("mops", "ns_per_op", "cpu_ns_per_op", "instructions_per_op")

# Units for axis labels and tables.
UNITS = {
    "mops": "Mops/s", "ns_per_op": "ns/op", "instructions_per_op": "instructions/op", "cpu_ns_per_op": "ns/op",
    "wall_seconds": "s", "user_seconds": "s", "sys_seconds": "s",
    "frag_rss": "RSS at peak / peak live bytes", "rss_peak_bytes": "bytes",
    "max_rss_bytes": "bytes", "footprint_bytes": "bytes", "rss_after_bytes": "bytes",
    "minor_faults": "faults", "peak_live_bytes": "bytes",
}
UNITS.update({name: "ns" for name in _LATENCY_FIGURES})

# Machine facts that make two runs comparable; compare.py warns when they differ.
MACHINE_FACTS = ("cpu", "cores", "kernel", "glibc", "compiler")

# An integer or a decimal, optionally with an exponent (C++ streams may write
# 1e+06). Rejects what float() would also take but the contract does not:
# nan, inf, underscores, surrounding blanks.
_NUMBER = re.compile(r"[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?\Z")


def command_settings(facts):
    """The NAME=VALUE words before the program in the `command` fact: the
    environment settings that change an allocator (ARENA_CHECKED=1, ...),
    which the bench drivers write there."""
    try:
        words = shlex.split(facts.get("command", ""))
    except ValueError:      # an unbalanced quote: no settings can be told
        return []
    settings = []
    for word in words:
        if not re.match(r"[A-Za-z_][A-Za-z0-9_]*=", word):
            break
        settings.append(word)
    return settings


class CsvFormatError(Exception):
    """A result file that breaks the contract; str() is `FILE:LINE: what is wrong`."""

    def __init__(self, path, line, message):
        super().__init__("%s:%d: %s" % (path, line, message))
        self.path, self.line, self.message = path, line, message


def figure_direction(column):
    """HIGHER_IS_BETTER, LOWER_IS_BETTER, or None when unknown or informational."""
    known = FIGURES.get(column)
    return known[0] if known else None


def figure_kind(column):
    """'time', 'memory', or None for figures with no known direction."""
    known = FIGURES.get(column)
    return known[1] if known else None


def parse_number(text):
    """The value of a numeric field: a float (an int when it is written as one),
    None when empty; raises ValueError when it is not a number."""
    if text == "":
        return None
    if not _NUMBER.match(text):
        raise ValueError(text)
    if re.fullmatch(r"[+-]?\d+", text):
        if math.isinf(float(text)):  # 1 and 400 zeros: an int Python holds, no double
            raise ValueError(text)
        return int(text)
    value = float(text)
    if not math.isfinite(value):  # 1e400: past what a double holds
        raise ValueError(text)
    return value


class ResultTable:
    """One result file: its facts, columns and rows.

    rows: list of dicts from column name to value: text for trace and allocator,
    int or float (or None when empty) for numeric columns, None, an int or
    "never" for huge_pages_from, the original text for text columns.
    line_of[i] is the file line of rows[i].
    failed_rows: a realprog file's runs whose output check failed (output_ok
    0, false or no), left out of rows: a run that crashed mostly ended early,
    and its time and memory would read as a gain (bench_realprog's own table
    leaves them out too).
    """

    def __init__(self, path, kind, facts, comments, columns, rows, line_of, numeric_columns,
                 header_line=1, failed_rows=()):
        self.path = path
        self.header_line = header_line
        self.kind = kind
        self.facts = facts            # OrderedDict from `# key: value` lines
        self.comments = comments      # `#` lines before the header that are not key: value
        self.columns = columns
        self.rows = rows
        self.line_of = line_of
        self.numeric_columns = numeric_columns
        self.failed_rows = list(failed_rows)

    @property
    def config_columns(self):
        """Columns that name one measured configuration (the repetitions vary inside)."""
        return CONFIG_COLUMNS + tuple(c for c in OPTIONAL_CONFIG_COLUMNS if c in self.columns)

    def figure_columns(self):
        """Numeric columns that measure something (not keys, not workload facts)."""
        return [c for c in self.columns
                if c in self.numeric_columns and c not in INFORMATIONAL_COLUMNS]

    def values(self, column):
        """Distinct non-missing values of a column, sorted."""
        return sorted({row[column] for row in self.rows if row.get(column) is not None})

    def select(self, traces=None, allocators=None):
        """A copy keeping only rows of the given traces and allocators (None = all)."""
        def wanted(row):
            return ((not traces or row["trace"] in traces)
                    and (not allocators or row["allocator"] in allocators))
        kept = [i for i, row in enumerate(self.rows) if wanted(row)]
        failed = [row for row in self.failed_rows if wanted(row)]
        return ResultTable(self.path, self.kind, self.facts, self.comments, self.columns,
                           [self.rows[i] for i in kept], [self.line_of[i] for i in kept],
                           self.numeric_columns, self.header_line, failed)

    def groups(self, key_columns=None):
        """Rows grouped by configuration: OrderedDict from key tuple to rows, in
        file order of first appearance."""
        key_columns = key_columns or self.config_columns
        grouped = OrderedDict()
        for row in self.rows:
            grouped.setdefault(tuple(row.get(c) for c in key_columns), []).append(row)
        return grouped


def samples(rows, column):
    """The non-missing values of one column over rows (the repetitions)."""
    return [row[column] for row in rows if row.get(column) is not None]


def median_of(rows, column):
    """Median of a column over rows, None when no row has it."""
    values = samples(rows, column)
    return statistics.median(values) if values else None


def detect_kind(header):
    """Which kind of result file a header belongs to, by its distinctive columns."""
    if "op_index" in header:
        return "timeline"
    if "wall_seconds" in header or "output_ok" in header:
        return "realprog"
    return "replay"


def _check_header(path, line, header):
    if not header or header == [""]:
        raise CsvFormatError(path, line, "empty header line")
    if not any(name in header for name in CONFIG_COLUMNS):
        raise CsvFormatError(path, line, "no header: the first line that is not a '#' fact "
                             "must name the columns, starting with %s" % ",".join(REPLAY_COLUMNS))
    kind = detect_kind(header)
    expected = FIRST_COLUMNS[kind]
    for position, name in enumerate(expected):
        if name not in header:
            raise CsvFormatError(path, line, "missing required column '%s' (a %s file starts "
                                 "with: %s)" % (name, kind, ",".join(expected)))
        if position >= len(header) or header[position] != name:
            raise CsvFormatError(path, line, "column %d is '%s', expected '%s' (a %s file "
                                 "starts with: %s)" % (position + 1, header[position], name,
                                                       kind, ",".join(expected)))
    seen = set()
    for name in header:
        if name == "":
            raise CsvFormatError(path, line, "empty column name in the header")
        if name in seen:
            raise CsvFormatError(path, line, "column '%s' appears twice" % name)
        seen.add(name)
    return kind


def _read_facts(lines):
    """The `#` lines before the header: (facts, comments, index of the header line)."""
    facts, comments = OrderedDict(), []
    index = 0
    while index < len(lines) and (lines[index].startswith("#") or lines[index].strip() == ""):
        text = lines[index][1:].strip() if lines[index].startswith("#") else ""
        key, colon, value = text.partition(":")
        if colon and key.strip() and " " not in key.strip():
            facts[key.strip()] = value.strip()
        elif text:
            comments.append(text)
        index += 1
    return facts, comments, index


def read_results(path):
    """Reads and validates one result file; returns a ResultTable."""
    try:
        with open(path, newline="", encoding="utf-8-sig") as handle:
            text = handle.read()
    except UnicodeDecodeError as error:
        raise CsvFormatError(path, 1, "not UTF-8 text (%s)" % error.reason) from None
    # Lines end at "\n" alone, kept for the csv reader: a quoted field may hold
    # one, and splitlines() would also end lines at \f, \v, \x1c-\x1e, U+0085,
    # U+2028 and U+2029, which a trace's name (a file name) may hold.
    if "\r" in text and "\n" not in text:
        # Read as one line, such a file was "no header line (the file has
        # only comments)" when it began with a fact, which sent one looking
        # for a missing header.
        raise CsvFormatError(path, 1, "lines end with a carriage return alone (\\r): the "
                             "contract ends them with \\n (or \\r\\n); convert the file, "
                             "e.g. tr '\\r' '\\n'")
    lines = text.split("\n")
    lines = [line + "\n" for line in lines[:-1]] + ([lines[-1]] if lines[-1] else [])
    facts, comments, header_index = _read_facts(lines)
    if header_index >= len(lines):
        raise CsvFormatError(path, max(1, header_index), "no header line (the file has only "
                             "comments)" if lines else "empty file: no header line")
    reader = csv.reader(lines[header_index:], strict=True)
    try:
        header = next(reader)
    except csv.Error as error:
        raise CsvFormatError(path, header_index + 1, "unreadable header: %s" % error) from None
    header = [name.strip() for name in header]
    kind = _check_header(path, header_index + 1, header)

    raw_rows, line_of = [], []
    try:
        for fields in reader:
            line = header_index + reader.line_num
            if not fields or fields == [""]:
                continue  # a blank line
            if fields[0].startswith("#"):
                raise CsvFormatError(path, line, "comment line after the header (facts "
                                     "belong before it)")
            if len(fields) != len(header):
                raise CsvFormatError(path, line, "%d fields, the header has %d"
                                     % (len(fields), len(header)))
            raw_rows.append(fields)
            line_of.append(line)
    except csv.Error as error:
        raise CsvFormatError(path, header_index + reader.line_num, str(error)) from None

    numeric = _numeric_columns(header, raw_rows)
    rows = [_convert_row(path, line, header, fields, numeric)
            for line, fields in zip(line_of, raw_rows)]
    table = ResultTable(path, kind, facts, comments, header, rows, line_of, numeric,
                        header_index + 1)
    _check_unique_keys(table)
    if kind == "realprog":
        failed = [_output_failed(row) for row in rows]
        table = ResultTable(path, kind, facts, comments, header,
                            [row for row, bad in zip(rows, failed) if not bad],
                            [line for line, bad in zip(line_of, failed) if not bad], numeric,
                            header_index + 1, [row for row, bad in zip(rows, failed) if bad])
    return table


def _output_failed(row):
    return str(row.get("output_ok", "")).strip().lower() in ("0", "false", "no")


def _numeric_columns(header, raw_rows):
    numeric = set()
    for position, name in enumerate(header):
        if name in TEXT_COLUMNS or name == HUGE_PAGES_COLUMN:
            continue
        if name in KNOWN_NUMERIC_COLUMNS or all(
                fields[position] == "" or _NUMBER.match(fields[position]) for fields in raw_rows):
            numeric.add(name)
    return numeric


def _convert_row(path, line, header, fields, numeric):
    row = {}
    for name, text in zip(header, fields):
        if name in TEXT_COLUMNS:
            if text == "":
                raise CsvFormatError(path, line, "empty %s" % name)
            row[name] = text
        elif name == HUGE_PAGES_COLUMN:
            row[name] = _huge_pages_value(path, line, text)
        elif name in numeric:
            try:
                value = parse_number(text)
            except ValueError:
                raise CsvFormatError(path, line, "%s: '%s' is not a number" % (name, text)) from None
            if name in KNOWN_NUMERIC_COLUMNS and value is not None and value < 0:
                raise CsvFormatError(path, line, "%s: %s is negative" % (name, text))
            if name in RATE_COLUMNS and value == 0:
                raise CsvFormatError(path, line, "%s: 0 (a rate or time per op is above 0)" % name)
            if name in INTEGER_KEY_COLUMNS and value is not None and not isinstance(value, int):
                raise CsvFormatError(path, line, "%s: '%s' is not a whole number" % (name, text))
            if name in ("block_size", "threads", "repetition") and value is None:
                raise CsvFormatError(path, line, "%s is empty (it is part of the row's key)" % name)
            row[name] = value
        else:
            row[name] = text
    return row


def _huge_pages_value(path, line, text):
    """huge_pages_from's value: None when empty, "never", or a whole number of bytes."""
    if text in ("", HUGE_PAGES_NEVER):
        return text or None
    try:
        value = parse_number(text)
    except ValueError:
        value = None
    if not isinstance(value, int) or value < 0:
        raise CsvFormatError(path, line, "%s: '%s' is not a byte count or '%s'"
                             % (HUGE_PAGES_COLUMN, text, HUGE_PAGES_NEVER))
    return value


def _check_unique_keys(table):
    if table.kind == "timeline":
        key_columns = CONFIG_COLUMNS + ("op_index",)
    else:
        key_columns = table.config_columns + ("repetition",)
    first_line = {}
    for row, line in zip(table.rows, table.line_of):
        key = tuple(row.get(c) for c in key_columns)
        if key in first_line:
            raise CsvFormatError(table.path, line, "duplicate row: same %s as line %d"
                                 % (",".join(key_columns), first_line[key]))
        first_line[key] = line


# Allocators in a fixed order, so every table and chart lists them alike.
ALLOCATOR_ORDER = ("arena", "arena-malloc", "seed", "glibc", "jemalloc", "mimalloc",
                   "tcmalloc", "bump")


def allocator_rank(name):
    """Sort key: the known allocators in ALLOCATOR_ORDER, then others by name."""
    return (ALLOCATOR_ORDER.index(name) if name in ALLOCATOR_ORDER else len(ALLOCATOR_ORDER),
            name)


def huge_pages_rank(value):
    """Sort key of huge_pages_from values: the default (None) first, then the
    byte counts from the smallest, then "never" (no threshold is reached)."""
    if value is None:
        return (0, 0)
    return (2, 0) if value == HUGE_PAGES_NEVER else (1, value)


def huge_pages_text(value):
    """A huge_pages_from value for people: `16 MiB`, `never`."""
    return value if value == HUGE_PAGES_NEVER else human_bytes(value)


def allocator_configs(rows):
    """[(config, label)] for the allocator configurations in rows, in allocator
    order; config = (allocator, block_size, region_size, huge_pages_from); the
    label is the allocator alone unless it ran several block or region sizes or
    huge-pages thresholds."""
    configs = {}
    for row in rows:
        configs.setdefault(row["allocator"], set()).add((row["block_size"],
                                                         row.get("region_size"),
                                                         row.get(HUGE_PAGES_COLUMN)))
    labelled = []
    for allocator in sorted(configs, key=allocator_rank):
        for block_size, region_size, huge_pages in sorted(
                configs[allocator], key=lambda c: (c[0], c[1] or 0, huge_pages_rank(c[2]))):
            label = allocator
            if len(configs[allocator]) > 1:
                label += " bs=%d" % block_size
                label += " rs=%s" % human_bytes(region_size) if region_size is not None else ""
                label += " hp=%s" % huge_pages_text(huge_pages) if huge_pages is not None else ""
            labelled.append(((allocator, block_size, region_size, huge_pages), label))
    return labelled


def failed_outputs(table):
    """'program under allocator' for every realprog run whose output check
    failed (output_ok 0, false or no; table.failed_rows), sorted; empty for
    other files."""
    return sorted({"%s under %s" % (row["trace"], row["allocator"]) for row in table.failed_rows})


def human_bytes(count):
    """A byte count in the largest binary unit that divides it: 4 MiB, 65 B."""
    for unit, size in (("GiB", 1 << 30), ("MiB", 1 << 20), ("KiB", 1 << 10)):
        if count >= size and count % size == 0:
            return "%d %s" % (count // size, unit)
    return "%d B" % count


def describe_key(key_columns, key):
    """A short readable name for a configuration key, e.g. `cpython glibc bs=16 t=1`
    (sizes as people write them: `rs=64 KiB hp=16 MiB`)."""
    short = {"block_size": ("bs", str), "threads": ("t", str), "region_size": ("rs", human_bytes),
             HUGE_PAGES_COLUMN: ("hp", huge_pages_text)}
    parts = []
    for column, value in zip(key_columns, key):
        if column in TEXT_COLUMNS:
            parts.append(str(value))
        elif value is not None:
            name, text = short.get(column, (column, str))
            parts.append("%s=%s" % (name, text(value)))
    return " ".join(parts)


# ---- shared by the command-line tools ---------------------------------------

EXIT_USAGE = 2   # bad flags or a malformed file
EXIT_CANNOT_WRITE = 1


def read_or_exit(path, program):
    """read_results for a command-line tool: a missing or malformed file prints
    `FILE:LINE: what is wrong` (or the OS error) on stderr and exits 2."""
    return _exit_on_bad_input(program, read_results, path)


def _exit_on_bad_input(program, read, argument):
    try:
        return read(argument)
    except CsvFormatError as error:
        print(error, file=sys.stderr)
    except OSError as error:
        print("%s: %s: %s" % (program, error.filename or argument, error.strerror or error),
              file=sys.stderr)
    except ValueError as error:
        print("%s: %s" % (program, error), file=sys.stderr)
    sys.exit(EXIT_USAGE)


def _cannot_write(program, path, reason):
    print("%s: %s: cannot write: %s" % (program, path, reason), file=sys.stderr)
    sys.exit(EXIT_CANNOT_WRITE)


def file_writable_or_exit(path, program):
    """Exits with `PATH: cannot write: REASON` unless path can be written. Called
    before the work, so that a bad output path stops a tool at once rather than
    with a traceback at the end; an existing file keeps its bytes and a new one
    is not left behind."""
    parent = os.path.dirname(os.path.abspath(path))
    if not os.path.lexists(parent):
        # Made by write_text_or_exit, as plot.py makes its missing OUTDIR.
        directory_writable_or_exit(parent, program)
        return
    existed = os.path.lexists(path)
    try:
        with open(path, "a"):
            pass
    except OSError as error:
        _cannot_write(program, path, error.strerror or error)
    if not existed:
        os.remove(path)


def directory_writable_or_exit(path, program):
    """Like file_writable_or_exit for an output directory that is made when
    missing: its nearest existing ancestor must be a directory we can write in.
    Nothing is made here, so a run that ends up writing nothing leaves no
    directory behind."""
    existing = os.path.abspath(path)
    while not os.path.lexists(existing):
        existing = os.path.dirname(existing)
    if not os.path.isdir(existing):
        _cannot_write(program, path, "%s is not a directory" % existing)
    if not os.access(existing, os.W_OK | os.X_OK):
        _cannot_write(program, path, "%s: permission denied" % existing)


def write_text_or_exit(path, text, program):
    """Writes text to path, making its missing directories; an error (a full
    disk) is one line on stderr, exit 1."""
    try:
        os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
        with open(path, "w") as handle:
            handle.write(text)
    except OSError as error:
        _cannot_write(program, path, error.strerror or error)


def write_stdout_or_exit(text, program):
    """Writes text to stdout and flushes it; a write error (stdout on a full
    disk, /dev/full) is one line on stderr, exit 1, not a traceback. A closed
    pipe (`| head`) ends quietly, as for any filter."""
    try:
        sys.stdout.write(text)
        sys.stdout.flush()
    except BrokenPipeError:
        # Python would report the pipe again when it flushes stdout at exit.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        sys.exit(EXIT_CANNOT_WRITE)
    except OSError as error:
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        _cannot_write(program, "stdout", error.strerror or error)


def non_negative_number(text):
    """An argparse type: a finite number >= 0 (a percentage, a size). float()
    also takes -3, nan and inf, which make no noise floor, bound or size."""
    try:
        value = float(text)
    except ValueError:
        value = None
    if value is None or not math.isfinite(value) or value < 0:
        raise argparse.ArgumentTypeError("takes a number >= 0, not '%s'" % text)
    return value


def comma_list(text):
    """An argparse type: `a,b,c` -> ['a', 'b', 'c']. An empty item (`a,,c`, a
    trailing comma, `,` alone) is an error, as in the bench drivers: taken as
    nothing, `--figures ,` meant every figure."""
    items = [item.strip() for item in text.split(",")]
    if not all(items):
        raise argparse.ArgumentTypeError("an empty item in '%s'" % text)
    return items


# ---- a results directory -------------------------------------------------------

# The files of a results directory that the tools read, by role.
RUN_FILES = {"replay": "replay.csv", "micro": "micro.csv", "sweep": "sweep.csv",
             "realprog": "realprog.csv", "timeline": "timeline.csv"}


class RunData:
    """The result files of one run, by role (None when absent), and the
    directory they came from (where plots and the report go)."""

    def __init__(self, directory, tables):
        self.directory = directory
        self.tables = tables          # role -> ResultTable

    def __getattr__(self, role):
        if role in RUN_FILES:
            return self.tables.get(role)
        raise AttributeError(role)

    def facts(self):
        """The facts of the run: every file's facts, the replay file's first."""
        merged = OrderedDict()
        for role in RUN_FILES:
            table = self.tables.get(role)
            for key, value in (table.facts.items() if table else ()):
                merged.setdefault(key, value)
        return merged

    def sweep_table(self):
        """The table with a block-size sweep: sweep.csv, or replay.csv when an
        allocator ran several block or region sizes or huge-pages thresholds on
        one trace."""
        if self.sweep is not None:
            return self.sweep
        if self.replay is not None and has_several_configs(self.replay):
            return self.replay
        return None


def has_several_configs(table):
    """True when an allocator ran more than one (block_size, region_size,
    huge_pages_from) on a trace."""
    seen = {}
    for row in table.rows:
        config = (row["block_size"], row.get("region_size"), row.get(HUGE_PAGES_COLUMN))
        seen.setdefault((row["trace"], row["allocator"], row["threads"]), set()).add(config)
    return any(len(configs) > 1 for configs in seen.values())


def _role_of_file(path, table):
    if table.kind in ("timeline", "realprog"):
        return table.kind
    name = os.path.basename(path)
    for role in ("sweep", "micro"):
        if role in name:
            return role
    return "replay"


def read_run(paths):
    """Reads a results directory, or result files named one by one, into a
    RunData. Raises CsvFormatError for a malformed file, OSError when there
    is nothing to read, ValueError when two files claim the same role."""
    tables, directory = OrderedDict(), None
    for path in paths:
        if os.path.isdir(path):
            directory = directory or path
            found = [(role, os.path.join(path, name)) for role, name in RUN_FILES.items()
                     if os.path.isfile(os.path.join(path, name))]
            if not found:
                raise OSError(errno.ENOENT, "no result files (%s) in this directory"
                              % ", ".join(RUN_FILES.values()), path)
            for role, file_path in found:
                table = read_results(file_path)
                expected = "replay" if role in ("sweep", "micro") else role
                if table.kind != expected:
                    raise CsvFormatError(file_path, table.header_line,
                                         "a %s header in a file named %s"
                                         % (table.kind, RUN_FILES[role]))
                _add_table(tables, role, table)
        else:
            directory = directory or os.path.dirname(os.path.abspath(path))
            table = read_results(path)
            _add_table(tables, _role_of_file(path, table), table)
    return RunData(directory, tables)


def _add_table(tables, role, table):
    if role in tables:
        raise ValueError("two %s files: %s and %s" % (role, tables[role].path, table.path))
    tables[role] = table


def read_run_or_exit(paths, program):
    """read_run for a command-line tool: any problem is one line on stderr, exit 2."""
    return _exit_on_bad_input(program, read_run, paths)
