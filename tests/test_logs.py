"""Logging: JSON lines or pretty console, stdlib routed through structlog, secrets redacted."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator
from datetime import datetime, timedelta

import pytest
import structlog

from chaincrawler.logs import configure_logging, get_logger, redact_text


@pytest.fixture(autouse=True)
def _restore_logging() -> Iterator[None]:
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    yield
    root.handlers[:] = handlers
    root.setLevel(level)
    structlog.reset_defaults()


class FakeTTY(io.StringIO):
    def isatty(self) -> bool:
        return True


def json_lines(stream: io.StringIO) -> list[dict[str, object]]:
    return [json.loads(line) for line in stream.getvalue().splitlines()]


def test_json_lines_carry_timestamp_level_logger_and_fields():
    out = io.StringIO()
    configure_logging("INFO", "json", out)
    get_logger("chaincrawler.crawler").info("block committed", height=101, events=3)
    [record] = json_lines(out)
    assert record["event"] == "block committed"
    assert record["level"] == "info"
    assert record["logger"] == "chaincrawler.crawler"
    assert (record["height"], record["events"]) == (101, 3)
    timestamp = datetime.fromisoformat(str(record["timestamp"]))
    assert timestamp.utcoffset() == timedelta(0)


def test_stdlib_logging_of_libraries_comes_out_in_the_same_format():
    out = io.StringIO()
    configure_logging("INFO", "json", out)
    logging.getLogger("aiohttp.client").warning("retrying %s after %d s", "getblock", 2)
    [record] = json_lines(out)
    assert record["event"] == "retrying getblock after 2 s"
    assert record["level"] == "warning"
    assert record["logger"] == "aiohttp.client"
    assert "timestamp" in record


def test_auto_is_json_for_a_pipe_and_pretty_for_a_terminal():
    pipe, tty = io.StringIO(), FakeTTY()
    configure_logging("INFO", "auto", pipe)
    get_logger("t").info("to the pipe")
    assert json_lines(pipe)[0]["event"] == "to the pipe"

    configure_logging("INFO", "auto", tty)
    get_logger("t").info("to the terminal")
    line = tty.getvalue()
    assert "to the terminal" in line
    assert not line.lstrip().startswith("{")


def test_pretty_when_forced_shows_level_logger_and_fields_without_colours():
    out = io.StringIO()
    configure_logging("INFO", "pretty", out)
    get_logger("chaincrawler.crawler").warning("reorg handled", depth=2)
    text = out.getvalue()
    assert "reorg handled" in text
    assert "warning" in text
    assert "chaincrawler.crawler" in text
    assert "depth=2" in text
    assert "\x1b[" not in text  # no ANSI colours into something that is not a terminal
    with pytest.raises(json.JSONDecodeError):
        json.loads(text)


def test_level_filters_both_structlog_and_stdlib_records():
    out = io.StringIO()
    configure_logging("WARNING", "json", out)
    get_logger("t").info("hidden")
    logging.getLogger("lib").info("hidden too")
    get_logger("t").error("shown")
    assert [r["event"] for r in json_lines(out)] == ["shown"]

    configure_logging("debug", "json", out)
    get_logger("t").debug("now visible")
    assert json_lines(out)[-1]["event"] == "now visible"


def test_configuring_twice_does_not_duplicate_output():
    first, second = io.StringIO(), io.StringIO()
    configure_logging("INFO", "json", first)
    configure_logging("INFO", "json", second)
    get_logger("t").info("once")
    logging.getLogger("lib").info("once too")
    assert first.getvalue() == ""
    assert [r["event"] for r in json_lines(second)] == ["once", "once too"]


def test_loggers_made_before_configuration_follow_it():
    early = get_logger("early")
    out = io.StringIO()
    configure_logging("INFO", "json", out)
    early.info("configured later")
    assert json_lines(out)[0]["logger"] == "early"


@pytest.mark.parametrize("fmt", ["json", "pretty"])
def test_secret_keys_and_url_credentials_are_redacted(fmt):
    out = io.StringIO()
    configure_logging("INFO", fmt, out)
    get_logger("t").info(
        "connecting to http://alice:s3cr3t@node:8332",
        rpc_password="hunter2",
        password="pw1",
        headers={"Authorization": "Basic YWxpY2U6czNjcjN0", "Cookie": "session=abc"},
        urls=["postgresql://crawler:pgpass@db/chain"],
        cookie_file="/home/bitcoin/.bitcoin/.cookie",
    )
    logging.getLogger("aiohttp").warning("GET %s failed", "https://u:tok3n@api/x")
    text = out.getvalue()
    for secret in ("s3cr3t", "hunter2", "pw1", "YWxpY2U6czNjcjN0", "abc", "pgpass", "tok3n"):
        assert secret not in text
    assert "http://***@node:8332" in text
    assert "postgresql://***@db/chain" in text
    assert "/home/bitcoin/.bitcoin/.cookie" in text  # a path is not a secret


def test_redacted_json_keeps_the_keys():
    out = io.StringIO()
    configure_logging("INFO", "json", out)
    get_logger("t").info("auth", rpc_password="hunter2", nested={"api_token": "x1", "n": 1})
    [record] = json_lines(out)
    assert record["rpc_password"] == "***"
    assert record["nested"] == {"api_token": "***", "n": 1}


@pytest.mark.parametrize("fmt", ["json", "pretty"])
def test_tracebacks_are_logged_with_credentials_redacted(fmt):
    out = io.StringIO()
    configure_logging("INFO", fmt, out)
    try:
        raise ConnectionError("cannot reach http://alice:s3cr3t@node:8332")
    except ConnectionError:
        get_logger("t").exception("node unreachable")
    text = out.getvalue()
    assert "Traceback" in text
    assert "ConnectionError: cannot reach http://***@node:8332" in text
    assert "s3cr3t" not in text


def test_redact_text_masks_every_url_with_credentials():
    text = "a http://u:p@h:1/x and b postgresql://user@db/c and c https://h/no-creds"
    assert (
        redact_text(text)
        == "a http://***@h:1/x and b postgresql://***@db/c and c https://h/no-creds"
    )


def test_unknown_level_or_format_is_refused():
    with pytest.raises(ValueError, match="unknown log level 'LOUD'"):
        configure_logging("LOUD", "json", io.StringIO())
    with pytest.raises(ValueError, match="unknown log format 'xml'"):
        configure_logging("INFO", "xml", io.StringIO())
