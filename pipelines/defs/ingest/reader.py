"""Read one CSV extract file against the contract.

The reader streams the file (gzip or plain, UTF-8 with an optional BOM, `\\n`
or `\\r\\n`), keeps the physical line on which each record starts, and returns
chunks of typed rows plus the rows it rejects with their line and reason. A
file that cannot be read as the contract at all raises `FileRejected`.

Parsing uses Python's `csv` module (RFC 4180 quoting, exact line numbers even
for quoted fields spanning lines); the per-value work (types, value sets,
required values) is vectorized in polars.
"""

from __future__ import annotations

import csv
import gzip
import io
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import polars as pl

from pipelines.contract import (
    BOOL,
    DATE,
    DECIMAL,
    INT,
    OFFSET_SUFFIX,
    STR,
    TIMESTAMP,
    Entity,
)

CHUNK_ROWS = 200_000
MAX_FIELD_BYTES = 2**31 - 1   # what the CSV parser accepts, so a long field is a row reject, not a crash
MAX_FIELD_CHARS = 65_536      # a longer value rejects its row (no extract field is legitimately that long)
csv.field_size_limit(MAX_FIELD_BYTES)

TRUE_WORDS = ("true", "t", "1", "y", "yes")
FALSE_WORDS = ("false", "f", "0", "n", "no")
INT_RE = r"^[+-]?\d+$"
DECIMAL_RE = r"^[+-]?(\d+\.?\d*|\.\d+)$"
DATE_RE = r"^\d{4}-\d{2}-\d{2}$"
# date, hours:minutes, :seconds[.fraction], offset (only with a time)
TIMESTAMP_RE = (
    r"^(\d{4}-\d{2}-\d{2})"
    r"(?:[T ](\d{2}:\d{2})(:\d{2}(?:\.\d{1,9})?)?(Z|[+-]\d{2}:?\d{2})?)?$"
)
SHOWN_VALUE_CHARS = 40


class FileRejected(Exception):
    """The whole file cannot be read as the contract; `reason` says why."""

    def __init__(self, reason: str, rows_read: int = 0):
        super().__init__(reason)
        self.reason = reason
        self.rows_read = rows_read


@dataclass
class Chunk:
    rows: pl.DataFrame      # typed contract columns, offsets, _extra, _line_number
    rejects: pl.DataFrame   # _line_number, reason, record
    rows_read: int
    header: list[str]


REJECT_SCHEMA = {"_line_number": pl.Int64, "reason": pl.String, "record": pl.String}
MAX_RECORD_CHARS = 2000


def open_bytes(path: Path) -> io.BufferedIOBase:
    """A file's bytes, gunzipped when its name ends in `.gz` (every reader's way in)."""
    return gzip.open(path, "rb") if path.name.lower().endswith(".gz") else open(path, "rb")


def _open_text(path: Path) -> io.TextIOBase:
    raw = open_bytes(path)
    # newline="" hands line ends to csv untouched, so quoted newlines survive
    return io.TextIOWrapper(raw, encoding="utf-8-sig", errors="strict", newline="")


# The first bytes of files that are not text at all, and what they are.
BINARY_SIGNATURES = (
    (b"\xff\xfe", "UTF-16 text, not UTF-8; save the extract as UTF-8"),
    (b"\xfe\xff", "UTF-16 text, not UTF-8; save the extract as UTF-8"),
    (b"PK\x03\x04", "a ZIP archive or Excel workbook, not CSV text; export the extract as CSV (or unzip it)"),
    (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1", "an Excel 97-2003 workbook, not CSV text; export the extract as CSV"),
)


def _binary_kind(path: Path) -> str | None:
    try:
        with open_bytes(path) as handle:
            head = handle.read(8)
    except (OSError, EOFError, zlib.error):
        return None
    return next((what for signature, what in BINARY_SIGNATURES if head.startswith(signature)), None)


def _records(path: Path) -> Iterator[tuple[int, int, list[str]]]:
    """(start line, end line, fields) of every non-blank record, header included."""
    kind = _binary_kind(path)
    if kind:
        raise FileRejected(kind)
    with _open_text(path) as text:
        reader = csv.reader(text, strict=False)
        last_line = 0
        try:
            for fields in reader:
                start = last_line + 1
                last_line = reader.line_num
                if fields:
                    yield start, last_line, fields
        except UnicodeDecodeError:
            line, byte = _first_invalid_utf8(path)
            raise FileRejected(
                f"not UTF-8 text (invalid byte 0x{byte:02x} on line {line}); save the extract as UTF-8"
            ) from None
        except (EOFError, gzip.BadGzipFile, zlib.error) as exc:
            raise FileRejected(f"not a readable gzip file ({exc}); re-send the file") from None
        except csv.Error as exc:
            raise FileRejected(f"not CSV at line {last_line + 1}: {exc}") from None


def _first_invalid_utf8(path: Path) -> tuple[int, int]:
    """(line, byte) of the first byte that is not UTF-8. Text is decoded ahead
    in blocks, so the line is found again here, on a file being rejected."""
    with open_bytes(path) as handle:
        for number, raw_line in enumerate(handle, start=1):
            try:
                raw_line.decode("utf-8-sig" if number == 1 else "utf-8")
            except UnicodeDecodeError as exc:
                return number, raw_line[exc.start]
    return 0, 0


def normalize_header(fields: list[str]) -> list[str]:
    names = [f.strip().lower() for f in fields]
    return [n if n else f"column_{i + 1}" for i, n in enumerate(names)]


def check_header(entity: Entity, header: list[str]) -> None:
    if any("\x00" in h for h in header):
        raise FileRejected("the header holds NUL bytes: UTF-16 or binary data, not UTF-8 text; save the extract as UTF-8")
    seen: set[str] = set()
    duplicates = sorted({h for h in header if h in seen or seen.add(h)})
    if duplicates:
        raise FileRejected(f"duplicate column(s) in header: {', '.join(duplicates)}")
    missing = [c for c in entity.required if c not in header]
    if missing:
        hint = ""
        if len(header) == 1 and any(sep in header[0] for sep in ";\t|"):
            hint = " (the header has one column: is the file comma-separated?)"
        raise FileRejected(
            f"missing required column(s) for {entity.name}: {', '.join(missing)}{hint}"
        )


def read_extract(path: Path, entity: Entity, chunk_rows: int = CHUNK_ROWS) -> Iterator[Chunk]:
    """Yield validated chunks of `path`; raise FileRejected if it is unreadable.

    Rows read counts non-blank records after the header; for every chunk,
    rows read = len(rows) + len(rejects). A file with no quote, lone carriage
    return or NUL byte anywhere (what most systems export) is split into
    fields by polars, several times faster; any other file goes through
    Python's `csv` module. Both give the same rows, rejects and line numbers.
    """
    kind = _binary_kind(path)
    if kind:
        raise FileRejected(kind)
    blocks = _unquoted_blocks(path)
    if blocks is None:
        yield from _read_csv_module(path, entity, chunk_rows)
    else:
        yield from _read_unquoted(path, entity, blocks, chunk_rows)


def _read_csv_module(path: Path, entity: Entity, chunk_rows: int = CHUNK_ROWS) -> Iterator[Chunk]:
    records = _records(path)
    try:
        _, _, header_fields = next(records)
    except StopIteration:
        raise FileRejected("empty file: no header row") from None
    header = normalize_header(header_fields)
    check_header(entity, header)

    width = len(header)
    batch_lines: list[int] = []
    batch: list[list[str]] = []
    bad: list[tuple[int, str, str]] = []
    read = 0
    for line, end, fields in records:
        read += 1
        if len(fields) == width:
            batch_lines.append(line)
            batch.append(fields)
        elif end > line and any("\n" in f or "\r" in f for f in fields):
            bad.append((line, f"unbalanced quotes: a quoted field opened on line {line} runs to line {end} "
                              f"({len(fields)} fields, expected {width})", _join(fields)))
        else:
            bad.append((line, f"expected {width} fields, found {len(fields)}", _join(fields)))
        if len(batch) + len(bad) >= chunk_rows:
            yield _validate(entity, header, _fields_frame(batch, batch_lines, width), bad)
            batch_lines, batch, bad = [], [], []
    if batch or bad or read == 0:
        yield _validate(entity, header, _fields_frame(batch, batch_lines, width), bad)


BLOCK_BYTES = 16 << 20
KEEP_BYTES = 256 << 20  # a simple file up to this size is read once; a larger one twice


def _unquoted_blocks(path: Path) -> Callable[[], Iterator[bytes]] | None:
    """The file's bytes, as a way to read them in blocks, when no byte of it
    needs the csv module: no quote (so every record is one line of fields
    split at commas), no carriage return but before a line feed, no NUL.
    None when the file needs the csv module (or is not readable gzip: the csv
    path says why)."""
    kept: list[bytes] | None = []
    size = 0
    try:
        with open_bytes(path) as handle:
            previous_cr = False
            while block := handle.read(BLOCK_BYTES):
                if b'"' in block or b"\x00" in block:
                    return None
                # a CR ending one block pairs with the LF starting the next
                crs = block.count(b"\r")
                if crs and (crs != block.count(b"\r\n") + block.endswith(b"\r")):
                    return None
                if previous_cr and not block.startswith(b"\n"):
                    return None
                previous_cr = block.endswith(b"\r")
                size += len(block)
                if kept is not None:
                    kept.append(block)
                    if size > KEEP_BYTES:
                        kept = None
            if previous_cr:
                return None
    except (OSError, EOFError, zlib.error):
        return None
    if kept is not None:
        return lambda: iter(kept)

    def again() -> Iterator[bytes]:
        with open_bytes(path) as handle:
            while block := handle.read(BLOCK_BYTES):
                yield block
    return again


def _unquoted_lines(path: Path, blocks: Callable[[], Iterator[bytes]]) -> Iterator[pl.DataFrame]:
    """(_line_number, _line) of every physical line, in frames of about a block."""
    number = 0
    carry = b""
    first = True
    pending = blocks()
    while True:
        block = next(pending, None)
        data = carry + (block or b"")
        if block is not None:
            cut = data.rfind(b"\n") + 1
            data, carry = data[:cut], data[cut:]
        if first and data.startswith(b"\xef\xbb\xbf"):
            data = data[3:]
        first = first and not data
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError:
            line, byte = _first_invalid_utf8(path)
            raise FileRejected(
                f"not UTF-8 text (invalid byte 0x{byte:02x} on line {line}); save the extract as UTF-8"
            ) from None
        lines = text.split("\n")
        if text.endswith("\n"):
            lines.pop()
        if lines and text:
            yield pl.DataFrame({
                "_line_number": pl.int_range(number + 1, number + len(lines) + 1, eager=True),
                "_line": pl.Series(lines, dtype=pl.String).str.strip_suffix("\r"),
            })
            number += len(lines)
        if block is None:
            return


def _read_unquoted(
    path: Path, entity: Entity, blocks: Callable[[], Iterator[bytes]], chunk_rows: int
) -> Iterator[Chunk]:
    header: list[str] | None = None
    width = 0
    read = 0
    for frame in _unquoted_lines(path, blocks):
        frame = frame.filter(pl.col("_line") != "")  # blank lines are not records
        if header is None:
            if frame.is_empty():
                continue
            header = normalize_header(frame["_line"][0].split(","))
            check_header(entity, header)
            width = len(header)
            frame = frame.slice(1)
        fields = pl.col("_line").str.count_matches(",", literal=True) + 1
        frame = frame.with_columns(fields.alias("_fields"))
        for start in range(0, frame.height, chunk_rows):
            part = frame.slice(start, chunk_rows)
            read += part.height
            good = part.filter(pl.col("_fields") == width)
            split = good.select(
                pl.col("_line").str.split_exact(",", width - 1)
                .struct.rename_fields([f"_c{i}" for i in range(width)]).struct.unnest(),
                "_line_number",
            )
            bad = part.filter(pl.col("_fields") != width).select(
                "_line_number",
                pl.format("expected {} fields, found {}", pl.lit(width), pl.col("_fields")),
                pl.col("_line").str.slice(0, MAX_RECORD_CHARS),
            ).rows()
            yield _validate(entity, header, split, bad)
    if header is None:
        raise FileRejected("empty file: no header row")
    if read == 0:
        yield _validate(entity, header, _fields_frame([], [], width), [])


def _join(fields: list[str]) -> str:
    return ",".join(fields)[:MAX_RECORD_CHARS]


def _shown(col: str) -> pl.Expr:
    return pl.col(col).str.slice(0, SHOWN_VALUE_CHARS)


def records_chunk(entity: Entity, records: list) -> Chunk:
    """Validate rows a format reader mapped (`formats.common.Mapped`) exactly as
    CSV rows: same types, value sets and required values. A reject's reason
    starts with what the record was (e.g. `ServiceRequest/sr-1: ...`)."""
    names = [c.name for c in entity.columns]
    extra = sorted({k for r in records for k in r.values if k not in entity.by_name})
    header = names + extra
    good = [r for r in records if r.error is None]
    bad = [(r.position, f"{r.label}: {r.error}", _join([str(v) for v in r.values.values() if v is not None]))
           for r in records if r.error is not None]
    batch = [["" if r.values.get(h) is None else str(r.values[h]) for h in header] for r in good]
    frame = _fields_frame(batch, [r.position for r in good], len(header))
    return _validate(entity, header, frame, bad, [r.label for r in good])


def _fields_frame(batch: list[list[str]], lines: list[int], width: int) -> pl.DataFrame:
    """Records' fields as string columns `_c0`, `_c1`, ... with `_line_number`."""
    columns = list(zip(*batch, strict=True)) if batch else [[] for _ in range(width)]
    return pl.DataFrame(
        {f"_c{i}": pl.Series(col, dtype=pl.String) for i, col in enumerate(columns)}
    ).with_columns(pl.Series("_line_number", lines, dtype=pl.Int64))


def _validate(
    entity: Entity,
    header: list[str],
    frame: pl.DataFrame,
    bad: list[tuple[int, str, str]],
    labels: list[str] | None = None,
) -> Chunk:
    """Type and check `frame`'s records (`_fields_frame` columns); `bad` are
    records already rejected for their shape, counted as read."""
    if labels is not None:
        frame = frame.with_columns(pl.Series("_label", labels, dtype=pl.String))
    # An empty field, quoted or not, is null.
    frame = frame.with_columns(
        pl.when(pl.col(f"_c{i}") != "").then(pl.col(f"_c{i}")).alias(f"_c{i}")
        for i in range(len(header))
    )
    position = {name: i for i, name in enumerate(header)}

    typed: list[pl.Expr] = []
    errors: list[pl.Expr] = []
    for name, i in position.items():
        length = pl.col(f"_c{i}").str.len_chars()
        errors.append(pl.when(length > MAX_FIELD_CHARS).then(pl.format(
            f"{name}: value of {{}} characters is longer than the limit of {MAX_FIELD_CHARS}", length)))
        errors.append(pl.when(pl.col(f"_c{i}").str.contains("\x00", literal=True)).then(
            pl.lit(f"{name}: contains a NUL byte (binary data in a text file?)")))
    for column in entity.columns:
        if column.name not in position:
            typed.append(pl.lit(None, dtype=_polars_type(column.type)).alias(column.name))
            if column.type == TIMESTAMP:
                typed.append(pl.lit(None, dtype=pl.String).alias(column.name + OFFSET_SUFFIX))
            continue
        src = f"_c{position[column.name]}"
        value, error, extra = _parse(column.name, column.type, column.values, src)
        typed.append(value.alias(column.name))
        typed.extend(extra)
        errors.append(error)
        if column.required:
            errors.append(
                pl.when(pl.col(src).is_null()).then(pl.lit(f"{column.name}: required value missing"))
            )

    unknown = [name for name in header if name not in entity.by_name]
    if unknown:
        extra_json = pl.struct(
            [pl.col(f"_c{position[name]}").alias(name) for name in unknown]
        ).struct.json_encode()
    else:
        extra_json = pl.lit(None, dtype=pl.String)

    reason = pl.concat_str(errors, separator="; ", ignore_nulls=True) if errors else pl.lit("")
    if labels is not None:
        reason = pl.when(reason.is_not_null() & (reason != "")).then(
            pl.concat_str([pl.col("_label"), pl.lit(": "), reason]))
    checked = frame.with_columns(
        *typed,
        extra_json.alias("_extra"),
        reason.alias("_reason"),
        pl.concat_str([pl.col(f"_c{i}").fill_null("") for i in range(len(header))], separator=",")
        .str.slice(0, MAX_RECORD_CHARS)
        .alias("_record"),
    )
    has_error = pl.col("_reason").is_not_null() & (pl.col("_reason") != "")
    good = checked.filter(~has_error)
    out_cols = [c for c in good.columns if not c.startswith("_c") and c not in ("_reason", "_record", "_label")]
    row_rejects = checked.filter(has_error).select(
        "_line_number", pl.col("_reason").alias("reason"), pl.col("_record").alias("record")
    )
    width_rejects = pl.DataFrame(bad, schema=REJECT_SCHEMA, orient="row")
    rejects = pl.concat([width_rejects, row_rejects]).sort("_line_number")
    return Chunk(good.select(out_cols), rejects, frame.height + len(bad), header)


def _polars_type(type_: str) -> pl.DataType:
    return {
        STR: pl.String,
        INT: pl.Int64,
        DECIMAL: pl.Decimal(18, 4),
        BOOL: pl.Boolean,
        DATE: pl.Date,
        TIMESTAMP: pl.Datetime("us"),
    }[type_]


def _parse(
    name: str, type_: str, values: tuple[str, ...] | None, src: str
) -> tuple[pl.Expr, pl.Expr, list[pl.Expr]]:
    """(typed value, error message or null, extra columns) for one column."""
    raw = pl.col(src)
    present = raw.is_not_null()
    extra: list[pl.Expr] = []
    if type_ == STR and values:
        value = raw.str.to_lowercase()
        ok = value.is_in(list(values))
        message = f"{name}: '{{}}' is not one of {', '.join(values)}"
    elif type_ == STR:
        return raw, pl.lit(None, dtype=pl.String), extra
    elif type_ == INT:
        ok = raw.str.contains(INT_RE)
        value = pl.when(ok).then(raw).cast(pl.Int64, strict=False)
        ok = ok & value.is_not_null()
        message = f"{name}: not an integer: '{{}}'"
    elif type_ == DECIMAL:
        ok = raw.str.contains(DECIMAL_RE)
        value = pl.when(ok).then(raw).cast(pl.Decimal(18, 4), strict=False)
        ok = ok & value.is_not_null()
        message = f"{name}: not a decimal number: '{{}}'"
    elif type_ == BOOL:
        lowered = raw.str.to_lowercase()
        value = (
            pl.when(lowered.is_in(TRUE_WORDS)).then(True)
            .when(lowered.is_in(FALSE_WORDS)).then(False)
        )
        ok = value.is_not_null()
        message = f"{name}: not a boolean (true/false, t/f, 1/0, y/n, yes/no): '{{}}'"
    elif type_ == DATE:
        well_formed = raw.str.contains(DATE_RE)
        value = pl.when(well_formed).then(raw).str.to_date("%Y-%m-%d", strict=False)
        ok = value.is_not_null()
        message = f"{name}: not a date (YYYY-MM-DD): '{{}}'"
    elif type_ == TIMESTAMP:
        parts = raw.str.extract_groups(TIMESTAMP_RE)
        day, hm = parts.struct.field("1"), parts.struct.field("2")
        seconds, offset = parts.struct.field("3"), parts.struct.field("4")
        normalized = pl.concat_str([day, pl.lit(" "), hm.fill_null("00:00"), seconds.fill_null(":00")])
        value = pl.when(day.is_not_null()).then(normalized).str.to_datetime(
            "%Y-%m-%d %H:%M:%S%.f", strict=False, time_unit="us"
        )
        ok = value.is_not_null()
        message = f"{name}: not an ISO 8601 timestamp: '{{}}'"
        extra.append(offset.alias(name + OFFSET_SUFFIX))
    else:  # pragma: no cover - the contract only has the types above
        raise ValueError(type_)
    error = pl.when(present & ~ok.fill_null(False)).then(pl.format(message, _shown(src)))
    return pl.when(present).then(value), error, extra
