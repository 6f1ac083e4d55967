# Sourced by bench.sh and test.sh: makes sure the Debian packages a job needs are
# installed. As root it installs what is missing with apt-get; otherwise it prints
# the exact apt-get line and stops.
#
# Packages and what each is for:
#   cmake make gcc g++ pkg-config  build
#   libgtest-dev                   GoogleTest, the unit and model tests
#   libbenchmark-dev               Google Benchmark, bench_replay and bench_micro
#   zlib1g-dev                     reading and writing .trace.gz
#   clang libclang-rt-14-dev       libFuzzer targets and the sanitizer runtimes
#   python3 python3-matplotlib     tools/ (compare, recommend, plot)
#   python3-scipy                  exact p-values in tools/compare.py (optional)
#   libjemalloc-dev libmimalloc-dev libgoogle-perftools-dev
#                                  comparator allocators (jemalloc, mimalloc, tcmalloc)
#   sqlite3 perl git valgrind      real programs under LD_PRELOAD, instruction counts
#   hyperfine                      not needed; time is measured by our own driver

deps_require() {  # deps_require PACKAGE...
    local missing=() p
    for p in "$@"; do
        dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' ||
            missing+=("$p")
    done
    [ ${#missing[@]} -eq 0 ] && return 0
    if [ "$(id -u)" -ne 0 ]; then
        echo "missing Debian packages; run:" >&2
        echo "  sudo apt-get install -y ${missing[*]}" >&2
        exit 1
    fi
    echo "installing: ${missing[*]}" >&2
    export DEBIAN_FRONTEND=noninteractive
    apt-get install -y --no-install-recommends "${missing[@]}" >/dev/null ||
        { apt-get update >/dev/null && apt-get install -y --no-install-recommends "${missing[@]}" >/dev/null; } ||
        { echo "apt-get could not install: ${missing[*]}" >&2; exit 1; }
}

DEPS_BUILD=(cmake make gcc g++ pkg-config zlib1g-dev libgtest-dev libbenchmark-dev)
DEPS_TEST=(clang libclang-rt-14-dev python3 python3-matplotlib sqlite3 perl)
DEPS_COMPARATORS=(libjemalloc-dev libmimalloc-dev libgoogle-perftools-dev)
DEPS_BENCH=(python3 python3-matplotlib python3-scipy valgrind sqlite3 perl git)
