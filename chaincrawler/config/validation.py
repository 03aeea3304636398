"""Checks shared by the settings sections: store URLs, SQL identifiers, import paths.

Each check returns the value (normalised) or raises ValueError with the reason a user
reads in a ConfigError. Credentials in URLs are masked by ``chaincrawler.logs.redact_text``,
the one redaction every error message, repr and log line goes through.
"""

from __future__ import annotations

import re

__all__ = ["check_import_path", "check_schema_name", "check_store_url"]

_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,62}")
_IMPORT_PATH = re.compile(r"[A-Za-z_][\w.]*:[A-Za-z_][\w.]*")


def check_store_url(url: str) -> str:
    """An event store URL, ``postgres://`` spelt ``postgresql://``."""
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


def check_schema_name(name: str) -> str:
    """A PostgreSQL schema name used unquoted-safe: a plain identifier of at most 63 chars."""
    if not _IDENTIFIER.fullmatch(name):
        raise ValueError(
            "must be a plain identifier: a letter or _, then letters, digits or _ (max 63)"
        )
    return name


def check_import_path(path: str) -> str:
    """A ``package.module:ClassName`` import path."""
    if not _IMPORT_PATH.fullmatch(path):
        raise ValueError("must be a 'package.module:ClassName' import path")
    return path
