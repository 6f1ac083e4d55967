# Sourced by the shell test drivers (tests/trace/cli_test.sh,
# tests/bench/bench_test.sh): a scratch directory and the checks they share.
# The driver sets case_name before sourcing.
dir=$(mktemp -d "${TMPDIR:-/tmp}/arena-case.XXXXXX")
trap 'rm -rf "$dir"' EXIT

fail() { echo "FAIL ($case_name): $*" >&2; exit 1; }
# expect CODE CMD...: runs CMD with stdout/stderr in $dir/out, $dir/err
expect() {
    local want=$1; shift
    "$@" >"$dir/out" 2>"$dir/err"
    local got=$?
    [ "$got" -eq "$want" ] || fail "'$*' exited $got, not $want; stderr: $(tail -c 1500 "$dir/err")"
}
contains() { grep -qF -- "$2" "$dir/$1" || fail "$1 lacks '$2': $(head -c 800 "$dir/$1")"; }
lacks() { ! grep -qF -- "$2" "$dir/$1" || fail "$1 has '$2': $(head -c 800 "$dir/$1")"; }
empty() { [ ! -s "$dir/$1" ] || fail "$1 is not empty: $(head -c 300 "$dir/$1")"; }
