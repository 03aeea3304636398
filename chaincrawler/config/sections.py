"""The sections of Settings (node, crawler, store, http, log) and their validation."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
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

from chaincrawler.logs import LOG_LEVELS, redact_text

__all__ = [
    "ZMQ_TOPICS",
    "CrawlerSettings",
    "HttpSettings",
    "ImportPath",
    "LogSettings",
    "NodeSettings",
    "StoreSettings",
    "split_list",
]

ZMQ_TOPICS: tuple[str, ...] = ("hashblock", "hashtx", "rawblock", "rawtx", "sequence")
# Topics a single `zmq_url` subscribes to: new blocks, and the mempool's adds and removes.
_ZMQ_URL_TOPICS = ("hashblock", "rawtx", "sequence")
_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,62}")
_IMPORT_PATH = re.compile(r"[A-Za-z_][\w.]*:[A-Za-z_][\w.]*")
_MIB = 1024 * 1024


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


def _check_import_path(path: str) -> str:
    if not _IMPORT_PATH.fullmatch(path):
        raise ValueError("must be a 'package.module:ClassName' import path")
    return path


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
ImportPath = Annotated[str, AfterValidator(_check_import_path)]


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
        description="Fetch raw blocks over REST (/rest/block/<hash>.bin); needs bitcoind -rest.",
    )
    zmq_endpoints: Annotated[dict[str, ZmqEndpoint], NoDecode] = Field(
        default_factory=dict,
        description=(
            "ZMQ endpoint per topic (hashblock, hashtx, rawblock, rawtx, sequence), e.g. "
            '{"hashblock": "tcp://127.0.0.1:28332"}. Empty with no zmq_url: poll only.'
        ),
    )
    zmq_url: ZmqEndpoint | None = Field(
        default=None,
        description=(
            "One ZMQ endpoint for the hashblock, rawtx and sequence topics; "
            "entries of zmq_endpoints take precedence."
        ),
    )
    timeout: float = Field(default=30.0, gt=0, description="Seconds to wait for one RPC reply.")
    retries: int = Field(
        default=5, ge=0, description="Retries of a failed RPC call before giving up."
    )
    backoff_initial: float = Field(
        default=0.5, gt=0, description="Seconds before the first retry; doubles on each retry."
    )
    backoff_max: float = Field(
        default=30.0, gt=0, description="Longest wait in seconds between two retries."
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

    @property
    def zmq_subscriptions(self) -> dict[str, str]:
        """The ZMQ endpoint of each topic to subscribe to (empty: no ZMQ, poll only)."""
        topics = dict.fromkeys(_ZMQ_URL_TOPICS, self.zmq_url) if self.zmq_url else {}
        return {**topics, **self.zmq_endpoints}


class CrawlerSettings(_Section):
    """How blocks are crawled, committed and snapshotted."""

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
        default=100,
        ge=1,
        description=(
            "Blocks kept in the chain window; a deeper reorganisation stops the crawler "
            "(recover with `chaincrawler rebuild`)."
        ),
    )
    snapshot_interval: int = Field(
        default=100,
        ge=1,
        description=(
            "Snapshot every model's state every this many blocks. A reorg rebuilds state "
            "from the newest snapshot at or below the fork plus replay of the events after "
            "it, so this bounds the replay; a snapshot costs a serialisation of the state."
        ),
    )
    catchup_batch_blocks: int = Field(
        default=50,
        ge=1,
        description="Blocks committed in one transaction while catching up (1 at the tip).",
    )
    prefetch_bytes: ByteSize = Field(
        default=ByteSize(64 * _MIB),
        ge=_MIB,
        description="Bound of the prefetched raw-block queue, in bytes (e.g. 67108864, '64MiB').",
    )
    fetch_concurrency: int = Field(
        default=4, ge=1, description="Blocks fetched from the node in parallel."
    )
    poll_interval: float = Field(
        default=1.0, gt=0, description="Seconds between two polls of the node's tip."
    )
    on_model_error: Literal["stop", "retry"] = Field(
        default="stop",
        description=(
            "When a model raises: 'stop' the crawler (the block is not committed), or 'retry' "
            "the block model_error_retries times first."
        ),
    )
    model_error_retries: int = Field(
        default=3, ge=0, description="Retries of a block whose model raised (on_model_error=retry)."
    )


class StoreSettings(_Section):
    """Where events, blocks and snapshots are stored: SQLite or PostgreSQL."""

    url: str = Field(
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
        description="PostgreSQL schema holding the tables (several crawlers can share a database).",
    )
    pool_min_size: int = Field(
        default=1, ge=0, description="PostgreSQL: connections opened at start and kept."
    )
    pool_max_size: int = Field(
        default=10, ge=1, description="PostgreSQL: most connections open at once."
    )
    connect_timeout: float = Field(
        default=10.0, gt=0, description="Seconds to wait when opening a connection."
    )
    statement_timeout: float | None = Field(
        default=None,
        gt=0,
        description="PostgreSQL: seconds before one SQL statement is cancelled; unset: no limit.",
    )
    sqlite_synchronous: Literal["NORMAL", "FULL"] = Field(
        default="FULL",
        description=(
            "SQLite PRAGMA synchronous (WAL mode). NORMAL survives a crashed process; FULL "
            "(the default) also a power loss, at the cost of one fsync per commit, which is "
            "one per catch-up batch or per block at the tip."
        ),
    )

    model_config = ConfigDict(populate_by_name=True)

    @field_validator("url")
    @classmethod
    def _check_url(cls, url: str) -> str:
        url = url.strip()
        scheme, sep, rest = url.partition("://")
        if scheme == "postgres":
            return f"postgresql://{rest}"
        if scheme == "postgresql" and sep:
            return url
        if scheme == "sqlite" and sep:
            if not rest.startswith("/") or rest == "/":
                raise ValueError("a SQLite URL is sqlite:///<path> (three slashes, then a path)")
            return url
        raise ValueError("must start with sqlite:/// or postgresql://")

    @field_validator("sqlite_synchronous", mode="before")
    @classmethod
    def _upper_synchronous(cls, value: Any) -> Any:
        return value.upper() if isinstance(value, str) else value

    @field_validator("schema_name")
    @classmethod
    def _check_schema(cls, schema: str | None, info: ValidationInfo) -> str | None:
        if schema is None:
            return None
        if not _IDENTIFIER.fullmatch(schema):
            raise ValueError(
                "must be a plain identifier: a letter or _, then letters, digits or _ (max 63)"
            )
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
        default=15.0, gt=0, description="Seconds between heartbeats on an idle stream."
    )
    stream_buffer: int = Field(
        default=1000, ge=1,
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
