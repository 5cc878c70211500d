"""The web crawler against a loopback HTTP server with fixture pages."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from components.common.domain import Author, DocumentType, RawDocument, Rejected
from components.etl.__main__ import main as etl_main
from components.etl.web import fetch_page
from tests.components.conftest import Stores

ARTICLE = (
    "<html><head><title>Loopback article</title></head><body><header>site</header>"
    "<h1>Loopback article</h1>" + "<p>" + "A sentence about crawling with timeouts. " * 60 + "</p>"
    "<footer>footer</footer></body></html>"
)
PAGES: dict[str, tuple[int, str, bytes]] = {
    "/article": (200, "text/html; charset=utf-8", ARTICLE.encode()),
    "/post": (200, "text/html", b"<html><body><p>A short post about retries.</p></body></html>"),
    "/latin": (200, "text/plain; charset=iso-8859-1", "Caf\xe9 au lait.".encode("latin-1")),
    "/bad-bytes": (200, "text/html; charset=utf-8", b"<p>caf\xe9</p>"),
    "/empty": (200, "text/html", b"<html><body><script>x()</script></body></html>"),
    "/image": (200, "image/png", b"\x89PNG"),
}
SLOW_SECONDS = 2.0
TIMEOUT = 0.4


class Handler(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        if self.path == "/slow":
            time.sleep(SLOW_SECONDS)
        status, content_type, body = PAGES.get(self.path, (404, "text/html", b"not found"))
        try:
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
        except OSError:
            pass  # the client gave up (the timeout case)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture(scope="module")
def site() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


AUTHOR = Author("Ada Twin")


def test_pages_become_documents(site: str) -> None:
    article = fetch_page(f"{site}/article#section", AUTHOR, TIMEOUT)
    assert isinstance(article, RawDocument)
    assert (article.type, article.title, article.link) == (
        DocumentType.ARTICLES,
        "Loopback article",
        f"{site}/article",
    )
    assert "site" not in article.content and "footer" not in article.content
    post = fetch_page(f"{site}/post", AUTHOR, TIMEOUT)
    assert isinstance(post, RawDocument) and post.type == DocumentType.POSTS
    latin = fetch_page(f"{site}/latin", AUTHOR, TIMEOUT)
    assert isinstance(latin, RawDocument) and latin.content == "Café au lait."


@pytest.mark.parametrize(
    ("path", "reason"),
    [
        ("/missing", "HTTP 404 Not Found"),
        ("/slow", f"timeout after {TIMEOUT:g}s"),
        ("/empty", "empty text"),
        ("/image", "unsupported content type image/png"),
        ("/bad-bytes", "wrong encoding: not utf-8 (invalid continuation byte at byte 6)"),
    ],
)
def test_bad_pages_are_rejected_with_the_reason(site: str, path: str, reason: str) -> None:
    started = time.monotonic()
    result = fetch_page(f"{site}{path}", AUTHOR, TIMEOUT)
    assert isinstance(result, Rejected)
    assert (result.location, result.reason) == (f"{site}{path}", reason)
    assert time.monotonic() - started < SLOW_SECONDS  # never waits for the slow page


def test_an_unreachable_host_is_rejected() -> None:
    from tests.conftest import free_port

    result = fetch_page(f"http://127.0.0.1:{free_port()}/", AUTHOR, TIMEOUT)
    assert isinstance(result, Rejected) and result.reason.startswith("unreachable: ")


def test_etl_run_stores_pages_and_quarantines_failures(
    site: str, stores: Stores, capsys: pytest.CaptureFixture[str]
) -> None:
    sources = ",".join(f"{site}{path}" for path in ("/article", "/post", "/missing", "/slow"))
    argv = ["--sources", sources, "--author", "Ada Twin", "--http-timeout", str(TIMEOUT)]
    assert etl_main(argv) == 0, capsys.readouterr().err
    snapshot = stores.snapshot()
    assert (snapshot["inserted"], snapshot["quarantined"]) == (2, 2)
    quarantined = {row["location"]: row["reason"] for row in stores.db.quarantine.find()}
    assert quarantined == {
        f"{site}/missing": "HTTP 404 Not Found",
        f"{site}/slow": f"timeout after {TIMEOUT:g}s",
    }
    assert stores.db.articles.find_one()["platform"] == "web"

    assert etl_main(argv) == 0
    again = stores.snapshot()
    assert (again["inserted"], again["unchanged"], again["quarantined"]) == (0, 2, 2)
    assert stores.db.quarantine.count_documents({}) == 2
