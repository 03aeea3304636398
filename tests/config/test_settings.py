"""Settings: sources and their precedence, validation messages, secrets, describe()."""

from __future__ import annotations

import io
import logging
import os
import tomllib
from collections.abc import Iterator
from pathlib import Path

import pytest
import structlog

from chaincrawler.config import ConfigError, Settings, load_settings
from chaincrawler.errors import ChaincrawlerError
from chaincrawler.logs import configure_logging, get_logger


@pytest.fixture(autouse=True)
def _isolated(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """No CHAINCRAWLER_* variables from the outside, and a working directory without .env."""
    for name in list(os.environ):
        if name.upper().startswith("CHAINCRAWLER_"):
            monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)
    return tmp_path


def write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def config_error(**overrides: object) -> ConfigError:
    with pytest.raises(ConfigError) as info:
        load_settings(**overrides)
    return info.value


# --- defaults and sources -------------------------------------------------------------------


def test_defaults_follow_a_local_regtest_node_into_sqlite():
    s = load_settings()
    assert s.network == "regtest"
    assert s.node.urls == ["http://127.0.0.1:18443"]
    assert s.store.url == "sqlite:///chaincrawler.db"
    assert s.store.backend == "sqlite"
    assert s.crawler.start_height is None
    assert s.crawler.max_reorg_depth == 100
    assert s.crawler.snapshot_interval == 100
    assert s.crawler.prefetch_bytes == 64 * 1024 * 1024
    assert (s.http.host, s.http.port) == ("127.0.0.1", 8080)
    assert s.node.zmq_subscriptions == {}


def test_env_vars_use_the_prefix_and_double_underscore_for_sections(monkeypatch):
    monkeypatch.setenv("CHAINCRAWLER_NETWORK", "signet")
    monkeypatch.setenv("CHAINCRAWLER_CRAWLER__MAX_REORG_DEPTH", "6")
    monkeypatch.setenv("CHAINCRAWLER_STORE__URL", "postgresql://db.local/chain")
    monkeypatch.setenv("CHAINCRAWLER_NODE__RPC_USER", "alice")
    monkeypatch.setenv("CHAINCRAWLER_NODE__RPC_PASSWORD", "hunter2")
    monkeypatch.setenv("CHAINCRAWLER_LOG__LEVEL", "debug")
    s = load_settings()
    assert s.network == "signet"
    assert s.crawler.max_reorg_depth == 6
    assert s.store.backend == "postgresql"
    assert s.node.rpc_user == "alice"
    assert s.node.rpc_password is not None
    assert s.node.rpc_password.get_secret_value() == "hunter2"
    assert s.log.level == "DEBUG"


@pytest.mark.parametrize(
    "value",
    ["http://a:1, http://b:2", '["http://a:1", "http://b:2"]'],
    ids=["comma-separated", "json"],
)
def test_list_env_vars_accept_commas_or_json(monkeypatch, value):
    monkeypatch.setenv("CHAINCRAWLER_NODE__URLS", value)
    monkeypatch.setenv("CHAINCRAWLER_MODELS", "shop.models:Balances,shop.fees:Fees")
    s = load_settings()
    assert s.node.urls == ["http://a:1", "http://b:2"]
    assert s.models == ["shop.models:Balances", "shop.fees:Fees"]


def test_zmq_endpoints_from_json_or_one_env_var_per_topic(monkeypatch):
    monkeypatch.setenv("CHAINCRAWLER_NODE__ZMQ_ENDPOINTS", '{"rawtx": "tcp://127.0.0.1:28333"}')
    assert load_settings().node.zmq_endpoints == {"rawtx": "tcp://127.0.0.1:28333"}
    monkeypatch.delenv("CHAINCRAWLER_NODE__ZMQ_ENDPOINTS")
    monkeypatch.setenv("CHAINCRAWLER_NODE__ZMQ_ENDPOINTS__HASHBLOCK", "tcp://127.0.0.1:28332")
    assert load_settings().node.zmq_endpoints == {"hashblock": "tcp://127.0.0.1:28332"}


def test_one_zmq_url_covers_blocks_and_mempool_topics_unless_a_topic_says_otherwise():
    s = load_settings(
        node__zmq_url="tcp://127.0.0.1:28332",
        node__zmq_endpoints={"rawtx": "ipc:///tmp/bitcoind.rawtx"},
    )
    assert s.node.zmq_subscriptions == {
        "hashblock": "tcp://127.0.0.1:28332",
        "rawtx": "ipc:///tmp/bitcoind.rawtx",
        "sequence": "tcp://127.0.0.1:28332",
    }


def test_dotenv_file_in_the_working_directory_is_read(_isolated):
    write(
        _isolated / ".env",
        "CHAINCRAWLER_CRAWLER__SNAPSHOT_INTERVAL=25\n"
        "POSTGRES_PASSWORD=unrelated\n"  # other tools' variables in a shared .env are ignored
        "CHAINCRAWLER_NETWORK=testnet4\n",
    )
    s = load_settings()
    assert s.crawler.snapshot_interval == 25
    assert s.network == "testnet4"


TOML = """
network = "signet"
models = ["shop.models:Balances"]

[node]
urls = ["http://node1:38332", "http://node2:38332"]
zmq_endpoints = { hashblock = "tcp://node1:28332" }
rest = true

[crawler]
max_reorg_depth = 12
snapshot_interval = 500

[store]
url = "postgresql://db.local/chain"
schema = "signet_shop"
pool_max_size = 4
"""


def test_toml_file_from_from_toml(_isolated):
    s = Settings.from_toml(write(_isolated / "chaincrawler.toml", TOML))
    assert s.network == "signet"
    assert s.models == ["shop.models:Balances"]
    assert s.node.urls == ["http://node1:38332", "http://node2:38332"]
    assert s.node.zmq_subscriptions == {"hashblock": "tcp://node1:28332"}
    assert s.node.rest is True
    assert (s.crawler.max_reorg_depth, s.crawler.snapshot_interval) == (12, 500)
    assert s.store.schema_name == "signet_shop"
    assert s.store.pool_max_size == 4
    assert s.config_file == _isolated / "chaincrawler.toml"


def test_toml_file_named_by_env_var_or_dotenv(_isolated, monkeypatch):
    path = write(_isolated / "conf.toml", TOML)
    monkeypatch.setenv("CHAINCRAWLER_CONFIG_FILE", str(path))
    assert load_settings().crawler.max_reorg_depth == 12
    monkeypatch.delenv("CHAINCRAWLER_CONFIG_FILE")
    write(_isolated / ".env", f"CHAINCRAWLER_CONFIG_FILE={path}\n")
    assert load_settings().crawler.max_reorg_depth == 12


@pytest.mark.parametrize(
    ("sources", "expected"),
    [
        ({"toml"}, 2),
        ({"toml", "dotenv"}, 3),
        ({"toml", "dotenv", "env"}, 4),
        ({"toml", "dotenv", "env", "kwargs"}, 5),
        ({"dotenv", "kwargs"}, 5),
        ({"env", "toml"}, 4),
        (set(), 100),
    ],
)
def test_precedence_kwargs_then_env_then_dotenv_then_toml_then_defaults(
    _isolated, monkeypatch, sources, expected
):
    path = write(_isolated / "c.toml", "[crawler]\nmax_reorg_depth = 2\n")
    if "dotenv" in sources:
        write(_isolated / ".env", "CHAINCRAWLER_CRAWLER__MAX_REORG_DEPTH=3\n")
    if "env" in sources:
        monkeypatch.setenv("CHAINCRAWLER_CRAWLER__MAX_REORG_DEPTH", "4")
    overrides: dict[str, object] = {"crawler__max_reorg_depth": 5} if "kwargs" in sources else {}
    if "toml" in sources:
        overrides["config_file"] = path
    assert load_settings(**overrides).crawler.max_reorg_depth == expected


def test_sources_merge_field_by_field_within_a_section(_isolated, monkeypatch):
    path = write(_isolated / "c.toml", "[crawler]\nmax_reorg_depth = 7\npoll_interval = 3.5\n")
    monkeypatch.setenv("CHAINCRAWLER_CRAWLER__SNAPSHOT_INTERVAL", "9")
    s = Settings.from_toml(path, crawler={"fetch_concurrency": 2})
    assert s.crawler.max_reorg_depth == 7
    assert s.crawler.poll_interval == 3.5
    assert s.crawler.snapshot_interval == 9
    assert s.crawler.fetch_concurrency == 2


def test_overrides_as_nested_dicts_or_double_underscore_keys():
    a = load_settings(crawler={"max_reorg_depth": 8}, http={"port": 0})
    b = load_settings(crawler__max_reorg_depth=8, http__port=0)
    assert a == b
    assert a.crawler.max_reorg_depth == 8
    assert a.http.port == 0
    section = {"max_reorg_depth": 8}
    mixed = load_settings(crawler=section, crawler__snapshot_interval=3)
    assert (mixed.crawler.max_reorg_depth, mixed.crawler.snapshot_interval) == (8, 3)
    assert section == {"max_reorg_depth": 8}  # the caller's dict is left alone


def test_prefetch_bytes_accepts_human_sizes():
    assert load_settings(crawler__prefetch_bytes="64MiB").crawler.prefetch_bytes == 64 * 2**20


# --- network ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("given", "canonical", "port"),
    [
        ("main", "mainnet", 8332),
        ("MAINNET", "mainnet", 8332),
        ("test", "testnet", 18332),
        ("testnet4", "testnet4", 48332),
        ("signet", "signet", 38332),
        ("regtest", "regtest", 18443),
    ],
)
def test_network_names_and_core_aliases_are_normalised(given, canonical, port):
    s = load_settings(network=given)
    assert s.network == canonical
    assert s.network_params.name == canonical
    # With no node URL configured, the local node's RPC port for that network is used.
    assert s.node.urls == [f"http://127.0.0.1:{port}"]


def test_a_node_url_without_port_gets_the_network_rpc_port():
    s = load_settings(network="mainnet", node__urls=["http://node.lan", "http://other:9999"])
    assert s.node.urls == ["http://node.lan:8332", "http://other:9999"]


# --- validation ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("overrides", "path", "env_var", "reason"),
    [
        ({"network": "dogecoin"}, "network", "CHAINCRAWLER_NETWORK", "unknown network"),
        (
            {"crawler__max_reorg_depth": 0},
            "crawler.max_reorg_depth",
            "CHAINCRAWLER_CRAWLER__MAX_REORG_DEPTH",
            "greater than or equal to 1",
        ),
        (
            {"crawler__snapshot_interval": -5},
            "crawler.snapshot_interval",
            "CHAINCRAWLER_CRAWLER__SNAPSHOT_INTERVAL",
            "greater than or equal to 1",
        ),
        (
            {"crawler__catchup_batch_blocks": 0},
            "crawler.catchup_batch_blocks",
            "CHAINCRAWLER_CRAWLER__CATCHUP_BATCH_BLOCKS",
            "greater than or equal to 1",
        ),
        (
            {"crawler__start_height": -1},
            "crawler.start_height",
            "CHAINCRAWLER_CRAWLER__START_HEIGHT",
            "greater than or equal to 0",
        ),
        (
            {"crawler__prefetch_bytes": "1KiB"},
            "crawler.prefetch_bytes",
            "CHAINCRAWLER_CRAWLER__PREFETCH_BYTES",
            "greater than or equal to 1048576",
        ),
        (
            {"crawler__poll_interval": 0},
            "crawler.poll_interval",
            "CHAINCRAWLER_CRAWLER__POLL_INTERVAL",
            "greater than 0",
        ),
        (
            {"crawler__on_model_error": "ignore"},
            "crawler.on_model_error",
            "CHAINCRAWLER_CRAWLER__ON_MODEL_ERROR",
            "'stop' or 'retry'",
        ),
        (
            {"node__urls": ["ftp://node:21"]},
            "node.urls[0]",
            "CHAINCRAWLER_NODE__URLS",
            "must be an http:// or https:// URL",
        ),
        (
            {"node__urls": ["http://a:1", "http://:8332"]},
            "node.urls[1]",
            "CHAINCRAWLER_NODE__URLS",
            "URL has no host",
        ),
        (
            {"node__urls": ["http://node:99999"]},
            "node.urls[0]",
            "CHAINCRAWLER_NODE__URLS",
            "port must be a number from 1 to 65535",
        ),
        ({"node__urls": []}, "node.urls", "CHAINCRAWLER_NODE__URLS", "at least 1 item"),
        (
            {"node__timeout": 0},
            "node.timeout",
            "CHAINCRAWLER_NODE__TIMEOUT",
            "greater than 0",
        ),
        (
            {"node__retries": -1},
            "node.retries",
            "CHAINCRAWLER_NODE__RETRIES",
            "greater than or equal to 0",
        ),
        (
            {"node__backoff_initial": 5, "node__backoff_max": 1},
            "node.backoff_max",
            "CHAINCRAWLER_NODE__BACKOFF_MAX",
            "must be >= backoff_initial",
        ),
        (
            {"node__rpc_password": "hunter2"},
            "node.rpc_password",
            "CHAINCRAWLER_NODE__RPC_PASSWORD",
            "rpc_user is not",
        ),
        (
            {"node__rpc_user": "u", "node__rpc_password": "p", "node__cookie_file": "/c"},
            "node.cookie_file",
            "CHAINCRAWLER_NODE__COOKIE_FILE",
            "choose one authentication",
        ),
        (
            {"node__zmq_url": "udp://127.0.0.1:28332"},
            "node.zmq_url",
            "CHAINCRAWLER_NODE__ZMQ_URL",
            "tcp://host:port or ipc://path",
        ),
        (
            {"node__zmq_endpoints": {"rawtx": "tcp://127.0.0.1"}},
            "node.zmq_endpoints.rawtx",
            "CHAINCRAWLER_NODE__ZMQ_ENDPOINTS__RAWTX",
            "needs a host and a port",
        ),
        (
            {"node__zmq_endpoints": {"blocks": "tcp://127.0.0.1:1"}},
            "node.zmq_endpoints",
            "CHAINCRAWLER_NODE__ZMQ_ENDPOINTS",
            "unknown ZMQ topic(s) ['blocks']",
        ),
        (
            {"store__url": "mysql://db/chain"},
            "store.url",
            "CHAINCRAWLER_STORE__URL",
            "must start with sqlite:/// or postgresql://",
        ),
        (
            {"store__url": "sqlite://chain.db"},
            "store.url",
            "CHAINCRAWLER_STORE__URL",
            "a SQLite URL is sqlite:///<path> (three slashes",
        ),
        (
            {"store__url": "postgresql://db/chain", "store__schema": "drop table;"},
            "store.schema",
            "CHAINCRAWLER_STORE__SCHEMA",
            "must be a plain identifier",
        ),
        (
            {"store__schema": "shop"},
            "store.schema",
            "CHAINCRAWLER_STORE__SCHEMA",
            "PostgreSQL stores only",
        ),
        (
            {"store__pool_min_size": 5, "store__pool_max_size": 2},
            "store.pool_max_size",
            "CHAINCRAWLER_STORE__POOL_MAX_SIZE",
            "must be >= pool_min_size (5)",
        ),
        (
            {"store__statement_timeout": 0},
            "store.statement_timeout",
            "CHAINCRAWLER_STORE__STATEMENT_TIMEOUT",
            "greater than 0",
        ),
        (
            {"store__sqlite_synchronous": "OFF"},
            "store.sqlite_synchronous",
            "CHAINCRAWLER_STORE__SQLITE_SYNCHRONOUS",
            "'NORMAL' or 'FULL'",
        ),
        (
            {"store__sqlite_cache_mib": 0},
            "store.sqlite_cache_mib",
            "CHAINCRAWLER_STORE__SQLITE_CACHE_MIB",
            "greater than or equal to 1",
        ),
        (
            {"http__port": 70000},
            "http.port",
            "CHAINCRAWLER_HTTP__PORT",
            "less than or equal to 65535",
        ),
        ({"log__level": "LOUD"}, "log.level", "CHAINCRAWLER_LOG__LEVEL", "'DEBUG', 'INFO'"),
        ({"log__format": "xml"}, "log.format", "CHAINCRAWLER_LOG__FORMAT", "'auto', 'json'"),
        (
            {"models": ["shop.models.Balances"]},
            "models[0]",
            "CHAINCRAWLER_MODELS",
            "'package.module:ClassName' import path",
        ),
        (
            {"crawler__max_reorg_dept": 5},
            "crawler.max_reorg_dept",
            "CHAINCRAWLER_CRAWLER__MAX_REORG_DEPT",
            "unknown setting",
        ),
    ],
)
def test_invalid_values_name_the_field_its_env_var_and_the_reason(overrides, path, env_var, reason):
    error = config_error(**overrides)
    assert isinstance(error, ChaincrawlerError)
    assert [(p.path, p.env_var) for p in error.problems] == [(path, env_var)]
    assert reason in error.problems[0].reason
    assert f"{path} ({env_var}): " in str(error)


def test_every_bad_value_is_reported_at_once_with_what_was_given(monkeypatch):
    monkeypatch.setenv("CHAINCRAWLER_CRAWLER__MAX_REORG_DEPTH", "zero")
    error = config_error(network="moon", http__port=-1)
    message = str(error)
    assert message.startswith("invalid configuration (3 bad settings):")
    assert "network (CHAINCRAWLER_NETWORK): unknown network 'moon'" in message
    assert "(got 'zero')" in message
    assert "http.port (CHAINCRAWLER_HTTP__PORT)" in message


def test_bad_json_in_an_env_var_is_a_config_error(monkeypatch):
    monkeypatch.setenv("CHAINCRAWLER_NODE__URLS", '["http://a:1"')
    error = config_error()
    assert error.problems[0].path == "node.urls"


def test_unknown_key_in_a_toml_section_is_reported(_isolated):
    path = write(_isolated / "c.toml", "[crawler]\nmax_reorg_dept = 3\n[stor]\nurl = 'x'\n")
    with pytest.raises(ConfigError) as info:
        Settings.from_toml(path)
    assert {p.path for p in info.value.problems} == {"crawler.max_reorg_dept", "stor"}
    assert "unknown setting" in str(info.value)


def test_toml_syntax_error_names_the_file_and_line(_isolated):
    path = write(_isolated / "c.toml", "[crawler]\nmax_reorg_depth = = 3\n")
    with pytest.raises(ConfigError, match=r"c\.toml is not valid TOML: .*line 2"):
        Settings.from_toml(path)


def test_missing_toml_file_is_a_config_error(_isolated, monkeypatch):
    with pytest.raises(ConfigError, match=r"config file .*nope\.toml not found"):
        Settings.from_toml(_isolated / "nope.toml")
    monkeypatch.setenv("CHAINCRAWLER_CONFIG_FILE", "missing.toml")
    with pytest.raises(ConfigError, match=r"missing\.toml not found"):
        load_settings()


def test_postgres_scheme_alias_is_normalised():
    s = load_settings(store__url="postgres://u@db/chain", store__schema="shop_1")
    assert s.store.url == "postgresql://u@db/chain"
    assert s.store.backend == "postgresql"
    assert s.store.schema_name == "shop_1"


def test_assignments_are_validated_too():
    s = load_settings()
    with pytest.raises(ValueError, match="greater than or equal to 1"):
        s.crawler.max_reorg_depth = 0


# --- secrets -----------------------------------------------------------------------------------

SECRETS = ("hunter2", "s3cr3t", "pgpass")


def secret_settings() -> Settings:
    return load_settings(
        node__urls=["http://alice:s3cr3t@node1:8332", "http://node2:8332"],
        node__rpc_user="bob",
        node__rpc_password="hunter2",
        store__url="postgresql://crawler:pgpass@db.local:5432/chain",
    )


def test_secrets_are_usable_but_never_in_repr_or_str():
    s = secret_settings()
    assert s.node.urls[0] == "http://alice:s3cr3t@node1:8332"  # the client needs them
    assert s.node.rpc_password is not None
    assert s.node.rpc_password.get_secret_value() == "hunter2"
    for text in (repr(s), str(s), repr(s.node), str(s.store), repr(s.store)):
        for secret in SECRETS:
            assert secret not in text
    assert "http://***@node1:8332" in repr(s)
    assert "postgresql://***@db.local:5432/chain" in repr(s.store)


def test_secrets_never_in_describe():
    text = secret_settings().describe()
    for secret in SECRETS:
        assert secret not in text
    assert "# rpc_password = (secret, set)" in text


@pytest.fixture
def log_output() -> Iterator[io.StringIO]:
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    yield io.StringIO()
    root.handlers[:] = handlers
    root.setLevel(level)
    structlog.reset_defaults()


@pytest.mark.parametrize("fmt", ["json", "pretty"])
def test_secrets_never_in_logs_of_the_settings(fmt, log_output):
    configure_logging("INFO", fmt, log_output)
    s = secret_settings()
    get_logger("t").info("settings", settings=s, dumped=s.model_dump(), node=s.node)
    text = log_output.getvalue()
    assert "node1:8332" in text
    for secret in SECRETS:
        assert secret not in text


def test_secrets_never_in_error_messages():
    error = config_error(
        node__urls=["http://alice:s3cr3t@node1:99999"],
        node__rpc_password="hunter2",
        store__url="mysql://crawler:pgpass@db",
    )
    for secret in SECRETS:
        assert secret not in str(error)
    assert "(got 'http://***@node1:99999')" in str(error)


# --- describe ----------------------------------------------------------------------------------


def test_describe_lists_every_setting_with_description_and_env_var():
    s = load_settings()
    text = s.describe()
    table = s.settings_table()
    assert len(table) > 35
    for info in table:
        assert info.description, info.path
        assert f"env: {info.env_var}" in text.replace("\n# ", " ")
    assert "max_reorg_depth = 100" in text
    assert "CHAINCRAWLER_CRAWLER__MAX_REORG_DEPTH" in text
    assert "CHAINCRAWLER_STORE__SCHEMA" in text


def test_describe_is_a_toml_file_that_loads_back_to_the_same_settings(_isolated):
    original = load_settings(
        network="signet",
        models=["shop.models:Balances"],
        node__zmq_endpoints={"hashblock": "tcp://127.0.0.1:28332"},
        crawler__max_reorg_depth=9,
        store__url="postgresql://db.local/chain",
        store__schema="shop",
        log__format="json",
    )
    text = original.describe()
    tomllib.loads(text)  # valid TOML
    reloaded = Settings.from_toml(write(_isolated / "described.toml", text))
    assert reloaded.model_dump(exclude={"config_file"}) == original.model_dump(
        exclude={"config_file"}
    )
