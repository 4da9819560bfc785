#!/usr/bin/python3
"""A node with its own DiscoveryClient on discod: the one line that changes is the import
(Cortex's own Publisher and Subscriber need discod.cortex.install(), see client/python/README.md).

    # from cortex.discovery.client import DiscoveryClient, TopicInfo
    from discod.cortex import DiscoveryClient, TopicInfo

The publisher binds a PUB socket and registers it; the registration hangs on
a lease the client keeps alive, so if this process crashes its topic is gone
within the lease TTL. The subscriber's wait is held by the daemon.

Usage: cortex_node.py pub DISCOVERY TOPIC ADDRESS COUNT
       cortex_node.py sub DISCOVERY TOPIC COUNT"""
import sys
import time

import zmq

from discod.cortex import DiscoveryClient, TopicInfo


def publish(discovery, topic, address, count):
    ctx = zmq.Context.instance()
    pub = ctx.socket(zmq.PUB)
    pub.bind(address)
    with DiscoveryClient(discovery) as client:
        if not client.register_topic(TopicInfo(topic, address, "example.Text", 7, "py-publisher")):
            sys.exit("could not register " + topic)
        for i in range(count * 20):  # a late subscriber still gets `count` of them
            pub.send_multipart([topic.encode(), f"hello {i}".encode()])
            time.sleep(0.05)
        client.unregister_topic(topic)
    pub.close(0)


def subscribe(discovery, topic, count):
    with DiscoveryClient(discovery) as client:
        info = client.wait_for_topic(topic, timeout=15.0)
        if info is None:
            sys.exit(f"{topic} did not appear")
        print(f"{topic} is at {info.address} (node {info.publisher_node})", flush=True)
    sub = zmq.Context.instance().socket(zmq.SUB)
    sub.setsockopt(zmq.SUBSCRIBE, topic.encode())
    sub.connect(info.address)
    for _ in range(count):
        if not sub.poll(5000):
            sys.exit("no message")
        print("subscriber:", sub.recv_multipart()[1].decode(), flush=True)
    sub.close(0)


if __name__ == "__main__":
    if len(sys.argv) == 6 and sys.argv[1] == "pub":
        publish(sys.argv[2], sys.argv[3], sys.argv[4], int(sys.argv[5]))
    elif len(sys.argv) == 5 and sys.argv[1] == "sub":
        subscribe(sys.argv[2], sys.argv[3], int(sys.argv[4]))
    else:
        sys.exit(__doc__)
