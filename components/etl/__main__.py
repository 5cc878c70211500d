"""ETL job: take the author's sources and publish a digest of the raw documents.

Minimal stand-in honouring the processing contract; the MongoDB crawler replaces the body.
"""

from __future__ import annotations

import argparse
import hashlib
import sys
from pathlib import Path

from components.common.contract import processing_output, write_json


def snapshot_digest(sources: list[str]) -> tuple[str, int]:
    sha = hashlib.sha256()
    count = 0
    for source in sources:
        sha.update(source.encode() + b"\0")
        root = Path(source)
        for path in sorted(root.rglob("*")) if root.is_dir() else []:
            if path.is_file():
                sha.update(path.relative_to(root).as_posix().encode() + path.read_bytes())
                count += 1
    return sha.hexdigest(), count


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="components.etl")
    parser.add_argument("--sources", required=True)
    parser.add_argument("--author", required=True)
    args = parser.parse_args(argv)
    sources = [s.strip() for s in args.sources.split(",") if s.strip()]
    if not sources:
        print("etl: --sources names no source", file=sys.stderr)
        return 2
    digest, count = snapshot_digest(sources)
    write_json(
        processing_output("snapshot") / "snapshot.json",
        {"digest": digest, "documents": count, "author": args.author},
    )
    print(f"etl: {count} documents from {len(sources)} source(s), digest {digest[:12]}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
