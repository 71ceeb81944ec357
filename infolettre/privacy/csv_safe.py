"""CSV files a spreadsheet opens safely: the one writer of every CSV file the product hands out.

A spreadsheet runs a cell that starts with =, +, -, @, a tab or a carriage return (even after
blanks) as a formula; a contact's name such as `=HYPERLINK(...)` would then act on the machine of
whoever opens the export. Following OWASP's advice on CSV injection, every such cell is prefixed
with a single quote, which the spreadsheet shows as text, and every cell is enclosed in double
quotes, so that a spreadsheet splitting lines on another separator (a semicolon, in French
settings) cannot cut a cell in two and start a formula in the second half.

Lists, segments, import reports and the incident register all write through `writer` or `stream`;
a test fails on any other use of `csv.writer` in the product.
"""

import csv
import json
from datetime import datetime

from django.utils import timezone

BOM = "\ufeff"
# A cell starting with one of these, even after blanks, may be run as a formula by a spreadsheet.
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
QUOTING = csv.QUOTE_ALL
_FLUSH_AT = 64 * 1024


def neutralise(text):
    """Prefix a quote to a cell a spreadsheet would read as a formula; leave the others alone."""
    if text.lstrip().startswith(FORMULA_STARTS) or text.startswith(FORMULA_STARTS):
        return "'" + text
    return text


def cell(value):
    """Write one value as a cell's text: dates in local time, JSON for structures, never a formula."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, datetime):
        return timezone.localtime(value).isoformat()
    if isinstance(value, dict | list):
        return neutralise(json.dumps(value, ensure_ascii=False))
    return neutralise(str(value))


class SafeWriter:
    """A csv writer whose every value goes through `cell` before it is written."""

    def __init__(self, out, **options):
        self._writer = csv.writer(out, quoting=QUOTING, **options)

    def writerow(self, row):
        return self._writer.writerow([cell(value) for value in row])

    def writerows(self, rows):
        for row in rows:
            self.writerow(row)


def writer(out, **options):
    """Return a writer of formula-safe rows on the text file `out` (csv.writer's options)."""
    return SafeWriter(out, **options)


class _Line:
    def write(self, text):
        return text


def stream(header, rows, **options):
    """Yield a whole CSV file as UTF-8 bytes with a byte order mark (so that spreadsheet programs
    read accents), in pieces of about 64 KB: the header, then the rows as they are read."""
    line_writer = writer(_Line(), **options)
    buffer, size = [BOM, line_writer.writerow(header)], 0
    for row in rows:
        line = line_writer.writerow(row)
        buffer.append(line)
        size += len(line)
        if size >= _FLUSH_AT:
            yield "".join(buffer).encode()
            buffer, size = [], 0
    yield "".join(buffer).encode()
