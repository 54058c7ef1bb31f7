"""Logs: secrets and URL credentials are masked on every path; JSON lines are flat; ``auto`` depends on the command."""

from __future__ import annotations

import io
import json
import logging
import re
from collections.abc import Iterator
from typing import Any

import pytest
from loguru import logger

from controller.engine.logs import (
    FIXED_KEYS,
    configure_logging,
    redact,
    register_secret,
    resolve_format,
)

SECRET = "K-log-secret-42"
RFC3339_UTC_MS = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")


class _Stream(io.StringIO):
    def __init__(self, tty: bool) -> None:
        super().__init__()
        self._tty = tty

    def isatty(self) -> bool:
        return self._tty


@pytest.fixture
def json_logs() -> Iterator[io.StringIO]:
    stream = io.StringIO()
    configure_logging("DEBUG", "json", stream)
    register_secret(SECRET)
    yield stream
    configure_logging("WARNING", "text")


def lines(stream: io.StringIO) -> list[dict[str, Any]]:
    parsed = [json.loads(line) for line in stream.getvalue().splitlines()]
    assert all(isinstance(line, dict) for line in parsed)
    return parsed


def test_registered_secrets_and_url_credentials_never_reach_a_sink(json_logs: io.StringIO) -> None:
    logger.bind(cycle="c1", revision="r1", url="https://bot:ghp_tok@git.example/x.git").info(
        "calling with Bearer P1:K-log-secret-42 and https://bot:ghp_tok@git.example/x.git"
    )
    logging.getLogger("apscheduler.scheduler").error("job failed", exc_info=RuntimeError(SECRET))
    output = json_logs.getvalue()
    assert SECRET not in output and "ghp_tok" not in output
    first, second = lines(json_logs)
    assert first["cycle"] == "c1" and first["url"] == "https://***@git.example/x.git"
    assert "Bearer P1:***" in first["msg"]
    assert second["logger"] == "apscheduler.scheduler" and second["msg"] == "job failed"
    assert (second["error"], second["exc_type"]) == ("***", "RuntimeError")


def test_a_json_line_is_flat_with_the_fixed_keys_first_and_bound_fields_at_top_level(
    json_logs: io.StringIO,
) -> None:
    logger.bind(
        cycle="c1", revision="abc123", tenant="acme", event="flapping", field="customAttributes.plan", reverts=3
    ).warning("stopped correcting acme")
    logger.info("outside any cycle")
    bound, plain = lines(json_logs)
    assert list(bound)[: len(FIXED_KEYS)] == list(FIXED_KEYS)
    assert RFC3339_UTC_MS.match(bound["ts"]), bound["ts"]
    assert bound["level"] == "warning" and plain["level"] == "info"
    assert bound["logger"] == __name__  # the module that logged
    assert bound["msg"] == "stopped correcting acme"
    assert (bound["cycle"], bound["revision"], bound["tenant"], bound["event"]) == (
        "c1",
        "abc123",
        "acme",
        "flapping",
    )
    assert bound["field"] == "customAttributes.plan" and bound["reverts"] == 3
    assert "record" not in bound and "extra" not in bound and "text" not in bound
    # every line has the same fixed keys: null when not known
    assert list(plain) == list(FIXED_KEYS) and plain["cycle"] is None and plain["tenant"] is None


def test_a_bound_key_never_overwrites_a_fixed_one_and_values_stay_json(json_logs: io.StringIO) -> None:
    class Opaque:
        def __str__(self) -> str:
            return f"opaque holding {SECRET}"

    logger.bind(
        msg="mine",
        level="custom",
        ts=1,
        logger="someone",
        fields=["name", SECRET],
        changes={"plan": {"from": "free", "to": SECRET}},
        obj=Opaque(),
        ratio=float("nan"),
    ).info("the real message")
    (line,) = lines(json_logs)
    assert line["msg"] == "the real message" and line["level"] == "info" and line["logger"] == __name__
    assert (line["extra_msg"], line["extra_level"], line["extra_ts"], line["extra_logger"]) == (
        "mine",
        "custom",
        1,
        "someone",
    )
    assert line["fields"] == ["name", "***"]
    assert line["changes"] == {"plan": {"from": "free", "to": "***"}}
    assert line["obj"] == "opaque holding ***" and line["ratio"] == "nan"
    assert SECRET not in json_logs.getvalue()


def test_an_exception_is_three_string_fields_redacted(json_logs: io.StringIO) -> None:
    try:
        raise ValueError(f"cannot reach https://bot:tok@git.example with {SECRET}")
    except ValueError:
        logger.bind(cycle="c9").exception("source failed")
    (line,) = lines(json_logs)
    assert line["exc_type"] == "ValueError"
    assert line["error"] == "cannot reach https://***@git.example with ***"
    assert isinstance(line["stack"], str) and line["stack"].startswith("Traceback (most recent call last):")
    assert "test_an_exception_is_three_string_fields_redacted" in line["stack"]
    assert SECRET not in line["stack"] and "tok@" not in line["stack"]
    assert line["cycle"] == "c9"


def test_text_lines_are_not_json_and_name_library_loggers() -> None:
    stream = io.StringIO()
    configure_logging("INFO", "text", stream)
    register_secret(SECRET)
    logger.bind(cycle="c1", revision="r1").info("hello {}", SECRET)
    logging.getLogger("apscheduler").error("job failed", exc_info=RuntimeError(SECRET))
    first, second = stream.getvalue().splitlines()
    assert first.endswith("INFO    [cycle=c1 revision=r1] hello ***")
    assert second.endswith("ERROR   apscheduler: job failed: RuntimeError: ***")
    assert SECRET not in stream.getvalue() and "{" not in stream.getvalue()
    configure_logging("WARNING", "text")


@pytest.mark.parametrize(
    ("fmt", "tty", "daemon", "expected"),
    [
        ("auto", False, True, "json"),  # the daemon in a pod: its log pipeline reads JSON
        ("auto", False, False, "text"),  # a one-shot command in CI: a person reads the log
        ("auto", True, True, "text"),
        ("auto", True, False, "text"),
        ("json", True, False, "json"),  # asked for: always
        ("text", False, True, "text"),
    ],
)
def test_auto_is_json_off_a_terminal_for_the_daemon_only(fmt: str, tty: bool, daemon: bool, expected: str) -> None:
    assert resolve_format(fmt, _Stream(tty), daemon=daemon) == expected


def test_resolve_format_refuses_an_unknown_format() -> None:
    with pytest.raises(ValueError, match="auto, text, json"):
        resolve_format("yaml", _Stream(False), daemon=True)


def test_redact_masks_userinfo_in_any_scheme() -> None:
    assert redact("ssh://git:pw@host/repo and https://tok@host") == "ssh://***@host/repo and https://***@host"
