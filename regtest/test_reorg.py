"""Reorgs: invalidateblock/reconsiderblock, a competing branch of more work submitted with
submitblock, mempool return-on-reorg and conflict eviction."""

from __future__ import annotations

from chaincrawler.chain.networks import REGTEST
from chaincrawler.chain.types import Block
from chaincrawler.chain.wire import hex_to_hash
from chaincrawler.testing.blocks import block
from chaincrawler.testing.recorded import recorded_result


async def _tips(rpc):
    return {t["hash"]: t for t in await rpc.call("getchaintips")}


async def test_invalidateblock_returns_transactions_and_reconsider_restores(rpc, gen):
    txid = await gen.send()
    (first,) = await gen.mine(1)
    (second,) = await gen.mine(1)
    height = await rpc.get_block_count()
    assert await rpc.call("invalidateblock", first) is None
    assert await rpc.get_block_count() == height - 2
    assert txid in await rpc.get_raw_mempool()
    tips = await _tips(rpc)
    assert tips[second]["status"] == "invalid" and tips[second]["branchlen"] == 2
    assert (await rpc.get_block_header(first))["confirmations"] == -1
    assert await rpc.call("reconsiderblock", first) is None
    assert await rpc.get_best_block_hash() == second
    assert txid not in await rpc.get_raw_mempool()
    assert recorded_result("32-") is None and recorded_result("35-") is None


async def test_generator_reorg_replaces_the_top_blocks(rpc, gen):
    await gen.send()
    await gen.mine(2)
    height = await rpc.get_block_count()
    result = await gen.reorg(2, 3)
    assert result.fork_height == height - 2
    assert len(result.disconnected) == 2 and len(result.connected) == 3
    assert await rpc.get_block_count() == height + 1
    assert await rpc.get_best_block_hash() == result.new_tip
    assert await rpc.get_block_hashes(range(height - 1, height + 2)) == result.connected
    for old in result.disconnected:
        assert (await rpc.get_block_header(old))["confirmations"] == -1
    assert (await _tips(rpc))[result.old_tip]["status"] == "invalid"
    # The old branch's transactions were confirmed again by the new branch.
    old_txs = {t for h in result.disconnected for t in (await rpc.get_block_verbose(h))["tx"][1:]}
    new_txs = {t for h in result.connected for t in (await rpc.get_block_verbose(h))["tx"][1:]}
    assert old_txs and old_txs <= new_txs


async def test_reorg_with_double_spend_evicts_the_conflicting_transaction(rpc, gen):
    await gen.mine(1)  # empty the mempool: the reorged blocks hold only this test's spends
    victim = await gen.send()
    await gen.mine(1)
    child = await gen.send()  # likely spends the victim's change: evicted with it
    await gen.mine(1)
    result = await gen.reorg(2, 3, double_spend=True)
    assert result.double_spent_txid is not None and result.double_spend_txid is not None
    assert result.double_spent_txid in {victim, child}
    first_new = await rpc.get_block_verbose(result.connected[0])
    assert first_new["tx"][1:] == [result.double_spend_txid]
    mempool = await rpc.get_raw_mempool()
    confirmed = {t for h in result.connected for t in (await rpc.get_block_verbose(h))["tx"]}
    assert result.double_spent_txid not in mempool
    assert result.double_spent_txid not in confirmed
    # The generator followed: its coins are all spendable on the new chain.
    await gen.send()
    await gen.mine(1)


async def test_more_work_branch_via_submitblock_reorgs_and_returns_transactions(rpc, gen):
    txid = await gen.send()
    (old_tip,) = await gen.mine(1)
    height = await rpc.get_block_count()
    parent = await rpc.get_block_header(await rpc.get_block_hash(height - 1))
    first = block(height, (), hex_to_hash(parent["hash"]), time=parent["time"] + 1, tag=b"side-1")
    assert await rpc.call("submitblock", first.serialize().hex()) == "inconclusive"
    assert await rpc.get_best_block_hash() == old_tip
    assert (await _tips(rpc))[first.hash]["status"] == "valid-headers"
    second = block(height + 1, (), first.hash_bytes, time=first.header.time + 1, tag=b"side-2")
    assert await rpc.call("submitblock", second.serialize().hex()) is None
    assert await rpc.get_best_block_hash() == second.hash
    assert await rpc.get_block_hash(height) == first.hash
    tips = await _tips(rpc)
    assert tips[old_tip]["status"] == "valid-fork" and tips[old_tip]["branchlen"] == 1
    assert txid in await rpc.get_raw_mempool()
    assert await rpc.call("submitblock", second.serialize().hex()) == "duplicate"
    fetched = Block.from_bytes(await rpc.get_raw_block(second.hash), REGTEST)
    assert fetched.hash == second.hash and fetched.bip34_height == height + 1
