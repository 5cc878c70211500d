"""The train job; run as `python -m components.train`."""
