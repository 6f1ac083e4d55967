#!/usr/bin/env bash
# cli_test.sh ARENA_TRACE CASE [TRACES_DIR]: one check of the arena-trace command
# line per CASE (ctest runs each as its own test); the bundled_* cases check the
# traces in TRACES_DIR. Exits non-zero with a reason on failure.
set -u
bin=$1
case_name=$2
traces=${3:-}
. "$(dirname "$0")/../case_lib.sh"
printf 'arena-trace 1\na 1 10\nf 1\n' >"$dir/good.trace"
printf 'arena-trace 1\na 1 10\n\n# note\nr 2 5\n' >"$dir/bad.trace"

case $case_name in
bad_flag)
    for sub in validate stats gen record; do
        expect 2 "$bin" "$sub" --no-such-flag
        contains err "usage: arena-trace $sub"
        empty out
    done
    expect 2 "$bin" gen tiny --ops
    contains err "--ops needs a value"
    expect 2 "$bin" gen tiny --ops ten
    contains err "--ops takes an unsigned number, not 'ten'"
    expect 2 "$bin" gen tiny -o ''  # not stdout by accident
    contains err "-o needs a value, not ''"
    empty out
    expect 2 "$bin" gen tiny --ops 1  # cannot allocate and free
    contains err "--ops takes 2 to 4294967296"
    empty out
    # After --, a file whose name starts with '-' is a file
    cp "$dir/good.trace" "$dir/-x.trace"
    (cd "$dir" && exec "$bin" validate -- -x.trace) >"$dir/out" 2>"$dir/err" || fail "validate -- -x.trace: $(cat "$dir/err")"
    contains out "-x.trace: ok, 2 ops"
    (cd "$dir" && exec "$bin" stats -- -x.trace) >"$dir/out" 2>"$dir/err" || fail "stats -- -x.trace: $(cat "$dir/err")"
    contains out "trace        -x"
    expect 2 "$bin" validate --
    contains err "no FILE given"
    expect 2 "$bin" gen tiny --threads 2 -o "$dir/t.trace"
    contains err "--threads: workload 'tiny' runs on one thread (only 'threads' takes more)"
    expect 2 "$bin" gen no-such-workload
    contains err "unknown workload 'no-such-workload'"
    expect 2 "$bin" gen tiny --ops=
    contains err "--ops needs a value, not ''"
    expect 2 "$bin" gen tiny --ops=ten
    contains err "--ops takes an unsigned number, not 'ten'"
    expect 2 "$bin" gen tiny --opsx=10
    contains err "unknown option '--opsx=10'"
    expect 2 "$bin" record -- true
    contains err "-o FILE is required"
    expect 2 "$bin" record -o "$dir/r.trace" true
    contains err "unexpected 'true'"
    expect 2 "$bin" record -o "$dir/r.trace"
    contains err "no -- and COMMAND after -o FILE"
    for args in "-o" "-o -- true"; do
        expect 2 "$bin" record $args
        contains err "-o needs a FILE"
    done
    # the recorder's list of traces holds one path a line
    expect 2 "$bin" record -o "$dir/new
line.trace" -- true
    contains err "-o FILE may not hold a newline"
    [ ! -e "$dir/new
line.trace" ] || fail "a trace was written under a name with a newline"
    expect 2 "$bin" gen --list tiny
    contains err "--list takes no WORKLOAD or option"
    empty out
    expect 2 "$bin" frobnicate
    contains err "unknown command 'frobnicate'"
    contains err "usage: arena-trace COMMAND"
    expect 2 "$bin"
    contains err "usage: arena-trace COMMAND" ;;
bad_trace)
    expect 1 "$bin" validate "$dir/good.trace" "$dir/bad.trace"
    contains err "$dir/bad.trace:5: 'r 2': id 2 is not live"
    contains out "$dir/good.trace: ok, 2 ops"
    expect 1 "$bin" stats "$dir/bad.trace"
    contains err "$dir/bad.trace:5: "
    empty out
    expect 1 "$bin" validate "$dir/missing.trace"
    contains err "$dir/missing.trace: cannot read" ;;
validate_ok)
    "$bin" gen threads --ops 5000 -o "$dir/t.trace.gz" || fail "gen"
    expect 0 "$bin" validate "$dir/good.trace" "$dir/t.trace.gz"
    contains out "$dir/good.trace: ok, 2 ops (a 1, c 0, m 0, r 0, f 1), 1 thread, peak 10 live bytes, 1 live blocks at most"
    contains out "$dir/t.trace.gz: ok, 5000 ops"
    contains out "4 threads"
    empty err
    # by hand: 1000 bytes in one block peak first; two 1-byte blocks are the most blocks
    printf 'arena-trace 1\na 1 1000\nf 1\na 2 1\na 3 1\nf 2\nf 3\n' >"$dir/peaks.trace"
    expect 0 "$bin" validate "$dir/peaks.trace"
    contains out "$dir/peaks.trace: ok, 6 ops (a 3, c 0, m 0, r 0, f 3), 1 thread, peak 1000 live bytes, 2 live blocks at most"
    # what goes to stdout is the output: a stdout that cannot take it is a failure
    for args in "validate $dir/good.trace" "stats $dir/good.trace" "gen --list" "help"; do
        "$bin" $args >/dev/full 2>"$dir/err" && fail "arena-trace $args to a full stdout exited 0"
        contains err "arena-trace ${args%% *}: cannot write to stdout: No space left on device"
    done
    # ... help asked for by a flag too (it exited 0 with nothing said)
    for args in "--help" "-h" "gen -h" "stats --help"; do
        "$bin" $args >/dev/full 2>"$dir/err" && fail "arena-trace $args to a full stdout exited 0"
        contains err "cannot write to stdout: No space left on device"
    done ;;
out_of_memory)
    # A trace larger than the memory it may use (here /dev/zero, read until the
    # address space limit) is an error, not an abort by an uncaught exception.
    for sub in validate stats; do
        (ulimit -v 400000; exec "$bin" $sub /dev/zero) >"$dir/out" 2>"$dir/err"
        status=$?
        [ "$status" -eq 1 ] || fail "$sub /dev/zero exited $status: $(tail -c 500 "$dir/err")"
        contains err "arena-trace $sub: out of memory"
    done ;;
write_limits)
    # A file size limit: gen stops with the writer's message and leaves no
    # trace cut short (SIGXFSZ killed it mid-write, and what it left
    # validated); record's command still gets the disposition it had.
    for k in 1 5; do
        (ulimit -f $k; exec "$bin" gen lifo --ops 100000 -o "$dir/lim.trace") >"$dir/out" 2>"$dir/err"
        status=$?
        [ "$status" -eq 1 ] || fail "gen under ulimit -f $k exited $status: $(tail -c 300 "$dir/err")"
        contains err "lim.trace: cannot write: File too large"
        [ ! -e "$dir/lim.trace" ] || fail "gen under ulimit -f $k left $(wc -c <"$dir/lim.trace") bytes"
    done
    expect 0 "$bin" record -o "$dir/sig.trace" -- sh -c 'grep "^SigIgn" /proc/self/status'
    # SIGXFSZ is signal 25: bit 24 of the ignored set, in the mask's 7th hex digit from the right
    mask=$(sed 's/^SigIgn:[[:space:]]*//' "$dir/out")
    own=$(grep "^SigIgn" /proc/self/status | sed 's/^SigIgn:[[:space:]]*//')
    [ $(( (16#$mask >> 24) & 1 )) -eq $(( (16#$own >> 24) & 1 )) ] ||
        fail "record's command started with SIGXFSZ's disposition changed: $mask, not $own"
    # One message when stdout cannot be written, not a second with a made-up error
    "$bin" gen tiny --ops 100 >/dev/full 2>"$dir/err"
    [ $? -eq 1 ] || fail "gen to a full disk did not exit 1"
    [ "$(wc -l <"$dir/err")" -eq 1 ] || fail "not one message: $(cat "$dir/err")"
    contains err "cannot write to stdout: No space left on device"
    ;;
stats)
    expect 0 "$bin" stats "$dir/good.trace"
    for want in "ops          2 ops (a 1, c 0, m 0, r 0, f 1)" "peak live    10 bytes" "threads      1" \
                "8-15 B" "lifetimes (ops from allocation to free):" "1 ops"; do
        contains out "$want"
    done
    # every figure against a hand count: live bytes 1000 0 1 2 302 301 300 8,
    # peaking after op 1 (ops count from 1, as in FILE:LINE messages);
    # blocks at most 3 (after op 4); 'c 4 3 100' asks 300 bytes; f 3 is thread
    # 5 freeing thread 2's block; a 2 and a 3 live 3 ops each, a 1 one op
    printf 'arena-trace 1\na 1 1000\nf 1\na 2 1\nt 2\na 3 1\nc 4 3 100\nt 0\nf 2\nt 5\nf 3\nr 4 8\n' >"$dir/hand.trace"
    expect 0 "$bin" stats "$dir/hand.trace"
    for want in "ops          8 ops (a 3, c 1, m 0, r 1, f 3)" \
                "peak live    1000 bytes (0.00 MiB) after op 1; 3 blocks at most" \
                "never freed  1 blocks, 8 bytes" \
                "threads      3 (largest id 5); 1 frees of blocks another thread allocated" \
                "slots        3"; do
        contains out "$want"
    done
    for band in "1 B:2" "8-15 B:1" "256-511 B:1" "512-1023 B:1" "1 ops:1" "2-3 ops:2" "never freed:1"; do
        grep -qE "^  ${band%:*} +${band##*:}( |\$)" "$dir/out" || fail "stats lacks '${band%:*}' counted ${band##*:}: $(cat "$dir/out")"
    done
    # live bytes 10 15 55 50: the peak is reached by the third op, op 3
    printf 'arena-trace 1\na 1 10\na 2 5\na 3 40\nf 2\n' >"$dir/third.trace"
    expect 0 "$bin" stats "$dir/third.trace"
    contains out "peak live    55 bytes (0.00 MiB) after op 3; 3 blocks at most"
    # never a live byte: the peak is the start, op 0
    printf 'arena-trace 1\na 1 0\nf 1\n' >"$dir/nothing.trace"
    expect 0 "$bin" stats "$dir/nothing.trace"
    contains out "peak live    0 bytes (0.00 MiB) after op 0; 1 blocks at most" ;;
gen_deterministic)
    "$bin" gen phased --ops 3000 --seed 5 >"$dir/a.trace" || fail "gen to stdout"
    "$bin" gen phased --ops 3000 --seed 5 -o "$dir/b.trace" || fail "gen -o"
    "$bin" gen phased --ops 3000 --seed 6 -o "$dir/c.trace" || fail "gen -o"
    "$bin" gen phased --ops=3000 --seed=5 >"$dir/eq.trace" || fail "gen --ops=N --seed=S"
    cmp -s "$dir/a.trace" "$dir/eq.trace" || fail "--ops=N --seed=S differs from --ops N --seed S"
    "$bin" gen phased --ops 3000 --seed 5 -o "$dir/a.trace.gz" || fail "gen -o .gz"
    sleep 1
    "$bin" gen phased --ops 3000 --seed 5 -o "$dir/b.trace.gz" || fail "gen -o .gz"
    cmp -s "$dir/a.trace" "$dir/b.trace" || fail "stdout and -o differ"
    cmp -s "$dir/a.trace.gz" "$dir/b.trace.gz" || fail "two gzip runs differ"
    cmp -s "$dir/a.trace" "$dir/c.trace" && fail "seeds 5 and 6 give the same trace"
    [ "$(gzip -dc "$dir/a.trace.gz" | cmp - "$dir/a.trace" && echo same)" = same ] || fail "gzip content differs"
    [ "$(grep -c '^[acmrf] ' "$dir/a.trace")" -eq 3000 ] || fail "not 3000 ops"
    # an output that cannot be written says so
    expect 1 "$bin" gen phased --ops 3000 -o /dev/full
    contains err "arena-trace gen: /dev/full: cannot write: No space left on device"
    "$bin" gen phased --ops 3000 -o - >/dev/full 2>"$dir/err" && fail "gen to a full stdout exited 0"
    contains err "arena-trace gen: cannot write to stdout: No space left on device"
    # a file cut short by a size limit (EFBIG) is not left behind to be read as a shorter trace
    for cut in cut.trace cut.trace.gz; do
        (trap '' XFSZ; ulimit -f 4; exec "$bin" gen tiny --ops 20000 -o "$dir/$cut") 2>"$dir/err" && fail "gen over the size limit exited 0"
        contains err "arena-trace gen: $dir/$cut: cannot write: File too large"
        [ ! -e "$dir/$cut" ] || fail "$cut was left cut short ($(stat -c %s "$dir/$cut") bytes)"
    done ;;
gen_list)
    expect 0 "$bin" gen --list
    for w in tiny small medium large powerlaw realloc-grow lifo fifo random phased threads; do
        grep -q "^$w " "$dir/out" || fail "gen --list lacks $w"
    done ;;
help)
    expect 0 "$bin" --help
    contains out "usage: arena-trace COMMAND"
    for sub in validate stats gen record; do contains out "  $sub "; done
    for sub in validate stats gen record; do
        expect 0 "$bin" "$sub" --help
        contains out "usage: arena-trace $sub"
        expect 0 "$bin" help "$sub"
        contains out "usage: arena-trace $sub"
    done
    # -h or --help as an option's value is that value, not a call for help
    (cd "$dir" && exec "$bin" gen tiny -o -h) >"$dir/out" 2>"$dir/err" || fail "gen tiny -o -h: $(cat "$dir/err")"
    lacks out "usage:"
    "$bin" validate -- "$dir/-h" >/dev/null 2>&1 || fail "gen tiny -o -h wrote no valid trace named -h"
    expect 2 "$bin" gen tiny --seed --help
    contains err "--seed takes an unsigned number, not '--help'"
    lacks out "usage:"
    # ... but asked for after an option's value, it is
    expect 0 "$bin" gen tiny -o "$dir/x.trace" --help
    contains out "usage: arena-trace gen"
    # A -- is no option's value: record -o -- PROGRAM --help lacks its FILE
    expect 2 "$bin" record -o -- /bin/echo --help
    contains err "-o needs a FILE"
    lacks out "usage:"
    # Commands without options that take values: -h after -o is still help
    expect 0 "$bin" validate -o -h
    contains out "usage: arena-trace validate" ;;
record_bad_command)
    # A command that cannot be started writes nothing and leaves an earlier
    # trace of the same name as it was.
    expect 127 "$bin" record -o "$dir/x.trace" -- /nonexistent/program
    contains err "cannot run '/nonexistent/program': No such file or directory; nothing written"
    lacks err "wrote"
    for left in x.trace x.trace.tmp x.trace.files.tmp; do
        [ ! -e "$dir/$left" ] || fail "$left left behind"
    done
    "$bin" gen tiny --ops 100 --seed 1 -o "$dir/k.trace" >/dev/null || fail "gen"
    "$bin" gen tiny --ops 100 --seed 1 -o "$dir/k.trace.gz" >/dev/null || fail "gen"
    cp "$dir/k.trace" "$dir/k.before"
    cp "$dir/k.trace.gz" "$dir/k.gz.before"
    expect 127 "$bin" record -o "$dir/k.trace" -- /nonexistent/program
    cmp -s "$dir/k.trace" "$dir/k.before" || fail "the earlier k.trace was replaced"
    expect 127 "$bin" record -o "$dir/k.trace.gz" -- /nonexistent/program
    cmp -s "$dir/k.trace.gz" "$dir/k.gz.before" || fail "the earlier k.trace.gz was replaced"
    # a command that ran and failed still leaves its trace, over the earlier one
    expect 3 "$bin" record -o "$dir/k.trace" -- sh -c 'exit 3'
    contains err "the command exited with 3"
    cmp -s "$dir/k.trace" "$dir/k.before" && fail "k.trace was not replaced by the new recording"
    "$bin" validate "$dir/k.trace" >/dev/null || fail "no valid trace of a command that ran"
    [ ! -e "$dir/k.trace.tmp" ] && [ ! -e "$dir/k.trace.files.tmp" ] || fail "temporary files left: $(ls "$dir")"
    # an output that cannot be written stops record before the command runs
    mkdir "$dir/folder.trace"
    expect 1 "$bin" record -o "$dir/folder.trace" -- touch "$dir/ran"
    contains err "cannot write $dir/folder.trace: Is a directory"
    expect 1 "$bin" record -o "$dir/no/such/dir/x.trace" -- touch "$dir/ran"
    contains err "cannot write $dir/no/such/dir/x.trace"
    [ ! -e "$dir/ran" ] || fail "the command ran although its trace could not be written"
    [ ! -e "$dir/folder.trace.tmp" ] && [ ! -e "$dir/folder.trace.files.tmp" ] || fail "temporary files left: $(ls "$dir")" ;;
bundled_valid)
    n=$(ls "$traces"/*.trace.gz | wc -l)
    [ "$n" -ge 16 ] || fail "only $n bundled traces"
    expect 0 "$bin" validate "$traces"/*.trace.gz
    [ "$(grep -c ': ok, ' "$dir/out")" -eq "$n" ] || fail "not all $n valid"
    for f in "$traces"/*.trace.gz; do
        [ "$(stat -c %s "$f")" -le 8000000 ] || fail "$f is over 8 MB"
    done ;;
bundled_gen_reproduces)
    . "$traces/programs/manifest.sh"
    for w in "${GENERATED[@]}"; do
        # the text, not the gzip bytes (deflate is slow; its determinism is tested apart)
        "$bin" gen "$w" --seed 1 >"$dir/$w.trace" || fail "gen $w"
        gzip -dc "$traces/gen-$w.trace.gz" | cmp -s - "$dir/$w.trace" ||
            fail "gen $w no longer makes traces/gen-$w.trace.gz"
    done ;;
*) fail "unknown case" ;;
esac
echo "ok: $case_name"
