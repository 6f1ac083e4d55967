#!/usr/bin/env bash
# scripts/cpython-suite.sh [--jobs N] [TEST...]: CPython's own test suite (all of
# it, or the TESTs named) under the drop-in malloc and under glibc's, and the
# tests that fail under arena alone. A test that fails under both is the
# machine's (no network, no Tk, no compiler headers), not the allocator's.
# Exit status: 0 when none fails under arena alone, 1 when some do, 2 on bad use.
#
# Needs build/lib/libarena_malloc.so (cmake --build build) and Debian's
# libpython3.X-testsuite for /usr/bin/python3 (installed as root, else the
# apt-get line is printed). The whole suite takes about 7 minutes a run on 2
# cores. The VSOCK socket tests are left out: on a VM with a vsock device they
# wait for a peer that never comes, under any malloc.
set -euo pipefail
cd "$(dirname "$0")/.."
usage() {
    echo "usage: scripts/cpython-suite.sh [--jobs N] [TEST...]" >&2
    exit 2
}
jobs=$(nproc)
tests=()
while [ $# -gt 0 ]; do
    case $1 in
    --jobs) [ $# -ge 2 ] && [[ $2 =~ ^[1-9][0-9]*$ ]] || usage; jobs=$2; shift 2 ;;
    --jobs=*) jobs=${1#--jobs=}; [[ $jobs =~ ^[1-9][0-9]*$ ]] || usage; shift ;;
    -h | --help) sed -n '2,12p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    -*) echo "cpython-suite.sh: unknown option '$1'" >&2; usage ;;
    *) tests+=("$1"); shift ;;
    esac
done
library=$PWD/build/lib/libarena_malloc.so
[ -f "$library" ] || { echo "cpython-suite.sh: no $library: build first (cmake --build build)" >&2; exit 2; }
python=/usr/bin/python3
version=$("$python" -c 'import sys; print("%d.%d" % sys.version_info[:2])')
. scripts/deps.sh
deps_require "libpython$version-testsuite"

LD_PRELOAD=$library "$python" -c "import sys; sys.exit('libarena_malloc' not in open('/proc/self/maps').read())" ||
    { echo "cpython-suite.sh: $python does not load $library under LD_PRELOAD" >&2; exit 2; }

out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
# The tests named after "N tests failed:" (or "N test failed:"), one or more a line.
failed() { awk '/tests? failed:$/ { on = 1; next } on && /^ / { for (i = 1; i <= NF; i++) print $i; next } { on = 0 }' "$1" | sort -u; }
run() {  # run NAME [PRELOAD]: the suite's output in $out/NAME.log
    local name=$1 preload=${2:-}
    echo "== $name: $python -m test -j$jobs ${tests[*]:-(every test)}" >&2
    (cd "$out" && env ${preload:+LD_PRELOAD=$preload} "$python" -m test -j"$jobs" --timeout 600 -i '*VSOCK*' \
        ${tests[@]+"${tests[@]}"} >"$out/$name.log" 2>&1) || true
    grep -q "^Tests result:\|== Tests result:" "$out/$name.log" ||
        { echo "cpython-suite.sh: the $name run did not finish: $(tail -c 500 "$out/$name.log")" >&2; exit 2; }
    grep -E "^(All )?[0-9]+ tests? (OK|failed)" "$out/$name.log" | sed "s/^/   $name: /" >&2 || true
}
run arena "$library"
run glibc
failed "$out/arena.log" >"$out/arena.failed"
failed "$out/glibc.log" >"$out/glibc.failed"
only=$(comm -23 "$out/arena.failed" "$out/glibc.failed")
both=$(comm -12 "$out/arena.failed" "$out/glibc.failed" | tr '\n' ' ')
[ -z "$both" ] || echo "failing under both (the machine's): $both"
if [ -n "$only" ]; then
    echo "failing under arena alone: $(echo "$only" | tr '\n' ' ')"
    cp "$out/arena.log" cpython-suite-arena.log
    echo "(the arena run's output: cpython-suite-arena.log)"
    exit 1
fi
echo "no test fails under arena alone"
