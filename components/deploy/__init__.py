"""The deploy job; run as `python -m components.deploy`."""
