"""Campaign sending into a local SMTP server that accepts everything, against the floor of a plain
smtplib loop sending the same number of pre-rendered messages over one connection.

BENCH_CAMPAIGN_RECIPIENTS sets the size (100,000 by default).
"""

import os
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from django.db import connection
from django.test import override_settings
from django.utils import timezone

from infolettre.accounts.actions import do_register_organisation
from infolettre.accounts.tenancy import tenant_scope
from infolettre.audience.actions import do_create_list
from infolettre.audience.models import Contact, Subscription
from infolettre.campaigns.actions import do_launch_campaign
from infolettre.campaigns.models import Campaign, CampaignStatus, Delivery, SenderAddress
from infolettre.campaigns.pipeline import build_message
from infolettre.campaigns.templating import CompiledCampaign

HTML = (
    "<html><head><style>p { color: #333; font-family: sans-serif; }</style></head><body>"
    "<h1>Bonjour {{ contact.name }}</h1>"
    + "<p>Les nouvelles de la semaine, pour {{ contact.attributes.city }}.</p>" * 40
    + "{{ footer }}</body></html>"
)


def free_port():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def database_url():
    s = connection.settings_dict
    if connection.vendor == "sqlite":
        return f"sqlite:///{s['NAME']}"
    return f"postgres://{s['USER']}@{s['HOST']}:{s['PORT']}/{s['NAME']}"


class Sink:
    def __init__(self):
        self.port = free_port()
        self.count_file = Path(tempfile.mkdtemp()) / "count"
        self.process = subprocess.Popen(
            [sys.executable, "-m", "benchmarks.smtp_sink", str(self.port), str(self.count_file)]
        )
        while not self.count_file.exists():
            time.sleep(0.05)

    @property
    def url(self):
        return f"smtp://127.0.0.1:{self.port}"

    def count(self):
        text = self.count_file.read_text()
        return int(text) if text else 0

    def settled_count(self):
        """The count once the server has taken every message sent so far (it is written every 0.2 s)."""
        last = -1
        while (now := self.count()) != last:
            last = now
            time.sleep(0.5)
        return now

    def stop(self):
        self.process.terminate()
        self.process.wait()


def setup(recipients):
    user = do_register_organisation(
        {
            "name": "Bench",
            "title": "CEO",
            "email": "bench-campaigns@example.com",
            "company_name": "Bench Inc.",
            "address": "1 rue Sherbrooke, Montréal",
            "phone": "+15145550123",
            "website": "https://example.com",
        },
        "a long enough passphrase 42",
        consents={},
        source="bench",
    )
    user.email_confirmed_at = timezone.now()
    user.save()
    tenant = user.tenant
    with tenant_scope(tenant):
        news = do_create_list(tenant, name="Bench list")
        sender = SenderAddress.objects.create(
            tenant=tenant, email="news@example.com", name="News", verified_at=timezone.now()
        )
    now = timezone.now()
    for start in range(0, recipients, 10000):
        contacts = Contact.unscoped.bulk_create(
            Contact(
                tenant=tenant,
                email=f"r{n}@example.com",
                name=f"Reader {n}",
                attributes={"city": "Laval"},
            )
            for n in range(start, min(recipients, start + 10000))
        )
        Subscription.unscoped.bulk_create(
            Subscription(
                tenant=tenant,
                contact=c,
                mailing_list=news,
                status="subscribed",
                consent_basis="express",
                consent_at=now,
                consent_source="bench",
                confirmed_at=now,
            )
            for c in contacts
        )
    return tenant, news, sender


def floor(sink, message_bytes, count):
    import smtplib

    client = smtplib.SMTP("127.0.0.1", sink.port)
    client.ehlo()
    start = time.perf_counter()
    for n in range(count):
        client.sendmail("bounce@example.com", [f"r{n}@example.com"], message_bytes)
    elapsed = time.perf_counter() - start
    client.quit()
    return count / elapsed


def peak_rss_mb(pid):
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return 0.0


def cpu_seconds(pid):
    """User and system CPU time a process has used so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def machine_busy_seconds():
    """CPU time every core of the machine has spent not idle so far."""
    values = [int(v) for v in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    return (sum(values) - values[3] - values[4]) / os.sysconf("SC_CLK_TCK")


def run_campaign(tenant, news, sender, sink, workers):
    with tenant_scope(tenant):
        campaign = Campaign.objects.create(
            tenant=tenant,
            name=f"{workers} workers",
            subject="Nouvelles pour {{ contact.name }}",
            sender=sender,
            html=HTML,
        )
        campaign.lists.add(news)
    before = sink.settled_count()
    with override_settings(
        TASKS={"default": {"BACKEND": "django_tasks_db.DatabaseBackend", "QUEUES": ["default"]}}
    ):
        start = time.perf_counter()
        with tenant_scope(tenant):
            do_launch_campaign(campaign)
        queued = time.perf_counter() - start
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "infolettre.settings.bench_worker",
        "DATABASE_URL": database_url(),
        "CAMPAIGN_TRANSPORT_URL": sink.url,
        "CAMPAIGN_LANES": str(workers),
    }
    command = [
        sys.executable,
        "manage.py",
        "db_worker",
        "--interval",
        "0.05",
        "--no-startup-delay",
        "--no-reload",
    ]
    start = time.perf_counter()
    sink_cpu, machine_cpu = cpu_seconds(sink.process.pid), machine_busy_seconds()
    processes = [
        subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL) for _ in range(workers)
    ]
    peaks = [0.0] * workers
    first_message = None
    while Campaign.unscoped.get(pk=campaign.pk).status != CampaignStatus.SENT:
        time.sleep(0.1)
        if first_message is None and sink.count() > before:
            first_message = time.perf_counter()
        peaks = [max(p, peak_rss_mb(w.pid)) for p, w in zip(peaks, processes, strict=True)]
    elapsed = time.perf_counter() - (first_message or start)
    startup = (first_message or start) - start
    peaks = [max(p, peak_rss_mb(w.pid)) for p, w in zip(peaks, processes, strict=True)]
    cpu = {
        "workers": sum(cpu_seconds(w.pid) for w in processes),
        "sink": cpu_seconds(sink.process.pid) - sink_cpu,
        "machine": machine_busy_seconds() - machine_cpu,
        "wall": time.perf_counter() - start,
    }
    for process in processes:
        process.terminate()
        process.wait()
    sent = sink.settled_count() - before
    return queued, startup, elapsed, sent, peaks, cpu


def run():
    recipients = int(os.environ.get("BENCH_CAMPAIGN_RECIPIENTS", "100000"))
    print(f"campaigns_send ({recipients:,} recipients; database: {connection.vendor})")
    tenant, news, sender = setup(recipients)
    sink = Sink()
    try:
        with tenant_scope(tenant):
            probe = Campaign(
                tenant=tenant, subject="Nouvelles pour {{ contact.name }}", sender=sender, html=HTML
            )
            contact = Contact.objects.first()
            message = build_message(
                CompiledCampaign(probe),
                probe,
                Delivery(tenant=tenant, contact=contact, email=contact.email),
            )
        floor_rate = floor(sink, message.as_bytes(), recipients)
        print(
            f"  floor: smtplib loop, one connection, pre-rendered     {floor_rate:>8.0f} messages/s"
        )
        results = {}
        for workers in (1, 2):
            queued, startup, elapsed, sent, peaks, cpu = run_campaign(
                tenant, news, sender, sink, workers
            )
            results[workers] = rate = sent / elapsed
            print(
                f"  {workers} worker(s): {sent:,} sent in {elapsed:.1f} s           {rate:>8.0f} messages/s"
                f"   (send queue built in {queued:.1f} s; first message {startup:.1f} s after the workers"
                f" started; worker peak RSS {', '.join(f'{p:.0f}' for p in peaks)} MB)"
            )
            # Where the two cores went: the share of their time busy, and CPU per message by process.
            print(
                f"    cores busy {cpu['machine'] / (cpu['wall'] * os.cpu_count()):.0%} of"
                f" {os.cpu_count()}; CPU per message: workers {cpu['workers'] / sent * 1e6:.0f} µs,"
                f" SMTP server {cpu['sink'] / sent * 1e6:.0f} µs,"
                f" all processes {cpu['machine'] / sent * 1e6:.0f} µs"
            )
        print(f"  1 worker / floor = {results[1] / floor_rate:.2f} (target >= 0.60)")
        print(f"  2 workers / 1 worker = {results[2] / results[1]:.2f} (target >= 1.60)")
    finally:
        sink.stop()
