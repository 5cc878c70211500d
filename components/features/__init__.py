"""The features job; run as `python -m components.features`."""
