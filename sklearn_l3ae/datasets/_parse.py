"""Reading raw files into columns of str, with errors that say file and line.

Parsing is fast on the happy path (whole-file decode, ``csv`` in C, numpy
conversions); only when something is wrong is the file scanned again to find
the first offending line, so the error can name it.
"""

import codecs
import csv
import gc
import gzip
import io
import math
import zlib
from contextlib import contextmanager
from operator import methodcaller
from pathlib import Path

import numpy as np

GZIP_MAGIC = b"\x1f\x8b"
_INT64 = np.iinfo(np.int64)


@contextmanager
def _gc_paused():
    # Building a million small row lists triggers the cyclic collector over
    # and over (they are containers); none of them can form a cycle, so the
    # collector is paused while they are built.  This halves parse time.
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def read_bytes(path):
    """Content of ``path``, decompressed if it is gzip (by its magic bytes)."""
    path = Path(path)
    with open(path, "rb") as file:
        data = file.read()
    if data[:2] != GZIP_MAGIC:
        return data
    try:
        return gzip.decompress(data)
    except (OSError, EOFError, zlib.error) as exc:
        raise ValueError(f"{path}: not a valid gzip file ({exc}).") from None


def decode_utf8(data, source):
    """Decode ``data`` (bytes of ``source``) as UTF-8, naming the bad byte.

    A UTF-8 byte-order mark is skipped.
    """
    start = len(codecs.BOM_UTF8) if data.startswith(codecs.BOM_UTF8) else 0
    try:
        return data[start:].decode("utf-8")
    except UnicodeDecodeError as exc:
        offset = start + exc.start
        line = data.count(b"\n", 0, offset) + 1
        raise ValueError(
            f"{source}, line {line} (byte offset {offset}): byte "
            f"{data[offset : offset + 1]!r} is not valid UTF-8; the file must be "
            "UTF-8 encoded (re-save it as UTF-8, e.g. with iconv -f latin1 -t utf-8)."
        ) from None


class CsvTable:
    """Columns of a CSV text by header name, with line numbers on demand.

    Parameters
    ----------
    text : str
        The whole file content.
    source : str or Path
        Name of the file, for messages.
    required, optional : tuple of str
        Column names that must / may appear in the header (any order; other
        columns are ignored).
    """

    def __init__(self, text, source, required, optional=()):
        self.text = text
        self.source = source
        expected = ",".join((*required, *optional))
        with _gc_paused():
            reader = csv.reader(io.StringIO(text, newline=""), strict=True)
            try:
                header = next(reader, None)
                rows = list(reader)
                if [] in rows:
                    rows = [row for row in rows if row]
            except csv.Error as exc:
                raise ValueError(
                    f"{source}, line {reader.line_num}: malformed CSV ({exc})."
                ) from None
        if header is None:
            raise ValueError(f"{source} is empty; expected the header {expected!r}.")
        header = [name.strip() for name in header]
        missing = [name for name in required if name not in header]
        if missing:
            raise ValueError(
                f"{source}, line 1: the header lacks the column(s) "
                f"{', '.join(map(repr, missing))}; got {','.join(header)!r}, "
                f"expected {expected!r}."
            )
        repeated = sorted({name for name in header if header.count(name) > 1})
        if repeated:
            raise ValueError(
                f"{source}, line 1: column(s) {', '.join(map(repr, repeated))} "
                "appear more than once in the header."
            )
        width = len(header)
        columns = _columns(
            rows, width, self.where, f"as in the header {','.join(header)!r}"
        )
        self.columns = {
            name: columns[header.index(name)]
            for name in (*required, *optional)
            if name in header
        }

    def where(self, index):
        """``"<file>, line <n>"`` of data row ``index`` (0-based): the line
        the row starts on."""
        # Quoted fields may span lines, so rows are counted again, the way
        # the constructor counted them (blank lines skipped).
        reader = csv.reader(io.StringIO(self.text, newline=""), strict=True)
        next(reader)
        end_of_previous = reader.line_num
        seen = -1
        for row in reader:
            start, end_of_previous = end_of_previous + 1, reader.line_num
            seen += bool(row)
            if seen == index:
                return f"{self.source}, line {start}"
        raise IndexError(f"{self.source} has no data row {index}.")


def _columns(rows, width, where, expected, separated=""):
    """The columns of ``rows``; a ValueError at the first row whose number of
    fields is not ``width`` (``where(index)`` names its line)."""
    if rows and set(map(len, rows)) != {width}:
        index = next(i for i, row in enumerate(rows) if len(row) != width)
        raise ValueError(
            f"{where(index)}: {len(rows[index])} field(s){separated}, expected "
            f"{width} {expected}."
        )
    with _gc_paused():
        return list(zip(*rows, strict=True)) if rows else [()] * width


class DelimitedLines:
    """Fields of a text file with one record per line and a fixed separator.

    The MovieLens raw files (``u.data``, ``ratings.dat``, ...) have no
    quoting: a record is a line split on ``separator``.  Blank lines are
    skipped; fields are kept as they are (as in a CSV file).
    """

    def __init__(self, text, source, separator, n_fields, layout):
        self.source = source
        # Not splitlines(), which also breaks at form feeds, U+001C-U+001E
        # and U+0085.
        lines = text.replace("\r\n", "\n").split("\n")
        if lines[-1] == "":
            lines.pop()
        # Line numbers are stored only when blank lines make them differ
        # from row numbers.
        self._line_numbers = None
        if "" in lines:
            self._line_numbers = [i for i, line in enumerate(lines, 1) if line]
            lines = [line for line in lines if line]
        with _gc_paused():
            rows = list(map(methodcaller("split", separator), lines))
        self.columns = _columns(
            rows, n_fields, self.where, f"({layout})", f" separated by {separator!r}"
        )

    def where(self, index):
        """``"<file>, line <n>"`` of record ``index`` (0-based)."""
        line = index + 1 if self._line_numbers is None else self._line_numbers[index]
        return f"{self.source}, line {line}"


def parse_numbers(values, dtype, what, where):
    """``values`` (str) as a ``dtype`` array, or None when all are empty.

    Values must be all empty (the source lacks the field) or all given.
    ``where(i)`` locates value ``i`` for the messages.
    """
    n_empty = values.count("")
    if values and n_empty == len(values):
        return None
    if n_empty:
        empty = values.index("")
        given = next(i for i, value in enumerate(values) if value)
        raise ValueError(
            f"{where(empty)}: {what} is empty, but it is given at {where(given)}; "
            f"{what} must be given on every line or on none."
        )
    integer = np.issubdtype(dtype, np.integer)
    try:
        numbers = np.array(values, dtype=dtype)
    except (ValueError, OverflowError):
        pass
    else:
        if np.isfinite(numbers).all():
            return numbers
    bad = next(i for i, value in enumerate(values) if not _is_number(value, integer))
    kind = "an integer" if integer else "a finite number"
    raise ValueError(f"{where(bad)}: {what} {values[bad]!r} is not {kind}.")


def _is_number(value, integer):
    """Whether numpy converts ``value`` to a finite int64 / float64."""
    try:
        number = int(value) if integer else float(value)
    except ValueError:
        return False
    if integer:
        return _INT64.min <= number <= _INT64.max
    return math.isfinite(number)
