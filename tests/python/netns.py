"""Network namespaces for the partition and island tests: members on a
bridge of their own (no address of the test reachable from outside), links
cut and healed for real. Needs root (ip netns); CI runs as root."""
import os
import subprocess

SUBNET = "10.250.77"


def sh(*args):
    subprocess.run(args, check=True, capture_output=True, timeout=30)


class Netns:
    """Namespaces ns1..ns3 with SUBNET.1..3, a bridge namespace between them."""

    def __init__(self, n=3, outsider=False):
        tag = f"{os.getpid() % 100000}"
        self.bridge = f"dcbr{tag}"
        self.names = [f"dc{i}n{tag}" for i in range(1, n + 1)]
        if outsider:  # one more host on the same wire, SUBNET.9, not a member
            self.names.append(f"dc9n{tag}")
        sh("ip", "netns", "add", self.bridge)
        sh("ip", "netns", "exec", self.bridge, "ip", "link", "add", "br0", "type", "bridge")
        sh("ip", "netns", "exec", self.bridge, "ip", "link", "set", "br0", "up")
        for i, ns in enumerate(self.names, start=1):
            i = 9 if ns.startswith("dc9n") else i
            sh("ip", "netns", "add", ns)
            inner, outer = f"dcv{i}{tag}"[:15], f"dcb{i}{tag}"[:15]
            sh("ip", "link", "add", inner, "type", "veth", "peer", "name", outer)
            sh("ip", "link", "set", inner, "netns", ns)
            sh("ip", "link", "set", outer, "netns", self.bridge)
            sh("ip", "netns", "exec", self.bridge, "ip", "link", "set", outer, "master", "br0")
            sh("ip", "netns", "exec", self.bridge, "ip", "link", "set", outer, "up")
            sh("ip", "netns", "exec", ns, "ip", "addr", "add", f"{SUBNET}.{i}/24", "dev", inner)
            sh("ip", "netns", "exec", ns, "ip", "link", "set", inner, "up")
            sh("ip", "netns", "exec", ns, "ip", "link", "set", "lo", "up")
        self.tag = tag

    def cut(self, i):
        sh("ip", "netns", "exec", self.bridge, "ip", "link", "set", f"dcb{i}{self.tag}"[:15], "down")

    def heal(self, i):
        sh("ip", "netns", "exec", self.bridge, "ip", "link", "set", f"dcb{i}{self.tag}"[:15], "up")

    def close(self):
        for ns in self.names + [self.bridge]:
            subprocess.run(["ip", "netns", "del", ns], capture_output=True, timeout=30)
