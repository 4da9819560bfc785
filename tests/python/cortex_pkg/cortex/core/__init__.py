"""cortex.core: Publisher and Subscriber."""
