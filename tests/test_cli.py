"""The command line as a user runs it: the demo, bad settings, status, run, rebuild."""

from __future__ import annotations

import asyncio
import json
import os
import re
import signal
import socket
import subprocess
import sys
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from chaincrawler.chain.networks import REGTEST
from chaincrawler.eventstore import BlockRecord, EventQuery, SchemaMissingError, open_store
from chaincrawler.node.client import NodeClient
from chaincrawler.testing.chaingen import ChainGenerator
from chaincrawler.testing.simnode import SimNode


def cli(*args: str, cwd: Path, env: dict[str, str] | None = None,
        timeout: float = 120) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("CHAINCRAWLER_")}
    return subprocess.run([sys.executable, "-m", "chaincrawler", *args], cwd=cwd,
                          env={**clean, **(env or {})}, capture_output=True, text=True,
                          timeout=timeout, check=False)


def test_demo_mines_crawls_survives_a_reorg_and_verifies(tmp_path: Path) -> None:
    db = tmp_path / "demo.db"
    result = cli("demo", "--db", str(db), "--blocks", "5", "--txs", "5", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert "ZMQ sequence on tcp://127.0.0.1:" in out
    assert re.search(r"tip latency, following the node by ZMQ: .* committed \d+ ms after it "
                     r"was mined", out)
    assert re.search(r"dashboard at http://127\.0\.0\.1:\d+/", out)
    assert "reorg on the node" in out
    assert "rolled back" in out and "reorg #1" in out
    assert "equals the live state: yes" in out
    # The crawler's reorg warning reaches a pipe as a line of text, not a JSON object.
    assert re.search(r"\[warning\s*\] reorg\b.*depth=3", result.stderr), result.stderr
    assert not any(line.startswith("{") for line in result.stderr.splitlines()), result.stderr
    status = cli("status", cwd=tmp_path, env={"CHAINCRAWLER_STORE__URL": f"sqlite:///{db}",
                                              "CHAINCRAWLER_NETWORK": "regtest"})
    assert status.returncode == 0, status.stderr
    report = json.loads(status.stdout)
    assert report["tip"]["height"] > 100
    assert report["reorgs"][0]["depth"] == 3


def test_demo_follow_serves_the_dashboard_while_it_follows(tmp_path: Path) -> None:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("CHAINCRAWLER_")}
    with socket.socket() as probe:  # a port free now, for --port
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    demo = subprocess.Popen(
        [sys.executable, "-m", "chaincrawler", "demo", "--follow", "--db", str(tmp_path / "d.db"),
         "--blocks", "3", "--txs", "3", "--port", str(port)],
        cwd=tmp_path, env={**clean, "PYTHONUNBUFFERED": "1"}, stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL, text=True)
    try:
        assert demo.stdout is not None
        lines = iter(demo.stdout.readline, "")
        following = next(line for line in lines if line.startswith("following:"))
        found = re.search(rf"http://127\.0\.0\.1:{port}/", following)
        assert found, following
        page = httpx.get(found[0], timeout=10)
        assert page.status_code == 200 and "<title>chaincrawler</title>" in page.text
        first = next(line for line in lines if line.startswith("  tip "))
        tip = httpx.get(found[0] + "v1/chain", timeout=10).json()["at"]["tip"]["height"]
        assert tip >= int(first.split()[1])  # the page's API serves the followed tip
    finally:
        demo.send_signal(signal.SIGINT)
        code = demo.wait(timeout=60)
    assert code == 0


def test_bad_setting_is_named_with_its_env_var(tmp_path: Path) -> None:
    result = cli("status", cwd=tmp_path, env={"CHAINCRAWLER_CRAWLER__MAX_REORG_DEPTH": "0"})
    assert result.returncode == 2
    assert "crawler.max_reorg_depth" in result.stderr
    assert "CHAINCRAWLER_CRAWLER__MAX_REORG_DEPTH" in result.stderr
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("no_colon", "is not of the form 'module:attr'"),
        ("chaincrawler.nosuchmodule:X", "cannot load"),
        ("chaincrawler.examples.balances:BalancesChanged", "not a Model"),
    ],
)
def test_bad_model_spec_is_a_clear_error(tmp_path: Path, spec: str, message: str) -> None:
    result = cli("run", spec, "--no-follow", cwd=tmp_path,
                 env={"CHAINCRAWLER_STORE__URL": f"sqlite:///{tmp_path / 's.db'}"})
    assert result.returncode == 2, result.stderr
    assert message in result.stderr
    assert "Traceback" not in result.stderr


def test_unreachable_node_exits_non_zero_without_credentials(tmp_path: Path) -> None:
    result = cli("run", "chaincrawler.examples.balances:AddressBalances", "--no-follow",
                 cwd=tmp_path, env={
                     "CHAINCRAWLER_NETWORK": "regtest",
                     "CHAINCRAWLER_NODE__URLS": "http://alice:hunter2@127.0.0.1:9",
                     "CHAINCRAWLER_NODE__RETRIES": "1",
                     "CHAINCRAWLER_NODE__BACKOFF_INITIAL": "0.01",
                     "CHAINCRAWLER_STORE__URL": f"sqlite:///{tmp_path / 's.db'}",
                 })
    assert result.returncode == 1
    assert "no node reachable" in result.stderr
    assert "hunter2" not in result.stderr + result.stdout


# --- against a simulated node ------------------------------------------------------------------

MODEL = "chaincrawler.examples.balances:AddressBalances"


@dataclass
class Node:
    """A running simulated regtest node and the settings that point chaincrawler at it."""

    simnode: SimNode
    rpc: NodeClient

    @property
    def env(self) -> dict[str, str]:
        return {"CHAINCRAWLER_NETWORK": "regtest",
                "CHAINCRAWLER_NODE__URLS": self.simnode.rpc_url,
                "CHAINCRAWLER_NODE__COOKIE_FILE": str(self.simnode.cookie_file),
                "CHAINCRAWLER_NODE__RETRIES": "1",
                "CHAINCRAWLER_CRAWLER__POLL_INTERVAL": "0.05"}

    async def best(self) -> tuple[int, str]:
        return await self.rpc.get_block_count(), await self.rpc.get_best_block_hash()


@pytest.fixture
async def node(tmp_path: Path) -> AsyncIterator[Node]:
    """A simulated regtest node with a few blocks (in this process: run the CLI with acli)."""
    async with (
        SimNode(tmp_path / "node", rpc_port=0) as simnode,
        NodeClient(simnode.rpc_url, cookie_file=simnode.cookie_file) as rpc,
    ):
        await ChainGenerator(rpc, seed="cli").mine(5)
        yield Node(simnode, rpc)


@dataclass
class Ran:
    returncode: int
    stdout: str
    stderr: str


async def acli(*args: str, cwd: Path, env: dict[str, str], input: str | None = None,
               timeout: float = 120) -> Ran:
    """``cli`` without blocking the event loop, so an in-process node keeps answering."""
    clean = {k: v for k, v in os.environ.items() if not k.startswith("CHAINCRAWLER_")}
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "chaincrawler", *args, cwd=cwd, env={**clean, **env},
        stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE)
    out, err = await asyncio.wait_for(proc.communicate(input.encode() if input else None),
                                      timeout)
    assert proc.returncode is not None
    return Ran(proc.returncode, out.decode(), err.decode())


async def stored_tip(url: str) -> BlockRecord | None:
    store = open_store(url)
    try:
        await store.open(network="regtest", genesis_hash=REGTEST.genesis_hash, writer=False,
                         create_schema=False)
    except SchemaMissingError:
        return None
    try:
        return await store.tip()
    finally:
        await store.close()


async def test_wrong_network_on_a_first_run_creates_no_store(node: Node, tmp_path: Path) -> None:
    db = tmp_path / "s.db"
    env = {**node.env, "CHAINCRAWLER_STORE__URL": f"sqlite:///{db}"}
    wrong = await acli("run", MODEL, "--no-follow", cwd=tmp_path,
                       env={**env, "CHAINCRAWLER_NETWORK": "mainnet",
                            "CHAINCRAWLER_NODE__URLS": node.simnode.rpc_url})
    assert wrong.returncode == 1
    assert "configured for 'mainnet'" in wrong.stderr and "Traceback" not in wrong.stderr
    assert list(tmp_path.glob("s.db*")) == []
    fixed = await acli("run", MODEL, "--no-follow", cwd=tmp_path, env=env)
    assert fixed.returncode == 0, fixed.stderr
    height, best = await node.best()
    assert f"committed up to height {height} (block {best})" in fixed.stdout


async def test_missing_store_directory_is_a_clear_error(node: Node, tmp_path: Path) -> None:
    db = tmp_path / "no" / "such" / "dir" / "s.db"
    result = await acli("run", MODEL, "--no-follow", cwd=tmp_path,
                        env={**node.env, "CHAINCRAWLER_STORE__URL": f"sqlite:///{db}"})
    assert result.returncode == 1
    assert result.stderr.startswith("error: ") and str(db.parent) in result.stderr
    assert "Traceback" not in result.stderr


def test_status_of_a_missing_store_says_so_and_creates_nothing(tmp_path: Path) -> None:
    db = tmp_path / "s.db"
    result = cli("status", cwd=tmp_path, env={"CHAINCRAWLER_STORE__URL": f"sqlite:///{db}"})
    assert result.returncode == 1
    assert f"error: no store at {db}" in result.stderr
    assert "Traceback" not in result.stderr
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(
    "source", ["def broken(:\n", "raise RuntimeError('no config here')\n",
               "import no_such_dependency_xyz\n"],
    ids=["syntax-error", "raises-at-import", "missing-dependency"])
def test_model_module_that_fails_to_import_is_a_clear_error(tmp_path: Path, source: str) -> None:
    (tmp_path / "mymodels.py").write_text(source, encoding="utf-8")
    result = cli("run", "mymodels:Deposits", "--no-follow", cwd=tmp_path,
                 env={"CHAINCRAWLER_STORE__URL": f"sqlite:///{tmp_path / 's.db'}"})
    assert result.returncode == 2
    assert "cannot load 'mymodels:Deposits'" in result.stderr
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize("until", ["-5", "tip", ""])
def test_nonsense_until_is_refused(tmp_path: Path, until: str) -> None:
    result = cli("run", MODEL, "--until", until, cwd=tmp_path)
    assert result.returncode == 2
    assert "Invalid value for '--until'" in result.stderr
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
async def test_signal_stops_and_prints_the_committed_tip(
    node: Node, tmp_path: Path, sig: signal.Signals
) -> None:
    url = f"sqlite:///{tmp_path / 's.db'}"
    clean = {k: v for k, v in os.environ.items() if not k.startswith("CHAINCRAWLER_")}
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "chaincrawler", "run", MODEL, cwd=tmp_path,
        env={**clean, **node.env, "CHAINCRAWLER_STORE__URL": url},
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    try:
        height, best = await node.best()
        for _ in range(1200):
            tip = await stored_tip(url)
            if tip is not None and tip.hash == best:
                break
            await asyncio.sleep(0.05)
        proc.send_signal(sig)
        out, err = await asyncio.wait_for(proc.communicate(), 60)
    finally:
        if proc.returncode is None:
            proc.kill()
    assert proc.returncode == 0, err.decode()
    assert f"stopped by {sig.name}; committed up to height {height} (block {best})" in out.decode()


async def crawled_store(node: Node, tmp_path: Path) -> dict[str, str]:
    """A store crawled by ``run`` with MODEL; the settings that point at it."""
    url = f"sqlite:///{tmp_path / 's.db'}"
    env = {**node.env, "CHAINCRAWLER_STORE__URL": url}
    first = await acli("run", MODEL, "--no-follow", cwd=tmp_path, env=env)
    assert first.returncode == 0, first.stderr
    # What the crawler records of its models (idempotent where the crawler does it itself).
    store = open_store(url)
    await store.open(network="regtest", genesis_hash=REGTEST.genesis_hash)
    try:
        await store.register_models(["chain", "address_balances"])
    finally:
        await store.close()
    return env


async def test_rebuild_prompt_names_the_store_and_the_models(node: Node, tmp_path: Path) -> None:
    env = await crawled_store(node, tmp_path)
    before = await stored_tip(env["CHAINCRAWLER_STORE__URL"])
    answer = await acli("rebuild", MODEL, cwd=tmp_path, env=env, input="n\n")
    assert answer.returncode == 1  # aborted
    assert f"Erase the store {tmp_path / 's.db'} (models address_balances, chain)" in (
        answer.stdout)
    assert await stored_tip(env["CHAINCRAWLER_STORE__URL"]) == before


async def test_rebuild_refuses_to_drop_models_it_does_not_rebuild(
    node: Node, tmp_path: Path
) -> None:
    env = await crawled_store(node, tmp_path)
    url = env["CHAINCRAWLER_STORE__URL"]
    before = await stored_tip(url)
    refused = await acli("rebuild", "--yes", cwd=tmp_path, env=env)
    assert refused.returncode == 1
    assert "address_balances" in refused.stderr and "--drop-other-models" in refused.stderr
    assert "Traceback" not in refused.stderr
    assert await stored_tip(url) == before  # nothing erased
    dropped = await acli("rebuild", "--yes", "--drop-other-models", cwd=tmp_path, env=env)
    assert dropped.returncode == 0, dropped.stderr
    height, best = await node.best()
    assert f"committed up to height {height} (block {best})" in dropped.stdout
    rebuilt = await acli("rebuild", "--yes", cwd=tmp_path, env=env)  # only the chain model now
    assert rebuilt.returncode == 0, rebuilt.stderr


async def test_rebuild_of_a_missing_store_removes_nothing(node: Node, tmp_path: Path) -> None:
    env = {**node.env, "CHAINCRAWLER_STORE__URL": f"sqlite:///{tmp_path / 's.db'}"}
    result = await acli("rebuild", MODEL, "--yes", cwd=tmp_path, env=env)
    assert result.returncode == 0, result.stderr
    removed = result.stdout.splitlines()[0]
    assert removed.startswith("removed nothing"), removed
    assert "s.db" not in removed


@pytest.mark.parametrize(("args", "message"), [
    (("--model", "address_balances"), "needs one of --from-events"),
    (("--model", "address_balances", "--from-events", "--from-node"), "needs one of"),
    (("--from-node",), "re-index the models named by --model NAME"),
])
def test_rebuild_of_one_model_needs_one_way(
    tmp_path: Path, args: tuple[str, ...], message: str
) -> None:
    result = cli("rebuild", MODEL, *args, cwd=tmp_path)
    assert result.returncode == 2
    assert message in result.stderr and "Traceback" not in result.stderr


async def test_rebuild_of_one_model_keeps_the_others(node: Node, tmp_path: Path) -> None:
    env = await crawled_store(node, tmp_path)
    url = env["CHAINCRAWLER_STORE__URL"]
    store = open_store(url)
    await store.open(network="regtest", genesis_hash=REGTEST.genesis_hash, writer=False)
    try:
        chain_events = await store.read_events(EventQuery(model="chain"))
        balances = await store.read_events(EventQuery(model="address_balances"))
    finally:
        await store.close()
    unknown = await acli("rebuild", MODEL, "--model", "nosuch", "--from-events", cwd=tmp_path,
                         env=env)
    assert unknown.returncode == 1
    assert "no loaded model is named nosuch (loaded: address_balances)" in unknown.stderr
    cancelled = await acli("rebuild", MODEL, "--model", "address_balances", "--from-node",
                           cwd=tmp_path, env=env, input="n\n")
    assert cancelled.returncode == 1
    assert "Replace the events of address_balances in the store" in cancelled.stdout
    height, _ = await node.best()
    for way in ("--from-events", "--from-node"):
        done = await acli("rebuild", MODEL, "--model", "address_balances", way, "--yes",
                          cwd=tmp_path, env=env)
        assert done.returncode == 0, done.stderr
        assert (f"re-indexed address_balances: {len(balances)} event(s), state at tip "
                f"{height}") in done.stdout
    store = open_store(url)
    await store.open(network="regtest", genesis_hash=REGTEST.genesis_hash, writer=False)
    try:
        assert await store.read_events(EventQuery(model="chain")) == chain_events
        again = await store.read_events(EventQuery(model="address_balances"))
        assert [e.payload for e in again] == [e.payload for e in balances]
    finally:
        await store.close()
    run = await acli("run", MODEL, "--no-follow", cwd=tmp_path, env=env)
    assert run.returncode == 0, run.stderr


STORED_MODEL = "chaincrawler.examples.stored_balances:StoredAddressBalances"
FORGETFUL = '''
from chaincrawler.examples import StoredAddressBalances
from chaincrawler.models import Model


class Forgetful(StoredAddressBalances):
    """The stored example whose prefetch_events is the default one, loading nothing."""

    name = "stored_address_balances"
    version = "2"
    prefetch_events = Model.prefetch_events
'''


async def stored_accounts(url: str) -> tuple[list[tuple[str, str]], dict[str, str | None]]:
    """The stored example's collection and the store's model versions."""
    store = open_store(url)
    await store.open(network="regtest", genesis_hash=REGTEST.genesis_hash, writer=False)
    try:
        return ((await store.scan("stored_address_balances", "accounts")).result,
                await store.model_versions())
    finally:
        await store.close()


async def test_rebuild_from_events_of_a_model_with_stored_collections(
    node: Node, tmp_path: Path
) -> None:
    url = f"sqlite:///{tmp_path / 's.db'}"
    env = {**node.env, "CHAINCRAWLER_STORE__URL": url}
    first = await acli("run", MODEL, STORED_MODEL, "--no-follow", cwd=tmp_path, env=env)
    assert first.returncode == 0, first.stderr
    crawled, versions = await stored_accounts(url)
    assert crawled and versions["stored_address_balances"] == "1"
    (tmp_path / "mymodels.py").write_text(FORGETFUL, encoding="utf-8")
    refused = await acli("rebuild", MODEL, "mymodels:Forgetful", "--model",
                         "stored_address_balances", "--from-events", cwd=tmp_path, env=env)
    assert refused.returncode == 1
    assert refused.stderr.startswith("error: ") and "Traceback" not in refused.stderr
    assert "'stored_address_balances' cannot be rebuilt from its events" in refused.stderr
    assert re.search(r"key '\w+' of stored collection 'accounts'", refused.stderr)
    assert "prefetch_events" in refused.stderr and "does not implement it" in refused.stderr
    assert await stored_accounts(url) == (crawled, versions)  # nothing written
    height, _ = await node.best()
    done = await acli("rebuild", MODEL, STORED_MODEL, "--model", "stored_address_balances",
                      "--from-events", cwd=tmp_path, env=env)
    assert done.returncode == 0, done.stderr
    assert re.search(rf"re-indexed stored_address_balances: \d+ event\(s\), state at tip "
                     rf"{height}\n", done.stdout)
    assert (await stored_accounts(url))[0] == crawled
    await ChainGenerator(node.rpc, seed="cli").mine(2)
    run = await acli("run", MODEL, STORED_MODEL, "--no-follow", cwd=tmp_path, env=env)
    assert run.returncode == 0, run.stderr  # the rebuilt model rejoins at the tip
    assert f"committed up to height {height + 2}" in run.stdout
