"""Core-style command line of the simulated node."""

from __future__ import annotations

import pytest

from chaincrawler.testing.simnode import SimNodeError, main, parse_args


def test_core_flags_are_understood() -> None:
    opts = parse_args(["-regtest", "-datadir=/tmp/x", "-rpcport=18555", "-rest", "-txindex",
                       "-rpcuser=u", "-rpcpassword=p", "-zmqpubrawtx=tcp://127.0.0.1:28332",
                       "-zmqpubsequence=tcp://127.0.0.1:28332", "-server=1", "-listen=0"])
    assert (opts.datadir, opts.rpc_port, opts.rest) == ("/tmp/x", 18555, True)
    assert (opts.rpcuser, opts.rpcpassword) == ("u", "p")
    assert opts.zmq == {"rawtx": "tcp://127.0.0.1:28332", "sequence": "tcp://127.0.0.1:28332"}


@pytest.mark.parametrize("argv", [
    ["-datadir=/tmp/x", "-bogus"],
    ["-datadir=/tmp/x", "-rpcbind=0.0.0.0"],
    ["-datadir=/tmp/x", "-chain=main"],
    ["-regtest"],
])
def test_bad_flags_are_refused(argv: list[str]) -> None:
    with pytest.raises(SimNodeError):
        parse_args(argv)


def test_main_reports_usage_errors(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["-regtest", "-nosuchflag", "-datadir=/tmp/x"]) == 1
    assert "Invalid parameter -nosuchflag" in capsys.readouterr().err


def test_help_names_the_chaincrawler_command(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--help"]) == 0
    assert capsys.readouterr().out.startswith("Usage: chaincrawler simnode -regtest")
