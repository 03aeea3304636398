"""`chaincrawler run` with mempool models: what they emit is stored; one that raises is
stopped with the error in the log and in `chaincrawler status`, blocks go on."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import sys
from pathlib import Path

from chaincrawler.chain.networks import REGTEST
from chaincrawler.eventstore import EventStore, SchemaMissingError, open_store
from chaincrawler.testing.blocks import address
from chaincrawler.testing.chaingen import ChainGenerator
from tests.test_cli import Node, acli, node, stored_tip

__all__ = ["node"]  # the fixture, shared with test_cli

MODELS = '''
from chaincrawler.crawler.mempool_models import MempoolModel
from chaincrawler.examples.pending_payments import PendingPayments


class Broken(MempoolModel):
    def process_mempool(self, change):
        raise KeyError("no such address")


MODELS = [Broken, PendingPayments]
'''


async def test_a_failing_mempool_model_is_shown_by_status_and_blocks_go_on(
    node: Node, tmp_path: Path
) -> None:
    (tmp_path / "shop.py").write_text(MODELS, encoding="utf-8")
    url = f"sqlite:///{tmp_path / 's.db'}"
    shop = address("shop")
    env = {**node.env, "CHAINCRAWLER_STORE__URL": url,
           "PYTHONPATH": os.pathsep.join([str(tmp_path), *sys.path]),
           "CHAINCRAWLER_MODEL_ARGS__PENDING_PAYMENTS": json.dumps({"addresses": [shop]}),
           "CHAINCRAWLER_MEMPOOL__RECONCILE_INTERVAL": "0.2", "CHAINCRAWLER_LOG__FORMAT": "json"}
    clean = {k: v for k, v in os.environ.items() if not k.startswith("CHAINCRAWLER_")}
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "chaincrawler", "run", "shop:MODELS", cwd=tmp_path,
        env={**clean, **env}, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    gen = ChainGenerator(node.rpc, seed="cli-mempool")
    try:
        await gen.ensure_funds(10**8)
        txid = await gen.send([(shop, 50_000)])
        async with asyncio.timeout(60):
            store = await _open_reader(url)
            try:
                while not await store.mempool_failures() or not await store.read_mempool_events():
                    await asyncio.sleep(0.05)
                (block_hash,) = await gen.mine(1)
                while (tip := await stored_tip(url)) is None or tip.hash != block_hash:
                    await asyncio.sleep(0.05)  # blocks are processed all the same
                while len(events := await store.read_mempool_events()) < 2:
                    await asyncio.sleep(0.05)
            finally:
                await store.close()
        status = await acli("status", cwd=tmp_path, env=env)
        proc.send_signal(signal.SIGINT)
        _, err = await asyncio.wait_for(proc.communicate(), 60)
    except TimeoutError as exc:
        if proc.returncode is None:
            proc.kill()
        _, err = await proc.communicate()
        log = err.decode()[-3000:]
        raise AssertionError(f"the run did not get there; its log:\n{log}") from exc
    finally:
        if proc.returncode is None:
            proc.kill()
    assert proc.returncode == 0, err.decode()
    assert [(e.model, e.event_type, e.txid) for e in events] == [
        ("pending_payments", "PaymentSeen", txid), ("pending_payments", "PaymentMined", txid),
    ]
    assert (events[1].block_height, events[1].block_hash) == (tip.height, block_hash)
    report = json.loads(status.stdout)
    assert report["mempool"]["last_position"] == 2
    (failed,) = report["mempool"]["failed_models"]
    assert (failed["model"], failed["error"]) == ("broken", "KeyError: 'no such address'")
    logged = [json.loads(line) for line in err.decode().splitlines() if line.startswith("{")]
    assert [e["model"] for e in logged if e.get("event") == "mempool.model_failed"] == ["broken"]


async def _open_reader(url: str) -> EventStore:
    """The crawler's store opened as a reader, once the crawler has created its schema
    (the file exists a moment before its tables do)."""
    while True:
        store = open_store(url)
        try:
            await store.open(network="regtest", genesis_hash=REGTEST.genesis_hash, writer=False)
            return store
        except SchemaMissingError:
            await store.close()
            await asyncio.sleep(0.05)
