"""The local mail catcher and the development outbox that shows what it kept."""

import logging
import os
import select
import signal
import smtplib
import socket
import subprocess
import sys
import time
from email.message import EmailMessage
from pathlib import Path

import pytest
from django.http import Http404
from django.test import RequestFactory
from django.urls import include, path, reverse

from infolettre.messaging import views
from infolettre.messaging.catcher import MailCatcher, message_names, read_headers
from infolettre.urls import handler404, handler500  # noqa: F401 (this module is a test urlconf)
from infolettre.urls import urlpatterns as site_urlpatterns

BASE_DIR = Path(__file__).resolve().parents[3]

# The site's routes plus the outbox, which infolettre.urls mounts only when DEBUG.
urlpatterns = [*site_urlpatterns, path("dev/outbox/", include("infolettre.messaging.urls"))]


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for_port(port, process, timeout=20):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(f"the catcher exited: {process.communicate()}")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
            return
        except OSError:
            time.sleep(0.1)
    raise AssertionError(f"nothing listens on port {port}")


def wait_for_output(stream, text, timeout=20):
    """Read `stream` until `text` appears; return what was read."""
    read, deadline = "", time.monotonic() + timeout
    while text not in read:
        remaining = deadline - time.monotonic()
        if remaining <= 0 or not select.select([stream], [], [], remaining)[0]:
            raise AssertionError(f"{text!r} did not appear in {read!r}")
        chunk = os.read(stream.fileno(), 4096)
        if not chunk:
            raise AssertionError(f"the stream closed before {text!r}: {read!r}")
        read += chunk.decode()
    return read


def make_message(subject, to="lea@example.com", html=None):
    message = EmailMessage()
    message["Subject"] = subject
    message["From"] = "Infolettre <bonjour@infolettre.local>"
    message["To"] = to
    message["Date"] = "Wed, 25 Nov 2026 09:00:00 -0500"
    message.set_content(f"Text of {subject}")
    if html is not None:
        message.add_alternative(html, subtype="html")
    return message


def send(port, *messages):
    with smtplib.SMTP("127.0.0.1", port, timeout=5) as smtp:
        for message in messages:
            smtp.send_message(message)


def run_mailcatcher(port, **env):
    return subprocess.Popen(
        [sys.executable, "manage.py", "mailcatcher", "--port", str(port)],
        cwd=BASE_DIR,
        env={**os.environ, "DATABASE_URL": "sqlite:///:memory:", **env},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


@pytest.fixture
def outbox_dir(settings, tmp_path):
    settings.OUTBOX_DIR = tmp_path / "outbox"
    return settings.OUTBOX_DIR


@pytest.fixture
def outbox_urls(settings):
    settings.ROOT_URLCONF = __name__


def test_catcher_writes_each_message_as_an_eml_file_named_in_arrival_order(tmp_path):
    """Each message received becomes one .eml file in the folder; names sort by arrival."""
    directory = tmp_path / "outbox"
    port = free_port()

    with MailCatcher(directory, "127.0.0.1", port) as catcher:
        send(port, make_message("Premier"), make_message("Deuxième é"))
        send(port, make_message("Troisième"))

    names = sorted(p.name for p in directory.iterdir())
    assert len(names) == 3
    assert all(name.endswith(".eml") for name in names)
    assert [read_headers(directory / n)["Subject"] for n in names] == [
        "Premier",
        "Deuxième é",
        "Troisième",
    ]
    assert catcher.handler.received == 3
    assert message_names(directory) == list(reversed(names))


def test_catcher_logs_a_count_and_no_address_or_content(tmp_path, caplog):
    """Personal data never goes into the logs: the catcher logs how many messages, nothing else."""
    caplog.set_level(logging.DEBUG)
    port = free_port()

    with MailCatcher(tmp_path, "127.0.0.1", port):
        send(port, make_message("Secret subject", to="private.person@example.com"))

    assert "Caught message 1" in caplog.text
    assert "private.person" not in caplog.text
    assert "Secret subject" not in caplog.text
    assert "bonjour@infolettre.local" not in caplog.text


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM])
def test_mailcatcher_command_keeps_mail_and_stops_cleanly_on_a_signal(tmp_path, signum):
    """`manage.py mailcatcher` serves until SIGINT or SIGTERM, then exits with status 0."""
    port = free_port()
    process = run_mailcatcher(
        port, DJANGO_SETTINGS_MODULE="infolettre.settings.test", OUTBOX_DIR=str(tmp_path / "outbox")
    )
    try:
        wait_for_port(port, process)
        send(port, make_message("Par la commande"))
        process.send_signal(signum)
        out, err = process.communicate(timeout=15)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()

    assert process.returncode == 0, err
    files = list((tmp_path / "outbox").glob("*.eml"))
    assert len(files) == 1
    assert "Subject: Par la commande" in files[0].read_text()
    assert "Stopped after 1 message(s)." in out
    assert "example.com" not in out + err


def test_mailcatcher_idles_on_a_busy_port_when_mail_goes_elsewhere(tmp_path):
    """With EMAIL_URL pointing elsewhere, a busy port leaves the catcher idle, not failed, so the
    processes started beside it keep running."""
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        process = run_mailcatcher(
            port,
            DJANGO_SETTINGS_MODULE="infolettre.settings.dev",
            EMAIL_URL="smtp://smtp.example.com:587",
            OUTBOX_DIR=str(tmp_path),
        )
        try:
            wait_for_output(process.stderr, "the catcher idles")
            assert process.poll() is None
            process.send_signal(signal.SIGTERM)
            process.communicate(timeout=15)
        finally:
            if process.poll() is None:
                process.kill()
                process.wait()

    assert process.returncode == 0


def test_mailcatcher_fails_on_a_busy_port_when_mail_comes_to_it(tmp_path):
    """With EMAIL_URL pointing at the catcher, a busy port is an error: mail would be lost."""
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        process = run_mailcatcher(
            port,
            DJANGO_SETTINGS_MODULE="infolettre.settings.dev",
            EMAIL_URL=f"smtp://127.0.0.1:{port}",
            OUTBOX_DIR=str(tmp_path),
        )
        try:
            _out, err = process.communicate(timeout=30)
        finally:
            if process.poll() is None:
                process.kill()
                process.wait()

    assert process.returncode == 1
    assert f"Cannot listen on 127.0.0.1:{port}" in err


def test_outbox_is_not_mounted_without_debug(client, outbox_dir):
    """Outside DEBUG the site has no /dev/outbox/."""
    response = client.get("/dev/outbox/")

    assert response.status_code == 404


@pytest.mark.django_db
def test_outbox_lists_messages_newest_first(client, outbox_dir, outbox_urls):
    """The outbox lists date, sender, recipient and subject, the newest message first."""
    port = free_port()
    with MailCatcher(outbox_dir, "127.0.0.1", port):
        send(port, make_message("Older one", to="first@example.com"))
        send(port, make_message("Newer one", to="second@example.com"))

    response = client.get(reverse("messaging:outbox"))

    assert response.status_code == 200
    listed = response.context["outbox_messages"]
    assert [m["subject"] for m in listed] == ["Newer one", "Older one"]
    assert [m["to"] for m in listed] == ["second@example.com", "first@example.com"]
    assert listed[0]["sender"] == "Infolettre <bonjour@infolettre.local>"
    assert listed[0]["date"].isoformat() == "2026-11-25T09:00:00-05:00"
    body = response.content.decode()
    assert body.index("Newer one") < body.index("Older one")
    assert reverse("messaging:outbox_message", args=[listed[0]["name"]]) in body


@pytest.mark.django_db
def test_outbox_shows_one_message_with_its_html_in_a_sandboxed_frame(
    client, outbox_dir, outbox_urls
):
    """A message shows its headers, its text part, and its HTML escaped into a sandboxed srcdoc."""
    port = free_port()
    html = '<p>Bonjour <b>Léa</b></p><script>alert("x")</script>'
    with MailCatcher(outbox_dir, "127.0.0.1", port):
        send(port, make_message("Avec HTML", html=html))
    name = message_names(outbox_dir)[0]

    response = client.get(reverse("messaging:outbox_message", args=[name]))

    assert response.status_code == 200
    body = response.content.decode()
    assert "Text of Avec HTML" in body
    assert "<iframe sandbox srcdoc=" in body
    assert "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;" in body
    assert "<script>alert" not in body
    assert response.context["text"].strip() == "Text of Avec HTML"
    assert response.context["html"].strip() == html


@pytest.mark.django_db
def test_outbox_message_refuses_a_name_that_is_not_in_the_folder(
    client, outbox_dir, outbox_urls, tmp_path
):
    """Only a name listed in the outbox folder opens: a path outside it or an unknown name is 404."""
    outbox_dir.mkdir()
    (outbox_dir / "20261125T090000000000Z-1-000001.eml").write_text("Subject: kept\n\nbody\n")
    (tmp_path / "secret.eml").write_text("Subject: outside\n\nsecret\n")
    request = RequestFactory().get("/")

    for name in ["../secret.eml", "..", "unknown.eml", ".hidden.eml.part", "/etc/passwd"]:
        with pytest.raises(Http404):
            views.outbox_message(request, name=name)
    assert client.get("/dev/outbox/..%2Fsecret.eml/").status_code == 404
    assert client.get("/dev/outbox/unknown.eml/").status_code == 404
    assert client.get("/dev/outbox/20261125T090000000000Z-1-000001.eml/").status_code == 200


@pytest.mark.django_db
def test_outbox_delete_all_empties_the_folder(client, outbox_dir, outbox_urls):
    """The 'delete all' button removes every caught message and returns to the empty list."""
    outbox_dir.mkdir()
    for n in range(3):
        (outbox_dir / f"20261125T09000{n}000000Z-1-00000{n}.eml").write_text(f"Subject: {n}\n\nx\n")
    (outbox_dir / "notes.txt").write_text("not a message")

    response = client.post(reverse("messaging:outbox"))

    assert response.status_code == 302
    assert response["Location"] == reverse("messaging:outbox")
    assert message_names(outbox_dir) == []
    assert (outbox_dir / "notes.txt").exists()
    assert client.get(reverse("messaging:outbox")).context["outbox_messages"] == []
