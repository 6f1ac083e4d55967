"""Rendering result tables as aligned plain text, Markdown or CSV.

Cells are strings (shown as they are) or Num values, which each format writes
its own way: rounded for people in text and Markdown, full precision in CSV so
that another program can read the numbers back.
"""

import csv
import io
import math

FORMATS = ("text", "markdown", "csv")


class Num:
    """A number in a table cell. style: "plain", "percent" (a change, +12.3%),
    "share" (a part in percent, 12.3%), "ratio" (1.23x), "score" (0.987),
    "pvalue"."""

    __slots__ = ("value", "style")

    def __init__(self, value, style="plain"):
        self.value, self.style = value, style


def format_number(value):
    """A number rounded for reading: whole numbers in full, others to 4 digits."""
    if value is None:
        return "-"
    if float(value).is_integer() and abs(value) < 1e15:
        return str(int(value))
    if abs(value) >= 1000:
        return "%.0f" % value
    return "%.4g" % value


def format_for_people(cell):
    if not isinstance(cell, Num):
        return str(cell)
    value = cell.value
    if value is None:
        return "-"
    if cell.style == "percent":
        return "%+.1f%%" % value
    if cell.style == "share":
        return "%.1f%%" % value
    if cell.style == "score":
        return "%.3f" % value
    if cell.style == "ratio":
        # An infinite ratio is a rise from a median of 0 (compare.py gives it
        # a verdict all the same): "infx" read like a misprint.
        return "from 0" if math.isinf(value) else "%.2fx" % value
    if cell.style == "pvalue":
        return "<0.001" if value < 0.001 else "%.3f" % value
    return format_number(value)


def format_for_csv(cell):
    if not isinstance(cell, Num):
        return str(cell)
    return "" if cell.value is None else repr(cell.value)


def render(header, rows, fmt="text"):
    """The table as a string in one of FORMATS, ending in a newline."""
    if fmt == "csv":
        out = io.StringIO()
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow(header)
        writer.writerows([format_for_csv(cell) for cell in row] for row in rows)
        return out.getvalue()
    cells = [[format_for_people(cell) for cell in row] for row in rows]
    # A column of numbers reads best aligned on the right.
    numeric = [any(isinstance(row[i], Num) for row in rows) for i in range(len(header))]
    if fmt == "markdown":
        def line(values):
            return "| " + " | ".join(v.replace("|", "\\|") for v in values) + " |"
        rule = "|" + "|".join("---:" if right else "---" for right in numeric) + "|"
        return "\n".join([line(header), rule] + [line(row) for row in cells]) + "\n"
    if fmt != "text":
        raise ValueError("unknown table format: %s" % fmt)
    widths = [max([len(header[i])] + [len(row[i]) for row in cells]) for i in range(len(header))]

    def line(values):
        padded = [v.rjust(w) if right else v.ljust(w)
                  for v, w, right in zip(values, widths, numeric)]
        return "  ".join(padded).rstrip()
    rule = "  ".join("-" * w for w in widths)
    return "\n".join([line(header), rule] + [line(row) for row in cells]) + "\n"
