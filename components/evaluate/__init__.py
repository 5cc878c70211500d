"""The evaluate job; run as `python -m components.evaluate`."""
