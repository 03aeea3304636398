"""Command line of the simulated node, with Bitcoin Core's ``-flag=value`` options."""

from __future__ import annotations

import asyncio
import contextlib
import signal
import sys
from collections.abc import Sequence
from dataclasses import dataclass, field

from chaincrawler.node.zmq import ZMQ_TOPICS
from chaincrawler.testing.simnode.simnode import SimNode, SimNodeError

DEFAULT_RPC_PORT = 18443
# Core options a test harness passes that change nothing for the simulated node.
_IGNORED = {
    "server", "txindex", "listen", "printtoconsole", "debug", "debugexclude", "discover",
    "dnsseed", "upnp", "natpmp", "fallbackfee", "port", "bind", "logtimemicros",
    "shrinkdebugfile", "keypool", "disablewallet", "rpcallowip", "rpcthreads",
    "rpcworkqueue", "fixedseeds", "peertimeout", "logthreadnames", "uacomment",
    "rpcservertimeout", "persistmempool", "acceptnonstdtxn", "checkblocks", "blockfilterindex",
}
_IGNORED |= {f"zmqpub{t}hwm" for t in ZMQ_TOPICS}

USAGE = """\
Usage: chaincrawler simnode -regtest -datadir=<dir> [options]

A simulated Bitcoin Core regtest node (no script or signature checks).

  -regtest / -chain=regtest   the only chain it simulates
  -datadir=<dir>             data directory (required)
  -rpcport=<port>            JSON-RPC and REST port (default 18443; 0 = any free port)
  -rpcbind=127.0.0.1         the only address it binds
  -rpcuser=<u> -rpcpassword=<p>   credentials (default: cookie in <datadir>/regtest/.cookie)
  -rest                      serve /rest/
  -zmqpub<topic>=tcp://127.0.0.1:<port>   topic: hashblock hashtx rawblock rawtx sequence
"""


class UsageError(SimNodeError):
    """A command-line option is unknown or has a bad value."""


@dataclass
class SimNodeOptions:
    """Parsed command line."""

    datadir: str = ""
    rpc_port: int = DEFAULT_RPC_PORT
    rest: bool = False
    rpcuser: str | None = None
    rpcpassword: str | None = None
    zmq: dict[str, str] = field(default_factory=dict)


def _flag(value: str | None) -> bool:
    return value is None or value not in ("0", "false")


def parse_args(argv: Sequence[str]) -> SimNodeOptions:
    """Parse Core-style options (``-name``, ``-name=value``, ``--name`` also accepted)."""
    opts = SimNodeOptions()
    for arg in argv:
        if not arg.startswith("-"):
            raise UsageError(f"Error: Command line contains unexpected token '{arg}'")
        name, sep, value = arg.lstrip("-").partition("=")
        val = value if sep else None
        if name.startswith("no") and name[2:] in ("rest",):
            name, val = name[2:], "0"
        if name == "regtest":
            continue
        if name == "chain":
            if val != "regtest":
                raise UsageError(f"Error: the simulated node only runs -chain=regtest, not {val}")
        elif name == "datadir" and val:
            opts.datadir = val
        elif name == "rpcport" and val is not None:
            if not val.isdigit() or int(val) > 65535:
                raise UsageError(f"Error: Invalid port specified in -rpcport: '{val}'")
            opts.rpc_port = int(val)
        elif name == "rpcbind":
            if val not in ("127.0.0.1", None):
                raise UsageError("Error: the simulated node binds 127.0.0.1 only")
        elif name == "rpcuser":
            opts.rpcuser = val or ""
        elif name == "rpcpassword":
            opts.rpcpassword = val or ""
        elif name == "rest":
            opts.rest = _flag(val)
        elif name.startswith("zmqpub") and name[6:] in ZMQ_TOPICS and val:
            opts.zmq[name[6:]] = val
        elif name in _IGNORED:
            continue
        else:
            raise UsageError(f"Error: Invalid parameter -{name}")
    if not opts.datadir:
        raise UsageError("Error: -datadir=<dir> is required")
    if opts.rpcuser is not None and opts.rpcpassword is None:
        raise UsageError("Error: -rpcuser needs -rpcpassword")
    if opts.rpcpassword is not None and opts.rpcuser is None:
        opts.rpcuser = ""
    return opts


async def _serve(opts: SimNodeOptions) -> None:
    node = SimNode(opts.datadir, opts.rpc_port, opts.rest, opts.zmq, opts.rpcuser, opts.rpcpassword)
    await node.start()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError):
            loop.add_signal_handler(sig, lambda: asyncio.ensure_future(node.stop()))
    print(f"simnode: regtest RPC on {node.rpc_url}, datadir {node.datadir}", flush=True)
    for topic, address in node.zmq_endpoints.items():
        print(f"simnode: zmqpub{topic} on {address}", flush=True)
    await node.wait_stopped()


def main(argv: Sequence[str] | None = None) -> int:
    """Run the simulated node until ``stop`` or a signal; returns the exit status."""
    args = list(sys.argv[1:] if argv is None else argv)
    if any(a in ("-h", "-help", "--help", "-?") for a in args):
        print(USAGE, end="")
        return 0
    try:
        opts = parse_args(args)
        asyncio.run(_serve(opts))
    except SimNodeError as exc:
        print(str(exc), file=sys.stderr)
        return 1
    return 0
