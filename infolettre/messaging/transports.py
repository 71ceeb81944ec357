"""How campaign mail leaves: a connection opened once and reused for a whole batch.

`send` calls `commit` at the moment the message is on its way: for SMTP just before the final "."
of DATA, for a provider's API once it has accepted the message. The caller records the message as
sent there, so a worker killed at any point does not send a recipient twice.
"""

import binascii
import smtplib
import socket
import ssl
import uuid
from dataclasses import dataclass, field
from email.header import Header
from urllib.parse import unquote, urlsplit


@dataclass
class OutgoingMessage:
    envelope_from: str
    recipient: str
    headers: dict[str, str]
    text: str
    html: str
    # Why it goes out, for the disclosure log (privacy.disclosures): "campaign:<id>" or
    # "message:<kind>", the purpose served, the client it is sent for.
    reason: str = "message:test"
    purpose: str = "campaign_delivery"
    tenant_id: int | None = None
    campaign_id: int | None = None
    delivery_id: int | None = None

    def as_bytes(self):
        """The message in MIME (multipart/alternative, quoted-printable parts), written directly:
        the standard library's generator costs milliseconds a message, too slow for campaigns."""
        boundary = f"=_{uuid.uuid4().hex}"
        lines = [f"{name}: {_encode_header(value)}" for name, value in self.headers.items()]
        lines += [
            "MIME-Version: 1.0",
            f'Content-Type: multipart/alternative; boundary="{boundary}"',
            "",
        ]
        head = "\r\n".join(lines).encode()
        return b"".join(
            (
                head,
                _part(boundary, "text/plain", self.text),
                _part(boundary, "text/html", self.html),
                f"\r\n--{boundary}--\r\n".encode(),
            )
        )


def _encode_header(value):
    value = " ".join(str(value).splitlines())
    if value.isascii():
        return value
    return Header(value, "utf-8").encode(maxlinelen=76, linesep="\r\n")


def _part(boundary, content_type, body):
    encoded = binascii.b2a_qp(body.replace("\r\n", "\n").encode(), istext=True).replace(
        b"\n", b"\r\n"
    )
    head = (
        f'\r\n--{boundary}\r\nContent-Type: {content_type}; charset="utf-8"\r\n'
        "Content-Transfer-Encoding: quoted-printable\r\n\r\n"
    )
    return head.encode() + encoded


SENT, TEMPORARY, PERMANENT = "sent", "temporary", "permanent"


@dataclass
class SendResult:
    outcome: str
    code: int = 250
    detail: str = ""


class Transport:
    """A base for transports; each is opened once per batch and closed after it.

    `send` and `send_then` are the one way out and write the disclosure log before anything
    leaves; a transport implements `deliver`, and defining `send` or `send_then` is refused when
    the class is made.
    """

    # The processor that receives the messages ("" when nothing leaves our hands), set from the
    # transport's URL by transport_from_url (privacy.disclosures.processor_for_url).
    processor = ""

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        if {"send", "send_then"} & cls.__dict__.keys():
            raise TypeError(
                f"{cls.__name__} must implement deliver(), not send(): send() logs the disclosure."
            )

    def open(self):
        pass

    def close(self):
        pass

    def abort(self):
        """Drop the connection at once, after a failure in the middle of a message."""
        self.__dict__.pop("_pending", None)
        self.close()

    def send(self, message, commit):
        """Send one message and return its outcome."""
        outcome = []
        self.send_then(message, commit, outcome.append)
        self.flush()
        return outcome[0]

    def send_then(self, message, commit, settle):
        """Send one message; `settle(result)` receives its outcome, at once or later.

        A transport may leave the server's last answer unread (`deliver` returns a function that
        reads it): the caller builds its next message while the server reads this one, and the
        answer is read by the next send, `flush` or `close`.
        """
        self._disclose(message)
        self.flush()
        outcome = self.deliver(message, commit)
        if isinstance(outcome, SendResult):
            settle(outcome)
        else:
            self._pending = (outcome, settle)

    def flush(self):
        """Settle the message whose answer is still unread, if any."""
        pending = self.__dict__.pop("_pending", None)
        if pending is not None:
            read_answer, settle = pending
            settle(read_answer())

    def deliver(self, message, commit):
        """Send one message: return its SendResult, or a function that reads it from the server."""
        raise NotImplementedError

    def _disclose(self, message):
        if not self.processor:
            return
        key = (message.reason, message.campaign_id, message.tenant_id, message.purpose)
        logged = self.__dict__.setdefault("_disclosed", set())
        if key in logged:
            return
        from infolettre.privacy.disclosures import CAMPAIGN_CATEGORIES, record_disclosure

        record_disclosure(
            recipient=self.processor,
            categories=CAMPAIGN_CATEGORIES,
            purpose=message.purpose,
            reason=message.reason,
            tenant_id=message.tenant_id,
            campaign_id=message.campaign_id,
            first_delivery_id=message.delivery_id,
        )
        logged.add(key)


def _result(code, detail):
    if 200 <= code < 300:
        return SendResult(SENT, code, detail)
    return SendResult(PERMANENT if 500 <= code < 600 else TEMPORARY, code, detail[:300])


class SMTPTransport(Transport):
    def __init__(
        self, host, port=25, username=None, password=None, use_tls=False, use_ssl=False, timeout=30
    ):
        self.host, self.port = host, port
        self.username, self.password = username, password
        self.use_tls, self.use_ssl, self.timeout = use_tls, use_ssl, timeout
        self.connection = None
        self.pipelining = False

    def open(self):
        if self.connection is not None:
            return
        context = ssl.create_default_context()
        if self.use_ssl:
            self.connection = smtplib.SMTP_SSL(
                self.host, self.port, timeout=self.timeout, context=context
            )
        else:
            self.connection = smtplib.SMTP(self.host, self.port, timeout=self.timeout)
            if self.use_tls:
                self.connection.starttls(context=context)
        # Each message ends with two small writes (see send): without this, Nagle's algorithm and the
        # server's delayed acknowledgements hold every message back for tens of milliseconds.
        self.connection.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.connection.ehlo_or_helo_if_needed()
        if self.username:
            self.connection.login(self.username, self.password or "")
        self.pipelining = self.connection.has_extn("pipelining")

    def close(self):
        if self.connection is not None:
            try:
                self.flush()
                self.connection.quit()
            except (smtplib.SMTPException, OSError):
                self.connection.close()
            self.connection = None

    def abort(self):
        # No QUIT: in the middle of DATA the server would take it for the message's text and wait
        # for the final dot. Without that dot the server keeps nothing of the message.
        self.__dict__.pop("_pending", None)
        if self.connection is not None:
            self.connection.close()
            self.connection = None

    def deliver(self, message, commit):
        """Run one SMTP transaction, calling `commit` just before the final dot of DATA.

        A failure before `commit` means nothing left (the caller may retry); an exception after
        it means the message may have left: the caller keeps it as sent. The answer to the final
        dot is left for `send_then` to read once the caller has built its next message.
        """
        smtp = self.connection
        refusal = self._envelope(smtp, message)
        if refusal is not None:
            smtp.rset()
            return _result(*refusal)
        body = smtplib._quote_periods(message.as_bytes())
        if not body.endswith(b"\r\n"):
            body += b"\r\n"
        smtp.send(body)
        commit()
        smtp.send(b".\r\n")

        def read_answer():
            code, detail = smtp.getreply()
            return _result(code, detail.decode(errors="replace"))

        return read_answer

    def _envelope(self, smtp, message):
        """Send MAIL, RCPT and DATA; return the first refusal as (code, detail), else None.

        The addresses were checked on input; smtplib's own quoting would parse each one again.
        """
        commands = (
            (f"MAIL FROM:<{message.envelope_from}>", (250,)),
            (f"RCPT TO:<{message.recipient}>", (250, 251)),
            ("DATA", (354,)),
        )
        if not self.pipelining:
            for command, expected in commands:
                smtp.send(f"{command}\r\n")
                code, detail = smtp.getreply()
                if code not in expected:
                    return code, detail.decode(errors="replace")
            return None
        # PIPELINING (RFC 2920): the three commands in one write, then their three answers, so a
        # message costs two round trips instead of four.
        smtp.send("".join(f"{command}\r\n" for command, _ in commands))
        answers = [smtp.getreply() for _ in commands]
        refusals = [
            (code, detail.decode(errors="replace"))
            for (code, detail), (_, expected) in zip(answers, commands, strict=True)
            if code not in expected
        ]
        if refusals and answers[2][0] == 354:
            # DATA accepted after a refused command: a lone dot ends the empty message (3.1).
            smtp.send(".\r\n")
            smtp.getreply()
        return refusals[0] if refusals else None


class MemoryTransport(Transport):
    """Keeps messages in `MemoryTransport.outbox`, for tests."""

    outbox: list = []

    def deliver(self, message, commit):
        commit()
        MemoryTransport.outbox.append(message)
        return SendResult(SENT)


@dataclass
class DjangoMailerTransport(Transport):
    """A Django mailer, such as a delivery provider's django-anymail backend (MAILERS["campaigns"])."""

    alias: str = "campaigns"
    connection: object = field(default=None, repr=False)

    def open(self):
        from django.core.mail import mailers

        self.connection = mailers[self.alias]
        self.connection.open()

    def close(self):
        if self.connection is not None:
            self.connection.close()

    def deliver(self, message, commit):
        from django.core.mail import EmailMultiAlternatives

        email = EmailMultiAlternatives(
            subject=message.headers.get("Subject", ""),
            body=message.text,
            from_email=message.headers["From"],
            to=[message.recipient],
            headers={
                k: v for k, v in message.headers.items() if k not in ("Subject", "From", "To")
            },
            # The connection opened for the batch (open()), not a new one per message.
            connection=self.connection,
        )
        email.attach_alternative(message.html, "text/html")
        # A provider's API answers for certain: the message is sent once it is accepted.
        email.send()
        commit()
        return SendResult(SENT)


# Every transport class, by URL scheme; a test proves each class of this module is here and logs.
TRANSPORTS = {
    "smtp": SMTPTransport,
    "smtp+tls": SMTPTransport,
    "smtps": SMTPTransport,
    "mailer": DjangoMailerTransport,
    "memory": MemoryTransport,
}


def transport_from_url(url):
    """smtp://, smtp+tls://, smtps:// (host, port, credentials), mailer://<alias>, memory://."""
    from infolettre.privacy.disclosures import processor_for_url

    transport = _transport_from_url(url)
    transport.processor = processor_for_url(url)
    return transport


def _transport_from_url(url):
    parts = urlsplit(url)
    if parts.scheme in ("smtp", "smtp+tls", "smtps"):
        return SMTPTransport(
            parts.hostname or "127.0.0.1",
            parts.port or {"smtps": 465, "smtp+tls": 587}.get(parts.scheme, 25),
            unquote(parts.username) if parts.username else None,
            unquote(parts.password) if parts.password else None,
            use_tls=parts.scheme == "smtp+tls",
            use_ssl=parts.scheme == "smtps",
        )
    if parts.scheme == "mailer":
        return DjangoMailerTransport(parts.hostname or "campaigns")
    if parts.scheme == "memory":
        return MemoryTransport()
    raise ValueError(
        f"Unknown campaign transport {url!r}: use smtp://, smtp+tls://, smtps://, mailer:// or memory://."
    )
