"""cortex.discovery.protocol: the wire types, as the interop suite has them."""
from cortex_legacy import (DiscoveryCommand, DiscoveryRequest, DiscoveryResponse,  # noqa: F401
                           DiscoveryStatus, TopicInfo)

__all__ = ["DiscoveryCommand", "DiscoveryRequest", "DiscoveryResponse", "DiscoveryStatus",
           "TopicInfo"]
