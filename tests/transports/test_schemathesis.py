"""Schemathesis over the served OpenAPI schema: no 5xx, no response that breaks the schema."""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

import pytest

from chaincrawler.examples.balances import AddressBalances
from chaincrawler.examples.stored_balances import StoredAddressBalances
from tests.transports.conftest import Serve


@pytest.mark.parametrize("store_url", ["sqlite", "postgresql"], indirect=True)
async def test_generated_requests_get_no_5xx_and_responses_match_the_schema(
        serve: Serve, tmp_path: Path) -> None:
    served = await serve(blocks=1, models=[AddressBalances(), StoredAddressBalances()])
    await served.gen.reorg(1, 2)  # so reorg routes have something to serve
    await served.synced()
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "schemathesis.cli", "run", f"{served.url}/v1/openapi.json",
        "--checks", "not_a_server_error,response_schema_conformance,status_code_conformance,"
        "content_type_conformance",
        "--max-examples", "10", "--generation-deterministic", "--no-color",
        "--request-timeout", "20",
        cwd=tmp_path,  # its example cache stays out of the work tree
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT)
    output, _ = await asyncio.wait_for(process.communicate(), 600)
    text = output.decode()
    assert process.returncode == 0, text[-6000:]
