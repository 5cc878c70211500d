"""The dataset job; run as `python -m components.dataset`."""
