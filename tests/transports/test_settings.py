"""HttpSettings: every field parsed, validated and used; ``chaincrawler run`` serves with it."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import sys
from pathlib import Path

import httpx
import pytest

from chaincrawler.config import ConfigError, load_settings
from chaincrawler.node.client import NodeClient
from chaincrawler.testing.chaingen import ChainGenerator
from chaincrawler.testing.simnode import SimNode


def test_http_settings_from_the_environment_build_the_api_options(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CHAINCRAWLER_HTTP__ENABLED", "true")
    monkeypatch.setenv("CHAINCRAWLER_HTTP__TOKENS", "alpha, beta")
    monkeypatch.setenv("CHAINCRAWLER_HTTP__CORS_ORIGINS", '["http://a.example", "http://b"]')
    monkeypatch.setenv("CHAINCRAWLER_HTTP__HEARTBEAT_INTERVAL", "2.5")
    monkeypatch.setenv("CHAINCRAWLER_HTTP__STREAM_BUFFER", "50")
    http = load_settings().http
    assert http.enabled
    assert "alpha" not in repr(http) and "beta" not in repr(http)
    options = http.options()
    assert list(options.tokens) == ["alpha", "beta"]
    assert list(options.cors_origins) == ["http://a.example", "http://b"]
    assert (options.heartbeat_interval, options.stream_buffer) == (2.5, 50)


def test_http_defaults_serve_nothing_and_bind_loopback() -> None:
    http = load_settings().http
    assert not http.enabled and http.host == "127.0.0.1" and http.port == 8080
    assert list(http.options().tokens) == []


@pytest.mark.parametrize(("field", "value"), [
    ("http__stream_buffer", 0), ("http__heartbeat_interval", 0), ("http__tokens", ["ok", " "]),
])
def test_bad_http_settings_are_named(field: str, value: object) -> None:
    with pytest.raises(ConfigError, match=field.replace("__", ".")):
        load_settings(**{field: value})


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def test_chaincrawler_run_serves_the_api_when_enabled(tmp_path: Path) -> None:
    async with SimNode(tmp_path / "node", rpc_port=0, rest=True) as node:
        async with NodeClient(node.rpc_url, cookie_file=node.cookie_file) as rpc:
            await ChainGenerator(rpc, seed="run").mine_until_mature()
            height = await rpc.get_block_count()
        port = _free_port()
        env = {k: v for k, v in os.environ.items() if not k.startswith("CHAINCRAWLER_")}
        env.update({
            "CHAINCRAWLER_NETWORK": "regtest",
            "CHAINCRAWLER_NODE__URLS": node.rpc_url,
            "CHAINCRAWLER_NODE__COOKIE_FILE": str(node.cookie_file),
            "CHAINCRAWLER_STORE__URL": f"sqlite:///{tmp_path / 'events.db'}",
            "CHAINCRAWLER_HTTP__ENABLED": "true",
            "CHAINCRAWLER_HTTP__PORT": str(port),
            "CHAINCRAWLER_HTTP__TOKENS": "t0ken",
        })
        process = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "chaincrawler", "run", "chaincrawler.examples.balances:"
            "AddressBalances", env=env, stdout=asyncio.subprocess.DEVNULL,
            stderr=asyncio.subprocess.PIPE)
        try:
            url = f"http://127.0.0.1:{port}"
            headers = {"Authorization": "Bearer t0ken"}
            async with httpx.AsyncClient(base_url=url, headers=headers) as http, \
                    asyncio.timeout(60):
                while True:
                    try:
                        ready = await http.get("/v1/ready")
                        if ready.status_code == 200 and ready.json()["lag"] == 0:
                            break
                    except httpx.TransportError:
                        pass
                    await asyncio.sleep(0.1)
                tip = (await http.get("/v1/models/chain/queries/tip")).json()
                assert tip["result"]["height"] == height
                anonymous = await httpx.AsyncClient(base_url=url).__aenter__()
                try:
                    assert (await anonymous.get("/v1/models")).status_code == 401
                finally:
                    await anonymous.aclose()
        finally:
            process.send_signal(signal.SIGTERM)
            _, stderr = await asyncio.wait_for(process.communicate(), 30)
        assert process.returncode == 0, stderr.decode()[-2000:]
