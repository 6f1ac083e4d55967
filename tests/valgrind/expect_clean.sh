#!/bin/sh
# expect_clean.sh COMMAND...: COMMAND (valgrind and the probe) must exit 0,
# print "done", and memcheck must report no error. ctest's
# PASS_REGULAR_EXPRESSION alone ignores the exit status, and valgrind prints
# its summary even for a probe that aborted.
out=$("$@" 2>&1)
rc=$?
printf '%s\n' "$out"
[ "$rc" -eq 0 ] || { echo "FAIL: exit status $rc"; exit 1; }
printf '%s\n' "$out" | grep -qx 'done' || { echo "FAIL: the probe did not get to its end"; exit 1; }
printf '%s\n' "$out" | grep -q 'ERROR SUMMARY: 0 errors from 0 contexts' || { echo "FAIL: memcheck reported errors"; exit 1; }
