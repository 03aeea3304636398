"""A stream client program for the tests: ``python -m tests.transports.cursor_client URL
CURSOR_FILE OUT``. It streams every model with ``cursor_file=CURSOR_FILE`` and appends
each message to OUT as a JSON line (its "handling" of the message), flushed at once."""

from __future__ import annotations

import sys

from chaincrawler.client import Client


def main(url: str, cursor_file: str, out: str) -> None:
    with Client(url, reconnect_delay=0.05) as api, open(out, "a") as log:
        for message in api.stream(after=0, cursor_file=cursor_file):
            log.write(message.model_dump_json() + "\n")
            log.flush()


if __name__ == "__main__":
    main(*sys.argv[1:4])
