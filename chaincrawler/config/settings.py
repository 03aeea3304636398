"""Settings: every knob of chaincrawler, from keyword arguments, env vars, .env and a TOML file.

Precedence, highest first: keyword arguments > environment (``CHAINCRAWLER_...``, nested
sections with ``__``, e.g. ``CHAINCRAWLER_CRAWLER__MAX_REORG_DEPTH=6``) > ``.env`` in the
working directory > the TOML file (``Settings.from_toml(path)`` or ``CHAINCRAWLER_CONFIG_FILE``)
> defaults. Use ``load_settings`` (or ``Settings.from_toml``) at start: it reports every
invalid value at once as a ``ConfigError`` naming the field, its env var and the reason.
"""

from __future__ import annotations

import json
import textwrap
import tomllib
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, Self, TypeVar
from urllib.parse import urlsplit, urlunsplit

from pydantic import (
    BaseModel,
    Field,
    SecretStr,
    ValidationError,
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
from chaincrawler.config.sections import (
    CrawlerSettings,
    HttpSettings,
    ImportPath,
    LogSettings,
    MempoolSettings,
    NodeSettings,
    StoreSettings,
    split_list,
)
from chaincrawler.logs import redact_text

__all__ = ["SettingInfo", "Settings", "load_settings"]


def _with_default_port(url: str, port: int) -> str:
    parts = urlsplit(url)
    if parts.port is not None:
        return url
    return urlunsplit(parts._replace(netloc=f"{parts.netloc}:{port}"))


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
    models: Annotated[list[ImportPath], NoDecode] = Field(
        default_factory=list,
        description=(
            "Models to run, as 'package.module:ClassName' import paths. "
            "In env vars: a JSON list or comma-separated."
        ),
    )
    model_args: dict[str, dict[str, Any]] = Field(
        default_factory=dict,
        description=(
            "Keyword arguments of each model's constructor, by model name: in TOML a table "
            "[model_args.<name>] per model; in env vars JSON, e.g. "
            "CHAINCRAWLER_MODEL_ARGS__DEPOSITS='{\"watch\": [\"bcrt1...\"]}'."
        ),
    )
    node: NodeSettings = Field(default_factory=NodeSettings, description=NodeSettings.__doc__)
    crawler: CrawlerSettings = Field(
        default_factory=CrawlerSettings, description=CrawlerSettings.__doc__
    )
    store: StoreSettings = Field(default_factory=StoreSettings, description=StoreSettings.__doc__)
    http: HttpSettings = Field(default_factory=HttpSettings, description=HttpSettings.__doc__)
    mempool: MempoolSettings = Field(
        default_factory=MempoolSettings, description=MempoolSettings.__doc__
    )
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
        return split_list(value)

    @field_validator("model_args", mode="before")
    @classmethod
    def _parse_model_args(cls, value: Any) -> Any:
        """``CHAINCRAWLER_MODEL_ARGS__<NAME>`` may hold one model's arguments as JSON."""
        if not isinstance(value, Mapping):
            return value
        return {name: _json_object(args) for name, args in value.items()}

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


def _json_object(value: Any) -> Any:
    """A JSON object given as text, decoded; any other value as it is."""
    if isinstance(value, str) and value.lstrip().startswith("{"):
        try:
            return json.loads(value)
        except json.JSONDecodeError as exc:
            raise ValueError(f"not valid JSON: {exc}") from None
    return value


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
        if isinstance(value, Mapping):
            target[leaf] = {**target.get(leaf, {}), **value}
        else:
            target[leaf] = value
    return nested


def _build(cls: type[_S], overrides: Mapping[str, Any]) -> _S:
    try:
        return cls(**_nest(overrides))
    except ValidationError as exc:
        # `from None`: pydantic's error would repeat every input, secrets included.
        raise config_error_from_validation_error(exc) from None
    except SettingsError as exc:
        cause = f": {exc.__cause__}" if exc.__cause__ else ""
        raise ConfigError(f"invalid configuration: {redact_text(str(exc))}{cause}") from exc


def load_settings(**overrides: Any) -> Settings:
    """Settings from all sources, ``overrides`` winning (``crawler__max_reorg_depth=6`` or
    ``crawler={"max_reorg_depth": 6}``); raises ConfigError listing every invalid value."""
    return _build(Settings, overrides)
