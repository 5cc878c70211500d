"""A loopback stand-in for an Opik server that keeps every request the Opik SDK sends (method,
path, query, decoded JSON body) and answers the few reads the SDK makes before writing: the
prompt library (latest version, create version), datasets (get by name, create, the items it
was sent, streamed back when the SDK reads them to deduplicate), and the server version.
Everything else is accepted with 204.

Start it with `with FakeOpik() as opik:` and point the SDK at `opik.api_url`
(OPIK_URL_OVERRIDE)."""

from __future__ import annotations

import gzip
import json
import threading
import uuid
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

API = "/api/v1/private"


@dataclass
class Request:
    method: str
    path: str
    query: dict[str, list[str]]
    body: Any


@dataclass
class FakeOpik:
    requests: list[Request] = field(default_factory=list)
    prompts: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    datasets: dict[str, dict[str, Any]] = field(default_factory=dict)
    dataset_items: dict[str, dict[str, dict[str, Any]]] = field(default_factory=dict)  # by name, id
    # Path prefixes answered with `refuse_status`: 403, as for a wrong API key, which the SDK
    # does not retry (a 5xx it retries for ~10 s).
    refuse: set[str] = field(default_factory=set)
    refuse_status: int = 403

    def __post_init__(self) -> None:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: Any) -> None:
                pass

            def _body(self) -> Any:
                raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                if self.headers.get("Content-Encoding") == "gzip":
                    raw = gzip.decompress(raw)
                if not raw:
                    return None
                try:
                    return json.loads(raw)
                except ValueError:
                    return raw.decode("utf-8", "replace")

            def _handle(self) -> None:
                parts = urlsplit(self.path)
                request = Request(self.command, parts.path, parse_qs(parts.query), self._body())
                with fake.lock:
                    fake.requests.append(request)
                    status, payload = fake.answer(request)
                if isinstance(payload, bytes):
                    data, kind = payload, "application/octet-stream"
                else:
                    data = b"" if payload is None else json.dumps(payload).encode()
                    kind = "application/json"
                self.send_response(status)
                if data:
                    self.send_header("Content-Type", kind)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = _handle

        self.lock = threading.Lock()
        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def __enter__(self) -> FakeOpik:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()

    @property
    def api_url(self) -> str:
        return f"http://127.0.0.1:{self.httpd.server_address[1]}/api"

    # -- what the server answers -------------------------------------------------------------
    def answer(self, request: Request) -> tuple[int, Any]:
        path = request.path.removeprefix(API)
        if any(path.startswith(prefix) for prefix in self.refuse):
            return self.refuse_status, {"errors": ["refused by the test"]}
        if request.path == "/api/is-alive/ver":
            return 200, {"version": "2.2.8"}
        if request.path == "/api/is-alive/ping":
            # The SDK's connection monitor: anything but 200 makes it hold messages back for
            # a replay, and a test would miss what it sent.
            return 200, {}
        if path == "/prompts/versions/retrieve" and request.method == "POST":
            versions = self.prompts.get(request.body["name"])
            if not versions:
                return 404, {"errors": ["prompt not found"]}
            return 200, versions[-1]
        if path == "/prompts/versions" and request.method == "POST":
            return 200, self._new_prompt_version(request.body)
        if path == "/datasets/retrieve" and request.method == "POST":
            found = self.datasets.get(request.body["dataset_name"])
            return (200, found) if found else (404, {"errors": ["dataset not found"]})
        if path == "/datasets" and request.method == "POST":
            name = request.body["name"]
            self.datasets[name] = {"id": request.body.get("id") or str(uuid.uuid4()), "name": name}
            return 201, None
        if path == "/datasets/items" and request.method == "PUT":
            held = self.dataset_items.setdefault(request.body["dataset_name"], {})
            for item in request.body["items"]:
                held[item["id"]] = item
            return 204, None
        if path == "/datasets/items/stream" and request.method == "POST":
            # What the dataset holds, as newline-delimited JSON pages after the cursor.
            held = list(self.dataset_items.get(request.body["dataset_name"], {}).values())
            after = request.body.get("last_retrieved_id")
            if after is not None:
                ids = [item["id"] for item in held]
                held = held[ids.index(after) + 1 :] if after in ids else []
            page = held[: request.body.get("steam_limit") or len(held)]
            return 200, b"".join(json.dumps(item).encode() + b"\n" for item in page)
        if request.method == "GET":
            return 404, {"errors": ["not found"]}
        return 204, None

    def _new_prompt_version(self, body: dict[str, Any]) -> dict[str, Any]:
        name = body["name"]
        versions = self.prompts.setdefault(name, [])
        version_id = str(uuid.uuid4())
        detail = {
            **body["version"],
            "id": version_id,
            "prompt_id": versions[0]["prompt_id"] if versions else str(uuid.uuid4()),
            "commit": version_id[-8:],
            "version_number": f"v{len(versions) + 1}",
            "template_structure": body.get("template_structure") or "text",
            "type": body["version"].get("type") or "mustache",
        }
        versions.append(detail)
        return detail

    # -- what the SDK sent ------------------------------------------------------------------
    def sent(self, method: str, path: str) -> list[Any]:
        with self.lock:
            return [r.body for r in self.requests if r.method == method and r.path == API + path]

    def paths(self) -> list[str]:
        with self.lock:
            return [f"{r.method} {r.path}" for r in self.requests]
