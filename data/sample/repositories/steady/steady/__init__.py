"""steady: small, boring helpers for shipping models.

Each module is one idea and can be copied on its own; nothing here imports anything outside the
standard library.
"""

__version__ = "0.3.0"
