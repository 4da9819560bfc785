#!/usr/bin/env bash
# Installs what discod needs to build and test on Debian 12 (bookworm).
# Run as root, or as a user with sudo. Safe to run again.
set -euo pipefail
SUDO=""
if [ "$(id -u)" != 0 ]; then SUDO="sudo"; fi
PACKAGES=(build-essential cmake pkg-config
          libzmq3-dev libczmq-dev libmsgpack-dev libsqlite3-dev libraft-dev libuv1-dev
          libmicrohttpd-dev
          python3-zmq python3-msgpack python3-pytest
          graphviz prometheus chromium)  # the tests check discoctl graph --format dot with
                                         # Graphviz, /metrics with Prometheus, the dashboard
                                         # in a headless Chromium
missing=()
for p in "${PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get update -qq
  $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi
