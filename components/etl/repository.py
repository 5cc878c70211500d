"""A code repository as one `repositories` document: its text files, path by path.

A folder named `repositories` inside an export folder holds one repository per subfolder, each
read from disk (see exports.py and `read_folder`): that is how data/sample ships its author's code.
`git:<path>` reads the committed tree (HEAD) of a local work tree, so uncommitted edits and
ignored files (virtualenvs, local state) never leak in; a folder that is not a git work tree is
read as it is on disk, hidden folders excepted. `git:<url>` clones the repository shallowly into a
temporary folder first. Files that are binary, not UTF-8, larger than MAX_FILE_BYTES or data rather
than code (SKIPPED_SUFFIXES) are listed in the document's metadata with the reason, not silently
dropped; so are links, named pipes, devices and sockets, which are never read (see files.py).
Every read is bounded: a file past MAX_FILE_BYTES is not read at all (on disk) or streamed past
without being kept (in the committed tree), and names that are not UTF-8 are written with their
odd bytes escaped.
"""

from __future__ import annotations

import os
import re
import subprocess
import tarfile
import tempfile
import threading
from dataclasses import dataclass
from pathlib import Path

from components.common.domain import Author, DocumentType, RawDocument, Rejected
from components.common.job import JobError
from components.etl.files import (
    NotRegular,
    TooLarge,
    display,
    read_bounded,
    real_root,
    skip_reason,
)

MAX_FILE_BYTES = 100 * 1024
MAX_REPOSITORY_BYTES = 8 * 1024 * 1024
SKIPPED_SUFFIXES = {
    ".json",
    ".jsonl",
    ".csv",
    ".tsv",
    ".lock",
    ".svg",
    ".map",
    ".pdf",
    ".parquet",
    ".pkl",
    ".safetensors",
    ".bin",
    ".gguf",
    ".onnx",
    ".npy",
    ".npz",
    ".zip",
    ".gz",
    ".tar",
}
SKIPPED_DIRS = {"node_modules", "__pycache__", "venv", "dist", "build"}
GIT_TIMEOUT_SECONDS = 300
_URL = re.compile(r"^(https?|ssh|git|file)://|^[\w.-]+@[\w.-]+:")
_CREDENTIALS = re.compile(r"(?<=://)[^/@]+@")


@dataclass
class RepositoryFiles:
    files: list[dict[str, str]]
    skipped: list[dict[str, str]]


def is_url(location: str) -> bool:
    return bool(_URL.match(location))


def _git(args: list[str], cwd: Path | None = None, timeout: float = 60) -> bytes:
    env = {**os.environ, "GIT_TERMINAL_PROMPT": "0", "GIT_ASKPASS": "true"}
    done = subprocess.run(
        ["git", *args],
        cwd=cwd,
        capture_output=True,
        timeout=timeout,
        env=env,
        check=False,
        stdin=subprocess.DEVNULL,
    )
    if done.returncode != 0:
        lines = done.stderr.decode("utf-8", "replace").strip().splitlines()
        raise RuntimeError(lines[-1] if lines else f"git {args[0]} exited {done.returncode}")
    return done.stdout


def _select(entries: list[tuple[str, bytes]]) -> RepositoryFiles:
    """Keep the text files, record why each other file was left out."""
    kept, skipped, total = [], [], 0
    for path, data in sorted(entries):
        suffix = Path(path).suffix.lower()
        reason = ""
        if suffix in SKIPPED_SUFFIXES:
            reason = f"data file ({suffix})"
        elif len(data) > MAX_FILE_BYTES:
            reason = f"larger than {MAX_FILE_BYTES} bytes"
        elif total + len(data) > MAX_REPOSITORY_BYTES:
            reason = f"repository text past {MAX_REPOSITORY_BYTES} bytes"
        else:
            try:
                text = data.decode("utf-8")
                if "\x00" in text:
                    raise ValueError
            except (UnicodeDecodeError, ValueError):
                reason = "binary or not UTF-8"
        if reason:
            skipped.append({"path": path, "reason": reason})
        elif text.strip():
            kept.append({"path": path, "text": text})
            total += len(data)
        else:
            skipped.append({"path": path, "reason": "empty"})
    return RepositoryFiles(kept, skipped)


def _committed_files(
    work_tree: Path,
) -> tuple[list[tuple[str, bytes]], list[dict[str, str]], str]:
    """The committed files under `work_tree` (from `git archive`, streamed: a file past the limit
    is read past, never kept), those left out with the reason, and the commit."""
    prefix = _git(["rev-parse", "--show-prefix"], work_tree).decode().strip()
    commit = _git(["rev-parse", "HEAD"], work_tree).decode().strip()
    tree = f"HEAD:{prefix}" if prefix else "HEAD"
    env = {**os.environ, "GIT_TERMINAL_PROMPT": "0", "GIT_ASKPASS": "true"}
    process = subprocess.Popen(
        ["git", "archive", "--format=tar", tree],
        cwd=work_tree,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        env=env,
    )
    timed_out = threading.Event()

    def kill() -> None:
        timed_out.set()
        process.kill()

    timer = threading.Timer(GIT_TIMEOUT_SECONDS, kill)
    timer.start()
    entries: list[tuple[str, bytes]] = []
    skipped: list[dict[str, str]] = []
    problem = ""
    try:
        assert process.stdout is not None
        with tarfile.open(fileobj=process.stdout, mode="r|") as tar:
            for member in tar:
                path = display(member.name)
                if member.issym() or member.islnk():
                    skipped.append({"path": path, "reason": "a link (not followed)"})
                elif not member.isfile():
                    continue
                elif Path(path).suffix.lower() in SKIPPED_SUFFIXES:
                    entries.append((path, b""))  # _select names the reason; no need to read it
                elif member.size > MAX_FILE_BYTES:
                    skipped.append({"path": path, "reason": f"larger than {MAX_FILE_BYTES} bytes"})
                else:
                    handle = tar.extractfile(member)
                    if handle is not None:
                        entries.append((path, handle.read(MAX_FILE_BYTES + 1)))
        # The end-of-archive padding, so git is not cut off mid-write (read, never kept).
        while process.stdout.read(64 * 1024):
            pass
    except tarfile.TarError as exc:
        problem = f"git archive gave an unreadable tar stream: {exc}"
        process.kill()
    finally:
        timer.cancel()
        if process.stdout is not None:
            process.stdout.close()
        process.wait()
    if timed_out.is_set():
        raise subprocess.TimeoutExpired(["git", "archive"], GIT_TIMEOUT_SECONDS)
    if problem or process.returncode != 0:
        raise RuntimeError(problem or f"git archive exited {process.returncode}")
    return entries, skipped, commit


def _folder_files(root: Path) -> tuple[list[tuple[str, bytes]], list[dict[str, str]]]:
    """Files under `root` (hidden ones and build folders excepted), and those left out or
    unreadable with the reason. Only regular files inside `root` are read, each bounded."""
    entries, unreadable = [], []
    failures: list[OSError] = []
    root_real = real_root(root)
    for directory, folders, files in os.walk(root, onerror=failures.append):
        entered = []
        for name in sorted(folders):
            if name.startswith(".") or name in SKIPPED_DIRS:
                continue
            reason = skip_reason(Path(directory) / name, root_real, folder=True)
            if reason:
                where = display((Path(directory) / name).relative_to(root).as_posix())
                unreadable.append({"path": where, "reason": reason})
            else:
                entered.append(name)
        folders[:] = entered
        for name in sorted(files):
            path = Path(directory) / name
            if name.startswith("."):
                continue
            relative = display(path.relative_to(root).as_posix())
            reason = skip_reason(path, root_real)
            if reason:
                unreadable.append({"path": relative, "reason": reason})
                continue
            if path.suffix.lower() in SKIPPED_SUFFIXES:
                entries.append((relative, b""))  # _select names the reason; no need to read it
                continue
            try:
                entries.append((relative, read_bounded(path, MAX_FILE_BYTES)))
            except NotRegular as exc:
                unreadable.append({"path": relative, "reason": exc.reason})
            except TooLarge:
                unreadable.append(
                    {"path": relative, "reason": f"larger than {MAX_FILE_BYTES} bytes"}
                )
            except OSError as exc:
                unreadable.append(
                    {"path": relative, "reason": f"unreadable: {display(exc.strerror or str(exc))}"}
                )
    for failure in failures:
        where = display(Path(failure.filename or root).relative_to(root).as_posix())
        unreadable.append({"path": where, "reason": f"unreadable folder: {failure.strerror}"})
    return entries, unreadable


def _is_work_tree(path: Path) -> bool:
    try:
        return _git(["rev-parse", "--is-inside-work-tree"], path).strip() == b"true"
    except (RuntimeError, OSError, subprocess.TimeoutExpired):
        return False


def _origin(work_tree: Path) -> str:
    try:
        return _CREDENTIALS.sub(
            "", _git(["remote", "get-url", "origin"], work_tree).decode().strip()
        )
    except (RuntimeError, OSError, subprocess.TimeoutExpired):
        return ""


def read_repository(location: str, cwd: Path, author: Author) -> RawDocument | Rejected:
    """The repository at `location` (a path relative to `cwd`, or a URL) as one document."""
    source = f"git:{_CREDENTIALS.sub('', location)}"
    if is_url(location):
        with tempfile.TemporaryDirectory(prefix="llm-twin-clone-") as directory:
            clone = Path(directory) / "repo"
            try:
                clone_args = ["clone", "--depth", "1", "--quiet", location, str(clone)]
                _git(clone_args, timeout=GIT_TIMEOUT_SECONDS)
            except subprocess.TimeoutExpired:
                return Rejected(source, f"git clone timed out after {GIT_TIMEOUT_SECONDS}s", source)
            except (RuntimeError, OSError) as exc:
                return Rejected(source, f"git clone failed: {exc}", source)
            link = _CREDENTIALS.sub("", location)
            return _document(clone, link, _repo_name(link), author, source, committed=True)
    root = (cwd / location).resolve()
    if not root.is_dir():
        raise JobError(
            f"source {source!r}: no such folder {root} (relative paths resolve against {cwd})"
        )
    committed = _is_work_tree(root)
    link = (_origin(root) if committed else "") or source
    name = _repo_name(link) if link != source else root.name
    return _document(root, link, name, author, source, committed)


def read_folder(root: Path, location: str, source: str, author: Author) -> RawDocument | Rejected:
    """The folder at `root` as one repository document, read as it is on disk (hidden files and
    build folders excepted) even inside a git work tree: a sample repository shipped in an export
    folder (`<source>/repositories/<name>/`). Its link is `location`, the path as the source was
    written plus the folder's relative path, so its id is the same on every machine."""
    return _document(root, location, root.name, author, source, False, location)


def _repo_name(link: str) -> str:
    name = link.rstrip("/").rsplit("/", 1)[-1].rsplit(":", 1)[-1]
    return name.removesuffix(".git") or link


def _document(
    root: Path,
    link: str,
    name: str,
    author: Author,
    source: str,
    committed: bool,
    location: str = "",
) -> RawDocument | Rejected:
    location = location or source
    metadata: dict[str, object] = {
        "location": location,
        "read_from": "HEAD" if committed else "folder",
    }
    unreadable: list[dict[str, str]] = []
    if committed:
        try:
            entries, unreadable, commit = _committed_files(root)
        except subprocess.TimeoutExpired:
            return Rejected(source, "git archive timed out", source)
        except (RuntimeError, OSError) as exc:
            return Rejected(source, f"cannot read the committed tree: {exc}", source)
        metadata["commit"] = commit
    else:
        entries, unreadable = _folder_files(root)
    selected = _select(entries)
    metadata["skipped_files"] = unreadable + selected.skipped
    if not selected.files:
        return Rejected(location, "empty text (no text files in the repository)", source)
    return RawDocument(
        type=DocumentType.REPOSITORIES,
        link=link,
        title=name,
        content=selected.files,
        author=author,
        platform="git",
        source=source,
        metadata=metadata,
    )
