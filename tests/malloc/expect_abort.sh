#!/usr/bin/env bash
# expect_abort.sh LIB REGEX -- COMMAND [ARGS...]
# Passes when COMMAND, with LIB preloaded, dies of SIGABRT after writing one
# line matching REGEX (an extended regex) to stderr.
set -u
lib=$1 regex=$2
shift 2
[ "${1:-}" = "--" ] && shift
err=$(LD_PRELOAD="$lib" "$@" 2>&1 >/dev/null)
status=$?
if [ "$status" -ne 134 ]; then
    echo "FAIL: exit status $status, expected 134 (SIGABRT); stderr: $err"
    exit 1
fi
if ! printf '%s\n' "$err" | grep -Eq "^$regex\$"; then
    echo "FAIL: stderr does not match '$regex': $err"
    exit 1
fi
echo "aborted as expected: $err"
