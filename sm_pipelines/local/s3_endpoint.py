"""A loopback S3 endpoint over the state folder: `s3://<bucket>/<key>` is the file
`<state>/s3/<bucket>/<key>`.

Code that talks to S3 through boto3 (the SageMaker SDK's remote-function runtime, a user's own
`boto3.client("s3")`, the SDK uploading a `@step`'s function when a definition is built) is
pointed here with `AWS_ENDPOINT_URL_S3` (or a client's `endpoint_url`), and reads and writes the
state folder directly: nothing is copied in before or synced back after, concurrent jobs see one
another's writes as they would in S3, and a large model artifact is never held in memory.

The REST subset boto3 and the SDK use, path-style (botocore uses path style for an IP
endpoint): ListBuckets, Create/Head/DeleteBucket, GetBucketLocation, ListObjects (v1 and v2,
prefix, delimiter, pagination), Put/Get (with Range)/Head/Delete/CopyObject, DeleteObjects and
multipart uploads. Signatures are not checked (it listens on 127.0.0.1 only), object metadata
and tags are not kept, ETags are the MD5 of the content. A key that is both an object and a
prefix of other keys (`a` and `a/b`) cannot exist in a folder tree and is refused (409).
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import shutil
import sys
import tempfile
import threading
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from email.utils import formatdate
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, quote, unquote, urlsplit
from xml.etree import ElementTree
from xml.sax.saxutils import escape

NS = "http://s3.amazonaws.com/doc/2006-03-01/"
_TMP_PREFIX = ".s3-endpoint-"
_CHUNK = 1 << 20


class S3Error(Exception):
    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status, self.code, self.message = status, code, message


def _iso(timestamp: float) -> str:
    return datetime.fromtimestamp(timestamp, UTC).strftime("%Y-%m-%dT%H:%M:%S.000Z")


def _etag(path: Path) -> str:
    digest = hashlib.md5(usedforsecurity=False)
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(_CHUNK), b""):
            digest.update(block)
    return f'"{digest.hexdigest()}"'


def _xml(root: str, body: str) -> bytes:
    return f'<?xml version="1.0" encoding="UTF-8"?>\n<{root} xmlns="{NS}">{body}</{root}>'.encode()


def _tag(name: str, value: Any) -> str:
    return f"<{name}>{escape(str(value))}</{name}>"


class _Store:
    """Objects as files under `root/<bucket>/<key>`; multipart parts under `uploads`."""

    def __init__(self, root: Path) -> None:
        self.root = root.resolve()
        self.uploads = self.root.parent / ".s3-multipart"

    def bucket(self, name: str, must_exist: bool = True) -> Path:
        if not name or "/" in name or name in (".", ".."):
            raise S3Error(400, "InvalidBucketName", f"invalid bucket name {name!r}")
        path = self.root / name
        if must_exist and not path.is_dir():
            raise S3Error(404, "NoSuchBucket", f"the bucket {name} does not exist")
        return path

    def object(self, bucket: str, key: str) -> Path:
        base = self.bucket(bucket)
        path = (base / key).resolve()
        if not key or not path.is_relative_to(base.resolve()) or path == base.resolve():
            raise S3Error(400, "InvalidArgument", f"key {key!r} is outside its bucket")
        return path

    def read(self, bucket: str, key: str) -> Path:
        path = self.object(bucket, key)
        if not path.is_file():
            raise S3Error(404, "NoSuchKey", f"s3://{bucket}/{key} does not exist")
        return path

    def write(self, bucket: str, key: str, chunks: Iterator[bytes]) -> Path:
        path = self.object(bucket, key)
        if key.endswith("/"):  # a folder marker, as consoles and some tools create them
            for _ in chunks:
                pass
            path.mkdir(parents=True, exist_ok=True)
            return path
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
        except (FileExistsError, NotADirectoryError):
            raise S3Error(409, "KeyConflict", f"a prefix of {key!r} is an object") from None
        if path.is_dir():
            raise S3Error(409, "KeyConflict", f"{key!r} is a prefix of other objects")
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=_TMP_PREFIX)
        try:
            with os.fdopen(fd, "wb") as handle:
                for chunk in chunks:
                    handle.write(chunk)
            os.replace(tmp, path)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
            raise
        return path

    def delete(self, bucket: str, key: str) -> None:
        path = self.object(bucket, key)
        if path.is_file():
            path.unlink()
        elif key.endswith("/") and path.is_dir() and not any(path.iterdir()):
            path.rmdir()
        base = self.bucket(bucket).resolve()
        parent = path.parent
        # S3 has no folders: a prefix with nothing left under it disappears.
        while parent != base and parent.is_dir() and not any(parent.iterdir()):
            parent.rmdir()
            parent = parent.parent

    def keys(self, bucket: str, prefix: str) -> list[tuple[str, Path]]:
        """Every key under `prefix`, in S3's order (UTF-8 bytes)."""
        base = self.bucket(bucket)
        folder = prefix.rpartition("/")[0]
        start = base / folder if folder else base
        found = []
        if start.is_dir():
            for directory, _dirs, files in os.walk(start):
                for name in files:
                    if name.startswith(_TMP_PREFIX):
                        continue
                    path = Path(directory) / name
                    key = path.relative_to(base).as_posix()
                    if key.startswith(prefix):
                        found.append((key, path))
        found.sort(key=lambda item: item[0].encode())
        return found


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    # Headers and body go out in separate writes; with Nagle on, a keep-alive client's delayed
    # ACK holds each response back about 40 ms.
    disable_nagle_algorithm = True
    server: _Server

    def log_message(self, format: str, *args: Any) -> None:
        return None

    # -- plumbing ---------------------------------------------------------------------------

    def _target(self) -> tuple[str, str, dict[str, str]]:
        parts = urlsplit(self.path)
        query = {k: v[0] for k, v in parse_qs(parts.query, keep_blank_values=True).items()}
        bucket, _, key = unquote(parts.path).lstrip("/").partition("/")
        return bucket, key, query

    def _body_chunks(self) -> Iterator[bytes]:
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            raw = self._http_chunks()
        else:
            raw = self._sized(int(self.headers.get("Content-Length") or 0))
        encoding = self.headers.get("Content-Encoding", "")
        if "aws-chunked" in encoding or self.headers.get("x-amz-content-sha256", "").startswith(
            "STREAMING-"
        ):
            return self._aws_chunks(b"".join(raw))
        return raw

    def _sized(self, length: int) -> Iterator[bytes]:
        while length > 0:
            block = self.rfile.read(min(length, _CHUNK))
            if not block:
                break
            length -= len(block)
            yield block

    def _http_chunks(self) -> Iterator[bytes]:
        while True:
            size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
            if size == 0:
                while self.rfile.readline().strip():
                    pass
                return
            yield self.rfile.read(size)
            self.rfile.readline()

    @staticmethod
    def _aws_chunks(data: bytes) -> Iterator[bytes]:
        """aws-chunked framing: `<hex size>[;chunk-signature=...]` CRLF, data, CRLF; ends at 0."""
        position = 0
        while position < len(data):
            end = data.index(b"\r\n", position)
            size = int(data[position:end].split(b";")[0], 16)
            if size == 0:
                return
            yield data[end + 2 : end + 2 + size]
            position = end + 2 + size + 2

    def _send(
        self,
        status: int,
        body: bytes = b"",
        headers: dict[str, str] | None = None,
        length: int | None = None,
    ) -> None:
        self.send_response(status)
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.send_header("x-amz-request-id", uuid.uuid4().hex[:16])
        if "Content-Type" not in (headers or {}):
            self.send_header("Content-Type", "application/xml")
        self.send_header("Content-Length", str(len(body) if length is None else length))
        self.end_headers()
        if body and self.command != "HEAD":
            self.wfile.write(body)

    def _error(self, error: S3Error) -> None:
        body = _xml(
            "Error",
            _tag("Code", error.code) + _tag("Message", error.message) + _tag("Resource", self.path),
        ).replace(f' xmlns="{NS}"'.encode(), b"")
        self._send(error.status, body)

    def _dispatch(self, method: str) -> None:
        try:
            bucket, key, query = self._target()
            handler = getattr(self, f"_{method}_{'object' if key else 'bucket'}")
            if not bucket and method == "get":
                self._list_buckets()
            else:
                handler(bucket, key, query)
        except S3Error as error:
            self._drain()
            self._error(error)
        except (BrokenPipeError, ConnectionResetError):
            raise
        except Exception as exc:
            self._drain()
            self._error(S3Error(500, "InternalError", f"{type(exc).__name__}: {exc}"))

    def _drain(self) -> None:
        with contextlib.suppress(Exception):
            if self.command in ("PUT", "POST"):
                for _ in self._body_chunks():
                    pass

    def do_GET(self) -> None:
        self._dispatch("get")

    def do_HEAD(self) -> None:
        self._dispatch("head")

    def do_PUT(self) -> None:
        self._dispatch("put")

    def do_POST(self) -> None:
        self._dispatch("post")

    def do_DELETE(self) -> None:
        self._dispatch("delete")

    # -- buckets ----------------------------------------------------------------------------

    def _list_buckets(self) -> None:
        store = self.server.store
        names = (
            sorted(p.name for p in store.root.iterdir() if p.is_dir())
            if store.root.is_dir()
            else []
        )
        body = "".join(
            "<Bucket>"
            + _tag("Name", name)
            + _tag("CreationDate", _iso((store.root / name).stat().st_mtime))
            + "</Bucket>"
            for name in names
        )
        owner = "<Owner><ID>local</ID><DisplayName>local</DisplayName></Owner>"
        self._send(200, _xml("ListAllMyBucketsResult", f"{owner}<Buckets>{body}</Buckets>"))

    def _head_bucket(self, bucket: str, _key: str, _query: dict[str, str]) -> None:
        self.server.store.bucket(bucket)
        self._send(200, headers={"x-amz-bucket-region": self.server.region})

    def _put_bucket(self, bucket: str, _key: str, _query: dict[str, str]) -> None:
        for _ in self._body_chunks():
            pass
        self.server.store.bucket(bucket, must_exist=False).mkdir(parents=True, exist_ok=True)
        self._send(200, headers={"Location": f"/{bucket}"})

    def _delete_bucket(self, bucket: str, _key: str, _query: dict[str, str]) -> None:
        path = self.server.store.bucket(bucket)
        if any(path.iterdir()):
            raise S3Error(409, "BucketNotEmpty", f"the bucket {bucket} is not empty")
        path.rmdir()
        self._send(204)

    def _get_bucket(self, bucket: str, _key: str, query: dict[str, str]) -> None:
        store = self.server.store
        if "location" in query:
            store.bucket(bucket)
            self._send(200, _xml("LocationConstraint", ""))
            return
        if "uploads" in query or "versioning" in query or "tagging" in query:
            store.bucket(bucket)
            root = {"uploads": "ListMultipartUploadsResult", "tagging": "Tagging"}
            self._send(200, _xml(root.get(next(iter(query)), "VersioningConfiguration"), ""))
            return
        self._list_objects(bucket, query)

    def _list_objects(self, bucket: str, query: dict[str, str]) -> None:
        v2 = query.get("list-type") == "2"
        prefix = query.get("prefix", "")
        delimiter = query.get("delimiter", "")
        limit = max(0, min(int(query.get("max-keys", "1000")), 1000))
        after = query.get("continuation-token") or query.get("start-after") or ""
        if not v2:
            after = query.get("marker", "")
        contents: list[str] = []
        prefixes: list[str] = []
        truncated, last = False, ""
        for key, path in self.server.store.keys(bucket, prefix):
            if after and key.encode() <= after.encode():
                continue
            if delimiter:
                cut = key.find(delimiter, len(prefix))
                if cut >= 0:
                    common = key[: cut + len(delimiter)]
                    if prefixes and prefixes[-1] == common:
                        continue
                    if after and common.encode() <= after.encode():
                        continue
                    if len(contents) + len(prefixes) >= limit:
                        truncated = True
                        break
                    prefixes.append(common)
                    # Skip the rest of this common prefix: everything under it sorts after it.
                    last = common + "\U0010ffff"
                    continue
            if len(contents) + len(prefixes) >= limit:
                truncated = True
                break
            stat = path.stat()
            contents.append(
                "<Contents>"
                + _tag("Key", key)
                + _tag("LastModified", _iso(stat.st_mtime))
                + _tag("ETag", _etag(path))
                + _tag("Size", stat.st_size)
                + _tag("StorageClass", "STANDARD")
                + "</Contents>"
            )
            last = key
        body = _tag("Name", bucket) + _tag("Prefix", prefix) + _tag("MaxKeys", limit)
        if delimiter:
            body += _tag("Delimiter", delimiter)
        body += _tag("IsTruncated", "true" if truncated else "false")
        if v2:
            body += _tag("KeyCount", len(contents) + len(prefixes))
            if truncated:
                body += _tag("NextContinuationToken", last)
            if "continuation-token" in query:
                body += _tag("ContinuationToken", query["continuation-token"])
        else:
            body += _tag("Marker", after)
            if truncated:
                body += _tag("NextMarker", last)
        body += "".join(contents)
        body += "".join(f"<CommonPrefixes>{_tag('Prefix', p)}</CommonPrefixes>" for p in prefixes)
        self._send(200, _xml("ListBucketResult", body))

    def _post_bucket(self, bucket: str, _key: str, query: dict[str, str]) -> None:
        if "delete" not in query:
            raise S3Error(400, "NotImplemented", "only DeleteObjects is a bucket POST here")
        document = ElementTree.fromstring(b"".join(self._body_chunks()))
        deleted = []
        for item in document.iter():
            if item.tag.rpartition("}")[2] == "Key" and item.text:
                self.server.store.delete(bucket, item.text)
                deleted.append(f"<Deleted>{_tag('Key', item.text)}</Deleted>")
        self._send(200, _xml("DeleteResult", "".join(deleted)))

    # -- objects ----------------------------------------------------------------------------

    def _object_headers(self, path: Path) -> dict[str, str]:
        stat = path.stat()
        return {
            "ETag": _etag(path),
            "Last-Modified": formatdate(stat.st_mtime, usegmt=True),
            "Content-Type": "application/octet-stream",
            "Accept-Ranges": "bytes",
        }

    def _head_object(self, bucket: str, key: str, _query: dict[str, str]) -> None:
        path = self.server.store.read(bucket, key)
        self._send(200, headers=self._object_headers(path), length=path.stat().st_size)

    def _get_object(self, bucket: str, key: str, query: dict[str, str]) -> None:
        if "uploadId" in query:
            raise S3Error(400, "NotImplemented", "ListParts is not supported locally")
        path = self.server.store.read(bucket, key)
        size = path.stat().st_size
        headers = self._object_headers(path)
        start, end, status = 0, size - 1, 200
        wanted = self.headers.get("Range", "")
        if wanted.startswith("bytes="):
            first, _, second = wanted[6:].split(",")[0].partition("-")
            if first:
                start, end = int(first), min(int(second) if second else size - 1, size - 1)
            else:
                start, end = max(0, size - int(second)), size - 1
            if start >= size and size:
                raise S3Error(416, "InvalidRange", f"range {wanted} is beyond {size} bytes")
            status = 206
            headers["Content-Range"] = f"bytes {start}-{end}/{size}"
        length = max(0, end - start + 1)
        self._send(status, headers=headers, length=length)
        with path.open("rb") as handle:
            handle.seek(start)
            remaining = length
            while remaining > 0:
                block = handle.read(min(remaining, _CHUNK))
                if not block:
                    break
                self.wfile.write(block)
                remaining -= len(block)

    def _put_object(self, bucket: str, key: str, query: dict[str, str]) -> None:
        store = self.server.store
        if "uploadId" in query:
            part = self._upload_dir(query["uploadId"]) / f"{int(query['partNumber']):05d}"
            part.write_bytes(b"".join(self._body_chunks()))
            self._send(200, headers={"ETag": _etag(part)})
            return
        source = self.headers.get("x-amz-copy-source")
        if source:
            for _ in self._body_chunks():
                pass
            source_bucket, _, source_key = unquote(source.split("?")[0]).lstrip("/").partition("/")
            origin = store.read(source_bucket, source_key)
            with origin.open("rb") as handle:
                path = store.write(bucket, key, iter(lambda: handle.read(_CHUNK), b""))
            body = _tag("ETag", _etag(path)) + _tag("LastModified", _iso(path.stat().st_mtime))
            self._send(200, _xml("CopyObjectResult", body))
            return
        if query:
            raise S3Error(400, "NotImplemented", f"PUT ?{next(iter(query))} is not supported")
        path = store.write(bucket, key, self._body_chunks())
        self._send(200, headers={"ETag": _etag(path) if path.is_file() else '""'})

    def _delete_object(self, bucket: str, key: str, query: dict[str, str]) -> None:
        if "uploadId" in query:
            shutil.rmtree(self._upload_dir(query["uploadId"]), ignore_errors=True)
        else:
            self.server.store.delete(bucket, key)
        self._send(204)

    def _upload_dir(self, upload_id: str) -> Path:
        if not upload_id.isalnum():
            raise S3Error(404, "NoSuchUpload", f"no upload {upload_id!r}")
        path = self.server.store.uploads / upload_id
        if not path.is_dir():
            raise S3Error(404, "NoSuchUpload", f"no upload {upload_id!r}")
        return path

    def _post_object(self, bucket: str, key: str, query: dict[str, str]) -> None:
        store = self.server.store
        if "uploads" in query:
            for _ in self._body_chunks():
                pass
            store.object(bucket, key)
            upload_id = uuid.uuid4().hex
            (store.uploads / upload_id).mkdir(parents=True)
            body = _tag("Bucket", bucket) + _tag("Key", key) + _tag("UploadId", upload_id)
            self._send(200, _xml("InitiateMultipartUploadResult", body))
            return
        if "uploadId" not in query:
            raise S3Error(400, "NotImplemented", "only multipart uploads POST to an object here")
        folder = self._upload_dir(query["uploadId"])
        document = ElementTree.fromstring(b"".join(self._body_chunks()))
        numbers = [
            int(item.text or 0)
            for item in document.iter()
            if item.tag.rpartition("}")[2] == "PartNumber"
        ]
        parts = [folder / f"{n:05d}" for n in numbers]
        missing = [p.name for p in parts if not p.is_file()]
        if missing:
            raise S3Error(400, "InvalidPart", f"parts {missing} were not uploaded")

        def chunks() -> Iterator[bytes]:
            for part in parts:
                with part.open("rb") as handle:
                    yield from iter(lambda h=handle: h.read(_CHUNK), b"")

        path = store.write(bucket, key, chunks())
        shutil.rmtree(folder, ignore_errors=True)
        body = (
            _tag("Location", f"{self.server.url}/{bucket}/{quote(key)}")
            + _tag("Bucket", bucket)
            + _tag("Key", key)
            + _tag("ETag", _etag(path))
        )
        self._send(200, _xml("CompleteMultipartUploadResult", body))


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, store: _Store, region: str) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.store = store
        self.region = region
        self.url = f"http://127.0.0.1:{self.server_address[1]}"


@contextlib.contextmanager
def s3_endpoint(s3_root: Path, region: str = "us-east-1") -> Iterator[str]:
    """Serve `s3_root` (`<state>/s3`) as S3 on a free loopback port; yields its URL."""
    s3_root.mkdir(parents=True, exist_ok=True)
    server = _Server(_Store(s3_root), region)
    # A short poll: closing waits for the loop's next turn, once per run or job.
    thread = threading.Thread(
        target=server.serve_forever, args=(0.05,), name="s3-endpoint", daemon=True
    )
    thread.start()
    try:
        yield server.url
    finally:
        # At interpreter exit (a session never closed) the server's thread is already frozen
        # and shutdown() would wait for it forever.
        if not sys.is_finalizing():
            server.shutdown()
        server.server_close()
        thread.join(timeout=5)


def job_variables(url: str, region: str, known: dict[str, str]) -> dict[str, str]:
    """What a job's process needs for boto3's S3 to be this endpoint: its URL, the region, and
    placeholder credentials where `known` (the job's whole environment) names none, since the
    endpoint checks no signature and botocore would otherwise search the machine (and the
    instance metadata service) for some."""
    variables = {
        "AWS_ENDPOINT_URL_S3": url,
        "AWS_IGNORE_CONFIGURED_ENDPOINT_URLS": "false",
        "AWS_REGION": known.get("AWS_REGION") or known.get("AWS_DEFAULT_REGION") or region,
        "AWS_DEFAULT_REGION": known.get("AWS_DEFAULT_REGION") or region,
    }
    if not known.get("AWS_ACCESS_KEY_ID") and not known.get("AWS_PROFILE"):
        variables.update({"AWS_ACCESS_KEY_ID": "local", "AWS_SECRET_ACCESS_KEY": "local"})
    return variables
