#!/usr/bin/env bash
# run_program.sh LIB WORKDIR -- COMMAND [ARGS...]
# Runs COMMAND twice in fresh copies of WORKDIR (may be "-"): on glibc, then
# with LIB preloaded. Passes when both exit the same way with the same output,
# and arena's statistics (ARENA_STATS=1) show it served the preloaded run.
set -u
lib=$1 workdir=$2
shift 2
[ "${1:-}" = "--" ] && shift
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

run() {  # run NAME ENV...: output in $tmp/NAME.out, .err, .status
    local name=$1
    shift
    mkdir -p "$tmp/$name"
    [ "$workdir" != "-" ] && cp -r "$workdir"/. "$tmp/$name/"
    (cd "$tmp/$name" && env "$@" "${cmd[@]}" >"$tmp/$name.out" 2>"$tmp/$name.err")
    echo $? >"$tmp/$name.status"
}

cmd=("$@")
run glibc PYTHONMALLOC=malloc
run arena PYTHONMALLOC=malloc LD_PRELOAD="$lib" ARENA_STATS=1
status=0
if ! cmp -s "$tmp/glibc.status" "$tmp/arena.status"; then
    echo "FAIL: exit status $(cat "$tmp/glibc.status") on glibc, $(cat "$tmp/arena.status") on arena"
    status=1
fi
if ! cmp -s "$tmp/glibc.out" "$tmp/arena.out"; then
    echo "FAIL: output differs from glibc's:"
    diff "$tmp/glibc.out" "$tmp/arena.out" | head -20
    status=1
fi
served=$(grep -c '^arena: pid [0-9]*: [1-9][0-9]* allocations' "$tmp/arena.err")
if [ "$served" -eq 0 ]; then
    echo "FAIL: arena did not serve the program (no statistics on stderr):"
    head -20 "$tmp/arena.err"
    status=1
fi
if grep -v '^arena: pid' "$tmp/arena.err" | grep -q '^arena:'; then
    echo "FAIL: arena reported a problem:"
    grep '^arena:' "$tmp/arena.err" | grep -v '^arena: pid' | head
    status=1
fi
echo "exit status $(cat "$tmp/arena.status"); $(wc -l <"$tmp/arena.out") lines of output, identical on both; arena served $served process(es)"
head -3 "$tmp/arena.out"
exit $status
