"""CSV import of contacts into a list: the upload is checked at once, the rows are written in the background.

`check_import_file` reads the upload as it arrives (encoding, delimiter, header, an email column) and
refuses a broken file before anything is stored. `do_start_import` records the import and queues
it. `run_import` then reads the stored file twice, streaming, so that memory stays bounded whatever
its size: the validation pass reads every line and infers the type of each attribute column without
writing anything (a broken file fails whole); the write pass validates each row and writes contacts
and subscriptions in batches, each committed with the progress and the counts, so that a worker that
stops is resumed after its last committed batch.
"""

import codecs
import csv
import hashlib
import io
import json
import re
import secrets
import tempfile
import threading
import unicodedata
from collections import Counter, deque
from concurrent.futures import Future
from contextlib import closing, contextmanager
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from queue import Full, Queue

import email_validator
from django.conf import settings
from django.core.files import File
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.db import connection, transaction
from django.db.models import F
from django.utils import timezone, translation
from django.utils.text import slugify
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from infolettre.accounts.tenancy import tenant_scope
from infolettre.accounts.validation import check_email, check_phone
from infolettre.errors import Invalid
from infolettre.privacy import csv_safe
from infolettre.privacy.encryption import encrypt

from .actions import suppression_hash
from .consent import check_consent, consent_expiry
from .errors import BrokenFile
from .models import (
    ATTRIBUTE_KEY,
    ConsentBasis,
    Contact,
    ContactImport,
    ImportMode,
    ImportStatus,
    Subscription,
    SubscriptionStatus,
    Suppression,
)

UPLOAD_FOLDER = "imports/"
REPORT_FOLDER = "imports/reports/"
SNIFF_BYTES = 64 * 1024
CHUNK_BYTES = 1024 * 1024
DELIMITERS = (",", ";", "\t", "|")
PREVIEW_ROWS = 5
BATCH_ROWS = 10_000
SQLITE_CACHE_KIB = 32 * 1024
# Connections writing an import's batches at once, on PostgreSQL.
POSTGRES_WRITERS = 2
# An upload the person never confirmed is deleted after this long.
ABANDONED_AFTER = timedelta(days=1)

# Limits of the columns written; the attribute limits are those of the contacts API.
EMAIL_MAX, NAME_MAX, PHONE_MAX = 254, 200, 32
ATTRIBUTE_VALUE_MAX, ATTRIBUTES_MAX = 1000, 50
ATTRIBUTE_PREFIX = "attribute:"
SINGLE_TARGETS = ("email", "name", "first_name", "last_name", "phone")

# Column names recognised, compared lower-case, without accents, spaces or punctuation.
EMAIL_HEADERS = {
    "email",
    "courriel",
    "mail",
    "adresse",
    "adressecourriel",
    "adressedecourriel",
    "adresseemail",
    "adressemail",
    "adresseelectronique",
    "courrielelectronique",
    "emailaddress",
    "mailaddress",
}
NAME_HEADERS = {
    "name",
    "fullname",
    "nomcomplet",
    "prenomnom",
    "prenometnom",
    "nomprenom",
    "nometprenom",
    "contactname",
}
FIRST_NAME_HEADERS = {"prenom", "firstname", "givenname"}
LAST_NAME_HEADERS = {"nomdefamille", "lastname", "surname", "familyname"}
PHONE_HEADERS = {
    "phone",
    "telephone",
    "tel",
    "mobile",
    "cell",
    "cellulaire",
    "portable",
    "cellphone",
    "mobilephone",
    "phonenumber",
    "numerodetelephone",
    "telephonemobile",
    "telephonecellulaire",
}

# The fast path for addresses: plain ASCII dot-atoms on ordinary domains. Every address it accepts
# is one email-validator accepts and normalises to the same string (proved in the tests); anything
# else (quoted parts, internationalised or punycode domains, special-use names) goes to check_email.
_SPECIAL_USE = "|".join(re.escape(n) for n in email_validator.SPECIAL_USE_DOMAIN_NAMES)
FAST_EMAIL = re.compile(
    r"(?=[^@]{1,64}@)[a-z0-9_%+-]+(?:\.[a-z0-9_%+-]+)*@"
    rf"(?!(?:[a-z0-9-]+\.)*(?:{_SPECIAL_USE})$)"
    r"(?:(?=[a-z0-9-]{1,63}\.)[a-z0-9]+(?:-[a-z0-9]+)*\.)+[a-z]{2,63}"
)

# Attribute types, inferred from every non-empty value of a column.
INTEGER, NUMBER, BOOLEAN, DATE = 1, 2, 4, 8
SEEN = 16
TYPE_NAMES = ((INTEGER, "integer"), (NUMBER, "number"), (BOOLEAN, "boolean"), (DATE, "date"))
INTEGER_VALUE = re.compile(r"[+-]?(?:0|[1-9][0-9]{0,14})")
NUMBER_VALUE = re.compile(r"[+-]?(?:0|[1-9][0-9]{0,14})(?:[.,][0-9]{1,15})?")
TRUE_WORDS = {"true", "yes", "oui", "vrai"}
BOOLEAN_WORDS = TRUE_WORDS | {"false", "no", "non", "faux"}


def max_upload_bytes():
    return getattr(settings, "IMPORT_MAX_BYTES", 200 * 1024 * 1024)


# Checking an upload ------------------------------------------------------------------------------


@dataclass
class FileCheck:
    """What the first look at an upload found: how to read it, its columns and a few rows."""

    encoding: str
    delimiter: str
    header: list
    rows: list
    mapping: dict


def check_import_file(uploaded):
    """Read an upload once, streaming; return how to read it or raise BrokenFile, storing nothing."""
    if uploaded.size > max_upload_bytes():
        raise BrokenFile(
            _("This file is larger than %(limit)d MB; split it into smaller files.")
            % {"limit": max_upload_bytes() // (1024 * 1024)},
            code="file_too_large",
        )
    uploaded.seek(0)
    head = uploaded.read(SNIFF_BYTES)
    uploaded.seek(0)
    if not head.strip():
        raise BrokenFile(_("This file is empty."), code="empty_file")
    _refuse_binary(head)
    encoding = _sniff_encoding(uploaded, head)
    text = codecs.getincrementaldecoder(encoding)(errors="replace").decode(
        head, final=len(head) == uploaded.size
    )
    if len(head) < uploaded.size:
        # Only whole lines: the last one may be cut by the sample's end.
        text = text[: text.rfind("\n") + 1] or text
    delimiter = _sniff_delimiter(text)
    header, rows = _read_head(text, delimiter)
    mapping = suggest_mapping(header, rows)
    if "email" not in mapping.values():
        raise BrokenFile(
            _(
                "No column of this file holds email addresses. Its first line reads as these "
                "columns: %(columns)s. Name the column of addresses “email” or “courriel”, and "
                "separate the columns with commas, semicolons, tabs or vertical bars."
            )
            % {
                "columns": ", ".join(_("“%(column)s”") % {"column": h} for h in header[:10] if h)
                or "—"
            },
            code="no_email_column",
        )
    return FileCheck(encoding, delimiter, header, rows, mapping)


def _refuse_binary(head):
    if head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        raise BrokenFile(
            _("This file is saved as UTF-16 text; save it again as “CSV UTF-8”."),
            code="binary_file",
        )
    if head.startswith((b"PK\x03\x04", b"\xd0\xcf\x11\xe0")):
        raise BrokenFile(
            _("This is a spreadsheet workbook, not a CSV file; save it again as “CSV UTF-8”."),
            code="binary_file",
        )
    controls = len(head) - len(head.translate(None, _CONTROL_BYTES))
    if b"\x00" in head or controls > len(head) // 100:
        raise BrokenFile(
            _("This file is not text: it cannot be a CSV file."),
            code="binary_file",
        )


_CONTROL_BYTES = bytes([*range(0, 9), 11, 12, *range(14, 32), 127])


def _sniff_encoding(uploaded, head):
    """UTF-8 when every byte of the file is UTF-8 (with or without its mark), else Windows-1252."""
    bad_line = _first_undecodable_line(uploaded, "utf-8")
    if bad_line is None:
        return "utf-8-sig" if head.startswith(codecs.BOM_UTF8) else "utf-8"
    # A file that starts with the UTF-8 mark says what it is: its bad bytes are not Windows-1252.
    if not head.startswith(codecs.BOM_UTF8):
        bad_line = _first_undecodable_line(uploaded, "cp1252")
    if bad_line is not None:
        raise BrokenFile(
            _(
                "Line %(line)d has characters that are neither UTF-8 nor Windows-1252; save the "
                "file again as “CSV UTF-8”."
            )
            % {"line": bad_line},
            code="undecodable_file",
        )
    return "cp1252"


def _first_undecodable_line(uploaded, encoding):
    """The number of the first line that does not decode, or None; refuse a NUL byte anywhere."""
    decoder = codecs.getincrementaldecoder(encoding)()
    lines = 1
    for chunk in uploaded.chunks(CHUNK_BYTES):
        if b"\x00" in chunk:
            raise BrokenFile(
                _("This file is not text: it cannot be a CSV file."), code="binary_file"
            )
        try:
            decoder.decode(chunk)
        except UnicodeDecodeError as e:
            return lines + chunk[: max(e.start, 0)].count(b"\n")
        lines += chunk.count(b"\n")
    try:
        decoder.decode(b"", final=True)
    except UnicodeDecodeError:
        return lines
    return None


def _sniff_delimiter(text):
    lines = [line for line in text.split("\n")[:50] if line.strip()][:20]
    if not lines:
        return ","
    first = lines[0]
    try:
        delimiter = csv.Sniffer().sniff("\n".join(lines), delimiters="".join(DELIMITERS)).delimiter
    except csv.Error:
        delimiter = None
    if delimiter in DELIMITERS and delimiter in first:
        return delimiter
    # The sniffer found nothing consistent: the candidate most frequent in the first line.
    counts = {d: first.count(d) for d in DELIMITERS}
    best = max(DELIMITERS, key=counts.get)
    return best if counts[best] else ","


def _read_head(text, delimiter):
    """Return the header and the first rows of the sample; refuse a file without rows."""
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter, strict=True)
    header, rows = None, []
    try:
        for row in reader:
            if not _has_value(row):
                continue
            if header is None:
                header = [h.strip() for h in row]
            else:
                rows.append(row)
                if len(rows) == PREVIEW_ROWS:
                    break
    except csv.Error:
        raise BrokenFile(_csv_error(reader.line_num), code="unreadable_file") from None
    if header is None:
        raise BrokenFile(_("This file is empty."), code="empty_file")
    if not rows:
        raise BrokenFile(
            _("This file has a first line of column names but no rows to import."),
            code="no_rows",
        )
    named = [h for h in header if h]
    twice = sorted({h for h in named if named.count(h) > 1})
    if twice:
        raise BrokenFile(
            _("Two columns have the same name, “%(name)s”; rename one of them.")
            % {"name": twice[0]},
            code="duplicate_columns",
        )
    return header, rows


def _csv_error(line):
    return _(
        "Line %(line)d cannot be read as CSV: a quotation mark is probably missing or misplaced."
    ) % {"line": line}


def _has_value(row):
    """Whether a row read by csv is more than a blank line; nearly every row has a first value."""
    return bool(row) and ((row[0] and not row[0].isspace()) or bool("".join(row).strip()))


def _plain(header):
    text = unicodedata.normalize("NFKD", header).encode("ascii", "ignore").decode()
    return re.sub(r"[^a-z0-9]", "", text.lower())


def attribute_keys(header):
    """The attribute key each column would have: its name slugged, unique within the file."""
    keys, taken = [], set()
    for index, name in enumerate(header):
        key = slugify(name).replace("-", "_")[:60] or f"column_{index + 1}"
        unique, n = key, 2
        while unique in taken:
            unique, n = f"{key}_{n}", n + 1
        taken.add(unique)
        keys.append(unique)
    return keys


def suggest_mapping(header, rows=()):
    """Guess what each column holds from its name, and the address column from its values."""
    plain = [_plain(h) for h in header]
    keys = attribute_keys(header)
    has_full_name = any(p in NAME_HEADERS for p in plain)
    has_first_name = any(p in FIRST_NAME_HEADERS for p in plain)
    targets = {}
    for index, name in enumerate(header):
        if not name:
            continue
        p = plain[index]
        if p in EMAIL_HEADERS:
            wanted = "email"
        elif p in PHONE_HEADERS:
            wanted = "phone"
        elif p in NAME_HEADERS:
            wanted = "name"
        elif p in FIRST_NAME_HEADERS and not has_full_name:
            wanted = "first_name"
        elif p in LAST_NAME_HEADERS and not has_full_name:
            wanted = "last_name"
        elif p == "nom" and not has_full_name:
            wanted = "last_name" if has_first_name else "name"
        else:
            wanted = None
        if wanted and wanted not in targets.values():
            targets[name] = wanted
        else:
            targets[name] = ATTRIBUTE_PREFIX + keys[index]
    if "email" not in targets.values():
        column = _column_of_addresses(header, rows)
        if column is not None:
            targets[header[column]] = "email"
    return targets


def _column_of_addresses(header, rows):
    for index, name in enumerate(header):
        values = [r[index].strip().lower() for r in rows if index < len(r) and r[index].strip()]
        if name and values and all(FAST_EMAIL.fullmatch(v) for v in values):
            return index
    return None


# Starting an import ------------------------------------------------------------------------------


def store_upload(uploaded):
    """Save an upload in the default storage under a name nobody can guess; return that name."""
    sweep_abandoned_uploads()
    return default_storage.save(f"{UPLOAD_FOLDER}{secrets.token_urlsafe(24)}.csv", uploaded)


def sweep_abandoned_uploads(now=None):
    """Delete uploads older than a day that no import uses (a preview nobody confirmed)."""
    limit = (now or timezone.now()) - ABANDONED_AFTER
    try:
        names = default_storage.listdir(UPLOAD_FOLDER)[1]
    except FileNotFoundError:
        return
    stale = [
        f"{UPLOAD_FOLDER}{n}"
        for n in names
        if default_storage.get_modified_time(f"{UPLOAD_FOLDER}{n}") < limit
    ]
    used = set(ContactImport.unscoped.filter(file__in=stale).values_list("file", flat=True))
    for name in stale:
        if name not in used:
            default_storage.delete(name)


def read_stored_head(name, encoding, delimiter):
    """The header and first rows of a stored upload, to show its preview again."""
    with default_storage.open(name, "rb") as stored:
        head = stored.read(SNIFF_BYTES)
    text = head.decode(encoding, errors="replace")
    return _read_head(text[: text.rfind("\n") + 1] or text, delimiter)


def check_import_options(
    header,
    *,
    mapping,
    mode,
    consent_basis,
    consent_at=None,
    consent_source="",
    consent_wording="",
):
    """Validate what the person chose for a file; return the values to record or raise Invalid."""
    errors = []
    mapping = _check_mapping(header, mapping, errors)
    if mode not in ImportMode.values:
        errors.append({"field": "mode", "message": _("Choose how existing contacts are treated.")})
    consent_source, consent_wording = (
        (consent_source or "").strip(),
        (consent_wording or "").strip(),
    )
    if isinstance(consent_at, date) and not isinstance(consent_at, datetime):
        consent_at = timezone.make_aware(datetime.combine(consent_at, time.min))
    try:
        consent_at, expires_at = check_consent(consent_basis, consent_at, consent_source)
    except Invalid as e:
        errors.extend(e.details)
        expires_at = None
    if len(consent_source) > 300:
        errors.append(
            {
                "field": "consent_source",
                "message": _("Use at most %(limit)d characters.") % {"limit": 300},
            }
        )
    if consent_basis == ConsentBasis.EXPRESS and not consent_wording:
        errors.append(
            {
                "field": "consent_wording",
                "message": _("Give the words the people agreed to, as proof of their consent."),
            }
        )
    if errors:
        raise Invalid(_("The import cannot start as it is."), details=errors)
    return {
        "mapping": mapping,
        "mode": mode,
        "consent_basis": consent_basis,
        "consent_at": consent_at,
        "consent_expires_at": expires_at,
        "consent_source": consent_source,
        "consent_wording": consent_wording,
    }


def _check_mapping(header, mapping, errors):
    def refuse(message):
        errors.append({"field": "mapping", "message": message})

    if not isinstance(mapping, dict) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in mapping.items()
    ):
        refuse(_("Give the mapping as an object: column name to “email”, “name”, “phone”…"))
        return {}
    columns = [h for h in header if h]
    for name in mapping:
        if name not in columns:
            refuse(_("The file has no column “%(name)s”.") % {"name": name})
    full = {name: mapping.get(name, "").strip() for name in columns}
    keys = []
    for name, target in full.items():
        if target.startswith(ATTRIBUTE_PREFIX):
            key = target.removeprefix(ATTRIBUTE_PREFIX)
            if not ATTRIBUTE_KEY.fullmatch(key):
                refuse(
                    _("“%(key)s” cannot name an attribute: use 1 to 64 of a-z, 0-9 and _.")
                    % {"key": key}
                )
            keys.append(key)
        elif target and target not in SINGLE_TARGETS:
            refuse(
                _("“%(target)s” is not something a column can hold (column “%(name)s”).")
                % {"target": target, "name": name}
            )
    for key in sorted({k for k in keys if keys.count(k) > 1}):
        refuse(_("Two columns would fill the same attribute “%(key)s”.") % {"key": key})
    if len(keys) > ATTRIBUTES_MAX:
        refuse(_("Import at most %(limit)d attribute columns.") % {"limit": ATTRIBUTES_MAX})
    targets = list(full.values())
    if "email" not in targets:
        refuse(_("Choose the column that holds the email addresses."))
    for target in SINGLE_TARGETS:
        if targets.count(target) > 1:
            refuse(_("Only one column can hold “%(target)s”.") % {"target": target})
    return full


@transaction.atomic
def do_start_import(
    mailing_list,
    user,
    *,
    stored_name,
    filename,
    encoding,
    delimiter,
    header,
    mapping,
    mode=ImportMode.ADD_OR_UPDATE,
    consent_basis,
    consent_at=None,
    consent_source="",
    consent_wording="",
):
    """Record an import of a stored, checked file into a list, and queue it."""
    from .tasks import import_contacts

    options = check_import_options(
        header,
        mapping=mapping,
        mode=mode,
        consent_basis=consent_basis,
        consent_at=consent_at,
        consent_source=consent_source,
        consent_wording=consent_wording,
    )
    options.pop("consent_expires_at")
    contact_import = ContactImport.objects.create(
        tenant=mailing_list.tenant,
        mailing_list=mailing_list,
        created_by=user,
        filename=(filename or "import.csv")[:255],
        file=stored_name,
        encoding=encoding,
        delimiter=delimiter,
        **options,
    )
    transaction.on_commit(lambda: import_contacts.enqueue(contact_import.pk))
    return contact_import


# Running an import -------------------------------------------------------------------------------


def run_import(import_id, *, batch_rows=BATCH_ROWS, after_batch=None):
    """Import a queued file; run again after a stop, carry on after the last committed batch.

    `after_batch(rows_done)` is called after each committed batch (the tests stop a run there).
    """
    contact_import = (
        ContactImport.unscoped.select_related("tenant", "mailing_list", "created_by")
        .filter(pk=import_id)
        .first()
    )
    if contact_import is None or contact_import.status in (ImportStatus.DONE, ImportStatus.FAILED):
        return contact_import
    user = contact_import.created_by
    with (
        tenant_scope(contact_import.tenant),
        translation.override(user.language if user else settings.LANGUAGE_CODE),
    ):
        if contact_import.status == ImportStatus.QUEUED:
            contact_import.status = ImportStatus.RUNNING
            contact_import.started_at = timezone.now()
            contact_import.save(update_fields=["status", "started_at"])
        try:
            if not contact_import.total_rows:
                _validation_pass(contact_import)
            header = _write_pass(contact_import, batch_rows, after_batch)
        except BrokenFile as e:
            _fail(contact_import, str(e.message))
        else:
            _finish(contact_import, header)
    return contact_import


def _records(contact_import):
    """Yield (line number, fields) for the header, then each row that is not blank."""
    try:
        stored = default_storage.open(contact_import.file.name, "rb")
    except (FileNotFoundError, ValueError):
        raise BrokenFile(_("The uploaded file is no longer stored; upload it again.")) from None
    with io.TextIOWrapper(stored, encoding=contact_import.encoding, newline="") as text:
        reader = csv.reader(text, delimiter=contact_import.delimiter, strict=True)
        last = 0
        try:
            for row in reader:
                line, last = last + 1, reader.line_num
                # Nearly every row has a first value; the slower test is for the others.
                if row and ((row[0] and not row[0].isspace()) or "".join(row).strip()):
                    yield line, row
        except UnicodeDecodeError:
            with default_storage.open(contact_import.file.name, "rb") as again:
                line = _first_undecodable_line(again, contact_import.encoding) or last + 1
            raise BrokenFile(
                _("Line %(line)d has bytes that are not %(encoding)s text.")
                % {"line": line, "encoding": encoding_name(contact_import.encoding)}
            ) from None
        except csv.Error:
            raise BrokenFile(_csv_error(reader.line_num)) from None


def encoding_name(encoding):
    """The name people know an encoding by."""
    return "Windows-1252" if encoding == "cp1252" else "UTF-8"


def _header(records):
    try:
        return [h.strip() for h in next(records)[1]]
    except StopIteration:
        raise BrokenFile(_("This file is empty.")) from None


def _attribute_columns(header, mapping):
    index = {name: i for i, name in enumerate(header) if name}
    return [
        (index[name], target.removeprefix(ATTRIBUTE_PREFIX))
        for name, target in mapping.items()
        if target.startswith(ATTRIBUTE_PREFIX) and name in index
    ]


def _validation_pass(contact_import):
    """Read every line without writing: count the rows, infer each attribute's type."""
    records = _records(contact_import)
    header = _header(records)
    missing = [name for name in contact_import.mapping if name not in header]
    if missing:
        raise BrokenFile(_("The file has no column “%(name)s”.") % {"name": missing[0]})
    columns = _attribute_columns(header, contact_import.mapping)
    pending = [[i, INTEGER | NUMBER | BOOLEAN | DATE] for i, _key in columns]
    found = {}
    total = 0
    for _line, row in records:
        total += 1
        if not pending:
            continue
        width = len(row)
        dead = False
        for column in pending:
            i, kinds = column
            value = row[i].strip() if i < width else ""
            if not value:
                continue
            if kinds & INTEGER and not INTEGER_VALUE.fullmatch(value):
                kinds &= ~INTEGER
            if kinds & NUMBER and not NUMBER_VALUE.fullmatch(value):
                kinds &= ~NUMBER
            if kinds & BOOLEAN and value.lower() not in BOOLEAN_WORDS:
                kinds &= ~BOOLEAN
            if kinds & DATE and not _is_date(value):
                kinds &= ~DATE
            column[1] = kinds | SEEN
            dead = dead or not kinds & ~SEEN
        if dead:
            # A column with a value of no narrower type holds strings: stop looking at it.
            found.update({i: kinds for i, kinds in pending if not kinds & ~SEEN})
            pending = [c for c in pending if c[1] & ~SEEN]
    if not total:
        raise BrokenFile(_("This file has a first line of column names but no rows to import."))
    found.update({i: kinds for i, kinds in pending})
    types = {}
    for i, key in columns:
        kinds = found.get(i, 0)
        names = [name for flag, name in TYPE_NAMES if kinds & SEEN and kinds & flag]
        types[key] = names[0] if names else "string"
    contact_import.total_rows = total
    contact_import.attribute_types = types
    contact_import.save(update_fields=["total_rows", "attribute_types"])


def _is_date(value):
    if len(value) != 10 or value[4] != "-" or value[7] != "-" or not value.isascii():
        return False
    try:
        date.fromisoformat(value)
    except ValueError:
        return False
    return True


def _number(value):
    return float(value.replace(",", "."))


def _boolean(value):
    return value.lower() in TRUE_WORDS


CONVERTERS = {"integer": int, "number": _number, "boolean": _boolean, "date": None, "string": None}


class _Reasons:
    """The report's reasons, in the language of the person who imports."""

    def __init__(self, header):
        self.header = header
        self.no_email = _("No email address.")
        self.bad_email = _("Not a valid email address.")
        self.bad_phone = _("Not a valid phone number.")
        self.suppressed = _(
            "On the suppression list: this address is never mailed again; not imported."
        )
        self.unsubscribed = _(
            "Unsubscribed from this list: the contact is kept but not subscribed again."
        )

    def too_long(self, column, limit):
        return _("“%(column)s” is longer than %(limit)d characters.") % {
            "column": self.header[column],
            "limit": limit,
        }

    def too_many_values(self, found):
        expected = len(self.header)
        return ngettext(
            "This row has %(found)d values; the first line names %(expected)d column.",
            "This row has %(found)d values; the first line names %(expected)d columns.",
            expected,
        ) % {"found": found, "expected": expected}


def _write_pass(contact_import, batch_rows, after_batch):
    """Write the rows after those already committed, batch by batch; return the file's header."""
    records = _records(contact_import)
    header = _header(records)
    reader = _RowReader(contact_import, header)
    reasons = _Reasons(header)
    batches = reader.batches(
        records, contact_import.processed_rows, batch_rows, translation.get_language()
    )
    order = _CommitOrder(contact_import.processed_rows)
    # Other connections see only what is committed: inside a transaction, write in this one.
    writers = 1
    if connection.vendor == "postgresql" and not connection.in_atomic_block:
        writers = POSTGRES_WRITERS
    with closing(_in_background(batches)) as ready:
        if writers == 1:
            with _connection_set_for_import():
                writer = _BatchWriter(contact_import, reasons)
                for batch in ready:
                    writer.write(batch, order)
                    if after_batch:
                        after_batch(batch.position)
        else:
            _write_in_parallel(contact_import, reasons, ready, order, writers, after_batch)
    contact_import.refresh_from_db()
    return header


class _CommitOrder:
    """Batches commit in the order of the file: each waits for the one before it.

    A batch that fails, or is given up, makes every later one give up too.
    """

    def __init__(self, committed):
        self.committed = committed
        self.failed = False
        self.changed = threading.Condition()

    def wait_for(self, position):
        """Return once the rows up to `position` are committed; raise if they never will be."""
        with self.changed:
            self.changed.wait_for(lambda: self.failed or self.committed == position)
            if self.failed:
                raise _GivenUp

    def done(self, position):
        with self.changed:
            self.committed = position
            self.changed.notify_all()

    def fail(self):
        with self.changed:
            self.failed = True
            self.changed.notify_all()


class _GivenUp(Exception):
    """An earlier batch did not commit: this one is rolled back, to be written again."""


def _write_in_parallel(contact_import, reasons, ready, order, writers, after_batch):
    """Write alternate batches on `writers` connections, at most one batch in each at a time.

    The database's work is most of an import's, and one connection does it on one processor:
    with two, a batch is written while the one before it finishes and commits.
    """
    inboxes = [Queue() for _ in range(writers)]
    threads = [
        threading.Thread(
            target=_writer_thread,
            args=(contact_import, reasons, inbox, order),
            name=f"contact-import-writer-{n}",
            daemon=True,
        )
        for n, inbox in enumerate(inboxes)
    ]
    for thread in threads:
        thread.start()
    in_flight = deque()
    try:
        for n, batch in enumerate(ready):
            if len(in_flight) == writers:
                _finished(in_flight.popleft(), after_batch)
            written = Future()
            inboxes[n % writers].put((batch, written))
            in_flight.append((batch, written))
        while in_flight:
            _finished(in_flight.popleft(), after_batch)
    except BaseException:
        order.fail()
        raise
    finally:
        for inbox in inboxes:
            inbox.put(None)
        for thread in threads:
            thread.join()


def _finished(item, after_batch):
    batch, written = item
    written.result()
    if after_batch:
        after_batch(batch.position)


def _writer_thread(contact_import, reasons, inbox, order):
    """Write the batches given to this thread on its own database connection."""
    try:
        with _connection_set_for_import():
            writer = _BatchWriter(contact_import, reasons)
            while (job := inbox.get()) is not None:
                batch, written = job
                try:
                    writer.write(batch, order)
                except BaseException as e:  # handed to the thread that waits for this batch
                    order.fail()
                    written.set_exception(e)
                else:
                    written.set_result(batch.position)
    except BaseException as e:
        order.fail()
        while (job := inbox.get()) is not None:
            job[1].set_exception(e)
    finally:
        connection.close()


@contextmanager
def _connection_set_for_import():
    """Settings of the import's database connection, as long as the import lasts.

    SQLite: a larger page cache. Contacts arrive in no particular order, so their address index
    is updated all over; with the default 2 MB cache each batch reads its pages again.
    PostgreSQL: no wait for each batch's commit to reach the disk. The progress commits with the
    rows, so should the server lose its last commits, the import resumes before them.
    """
    if connection.vendor == "sqlite":
        show, setting = "PRAGMA cache_size", f"PRAGMA cache_size = -{SQLITE_CACHE_KIB}"
        restore = "PRAGMA cache_size = {}"
    elif connection.vendor == "postgresql":
        show, setting = "SHOW synchronous_commit", "SET synchronous_commit = off"
        restore = "SET synchronous_commit = '{}'"
    else:
        yield
        return
    with connection.cursor() as cursor:
        cursor.execute(show)
        (previous,) = cursor.fetchone()
        cursor.execute(setting)
    try:
        yield
    finally:
        with connection.cursor() as cursor:
            cursor.execute(restore.format(previous))


def _in_background(items, depth=1):
    """Iterate `items` in a thread at most `depth` items ahead: reading overlaps the writing.

    The reading thread never touches the database; its exceptions are raised here.
    """
    queue = Queue(maxsize=depth)
    stop = threading.Event()
    end = object()

    def put(item):
        while not stop.is_set():
            try:
                queue.put(item, timeout=0.1)
            except Full:
                continue
            return True
        return False

    def produce():
        try:
            for item in items:
                if not put((item, None)):
                    return
            put((end, None))
        except BaseException as e:  # handed to the consuming thread as it is
            put((end, e))
        finally:
            items.close()

    thread = threading.Thread(target=produce, name="contact-import-reader", daemon=True)
    thread.start()
    try:
        while True:
            item, error = queue.get()
            if error is not None:
                raise error
            if item is end:
                return
            yield item
    finally:
        stop.set()
        thread.join()


@dataclass
class _Batch:
    """Rows ready to write, after the rows up to `start` and up to `position`.

    `entries` maps each address to [line, row, name, phone, attributes, seen before]; the
    addresses met for the first time (`firsts`) and again (`agains`) are in index order, each with
    its rows as the JSON array the database reads.
    """

    start: int
    position: int
    entries: dict
    firsts: list
    agains: list
    firsts_json: str
    agains_json: str
    report: list
    tallies: Counter

    @classmethod
    def ready(cls, start, position, entries, report, tallies):
        # In index order: the unique index on addresses is updated page after page.
        emails = sorted(entries)
        firsts = [email for email in emails if not entries[email][5]]
        agains = [email for email in emails if entries[email][5]]
        return cls(
            start,
            position,
            entries,
            firsts,
            agains,
            cls._json(entries, firsts),
            cls._json(entries, agains),
            report,
            tallies,
        )

    @staticmethod
    def _json(entries, emails):
        # The phone travels sealed, with its keyed hash: the clear number never reaches the table.
        phone = Contact._meta.get_field("phone")
        phone_hash = Contact._meta.get_field("phone_hash")

        def row(email):
            name, number, attributes = entries[email][2:5]
            sealed = encrypt(number, phone.encryption_context) if number else ""
            return [email, name, sealed, attributes, phone_hash.hash_for(number)]

        return json.dumps(
            [row(email) for email in emails], ensure_ascii=False, separators=(",", ":")
        )


class _RowReader:
    """Validate and normalise each row; group the valid ones by address into batches."""

    def __init__(self, contact_import, header):
        self.header = header
        self.width = len(header)
        index = {name: i for i, name in enumerate(header) if name}
        column_of = {
            target: index[name] for name, target in contact_import.mapping.items() if target
        }
        self.email = column_of["email"]
        self.name = column_of.get("name")
        self.phone = column_of.get("phone")
        self.name_parts = [column_of[t] for t in ("first_name", "last_name") if t in column_of]
        self.name_columns = [i for i in (self.name, *self.name_parts) if i is not None]
        types = contact_import.attribute_types
        self.attributes = [
            (i, key, CONVERTERS[types.get(key, "string")])
            for i, key in _attribute_columns(header, contact_import.mapping)
        ]
        suppressed = set(
            Suppression.unscoped.filter(tenant_id=contact_import.tenant_id).values_list(
                "email_hash", flat=True
            )
        )
        self.suppressed = suppressed
        self.suppression_hash = _suppression_hasher() if suppressed else None

    def batches(self, records, done, batch_rows, language):
        """Yield a _Batch of each `batch_rows` rows after the first `done` rows.

        The rows of committed batches are read again only to know which addresses they held.
        """
        try:
            with translation.override(language):
                yield from self._batches(records, done, batch_rows)
        finally:
            records.close()

    def _batches(self, records, done, batch_rows):
        reasons = _Reasons(self.header)
        width, email_i, name_i, phone_i = self.width, self.email, self.name, self.phone
        name_parts, name_column = self.name_parts, self.name_columns[:1]
        attributes = self.attributes
        suppressed, suppression_hash = self.suppressed, self.suppression_hash
        fast_email = FAST_EMAIL.fullmatch
        # 64-bit hashes, not addresses: a few dozen bytes for each address met.
        seen = set()
        batch, report, tallies = {}, [], Counter()
        position = 0
        for line, row in records:
            position += 1
            fields, reason, outcome = row, None, "rejected_count"
            if len(row) != width:
                if len(row) > width and "".join(row[width:]).strip():
                    reason = reasons.too_many_values(len(row))
                else:
                    fields = row[:width] if len(row) > width else row + [""] * (width - len(row))
            if reason is None:
                email = fields[email_i].strip().lower()
                if not email:
                    reason = reasons.no_email
                elif len(email) > EMAIL_MAX or not fast_email(email):
                    try:
                        email = check_email(fields[email_i])
                    except Invalid:
                        reason = reasons.bad_email
                    else:
                        if len(email) > EMAIL_MAX:
                            reason = reasons.too_long(email_i, EMAIL_MAX)
            if reason is None:
                name = fields[name_i].strip() if name_i is not None else ""
                if not name and name_parts:
                    name = " ".join(p for p in (fields[i].strip() for i in name_parts) if p)
                if len(name) > NAME_MAX:
                    reason = reasons.too_long(name_column[0], NAME_MAX)
            if reason is None:
                phone = fields[phone_i].strip() if phone_i is not None else ""
                if phone:
                    if len(phone) > PHONE_MAX:
                        reason = reasons.too_long(phone_i, PHONE_MAX)
                    else:
                        try:
                            phone = check_phone(phone)
                        except Invalid:
                            reason = reasons.bad_phone
            if reason is None:
                values = {}
                for i, key, convert in attributes:
                    value = fields[i].strip()
                    if value:
                        if len(value) > ATTRIBUTE_VALUE_MAX:
                            reason = reasons.too_long(i, ATTRIBUTE_VALUE_MAX)
                            break
                        values[key] = convert(value) if convert else value
            if reason is None and suppression_hash and suppression_hash(email) in suppressed:
                reason, outcome = reasons.suppressed, "suppressed_count"

            if position <= done:
                # A row of a committed batch: only remember its address.
                if reason is None:
                    seen.add(hash(email))
                continue
            if reason is not None:
                tallies[outcome] += 1
                report.append((line, reason, row))
            else:
                key = hash(email)
                again = key in seen
                if again:
                    tallies["duplicate_count"] += 1
                else:
                    seen.add(key)
                entry = batch.get(email)
                if entry is None:
                    batch[email] = [line, row, name, phone, values, again]
                else:
                    # The same address twice in a batch: later values win, blanks keep earlier ones.
                    entry[0], entry[1] = line, row
                    entry[2] = name or entry[2]
                    entry[3] = phone or entry[3]
                    entry[4].update(values)
            if (position - done) % batch_rows == 0:
                yield _Batch.ready(position - batch_rows, position, batch, report, tallies)
                batch, report, tallies = {}, [], Counter()
        if position > done and (position - done) % batch_rows:
            start = position - (position - done) % batch_rows
            yield _Batch.ready(start, position, batch, report, tallies)


def _suppression_hasher():
    """suppression_hash of a normalised address, at a third of the cost: HMAC-SHA256 whose key
    pads are hashed once (RFC 2104), rather than for every address."""
    key = hashlib.sha256(f"{settings.SECRET_KEY}:suppression".encode()).digest().ljust(64, b"\0")
    inner_pad = hashlib.sha256(bytes(b ^ 0x36 for b in key))
    outer_pad = hashlib.sha256(bytes(b ^ 0x5C for b in key))

    def fast(email):
        inner = inner_pad.copy()
        inner.update(email.encode())
        outer = outer_pad.copy()
        outer.update(inner.digest())
        return outer.hexdigest()

    # Should keyed_hash ever change its recipe, use it as it is rather than miss a suppression.
    probe = "probe@example.com"
    return fast if fast(probe) == suppression_hash(probe) else suppression_hash


class _BatchWriter:
    """Write one batch in one transaction: contacts, subscriptions, report part and progress.

    Set-based statements, a batch at a time: the rows travel as one JSON array (PostgreSQL and
    SQLite both read it natively), the ids as an array. New contacts get new subscriptions by plain
    inserts; existing ones go through the conflict rules.
    """

    def __init__(self, contact_import, reasons):
        self.contact_import = contact_import
        self.reasons = reasons
        ops = connection.ops
        self.postgres = connection.vendor == "postgresql"
        self.add_only = contact_import.mode == ImportMode.ADD_ONLY
        # Contacts this import creates carry its start as their creation time: in "add only",
        # a later row of the same address updates those, never a contact that was there before.
        self.marker = ops.adapt_datetimefield_value(contact_import.started_at)
        expires = consent_expiry(contact_import.consent_basis, contact_import.consent_at)
        self.subscription_values = [
            contact_import.tenant_id,
            contact_import.mailing_list_id,
            SubscriptionStatus.SUBSCRIBED.value,
            contact_import.consent_basis,
            ops.adapt_datetimefield_value(contact_import.consent_at),
            ops.adapt_datetimefield_value(expires),
            contact_import.consent_source or contact_import.filename,
            contact_import.consent_wording,
        ]
        self._prepare_sql()

    def _prepare_sql(self):
        contacts, subscriptions = Contact._meta.db_table, Subscription._meta.db_table
        if self.postgres:
            rows, field, attributes = "jsonb_array_elements(%s::jsonb) AS r", "r->>{}", "r->3"
            merged = "c.attributes || excluded.attributes"
            changed_attributes = f"{merged} <> c.attributes"
            in_emails = "= ANY(ARRAY(SELECT jsonb_array_elements_text(%s::jsonb)))"
            ids, contact_id = "unnest(%s::bigint[]) AS i(id)", "i.id"
            returning = "id, email, xmax = 0 AS new"
        else:
            rows, field, attributes = "json_each(%s) AS r", "r.value->>{}", "r.value->3"
            merged = "json_patch(c.attributes, excluded.attributes)"
            changed_attributes = f"{merged} <> json(c.attributes)"
            in_emails, ids, contact_id = (
                "IN (SELECT value FROM json_each(%s))",
                "json_each(%s) AS i",
                "i.value",
            )
            returning = "id, email"
        new_phone = "excluded.phone_hash <> '' AND excluded.phone_hash <> c.phone_hash"
        # Only table names and fixed fragments are formatted in; every value is a parameter.
        self.lookup_sql = (
            f"SELECT c.email, c.id, s.status FROM {contacts} c LEFT JOIN {subscriptions} s "  # noqa: S608
            "ON s.contact_id = c.id AND s.mailing_list_id = %s "
            f"WHERE c.tenant_id = %s AND c.email {in_emails}"
        )
        self.contacts_sql = (
            f"INSERT INTO {contacts} AS c "  # noqa: S608
            "(tenant_id, email, name, phone, phone_hash, attributes, created_at, updated_at) "
            f"SELECT %s, {field.format(0)}, {field.format(1)}, {field.format(2)}, "
            f"{field.format(4)}, {attributes}, %s, %s FROM {rows} WHERE 1 = 1 "
            "ON CONFLICT (tenant_id, email) DO UPDATE SET "
            "name = CASE WHEN excluded.name <> '' THEN excluded.name ELSE c.name END, "
            # Sealed phones differ at every sealing: their keyed hashes say whether they changed.
            f"phone = CASE WHEN {new_phone} THEN excluded.phone ELSE c.phone END, "
            f"phone_hash = CASE WHEN {new_phone} THEN excluded.phone_hash ELSE c.phone_hash END, "
            f"attributes = {merged}, updated_at = excluded.updated_at "
            f"WHERE {'c.created_at = %s' if self.add_only else '1 = 1'} AND ("
            "(excluded.name <> '' AND excluded.name <> c.name) "
            f"OR ({new_phone}) "
            f"OR {changed_attributes}) "
            f"RETURNING {returning}"
        )

        def insert_subscriptions(source, contact_id):
            return (
                f"INSERT INTO {subscriptions} AS s (tenant_id, mailing_list_id, status, "  # noqa: S608
                "consent_basis, consent_at, consent_expires_at, consent_source, consent_wording, "
                "created_at, confirmed_at, unsubscribed_at, contact_id) "
                f"SELECT %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, NULL, {contact_id} FROM {source}"
            )

        self.new_subscriptions_sql = insert_subscriptions(ids, contact_id)
        # An express consent on file keeps its proof; an implied one gives way to an express one,
        # or to an implied one that lapses later; a pending confirmation takes the import's.
        replace = (
            "(s.status = 'unconfirmed' OR (s.consent_basis <> 'express' AND "
            "(excluded.consent_basis = 'express' "
            "OR excluded.consent_expires_at > s.consent_expires_at)))"
        )
        consent = (
            "consent_basis",
            "consent_at",
            "consent_expires_at",
            "consent_source",
            "consent_wording",
        )
        on_conflict = (
            "DO NOTHING"
            if self.add_only
            else "DO UPDATE SET status = 'subscribed', "
            "confirmed_at = COALESCE(s.confirmed_at, excluded.confirmed_at), "
            + ", ".join(
                f"{name} = CASE WHEN {replace} THEN excluded.{name} ELSE s.{name} END"
                for name in consent
            )
            + f" WHERE s.status <> 'unsubscribed' AND (s.status <> 'subscribed' OR {replace})"
        )
        self.existing_subscriptions_sql = (
            f"{self.new_subscriptions_sql} WHERE 1 = 1 "
            f"ON CONFLICT (mailing_list_id, contact_id) {on_conflict}"
        )
        if self.postgres:
            # One round trip: the new contacts' subscriptions are inserted by the same statement.
            self.contacts_sql = (
                f"WITH written AS ({self.contacts_sql}), "  # noqa: S608
                f"subscribed AS ({insert_subscriptions('written', 'written.id')} WHERE written.new) "
                "SELECT id, email, new FROM written"
            )

    def _emails(self, emails):
        return json.dumps(emails, ensure_ascii=False)

    def _ids(self, ids):
        if self.postgres:
            return "{" + ",".join(map(str, ids)) + "}"  # an array literal: one parameter
        return json.dumps(ids)

    def _lookup(self, cursor, emails):
        """Each existing contact's id and subscription status on the list, by address."""
        ci = self.contact_import
        cursor.execute(self.lookup_sql, [ci.mailing_list_id, ci.tenant_id, self._emails(emails)])
        return {email: (pk, status) for email, pk, status in cursor.fetchall()}

    def _upsert(self, cursor, emails, rows, now):
        """Write these contacts and subscribe the new ones.

        Return the new contacts' ids, the existing ones changed, and the existing ones with
        their id and subscription status by address.
        """
        ci = self.contact_import
        params = [ci.tenant_id, self.marker, now, rows]
        if self.add_only:
            params.append(self.marker)
        inserted, changed = {}, set()
        if self.postgres:
            cursor.execute(self.contacts_sql, [*params, *self.subscription_values, now, now])
            for pk, email, new in cursor.fetchall():
                if new:
                    inserted[email] = pk
                else:
                    changed.add(email)
            others = [email for email in emails if email not in inserted]
            existing = self._lookup(cursor, others) if others else {}
        else:
            existing = self._lookup(cursor, emails)
            cursor.execute(self.contacts_sql, params)
            for pk, email in cursor.fetchall():
                if email in existing:
                    changed.add(email)
                else:
                    inserted[email] = pk
            if inserted:
                cursor.execute(
                    self.new_subscriptions_sql,
                    [*self.subscription_values, now, now, self._ids(list(inserted.values()))],
                )
        return inserted, changed, existing

    def write(self, batch, order):
        """Write a batch in one transaction that commits after the batch before it."""
        ci = self.contact_import
        now = connection.ops.adapt_datetimefield_value(timezone.now())
        counts = Counter(batch.tallies)
        report = batch.report
        with transaction.atomic(), connection.cursor() as cursor:
            if self.postgres:
                # Checked as each statement ends rather than all at the commit: the same checks,
                # for less work.
                cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
            inserted, changed, existing = {}, set(), {}
            if batch.firsts:
                # Addresses no earlier batch holds: no other connection writes them.
                inserted, changed, existing = self._upsert(
                    cursor, batch.firsts, batch.firsts_json, now
                )
            order.wait_for(batch.start)
            if batch.agains:
                # Addresses an earlier batch wrote: now committed, the later values go over them.
                existing.update(self._upsert(cursor, batch.agains, batch.agains_json, now)[2])
            if existing:
                cursor.execute(
                    self.existing_subscriptions_sql,
                    [
                        *self.subscription_values,
                        now,
                        now,
                        self._ids([pk for pk, _ in existing.values()]),
                    ],
                )
            for email in batch.firsts:
                if email in inserted:
                    counts["created_count"] += 1
                elif existing[email][1] == SubscriptionStatus.UNSUBSCRIBED:
                    counts["unsubscribed_count"] += 1
                    entry = batch.entries[email]
                    report.append((entry[0], self.reasons.unsubscribed, entry[1]))
                elif email in changed:
                    counts["updated_count"] += 1
                else:
                    counts["unchanged_count"] += 1
            self._save_report_part(report, first_row=batch.start)
            moved = ContactImport.unscoped.filter(pk=ci.pk, processed_rows=batch.start).update(
                processed_rows=batch.position,
                **{name: F(name) + count for name, count in counts.items()},
            )
            if moved != 1:
                raise _GivenUp
        order.done(batch.position)

    def _save_report_part(self, report, first_row):
        ci = self.contact_import
        name = _report_part_name(ci, first_row)
        default_storage.delete(name)
        if not report:
            return
        report.sort(key=lambda item: item[0])
        out = io.StringIO()
        # The rows as read go back to a spreadsheet: formula-safe, like every CSV file we hand out.
        writer = csv_safe.writer(out, delimiter=ci.delimiter)
        for line, reason, row in report:
            writer.writerow([line, reason, *row])
        default_storage.save(name, ContentFile(out.getvalue().encode()))


def _report_part_name(contact_import, first_row):
    return f"{REPORT_FOLDER}{contact_import.pk}-part-{first_row:010d}.csv"


def _report_parts(contact_import):
    prefix = f"{contact_import.pk}-part-"
    try:
        names = default_storage.listdir(REPORT_FOLDER)[1]
    except FileNotFoundError:
        return []
    return sorted(f"{REPORT_FOLDER}{n}" for n in names if n.startswith(prefix))


def _finish(contact_import, header):
    """Gather the report's parts into one downloadable file, mark it done, delete the upload."""
    parts = _report_parts(contact_import)
    with tempfile.TemporaryFile() as out:
        head = io.StringIO()
        csv_safe.writer(head, delimiter=contact_import.delimiter).writerow(
            [_("Line"), _("Reason"), *header]
        )
        out.write(codecs.BOM_UTF8 + head.getvalue().encode())
        for name in parts:
            with default_storage.open(name, "rb") as part:
                for chunk in part.chunks():
                    out.write(chunk)
        out.seek(0)
        contact_import.report.save(f"import-{contact_import.pk}.csv", File(out), save=False)
    contact_import.status = ImportStatus.DONE
    contact_import.finished_at = timezone.now()
    contact_import.save(update_fields=["report", "status", "finished_at"])
    for name in parts:
        default_storage.delete(name)
    contact_import.file.delete(save=False)
    contact_import.save(update_fields=["file"])


def _fail(contact_import, message):
    """Refuse the whole file: nothing was written; the upload is deleted, the reason kept."""
    contact_import.file.delete(save=False)
    contact_import.status = ImportStatus.FAILED
    contact_import.error = " ".join([message, _("Nothing was imported.")])
    contact_import.finished_at = timezone.now()
    contact_import.save(update_fields=["file", "status", "error", "finished_at"])
