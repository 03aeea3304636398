"""Mining, chain selection, reorgs (invalidateblock and competing branches) and the
mempool's behaviour across them."""

from __future__ import annotations

from pathlib import Path

import aiohttp

from chaincrawler.chain.networks import REGTEST
from chaincrawler.chain.types import Block, BlockHeader, TxOut
from chaincrawler.testing.blocks import coinbase, solve_header
from chaincrawler.testing.rawrpc import RawRpc
from chaincrawler.testing.simnode import SimNode
from chaincrawler.testing.simnode.mining import build_block
from tests.simnode.helpers import DESCRIPTOR, P2WSH_OP_TRUE, mature_coins, spend

OTHER_SCRIPT = bytes.fromhex("0014" + "22" * 20)


async def test_subsidy_halves_every_150_blocks(rpc: RawRpc) -> None:
    hashes = await rpc("generatetodescriptor", 150, DESCRIPTOR)
    last = await rpc("getblock", hashes[-1], 2)
    before = await rpc("getblock", hashes[-2], 2)
    assert last["height"] == 150
    assert last["tx"][0]["vout"][0]["value"] == 25.0
    assert before["tx"][0]["vout"][0]["value"] == 50.0


async def test_generated_blocks_link_and_carry_bip34_heights(rpc: RawRpc) -> None:
    hashes = await rpc("generatetoaddress", 20, "bcrt1qzyg3zyg3zyg3zyg3zyg3zyg3zyg3zyg3lgth6c")
    assert await rpc("getblockcount") == 20
    block = await rpc("getblock", hashes[19], 1)
    assert block["previousblockhash"] == hashes[18]
    assert block["coinbase_tx"]["coinbase"] == "0114"  # push of 20
    assert (await rpc("getblock", hashes[0], 1))["nextblockhash"] == hashes[1]
    err = await rpc.error("generatetoaddress", 1, "notanaddress")
    assert err == {"code": -5, "message": "Error: Invalid address"}


async def test_invalidate_returns_transactions_and_reconsider_restores(rpc: RawRpc) -> None:
    (coin,) = await mature_coins(rpc, 1)
    tx = spend(coin[0], 0, coin[1])
    txid = await rpc("sendrawtransaction", tx.hex())
    a1, a2 = await rpc("generatetodescriptor", 2, DESCRIPTOR)
    assert await rpc("getrawmempool") == []
    await rpc("invalidateblock", a1)
    assert await rpc("getbestblockhash") == (await rpc("getblock", a1))["previousblockhash"]
    assert await rpc("getrawmempool") == [txid]
    entry = await rpc("getmempoolentry", txid)
    assert entry["unbroadcast"] is False
    assert (await rpc("getblock", a2))["confirmations"] == -1
    await rpc("reconsiderblock", a1)
    assert await rpc("getbestblockhash") == a2
    assert await rpc("getrawmempool") == []


async def test_mining_a_new_branch_after_invalidate_leaves_a_valid_fork(rpc: RawRpc) -> None:
    await rpc("generatetodescriptor", 5, DESCRIPTOR)
    (old,) = await rpc("generatetodescriptor", 1, DESCRIPTOR)
    await rpc("invalidateblock", old)
    # The same payout would rebuild the invalidated block itself, which Core refuses.
    err = await rpc.error("generatetodescriptor", 1, DESCRIPTOR)
    assert err == {"code": -32603, "message": "ProcessNewBlock, block not accepted"}
    new = await rpc("generatetodescriptor", 2, f"raw({OTHER_SCRIPT.hex()})")
    await rpc("reconsiderblock", old)
    assert await rpc("getbestblockhash") == new[-1]  # more work wins
    tips = {t["hash"]: t for t in await rpc("getchaintips")}
    assert tips[old]["status"] == "valid-fork" and tips[old]["branchlen"] == 1
    assert tips[new[-1]]["status"] == "active"


async def _second_node(tmp_path: Path, rpc: RawRpc, http: aiohttp.ClientSession):
    """Another simulated node that received the same blocks as ``rpc``'s node."""
    other = SimNode(tmp_path / "other", rpc_port=0, rest=False)
    await other.start()
    orpc = RawRpc(other.rpc_url + "/", other.auth, session=http)
    for height in range(1, await rpc("getblockcount") + 1):
        raw = await rpc("getblock", await rpc("getblockhash", height), 0)
        assert await orpc("submitblock", raw) is None
    return other, orpc


async def test_competing_branch_with_more_work_reorgs_and_evicts_conflicts(
    rpc: RawRpc, http: aiohttp.ClientSession, tmp_path: Path
) -> None:
    (coin,) = await mature_coins(rpc, 1)
    other, orpc = await _second_node(tmp_path, rpc, http)
    try:
        # Our branch: tx1 confirmed, its child tx2 waiting in the mempool.
        tx1 = spend(coin[0], 0, coin[1])
        await rpc("sendrawtransaction", tx1.hex())
        (a1,) = await rpc("generatetodescriptor", 1, DESCRIPTOR)
        tx2 = spend(tx1.txid, 0, tx1.outputs[0].value)
        await rpc("sendrawtransaction", tx2.hex())
        # Their branch: a double spend of tx1's input, two blocks (more work).
        double = spend(coin[0], 0, coin[1], fee=5000)
        await orpc("sendrawtransaction", double.hex())
        b1, b2 = await orpc("generatetodescriptor", 2, DESCRIPTOR)
        assert await rpc("submitblock", await orpc("getblock", b1, 0)) == "inconclusive"
        assert await rpc("getbestblockhash") == a1  # equal work: first seen stays
        assert await rpc("submitblock", await orpc("getblock", b2, 0)) is None
        assert await rpc("getbestblockhash") == b2
        assert await rpc("getrawmempool") == []  # tx1 conflicts, tx2 was its child
        found = await rpc("getrawtransaction", double.txid, 1)
        assert found["blockhash"] == b1
        tips = {t["hash"]: t["status"] for t in await rpc("getchaintips")}
        assert tips == {b2: "active", a1: "valid-fork"}
        assert await rpc("submitblock", await orpc("getblock", b2, 0)) == "duplicate"
    finally:
        await other.stop()


async def test_submitblock_reports_core_reject_reasons(rpc: RawRpc, node: SimNode) -> None:
    await rpc("generatetodescriptor", 101, DESCRIPTOR)
    template = await rpc("generateblock", DESCRIPTOR, [], False)
    good = Block.from_hex(template["hex"], REGTEST)
    h = good.header

    def with_header(**changes: int | bytes) -> str:
        fields = {"version": h.version, "prev_hash_bytes": h.prev_hash_bytes,
                  "merkle_root_bytes": h.merkle_root_bytes, "time": h.time, "bits": h.bits,
                  "nonce": h.nonce}
        fields.update(changes)
        return Block(BlockHeader(**fields), good.transactions, REGTEST).serialize().hex()

    nonce = next(n for n in range(1000) if not BlockHeader(
        h.version, h.prev_hash_bytes, h.merkle_root_bytes, h.time, h.bits, n
    ).check_proof_of_work())
    assert await rpc("submitblock", with_header(nonce=nonce)) == "high-hash"
    bad_merkle = solve_header(h.prev_hash_bytes, b"\x01" * 32, h.time)
    reply = await rpc("submitblock", with_header(
        merkle_root_bytes=bad_merkle.merkle_root_bytes, nonce=bad_merkle.nonce))
    assert reply == "bad-txnmrklroot"
    orphan = solve_header(b"\x02" * 32, h.merkle_root_bytes, h.time)
    assert await rpc("submitblock", with_header(
        prev_hash_bytes=orphan.prev_hash_bytes, nonce=orphan.nonce)) == "prev-blk-not-found"

    tip = node.engine.chain.tip
    wrong_height = coinbase(5, [(P2WSH_OP_TRUE, 50 * 100_000_000)], commitment=b"\0" * 32)
    block = Block(BlockHeader(0, b"", b"", 0, 0, 0), [wrong_height], REGTEST)
    header = solve_header(tip.hash, block.compute_merkle_root(), h.time)
    wrong = Block(header, [wrong_height], REGTEST).serialize().hex()
    assert await rpc("submitblock", wrong) == "bad-cb-height"

    missing = spend("ab" * 32, 0, 10_000)
    bad = build_block(tip, P2WSH_OP_TRUE, [missing], 50 * 100_000_000, h.time)
    assert await rpc("submitblock", bad.serialize().hex()) == "bad-txns-inputs-missingorspent"
    assert await rpc("submitblock", bad.serialize().hex()) == "duplicate-invalid"
    tips = {t["hash"]: t["status"] for t in await rpc("getchaintips")}
    assert tips[bad.hash] == "invalid"
    assert await rpc("submitblock", template["hex"]) is None
    assert await rpc("getbestblockhash") == good.hash
    assert (await rpc.error("submitblock", "00")) == {"code": -22, "message": "Block decode failed"}


async def test_generateblock_mines_given_transactions_and_checks_them(rpc: RawRpc) -> None:
    (coin,) = await mature_coins(rpc, 1)
    tx = spend(coin[0], 0, coin[1])
    txid = await rpc("sendrawtransaction", tx.hex())
    raw = spend(tx.txid, 0, tx.outputs[0].value)
    result = await rpc("generateblock", DESCRIPTOR, [txid, raw.hex()])
    block = await rpc("getblock", result["hash"], 2)
    assert [t["txid"] for t in block["tx"][1:]] == [txid, raw.txid]
    assert block["tx"][0]["vout"][0]["value"] == 50.0  # subsidy only, as Core
    err = await rpc.error("generateblock", DESCRIPTOR, [spend("cd" * 32, 0, 5000).hex()])
    assert err["code"] == -25
    assert err["message"].startswith("TestBlockValidity failed: bad-txns-inputs-missingorspent")
    err = await rpc.error("generateblock", DESCRIPTOR, ["ee" * 32])
    assert err == {"code": -5, "message": f"Transaction {'ee' * 32} not in mempool."}
    err = await rpc.error("generateblock", "nonsense", [])
    assert err == {"code": -5, "message": "Error: Invalid address or descriptor"}


async def test_blocks_include_fees_and_order_parents_first(rpc: RawRpc) -> None:
    coins = await mature_coins(rpc, 2)
    parent = spend(coins[0][0], 0, coins[0][1], fee=1000,
                   outputs=[TxOut(coins[0][1] - 1000, P2WSH_OP_TRUE, REGTEST)])
    child = spend(parent.txid, 0, parent.outputs[0].value, fee=50_000)
    other = spend(coins[1][0], 0, coins[1][1], fee=20_000)
    for tx in (parent, child, other):
        await rpc("sendrawtransaction", tx.hex())
    (h,) = await rpc("generatetodescriptor", 1, DESCRIPTOR)
    block = await rpc("getblock", h, 2)
    order = [t["txid"] for t in block["tx"][1:]]
    assert order.index(parent.txid) < order.index(child.txid)
    assert sorted(order) == sorted([parent.txid, child.txid, other.txid])
    fees = 1000 + 50_000 + 20_000
    assert round(block["tx"][0]["vout"][0]["value"] * 1e8) == 50 * 100_000_000 + fees
