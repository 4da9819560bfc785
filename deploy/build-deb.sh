#!/usr/bin/env bash
# Builds the Debian package from this tree into BUILD_DIR (default build-deb):
# daemon, discoctl, client library with headers and pkg-config/CMake files,
# the systemd unit, /etc/discod/discod.conf, man pages, cortex-discovery.
# Prints the path of the .deb.
set -euo pipefail
source_dir=$(cd "$(dirname "$0")/.." && pwd)
build_dir=${1:-$source_dir/build-deb}
cmake -S "$source_dir" -B "$build_dir" -DCMAKE_BUILD_TYPE=Release \
      -DCMAKE_INSTALL_PREFIX=/usr -DDISCOD_PACKAGE=ON -DDISCOD_FAILPOINTS=OFF > /dev/null
cmake --build "$build_dir" -j > /dev/null
(cd "$build_dir" && cpack -G DEB > /dev/null)
ls "$build_dir"/discod_*.deb
