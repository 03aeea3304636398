"""The sections of Settings (node, crawler, store, http, log) and their validation."""

from __future__ import annotations

import inspect
import json
from collections.abc import Iterator
from dataclasses import fields
from pathlib import Path
from typing import Annotated, Any, Literal
from urllib.parse import SplitResult, urlsplit

from pydantic import (
    AfterValidator,
    BaseModel,
    ByteSize,
    ConfigDict,
    Field,
    SecretStr,
    ValidationInfo,
    field_validator,
)
from pydantic_settings import NoDecode

from chaincrawler.config.validation import check_import_path, check_schema_name, check_store_url
from chaincrawler.crawler.mempool import MempoolWatcher
from chaincrawler.crawler.pipeline import CrawlerOptions
from chaincrawler.eventstore import EventStore, PostgresEventStore, SQLiteEventStore, open_store
from chaincrawler.logs import LOG_LEVELS, redact_text
from chaincrawler.node.client import DEFAULT_TIMEOUT, NodeClient, RetryPolicy
from chaincrawler.node.zmq import ZMQ_TOPICS
from chaincrawler.transports.options import ApiOptions

__all__ = [
    "CrawlerSettings",
    "HttpSettings",
    "ImportPath",
    "LogSettings",
    "MempoolSettings",
    "NodeSettings",
    "StoreSettings",
    "split_list",
]

# Topics a single `zmq_url` subscribes to: new blocks, and the mempool's adds and removes.
_ZMQ_URL_TOPICS = ("hashblock", "rawtx", "sequence")
_DEFAULT_RETRY = RetryPolicy()  # the node client's defaults are the settings' defaults
_MIB = 1024 * 1024


def _parameter_defaults(cls: type) -> dict[str, Any]:
    """The defaults of ``cls``'s constructor parameters, by name."""
    parameters = inspect.signature(cls).parameters.values()
    return {p.name: p.default for p in parameters if p.default is not p.empty}


# One default per knob: the settings' defaults are those of the objects they configure.
_CRAWLER_DEFAULTS: dict[str, Any] = {f.name: f.default for f in fields(CrawlerOptions)}
_PG_DEFAULTS = _parameter_defaults(PostgresEventStore)
_SQLITE_DEFAULTS = _parameter_defaults(SQLiteEventStore)
_WATCHER_DEFAULTS = _parameter_defaults(MempoolWatcher)


def split_list(value: Any) -> Any:
    """Accept a JSON list or a comma-separated string (handy in env vars) for list fields."""
    if not isinstance(value, str):
        return value
    text = value.strip()
    if text.startswith("["):
        return json.loads(text)
    return [item.strip() for item in text.split(",") if item.strip()]


def _port_of(parts: SplitResult) -> int | None:
    try:
        port = parts.port
    except ValueError:
        raise ValueError("port must be a number from 1 to 65535") from None
    if port == 0:
        raise ValueError("port must be a number from 1 to 65535")
    return port


def _check_rpc_url(url: str) -> str:
    url = url.strip()
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https"):
        raise ValueError("must be an http:// or https:// URL")
    if not parts.hostname:
        raise ValueError("URL has no host")
    _port_of(parts)
    return url


def _check_zmq_endpoint(endpoint: str) -> str:
    endpoint = endpoint.strip()
    parts = urlsplit(endpoint)
    if parts.scheme == "ipc" and (parts.netloc or parts.path):
        return endpoint
    if parts.scheme != "tcp":
        raise ValueError("must be a tcp://host:port or ipc://path ZMQ endpoint")
    if not parts.hostname or _port_of(parts) is None:
        raise ValueError("a tcp:// ZMQ endpoint needs a host and a port")
    return endpoint


RpcUrl = Annotated[str, AfterValidator(_check_rpc_url)]
ZmqEndpoint = Annotated[str, AfterValidator(_check_zmq_endpoint)]
ImportPath = Annotated[str, AfterValidator(check_import_path)]
StoreUrl = Annotated[str, AfterValidator(check_store_url)]


class _Section(BaseModel):
    """A settings section: unknown keys are errors, assignments are validated."""

    model_config = ConfigDict(extra="forbid", validate_assignment=True)

    def __repr_args__(self) -> Iterator[tuple[str | None, Any]]:
        for name, value in super().__repr_args__():
            yield name, _redact_repr(value)


class _RedactedRepr:
    """Shows a value's repr with URL credentials masked."""

    def __init__(self, text: str) -> None:
        self._text = text

    def __repr__(self) -> str:
        return self._text


def _redact_repr(value: Any) -> Any:
    if isinstance(value, str | list | dict):
        return _RedactedRepr(redact_text(repr(value)))
    return value


class NodeSettings(_Section):
    """The Bitcoin Core node(s) to follow: JSON-RPC, REST and ZMQ."""

    urls: Annotated[list[RpcUrl], NoDecode] = Field(
        default=["http://127.0.0.1:18443"],
        min_length=1,
        description=(
            "JSON-RPC URLs of the node; several mean failover, tried in order. A URL without a "
            "port gets the network's RPC port; left unset: http://127.0.0.1:<network RPC port>. "
            "Credentials in a URL (http://user:pass@host) are accepted and never displayed. "
            "In env vars: a JSON list or comma-separated."
        ),
    )
    rpc_user: str | None = Field(
        default=None, description="RPC user name (rpcuser); leave unset to use the cookie file."
    )
    rpc_password: SecretStr | None = Field(
        default=None, description="RPC password (rpcpassword); never displayed or logged."
    )
    cookie_file: Path | None = Field(
        default=None,
        description="Path of the node's .cookie file, read at each connection (cookie auth).",
    )
    rest: bool = Field(
        default=False,
        description=(
            "Fetch raw blocks over REST (/rest/block/<hash>.bin), and the outputs they spend "
            "(/rest/spenttxouts/, Bitcoin Core >= 30) when the node serves it; needs -rest."
        ),
    )
    zmq_endpoints: Annotated[dict[str, ZmqEndpoint], NoDecode] = Field(
        default_factory=dict,
        description=(
            "ZMQ endpoint per topic (hashblock, hashtx, rawblock, rawtx, sequence), e.g. "
            '{"hashblock": "tcp://127.0.0.1:28332"}. Empty with no zmq_url: `run` follows '
            "the endpoints the node advertises (getzmqnotifications), else polls."
        ),
    )
    zmq_url: ZmqEndpoint | None = Field(
        default=None,
        description=(
            "One ZMQ endpoint for the hashblock, rawtx and sequence topics; "
            "entries of zmq_endpoints take precedence."
        ),
    )
    timeout: float = Field(
        default=DEFAULT_TIMEOUT, gt=0, description="Seconds to wait for one RPC reply."
    )
    retries: int = Field(
        default=_DEFAULT_RETRY.attempts - 1,
        ge=0,
        description="Retries of a failed RPC call before giving up.",
    )
    backoff_initial: float = Field(
        default=_DEFAULT_RETRY.initial_delay,
        gt=0,
        description="Seconds before the first retry; doubles on each retry.",
    )
    backoff_max: float = Field(
        default=_DEFAULT_RETRY.max_delay,
        gt=0,
        description="Longest wait in seconds between two retries.",
    )

    @field_validator("urls", mode="before")
    @classmethod
    def _parse_urls(cls, value: Any) -> Any:
        return split_list(value)

    @field_validator("rpc_password")
    @classmethod
    def _password_needs_user(
        cls, password: SecretStr | None, info: ValidationInfo
    ) -> SecretStr | None:
        if password is not None and not info.data.get("rpc_user"):
            raise ValueError("rpc_password is set but rpc_user is not")
        return password

    @field_validator("cookie_file")
    @classmethod
    def _cookie_or_password(cls, cookie: Path | None, info: ValidationInfo) -> Path | None:
        if cookie is not None and info.data.get("rpc_user"):
            raise ValueError("choose one authentication: rpc_user/rpc_password or cookie_file")
        return cookie

    @field_validator("zmq_endpoints", mode="before")
    @classmethod
    def _parse_zmq_endpoints(cls, value: Any) -> Any:
        return json.loads(value) if isinstance(value, str) else value

    @field_validator("zmq_endpoints")
    @classmethod
    def _check_zmq_topics(cls, endpoints: dict[str, str]) -> dict[str, str]:
        unknown = sorted(set(endpoints) - set(ZMQ_TOPICS))
        if unknown:
            raise ValueError(f"unknown ZMQ topic(s) {unknown}; known: {', '.join(ZMQ_TOPICS)}")
        return endpoints

    @field_validator("backoff_max")
    @classmethod
    def _backoff_order(cls, backoff_max: float, info: ValidationInfo) -> float:
        initial = info.data.get("backoff_initial")
        if initial is not None and backoff_max < initial:
            raise ValueError(f"must be >= backoff_initial ({initial})")
        return backoff_max

    def client(self) -> NodeClient:
        """The :class:`~chaincrawler.node.client.NodeClient` these settings describe."""
        password = self.rpc_password
        return NodeClient(
            self.urls,
            user=self.rpc_user,
            password=password.get_secret_value() if password is not None else None,
            cookie_file=self.cookie_file,
            timeout=self.timeout,
            retry=RetryPolicy(
                attempts=self.retries + 1,
                initial_delay=self.backoff_initial,
                max_delay=self.backoff_max,
            ),
            rest=self.rest,
        )

    @property
    def zmq_subscriptions(self) -> dict[str, str]:
        """The ZMQ endpoint of each topic to subscribe to (empty: `run` asks the node)."""
        topics = dict.fromkeys(_ZMQ_URL_TOPICS, self.zmq_url) if self.zmq_url else {}
        return {**topics, **self.zmq_endpoints}


class CrawlerSettings(_Section):
    """How blocks are crawled, committed and snapshotted."""

    # Every field but start_height defaults to the CrawlerOptions field of its name.

    start_height: int | None = Field(
        default=None,
        ge=0,
        description=(
            "First height to crawl into a new store; unset: the genesis block (height 0), on "
            "every network. On mainnet/testnet set it to skip history your models do not need. "
            "Ignored once the store has blocks: the crawl resumes after its tip."
        ),
    )
    max_reorg_depth: int = Field(
        default=_CRAWLER_DEFAULTS["max_reorg_depth"],
        ge=1,
        description=(
            "Blocks kept in the chain window; a deeper reorganisation stops the crawler "
            "(recover with `chaincrawler rebuild`)."
        ),
    )
    snapshot_interval: int = Field(
        default=_CRAWLER_DEFAULTS["snapshot_interval"],
        ge=1,
        description=(
            "Snapshot every model's state every this many blocks. A reorg rebuilds state "
            "from the newest snapshot at or below the fork plus replay of the events after "
            "it, so this bounds the replay; a snapshot costs a serialisation of the state."
        ),
    )
    catchup_batch_blocks: int = Field(
        default=_CRAWLER_DEFAULTS["catchup_batch_blocks"],
        ge=1,
        description="Blocks committed in one transaction while catching up (1 at the tip).",
    )
    catchup_batch_writes: int = Field(
        default=_CRAWLER_DEFAULTS["catchup_batch_writes"],
        ge=1,
        description=(
            "Stored-collection writes that end a catch-up batch early: it commits after the "
            "block that brings its writes to this many. Bounds the memory the batch's "
            "uncommitted writes take (about 500 bytes each at the commit)."
        ),
    )
    prefetch_bytes: ByteSize = Field(
        default=ByteSize(_CRAWLER_DEFAULTS["prefetch_bytes"]),
        ge=_MIB,
        description="Bound of the prefetched raw-block queue, in bytes (e.g. 67108864, '64MiB').",
    )
    fetch_concurrency: int = Field(
        default=_CRAWLER_DEFAULTS["fetch_concurrency"],
        ge=1,
        description="Chunks of blocks fetched from the node in parallel.",
    )
    fetch_chunk_blocks: int = Field(
        default=_CRAWLER_DEFAULTS["fetch_chunk_blocks"],
        ge=1,
        description="Consecutive blocks fetched in one chunk (one batch of requests).",
    )
    poll_interval: float = Field(
        default=_CRAWLER_DEFAULTS["poll_interval"],
        gt=0,
        description="Seconds between two polls of the node's tip.",
    )
    on_model_error: Literal["stop", "retry"] = Field(
        default=_CRAWLER_DEFAULTS["on_model_error"],
        description=(
            "When a model raises: 'stop' the crawler (the block is not committed), or 'retry' "
            "the block model_error_retries times first."
        ),
    )
    model_error_retries: int = Field(
        default=_CRAWLER_DEFAULTS["model_error_retries"],
        ge=0,
        description="Retries of a block whose model raised (on_model_error=retry).",
    )
    prevout_cache_entries: int = Field(
        default=_CRAWLER_DEFAULTS["prevout_cache_entries"],
        ge=0,
        description=(
            "Outputs kept in memory for models that read the outputs a block spends "
            "(about 300 bytes each); a miss asks the node."
        ),
    )
    snapshots_kept: int = Field(
        default=_CRAWLER_DEFAULTS["snapshots_kept"],
        ge=0,
        description=(
            "Snapshots kept per model besides those a reorg within max_reorg_depth needs; "
            "older ones are deleted as new ones are written."
        ),
    )
    collection_cache_entries: int = Field(
        default=_CRAWLER_DEFAULTS["collection_cache_entries"],
        ge=0,
        description=(
            "Clean values each stored collection of a model keeps in memory (least recently "
            "used dropped first); keys a block prefetches stay loaded for that block."
        ),
    )
    address_worker: bool = Field(
        default=_CRAWLER_DEFAULTS["address_worker"],
        description=(
            "While catching up (16 blocks or more), derive txids, merkle checks and output "
            "addresses in a worker process, off the models' path: a third less CPU for the "
            "crawl process, more in all; pays with a core to spare."
        ),
    )

    def options(self) -> CrawlerOptions:
        """The crawler's options from these settings."""
        values = {f.name: getattr(self, f.name) for f in fields(CrawlerOptions)}
        values["start_height"] = self.start_height or 0
        values["prefetch_bytes"] = int(self.prefetch_bytes)
        return CrawlerOptions(**values)


class StoreSettings(_Section):
    """Where events, blocks and snapshots are stored: SQLite or PostgreSQL."""

    # The section docstrings are `chaincrawler config`'s section comments: one line each.
    # The backend options' defaults are those of the store classes.

    url: StoreUrl = Field(
        default="sqlite:///chaincrawler.db",
        description=(
            "Event store URL: sqlite:///relative.db, sqlite:////absolute.db, sqlite:///:memory: "
            "or postgresql://user:pass@host:5432/db (PostgreSQL). Credentials are never displayed."
        ),
    )
    create_schema: bool = Field(
        default=True, description="Create and migrate the store's tables automatically."
    )
    schema_name: str | None = Field(
        default=None,
        alias="schema",
        description=(
            "PostgreSQL schema holding the tables (several crawlers can share a database); "
            f"unset: {_PG_DEFAULTS['schema']!r}."
        ),
    )
    pool_min_size: int = Field(
        default=_PG_DEFAULTS["min_pool_size"],
        ge=1,
        description="PostgreSQL: connections opened at start and kept.",
    )
    pool_max_size: int = Field(
        default=_PG_DEFAULTS["max_pool_size"],
        ge=1,
        description="PostgreSQL: most connections open at once.",
    )
    connect_timeout: float = Field(
        default=_PG_DEFAULTS["connect_timeout"],
        gt=0,
        description="PostgreSQL: seconds to wait when opening a connection.",
    )
    statement_timeout: float | None = Field(
        default=_PG_DEFAULTS["statement_timeout"],
        gt=0,
        description=(
            "PostgreSQL: seconds before the server cancels one SQL statement; it must leave "
            "room for the commit of a whole catch-up batch."
        ),
    )
    sqlite_synchronous: Literal["NORMAL", "FULL"] = Field(
        default=_SQLITE_DEFAULTS["synchronous"],
        description=(
            "SQLite PRAGMA synchronous (WAL mode). NORMAL survives a crashed process; FULL "
            "(the default) also a power loss, at the cost of one fsync per commit, which is "
            "one per catch-up batch or per block at the tip."
        ),
    )

    sqlite_cache_mib: int = Field(
        default=_SQLITE_DEFAULTS["cache_mib"],
        ge=1,
        description=(
            "SQLite page cache per connection, in MiB. Stored collections far larger than it "
            "read and settle keys from disk pages; more cache, fewer page reads."
        ),
    )

    model_config = ConfigDict(populate_by_name=True)

    @field_validator("sqlite_synchronous", mode="before")
    @classmethod
    def _upper_synchronous(cls, value: Any) -> Any:
        return value.upper() if isinstance(value, str) else value

    @field_validator("schema_name")
    @classmethod
    def _check_schema(cls, schema: str | None, info: ValidationInfo) -> str | None:
        if schema is None:
            return None
        check_schema_name(schema)
        url = info.data.get("url")
        if url is not None and not url.startswith("postgresql://"):
            raise ValueError("a schema applies to PostgreSQL stores only")
        return schema

    @field_validator("pool_max_size")
    @classmethod
    def _pool_order(cls, max_size: int, info: ValidationInfo) -> int:
        min_size = info.data.get("pool_min_size")
        if min_size is not None and max_size < min_size:
            raise ValueError(f"must be >= pool_min_size ({min_size})")
        return max_size

    @property
    def backend(self) -> Literal["sqlite", "postgresql"]:
        """Which event store backend the URL selects."""
        return "postgresql" if self.url.startswith("postgresql://") else "sqlite"

    @property
    def location(self) -> str:
        """Where the store lives, for messages: its file, or its URL (no password) and schema."""
        if self.backend == "sqlite":
            return self.url.removeprefix("sqlite:///")
        return f"{redact_text(self.url)} (schema {self.schema_name or _PG_DEFAULTS['schema']})"

    def store(self) -> EventStore:
        """The event store these settings name, not yet opened."""
        if self.backend == "sqlite":
            return open_store(
                self.url, synchronous=self.sqlite_synchronous, cache_mib=self.sqlite_cache_mib
            )
        options: dict[str, Any] = {
            "min_pool_size": self.pool_min_size,
            "max_pool_size": self.pool_max_size,
            "connect_timeout": self.connect_timeout,
            "statement_timeout": self.statement_timeout,
        }
        if self.schema_name is not None:
            options["schema"] = self.schema_name
        return open_store(self.url, **options)


class HttpSettings(_Section):
    """The HTTP / WebSocket API and dashboard that ``chaincrawler run`` serves when enabled."""

    enabled: bool = Field(
        default=False,
        description="Serve state, events, queries, the event stream and the dashboard.",
    )
    host: str = Field(default="127.0.0.1", min_length=1, description="Address to listen on.")
    port: int = Field(
        default=8080, ge=0, le=65535, description="TCP port to listen on (0: any free port)."
    )
    tokens: Annotated[list[SecretStr], NoDecode] = Field(
        default_factory=list,
        description="Bearer tokens accepted (comma-separated or a JSON list); none: no auth.",
    )
    cors_origins: Annotated[list[str], NoDecode] = Field(
        default_factory=list,
        description="Origins browsers may call the API from (CORS); none: same origin only.",
    )
    heartbeat_interval: float = Field(
        default=ApiOptions.heartbeat_interval, gt=0,
        description="Seconds between heartbeats on an idle stream.",
    )
    stream_buffer: int = Field(
        default=ApiOptions.stream_buffer, ge=1,
        description="Frames queued per stream client; a client further behind is closed "
        "(code 4008) with the position to resume from.",
    )

    @field_validator("tokens", "cors_origins", mode="before")
    @classmethod
    def _split(cls, value: Any) -> Any:
        return split_list(value)

    @field_validator("tokens")
    @classmethod
    def _no_empty_token(cls, value: list[SecretStr]) -> list[SecretStr]:
        if any(not t.get_secret_value().strip() for t in value):
            raise ValueError("a token must not be empty")
        return value

    def options(self) -> ApiOptions:
        """The API's options from these settings."""
        return ApiOptions(
            tokens=[t.get_secret_value() for t in self.tokens],
            cors_origins=list(self.cors_origins),
            heartbeat_interval=self.heartbeat_interval,
            stream_buffer=self.stream_buffer,
        )


class MempoolSettings(_Section):
    """The mempool watcher `chaincrawler run` starts when a model is a MempoolModel."""

    retention: float = Field(
        default=86_400.0,
        gt=0,
        description=(
            "Seconds mempool events are kept; older ones are deleted by later commits "
            "(the newest always stays, so positions never restart)."
        ),
    )
    reconcile_interval: float = Field(
        default=_WATCHER_DEFAULTS["reconcile_interval"],
        gt=0,
        description=(
            "Seconds between two reconciliations of the watcher's view with the node's "
            "getrawmempool (also done after every block and any ZMQ gap)."
        ),
    )


class LogSettings(_Section):
    """Logging."""

    level: Literal["DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"] = Field(
        default="INFO", description=f"Lowest level logged: {', '.join(LOG_LEVELS)}."
    )
    format: Literal["auto", "json", "pretty"] = Field(
        default="auto",
        description="'json' lines, 'pretty' console, or 'auto': pretty on a terminal, else JSON.",
    )

    @field_validator("level", mode="before")
    @classmethod
    def _upper_level(cls, value: Any) -> Any:
        return value.upper() if isinstance(value, str) else value
