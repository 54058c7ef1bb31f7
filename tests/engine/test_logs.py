"""Logs: secrets and URL credentials are masked on every path, JSON lines when not a terminal."""

from __future__ import annotations

import io
import json
import logging

from loguru import logger

from controller.engine.logs import configure_logging, redact, register_secret


def test_registered_secrets_and_url_credentials_never_reach_a_sink() -> None:
    stream = io.StringIO()
    configure_logging("INFO", "json", stream)
    register_secret("K-log-secret-42")
    logger.bind(cycle="c1", revision="r1", url="https://bot:ghp_tok@git.example/x.git").info(
        "calling with Bearer P1:K-log-secret-42 and https://bot:ghp_tok@git.example/x.git"
    )
    logging.getLogger("apscheduler").error("job failed", exc_info=RuntimeError("K-log-secret-42"))
    output = stream.getvalue()
    assert "K-log-secret-42" not in output and "ghp_tok" not in output
    lines = [json.loads(line) for line in output.splitlines()]
    assert lines[0]["record"]["extra"]["cycle"] == "c1"
    assert "Bearer P1:***" in lines[0]["record"]["message"]
    assert lines[1]["record"]["message"].startswith("apscheduler: job failed: RuntimeError: ***")


def test_redact_masks_userinfo_in_any_scheme() -> None:
    assert redact("ssh://git:pw@host/repo and https://tok@host") == "ssh://***@host/repo and https://***@host"
