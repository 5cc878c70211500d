"""What SageMaker's batch transform agent does around the model server, as pure functions.

The agent reads each input object, splits it into records (`SplitType`), applies
`DataProcessing.InputFilter` to each record, packs the records into requests (`BatchStrategy`
SingleRecord or MultiRecord, at most `MaxPayloadInMB` each), and from each response joins the
input (`JoinSource`), applies `OutputFilter` and assembles the object's `.out` (`AssembleWith`).

Filters are the JSONPath subset SageMaker documents: `$`, `.name`, `['a','b']`, `[i]`,
`[i,j,a:b]` (indices and slices, negative ones too) and `*`. A CSV record is the array of its
columns (as text); a JSON or JSON Lines record is its JSON value.
"""

from __future__ import annotations

import csv
import io
import json
import re
from dataclasses import dataclass, field
from typing import Any

MB = 1024 * 1024
DEFAULT_MAX_PAYLOAD_MB = 6
CSV = "csv"
JSON = "json"
_NAME = re.compile(r"[A-Za-z0-9_$@-]+")
_SUPPORTED = "$, .name, ['a','b'], [i], [i,j], [a:b], *"


class BatchError(ValueError):
    """A request SageMaker would refuse or a record it could not process: one line."""


def data_format(content_type: str | None) -> str | None:
    """CSV, JSON (JSON Lines too) or None for any other content type."""
    base = (content_type or "").split(";")[0].strip().lower()
    if base.endswith("/csv") or base.endswith("+csv"):
        return CSV
    if "json" in base:
        return JSON
    return None


# -- JSONPath ---------------------------------------------------------------------------------
@dataclass(frozen=True)
class Segment:
    kind: str  # key, keys, index, select, all
    names: tuple[str, ...] = ()
    items: tuple[int | slice, ...] = ()


@dataclass(frozen=True)
class JsonPath:
    expression: str
    segments: tuple[Segment, ...] = field(default_factory=tuple)

    @property
    def identity(self) -> bool:
        return not self.segments


def _quoted_names(text: str, label: str) -> tuple[str, ...]:
    names = []
    for part in (p.strip() for p in text.split(",")):
        if len(part) < 2 or part[0] not in "'\"" or part[-1] != part[0]:
            raise BatchError(f"{label}: {part!r} is not a quoted name")
        names.append(part[1:-1])
    return tuple(names)


def _index_items(text: str, label: str) -> tuple[int | slice, ...]:
    items: list[int | slice] = []
    for part in (p.strip() for p in text.split(",")):
        try:
            if ":" in part:
                start, _, stop = part.partition(":")
                items.append(
                    slice(
                        int(start) if start.strip() else None, int(stop) if stop.strip() else None
                    )
                )
            else:
                items.append(int(part))
        except ValueError:
            raise BatchError(f"{label}: {part!r} is not an index or a slice") from None
    return tuple(items)


def parse_path(expression: str | None, label: str) -> JsonPath:
    """Parse a filter; `label` (InputFilter, OutputFilter) starts every error message."""
    text = (expression or "$").strip()
    where = f"{label} {text!r}"
    if not text.startswith("$"):
        raise BatchError(f"{where} must start with $ (supported: {_SUPPORTED})")
    segments: list[Segment] = []
    position = 1
    while position < len(text):
        char = text[position]
        if char == ".":
            if text.startswith(".*", position):
                segments.append(Segment("all"))
                position += 2
                continue
            match = _NAME.match(text, position + 1)
            if not match:
                raise BatchError(f"{where}: expected a name after '.' (supported: {_SUPPORTED})")
            segments.append(Segment("key", names=(match.group(),)))
            position = match.end()
        elif char == "[":
            end = text.find("]", position)
            if end < 0:
                raise BatchError(f"{where}: '[' is never closed")
            inner = text[position + 1 : end].strip()
            if inner == "*":
                segments.append(Segment("all"))
            elif inner[:1] in ("'", '"'):
                names = _quoted_names(inner, where)
                segments.append(
                    Segment("key", names=names) if len(names) == 1 else Segment("keys", names=names)
                )
            else:
                items = _index_items(inner, where)
                single = len(items) == 1 and isinstance(items[0], int)
                segments.append(Segment("index" if single else "select", items=items))
            position = end + 1
        else:
            raise BatchError(f"{where}: unexpected {char!r} (supported: {_SUPPORTED})")
    return JsonPath(text, tuple(segments))


def _element(value: list[Any], index: int, where: str) -> Any:
    if not -len(value) <= index < len(value):
        raise BatchError(f"{where}: index {index} is outside the record's {len(value)} columns")
    return value[index]


def apply_path(path: JsonPath, value: Any, where: str) -> Any:
    """The part of `value` the filter selects; `where` names the record in errors."""
    where = f"{where}: {path.expression}"
    for segment in path.segments:
        if segment.kind in ("key", "keys"):
            if not isinstance(value, dict):
                raise BatchError(f"{where}: {type(value).__name__} has no keys")
            missing = [name for name in segment.names if name not in value]
            if missing:
                raise BatchError(f"{where}: no key {missing[0]!r} (has {', '.join(value)})")
            if segment.kind == "key":
                value = value[segment.names[0]]
            else:
                value = {name: value[name] for name in segment.names}
        elif segment.kind == "all":
            if isinstance(value, dict):
                value = list(value.values())
            elif not isinstance(value, list):
                raise BatchError(f"{where}: * needs an object or an array")
        else:
            if not isinstance(value, list):
                raise BatchError(f"{where}: {type(value).__name__} is not an array")
            if segment.kind == "index":
                value = _element(value, segment.items[0], where)  # type: ignore[arg-type]
            else:
                selected: list[Any] = []
                for item in segment.items:
                    if isinstance(item, slice):
                        selected.extend(value[item])
                    else:
                        selected.append(_element(value, item, where))
                value = selected
    return value


# -- records ----------------------------------------------------------------------------------
def csv_row(text: str) -> list[str]:
    return next(csv.reader([text]), [])


def _csv_text(value: Any) -> str:
    if isinstance(value, str):
        return value
    return json.dumps(value, separators=(",", ":"))


def csv_line(values: list[Any]) -> str:
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="").writerow([_csv_text(v) for v in values])
    return buffer.getvalue()


def json_text(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


def split_records(data: bytes, split_type: str | None) -> list[bytes]:
    """An object's records: itself (SplitType None) or its non-empty lines (Line)."""
    if split_type in (None, "", "None"):
        return [data]
    if split_type == "Line":
        return [line.rstrip(b"\r") for line in data.split(b"\n") if line.strip()]
    raise BatchError(f"SplitType {split_type} does not run locally (None and Line do)")


def units(record: bytes, fmt: str | None, where: str) -> list[str]:
    """The pieces data processing works on: each CSV row of the record, or the record itself."""
    try:
        text = record.decode("utf-8")
    except UnicodeDecodeError:
        raise BatchError(f"{where} is not UTF-8 text") from None
    if fmt == CSV:
        return [line.rstrip("\r") for line in text.split("\n") if line.strip()]
    return [text]


def parse_unit(text: str, fmt: str | None, where: str) -> Any:
    if fmt == CSV:
        return csv_row(text)
    if fmt == JSON:
        try:
            return json.loads(text)
        except json.JSONDecodeError as exc:
            raise BatchError(f"{where} is not JSON ({exc.msg})") from None
    return text


def format_unit(value: Any, fmt: str | None, where: str) -> str:
    if fmt == CSV:
        if isinstance(value, dict):
            raise BatchError(f"{where}: a CSV record cannot hold an object")
        return csv_line(value if isinstance(value, list) else [value])
    if fmt == JSON:
        return json_text(value)
    return value if isinstance(value, str) else json_text(value)


@dataclass(frozen=True)
class Processing:
    """DataProcessing and the formats it works in, validated before any job starts."""

    input_format: str | None
    input_filter: JsonPath
    output_filter: JsonPath
    join: bool

    @classmethod
    def from_arguments(cls, arguments: dict[str, Any]) -> Processing:
        spec = arguments.get("DataProcessing") or {}
        content_type = (arguments.get("TransformInput") or {}).get("ContentType")
        join_source = spec.get("JoinSource") or "None"
        if join_source not in ("None", "Input"):
            raise BatchError(f"JoinSource {join_source!r} must be None or Input")
        processing = cls(
            input_format=data_format(content_type),
            input_filter=parse_path(spec.get("InputFilter"), "InputFilter"),
            output_filter=parse_path(spec.get("OutputFilter"), "OutputFilter"),
            join=join_source == "Input",
        )
        needs = [
            name
            for name, used in (
                ("InputFilter", not processing.input_filter.identity),
                ("JoinSource Input", processing.join),
            )
            if used
        ]
        if needs and processing.input_format is None:
            raise BatchError(
                f"{' and '.join(needs)} need TransformInput.ContentType text/csv or "
                f"application/json (or jsonlines), not {content_type!r}"
            )
        return processing

    @property
    def post_processing(self) -> bool:
        return self.join or not self.output_filter.identity

    def request_record(self, record: bytes, where: str) -> bytes:
        """The record as the model receives it: InputFilter applied to each unit."""
        if self.input_filter.identity:
            return record
        pieces = []
        rows = units(record, self.input_format, where)
        for number, unit in enumerate(rows, start=1):
            here = f"{where} row {number}" if len(rows) > 1 else where
            value = parse_unit(unit, self.input_format, here)
            selected = apply_path(self.input_filter, value, here)
            pieces.append(format_unit(selected, self.input_format, here))
        return "\n".join(pieces).encode("utf-8")

    def response_piece(
        self,
        records: list[bytes],
        response: bytes,
        content_type: str | None,
        where: str,
        first: int = 1,
    ) -> bytes:
        """What one response adds to the object's `.out`; `records` are the ones the request
        carried, the first of them number `first` in the object."""
        if not self.post_processing:
            return response
        inputs = [unit for record in records for unit in units(record, self.input_format, where)]
        outputs = split_response(response, content_type, len(inputs), where)
        output_format = data_format(content_type)
        final_format = self.input_format if self.join else output_format
        if final_format is None:
            raise BatchError(
                f"OutputFilter needs a CSV or JSON answer; the model answered {content_type!r}"
            )
        lines = []
        for number, (unit, output) in enumerate(zip(inputs, outputs, strict=True), start=first):
            here = f"{where} record {number}"
            if self.join:
                value = join(
                    parse_unit(unit, self.input_format, here),
                    output,
                    self.input_format,
                    output_format,
                )
            else:
                value = parse_unit(output, output_format, f"{here} answer")
            value = apply_path(self.output_filter, value, here)
            lines.append(format_unit(value, final_format, here))
        return "\n".join(lines).encode("utf-8")


def split_response(body: bytes, content_type: str | None, count: int, where: str) -> list[str]:
    """One answer per input record: the whole body for one record, else the elements of a JSON
    array of that length, else the body's lines."""
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        raise BatchError(f"{where}: the model's answer is not UTF-8 text") from None
    if count == 1:
        return [text.rstrip("\r\n")]
    if data_format(content_type) == JSON:
        try:
            value = json.loads(text)
        except json.JSONDecodeError:
            value = None
        if isinstance(value, list) and len(value) == count:
            return [json_text(item) for item in value]
    lines = [line.rstrip("\r") for line in text.split("\n") if line.strip()]
    if len(lines) != count:
        raise BatchError(
            f"{where}: the model answered {len(lines)} line(s) for {count} records; JoinSource "
            "and OutputFilter need one answer per record (a line each, or a JSON array)"
        )
    return lines


def _output_value(output: str) -> Any:
    """An answer as a JSON value: parsed when it is JSON (a number, an array), else its text."""
    try:
        return json.loads(output)
    except json.JSONDecodeError:
        return output


def join(input_value: Any, output: str, input_format: str | None, output_format: str | None):
    """JoinSource Input: a CSV row gains the answer's columns; a JSON object gains
    `SageMakerOutput`, anything else becomes {SageMakerInput, SageMakerOutput}."""
    if input_format == CSV:
        if output_format == CSV or output_format is None:
            columns: list[Any] = csv_row(output)
        else:
            value = _output_value(output)
            columns = value if isinstance(value, list) else [value]
        return [*input_value, *columns]
    value = _output_value(output)
    if isinstance(input_value, dict):
        return {**input_value, "SageMakerOutput": value}
    return {"SageMakerInput": input_value, "SageMakerOutput": value}


def batches(
    records: list[bytes], multi_record: bool, max_payload_mb: float, where: str
) -> list[tuple[list[int], bytes]]:
    """Requests as (indices of the records they carry, body): one record each, or as many as
    fit in MaxPayloadInMB joined by newlines (0 is no limit)."""
    limit = max_payload_mb * MB if max_payload_mb else None
    requests: list[tuple[list[int], bytes]] = []
    current: list[int] = []
    size = 0
    for index, record in enumerate(records):
        if limit is not None and len(record) > limit:
            raise BatchError(
                f"{where} record {index + 1} is {len(record)} bytes, more than MaxPayloadInMB "
                f"({max_payload_mb:g} MB)"
            )
        extra = len(record) + (1 if current else 0)
        if current and (not multi_record or (limit is not None and size + extra > limit)):
            requests.append((current, b"\n".join(records[i] for i in current)))
            current, size, extra = [], 0, len(record)
        current.append(index)
        size += extra
    if current:
        requests.append((current, b"\n".join(records[i] for i in current)))
    return requests


def assemble(pieces: list[bytes], assemble_with: str | None) -> bytes:
    """AssembleWith Line writes a newline after every piece (as the SDK's local mode does, even
    after an answer that ends with one); None concatenates them as they are."""
    if assemble_with == "Line":
        return b"".join(piece + b"\n" for piece in pieces)
    return b"".join(pieces)
