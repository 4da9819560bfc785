#!/usr/bin/env bash
# Installs the build into a temporary prefix and builds a program against the
# client library there, with pkg-config and with find_package.
# Usage: test_install.sh BUILD_DIR SOURCE_DIR
set -euo pipefail
build=$1
source=$2
prefix=$(mktemp -d)
trap 'rm -rf "$prefix"' EXIT
cmake --install "$build" --prefix "$prefix" > /dev/null
libdir=$(dirname "$(find "$prefix" -name discod.pc | head -1)")
libdir=$(dirname "$libdir")
test -f "$prefix/include/discod.h"
test -x "$prefix/bin/discoctl"
test -x "$prefix/sbin/discod"
readelf -d "$libdir/libdiscod.so" | grep -q "SONAME.*libdiscod.so.0"

# pkg-config, shared and static (the static library with the shared libzmq:
# Debian's libzmq.pc names archives it does not ship for --static).
export PKG_CONFIG_PATH="$libdir/pkgconfig"
cc -o "$prefix/pc_shared" "$source/tests/install/consumer/main.c" $(pkg-config --cflags --libs discod)
LD_LIBRARY_PATH="$libdir" "$prefix/pc_shared" | grep -q "^not found 5000$"
cc -o "$prefix/pc_static" "$source/tests/install/consumer/main.c" $(pkg-config --cflags discod) \
   "$libdir/libdiscod.a" $(pkg-config --libs libzmq msgpack) -pthread
"$prefix/pc_static" | grep -q "^not found 5000$"

# find_package
cmake -S "$source/tests/install/consumer" -B "$prefix/consumer-build" \
      -DCMAKE_PREFIX_PATH="$prefix" > /dev/null
cmake --build "$prefix/consumer-build" > /dev/null
LD_LIBRARY_PATH="$libdir" "$prefix/consumer-build/consumer_shared" | grep -q "^not found 5000$"
"$prefix/consumer-build/consumer_static" | grep -q "^not found 5000$"
echo "install test: 6 passed, 0 failed"
