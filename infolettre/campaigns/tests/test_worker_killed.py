"""A worker killed mid-campaign: another worker resumes, and each address receives one message."""

import os
import signal
import subprocess
import sys
import time

import pytest
from django.db import connection

from infolettre.accounts.tenancy import tenant_scope
from infolettre.audience.actions import do_create_contact, do_create_list, do_subscribe
from infolettre.campaigns.actions import do_launch_campaign
from infolettre.campaigns.models import Campaign, CampaignStatus, SenderAddress

RECIPIENTS = 200
KILL_AT = 57

pytestmark = pytest.mark.django_db(transaction=True, serialized_rollback=True)


def database_url():
    settings = connection.settings_dict
    if connection.vendor == "sqlite":
        return f"sqlite:///{settings['NAME']}"
    return f"postgres://{settings['USER']}@{settings['HOST']}:{settings['PORT']}/{settings['NAME']}"


def start_worker(smtp_url):
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "infolettre.settings.worker_test",
        "DATABASE_URL": database_url(),
        "CAMPAIGN_TRANSPORT_URL": smtp_url,
    }
    command = [
        sys.executable,
        "manage.py",
        "db_worker",
        "--interval",
        "0.1",
        "--no-startup-delay",
        "--no-reload",
    ]
    return subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def wait_until_sent(campaign, seconds=60):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if Campaign.unscoped.get(pk=campaign.pk).status == CampaignStatus.SENT:
            return True
        time.sleep(0.2)
    return False


def test_a_killed_worker_leaves_no_duplicate_and_no_gap(
    owner, settings, smtp_server, django_capture_on_commit_callbacks
):
    """The worker dies while the server takes the 57th message; a second worker finishes the campaign."""
    settings.TASKS = {
        "default": {"BACKEND": "django_tasks_db.DatabaseBackend", "QUEUES": ["default"]}
    }
    with tenant_scope(owner.tenant):
        news = do_create_list(owner.tenant, name="News")
        for n in range(RECIPIENTS):
            do_subscribe(
                do_create_contact(owner.tenant, email=f"r{n:03}@example.com"), news, source="test"
            )
        sender = SenderAddress.objects.create(
            tenant=owner.tenant,
            email="news@example.com",
            name="News",
            verified_at=owner.date_joined,
        )
        campaign = Campaign.objects.create(
            tenant=owner.tenant,
            name="C",
            subject="Hi",
            sender=sender,
            html="<p>Hi {{ contact.email }}</p>",
        )
        campaign.lists.add(news)
    first = start_worker(smtp_server.url)
    smtp_server.on_message = lambda count: count == KILL_AT and os.kill(first.pid, signal.SIGKILL)
    try:
        with tenant_scope(owner.tenant):
            do_launch_campaign(campaign)
        assert first.wait(timeout=60) == -signal.SIGKILL
        second = start_worker(smtp_server.url)
        try:
            assert wait_until_sent(campaign)
        finally:
            second.terminate()
            second.wait(timeout=10)
    finally:
        if first.poll() is None:
            first.kill()
    received = sorted(rcpt for _, rcpts, _ in smtp_server.messages for rcpt in rcpts)
    assert received == [f"r{n:03}@example.com" for n in range(RECIPIENTS)]
