"""The start-up hook behind DISCOD_CORTEX=1 (deploy/python/discod-cortex.pth).

Imported at interpreter start only when DISCOD_CORTEX=1; it imports nothing
itself. It waits for Cortex's discovery client to be imported, and only then
imports discod.cortex and calls install(), so a Python process that never
uses Cortex pays for one small module and nothing else."""
import sys


class _Hook:
    def find_spec(self, fullname, path, target=None):
        if fullname != "cortex.discovery.client":
            return None
        sys.meta_path.remove(self)
        try:
            import discod.cortex
        except ImportError as e:  # discod or pyzmq missing: Cortex as it is
            sys.stderr.write(f"DISCOD_CORTEX=1, but discod.cortex cannot be imported ({e}): "
                             "Cortex keeps its own DiscoveryClient\n")
            return None
        discod.cortex.install()
        return discod.cortex._finder.find_spec(fullname, path, target)


sys.meta_path.insert(0, _Hook())
