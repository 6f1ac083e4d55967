#!/usr/bin/env bash
# env_settings.sh LIB PROGRAM: the drop-in's environment variables, read at the
# first allocation of PROGRAM (which allocates and exits 0) with LIB preloaded.
# Each setting shows in ARENA_VERBOSE's line; a bad value gets one line naming
# the range README.md gives, and the default.
set -u
lib=$1 program=$2
case_name=env_settings
. "$(dirname "$0")/../case_lib.sh"
run() {  # run VAR=VALUE...: the program under those settings, ARENA_VERBOSE on
    expect 0 env LD_PRELOAD="$lib" ARENA_VERBOSE=1 "$@" "$program"
}
run
contains err "arena: drop-in malloc, block_size 16, region_size 4194304, huge pages from 67108864, populate up to 262144, pid "
run ARENA_BLOCK_SIZE=64 ARENA_REGION_SIZE=1m
contains err "arena: drop-in malloc, block_size 64, region_size 1048576, huge pages from 67108864, populate up to 262144, pid "
run ARENA_BLOCK_SIZE=64k ARENA_REGION_SIZE=1g ARENA_HUGE_PAGES_FROM=100m ARENA_CHECKED=1 ARENA_SECURE=1
contains err "arena: drop-in malloc, block_size 65536, region_size 1073741824, huge pages from 104857600, populate up to 262144, checked, secure, pid "
run ARENA_HUGE_PAGES_FROM=never
contains err ", huge pages from never, populate up to 262144, pid "
run ARENA_HUGE_PAGES_FROM=0
contains err ", huge pages from 67108864, populate up to 262144, pid "
run ARENA_HUGE_PAGES_FROM=12345
contains err ", huge pages from 12345, populate up to 262144, pid "
for bad in 8 100 128k 16q -16 ""; do
    run ARENA_BLOCK_SIZE="$bad"
    contains err "arena: ignoring ARENA_BLOCK_SIZE=$bad: not a power of two from 16 to 65536 (suffixes k, m, g); using the default"
    contains err "block_size 16,"
    [ "$(grep -c '^arena:' "$dir/err")" -eq 2 ] || fail "ARENA_BLOCK_SIZE=$bad: not two lines: $(cat "$dir/err")"
done
for bad in 32k 2g 3m; do
    run ARENA_REGION_SIZE="$bad"
    contains err "arena: ignoring ARENA_REGION_SIZE=$bad: not a power of two from 65536 to 1073741824 (suffixes k, m, g); using the default"
    contains err "region_size 4194304,"
done
run ARENA_POPULATE_MAX=0
contains err ", populate up to 0, pid "
run ARENA_POPULATE_MAX=0k
contains err ", populate up to 0, pid "
lacks err "ignoring"
run ARENA_POPULATE_MAX=16m
contains err ", populate up to 16777216, pid "
for bad in 17m 16q -1 never ""; do
    run ARENA_POPULATE_MAX="$bad"
    contains err "arena: ignoring ARENA_POPULATE_MAX=$bad: not a size from 0 to 16777216 (suffixes k, m, g); using the default"
    contains err ", populate up to 262144, pid "
done
for bad in 16q -1 nevermore ""; do
    run ARENA_HUGE_PAGES_FROM="$bad"
    contains err "arena: ignoring ARENA_HUGE_PAGES_FROM=$bad: not a size (suffixes k, m, g) or never; using the default"
    contains err ", huge pages from 67108864, populate up to 262144, pid "
done
# The statistics at exit, also when the program closed stderr before (coreutils
# do, in an atexit handler); ARENA_STATS=0 is off.
expect 0 env LD_PRELOAD="$lib" ARENA_STATS=1 "$program"
contains err "allocations, "
expect 0 env LD_PRELOAD="$lib" ARENA_STATS=0 "$program"
lacks err "arena:"
expect 0 env LD_PRELOAD="$lib" ARENA_STATS=1 "$program" --close-stderr
contains err "allocations, "
# ... and not into a file the program opened under the copy's number
expect 0 env LD_PRELOAD="$lib" ARENA_STATS=1 "$program" --reuse-descriptors "$dir/other"
contains err "allocations, "
empty other
# Free pages go back in batches, one process_madvise each through a pidfd kept
# in the top quarter of the descriptor table (512 and up in tables of 1024 or
# more), which it does not grow, where the kernel has the call;
# ARENA_PURGE_BATCH=0 opens no pidfd (a plain madvise per range, for sandboxes
# that kill on the call).
expect 0 env LD_PRELOAD="$lib" "$program" --purge
if grep -qx "batch works" "$dir/out"; then
    awk '$1 == "fdsize" { size = $2; after = $3 } $1 == "pidfd" { fd = $2 }
         END { floor = size - int(size / 4); if (floor > 512) floor = 512
               exit !(size > 0 && after == size && fd != "" && fd >= floor && fd < size) }' "$dir/out" ||
        fail "no pidfd in the descriptor table's top quarter, or the table grew: $(cat "$dir/out")"
fi
[ "$(grep -c '^pidfd' "$dir/out")" -le 1 ] || fail "more than one pidfd: $(cat "$dir/out")"
# Under a low RLIMIT_NOFILE the quarter is of what the limit lets the process
# open: before, the pidfd could not move up to the table's quarter and stayed
# at the program's first free number (3); a limit too low for a quarter above
# 15 gets none.
for limit in 40 12; do
    expect 0 bash -c "ulimit -n $limit && exec env LD_PRELOAD='$lib' '$program' --purge"
    awk -v limit="$limit" '$1 == "pidfd" { seen = 1; if ($2 < limit - int(limit / 4) || limit < 21) bad = 1 }
                           $0 == "batch works" { batch = 1 }
                           END { exit bad || (batch && limit >= 21 && !seen) }' "$dir/out" ||
        fail "ulimit -n $limit: no pidfd in the top quarter of the limit, or one below it: $(cat "$dir/out")"
done
expect 0 env LD_PRELOAD="$lib" ARENA_PURGE_BATCH=0 "$program" --purge
lacks out "pidfd"
echo "ok"
