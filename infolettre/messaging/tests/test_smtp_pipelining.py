"""SMTP PIPELINING (RFC 2920): used when the server offers it, and refusals still read right."""

import socket
import threading

import pytest

from infolettre.messaging.transports import PERMANENT, SENT, OutgoingMessage, SMTPTransport


def message(n):
    return OutgoingMessage(
        envelope_from="bounce@bounces.example.net",
        recipient=f"r{n}@example.com",
        headers={"From": "News <news@example.com>", "To": f"r{n}@example.com", "Subject": "Hi"},
        text="Hello",
        html="<p>Hello</p>",
    )


@pytest.mark.parametrize("offered", [False, True], ids=["not offered", "offered"])
def test_pipelining_is_used_only_when_the_server_offers_it(smtp_server, offered):
    """Both ways, a refused recipient is told apart and the next message on the connection goes."""
    smtp_server.pipelining = offered
    smtp_server.replies = {"r1@example.com": "550 No such user"}
    port = int(smtp_server.url.rsplit(":", 1)[1])
    transport = SMTPTransport("127.0.0.1", port)
    transport.open()
    try:
        outcomes = [transport.send(message(n), lambda: None).outcome for n in range(3)]
    finally:
        transport.close()
    assert transport.pipelining is offered
    assert outcomes == [SENT, PERMANENT, SENT]
    assert [rcpts for _, rcpts, _ in smtp_server.messages] == [
        ["r0@example.com"],
        ["r2@example.com"],
    ]


class LenientServer(threading.Thread):
    """Offers PIPELINING, refuses every recipient, yet answers DATA with 354, as some servers do."""

    def __init__(self):
        super().__init__(daemon=True)
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.lines = []

    def run(self):
        connection, _ = self.listener.accept()
        with connection, connection.makefile("rb") as reader:
            connection.sendall(b"220 lenient\r\n")
            for raw in reader:
                line = raw.decode().rstrip("\r\n")
                self.lines.append(line)
                verb = line.split(" ", 1)[0].upper()
                answer = {
                    "EHLO": b"250-lenient\r\n250 PIPELINING\r\n",
                    "RCPT": b"550 No such user\r\n",
                    "DATA": b"354 Go on\r\n",
                    ".": b"554 No valid recipients\r\n",
                    "QUIT": b"221 Bye\r\n",
                }.get(verb, b"250 OK\r\n")
                connection.sendall(answer)
                if verb == "QUIT":
                    return


def test_data_accepted_after_a_refused_recipient_is_ended_by_a_lone_dot():
    """The transaction is closed with an empty message, never with the message's text."""
    server = LenientServer()
    server.start()
    transport = SMTPTransport("127.0.0.1", server.port)
    transport.open()
    result = transport.send(message(0), lambda: None)
    transport.close()
    server.join(timeout=5)
    assert (result.outcome, result.code) == (PERMANENT, 550)
    assert server.lines[1:] == [
        "MAIL FROM:<bounce@bounces.example.net>",
        "RCPT TO:<r0@example.com>",
        "DATA",
        ".",
        "rset",
        "quit",
    ]
