"""Features job: derive the feature-store digest from the raw digest (stand-in for Qdrant)."""

from __future__ import annotations

import argparse
import hashlib
import sys

from components.common.contract import processing_output, write_json

FEATURE_VERSION = "features-v1"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="components.features")
    parser.add_argument("--raw-digest", required=True)
    args = parser.parse_args(argv)
    digest = hashlib.sha256(f"{FEATURE_VERSION}:{args.raw_digest}".encode()).hexdigest()
    write_json(processing_output("snapshot") / "snapshot.json", {"digest": digest})
    print(f"features: digest {digest[:12]}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
