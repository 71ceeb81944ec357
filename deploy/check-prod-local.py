"""Check a running `make run-prod-local`: pages answer, and a campaign reaches the mail catcher.

Run it from the repository while `make run-prod-local` runs, in another terminal:

    .venv/bin/python deploy/check-prod-local.py

As the demo owner, through the API (an API token), it adds a sender address, confirms it with the
link the workers mailed to it, makes a list of CONTACTS contacts, launches a campaign to it and
waits until the catcher (var/prod-local/outbox/) holds one message for each contact, then names
the RQ workers that ran the campaign's tasks. Every run makes its own list and campaign.
"""

import base64
import email
import json
import os
import re
import sys
import time
import urllib.error
import urllib.request
from email import policy
from pathlib import Path

import redis

ROOT = Path(__file__).resolve().parent.parent
BASE = os.environ.get("SITE_URL", f"http://127.0.0.1:{os.environ.get('PORT', '8100')}")
OUTBOX = Path(os.environ.get("OUTBOX_DIR", ROOT / "var" / "prod-local" / "outbox"))
REDIS_URL = os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/1")
OWNER = ("demo@infolettre.local", "demo-infolettre-2026")
CONTACTS = 40
DEADLINE_SECONDS = 120


class NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None


OPENER = urllib.request.build_opener(NoRedirect)


# HTTP Basic checks the password (Argon2) on every request: it is used once, to get an API token.
AUTHORIZATION = {"value": "Basic " + base64.b64encode(":".join(OWNER).encode()).decode()}


def call(method, path, body=None, auth=True):
    request = urllib.request.Request(BASE + path, method=method)  # noqa: S310 (http only)
    if auth:
        request.add_header("Authorization", AUTHORIZATION["value"])
    data = None
    if body is not None:
        data = json.dumps(body).encode()
        request.add_header("Content-Type", "application/json")
    try:
        with OPENER.open(request, data, timeout=30) as response:
            raw = response.read()
            status = response.status
    except urllib.error.HTTPError as error:
        raw, status = error.read(), error.code
    content = json.loads(raw) if raw[:1] in (b"{", b"[") else raw
    return status, content


def expect(condition, message):
    if not condition:
        sys.exit(f"FAILED: {message}")
    print(f"ok   {message}")


def messages_to(addresses):
    """The caught messages, by recipient, for these addresses."""
    found = {}
    for path in OUTBOX.glob("*.eml"):
        message = email.message_from_bytes(path.read_bytes(), policy=policy.default)
        recipient = str(message["To"] or "").lower()
        for address in addresses:
            if address in recipient:
                found.setdefault(address, []).append(message)
    return found


def wait_for(what, probe):
    deadline = time.monotonic() + DEADLINE_SECONDS
    while time.monotonic() < deadline:
        result = probe()
        if result:
            return result
        time.sleep(0.5)
    sys.exit(f"FAILED: {what} within {DEADLINE_SECONDS} s")


def main():
    stamp = time.strftime("%Y%m%d%H%M%S")
    for path in ("/", "/connexion/", "/politique-de-confidentialite/", "/api/v1/openapi.json"):
        status, _ = call("GET", path, auth=False)
        expect(status == 200, f"GET {path} answers 200")
    status, _ = call("GET", "/equipe/tableau-de-bord/", auth=False)
    expect(status == 302, "the staff dashboard sends an anonymous visitor to sign in (302)")

    status, token = call("POST", "/api/v1/auth/tokens", {"name": f"check-prod-local {stamp}"})
    expect(status == 201, "API token issued to the demo owner")
    AUTHORIZATION["value"] = f"Bearer {token['token']}"

    sender_email = f"nouvelles-{stamp}@example.com"
    status, sender = call("POST", "/api/v1/senders", {"email": sender_email, "name": "Démo Inc."})
    expect(status == 201 and not sender["verified"], f"sender {sender_email} added, unconfirmed")
    bodies = wait_for(
        "the sender's confirmation mail",
        lambda: [
            m.get_body(("plain",)).get_content()
            for m in messages_to([sender_email]).get(sender_email, [])
        ],
    )
    token = re.search(r"/expediteurs/confirmer/([^/\s]+)/", bodies[0]).group(1)
    status, sender = call("POST", "/api/v1/senders/confirm", {"token": token})
    expect(status == 200 and sender["verified"], "sender confirmed with the mailed link's token")

    status, mailing_list = call("POST", "/api/v1/lists", {"name": f"Vérification {stamp}"})
    expect(status == 201, f"list {mailing_list['id']} created")
    addresses = [f"lecteur{n:03}-{stamp}@example.com" for n in range(CONTACTS)]
    for address in addresses:
        status, _ = call(
            "POST",
            f"/api/v1/lists/{mailing_list['id']}/subscriptions",
            {"email": address, "consent_source": "check-prod-local", "confirmed": True},
        )
        if status != 201:
            sys.exit(f"FAILED: subscribing a contact answered {status}")
    expect(True, f"{CONTACTS} contacts subscribed")

    status, campaign = call(
        "POST",
        "/api/v1/campaigns",
        {
            "name": f"Vérification {stamp}",
            "subject": f"Vérification {stamp}",
            "sender_id": sender["id"],
            "list_ids": [mailing_list["id"]],
            "html": "<p>Bonjour {{ contact.email }}</p>",
        },
    )
    expect(status == 201, f"campaign {campaign['id']} created")
    started = time.monotonic()
    status, campaign = call("POST", f"/api/v1/campaigns/{campaign['id']}/send")
    expect(status == 202, "campaign launched (202)")
    received = wait_for(
        f"{CONTACTS} messages in the catcher",
        lambda: (found := messages_to(addresses)) and len(found) == CONTACTS and found,
    )
    elapsed = time.monotonic() - started
    twice = sorted(a for a, m in received.items() if len(m) > 1)
    expect(not twice, f"{CONTACTS} messages caught in {elapsed:.1f} s, none twice")
    status, campaign = wait_for(
        "the campaign's status 'sent'",
        lambda: (
            (r := call("GET", f"/api/v1/campaigns/{campaign['id']}"))[1]["status"] == "sent" and r
        ),
    )
    expect(campaign["status"] == "sent", f"campaign status: {campaign['status']}")

    # The tasks ran in the RQ workers: their job records name the workers.
    connection = redis.Redis.from_url(REDIS_URL)
    lane = re.compile(rb"infolettre\.campaigns\.tasks\.send_campaign_lane\(%d[,)]" % campaign["id"])
    workers = set()
    for key in connection.scan_iter("rq:job:*"):
        description, worker = connection.hmget(key, "description", "worker_name")
        if description and lane.match(description) and worker:
            workers.add(worker.decode())
    expect(workers, f"campaign lanes run by RQ workers: {', '.join(sorted(workers))}")


if __name__ == "__main__":
    main()
