"""A real SMTP server for the notification tests (aiosmtpd), on 127.0.0.1.

    python3 smtp_sink.py PORT DIR [--delay-secs N]

Writes every message it accepts to DIR/<n>.eml and a parsed summary (Python's email parser) to DIR/<n>.json:
subject (decoded), from, to, message_id, list_unsubscribe, list_unsubscribe_post and every MIME part
(content type, charset, decoded text). With --delay-secs each RCPT waits that long first (a slow server: a
client killed meanwhile has not handed the message over). Prints "READY" once it listens.
"""

import asyncio
import email
import email.policy
import json
import os
import sys

from aiosmtpd.controller import Controller


class Sink:
    def __init__(self, directory, delay):
        self.directory = directory
        self.delay = delay
        self.count = 0

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if self.delay:
            await asyncio.sleep(self.delay)
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        raw = envelope.original_content or envelope.content
        msg = email.message_from_bytes(raw, policy=email.policy.default)
        parts = []
        for part in msg.walk():
            if part.is_multipart():
                continue
            parts.append(
                {
                    "content_type": part.get_content_type(),
                    "charset": part.get_content_charset(),
                    "text": part.get_content(),
                }
            )
        summary = {
            "subject": str(msg["subject"]),
            "from": str(msg["from"]),
            "to": str(msg["to"]),
            "message_id": str(msg["message-id"]),
            "list_unsubscribe": str(msg.get("list-unsubscribe", "")),
            "list_unsubscribe_post": str(msg.get("list-unsubscribe-post", "")),
            "content_type": msg.get_content_type(),
            "envelope_to": envelope.rcpt_tos,
            "parts": parts,
        }
        self.count += 1
        base = os.path.join(self.directory, f"{os.getpid()}-{self.count:04d}")
        with open(base + ".eml.tmp", "wb") as f:
            f.write(raw)
        os.replace(base + ".eml.tmp", base + ".eml")
        with open(base + ".json.tmp", "w") as f:
            json.dump(summary, f)
        os.replace(base + ".json.tmp", base + ".json")
        return "250 Message accepted for delivery"


def main():
    port = int(sys.argv[1])
    directory = sys.argv[2]
    delay = 0.0
    if "--delay-secs" in sys.argv:
        delay = float(sys.argv[sys.argv.index("--delay-secs") + 1])
    os.makedirs(directory, exist_ok=True)
    controller = Controller(Sink(directory, delay), hostname="127.0.0.1", port=port)
    controller.start()
    print("READY", flush=True)
    try:
        asyncio.new_event_loop().run_forever()
    finally:
        controller.stop()


if __name__ == "__main__":
    main()
