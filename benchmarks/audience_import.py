"""CSV import figures: a generated file of BENCH_IMPORT_ROWS rows (1,000,000 by default; email, name and
three attributes: an integer, a date, a string) imported into a list by the import task, in process.

Measured: the check of the upload (what the web page and the API do before storing it), then the
task's two passes together, in rows per second; the worker's memory as its resident set (RSS) before
and after the import and at its peak during the import (VmHWM, reset just before), and the peak of
the whole process since it started (getrusage ru_maxrss, which includes setting up the database).
The machine may be shared: the load average before the import and the CPU time spent (by the
worker, and by its PostgreSQL server process when the server runs here) tell what the rate owes to
other work.
"""

import os
import random
import resource
import tempfile
import threading
import time
from datetime import date, timedelta
from pathlib import Path

from django.conf import settings
from django.core.files import File
from django.db import connection, transaction
from django.test import override_settings

from infolettre.accounts.actions import do_register_organisation
from infolettre.accounts.tenancy import tenant_scope
from infolettre.audience.actions import do_create_list, do_suppress
from infolettre.audience.importing import check_import_file, do_start_import
from infolettre.audience.models import Contact, ContactImport, Subscription

FIRST = ("Élodie", "François", "Marie", "Jean", "Chloé", "Mathieu", "Léa", "Olivier", "Zoé", "Luc")
LAST = ("Tremblay", "Gagnon", "Roy", "Côté", "Bouchard", "Gauthier", "Morin", "Lavoie", "Fortin")
CITIES = ("Montréal", "Québec", "Laval", "Gatineau", "Longueuil", "Sherbrooke", "Saguenay", "Lévis")
DOMAINS = ("example.com", "exemple.ca", "courriel.example.org", "mail.example.net")


def _status(field):
    """A field of /proc/self/status, in MB."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(f"{field}:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def _cpu_seconds(pid="self"):
    """User and system CPU time of a process of this machine, in seconds (None if unreadable)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


class _ServerCpu:
    """CPU time of the PostgreSQL processes serving this database, sampled as they come and go.

    The import's writers open their own connections: each server process is sampled until it
    ends, and its last sample counts.
    """

    def __init__(self, database):
        self.title = f" {database} "
        self.last, self.first = {}, {}
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._sample, daemon=True)

    def _pids(self):
        for entry in Path("/proc").iterdir():
            if entry.name.isdigit():
                try:
                    title = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode()
                except OSError:
                    continue
                if title.startswith("postgres:") and self.title in title:
                    yield entry.name

    def _sample(self):
        while True:
            for pid in self._pids():
                seconds = _cpu_seconds(pid)
                if seconds is not None:
                    self.first.setdefault(pid, seconds)
                    self.last[pid] = seconds
            if self.stop.wait(0.2):
                return

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.stop.set()
        self.thread.join()

    @property
    def seconds(self):
        return sum(self.last[pid] - self.first[pid] for pid in self.last)


def _reset_peak():
    """Start VmHWM again from the current RSS (Linux 4.0+); False where that is not allowed."""
    try:
        Path("/proc/self/clear_refs").write_text("5")
    except OSError:
        return False
    return True


def _generate(path, rows):
    start = date(2015, 1, 1)
    pick = random.Random(42).choice
    with open(path, "w", encoding="utf-8", newline="") as out:
        out.write("email,name,points,member_since,city\r\n")
        lines = []
        for n in range(rows):
            first, last = pick(FIRST), pick(LAST)
            email = f"{first.lower()}.{last.lower()}.{n}@{DOMAINS[n % len(DOMAINS)]}"
            email = email.translate(str.maketrans("éèçôëï", "eecoei"))
            joined = start + timedelta(days=n % 3650)
            lines.append(
                f"{email},{first} {last},{n % 10000},{joined},{CITIES[n % len(CITIES)]}\r\n"
            )
            if len(lines) == 10000:
                out.writelines(lines)
                lines = []
        out.writelines(lines)


def run():
    rows = int(os.environ.get("BENCH_IMPORT_ROWS", "1000000"))
    engine = settings.DATABASES["default"]["ENGINE"].rsplit(".", 1)[-1]
    print(f"audience import (database: {engine}; {rows:,} rows; {os.cpu_count()} CPUs)")
    with tempfile.TemporaryDirectory() as media, override_settings(MEDIA_ROOT=media):
        path = Path(media) / "imports" / "bench.csv"
        path.parent.mkdir()
        started = time.perf_counter()
        _generate(path, rows)
        size = path.stat().st_size / 1024 / 1024
        print(f"  {'generated file':<44} {size:>9.1f} MB in {time.perf_counter() - started:.1f} s")

        owner = do_register_organisation(
            {
                "name": "Bench Owner",
                "title": "CEO",
                "email": "bench-import@example.com",
                "company_name": "Bench Import Inc.",
                "address": "1 rue Sherbrooke, Montréal",
                "phone": "+15145550123",
                "website": "https://example.com",
            },
            "a long enough passphrase 42",
            consents={},
            source="bench",
        )
        tenant = owner.tenant
        with tenant_scope(tenant):
            mailing_list = do_create_list(tenant, name="Bench")
            # A suppression list, as every client has one: each address is checked against it.
            for n in range(200):
                do_suppress(tenant, f"gone{n}@example.com")

            with open(path, "rb") as raw:
                upload = File(raw, name="bench.csv")
                started = time.perf_counter()
                checked = check_import_file(upload)
                seconds = time.perf_counter() - started
            print(
                f"  {'check of the upload (encoding, delimiter)':<44} {size / seconds:>9.1f} MB/s"
                f"   {seconds:>6.2f} s"
            )

            connection.close()  # the task opens its own connections, as a worker would
            server = None
            if connection.vendor == "postgresql":
                server = _ServerCpu(settings.DATABASES["default"]["NAME"]).__enter__()
            worker_cpu = _cpu_seconds()
            load = os.getloadavg()[0]
            rss_before = _status("VmRSS")
            peak_reset = _reset_peak()
            started = time.perf_counter()
            with transaction.atomic():
                # Immediate task backend: the import task runs in this process once this commits.
                contact_import = do_start_import(
                    mailing_list,
                    owner,
                    stored_name="imports/bench.csv",
                    filename="bench.csv",
                    encoding=checked.encoding,
                    delimiter=checked.delimiter,
                    header=checked.header,
                    mapping=checked.mapping,
                    mode="add_or_update",
                    consent_basis="express",
                    consent_source="Bench sign-up form",
                    consent_wording="Yes, send me the newsletter.",
                )
            seconds = time.perf_counter() - started
            worker_cpu = _cpu_seconds() - worker_cpu
            server_cpu = None
            if server is not None:
                server.__exit__()
                server_cpu = server.seconds
            peak = _status("VmHWM")
            rss_after = _status("VmRSS")

            contact_import = ContactImport.objects.get(pk=contact_import.pk)
            contacts = Contact.objects.count()
            subscriptions = Subscription.objects.filter(mailing_list=mailing_list).count()
    print(
        f"  {'import task, both passes (add or update)':<44} {rows / seconds:>9.0f} rows/s"
        f"   {seconds:>6.1f} s"
    )
    print(f"  {'load average (1 min) when the import began':<44} {load:>9.2f}")
    print(
        f"  {'CPU time of the worker (both threads)':<44} {worker_cpu:>9.1f} s"
        f"   {worker_cpu / rows * 1e6:>6.1f} µs/row"
    )
    if server_cpu is not None:
        print(
            f"  {'CPU time of its PostgreSQL server processes':<44} {server_cpu:>9.1f} s"
            f"   {server_cpu / rows * 1e6:>6.1f} µs/row"
        )
    print(
        f"  {'worker RSS before / after the import':<44} {rss_before:>9.0f} MB   {rss_after:.0f} MB"
    )
    label = "peak RSS during the import (VmHWM)" if peak_reset else "peak RSS (VmHWM, not reset)"
    print(f"  {label:<44} {peak:>9.0f} MB")
    maxrss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"  {'peak RSS of the process (ru_maxrss)':<44} {maxrss:>9.0f} MB")
    print(
        f"  {'status; contacts; subscriptions':<44} {contact_import.status:>9}   "
        f"{contacts:,}; {subscriptions:,} ({'OK' if contacts == rows == subscriptions else 'WRONG'})"
    )
    print(
        f"  {'counts: created, rejected, duplicates':<44} {contact_import.created_count:>9,}   "
        f"{contact_import.rejected_count}, {contact_import.duplicate_count}"
    )
