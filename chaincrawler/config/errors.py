"""ConfigError: invalid settings, reported per field with its env var and the reason."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from pydantic import ValidationError
from pydantic_core import ErrorDetails

from chaincrawler.errors import ChaincrawlerError
from chaincrawler.logs import redact_text

ENV_PREFIX = "CHAINCRAWLER_"
ENV_NESTED_DELIMITER = "__"

# Fields whose offending input must never be echoed back in an error message.
_SECRET_FIELDS = frozenset({"rpc_password"})


@dataclass(frozen=True, slots=True)
class ConfigProblem:
    """One invalid setting: its dotted path (``crawler.max_reorg_depth``), env var and reason."""

    path: str
    env_var: str | None
    reason: str

    def __str__(self) -> str:
        where = f"{self.path} ({self.env_var})" if self.env_var else self.path
        return f"{where}: {self.reason}"


class ConfigError(ChaincrawlerError, ValueError):
    """The configuration is invalid; ``problems`` lists each bad setting."""

    def __init__(self, message: str, problems: Sequence[ConfigProblem] = ()) -> None:
        self.problems = tuple(problems)
        lines = [message, *(f"  - {problem}" for problem in self.problems)]
        super().__init__("\n".join(lines))


def env_var_name(loc: Iterable[str | int]) -> str | None:
    """The environment variable that sets the field at ``loc`` (None for the top level)."""
    names = [part for part in loc if isinstance(part, str)]
    if not names:
        return None
    return ENV_PREFIX + ENV_NESTED_DELIMITER.join(names).upper()


def dotted_path(loc: Iterable[str | int]) -> str:
    """``("node", "urls", 1)`` -> ``node.urls[1]``."""
    path = ""
    for part in loc:
        if isinstance(part, int):
            path += f"[{part}]"
        else:
            path += f".{part}" if path else part
    return path or "(settings)"


def _reason(error: ErrorDetails) -> str:
    if error["type"] == "extra_forbidden":
        return "unknown setting (check its spelling and section)"
    reason = error["msg"].removeprefix("Value error, ").removeprefix("Assertion failed, ")
    loc = error["loc"]
    secret = any(part in _SECRET_FIELDS for part in loc)
    value = error.get("input")
    if not secret and isinstance(value, str | int | float | bool) and error["type"] != "missing":
        reason += f" (got {redact_text(repr(value))})"
    return reason


def problems_from_validation_error(exc: ValidationError) -> list[ConfigProblem]:
    """One ConfigProblem per pydantic error, naming the field by dotted path and env var."""
    return [
        ConfigProblem(dotted_path(err["loc"]), env_var_name(err["loc"]), _reason(err))
        for err in exc.errors()
    ]


def config_error_from_validation_error(exc: ValidationError) -> ConfigError:
    """Turn pydantic's ValidationError into a ConfigError with a human message."""
    problems = problems_from_validation_error(exc)
    noun = "setting" if len(problems) == 1 else "settings"
    return ConfigError(f"invalid configuration ({len(problems)} bad {noun}):", problems)
