"""Cortex, reduced to discovery, Publisher and Subscriber (see ../README.md)."""
