"""The one schema of both backends (SQLAlchemy Core), its version and migrations.

Tables:

- ``meta``: key/value facts about the store (schema version, network, genesis hash).
- ``events``: the append-only log. ``position`` is global and assigned by the
  store; ``version`` is the 1-based index in the model's active stream, unique
  among active events (partial unique index). Rolled-back events stay, marked.
- ``blocks``: every committed block header; canonical ones form the chain
  (at most one canonical block per height), orphaned ones are kept.
- ``snapshots``: model state at a block height, one per (model, height).
- ``reorgs``: one row per rollback.
- ``checkpoints``: the last position each named subscriber processed.
- ``models``: every model the store has crawled for, since when, and the version
  of the model's code that wrote its history (``set_model_versions``).
- ``collection_values``: the stored collections of models, one row per key as of
  the settled height (``meta['collections_settled_through']``, below the reorg
  window; value as JSON text).
- ``collection_recent``: per block of the reorg window, the value each key it
  wrote has after it (NULL: deleted), under the block's sequence number.
- ``collection_blocks``: the blocks of the overlay, by sequence number (never
  reused while rows hold it): their height and whether they are still canonical. A
  rollback marks the blocks above the fork orphaned; their rows are deleted when
  they would have settled (see ``stored``).
- ``mempool_events``: the events mempool models emit, apart from the block log and
  never replayed into block state. ``position`` is their own order (gap-free as
  appended, from 1; pruning deletes from the oldest and always keeps the newest, so
  positions never restart). ``block_height``/``block_hash`` are set on those committed
  with a block (a confirmation); ``txid`` is the transaction they are about, if any.
- ``mempool_failures``: mempool models stopped by an exception, with the error, so
  ``chaincrawler status`` (another process) can show it.

Payloads and snapshot states are JSON text kept byte for byte (PostgreSQL ``json``,
not ``jsonb``, which reorders keys), so state rebuilt from the store has the key
order of the live state.

Every secondary index of ``events`` is partial, on active events only. A
rollback rewrites each rolled-back row (PostgreSQL cannot make the update HOT:
``status`` is in an index predicate), and the new row versions then enter only
the primary key, not every index: this halves PostgreSQL's rollback cost. Reads
of active events are indexed by every filter; rolled-back events are found by
position, and those of one reorg through the position range the ``reorgs`` row
records. No foreign keys either: the store writes every table itself inside one
transaction, and each would cost an index probe per event row.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Dialect
from sqlalchemy.schema import CreateIndex, CreateTable

from chaincrawler.eventstore.errors import SchemaVersionError, StoreNetworkMismatchError

#: Version of the schema this code writes. Stores with a newer version are refused.
SCHEMA_VERSION = 6


@dataclass(frozen=True)
class Migration:
    """The SQL taking a store from one schema version to the next, per backend.

    Written out as text, never derived from the current tables: a migration must
    keep doing what it did when its version was current. ``both`` runs after the
    backend's own statements.
    """

    both: Sequence[str] = ()
    sqlite: Sequence[str] = ()
    postgresql: Sequence[str] = ()

    def statements(self, dialect_name: str) -> list[str]:
        """The statements to run on ``dialect_name`` ("sqlite" or "postgresql")."""
        own: Sequence[str] = getattr(self, dialect_name)
        return [*own, *self.both]


_MODELS_TABLE = (
    "CREATE TABLE models (name TEXT NOT NULL, version TEXT, "
    "registered_at {time} NOT NULL, PRIMARY KEY (name))"
)
_VALUES_TABLE = (
    "CREATE TABLE collection_values (model TEXT NOT NULL, collection TEXT NOT NULL, "
    "key TEXT{collate} NOT NULL, value {json} NOT NULL, "
    "PRIMARY KEY (model, collection, key)){rowid}"
)
_UNDO_TABLE = (
    "CREATE TABLE collection_undo (block_height BIGINT NOT NULL, model TEXT NOT NULL, "
    "collection TEXT NOT NULL, key TEXT{collate} NOT NULL, old_value {json}, "
    "PRIMARY KEY (block_height, model, collection, key)){rowid}"
)

_RECENT_TABLE = (
    "CREATE TABLE collection_recent (block_height BIGINT NOT NULL, model TEXT NOT NULL, "
    "collection TEXT NOT NULL, key TEXT{collate} NOT NULL, value {json}, "
    "PRIMARY KEY (block_height, model, collection, key)){rowid}"
)
_RECENT_INDEX = (
    "CREATE INDEX ix_collection_recent_key "
    "ON collection_recent (model, collection, key, block_height)"
)
# Per key of the undo records, the record of its lowest block: its value before them.
_FIRST_UNDO = (
    "SELECT model, collection, key, old_value FROM (SELECT model, collection, key, "
    "old_value, ROW_NUMBER() OVER (PARTITION BY model, collection, key "
    "ORDER BY block_height) AS n FROM collection_undo) AS first_undo WHERE n = 1"
)
_UNDO_TO_RECENT = (
    # The value a block left a key: the old value of the key's next undo record, or the
    # key's current value (NULL: deleted) after its last one.
    "INSERT INTO collection_recent (block_height, model, collection, key, value) "
    "SELECT u.block_height, u.model, u.collection, u.key, "
    "CASE WHEN u.next_height IS NULL THEN v.value ELSE u.next_value END FROM "
    "(SELECT block_height, model, collection, key, "
    "LEAD(block_height) OVER (PARTITION BY model, collection, key ORDER BY block_height) "
    "AS next_height, "
    "LEAD(old_value) OVER (PARTITION BY model, collection, key ORDER BY block_height) "
    "AS next_value FROM collection_undo) AS u LEFT JOIN collection_values v "
    "ON v.model = u.model AND v.collection = u.collection AND v.key = u.key",
    # The base: each key's value before its undo records.
    "INSERT INTO collection_values (model, collection, key, value) "
    f"SELECT model, collection, key, old_value FROM ({_FIRST_UNDO}) AS u "
    "WHERE old_value IS NOT NULL "
    "ON CONFLICT (model, collection, key) DO UPDATE SET value = excluded.value",
    "DELETE FROM collection_values WHERE (model, collection, key) IN "
    f"(SELECT model, collection, key FROM ({_FIRST_UNDO}) AS u WHERE old_value IS NULL)",
    "DROP TABLE collection_undo",
    "UPDATE meta SET key = 'collections_settled_through' WHERE key = 'undo_pruned_through'",
)

_RECENT_TO_SEQUENCES = (
    # A window of version 4 holds canonical blocks only: each one's height is its number.
    "ALTER TABLE collection_recent RENAME COLUMN block_height TO seq",
    "CREATE TABLE collection_blocks (seq BIGINT NOT NULL, block_height BIGINT NOT NULL, "
    "status TEXT NOT NULL, PRIMARY KEY (seq), "
    "CONSTRAINT ck_collection_blocks_status CHECK (status IN ('canonical', 'orphaned')))",
    "INSERT INTO collection_blocks (seq, block_height, status) "
    "SELECT DISTINCT seq, seq, 'canonical' FROM collection_recent",
)

_MEMPOOL_EVENTS_TABLE = (
    "CREATE TABLE mempool_events (position {id} NOT NULL, model TEXT NOT NULL, "
    "event_type TEXT NOT NULL, event_version INTEGER NOT NULL, payload {json} NOT NULL, "
    "txid TEXT, block_height BIGINT, block_hash TEXT, created_at {time} NOT NULL, "
    "PRIMARY KEY (position))"
)
_MEMPOOL_FAILURES_TABLE = (
    "CREATE TABLE mempool_failures (model TEXT NOT NULL, error TEXT NOT NULL, "
    "failed_at {time} NOT NULL, PRIMARY KEY (model))"
)
_MEMPOOL_INDEXES = (
    "CREATE INDEX ix_mempool_events_created_at ON mempool_events (created_at)",
    "CREATE INDEX ix_mempool_events_model_position ON mempool_events (model, position)",
    "CREATE INDEX ix_mempool_events_txid ON mempool_events (txid)",
)

_SNAPSHOTS_UNCOMPRESSED = "ALTER TABLE snapshots ALTER COLUMN state SET STORAGE EXTERNAL"

#: ``MIGRATIONS[v]`` takes a store from version ``v`` to ``v + 1``, in place.
MIGRATIONS: Mapping[int, Migration] = {
    # 2: payloads and states keep their text on PostgreSQL (json, not jsonb; the key
    # order jsonb already dropped cannot come back); a record of the models crawled,
    # filled from the models that have events or snapshots; stored collections and
    # their undo records (empty).
    1: Migration(
        sqlite=[
            _MODELS_TABLE.format(time="DATETIME"),
            _VALUES_TABLE.format(json="TEXT", collate="", rowid=" WITHOUT ROWID"),
            _UNDO_TABLE.format(json="TEXT", collate="", rowid=" WITHOUT ROWID"),
        ],
        postgresql=[
            "ALTER TABLE events ALTER COLUMN payload TYPE json USING payload::json",
            "ALTER TABLE snapshots ALTER COLUMN state TYPE json USING state::json",
            _MODELS_TABLE.format(time="TIMESTAMP WITH TIME ZONE"),
            _VALUES_TABLE.format(json="JSON", collate=' COLLATE "C"', rowid=""),
            _UNDO_TABLE.format(json="JSON", collate=' COLLATE "C"', rowid=""),
        ],
        both=[
            "INSERT INTO models (name, version, registered_at) "
            "SELECT model, NULL, MIN(created_at) FROM ("
            "SELECT model, created_at FROM events UNION ALL "
            "SELECT model, created_at FROM snapshots) AS seen GROUP BY model",
        ],
    ),
    # 3: mempool models' events, apart from the block log, and their failures (empty).
    2: Migration(
        sqlite=[
            _MEMPOOL_EVENTS_TABLE.format(id="INTEGER", json="TEXT", time="DATETIME"),
            _MEMPOOL_FAILURES_TABLE.format(time="DATETIME"),
        ],
        postgresql=[
            _MEMPOOL_EVENTS_TABLE.format(
                id="BIGINT", json="JSON", time="TIMESTAMP WITH TIME ZONE"),
            _MEMPOOL_FAILURES_TABLE.format(time="TIMESTAMP WITH TIME ZONE"),
        ],
        both=_MEMPOOL_INDEXES,
    ),
    # 4: stored collections keep the reorg window as an overlay of the values each block
    # wrote (``collection_recent``) over a base settled below it, instead of undo
    # records: the base goes back to each key's value before its undo records.
    3: Migration(
        sqlite=[_RECENT_TABLE.format(json="TEXT", collate="", rowid=" WITHOUT ROWID")],
        postgresql=[_RECENT_TABLE.format(json="JSON", collate=' COLLATE "C"', rowid="")],
        both=[_RECENT_INDEX, *_UNDO_TO_RECENT],
    ),
    # 5: overlay rows name their block by a sequence number (``collection_blocks``), so
    # that a rollback marks blocks orphaned instead of deleting their rows.
    4: Migration(both=_RECENT_TO_SEQUENCES),
    # 6: PostgreSQL stores snapshots uncompressed: pglz spent 0.4 s of the 0.6 s writing
    # a 21.5 MB snapshot of random addresses, only to keep it uncompressed (the rows
    # already written stay as they are).
    5: Migration(postgresql=[_SNAPSHOTS_UNCOMPRESSED]),
}

_ACTIVE = sa.text("status = 'active'")
_CANONICAL = sa.text("status = 'canonical'")

# SQLite makes an INTEGER PRIMARY KEY the rowid (fast); PostgreSQL gets BIGINT.
_Id = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
_Json = sa.Text().with_variant(postgresql.JSON(), "postgresql")
_Time = sa.DateTime(timezone=True)
# Keys sort by their bytes on both backends (SQLite's BINARY is PostgreSQL's "C").
_Key = sa.Text().with_variant(sa.Text(collation="C"), "postgresql")

metadata = sa.MetaData()

meta = sa.Table(
    "meta",
    metadata,
    sa.Column("key", sa.Text, primary_key=True),
    sa.Column("value", sa.Text, nullable=False),
)

events = sa.Table(
    "events",
    metadata,
    sa.Column("position", _Id, primary_key=True, autoincrement=False),
    sa.Column("model", sa.Text, nullable=False),
    sa.Column("version", sa.BigInteger, nullable=False),
    sa.Column("event_type", sa.Text, nullable=False),
    sa.Column("event_version", sa.Integer, nullable=False),
    sa.Column("payload", _Json, nullable=False),
    sa.Column("block_height", sa.BigInteger, nullable=False),
    sa.Column("block_hash", sa.Text, nullable=False),
    sa.Column("status", sa.Text, nullable=False),
    sa.Column("reorg_id", sa.BigInteger, nullable=True),
    sa.Column("created_at", _Time, nullable=False),
    sa.CheckConstraint("status IN ('active', 'rolled_back')", name="ck_events_status"),
)
sa.Index(
    "ux_events_model_version_active", events.c.model, events.c.version, unique=True,
    sqlite_where=_ACTIVE, postgresql_where=_ACTIVE,
)
sa.Index(
    "ix_events_active_model_position", events.c.model, events.c.position,
    sqlite_where=_ACTIVE, postgresql_where=_ACTIVE,
)
sa.Index(
    "ix_events_active_block_height", events.c.block_height, events.c.position,
    sqlite_where=_ACTIVE, postgresql_where=_ACTIVE,
)

blocks = sa.Table(
    "blocks",
    metadata,
    sa.Column("id", _Id, primary_key=True, autoincrement=True),
    sa.Column("height", sa.BigInteger, nullable=False),
    sa.Column("hash", sa.Text, nullable=False),
    sa.Column("prev_hash", sa.Text, nullable=False),
    sa.Column("time", sa.BigInteger, nullable=False),
    sa.Column("status", sa.Text, nullable=False),
    sa.Column("reorg_id", sa.BigInteger, nullable=True),
    sa.Column("created_at", _Time, nullable=False),
    sa.CheckConstraint("status IN ('canonical', 'orphaned')", name="ck_blocks_status"),
)
sa.Index(
    "ux_blocks_canonical_height", blocks.c.height, unique=True,
    sqlite_where=_CANONICAL, postgresql_where=_CANONICAL,
)
sa.Index("ix_blocks_hash", blocks.c.hash)
sa.Index("ix_blocks_status_height", blocks.c.status, blocks.c.height)

snapshots = sa.Table(
    "snapshots",
    metadata,
    sa.Column("model", sa.Text, primary_key=True),
    sa.Column("block_height", sa.BigInteger, primary_key=True),
    sa.Column("block_hash", sa.Text, nullable=False),
    sa.Column("state", _Json, nullable=False),
    sa.Column("created_at", _Time, nullable=False),
)
sa.Index("ix_snapshots_block_height", snapshots.c.block_height)

reorgs = sa.Table(
    "reorgs",
    metadata,
    sa.Column("id", _Id, primary_key=True, autoincrement=True),
    sa.Column("fork_height", sa.BigInteger, nullable=False),
    sa.Column("fork_hash", sa.Text, nullable=False),
    sa.Column("old_tip_height", sa.BigInteger, nullable=False),
    sa.Column("old_tip_hash", sa.Text, nullable=False),
    sa.Column("new_tip_hash", sa.Text, nullable=True),
    sa.Column("depth", sa.Integer, nullable=False),
    sa.Column("rolled_back_events", sa.BigInteger, nullable=False),
    # Every event this reorg rolled back has a position in [first, last].
    sa.Column("first_position", sa.BigInteger, nullable=False),
    sa.Column("last_position", sa.BigInteger, nullable=False),
    sa.Column("created_at", _Time, nullable=False),
)

checkpoints = sa.Table(
    "checkpoints",
    metadata,
    sa.Column("subscriber", sa.Text, primary_key=True),
    sa.Column("position", sa.BigInteger, nullable=False),
    sa.Column("updated_at", _Time, nullable=False),
)

models = sa.Table(
    "models",
    metadata,
    sa.Column("name", sa.Text, primary_key=True),
    sa.Column("version", sa.Text, nullable=True),
    sa.Column("registered_at", _Time, nullable=False),
)

collection_values = sa.Table(
    "collection_values",
    metadata,
    sa.Column("model", sa.Text, primary_key=True),
    sa.Column("collection", sa.Text, primary_key=True),
    sa.Column("key", _Key, primary_key=True),
    sa.Column("value", _Json, nullable=False),
    sqlite_with_rowid=False,
)

# Keyed by block first: a settle deletes a block's rows as one range; reads find a key's
# rows through the index.
collection_recent = sa.Table(
    "collection_recent",
    metadata,
    sa.Column("seq", sa.BigInteger, primary_key=True, autoincrement=False),
    sa.Column("model", sa.Text, primary_key=True),
    sa.Column("collection", sa.Text, primary_key=True),
    sa.Column("key", _Key, primary_key=True),
    sa.Column("value", _Json, nullable=True),
    sqlite_with_rowid=False,
)
sa.Index(
    "ix_collection_recent_key", collection_recent.c.model, collection_recent.c.collection,
    collection_recent.c.key, collection_recent.c.seq,
)

collection_blocks = sa.Table(
    "collection_blocks",
    metadata,
    sa.Column("seq", sa.BigInteger, primary_key=True, autoincrement=False),
    sa.Column("block_height", sa.BigInteger, nullable=False),
    sa.Column("status", sa.Text, nullable=False),
    sa.CheckConstraint(
        "status IN ('canonical', 'orphaned')", name="ck_collection_blocks_status"),
)

# Positions are assigned by the store (like ``events``); pruning walks ``created_at``.
mempool_events = sa.Table(
    "mempool_events",
    metadata,
    sa.Column("position", _Id, primary_key=True, autoincrement=False),
    sa.Column("model", sa.Text, nullable=False),
    sa.Column("event_type", sa.Text, nullable=False),
    sa.Column("event_version", sa.Integer, nullable=False),
    sa.Column("payload", _Json, nullable=False),
    sa.Column("txid", sa.Text, nullable=True),
    sa.Column("block_height", sa.BigInteger, nullable=True),
    sa.Column("block_hash", sa.Text, nullable=True),
    sa.Column("created_at", _Time, nullable=False),
)
sa.Index("ix_mempool_events_model_position", mempool_events.c.model, mempool_events.c.position)
sa.Index("ix_mempool_events_created_at", mempool_events.c.created_at)
sa.Index("ix_mempool_events_txid", mempool_events.c.txid)

mempool_failures = sa.Table(
    "mempool_failures",
    metadata,
    sa.Column("model", sa.Text, primary_key=True),
    sa.Column("error", sa.Text, nullable=False),
    sa.Column("failed_at", _Time, nullable=False),
)

DIALECTS: Mapping[str, Dialect] = {
    "sqlite": sqlite.dialect(),
    "postgresql": postgresql.dialect(),  # type: ignore[no-untyped-call]
}


def create_statements(dialect_name: str) -> list[str]:
    """DDL creating every table and index (``IF NOT EXISTS``) for one backend."""
    dialect = DIALECTS[dialect_name]
    statements: list[str] = []
    for table in metadata.sorted_tables:
        statements.append(str(CreateTable(table, if_not_exists=True).compile(dialect=dialect)))
        statements.extend(
            str(CreateIndex(index, if_not_exists=True).compile(dialect=dialect))
            for index in sorted(table.indexes, key=lambda ix: str(ix.name))
        )
    if dialect_name == "postgresql":
        statements.append(_SNAPSHOTS_UNCOMPRESSED)
    return statements


def migration_statements(from_version: int, dialect_name: str) -> list[tuple[int, list[str]]]:
    """The migration steps from ``from_version`` to ``SCHEMA_VERSION``: (target, sql)."""
    steps: list[tuple[int, list[str]]] = []
    for version in range(from_version, SCHEMA_VERSION):
        if version not in MIGRATIONS:
            raise SchemaVersionError(
                f"no migration from schema version {version} to {version + 1}"
            )
        steps.append((version + 1, MIGRATIONS[version].statements(dialect_name)))
    return steps


def new_store_meta(network: str, genesis_hash: str, created_at: str) -> dict[str, str]:
    """The ``meta`` rows written when a store is created."""
    return {
        "schema_version": str(SCHEMA_VERSION),
        "network": network,
        "genesis_hash": genesis_hash,
        "created_at": created_at,
    }


def stored_version(stored: Mapping[str, str], *, where: str, may_migrate: bool) -> int:
    """The schema version of a store's ``meta``, if this code can use it.

    Raises SchemaVersionError for a newer schema, or for an older one when
    ``may_migrate`` is false (only a writer with automatic schema management
    migrates).
    """
    try:
        version = int(stored["schema_version"])
    except (KeyError, ValueError):
        raise SchemaVersionError(
            f"the store at {where} has no valid schema version in its meta table"
        ) from None
    if version > SCHEMA_VERSION:
        raise SchemaVersionError(
            f"the store at {where} has schema version {version}, newer than version "
            f"{SCHEMA_VERSION} this chaincrawler understands; upgrade chaincrawler"
        )
    if version < SCHEMA_VERSION and not may_migrate:
        raise SchemaVersionError(
            f"the store at {where} has schema version {version}, older than version "
            f"{SCHEMA_VERSION}; migrate it in place by opening it once as the writer "
            "with schema management on (create_schema=True: the store.create_schema "
            "setting, on by default), e.g. with `chaincrawler run`"
        )
    return version


def same_network(stored: Mapping[str, str], network: str, genesis_hash: str) -> bool:
    """Whether a store's ``meta`` names ``network`` and ``genesis_hash``."""
    return (stored.get("network"), stored.get("genesis_hash")) == (network, genesis_hash)


def network_mismatch(
    stored: Mapping[str, str], network: str, genesis_hash: str, where: str
) -> StoreNetworkMismatchError:
    """The error for opening a store stamped for another network or genesis."""
    return StoreNetworkMismatchError(
        f"the store at {where} was created for network {stored.get('network')!r} "
        f"(genesis {stored.get('genesis_hash')}), not for network {network!r} "
        f"(genesis {genesis_hash}); point chaincrawler at another store (a store "
        "holding no blocks yet is re-stamped when opened as the writer)"
    )
