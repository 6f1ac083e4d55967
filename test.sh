#!/usr/bin/env bash
# ./test.sh: installs what is missing, builds, and runs every test:
#   1. the Release build and the whole ctest suite          (build/)
#   2. the same suite under AddressSanitizer + UBSan         (build-asan/)
#   3. clang: libFuzzer, 30 s each: the trace reader, arena operations; and
#      arena-trace gen makes the bundled traces' bytes under clang too (build-fuzz/)
#   4. the thread tests under ThreadSanitizer                (build-tsan/)
# ./test.sh --fast runs step 1 only. Extra arguments after -- go to ctest.
set -euo pipefail
cd "$(dirname "$0")"
. scripts/deps.sh

fast=0
ctest_args=()
while [ $# -gt 0 ]; do
    case "$1" in
        --fast) fast=1 ;;
        --) shift; ctest_args=("$@"); break ;;
        -h|--help) sed -n '2,8p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
        *) echo "usage: ./test.sh [--fast] [-- CTEST-ARGS...]" >&2; exit 2 ;;
    esac
    shift
done

deps_require "${DEPS_BUILD[@]}" "${DEPS_TEST[@]}"
deps_want "${DEPS_COMPARATORS[@]}" "${DEPS_TEST_OPTIONAL[@]}"
jobs=$(nproc)

step() { printf '\n== %s\n' "$*"; }

step "Release build and tests (build/)"
cmake -S . -B build -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build build -j"$jobs"
ctest --test-dir build --output-on-failure -j"$jobs" "${ctest_args[@]}"
[ "$fast" -eq 1 ] && exit 0

# Sanitizer builds skip what cannot run under a sanitizer: programs with arena
# preloaded as their malloc (the sanitizer runtime owns malloc there), and
# comparator allocators linked in as the process malloc; and the results tools'
# tests (label tools), Python alone, which step 1 ran and no sanitizer sees.
step "AddressSanitizer + UBSan build and tests (build-asan/)"
cmake -S . -B build-asan -DCMAKE_BUILD_TYPE=Debug -DCMAKE_C_FLAGS=-O1 -DCMAKE_CXX_FLAGS=-O1 \
      -DARENA_SANITIZE=address,undefined -DARENA_BUILD_BENCH=ON >/dev/null
cmake --build build-asan -j"$jobs"
ctest --test-dir build-asan --output-on-failure -j"$jobs" -LE '^(no-sanitizer|tools)$' "${ctest_args[@]}"

step "Fuzz the trace reader and the allocator's operations, 30 s each, with libFuzzer (build-fuzz/)"
cmake -S . -B build-fuzz -DCMAKE_C_COMPILER=clang -DCMAKE_CXX_COMPILER=clang++ -DARENA_BUILD_FUZZ=ON \
      -DARENA_BUILD_TESTS=OFF >/dev/null
cmake --build build-fuzz --target fuzz_trace_reader fuzz_arena_ops arena-trace -j"$jobs"
mkdir -p build-fuzz/corpus build-fuzz/corpus-arena-ops
build-fuzz/bin/fuzz_trace_reader -max_total_time=30 -max_len=4096 -dict=bench/trace/fuzz.dict \
    -artifact_prefix=build-fuzz/ build-fuzz/corpus bench/trace/fuzz-corpus 2>&1 | tail -3
build-fuzz/bin/fuzz_arena_ops -max_total_time=30 -max_len=4096 -timeout=60 \
    -artifact_prefix=build-fuzz/ build-fuzz/corpus-arena-ops fuzz/corpus/arena_ops 2>&1 | tail -3

# The generated traces are committed: a generator whose draws depend on the
# compiler (two in one call's arguments, whose order is the compiler's) made
# other bytes under clang than under GCC.
bash tests/trace/cli_test.sh build-fuzz/bin/arena-trace bundled_gen_reproduces traces

step "ThreadSanitizer build, thread tests (build-tsan/)"
cmake -S . -B build-tsan -DCMAKE_BUILD_TYPE=Debug -DCMAKE_C_FLAGS=-O1 -DCMAKE_CXX_FLAGS=-O1 \
      -DARENA_SANITIZE=thread -DARENA_BUILD_BENCH=OFF >/dev/null
cmake --build build-tsan -j"$jobs"
# With no filter of the caller's, a step that selects no test is an error:
# a label gone from the thread tests would otherwise pass it unseen.
no_tests=error
[ "${#ctest_args[@]}" -eq 0 ] || no_tests=ignore
ctest --test-dir build-tsan --output-on-failure -j"$jobs" -L threads -LE 'no-sanitizer' \
      --no-tests="$no_tests" "${ctest_args[@]}"
printf '\nall tests passed\n'
