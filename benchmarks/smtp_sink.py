"""An SMTP server that accepts every message and only counts them: the far end of the send benchmarks.

`python -m benchmarks.smtp_sink PORT COUNT_FILE` writes the running count to COUNT_FILE every 0.2 s.
"""

import asyncio
import logging
import sys
import time
from pathlib import Path

from aiosmtpd.controller import Controller


class CountingHandler:
    def __init__(self):
        self.count = 0

    async def handle_EHLO(self, server, session, envelope, hostname, responses):
        # Offered by Postfix, Exim, Gmail and the sending providers alike; aiosmtpd answers
        # pipelined commands in order. smtplib, the floor's client, does not use it.
        session.host_name = hostname
        return [*responses[:-1], "250-PIPELINING", responses[-1]]

    async def handle_DATA(self, server, session, envelope):
        self.count += 1
        return "250 OK"


def main():
    port, count_file = int(sys.argv[1]), Path(sys.argv[2])
    logging.getLogger("mail.log").setLevel(logging.WARNING)
    handler = CountingHandler()
    controller = Controller(handler, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        while True:
            count_file.write_text(str(handler.count))
            time.sleep(0.2)
    finally:
        controller.stop()


if __name__ == "__main__":
    asyncio.set_event_loop_policy(None)
    main()
