"""Reading a source tree that may be hostile: only regular files, inside the source, bounded.

Every entry of a source folder is classified from `lstat` before anything opens it:

* a named pipe, a device or a socket is never opened (opening a FIFO blocks until a writer comes,
  reading /dev/zero never ends) and is skipped with the reason;
* a symbolic link is followed only when it resolves inside the source folder; a link that leads
  out of it (to /dev/zero, to /etc, to another tree) is skipped with the reason, and a linked
  folder is not entered (its target is read where it lives, and a link cycle cannot loop);
* a regular file is opened without blocking, checked again on the open descriptor (the entry may
  have been swapped since it was classified) and read with a bounded read: never more than the
  limit plus one byte, whatever its size claims.

Names come from the file system as bytes; Python hands names that are not UTF-8 over with the
undecodable bytes as lone surrogates, which neither MongoDB nor a UTF-8 terminal accepts.
`display` turns any such text into valid, one-line UTF-8 (`bad\\xff.md`), so a strange name is
reported (or stored) instead of crashing the job.
"""

from __future__ import annotations

import os
import re
import stat
from pathlib import Path

LINK_OUTSIDE = "a link leading outside the source folder"
LINKED_FOLDER = "a linked folder (not followed)"
_KINDS = (
    (stat.S_ISFIFO, "a named pipe"),
    (stat.S_ISCHR, "a character device"),
    (stat.S_ISBLK, "a block device"),
    (stat.S_ISSOCK, "a socket"),
    (stat.S_ISDIR, "a folder"),
)
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_OPEN_FLAGS = (
    os.O_RDONLY
    | getattr(os, "O_NONBLOCK", 0)
    | getattr(os, "O_NOCTTY", 0)
    | getattr(os, "O_CLOEXEC", 0)
)
_CHUNK = 1024 * 1024


class NotRegular(Exception):
    """The entry is not a regular file; `kind` says what it is."""

    def __init__(self, kind: str) -> None:
        super().__init__(kind)
        self.kind = kind

    @property
    def reason(self) -> str:
        return not_regular_reason(self.kind)


class TooLarge(Exception):
    def __init__(self, size: int, limit: int) -> None:
        super().__init__(f"{size} bytes; the limit is {limit}")
        self.size = size
        self.limit = limit


def not_regular_reason(kind: str) -> str:
    return f"not a regular file ({kind})"


def display(text: str) -> str:
    """`text` as valid one-line UTF-8: bytes that were not UTF-8 (surrogate-escaped by the file
    system layer) as \\xNN, other lone surrogates as \\uNNNN, control characters as \\n, \\x1b..."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        raw = text.encode("utf-8", "surrogateescape") if _only_escaped(text) else None
        text = (
            raw.decode("utf-8", "backslashreplace")
            if raw is not None
            else text.encode("utf-8", "backslashreplace").decode("utf-8")
        )
    return _CONTROL.sub(_escape_control, text)


def _only_escaped(text: str) -> bool:
    # surrogateescape maps each undecodable byte to U+DC80..U+DCFF; anything else is foreign.
    return all(not 0xD800 <= ord(c) <= 0xDFFF or 0xDC80 <= ord(c) <= 0xDCFF for c in text)


def _escape_control(match: re.Match[str]) -> str:
    return match.group().encode("unicode_escape").decode("ascii")


def is_unicode(text: str) -> bool:
    """False when `text` holds a lone surrogate (no UTF-8 encoding exists for it)."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def first_surrogate(text: str) -> str:
    """The first lone surrogate in `text`, written as \\uXXXX (for a reason line)."""
    for char in text:
        if 0xD800 <= ord(char) <= 0xDFFF:
            return f"\\u{ord(char):04x}"
    return ""


def kind_of(mode: int) -> str | None:
    """What a non-regular entry is ("a named pipe", ...); None for a regular file."""
    if stat.S_ISREG(mode):
        return None
    for test, kind in _KINDS:
        if test(mode):
            return kind
    return "an unknown kind of entry"


def real_root(root: Path) -> str:
    return os.path.realpath(root)


def is_inside(path: str, root_real: str) -> bool:
    return path == root_real or path.startswith(root_real.rstrip(os.sep) + os.sep)


def skip_reason(path: Path, root_real: str, folder: bool = False) -> str | None:
    """Why the entry at `path` must not be read, or None to read it (a read error, such as a
    dangling link, is then the reader's to report)."""
    try:
        info = os.lstat(path)
    except OSError:
        return None
    if stat.S_ISLNK(info.st_mode):
        if not is_inside(os.path.realpath(path), root_real):
            return LINK_OUTSIDE
        if folder:
            return LINKED_FOLDER
        try:
            info = os.stat(path)
        except OSError:
            return None
    if folder:
        return None
    kind = kind_of(info.st_mode)
    return not_regular_reason(kind) if kind else None


def read_bounded(path: Path, limit: int) -> bytes:
    """The bytes of the regular file at `path`, at most `limit` of them.

    Raises NotRegular for anything else (checked on the open descriptor), TooLarge past the
    limit (checked before reading and while reading, so a file that grows or lies about its
    size is cut off at limit + 1 bytes) and OSError when it cannot be opened or read."""
    fd = os.open(path, _OPEN_FLAGS)
    try:
        info = os.fstat(fd)
        kind = kind_of(info.st_mode)
        if kind:
            raise NotRegular(kind)
        if info.st_size > limit:
            raise TooLarge(info.st_size, limit)
        chunks, size = [], 0
        while size <= limit:
            chunk = os.read(fd, min(_CHUNK, limit + 1 - size))
            if not chunk:
                break
            chunks.append(chunk)
            size += len(chunk)
        if size > limit:
            raise TooLarge(size, limit)
        return b"".join(chunks)
    finally:
        os.close(fd)


def json_depth(value: object, limit: int) -> int:
    """How deeply lists and objects nest in `value`, walked without recursion; stops counting
    once past `limit`."""
    deepest, stack = 0, [(value, 1)]
    while stack:
        node, depth = stack.pop()
        if isinstance(node, dict):
            children = list(node.values())
        elif isinstance(node, list):
            children = node
        else:
            continue
        deepest = max(deepest, depth)
        if deepest > limit:
            return deepest
        stack.extend((child, depth + 1) for child in children)
    return deepest


def error_line(exc: BaseException) -> str:
    """`Type: first line of the message`, valid UTF-8, for a reason or a log line."""
    message = (str(exc).strip().splitlines() or [""])[0]
    return display(f"{type(exc).__name__}: {message}" if message else type(exc).__name__)
