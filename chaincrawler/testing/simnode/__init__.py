"""A simulated Bitcoin Core regtest node: JSON-RPC, REST and ZMQ as Core serves them.

In-process use::

    async with SimNode(datadir, rpc_port=0, rest=True,
                       zmq={"sequence": "tcp://127.0.0.1:0"}) as node:
        node.rpc_url, node.rest_url, node.zmq_endpoints, node.auth

From a shell: ``chaincrawler simnode -regtest -datadir=DIR -rpcport=18443 -rest
-zmqpubsequence=tcp://127.0.0.1:28332`` (``-help`` lists the options).

Transactions are checked for inputs, amounts, maturity and Core's main policy
rules, but scripts and signatures are NOT evaluated.
"""

from __future__ import annotations

from chaincrawler.testing.simnode.cli import SimNodeOptions, main, parse_args
from chaincrawler.testing.simnode.simnode import SimNode, SimNodeError

__all__ = ["SimNode", "SimNodeError", "SimNodeOptions", "main", "parse_args"]
