"""The command line as a user runs it: the demo, bad settings, status, bad model specs."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest


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
    assert "reorg on the node" in out
    assert "rolled back" in out and "reorg #1" in out
    assert "equals the live state: yes" in out
    status = cli("status", cwd=tmp_path, env={"CHAINCRAWLER_STORE__URL": f"sqlite:///{db}",
                                              "CHAINCRAWLER_NETWORK": "regtest"})
    assert status.returncode == 0, status.stderr
    report = json.loads(status.stdout)
    assert report["tip"]["height"] > 100
    assert report["reorgs"][0]["depth"] == 3


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
