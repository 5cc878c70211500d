"""Web pages fetched over HTTP(S), one page per source, with a deadline on the whole fetch.

A page that answers with an error status, times out, cannot be reached, is not text or is empty
becomes a rejection with the reason; the run goes on with the other sources.
"""

from __future__ import annotations

import time
import urllib.error
import urllib.request
from email.message import Message
from pathlib import PurePosixPath
from typing import BinaryIO
from urllib.parse import urldefrag

from components.common.domain import Author, DocumentType, RawDocument, Rejected
from components.etl.exports import choose_type, encoding_reason
from components.etl.html_text import extract

DEFAULT_TIMEOUT_SECONDS = 10.0
MAX_PAGE_BYTES = 5 * 1024 * 1024
USER_AGENT = "llm-twin-etl/1.0"
TEXT_TYPES = {"text/html", "application/xhtml+xml", "text/plain", "text/markdown"}


class _Timeout(Exception):
    pass


def _read(response: BinaryIO, deadline: float) -> bytes:
    """The body, refusing to wait past `deadline` even for a server that trickles bytes."""
    chunks, size = [], 0
    while True:
        if time.monotonic() > deadline:
            raise _Timeout
        chunk = response.read(64 * 1024)
        if not chunk:
            return b"".join(chunks)
        size += len(chunk)
        if size > MAX_PAGE_BYTES:
            raise ValueError(f"page larger than {MAX_PAGE_BYTES} bytes")
        chunks.append(chunk)


def fetch_page(
    url: str, author: Author, timeout: float = DEFAULT_TIMEOUT_SECONDS
) -> RawDocument | Rejected:
    link, _ = urldefrag(url)
    headers = {"User-Agent": USER_AGENT, "Accept": "text/html,text/plain;q=0.9,*/*;q=0.1"}
    request = urllib.request.Request(link, headers=headers)
    deadline = time.monotonic() + timeout
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            received: Message = response.headers
            data = _read(response, deadline)
    except urllib.error.HTTPError as exc:
        return Rejected(link, f"HTTP {exc.code} {exc.reason}", link)
    except (_Timeout, TimeoutError):
        return Rejected(link, f"timeout after {timeout:g}s", link)
    except urllib.error.URLError as exc:
        if isinstance(exc.reason, TimeoutError):
            return Rejected(link, f"timeout after {timeout:g}s", link)
        return Rejected(link, f"unreachable: {exc.reason}", link)
    except (OSError, ValueError) as exc:
        return Rejected(link, f"unreadable: {exc}", link)
    content_type = received.get_content_type()
    if content_type not in TEXT_TYPES:
        return Rejected(link, f"unsupported content type {content_type}", link, data)
    charset = received.get_content_charset() or "utf-8"
    try:
        text = data.decode(charset)
    except (UnicodeDecodeError, LookupError) as exc:
        if isinstance(exc, LookupError):
            return Rejected(link, f"wrong encoding: unknown charset {charset!r}", link, data)
        return Rejected(link, encoding_reason(exc).replace("UTF-8", charset), link, data)
    if content_type in ("text/html", "application/xhtml+xml"):
        page = extract(text)
        body, title, explicit = page.text, page.title, page.meta.get("type", "")
    else:
        body, title, explicit = text.strip(), "", ""
    if not body.strip():
        return Rejected(link, "empty text", link, data)
    # A page has no folder, so the type is explicit (<meta name="type">) or by length.
    kind = choose_type(explicit, PurePosixPath("page"), body)
    if not isinstance(kind, DocumentType):
        return Rejected(link, kind, link, data)
    return RawDocument(
        type=kind,
        link=link,
        title=title or link,
        content=body.strip(),
        author=author,
        platform="web",
        source=link,
        metadata={"location": link, "content_type": content_type},
    )
