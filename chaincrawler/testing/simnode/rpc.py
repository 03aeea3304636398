"""JSON-RPC methods of the simulated node, with Bitcoin Core's parameters and errors.

Each method declares its parameters (name, accepted JSON types, default) the way
Core's ``RPCHelpMan`` does, so named parameters, missing arguments and wrong types
fail with Core's codes: -1 (wrong argument count), -3 (type), -8 (bad value or
unknown named parameter).
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any

from chaincrawler.chain.consensus import COIN, MAX_MONEY, is_unspendable
from chaincrawler.chain.encoding import AddressError
from chaincrawler.chain.networks import REGTEST
from chaincrawler.chain.script import script_from_address
from chaincrawler.chain.types import Block, Transaction
from chaincrawler.chain.wire import hex_to_hash
from chaincrawler.errors import ChainDataError
from chaincrawler.testing.simnode import views
from chaincrawler.testing.simnode.chainstate import BlockIndex, BlockValidationError
from chaincrawler.testing.simnode.descriptors import (
    DescriptorError,
    descriptor_info,
    parse_descriptor,
)
from chaincrawler.testing.simnode.jsonenc import Amount
from chaincrawler.testing.simnode.mempool import MempoolReject
from chaincrawler.testing.simnode.node import Engine, SimRpcError

RPC_MISC_ERROR = -1
RPC_TYPE_ERROR = -3
RPC_INVALID_ADDRESS_OR_KEY = -5
RPC_INVALID_PARAMETER = -8
RPC_DESERIALIZATION_ERROR = -22
RPC_VERIFY_ERROR = -25
RPC_METHOD_NOT_FOUND = -32601

VERSION = 310000
SUBVERSION = "/Satoshi:31.0.0(chaincrawler-simnode)/"
DEFAULT_MAX_FEE_RATE = 10_000_000  # 0.10 BTC/kvB in sat/kvB
_HEX = re.compile(r"\A[0-9a-fA-F]*\Z")

NUM, STR, BOOL, ARR, OBJ, ANY = "number", "string", "bool", "array", "object", "any"
_REQUIRED = object()


@dataclass(frozen=True, slots=True)
class Param:
    """One RPC argument: name (``a|b`` for an alias), accepted JSON types, default."""

    name: str
    types: tuple[str, ...]
    default: Any = _REQUIRED

    @property
    def required(self) -> bool:
        return self.default is _REQUIRED

    @property
    def names(self) -> list[str]:
        return self.name.split("|")


Handler = Callable[["Dispatcher", list[Any]], Any]


@dataclass(slots=True)
class Method:
    params: list[Param]
    handler: Handler
    summary: str


@dataclass
class ServerInfo:
    """What the RPC layer needs from the server around it."""

    zmq_notifications: list[dict[str, object]] = field(default_factory=list)
    request_stop: Callable[[], None] = lambda: None


def _type_name(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int | float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    return "object"


def _usage(name: str, params: list[Param]) -> str:
    parts = []
    for p in params:
        shown = f'"{p.names[0]}"' if p.types == (STR,) else p.names[0]
        parts.append(shown if p.required else f"( {shown} )")
    return " ".join([name, *parts])


def parse_hash(value: Any, name: str) -> bytes:
    """Core's ``ParseHashV``: 64 hex characters, display order, to internal bytes."""
    text = value if isinstance(value, str) else ""
    if len(text) != 64:
        raise SimRpcError(
            RPC_INVALID_PARAMETER,
            f"{name} must be of length 64 (not {len(text)}, for '{text}')",
        )
    if not _HEX.match(text):
        raise SimRpcError(
            RPC_INVALID_PARAMETER, f"{name} must be hexadecimal string (not '{text}')"
        )
    return hex_to_hash(text)


def parse_amount(value: Any) -> int:
    """Core's ``AmountFromValue``: a BTC number or string to satoshis."""
    if not isinstance(value, int | float | str) or isinstance(value, bool):
        raise SimRpcError(RPC_TYPE_ERROR, "Amount is not a number or string")
    try:
        amount = Decimal(str(value)) * COIN
    except InvalidOperation:
        raise SimRpcError(RPC_TYPE_ERROR, "Invalid amount") from None
    if amount != amount.to_integral_value():
        raise SimRpcError(RPC_TYPE_ERROR, "Invalid amount")
    if amount < 0 or amount > MAX_MONEY:
        raise SimRpcError(RPC_TYPE_ERROR, "Amount out of range")
    return int(amount)


def parse_verbosity(value: Any, default: int) -> int:
    """Core's ``ParseVerbosity`` (booleans allowed)."""
    if value is None:
        return default
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, int):
        return value
    raise SimRpcError(
        RPC_TYPE_ERROR, f"JSON value of type {_type_name(value)} is not of expected type number"
    )


def _decode_tx(hexstring: str) -> Transaction | None:
    try:
        return Transaction.from_bytes(bytes.fromhex(hexstring), REGTEST)
    except (ValueError, ChainDataError):
        return None


class Dispatcher:
    """Runs one JSON-RPC call against an :class:`Engine`."""

    def __init__(self, engine: Engine, info: ServerInfo) -> None:
        self.engine = engine
        self.info = info

    def call(self, method: str, params: Any) -> Any:
        """Execute ``method``; raises SimRpcError with Core's code and message."""
        spec = METHODS.get(method)
        if spec is None:
            raise SimRpcError(RPC_METHOD_NOT_FOUND, "Method not found")
        args = self._bind(method, spec, params)
        return spec.handler(self, args)

    def _bind(self, method: str, spec: Method, params: Any) -> list[Any]:
        if isinstance(params, dict):
            positional: list[Any] = []
            index = {n: i for i, p in enumerate(spec.params) for n in p.names}
            for key, value in params.items():
                if key not in index:
                    raise SimRpcError(RPC_INVALID_PARAMETER, f"Unknown named parameter {key}")
                i = index[key]
                positional.extend([None] * (i + 1 - len(positional)))
                positional[i] = value
            params = positional
        required = sum(1 for p in spec.params if p.required)
        if len(params) > len(spec.params) or len(params) < required:
            raise SimRpcError(RPC_MISC_ERROR, _usage(method, spec.params))
        mismatches = {}
        args = []
        for i, p in enumerate(spec.params):
            value = params[i] if i < len(params) else None
            if value is None and not p.required:
                args.append(p.default)
                continue
            if ANY not in p.types and _type_name(value) not in p.types:
                mismatches[f"Position {i + 1} ({p.names[0]})"] = (
                    f"JSON value of type {_type_name(value)} is not of expected type "
                    f"{p.types[0]}"
                )
            args.append(value)
        if mismatches:
            detail = json.dumps(mismatches, indent=4)
            raise SimRpcError(RPC_TYPE_ERROR, f"Wrong type passed:\n{detail}")
        return args

    # -- helpers ----------------------------------------------------------------

    def block_index(self, value: Any, name: str = "blockhash") -> BlockIndex:
        idx = self.engine.chain.lookup(parse_hash(value, name))
        if idx is None:
            raise SimRpcError(RPC_INVALID_ADDRESS_OR_KEY, "Block not found")
        return idx


# -- method implementations -------------------------------------------------------


def _getblockchaininfo(d: Dispatcher, args: list[Any]) -> Any:
    return blockchain_info(d.engine)


def blockchain_info(engine: Engine) -> dict[str, Any]:
    """``getblockchaininfo`` (also REST ``/rest/chaininfo.json``)."""
    chain = engine.chain
    tip = chain.tip
    return {
        "chain": "regtest",
        "blocks": chain.height,
        "headers": max(chain.best.height, chain.height),
        "bestblockhash": tip.hash_hex,
        "bits": f"{tip.header.bits:08x}",
        "target": f"{tip.header.target:064x}",
        "difficulty": views.difficulty(tip.header.bits),
        "time": tip.header.time,
        "mediantime": tip.median_time,
        "verificationprogress": views.verification_progress(chain, engine.now()),
        "initialblockdownload": engine.initial_block_download,
        "chainwork": f"{tip.chainwork:064x}",
        "size_on_disk": sum(idx.block.size + 8 for idx in chain.index.values()),
        "pruned": False,
        "warnings": [],
    }


def _getblockcount(d: Dispatcher, args: list[Any]) -> Any:
    return d.engine.chain.height


def _getbestblockhash(d: Dispatcher, args: list[Any]) -> Any:
    return d.engine.chain.tip.hash_hex


def _getblockhash(d: Dispatcher, args: list[Any]) -> Any:
    height = args[0]
    chain = d.engine.chain
    if not isinstance(height, int) or not 0 <= height <= chain.height:
        raise SimRpcError(RPC_INVALID_PARAMETER, "Block height out of range")
    return chain.active[height].hash_hex


def _getblockheader(d: Dispatcher, args: list[Any]) -> Any:
    idx = d.block_index(args[0], "hash")
    if not args[1]:
        return idx.header.serialize().hex()
    return views.header_json(d.engine.chain, idx)


def _getblock(d: Dispatcher, args: list[Any]) -> Any:
    idx = d.block_index(args[0])
    verbosity = parse_verbosity(args[1], 1)
    if verbosity <= 0:
        return idx.block.serialize().hex()
    return views.block_json(d.engine.chain, idx, verbosity)


def _getchaintips(d: Dispatcher, args: list[Any]) -> Any:
    return views.chain_tips(d.engine.chain)


def _getrawmempool(d: Dispatcher, args: list[Any]) -> Any:
    verbose, with_sequence = bool(args[0]), bool(args[1])
    mempool = d.engine.mempool
    if with_sequence:
        if verbose:
            raise SimRpcError(
                RPC_INVALID_PARAMETER, "Verbose results cannot contain mempool sequence values."
            )
        return {
            "txids": [e.tx.txid for e in mempool.entries.values()],
            "mempool_sequence": mempool.sequence,
        }
    return views.raw_mempool(mempool, verbose)


def _getmempoolinfo(d: Dispatcher, args: list[Any]) -> Any:
    return views.mempool_info(d.engine.mempool)


def _getmempoolentry(d: Dispatcher, args: list[Any]) -> Any:
    txid = parse_hash(args[0], "parameter 1")
    entry = d.engine.mempool.entries.get(txid)
    if entry is None:
        raise SimRpcError(RPC_INVALID_ADDRESS_OR_KEY, "Transaction not in mempool")
    return views.mempool_entry_json(d.engine.mempool, entry)


def _getrawtransaction(d: Dispatcher, args: list[Any]) -> Any:
    engine = d.engine
    chain = engine.chain
    txid = parse_hash(args[0], "parameter 1")
    genesis = chain.active[0].block.transactions[0]
    if txid == genesis.txid_bytes:
        raise SimRpcError(
            RPC_INVALID_ADDRESS_OR_KEY,
            "The genesis block coinbase is not considered an ordinary transaction and "
            "cannot be retrieved",
        )
    verbosity = parse_verbosity(args[1], 0)
    given: BlockIndex | None = None
    if args[2] is not None:
        given = chain.lookup(parse_hash(args[2], "parameter 3"))
        if given is None:
            raise SimRpcError(RPC_INVALID_ADDRESS_OR_KEY, "Block hash not found")
    tx: Transaction | None = None
    where: BlockIndex | None = None
    position = 0
    if given is not None:
        for position, candidate in enumerate(given.block.transactions):  # noqa: B007
            if candidate.txid_bytes == txid:
                tx, where = candidate, given
                break
    else:
        entry = engine.mempool.entries.get(txid)
        if entry is not None:
            tx = entry.tx
        elif txid in chain.tx_index:
            where, position = chain.tx_index[txid]
            tx = where.block.transactions[position]
    if tx is None:
        message = (
            "No such transaction found in the provided block"
            if given is not None
            else "No such mempool or blockchain transaction"
        )
        raise SimRpcError(
            RPC_INVALID_ADDRESS_OR_KEY, f"{message}. Use gettransaction for wallet transactions."
        )
    if verbosity <= 0:
        return tx.hex()
    result: dict[str, Any] = {}
    if given is not None:
        result["in_active_chain"] = chain.contains(given)
    elif where is None:
        result["vsize_adjusted"] = tx.vsize
    undo = views.tx_undo(where, position) if where is not None and verbosity >= 2 else None
    result.update(views.tx_json(tx, undo=undo, with_prevouts=undo is not None))
    if where is not None:
        result["blockhash"] = where.hash_hex
        if chain.contains(where):
            result["confirmations"] = chain.height - where.height + 1
            result["time"] = where.header.time
            result["blocktime"] = where.header.time
        else:
            result["confirmations"] = 0
    return result


def _decoderawtransaction(d: Dispatcher, args: list[Any]) -> Any:
    tx = _decode_tx(args[0])
    if tx is None:
        raise SimRpcError(RPC_DESERIALIZATION_ERROR, "TX decode failed")
    return views.tx_json(tx, include_hex=False)


def _sendrawtransaction(d: Dispatcher, args: list[Any]) -> Any:
    tx = _decode_tx(args[0])
    if tx is None:
        raise SimRpcError(
            RPC_DESERIALIZATION_ERROR, "TX decode failed. Make sure the tx has at least one input."
        )
    max_burn = parse_amount(args[2])
    for txout in tx.outputs:
        if is_unspendable(txout.script_pubkey) and txout.value > max_burn:
            raise SimRpcError(
                RPC_VERIFY_ERROR,
                "Unspendable output exceeds maximum configured by user (maxburnamount)",
            )
    max_fee_rate = parse_amount(args[1])
    try:
        d.engine.send_transaction(tx, max_fee_rate or None)
    except MempoolReject as exc:
        raise SimRpcError(exc.code, exc.message) from None
    return tx.txid


def _submitblock(d: Dispatcher, args: list[Any]) -> Any:
    try:
        block = Block.from_bytes(bytes.fromhex(args[0]), REGTEST)
    except (ValueError, ChainDataError):
        raise SimRpcError(RPC_DESERIALIZATION_ERROR, "Block decode failed") from None
    if not block.transactions[0].is_coinbase:
        raise SimRpcError(RPC_DESERIALIZATION_ERROR, "Block does not start with a coinbase")
    engine = d.engine
    known = engine.chain.lookup(block.hash_bytes)
    if known is not None:
        return "duplicate-invalid" if known.is_invalid else "duplicate"
    try:
        idx = engine.process_block(block)
    except BlockValidationError as exc:
        return exc.reason
    return None if engine.chain.contains(idx) else "inconclusive"


def _script_for_descriptor(desc: str) -> bytes:
    try:
        return parse_descriptor(desc).script
    except DescriptorError as exc:
        raise SimRpcError(RPC_INVALID_ADDRESS_OR_KEY, str(exc)) from None


def _generatetoaddress(d: Dispatcher, args: list[Any]) -> Any:
    try:
        script = script_from_address(args[1], REGTEST)
    except AddressError:
        raise SimRpcError(RPC_INVALID_ADDRESS_OR_KEY, "Error: Invalid address") from None
    return d.engine.generate(script, int(args[0]))


def _generatetodescriptor(d: Dispatcher, args: list[Any]) -> Any:
    script = _script_for_descriptor(args[1])
    return d.engine.generate(script, int(args[0]))


def _generateblock(d: Dispatcher, args: list[Any]) -> Any:
    output = args[0]
    try:
        script = parse_descriptor(output).script
    except DescriptorError:
        try:
            script = script_from_address(output, REGTEST)
        except AddressError:
            raise SimRpcError(
                RPC_INVALID_ADDRESS_OR_KEY, "Error: Invalid address or descriptor"
            ) from None
    engine = d.engine
    txs: list[Transaction] = []
    for item in args[1]:
        text = item if isinstance(item, str) else ""
        if len(text) == 64 and _HEX.match(text):
            entry = engine.mempool.entries.get(hex_to_hash(text))
            if entry is None:
                raise SimRpcError(RPC_INVALID_ADDRESS_OR_KEY, f"Transaction {text} not in mempool.")
            txs.append(entry.tx)
            continue
        tx = _decode_tx(text)
        if tx is None:
            raise SimRpcError(
                RPC_DESERIALIZATION_ERROR,
                f"Transaction decode failed for {text}. Make sure the tx has at least one input.",
            )
        txs.append(tx)
    submit = bool(args[2])
    try:
        block = engine.generate_block(script, txs, submit)
    except BlockValidationError as exc:
        raise SimRpcError(RPC_VERIFY_ERROR, f"TestBlockValidity failed: {exc}") from None
    result: dict[str, Any] = {"hash": block.hash}
    if not submit:
        result["hex"] = block.serialize().hex()
    return result


def _invalidateblock(d: Dispatcher, args: list[Any]) -> Any:
    d.engine.invalidate(d.block_index(args[0]))
    return None


def _reconsiderblock(d: Dispatcher, args: list[Any]) -> Any:
    d.engine.reconsider(d.block_index(args[0]))
    return None


def _getdescriptorinfo(d: Dispatcher, args: list[Any]) -> Any:
    try:
        return descriptor_info(args[0])
    except DescriptorError as exc:
        raise SimRpcError(RPC_INVALID_ADDRESS_OR_KEY, str(exc)) from None


def _getnetworkinfo(d: Dispatcher, args: list[Any]) -> Any:
    bucket = {"backlog": 0, "count_tok": 420, "size_tok": 12000000}
    networks = [
        {"name": name, "limited": limited, "reachable": not limited, "proxy": "",
         "proxy_randomize_credentials": False}
        for name, limited in (("ipv4", False), ("ipv6", False), ("onion", True),
                              ("i2p", True), ("cjdns", True))
    ]
    return {
        "version": VERSION,
        "subversion": SUBVERSION,
        "protocolversion": 70017,
        "localservices": "0000000000000c09",
        "localservicesnames": ["NETWORK", "WITNESS", "NETWORK_LIMITED", "P2P_V2"],
        "localrelay": True,
        "timeoffset": 0,
        "tx_send_rate": 14,
        "inv_buckets": {"inbound": dict(bucket), "outbound": dict(bucket)},
        "networkactive": True,
        "connections": 0,
        "connections_in": 0,
        "connections_out": 0,
        "networks": networks,
        "relayfee": Amount(100),
        "incrementalfee": Amount(100),
        "localaddresses": [],
        "warnings": [],
    }


def _getzmqnotifications(d: Dispatcher, args: list[Any]) -> Any:
    return d.info.zmq_notifications


def _uptime(d: Dispatcher, args: list[Any]) -> Any:
    return max(0, d.engine.now() - d.engine.start_time)


def _stop(d: Dispatcher, args: list[Any]) -> Any:
    d.info.request_stop()
    return "Bitcoin Core stopping"


def _setmocktime(d: Dispatcher, args: list[Any]) -> Any:
    timestamp = args[0]
    if not isinstance(timestamp, int) or timestamp < 0:
        raise SimRpcError(RPC_INVALID_PARAMETER, f"Mocktime cannot be negative: {timestamp}")
    d.engine.mocktime = timestamp
    return None


def _help(d: Dispatcher, args: list[Any]) -> Any:
    if args[0] is not None:
        spec = METHODS.get(args[0])
        if spec is None:
            return f"help: unknown command: {args[0]}"
        return f"{_usage(args[0], spec.params)}\n\n{spec.summary}\n"
    return "== Simnode ==\n" + "\n".join(
        _usage(name, spec.params) for name, spec in sorted(METHODS.items())
    )


def _m(handler: Handler, summary: str, *params: Param) -> Method:
    return Method(list(params), handler, summary)


METHODS: dict[str, Method] = {
    "getblockchaininfo": _m(_getblockchaininfo, "Chain state summary."),
    "getblockcount": _m(_getblockcount, "Height of the active tip."),
    "getbestblockhash": _m(_getbestblockhash, "Hash of the active tip."),
    "getblockhash": _m(_getblockhash, "Hash of the active block at a height.",
                       Param("height", (NUM,))),
    "getblockheader": _m(_getblockheader, "A block header, as JSON or hex.",
                         Param("blockhash", (STR,)), Param("verbose", (BOOL,), True)),
    "getblock": _m(_getblock, "A block at verbosity 0 (hex) to 3 (with prevouts).",
                   Param("blockhash", (STR,)), Param("verbosity|verbose", (ANY,), 1)),
    "getchaintips": _m(_getchaintips, "Every branch tip of the block tree."),
    "getrawmempool": _m(_getrawmempool, "Mempool txids, entries, or txids with sequence.",
                        Param("verbose", (BOOL,), False),
                        Param("mempool_sequence", (BOOL,), False)),
    "getmempoolinfo": _m(_getmempoolinfo, "Mempool summary."),
    "getmempoolentry": _m(_getmempoolentry, "One mempool entry.", Param("txid", (STR,))),
    "getrawtransaction": _m(_getrawtransaction, "A transaction (mempool, or any block).",
                            Param("txid", (STR,)), Param("verbosity|verbose", (ANY,), 0),
                            Param("blockhash", (STR,), None)),
    "decoderawtransaction": _m(_decoderawtransaction, "Decode a raw transaction.",
                               Param("hexstring", (STR,)), Param("iswitness", (BOOL,), None)),
    "sendrawtransaction": _m(_sendrawtransaction,
                             "Submit a transaction (inputs, amounts and policy are checked; "
                             "scripts and signatures are not).",
                             Param("hexstring", (STR,)), Param("maxfeerate", (NUM, STR), 0.10),
                             Param("maxburnamount", (NUM, STR), 0)),
    "submitblock": _m(_submitblock, "Submit a block; BIP22 result.",
                      Param("hexdata", (STR,)), Param("dummy", (STR,), None)),
    "generatetoaddress": _m(_generatetoaddress, "Mine blocks to an address.",
                            Param("nblocks", (NUM,)), Param("address", (STR,)),
                            Param("maxtries", (NUM,), 1000000)),
    "generatetodescriptor": _m(_generatetodescriptor, "Mine blocks to a raw()/addr() descriptor.",
                               Param("num_blocks", (NUM,)), Param("descriptor", (STR,)),
                               Param("maxtries", (NUM,), 1000000)),
    "generateblock": _m(_generateblock, "Mine one block with the given transactions.",
                        Param("output", (STR,)), Param("transactions", (ARR,)),
                        Param("submit", (BOOL,), True)),
    "invalidateblock": _m(_invalidateblock, "Mark a block invalid.", Param("blockhash", (STR,))),
    "reconsiderblock": _m(_reconsiderblock, "Clear invalid marks.", Param("blockhash", (STR,))),
    "getdescriptorinfo": _m(_getdescriptorinfo, "Checksum and info of a raw()/addr() descriptor.",
                            Param("descriptor", (STR,))),
    "getnetworkinfo": _m(_getnetworkinfo, "Network summary (no peers)."),
    "getzmqnotifications": _m(_getzmqnotifications, "Active ZMQ publishers."),
    "uptime": _m(_uptime, "Seconds since start."),
    "stop": _m(_stop, "Stop the node."),
    "setmocktime": _m(_setmocktime, "Set the node's clock (0 for real time).",
                      Param("timestamp", (NUM,))),
    "help": _m(_help, "List commands, or one command's usage.", Param("command", (STR,), None)),
}
