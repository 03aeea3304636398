"""Settings sections build the objects they configure, with one default per knob."""

from __future__ import annotations

import dataclasses
import inspect
import os
from pathlib import Path
from typing import Any

import pytest

from chaincrawler.chain.networks import REGTEST
from chaincrawler.config import ConfigError, CrawlerSettings, StoreSettings, load_settings
from chaincrawler.crawler.pipeline import CrawlerOptions
from chaincrawler.eventstore import PostgresEventStore, SQLiteEventStore


@pytest.fixture(autouse=True)
def _isolated(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for name in list(os.environ):
        if name.upper().startswith("CHAINCRAWLER_"):
            monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)


# --- crawler ----------------------------------------------------------------------------------


def test_default_settings_give_the_crawlers_default_options() -> None:
    assert load_settings().crawler.options() == CrawlerOptions()


def test_every_crawler_option_is_a_setting_of_the_same_name() -> None:
    options = {f.name for f in dataclasses.fields(CrawlerOptions)}
    assert set(CrawlerSettings.model_fields) == options


def _other_value(default: Any) -> Any:
    """A valid value different from ``default``."""
    if default == "stop":
        return "retry"
    if isinstance(default, float):
        return default * 2 + 0.5
    return default * 2 + 1


@pytest.mark.parametrize("field", [f.name for f in dataclasses.fields(CrawlerOptions)])
def test_every_crawler_option_is_reachable_from_settings_and_env(
    field: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    value = _other_value(getattr(CrawlerOptions(), field))
    assert getattr(load_settings(crawler={field: value}).crawler.options(), field) == value
    monkeypatch.setenv(f"CHAINCRAWLER_CRAWLER__{field.upper()}", str(value))
    assert getattr(load_settings().crawler.options(), field) == value


def test_unset_start_height_is_the_genesis_block() -> None:
    assert load_settings().crawler.options().start_height == 0
    assert load_settings(crawler__start_height=5).crawler.options().start_height == 5


# --- store ------------------------------------------------------------------------------------


def _defaults(cls: type) -> dict[str, Any]:
    return {name: p.default for name, p in inspect.signature(cls).parameters.items()}


def test_store_settings_default_to_the_stores_own_defaults() -> None:
    s = StoreSettings()
    pg = _defaults(PostgresEventStore)
    assert s.pool_min_size == pg["min_pool_size"]
    assert s.pool_max_size == pg["max_pool_size"]
    assert s.connect_timeout == pg["connect_timeout"]
    assert s.statement_timeout == pg["statement_timeout"] == 300.0
    assert s.sqlite_synchronous == _defaults(SQLiteEventStore)["synchronous"]
    assert s.sqlite_cache_mib == _defaults(SQLiteEventStore)["cache_mib"]


def test_sqlite_settings_build_a_sqlite_store(tmp_path: Path) -> None:
    settings = load_settings(store__url=f"sqlite:///{tmp_path}/s.db", store__sqlite_cache_mib=16)
    store = settings.store.store()
    assert isinstance(store, SQLiteEventStore)
    assert store.path == f"{tmp_path}/s.db"
    assert store._cache_mib == 16
    assert not store.is_open


def test_postgres_settings_build_a_postgres_store() -> None:
    s = load_settings(store__url="postgres://u:pw@db.local/chain", store__schema="shop")
    store = s.store.store()
    assert isinstance(store, PostgresEventStore)
    assert (store.dsn, store.schema) == ("postgresql://u:pw@db.local/chain", "shop")
    default = load_settings(store__url="postgresql://db.local/chain").store.store()
    assert isinstance(default, PostgresEventStore)
    assert default.schema == _defaults(PostgresEventStore)["schema"]


def test_store_location_names_the_file_or_the_url_without_password() -> None:
    assert load_settings(store__url="sqlite:////data/c.db").store.location == "/data/c.db"
    pg = load_settings(store__url="postgresql://u:pw@db/chain", store__schema="shop")
    assert pg.store.location == "postgresql://***@db/chain (schema shop)"


def test_pool_min_size_zero_is_refused_by_the_settings() -> None:
    with pytest.raises(ConfigError) as info:
        load_settings(store__url="postgresql://db.local/chain", store__pool_min_size=0)
    assert [p.path for p in info.value.problems] == ["store.pool_min_size"]
    assert "greater than or equal to 1" in str(info.value)


@pytest.mark.parametrize(("min_size", "max_size"), [(1, 1), (1, 10), (3, 3)])
async def test_pool_sizes_that_validate_open_a_postgres_store(
    pg_dsn: str, pg_schemas: Any, min_size: int, max_size: int
) -> None:
    s = load_settings(store__url=pg_dsn, store__schema=pg_schemas(),
                      store__pool_min_size=min_size, store__pool_max_size=max_size,
                      store__statement_timeout=5)
    store = s.store.store()
    await store.open(network=REGTEST.name, genesis_hash=REGTEST.genesis_hash)
    try:
        assert await store.tip() is None
    finally:
        await store.close()
