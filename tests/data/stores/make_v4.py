"""Make the schema-version-4 stores kept here, with the event store code of main at 795cdd0.

Run with that commit's code first on the path (the stores must be written by the code
that had schema version 4, not by the current one)::

    mkdir /tmp/cc-v4 && git archive 795cdd0 | tar -x -C /tmp/cc-v4
    PYTHONPATH=/tmp/cc-v4 python3 tests/data/stores/make_v4.py [DSN]

It writes ``sqlite-v4.db``, ``postgres-v4.sql`` (``pg_dump --inserts`` of the schema
``cc_v4_fixture``, which it then drops) and ``expected-v4.json``: what that code's
store answered on each backend. The same chain and writes as version 3 (reorg window
of 3 blocks, a rollback inside it, mempool events and a mempool model's failure), kept
as version 4 keeps a window: the overlay rows of the blocks above
``meta['collections_settled_through']`` (8-10), older ones settled into the base. The
answers add the collections at every height of the window, their counts, and the
mempool log. The SQLite file is rewritten with 512-byte pages (``VACUUM``) to keep it
small; its content is untouched.
"""

from __future__ import annotations

import asyncio
import sys

from make_v3 import DEFAULT_DSN, main  # the same chain and writes as version 3

if __name__ == "__main__":
    asyncio.run(main(sys.argv[1] if len(sys.argv) > 1 else DEFAULT_DSN, version=4))
