#!/usr/bin/env bash
# record-all.sh [BUILD_DIR]: makes every bundled trace again (traces/*.trace.gz)
# with BUILD_DIR/bin/arena-trace (default: build), from manifest.sh, then
# rewrites the generated part of traces/README.md. Recording needs python3,
# g++, sqlite3, perl and cmake; it runs with address randomisation off.
set -euo pipefail
usage() { sed -n '2,5p' "$0" | sed 's/^# \{0,1\}//'; }
case "${1:-}" in
    -h|--help) usage; exit 0 ;;
    -*) echo "record-all.sh: unknown option $1" >&2; usage >&2; exit 2 ;;
esac
[ $# -le 1 ] || { echo "record-all.sh: one BUILD_DIR at most" >&2; usage >&2; exit 2; }
here=$(cd "$(dirname "$0")" && pwd)
traces=$(dirname "$here")
build_arg=${1:-$traces/../build}
[ -x "$build_arg/bin/arena-trace" ] ||
    { echo "record-all.sh: no $build_arg/bin/arena-trace (build it first: cmake --build build)" >&2; exit 2; }
build=$(cd "$build_arg" && pwd)
arena_trace=$build/bin/arena-trace
. "$here/manifest.sh"
WORK=$(mktemp -d /tmp/arena-record.XXXXXX)
trap 'rm -rf "$WORK"' EXIT

for w in "${GENERATED[@]}"; do
    "$arena_trace" gen "$w" --seed 1 -o "$traces/gen-$w.trace.gz"
    echo "generated gen-$w"
done

for entry in "${RECORDED[@]}"; do
    IFS='|' read -r name keep command <<<"$entry"
    rm -rf "${WORK:?}"/*
    (cd "$here" && eval "\"$arena_trace\" record -o \"$WORK/$name.trace.gz\" -- $command" >/dev/null 2>"$WORK/log") ||
        { cat "$WORK/log" >&2; echo "recording $name failed" >&2; exit 1; }
    kept=""
    for f in "$WORK/$name.trace.gz" "$WORK/$name.trace."*.gz; do  # the first process, then the others
        [ -e "$f" ] || continue  # no other process: the pattern is left as it is
        # line 2 is "# recorded by libarena_record, pid N: ARGV0 ARGS..."
        if gzip -dc "$f" | sed -n 2p | grep -qE -- ": ([^ ]*/)?$keep( |\$)"; then kept=$f; break; fi
    done
    [ -n "$kept" ] || { echo "$name: no process matching '$keep'" >&2; cat "$WORK/log" >&2; exit 1; }
    cp "$kept" "$traces/$name.trace.gz"
    echo "recorded $name ($(basename "$kept"))"
done

{
    echo "Recorded on $(uname -srm), $(. /etc/os-release && echo "$PRETTY_NAME"), with:"
    echo "- $(/usr/bin/python3 --version 2>&1)"
    echo "- $(g++ --version | head -1)"
    echo "- sqlite3 $(sqlite3 --version | cut -d' ' -f1)"
    echo "- perl $(perl -e 'print $^V')"
    echo "- $(cmake --version | head -1)"
    echo "- glibc $(ldd --version | head -1 | awk '{print $NF}')"
} >"$here/versions.txt"

"$traces/update-readme.sh" "$build"
