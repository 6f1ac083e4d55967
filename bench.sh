#!/usr/bin/env bash
# usage: ./bench.sh [MODE] [--quick] [DRIVER-FLAGS...]: installs what is missing,
# builds Release (build/), runs a benchmark and writes its results to
# results/<host>/<date>-<commit>[-MODE]/ with facts.txt, REPORT.md and charts.
#
# Modes:
#   replay        (the default) trace replay: every bundled trace (traces/*.trace.gz) under every
#                 available allocator, 5 interleaved repetitions (4.5 to 9 minutes on
#                 2 cores, a first build included; up to 13 on a busy VM) -> replay.csv,
#                 replay.json, timeline.csv
#   --quick       the same, shorter: the first 20000 ops of each trace, throughput in
#                 2 repetitions and memory in the first, no latency pass and no
#                 timeline; an allocator (not glibc) whose first replay of a trace
#                 takes over 0.5 s is left out there (15 s to 50 s after the build: 16 s
#                 on an Intel Xeon VM whose page faults cost 2 us, 47 s on a 2.1 GHz
#                 VM whose page faults cost 12 us each, where glibc's replays of
#                 gen-large alone take 12 s); a smoke run: the targets are
#                 set on whole traces, and python-threads runs on one thread there
#   sweep         arena and seed over block sizes 8..4096 and region sizes 64K, 1M,
#                 4M on the first 100000 ops of each trace, 3 repetitions, plus
#                 tools/recommend.py's choice -> sweep.csv (5 to 9 minutes)
#   micro         bench_micro: malloc/free pairs, batches, realloc, calloc, reset,
#                 threads, producer/consumer -> micro.csv, micro.json (3.5 minutes)
#   realprog      real programs under each process malloc -> realprog.csv (5 to 7.5
#                 minutes)
#   instructions  instructions per replayed op under callgrind (deterministic),
#                 first 200000 ops of each trace -> replay.csv (8 to 21 minutes; slower
#                 beside other work)
# Other flags go to the driver (bench_replay for replay, sweep and instructions;
# bench_micro; bench_realprog), e.g. --allocators=arena,glibc --trace FILE, but
# not --csv, --json or --timeline: bench.sh names those. Columns: results/README.md.
set -euo pipefail
cd "$(dirname "$0")"

usage() { awk 'NR == 1 { next } /^#/ { sub(/^# ?/, ""); print; next } { exit }' "$0"; }  # the comment above

mode=""
quick=0
driver_flags=()
previous=""
while [ $# -gt 0 ]; do
    case "$1" in
        -h|--help) usage; exit 0 ;;
        --quick) quick=1 ;;
        replay|sweep|micro|realprog|instructions)
            [ -z "$mode" ] || { echo "bench.sh: one mode at a time" >&2; usage >&2; exit 2; }
            mode=$1 ;;
        --csv|--csv=*|--json|--json=*|--timeline|--timeline=*)
            echo "bench.sh: ${1%%=*}: bench.sh writes its files into the run's directory under results/;" \
                 "run build/bin/bench_* yourself to name them" >&2
            usage >&2; exit 2 ;;
        --check)
            echo "bench.sh: --check verifies and writes no results: run build/bin/bench_replay --check" >&2
            usage >&2; exit 2 ;;
        --?*) driver_flags+=("$1") ;;
        *)
            # The drivers take --name VALUE as well as --name=VALUE: a word after
            # a driver flag without '=' is its value, and the driver judges it.
            last=""
            [ ${#driver_flags[@]} -eq 0 ] || last=${driver_flags[${#driver_flags[@]}-1]}
            if [[ $last == --* && $last == "$previous" && $last != *=* ]]; then
                driver_flags+=("$1")
            else
                echo "bench.sh: unknown argument '$1'" >&2; usage >&2; exit 2
            fi ;;
    esac
    previous=$1
    shift
done
mode=${mode:-replay}
if [ "$quick" -eq 1 ] && [ "$mode" != replay ]; then
    echo "bench.sh: --quick is for the default replay run" >&2; usage >&2; exit 2
fi

. scripts/deps.sh
deps_require "${DEPS_BUILD[@]}" "${DEPS_BENCH[@]}"
deps_want "${DEPS_COMPARATORS[@]}"

started=$(date +%s)
echo "== building Release (build/)" >&2
cmake -S . -B build -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build build -j"$(nproc)" --target benchmarks >/dev/null

commit=$(git rev-parse --short=12 HEAD 2>/dev/null || echo unknown)
suffix=""
[ "$mode" = replay ] || suffix="-$mode"
[ "$quick" -eq 0 ] || suffix="-quick"
# A directory of its own, even for a second run in the same minute: a run
# that fails removes its directory, which must not be another run's.
out="results/$(hostname -s)/$(date -u +%Y-%m-%d-%H%M)-$commit$suffix"
mkdir -p "$(dirname "$out")"
base=$out
n=1
until mkdir "$out" 2>/dev/null; do
    n=$((n + 1))
    [ "$n" -le 100 ] || { echo "bench.sh: cannot make a directory $base-N under results/" >&2; exit 1; }
    out="$base-$n"
done
# Interrupted (ctrl-C, SIGTERM, SIGHUP) before the driver wrote its CSV, the run
# keeps no directory either: bash runs this once the driver has ended, and then
# ends by the same signal.
on_signal() {
    compgen -G "$out/*.csv" >/dev/null || { rm -rf "$out"; echo "bench.sh: interrupted; nothing kept" >&2; }
    trap - "$1"
    kill -s "$1" $$
}
for signal in INT TERM HUP; do trap "on_signal $signal" "$signal"; done
echo "== results go to $out" >&2

# The value of driver flag $1 (--name=VALUE or --name VALUE; the last one
# given), or $2 when it is not given.
driver_flag_value() {
    local value=$2 i flag
    for ((i = 0; i < ${#driver_flags[@]}; i++)); do
        flag=${driver_flags[$i]}
        if [[ $flag == "$1="* ]]; then
            value=${flag#*=}
        elif [[ $flag == "$1" && $((i + 1)) -lt ${#driver_flags[@]} ]]; then
            value=${driver_flags[$((i + 1))]}
        fi
    done
    echo "$value"
}

bin=build/bin
case "$mode" in
    replay)
        if [ "$quick" -eq 1 ]; then
            set -- "$bin/bench_replay" --repetitions=2 --max-ops=20000 --passes=throughput,memory --budget=0.5 --budget-all \
                --memory-repetitions=1 --csv="$out/replay.csv"
        else
            set -- "$bin/bench_replay" --csv="$out/replay.csv" --timeline="$out/timeline.csv"
        fi ;;
    sweep)
        # Up to 9 memory passes where the peaks spread, and never fewer than the
        # repetitions asked for (--memory-repetitions below them would leave the
        # last repetitions without one); a --memory-repetitions given wins.
        memory_repetitions=$(driver_flag_value --repetitions 3)
        [ "$memory_repetitions" -ge 9 ] 2>/dev/null || memory_repetitions=9
        set -- "$bin/bench_replay" --allocators=arena,seed --block-sizes=8,16,32,64,128,256,512,1024,2048,4096 \
            --region-sizes=64K,1M,4M --max-ops=100000 --repetitions=3 --passes=throughput,memory \
            --memory-repetitions="$memory_repetitions" --budget-all --csv="$out/sweep.csv" ;;
    instructions)
        set -- "$bin/bench_replay" --instructions --max-ops=200000 --budget=0 --csv="$out/replay.csv" ;;
    micro)
        set -- "$bin/bench_micro" --csv="$out/micro.csv" ;;
    realprog)
        set -- "$bin/bench_realprog" --csv="$out/realprog.csv" ;;
esac
set -- "$@" ${driver_flags[@]+"${driver_flags[@]}"}

# facts.txt: the machine and the software, beyond the CSV's `#` lines.
{
    echo "command: ./bench.sh $mode$([ "$quick" -eq 1 ] && echo " --quick")${driver_flags[*]:+ ${driver_flags[*]}}"
    echo "driver command: $*"
    echo "date: $(date -u +%Y-%m-%dT%H:%M:%SZ)"
    echo "commit: $commit$(git status --porcelain --untracked-files=no 2>/dev/null | grep -q . && echo ' (with uncommitted changes)')"
    echo "host: $(hostname -s)"
    echo "kernel: $(uname -srvm)"
    echo "os: $(. /etc/os-release && echo "$PRETTY_NAME")"
    echo "cpu: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ //')"
    echo "cores: $(nproc)"
    echo "memory: $(grep MemTotal /proc/meminfo | awk '{printf "%.1f GiB", $2/1048576}')"
    echo "transparent hugepages: $(cat /sys/kernel/mm/transparent_hugepage/enabled 2>/dev/null || echo unknown)"
    echo "clocksource: $(cat /sys/devices/system/clocksource/clocksource0/current_clocksource 2>/dev/null || echo unknown)"
    echo "load average at start: $(cut -d' ' -f1-3 /proc/loadavg)"
    echo "compiler: $(g++ --version | head -1)"
    echo "cmake: $(cmake --version | head -1)"
    for package in libc6 libjemalloc2 libmimalloc2.0 libgoogle-perftools4 libtcmalloc-minimal4 libbenchmark1debian valgrind; do
        version=$(dpkg-query -W -f='${Version}' "$package" 2>/dev/null || true)
        [ -n "$version" ] && echo "package $package: $version"
    done
    if [ -f build/lib/libarena_malloc.so ]; then echo "arena-malloc: build/lib/libarena_malloc.so"; else echo "arena-malloc: not built"; fi
} >"$out/facts.txt"

echo "== running: $*" >&2
status=0
"$@" | tee "$out/summary.txt" || status=${PIPESTATUS[0]}
# A driver that stopped before measuring (a bad flag, a missing trace, an
# unwritable output, an interrupt) wrote no CSV: keep no directory of facts alone.
if ! compgen -G "$out/*.csv" >/dev/null; then
    rm -rf "$out"
    echo "bench.sh: the driver wrote no results (exit status $status); nothing kept" >&2
    [ "$status" -ne 0 ] || status=1
    exit "$status"
fi
echo "took: $(( $(date +%s) - started )) s to build and measure (the report below not counted)" >>"$out/facts.txt"

if [ "$mode" = sweep ]; then
    /usr/bin/python3 tools/recommend.py "$out/sweep.csv" --goal balanced >"$out/recommendation.txt" || true
fi
echo "== report: /usr/bin/python3 tools/report.py $out" >&2
/usr/bin/python3 tools/report.py "$out" >&2 || echo "bench.sh: report.py failed (the CSV files are kept)" >&2
echo "results: $out ($(( $(date +%s) - started )) s with the report)" >&2
exit "$status"
