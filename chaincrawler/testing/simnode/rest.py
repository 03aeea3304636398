"""Bitcoin Core's REST interface (doc/REST-interface.md) for the simulated node.

Formats: ``.bin`` (application/octet-stream), ``.hex`` (text/plain, newline-ended),
``.json`` (application/json, newline-ended). Errors are text/plain ``message\\r\\n``
with 400 for bad input and 404 for unknown objects or formats, as ``rest.cpp`` does.
"""

from __future__ import annotations

import re

from aiohttp import web

from chaincrawler.chain.wire import compact_size
from chaincrawler.testing.simnode import views
from chaincrawler.testing.simnode.chainstate import BlockIndex, Coin
from chaincrawler.testing.simnode.jsonenc import Amount, dumps
from chaincrawler.testing.simnode.node import Engine
from chaincrawler.testing.simnode.rpc import blockchain_info

MAX_HEADERS = 2000
_FORMATS = ("bin", "hex", "json")
_HASH = re.compile(r"\A[0-9a-fA-F]{64}\Z")
_AVAILABLE = "output format not found (available: .bin, .hex, .json)"
_JSON_ONLY = "output format not found (available: json)"


def _response(body: bytes, content_type: str, status: int = 200) -> web.Response:
    return web.Response(status=status, body=body, headers={"Content-Type": content_type})


def _error(status: int, message: str) -> web.Response:
    return _response(f"{message}\r\n".encode(), "text/plain", status)


def _parse_format(part: str) -> tuple[str, str]:
    """Core's ``ParseDataFormat``: (parameter, format or '')."""
    param = part.split("?", 1)[0]
    dot = param.rfind(".")
    if dot >= 0 and param[dot + 1 :] in _FORMATS:
        return param[:dot], param[dot + 1 :]
    return param, ""


def _reply(fmt: str, raw: bytes, json_body: object, available: str = _AVAILABLE) -> web.Response:
    if fmt == "bin":
        return _response(raw, "application/octet-stream")
    if fmt == "hex":
        return _response(f"{raw.hex()}\n".encode(), "text/plain")
    if fmt == "json":
        return _response(f"{dumps(json_body)}\n".encode(), "application/json")
    return _error(404, available)


class RestHandler:
    """Serves ``GET /rest/...`` from an :class:`Engine`."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    async def handle(self, request: web.Request) -> web.Response:
        path = request.path_qs[len("/rest/") :]
        routes = (
            ("tx/", self._tx),
            ("block/notxdetails/", self._block_txids),
            ("block/", self._block),
            ("chaininfo", self._chaininfo),
            ("mempool/", self._mempool),
            ("headers/", self._headers),
            ("blockhashbyheight/", self._blockhashbyheight),
            ("spenttxouts/", self._spent_txouts),
        )
        for prefix, handler in routes:
            if path.startswith(prefix):
                return handler(path[len(prefix) :], request)
        return web.Response(status=404)

    def _block_common(self, part: str, verbosity: int) -> web.Response:
        hash_str, fmt = _parse_format(part)
        if not _HASH.match(hash_str):
            return _error(400, f"Invalid hash: {hash_str}")
        idx = self.engine.chain.lookup(bytes.fromhex(hash_str)[::-1])
        if idx is None:
            return _error(404, f"{hash_str} not found")
        if fmt != "json":
            return _reply(fmt, idx.block.serialize(), None)
        return _reply(fmt, b"", views.block_json(self.engine.chain, idx, verbosity))

    def _block(self, part: str, request: web.Request) -> web.Response:
        return self._block_common(part, 3)

    def _block_txids(self, part: str, request: web.Request) -> web.Response:
        return self._block_common(part, 1)

    def _headers(self, part: str, request: web.Request) -> web.Response:
        param, fmt = _parse_format(part)
        pieces = param.split("/")
        if len(pieces) == 2:
            raw_count, hash_str = pieces
        elif len(pieces) == 1:
            hash_str, raw_count = pieces[0], request.query.get("count", "5")
        else:
            return _error(
                400, "Invalid URI format. Expected /rest/headers/<hash>.<ext>?count=<count>"
            )
        if not raw_count.isdigit() or not 1 <= int(raw_count) <= MAX_HEADERS:
            return _error(
                400,
                f"Header count is invalid or out of acceptable range (1-{MAX_HEADERS}): "
                f"{raw_count}",
            )
        if not _HASH.match(hash_str):
            return _error(400, f"Invalid hash: {hash_str}")
        chain = self.engine.chain
        idx = chain.lookup(bytes.fromhex(hash_str)[::-1])
        headers = []
        if idx is not None and chain.contains(idx):
            headers = chain.active[idx.height : idx.height + int(raw_count)]
        raw = b"".join(h.header.serialize() for h in headers)
        return _reply(fmt, raw, [views.header_json(chain, h) for h in headers])

    def _blockhashbyheight(self, part: str, request: web.Request) -> web.Response:
        height_str, fmt = _parse_format(part)
        if not height_str.isdigit() or int(height_str) > 0x7FFFFFFF:
            return _error(400, f"Invalid height: {height_str}")
        chain = self.engine.chain
        height = int(height_str)
        if height > chain.height:
            return _error(404, "Block height out of range")
        idx = chain.active[height]
        if fmt == "hex":
            return _response(f"{idx.hash_hex}\n".encode(), "text/plain")
        return _reply(fmt, idx.hash, {"blockhash": idx.hash_hex})

    def _spent_txouts(self, part: str, request: web.Request) -> web.Response:
        """Core's ``rest_spent_txouts``: per transaction the coins it spent, from undo data."""
        param, fmt = _parse_format(part)
        if "/" in param:
            return _error(400, "Invalid URI format. Expected /rest/spenttxouts/<hash>.<ext>")
        if not _HASH.match(param):
            return _error(400, f"Invalid hash: {param}")
        idx = self.engine.chain.lookup(bytes.fromhex(param)[::-1])
        if idx is None:
            return _error(404, f"{param} not found")
        spent = _spent_per_tx(idx)
        if spent is None:
            return _error(404, f"{param} undo not available")
        if fmt == "json":
            as_json = [
                [
                    {"value": Amount(c.value), "scriptPubKey": views.script_pubkey_json(c.script)}
                    for c in coins
                ]
                for coins in spent
            ]
            return _reply(fmt, b"", as_json)
        raw = bytearray(compact_size(len(spent)))
        for coins in spent:
            raw += compact_size(len(coins))
            for coin in coins:
                raw += coin.value.to_bytes(8, "little", signed=True)
                raw += compact_size(len(coin.script)) + coin.script
        return _reply(fmt, bytes(raw), None)

    def _chaininfo(self, part: str, request: web.Request) -> web.Response:
        _, fmt = _parse_format(part)
        if fmt != "json":
            return _error(404, _JSON_ONLY)
        return _reply(fmt, b"", blockchain_info(self.engine))

    def _mempool(self, part: str, request: web.Request) -> web.Response:
        param, fmt = _parse_format(part)
        if param not in ("contents", "info"):
            return _error(400, "Invalid URI format. Expected /rest/mempool/<info|contents>.json")
        if fmt != "json":
            return _error(404, _JSON_ONLY)
        mempool = self.engine.mempool
        if param == "info":
            return _reply(fmt, b"", views.mempool_info(mempool))
        verbose = request.query.get("verbose", "true")
        with_sequence = request.query.get("mempool_sequence", "false")
        if verbose not in ("true", "false"):
            return _error(400, 'The "verbose" query parameter must be either "true" or "false".')
        if with_sequence not in ("true", "false"):
            return _error(
                400, 'The "mempool_sequence" query parameter must be either "true" or "false".'
            )
        if verbose == "true" and with_sequence == "true":
            return _error(
                400,
                "Verbose results cannot contain mempool sequence values. "
                '(hint: set "verbose=false")',
            )
        if with_sequence == "true":
            body: object = {
                "txids": [e.tx.txid for e in mempool.entries.values()],
                "mempool_sequence": mempool.sequence,
            }
        else:
            body = views.raw_mempool(mempool, verbose == "true")
        return _reply(fmt, b"", body)

    def _tx(self, part: str, request: web.Request) -> web.Response:
        hash_str, fmt = _parse_format(part)
        if not _HASH.match(hash_str):
            return _error(400, f"Invalid hash: {hash_str}")
        txid = bytes.fromhex(hash_str)[::-1]
        chain = self.engine.chain
        entry = self.engine.mempool.entries.get(txid)
        block_hash = None
        if entry is not None:
            tx = entry.tx
        elif txid in chain.tx_index and txid != chain.active[0].block.transactions[0].txid_bytes:
            idx, position = chain.tx_index[txid]
            tx = idx.block.transactions[position]
            block_hash = idx.hash_hex
        else:
            return _error(404, f"{hash_str} not found")
        return _reply(fmt, tx.serialize(), views.tx_json(tx, block_hash=block_hash))


def _spent_per_tx(idx: BlockIndex) -> list[list[Coin]] | None:
    """The coins each transaction of ``idx`` spent (none for the coinbase); None when the
    block was never connected, so has no undo data."""
    if idx.undo is None:
        return None
    spent: list[list[Coin]] = [[]]
    pos = 0
    for tx in idx.block.transactions[1:]:
        spent.append(idx.undo[pos : pos + len(tx.inputs)])
        pos += len(tx.inputs)
    return spent
