# Sourced by bench.sh and test.sh: makes sure the Debian packages a job needs are
# installed. As root it installs what is missing with apt-get; otherwise it prints
# the exact apt-get line and stops (deps_require), or goes on without the optional
# ones (deps_want: comparators, which the drivers skip by themselves with a line
# saying so, and scipy, whose one test is then skipped).
#
# Packages and what each is for:
#   cmake make gcc g++             build
#   libgtest-dev                   GoogleTest, the unit and model tests
#   libbenchmark-dev               Google Benchmark, bench_replay and bench_micro
#   zlib1g-dev                     reading and writing .trace.gz
#   clang libclang-rt-14-dev       libFuzzer targets and the sanitizer runtimes
#   python3 python3-matplotlib     tools/ (compare, recommend, plot)
#   python3-scipy                  the test that checks tools/stats.py's p-values against
#                                  scipy's (optional; the tools never use scipy)
#   libjemalloc-dev libmimalloc-dev libgoogle-perftools-dev
#                                  comparator allocators (jemalloc, mimalloc, tcmalloc)
#   sqlite3 perl git valgrind      real programs under LD_PRELOAD, instruction counts,
#                                  memcheck tests
#   procps                         pgrep, in the tests of the real-program benchmark's timeout
#   hyperfine                      not needed; time is measured by our own driver

deps_missing=()
deps_find_missing() {  # sets deps_missing to those of PACKAGE... not installed
    local p
    deps_missing=()
    for p in "$@"; do
        dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' ||
            deps_missing+=("$p")
    done
}

deps_install() {  # as root; returns nonzero when apt-get could not install PACKAGE...
    echo "installing: $*" >&2
    export DEBIAN_FRONTEND=noninteractive
    apt-get install -y --no-install-recommends "$@" >/dev/null ||
        { apt-get update >/dev/null && apt-get install -y --no-install-recommends "$@" >/dev/null; }
}

deps_require() {  # deps_require PACKAGE...: exits 1 unless every one is (or gets) installed
    deps_find_missing "$@"
    [ ${#deps_missing[@]} -eq 0 ] && return 0
    if [ "$(id -u)" -ne 0 ]; then
        echo "missing Debian packages; run:" >&2
        echo "  sudo apt-get install -y ${deps_missing[*]}" >&2
        exit 1
    fi
    deps_install "${deps_missing[@]}" || { echo "apt-get could not install: ${deps_missing[*]}" >&2; exit 1; }
}

deps_want() {  # deps_want PACKAGE...: installs what it can, says what is missing, goes on
    deps_find_missing "$@"
    [ ${#deps_missing[@]} -eq 0 ] && return 0
    local left=() p
    if [ "$(id -u)" -eq 0 ]; then
        # One at a time: one apt-get for all fails for all when one is not to be had.
        for p in "${deps_missing[@]}"; do deps_install "$p" || left+=("$p"); done
    else
        left=("${deps_missing[@]}")
    fi
    [ ${#left[@]} -eq 0 ] && return 0
    echo "optional Debian packages missing, going on without them: ${left[*]}" >&2
    echo "  (to add them: sudo apt-get install -y ${left[*]})" >&2
}

DEPS_BUILD=(cmake make gcc g++ zlib1g-dev libgtest-dev libbenchmark-dev)
DEPS_TEST=(clang libclang-rt-14-dev python3 python3-matplotlib sqlite3 perl git valgrind procps)
DEPS_TEST_OPTIONAL=(python3-scipy)
DEPS_COMPARATORS=(libjemalloc-dev libmimalloc-dev libgoogle-perftools-dev)  # optional
DEPS_BENCH=(python3 python3-matplotlib valgrind sqlite3 perl git)
