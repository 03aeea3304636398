"""Logging: structlog for our own logs, stdlib logging routed through it, secrets redacted.

``configure_logging`` renders JSON lines (production) or a pretty console (a terminal).
Every record, ours or a library's (aiohttp, asyncpg...), passes through ``redact_secrets``:
values under secret-looking keys become ``***`` and ``user:pass@`` in URLs is masked.
"""

from __future__ import annotations

import io
import logging
import re
import sys
from collections.abc import Mapping
from typing import Any, Literal, TextIO, cast

import structlog
from structlog.typing import EventDict, ExcInfo, Processor, WrappedLogger

__all__ = [
    "LOG_FORMATS",
    "LOG_LEVELS",
    "REDACTED",
    "configure_logging",
    "get_logger",
    "redact_secrets",
    "redact_text",
]

LogFormat = Literal["auto", "json", "pretty"]
LOG_FORMATS: tuple[str, ...] = ("auto", "json", "pretty")
LOG_LEVELS: tuple[str, ...] = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")
REDACTED = "***"

# `scheme://user:password@` or `scheme://token@` in any text.
_URL_CREDENTIALS = re.compile(r"(?P<scheme>[A-Za-z][A-Za-z0-9+.\-]*://)[^\s/@'\"<>]+@")
_SECRET_KEY_PARTS = ("password", "passwd", "secret", "token", "authorization", "api_key", "apikey")
_SECRET_KEYS = frozenset({"auth", "cookie", "cookies", "credentials", "rpcauth", "set-cookie"})

# Marks the root handler we install, so a second configure_logging replaces it.
_HANDLER_NAME = "chaincrawler"


def redact_text(text: str) -> str:
    """``text`` with the credentials of any URL in it masked (``http://***@host``)."""
    return _URL_CREDENTIALS.sub(rf"\g<scheme>{REDACTED}@", text)


def _is_secret_key(key: object) -> bool:
    if not isinstance(key, str):
        return False
    lowered = key.lower()
    return lowered in _SECRET_KEYS or any(part in lowered for part in _SECRET_KEY_PARTS)


def _redact_value(value: Any) -> Any:
    if isinstance(value, str):
        return redact_text(value)
    if isinstance(value, Mapping):
        return {k: REDACTED if _is_secret_key(k) else _redact_value(v) for k, v in value.items()}
    if type(value) in (list, tuple):
        return type(value)(_redact_value(v) for v in value)
    return value


def redact_secrets(logger: WrappedLogger, method_name: str, event_dict: EventDict) -> EventDict:
    """structlog processor: mask secret-looking keys and URL credentials, recursively."""
    return cast(EventDict, _redact_value(event_dict))


def _redacting_exception_formatter(sio: TextIO, exc_info: ExcInfo) -> None:
    """Plain traceback for the console renderer, with URL credentials masked."""
    buffer = io.StringIO()
    structlog.dev.plain_traceback(buffer, exc_info)
    sio.write(redact_text(buffer.getvalue()))


def _shared_processors() -> list[Processor]:
    """Processors for every record, before it reaches the handler's renderer."""
    return [
        structlog.contextvars.merge_contextvars,
        structlog.stdlib.add_log_level,
        structlog.stdlib.add_logger_name,
        structlog.stdlib.PositionalArgumentsFormatter(),
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        structlog.processors.StackInfoRenderer(),
    ]


def _renderers(pretty: bool, colors: bool) -> list[Processor]:
    if pretty:
        return [
            redact_secrets,
            structlog.dev.ConsoleRenderer(
                colors=colors, exception_formatter=_redacting_exception_formatter
            ),
        ]
    return [
        structlog.processors.format_exc_info,
        redact_secrets,
        structlog.processors.JSONRenderer(),
    ]


def _is_tty(stream: TextIO) -> bool:
    isatty = getattr(stream, "isatty", None)
    return bool(isatty and isatty())


def configure_logging(
    level: str = "INFO", fmt: LogFormat | str = "auto", stream: TextIO | None = None
) -> None:
    """Send structlog and stdlib logging to ``stream`` (stderr) at ``level``.

    ``fmt``: ``json`` (one JSON object per line), ``pretty`` (human console output) or
    ``auto`` (pretty on a terminal, JSON otherwise). Calling it again replaces the previous
    configuration instead of adding handlers.
    """
    level_name = level.upper()
    if level_name not in LOG_LEVELS:
        raise ValueError(f"unknown log level {level!r}; expected one of {', '.join(LOG_LEVELS)}")
    if fmt not in LOG_FORMATS:
        raise ValueError(f"unknown log format {fmt!r}; expected one of {', '.join(LOG_FORMATS)}")
    out = stream if stream is not None else sys.stderr
    tty = _is_tty(out)
    pretty = fmt == "pretty" or (fmt == "auto" and tty)

    formatter = structlog.stdlib.ProcessorFormatter(
        foreign_pre_chain=_shared_processors(),
        processors=[
            structlog.stdlib.ProcessorFormatter.remove_processors_meta,
            *_renderers(pretty, colors=tty),
        ],
    )
    handler = logging.StreamHandler(out)
    handler.set_name(_HANDLER_NAME)
    handler.setFormatter(formatter)

    root = logging.getLogger()
    for old in [h for h in root.handlers if h.get_name() == _HANDLER_NAME]:
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level_name)

    structlog.configure(
        processors=[
            structlog.stdlib.filter_by_level,
            *_shared_processors(),
            structlog.stdlib.ProcessorFormatter.wrap_for_formatter,
        ],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        cache_logger_on_first_use=False,
    )


def get_logger(name: str) -> structlog.stdlib.BoundLogger:
    """A structlog logger named ``name`` (conventionally the module's ``__name__``)."""
    return structlog.stdlib.get_logger(name)
