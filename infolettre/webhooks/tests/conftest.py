"""A real HTTP server on 127.0.0.1 that records the webhook requests it receives."""

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest


class Receiver:
    def __init__(self, server):
        self.server = server
        self.requests = []  # (path, headers as a dict, body bytes)
        self.statuses = []  # answers to give, in order; 200 once they run out
        self.url = f"http://127.0.0.1:{server.server_address[1]}/hooks/infolettre"

    def events(self):
        return [json.loads(body) for _, _, body in self.requests]


@pytest.fixture
def make_receiver():
    """Start HTTP servers on free local ports; each records requests and answers as told."""
    started = []

    def make():
        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                length = int(self.headers.get("Content-Length", 0))
                body = self.rfile.read(length)
                receiver.requests.append((self.path, dict(self.headers.items()), body))
                status = receiver.statuses.pop(0) if receiver.statuses else 200
                payload = b'{"ok": true}' if status < 300 else b"Internal error " + b"x" * 500
                self.send_response(status)
                if status in (301, 302, 307, 308):
                    self.send_header("Location", "/elsewhere")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            def log_message(self, *args):
                pass

        server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        receiver = Receiver(server)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        started.append(server)
        return receiver

    yield make
    for server in started:
        server.shutdown()
        server.server_close()


@pytest.fixture
def receiver(make_receiver):
    return make_receiver()
