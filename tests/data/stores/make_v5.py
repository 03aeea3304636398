"""Make the schema-version-5 stores kept here, with the event store code of main at 6acc5e1.

Run with that commit's code first on the path (the stores must be written by the code
that had schema version 5, not by the current one)::

    mkdir /tmp/cc-v5 && git archive 6acc5e1 | tar -x -C /tmp/cc-v5
    PYTHONPATH=/tmp/cc-v5 python3 tests/data/stores/make_v5.py [DSN]

It writes ``sqlite-v5.db``, ``postgres-v5.sql`` (``pg_dump --inserts`` of the schema
``cc_v5_fixture``, which it then drops) and ``expected-v5.json``: what that code's
store answered on each backend. The same chain, writes, reorg and mempool data as
versions 3 and 4, kept as version 5 keeps them (overlay rows naming their block by a
sequence number in ``collection_blocks``). The SQLite file is rewritten with 512-byte
pages (``VACUUM``) to keep it small; its content is untouched.
"""

from __future__ import annotations

import asyncio
import sys

from make_v3 import DEFAULT_DSN, main  # the same chain and writes as version 3

if __name__ == "__main__":
    asyncio.run(main(sys.argv[1] if len(sys.argv) > 1 else DEFAULT_DSN, version=5))
