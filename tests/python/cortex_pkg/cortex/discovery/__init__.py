"""Discovery module for Cortex framework."""
from .client import DEFAULT_DISCOVERY_ADDRESS, DiscoveryClient
from .protocol import DiscoveryCommand, DiscoveryStatus, TopicInfo

__all__ = ["DEFAULT_DISCOVERY_ADDRESS", "DiscoveryClient", "DiscoveryCommand",
           "DiscoveryStatus", "TopicInfo"]
