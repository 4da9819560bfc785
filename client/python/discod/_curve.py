"""CURVE for tcp endpoints from czmq certificate files (zcert's text format:
a ``curve`` section with ``public-key`` and, in ``FILE_secret``,
``secret-key``, both Z85). ipc endpoints never use CURVE."""
from __future__ import annotations

import os
import re
from typing import Dict, Optional

import zmq

_KEY = re.compile(r'^\s*(public-key|secret-key)\s*=\s*"([^"]{40})"\s*$')


def read_cert(path: str) -> Dict[str, str]:
    """The Z85 keys a czmq certificate file holds ({"public-key": ...})."""
    keys: Dict[str, str] = {}
    with open(path, encoding="utf-8") as f:
        for line in f:
            m = _KEY.match(line)
            if m:
                keys[m.group(1)] = m.group(2)
    if "public-key" not in keys:
        raise ValueError(f"{path}: not a czmq certificate (no public-key)")
    return keys


def apply_curve(sock: zmq.Socket, endpoint: str, server_key: Optional[str],
                client_key: Optional[str]) -> bool:
    """Makes sock a CURVE client of the daemon when both files are given and
    the endpoint is tcp (True then). The client certificate's secret is
    FILE_secret. Keys default to $DISCOD_SERVER_KEY and $DISCOD_CLIENT_KEY."""
    server_key = server_key or os.environ.get("DISCOD_SERVER_KEY") or None
    client_key = client_key or os.environ.get("DISCOD_CLIENT_KEY") or None
    if not endpoint.startswith("tcp://") or not (server_key and client_key):
        return False
    server = read_cert(server_key)["public-key"]
    mine = read_cert(client_key + "_secret")
    if "secret-key" not in mine:
        raise ValueError(f"{client_key}_secret has no secret-key")
    sock.setsockopt(zmq.CURVE_SERVERKEY, server.encode())
    sock.setsockopt(zmq.CURVE_PUBLICKEY, mine["public-key"].encode())
    sock.setsockopt(zmq.CURVE_SECRETKEY, mine["secret-key"].encode())
    return True
