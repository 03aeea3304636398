"""Regtest node processes for integration tests: a real bitcoind (``BITCOIND`` set) or simnode.

Both run as a subprocess with the same Bitcoin Core flags, free ports on 127.0.0.1, a
given datadir, RPC user/password auth, REST and five ZMQ publishers::

    handle = launch(tmp_path / "node")       # waits until it answers RPC
    async with NodeClient(handle.url_with_auth) as client: ...
    handle.stop()

``NodeHandle.call`` is a blocking JSON-RPC call for the process's lifecycle and for
scripts outside an event loop; tests use :class:`~chaincrawler.testing.rawrpc.RawRpc`
or a :class:`~chaincrawler.NodeClient`.
"""

from __future__ import annotations

import base64
import contextlib
import json
import os
import secrets
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from chaincrawler.errors import ChaincrawlerError
from chaincrawler.node.zmq import ZMQ_TOPICS

STARTUP_TIMEOUT = 60.0
STOP_TIMEOUT = 30.0


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class NodeStartError(ChaincrawlerError):
    """The node exited or never answered RPC; the message ends with its log tail."""


@dataclass
class NodeHandle:
    """A running regtest node: where to reach it and how to restart or stop it."""

    kind: str  # "bitcoind" or "simnode"
    datadir: Path
    binary: str | None = None
    rpc_port: int = field(default_factory=free_port)
    zmq_ports: dict[str, int] = field(
        default_factory=lambda: {topic: free_port() for topic in ZMQ_TOPICS}
    )
    user: str = "chaincrawler"
    password: str = field(default_factory=lambda: secrets.token_hex(8))
    process: subprocess.Popen[bytes] | None = None
    version: int = 0

    # ---------------------------------------------------------------- addresses

    @property
    def rpc_url(self) -> str:
        """The JSON-RPC URL, without credentials."""
        return f"http://127.0.0.1:{self.rpc_port}"

    @property
    def auth(self) -> tuple[str, str]:
        return self.user, self.password

    @property
    def url_with_auth(self) -> str:
        return f"http://{self.user}:{self.password}@127.0.0.1:{self.rpc_port}"

    @property
    def rest_url(self) -> str:
        """Base of REST paths (``/rest/...``): Core serves REST on the RPC port."""
        return self.rpc_url

    @property
    def zmq_endpoints(self) -> dict[str, str]:
        return {topic: f"tcp://127.0.0.1:{port}" for topic, port in self.zmq_ports.items()}

    @property
    def log_file(self) -> Path:
        """bitcoind's debug.log, or the captured output of simnode."""
        if self.kind == "bitcoind":
            return self.datadir / "regtest" / "debug.log"
        return self.datadir / "output.log"

    # ---------------------------------------------------------------- lifecycle

    def argv(self) -> list[str]:
        """The command line: Core's flags, which simnode accepts too (it ignores most)."""
        flags = [
            "-regtest",
            f"-datadir={self.datadir}",
            "-server",
            "-txindex",
            "-rest",
            "-listen=0",
            f"-rpcport={self.rpc_port}",
            "-rpcbind=127.0.0.1",
            "-rpcallowip=127.0.0.1",
            f"-rpcuser={self.user}",
            f"-rpcpassword={self.password}",
            "-fallbackfee=0.0001",
            "-printtoconsole=0",
            *(f"-zmqpub{t}=tcp://127.0.0.1:{p}" for t, p in self.zmq_ports.items()),
        ]
        if self.kind == "simnode":
            return [sys.executable, "-m", "chaincrawler.testing.simnode", *flags]
        assert self.binary is not None
        return [self.binary, *flags, "-connect=0", "-debug=zmq"]

    def start(self) -> None:
        """Start the node and wait until it answers RPC (Core's -28 warm-up included)."""
        self.datadir.mkdir(parents=True, exist_ok=True)
        with open(self.datadir / "output.log", "ab") as out:
            self.process = subprocess.Popen(self.argv(), stdout=out, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + STARTUP_TIMEOUT
        while True:
            if self.process.poll() is not None:
                raise NodeStartError(
                    f"{self.kind} exited with code {self.process.returncode}\n{self.log_tail()}"
                )
            try:
                self.version = int(self.call("getnetworkinfo")["version"])
                return
            except (OSError, RpcCallError) as exc:
                if time.monotonic() > deadline:
                    self.kill()
                    raise NodeStartError(
                        f"{self.kind} not ready after {STARTUP_TIMEOUT:g}s ({exc})\n"
                        f"{self.log_tail()}"
                    ) from None
                time.sleep(0.1)

    def stop(self) -> None:
        """``stop`` over RPC, then wait for the process; kill it after a timeout."""
        if self.process is None or self.process.poll() is not None:
            return
        with contextlib.suppress(OSError, RpcCallError):
            self.call("stop")
        try:
            self.process.wait(STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            self.kill()

    def kill(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait()

    def restart(self) -> None:
        """Stop and start again on the same datadir and ports."""
        self.stop()
        self.start()

    def log_tail(self, lines: int = 60) -> str:
        try:
            text = self.log_file.read_text(errors="replace")
        except OSError:
            return f"(no log at {self.log_file})"
        return "\n".join(text.splitlines()[-lines:])

    # ---------------------------------------------------------------- blocking RPC

    def call(self, method: str, *params: Any) -> Any:
        """A blocking JSON-RPC 2.0 call for fixtures (tests use the async client)."""
        body = json.dumps({"jsonrpc": "2.0", "id": 1, "method": method, "params": params})
        token = base64.b64encode(f"{self.user}:{self.password}".encode()).decode()
        request = urllib.request.Request(
            self.rpc_url,
            data=body.encode(),
            headers={"Authorization": f"Basic {token}", "Content-Type": "application/json"},
        )
        try:
            with urllib.request.urlopen(request, timeout=10) as reply:
                data = reply.read()
        except urllib.error.HTTPError as exc:
            data = exc.read()
        try:
            obj = json.loads(data)
        except ValueError:
            raise RpcCallError(f"{method}: not JSON: {data[:100]!r}") from None
        if obj.get("error"):
            raise RpcCallError(f"{method}: {obj['error']}")
        return obj.get("result")


class RpcCallError(ChaincrawlerError):
    """A blocking RPC call failed (node error, warm-up, or bad reply)."""


def launch(datadir: Path) -> NodeHandle:
    """Start bitcoind when ``BITCOIND`` names its binary, else simnode, in ``datadir``."""
    binary = os.environ.get("BITCOIND")
    handle = (
        NodeHandle("bitcoind", datadir, binary=binary) if binary else NodeHandle("simnode", datadir)
    )
    handle.start()
    return handle
