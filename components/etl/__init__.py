"""The etl job; run as `python -m components.etl`."""
