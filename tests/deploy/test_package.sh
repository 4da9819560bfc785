#!/usr/bin/env bash
# Builds the Debian package from the source tree and checks it: contents,
# control data and maintainer scripts, that the packaged daemon runs, that the
# cortex-discovery entry point starts it with Cortex's flags, that the
# packaged Python client talks to it, and that the
# systemd unit passes systemd-analyze verify.
# Usage: test_package.sh SOURCE_DIR
set -euo pipefail
source_dir=$1
work=$(mktemp -d /tmp/dc-deb-XXXXXX)
trap 'kill $(jobs -p) 2>/dev/null || true; rm -rf "$work"' EXIT
passed=0
check() { passed=$((passed + 1)); }

deb=$("$source_dir/deploy/build-deb.sh" "$work/build")
contents=$(dpkg-deb -c "$deb" | awk '{print $6}')
for f in ./usr/sbin/discod ./usr/sbin/cortex-discovery ./usr/bin/discoctl \
         ./usr/include/discod.h ./etc/discod/discod.conf ./lib/systemd/system/discod.service \
         ./usr/lib/tmpfiles.d/discod.conf ./usr/share/man/man8/discod.8 \
         ./usr/share/man/man1/discoctl.1 ./usr/lib/python3/dist-packages/discod/__init__.py \
         ./usr/lib/python3/dist-packages/discod/cortex.py \
         ./usr/lib/python3/dist-packages/discod/py.typed \
         ./usr/lib/python3/dist-packages/discod-cortex.pth \
         ./usr/lib/python3/dist-packages/_discod_cortex_hook.py; do
  grep -qx "$f" <<<"$contents" || { echo "missing from the package: $f"; exit 1; }
done
grep -q 'libdiscod.so.0$' <<<"$contents"
grep -q 'pkgconfig/discod.pc$' <<<"$contents"
check
info=$(dpkg-deb -I "$deb")
grep -q "Depends: libzmq5, libczmq4, libmsgpackc2, libsqlite3-0, libraft2, libuv1, libmicrohttpd12, adduser" <<<"$info"
grep -q "Recommends: python3, python3-zmq, python3-msgpack" <<<"$info"
dpkg-deb -e "$deb" "$work/control"
grep -qx /etc/discod/discod.conf "$work/control/conffiles"
grep -q "adduser --system" "$work/control/postinst"
grep -q "addgroup --system --quiet cortex" "$work/control/postinst"
sh -n "$work/control/postinst" && sh -n "$work/control/prerm" && sh -n "$work/control/postrm"
check

root=$work/root
dpkg-deb -x "$deb" "$root"
"$root/usr/sbin/discod" --version | grep -q "^discod 0.1.0"
check

# cortex-discovery with the Cortex daemon's flags, against the packaged daemon.
sock="ipc://$work/cd.sock"
DISCOD="$root/usr/sbin/discod" "$root/usr/sbin/cortex-discovery" --address "$sock" \
  --log-level CRITICAL --db "$work/cd.db" --events none 2> "$work/cd.log" &
for _ in $(seq 50); do
  "$root/usr/bin/discoctl" -e "$sock" --timeout-ms 200 --retries 1 ping > /dev/null 2>&1 && break
  sleep 0.1
done
"$root/usr/bin/discoctl" -e "$sock" ping | grep -q "protocol 2"
# The packaged Python client, as Debian's python3 imports it.
PYTHONPATH="$root/usr/lib/python3/dist-packages" /usr/bin/python3 -c \
  "import discod, discod.cortex; assert discod.Client('$sock').ping().protocol == 2; \
   assert discod.cortex.DiscoveryClient('$sock').ping()"
# The DISCOD_CORTEX=1 start-up hook, as site reads the package's .pth: with the
# variable, Cortex's own Publisher (tests/python/cortex_pkg) uses the drop-in;
# without it, the original.
for want in discod cortex; do
  if [ $want = discod ]; then flag=1; else flag=0; fi
  DISCOD_CORTEX=$flag PYTHONPATH="$source_dir/tests/python/cortex_pkg:$source_dir/tests/python" \
    /usr/bin/python3 -c "import site; site.addsitedir('$root/usr/lib/python3/dist-packages')
from cortex.core.publisher import DiscoveryClient
assert DiscoveryClient.__module__.split('.')[0] == '$want', DiscoveryClient.__module__"
done
kill %1
wait %1
check

# The unit, with ExecStart pointing into the extracted package.
sed "s|/usr/sbin/discod|$root/usr/sbin/discod|" "$root/lib/systemd/system/discod.service" \
  > "$work/discod.service"
systemd-analyze verify --man=no "$work/discod.service"
check
echo "package: $passed passed, 0 failed"
