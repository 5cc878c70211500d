"""ETL job: read the author's sources into MongoDB and publish a digest of the raw documents.

    python -m components.etl --sources "data/sample,git:.,https://example.com/post" --author "Ada"

Writes snapshot.json to the `snapshot` output: the digest of every raw document the store holds
(unchanged sources give the same digest, so later steps hit the cache) and this run's counts:
every input is stored (inserted, updated or unchanged), quarantined or skipped, with the reasons
counted (`skipped_reasons`, `quarantined_reasons`) and `inputs == stored + quarantined + skipped`.
No single input can end the job: one that fails in an unexpected way is quarantined with the
error, and the other sources and files are read as usual.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Iterator
from pathlib import Path

from components.common.contract import processing_output, write_json
from components.common.domain import Author, RawDocument, Rejected
from components.common.job import JobError, run_job
from components.etl.exports import FolderReader, Item, Skipped
from components.etl.files import display, error_line, is_unicode
from components.etl.repository import read_repository
from components.etl.sources import FOLDER, GIT, Source, parse_sources
from components.etl.web import DEFAULT_TIMEOUT_SECONDS, fetch_page

PROG = "etl"


def positive_seconds(raw: str) -> float:
    try:
        value = float(raw)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{raw!r} is not a number of seconds") from None
    if value <= 0:
        raise argparse.ArgumentTypeError(f"{raw!r}: expected seconds > 0")
    return value


def _items(source: Source, cwd: Path, author: Author, timeout: float) -> Iterator[Item | Skipped]:
    if source.kind == FOLDER:
        yield from FolderReader(cwd / source.location, source.location, author).read()
    elif source.kind == GIT:
        yield read_repository(source.location, cwd, author)
    else:
        yield fetch_page(source.location, author, timeout)


def read_sources(
    sources: list[Source], cwd: Path, author: Author, timeout: float
) -> tuple[list[RawDocument], list[Rejected], list[Skipped]]:
    documents: list[RawDocument] = []
    rejected: list[Rejected] = []
    skipped: list[Skipped] = []
    for source in sources:
        try:
            for item in _items(source, cwd, author, timeout):
                if isinstance(item, Skipped):
                    skipped.append(item)
                elif isinstance(item, Rejected):
                    rejected.append(item)
                else:
                    documents.append(item)
        except JobError:
            raise
        except Exception as exc:  # one source must never end the job
            # What the source gave before failing is kept; the failure itself is quarantined.
            where = display(source.location)
            rejected.append(Rejected(where, f"could not be read: {error_line(exc)}", where))
    return documents, rejected, skipped


def run(sources_spec: str, author_name: str, timeout: float, cwd: Path) -> dict:
    from components.common import mongo
    from components.common.settings import mongo_settings
    from components.etl import store

    if not author_name.strip():
        raise JobError("--author is empty")
    if not is_unicode(author_name):
        raise JobError(f"--author '{display(author_name)}' is not valid UTF-8 text")
    sources = parse_sources(sources_spec, cwd)
    db = mongo.connect(mongo_settings())
    author = Author(" ".join(author_name.split()))
    documents, rejected, skipped = read_sources(sources, cwd, author, timeout)
    counts = store.IngestCounts(inputs=len(documents) + len(rejected) + len(skipped))
    for item in skipped:
        counts.skip(item.reason)
    documents, unstorable = store.storable(documents)
    documents, conflicts = store.dedupe(documents, counts)
    rejected += unstorable + conflicts
    store.ensure_user(db, author)
    store.ingest(db, documents, counts)
    store.quarantine(db, rejected, counts)
    for item in skipped:
        print(f"{PROG}: skipped {item.location}: {item.reason}", flush=True)
    for item in rejected:
        print(f"{PROG}: quarantined {display(item.location)}: {display(item.reason)}", flush=True)
    digest, totals = mongo.raw_digest(db)
    if not sum(totals.values()):
        raise JobError(
            "no documents: the sources gave none and MongoDB holds none (check --sources)"
        )
    return {
        "digest": digest,
        "documents": sum(totals.values()),
        "by_type": totals,
        "author": author.full_name,
        "sources": [display(f"{s.kind}:{s.location}") for s in sources],
        **counts.as_dict(),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="components.etl")
    parser.add_argument("--sources", required=True, help="comma-separated folders, git:, URLs")
    parser.add_argument("--author", required=True, help="the author every document belongs to")
    parser.add_argument(
        "--http-timeout",
        type=positive_seconds,
        # A string default goes through `type` like a typed value: a bad ETL_HTTP_TIMEOUT is a
        # usage error, not a traceback.
        default=os.environ.get("ETL_HTTP_TIMEOUT", str(DEFAULT_TIMEOUT_SECONDS)),
        help="seconds allowed for each web page",
    )
    args = parser.parse_args(argv)
    if not any(part.strip() for part in args.sources.split(",")):
        # A usage error, answered like argparse's own (exit 2) before any store is touched.
        print(f"{PROG}: --sources names no source", file=sys.stderr)
        return 2

    def body() -> int:
        snapshot = run(args.sources, args.author, args.http_timeout, Path.cwd())
        write_json(processing_output("snapshot") / "snapshot.json", snapshot)
        print(
            f"{PROG}: {snapshot['inserted']} inserted, {snapshot['updated']} updated, "
            f"{snapshot['unchanged']} unchanged, {snapshot['quarantined']} quarantined, "
            f"{snapshot['skipped']} skipped; store holds "
            + ", ".join(f"{n} {t}" for t, n in snapshot["by_type"].items())
            + f"; digest {snapshot['digest'][:12]}",
            flush=True,
        )
        return 0

    return run_job(PROG, body)


if __name__ == "__main__":
    sys.exit(main())
