#!/bin/sh
# usage_test.sh SOAK: a bad command line names what is wrong, prints the usage
# and exits 2 before anything runs; --help prints the usage and exits 0.
soak=$1
out=$("$soak" --help) || { echo "FAIL: --help exited $?"; exit 1; }
echo "$out" | grep -q '^usage: soak' || { echo "FAIL: --help printed: $out"; exit 1; }
check() {  # check WANTED ARG...
    wanted=$1
    shift
    err=$("$soak" "$@" 2>&1 >/dev/null)
    status=$?
    [ "$status" -eq 2 ] || { echo "FAIL: soak $* exited $status: $err"; exit 1; }
    echo "$err" | grep -qF -- "$wanted" || { echo "FAIL: soak $*: no '$wanted' in: $err"; exit 1; }
    echo "$err" | grep -q '^usage: soak' || { echo "FAIL: soak $*: no usage in: $err"; exit 1; }
}
check "unknown flag '--bogus'" --bogus
check "--threads takes a whole number from 1 to 1024, not 'abc'" --threads abc
check "--threads takes a whole number from 1 to 1024, not '0'" --threads 0
check "--ops takes a whole number from 0" --ops -5
check "--ops takes a whole number from 0" --ops 12x
check "--seed needs a value" --seed
check "--rss-slack takes MiB, 0 to 1000000, not 'lots'" --rss-slack lots
echo "ok"
