"""Settings: every knob of chaincrawler, from keyword arguments, env vars, .env and a TOML file.

Precedence, highest first: keyword arguments > environment (``CHAINCRAWLER_...``, nested
sections with ``__``, e.g. ``CHAINCRAWLER_CRAWLER__MAX_REORG_DEPTH=6``) > ``.env`` in the
working directory > the TOML file (``Settings.from_toml(path)`` or ``CHAINCRAWLER_CONFIG_FILE``)
> defaults. Use ``load_settings`` (or ``Settings.from_toml``) at start: it reports every
invalid value at once as a ``ConfigError`` naming the field, its env var and the reason.
"""

from __future__ import annotations

import json
import re
import textwrap
import tomllib
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, Literal, Self, TypeVar
from urllib.parse import SplitResult, urlsplit, urlunsplit

from pydantic import (
    BaseModel,
    ByteSize,
    ConfigDict,
    Field,
    SecretStr,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)
from pydantic_core import to_jsonable_python
from pydantic_settings import (
    BaseSettings,
    NoDecode,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    SettingsError,
    TomlConfigSettingsSource,
)
from pydantic_settings.sources import InitSettingsSource

from chaincrawler.chain.networks import Network, get_network
from chaincrawler.config.errors import (
    ENV_NESTED_DELIMITER,
    ENV_PREFIX,
    ConfigError,
    config_error_from_validation_error,
    env_var_name,
)
from chaincrawler.logs import LOG_LEVELS, redact_text

__all__ = [
    "ZMQ_TOPICS",
    "CrawlerSettings",
    "HttpSettings",
    "LogSettings",
    "NodeSettings",
    "SettingInfo",
    "Settings",
    "StoreSettings",
    "load_settings",
]

ZMQ_TOPICS: tuple[str, ...] = ("hashblock", "hashtx", "rawblock", "rawtx", "sequence")
# Topics a single `zmq_url` subscribes to: new blocks, and the mempool's adds and removes.
_ZMQ_URL_TOPICS = ("hashblock", "rawtx", "sequence")
_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,62}")
_IMPORT_PATH = re.compile(r"[A-Za-z_][\w.]*:[A-Za-z_][\w.]*")
_MIB = 1024 * 1024


def _split_list(value: Any) -> Any:
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
    parts = urlsplit(url.strip())
    if parts.scheme not in ("http", "https"):
        raise ValueError("must be an http:// or https:// URL")
    if not parts.hostname:
        raise ValueError("URL has no host")
    _port_of(parts)
    return parts.geturl()


def _with_default_port(url: str, port: int) -> str:
    parts = urlsplit(url)
    if parts.port is not None:
        return url
    return urlunsplit(parts._replace(netloc=f"{parts.netloc}:{port}"))


def _check_zmq_endpoint(endpoint: str) -> str:
    parts = urlsplit(endpoint.strip())
    if parts.scheme == "ipc" and (parts.netloc or parts.path):
        return parts.geturl()
    if parts.scheme != "tcp":
        raise ValueError("must be a tcp://host:port or ipc://path ZMQ endpoint")
    if not parts.hostname or _port_of(parts) is None:
        raise ValueError("a tcp:// ZMQ endpoint needs a host and a port")
    return parts.geturl()


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

    urls: Annotated[list[str], NoDecode] = Field(
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
    zmq_endpoints: dict[str, str] = Field(
        default_factory=dict,
        description=(
            "ZMQ endpoint per topic (hashblock, hashtx, rawblock, rawtx, sequence), e.g. "
            '{"hashblock": "tcp://127.0.0.1:28332"}. Empty with no zmq_url: poll only.'
        ),
    )
    zmq_url: str | None = Field(
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
        return _split_list(value)

    @field_validator("urls")
    @classmethod
    def _check_urls(cls, urls: list[str]) -> list[str]:
        return [_check_rpc_url(url) for url in urls]

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

    @field_validator("zmq_endpoints")
    @classmethod
    def _check_zmq_endpoints(cls, endpoints: dict[str, str]) -> dict[str, str]:
        checked = {}
        for topic, endpoint in endpoints.items():
            if topic not in ZMQ_TOPICS:
                raise ValueError(f"unknown ZMQ topic {topic!r}; known: {', '.join(ZMQ_TOPICS)}")
            checked[topic] = _check_zmq_endpoint(endpoint)
        return checked

    @field_validator("zmq_url")
    @classmethod
    def _check_zmq_url(cls, url: str | None) -> str | None:
        return None if url is None else _check_zmq_endpoint(url)

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
        default=1000, ge=1, description="Snapshot every model's state every this many blocks."
    )
    catchup_batch_blocks: int = Field(
        default=50,
        ge=1,
        description="Blocks committed in one transaction while catching up (1 at the tip).",
    )
    prefetch_bytes: ByteSize = Field(
        default=ByteSize(256 * _MIB),
        ge=_MIB,
        description="Bound of the prefetched raw-block queue, in bytes (e.g. 268435456, '256MiB').",
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
        default="NORMAL",
        description=(
            "SQLite PRAGMA synchronous (WAL mode). NORMAL survives a crashed process; FULL also "
            "a power loss, at the cost of one fsync per commit."
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
    """The HTTP / WebSocket transport."""

    enabled: bool = Field(default=True, description="Serve state, events and queries over HTTP.")
    host: str = Field(default="127.0.0.1", min_length=1, description="Address to listen on.")
    port: int = Field(
        default=8080, ge=0, le=65535, description="TCP port to listen on (0: any free port)."
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


class _KnownFieldsOnly(PydanticBaseSettingsSource):
    """Wraps the .env source so unrelated variables in a shared .env file are ignored."""

    def __init__(self, source: PydanticBaseSettingsSource) -> None:
        super().__init__(source.settings_cls)
        self._source = source

    def get_field_value(self, field: Any, field_name: str) -> tuple[Any, str, bool]:
        return self._source.get_field_value(field, field_name)

    def __call__(self) -> dict[str, Any]:
        fields = self.settings_cls.model_fields
        return {key: value for key, value in self._source().items() if key in fields}


def _config_file(*sources: PydanticBaseSettingsSource) -> Path | None:
    """The TOML file named by the first source (kwargs, env, .env) that sets ``config_file``."""
    for source in sources:
        values = source.init_kwargs if isinstance(source, InitSettingsSource) else source()
        path = values.get("config_file")
        if path:
            return Path(path).expanduser()
    return None


def _toml_source(settings_cls: type[BaseSettings], path: Path) -> TomlConfigSettingsSource:
    if not path.is_file():
        raise ConfigError(f"config file {path} not found")
    try:
        return TomlConfigSettingsSource(settings_cls, toml_file=path)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"config file {path} is not valid TOML: {exc}") from exc
    except OSError as exc:
        raise ConfigError(f"cannot read config file {path}: {exc.strerror}") from exc


@dataclass(frozen=True, slots=True)
class SettingInfo:
    """One setting as shown to users: dotted path, env var, description and current value."""

    path: str
    env_var: str
    description: str
    value: Any
    secret: bool


class Settings(BaseSettings):
    """Every setting of chaincrawler; see the module docstring for where values come from."""

    model_config = SettingsConfigDict(
        env_prefix=ENV_PREFIX,
        env_nested_delimiter=ENV_NESTED_DELIMITER,
        env_file=".env",
        env_file_encoding="utf-8",
        extra="forbid",
        validate_assignment=True,
    )

    config_file: Path | None = Field(
        default=None,
        description="TOML file read for settings not given otherwise (its sections as below).",
    )
    network: str = Field(
        default="regtest",
        description=(
            "Chain to follow: mainnet, testnet, testnet4, signet or regtest "
            "(Bitcoin Core's main and test are accepted)."
        ),
    )
    models: Annotated[list[str], NoDecode] = Field(
        default_factory=list,
        description=(
            "Models to run, as 'package.module:ClassName' import paths. "
            "In env vars: a JSON list or comma-separated."
        ),
    )
    node: NodeSettings = Field(default_factory=NodeSettings, description=NodeSettings.__doc__)
    crawler: CrawlerSettings = Field(
        default_factory=CrawlerSettings, description=CrawlerSettings.__doc__
    )
    store: StoreSettings = Field(default_factory=StoreSettings, description=StoreSettings.__doc__)
    http: HttpSettings = Field(default_factory=HttpSettings, description=HttpSettings.__doc__)
    log: LogSettings = Field(default_factory=LogSettings, description=LogSettings.__doc__)

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        """kwargs > env > .env > TOML file > defaults."""
        dotenv = _KnownFieldsOnly(dotenv_settings)
        sources: list[PydanticBaseSettingsSource] = [init_settings, env_settings, dotenv]
        path = _config_file(init_settings, env_settings, dotenv)
        if path is not None:
            sources.append(_toml_source(settings_cls, path))
        return tuple(sources)

    @classmethod
    def from_toml(cls, path: str | Path, **overrides: Any) -> Self:
        """Settings read from the TOML file ``path`` (env, .env and ``overrides`` still win)."""
        return _build(cls, {**overrides, "config_file": path})

    @field_validator("network")
    @classmethod
    def _check_network(cls, name: str) -> str:
        return get_network(name).name

    @field_validator("models", mode="before")
    @classmethod
    def _parse_models(cls, value: Any) -> Any:
        return _split_list(value)

    @field_validator("models")
    @classmethod
    def _check_models(cls, models: list[str]) -> list[str]:
        for path in models:
            if not _IMPORT_PATH.fullmatch(path):
                raise ValueError(f"{path!r} is not a 'package.module:ClassName' import path")
        return models

    @model_validator(mode="after")
    def _node_ports_from_network(self) -> Self:
        port = self.network_params.default_rpc_port
        if "urls" not in self.node.model_fields_set:
            urls = [f"http://127.0.0.1:{port}"]
        else:
            urls = [_with_default_port(url, port) for url in self.node.urls]
        if urls != self.node.urls:
            self.node.urls = urls
        return self

    @property
    def network_params(self) -> Network:
        """Parameters of the configured network (genesis hash, address prefixes, RPC port)."""
        return get_network(self.network)

    def settings_table(self) -> list[SettingInfo]:
        """Every leaf setting with its env var, description and current value."""
        return list(_walk(self, ()))

    def describe(self) -> str:
        """Every setting, documented, as a TOML file (secrets masked or commented out)."""
        lines: list[str] = []
        section = ""
        for info in self.settings_table():
            head, _, key = info.path.rpartition(".")
            if head != section:
                section = head
                field = type(self).model_fields[head]
                lines += ["", f"[{head}]", f"# {field.description}"]
            comment = f"{info.description} (env: {info.env_var})"
            lines += textwrap.wrap(comment, 98, initial_indent="# ", subsequent_indent="# ")
            value = _toml_value(info.value)
            if info.secret or value is None:
                shown = "(secret, set)" if info.secret and info.value is not None else "(unset)"
                lines.append(f"# {key} = {shown}")
            else:
                lines.append(f"{key} = {value}")
        return "\n".join(lines).lstrip("\n") + "\n"


_S = TypeVar("_S", bound=Settings)


def _walk(model: BaseModel, loc: tuple[str, ...]) -> Iterator[SettingInfo]:
    """Leaf settings of ``model``: top-level values first, then each section's."""
    fields = type(model).model_fields
    leaves = [name for name in fields if not isinstance(getattr(model, name), BaseModel)]
    sections = [name for name in fields if isinstance(getattr(model, name), BaseModel)]
    for name in leaves:
        value = getattr(model, name)
        key = fields[name].alias or name
        yield SettingInfo(
            path=".".join((*loc, key)),
            env_var=env_var_name((*loc, key)) or "",
            description=fields[name].description or "",
            value=value,
            secret=isinstance(value, SecretStr),
        )
    for name in sections:
        yield from _walk(getattr(model, name), (*loc, name))


def _toml_value(value: Any) -> str | None:
    """``value`` as TOML text, URL credentials masked; None for an unset value."""
    if value is None:
        return None
    if isinstance(value, Mapping):
        items = ", ".join(f"{json.dumps(str(k))} = {_toml_value(v)}" for k, v in value.items())
        return f"{{ {items} }}" if items else "{}"
    return redact_text(json.dumps(to_jsonable_python(value)))


def _nest(overrides: Mapping[str, Any]) -> dict[str, Any]:
    """``{"crawler__max_reorg_depth": 6}`` -> ``{"crawler": {"max_reorg_depth": 6}}``."""
    nested: dict[str, Any] = {}
    for key, value in overrides.items():
        *parents, leaf = key.split(ENV_NESTED_DELIMITER) if not key.startswith("_") else [key]
        target = nested
        for parent in parents:
            target = target.setdefault(parent, {})
        if isinstance(value, Mapping) and isinstance(target.get(leaf), dict):
            target[leaf].update(value)
        else:
            target[leaf] = value
    return nested


def _build(cls: type[_S], overrides: Mapping[str, Any]) -> _S:
    try:
        return cls(**_nest(overrides))
    except ValidationError as exc:
        raise config_error_from_validation_error(exc) from None
    except SettingsError as exc:
        raise ConfigError(f"invalid configuration: {redact_text(str(exc))}") from exc


def load_settings(**overrides: Any) -> Settings:
    """Settings from all sources, ``overrides`` winning (``crawler__max_reorg_depth=6`` or
    ``crawler={"max_reorg_depth": 6}``); raises ConfigError listing every invalid value."""
    return _build(Settings, overrides)
