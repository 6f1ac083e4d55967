#!/bin/sh
# install_test.sh BUILD_DIR SOURCE_DIR WORK_DIR C_COMPILER CMAKE SOVERSION
#
# Installs the build into WORK_DIR/prefix as a user would (cmake --install),
# then builds the consumer project beside this script against it, once with
# find_package(arena) and once with plain -I/-L flags, and runs every program
# (the explicit API static and shared: libarena.so has soname
# libarena.so.SOVERSION and exports arena.h's functions alone);
# last, builds arena from SOURCE_DIR inside another project (add_subdirectory),
# without its example and then with it (ARENA_BUILD_EXAMPLES=ON).
set -eu
build=$1 source=$2 work=$3 cc=$4 cmake=$5 version=$6
here=$(cd "$(dirname "$0")" && pwd)
prefix=$work/prefix

rm -rf "$work"
mkdir -p "$work"
"$cmake" --install "$build" --prefix "$prefix" >/dev/null

echo "== find_package(arena CONFIG)"
"$cmake" -S "$here/consumer" -B "$work/consumer" -DCMAKE_PREFIX_PATH="$prefix" -DCMAKE_C_COMPILER="$cc" >/dev/null
"$cmake" --build "$work/consumer" >/dev/null
for program in explicit_c explicit_cxx explicit_shared dropin_shared dropin_static; do
    "$work/consumer/$program"
done
libdir=$(dirname "$(find "$prefix" -name libarena.a | head -n 1)")
# needs PROGRAM: the shared libraries it names (DT_NEEDED), one a line
needs() { readelf -d "$1" | sed -n 's/.*(NEEDED).*\[\(.*\)\]/\1/p'; }
# arena::arena stays static, arena::arena_shared is libarena.so by its soname
! needs "$work/consumer/explicit_c" | grep -q '^libarena\.' || { echo "explicit_c needs libarena.so" >&2; exit 1; }
soname=$(readelf -d "$libdir/libarena.so" | sed -n 's/.*(SONAME).*\[\(.*\)\]/\1/p')
[ "$soname" = "libarena.so.$version" ] || { echo "libarena.so's soname is '$soname'" >&2; exit 1; }
needs "$work/consumer/explicit_shared" | grep -qx "$soname" || { echo "explicit_shared does not need $soname" >&2; exit 1; }
# libarena.so exports the ARENA_API functions of arena.h, the drop-in's two aside, and nothing else
sed -n 's/^ARENA_API [^(]*[ *]\(arena_[a-z0-9_]*\)(.*/\1/p' "$prefix/include/arena.h" |
    grep -vx 'arena_malloc_stats\|arena_malloc_check' | sort >"$work/api"
nm -D --defined-only "$libdir/libarena.so" | awk '{ print $3 }' | sort >"$work/exported"
[ -s "$work/api" ] && cmp -s "$work/api" "$work/exported" ||
    { echo "libarena.so exports other than arena.h's API:" >&2; diff "$work/api" "$work/exported" >&2; exit 1; }
# ... and reaches its thread-local slots without __tls_get_addr (initial exec):
# a call per arena call otherwise, 50 instructions per malloc+free pair
! nm -D --undefined-only "$libdir/libarena.so" | grep -q '__tls_get_addr' ||
    { echo "libarena.so calls __tls_get_addr: not built initial-exec" >&2; exit 1; }

# Without CMake: the flags README.md gives. GNUInstallDirs may pick lib64.
echo "== -I/-L"
flags="-std=c11 -Wall -Wextra -pedantic -Werror -I$prefix/include"
"$cc" $flags "$here/consumer/explicit.c" -L"$libdir" -l:libarena.a -pthread -o "$work/plain_explicit"
"$work/plain_explicit"
! needs "$work/plain_explicit" | grep -q '^libarena\.' || { echo "plain_explicit needs libarena.so" >&2; exit 1; }
"$cc" $flags "$here/consumer/explicit.c" -L"$libdir" -larena -Wl,-rpath,"$libdir" -o "$work/plain_explicit_shared"
"$work/plain_explicit_shared"
needs "$work/plain_explicit_shared" | grep -qx "$soname" || { echo "-larena did not link $soname" >&2; exit 1; }
"$cc" $flags "$here/consumer/dropin.c" -L"$libdir" -larena_malloc -Wl,-rpath,"$libdir" -o "$work/plain_dropin"
"$work/plain_dropin"
"$cc" $flags "$here/consumer/dropin.c" "$libdir/libarena_malloc.a" -pthread -o "$work/plain_dropin_static"
"$work/plain_dropin_static"
# Built from source inside another project, on a machine without the test
# and benchmark libraries (find_package told not to find them).
echo "== add_subdirectory"
"$cmake" --no-warn-unused-cli -S "$here/subproject" -B "$work/subproject" -DARENA_SOURCE_DIR="$source" -DCMAKE_C_COMPILER="$cc" \
    -DCMAKE_DISABLE_FIND_PACKAGE_GTest=ON -DCMAKE_DISABLE_FIND_PACKAGE_benchmark=ON >/dev/null
"$cmake" --build "$work/subproject" --target explicit_c -j2 >/dev/null
"$work/subproject/explicit_c"
# ARENA_BUILD_EXAMPLES, off there by default, builds the example when asked for.
echo "== add_subdirectory, ARENA_BUILD_EXAMPLES=ON"
"$cmake" "$work/subproject" -DARENA_BUILD_EXAMPLES=ON >/dev/null
"$cmake" --build "$work/subproject" --target arena_example -j2 >/dev/null
"$(find "$work/subproject" -type f -name arena_example -perm -u+x | head -n 1)" --steps 2000 >/dev/null
echo "install test: ok"
