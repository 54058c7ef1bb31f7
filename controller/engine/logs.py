"""Logging set-up: loguru to stderr, text on a terminal and JSON lines otherwise, secrets redacted.

Secrets are registered once by the composition root (``register_secret``); every log record's
message and extra fields pass through ``redact`` before any sink sees them, and credentials in
URLs (``https://user:token@host``) are masked whatever they are.
"""

from __future__ import annotations

import json
import logging
import sys
from typing import TYPE_CHECKING, Any, TextIO

from loguru import logger

from controller.redaction import MASK as REDACTION_MASK
from controller.redaction import Redactor

if TYPE_CHECKING:
    from loguru import Record

_redactor = Redactor()
MASK = REDACTION_MASK
MAX_VALUE_CHARS = 120


def shown(value: Any, limit: int = MAX_VALUE_CHARS) -> str:
    """A tenant field value as log lines and reports show it: JSON, clipped to ``limit`` characters.

    Tenant values come from tenants.yaml or Descope and may be long; the log pipeline redacts
    registered secrets from the result like from any other text.
    """
    text = "(unset)" if value is None else json.dumps(value, ensure_ascii=False, sort_keys=True, default=str)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def register_secret(value: str | None) -> None:
    """Mask ``value`` (and its ``project:key`` bearer form is covered by substring) in all logs."""
    _redactor.add(value)


def redact(text: str) -> str:
    """``text`` with every registered secret and URL credential replaced by ``***``."""
    return _redactor(text)


def _redact_value(value: Any) -> Any:
    if isinstance(value, str):
        return redact(value)
    if isinstance(value, dict):
        return {k: _redact_value(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_redact_value(v) for v in value]
    return value


def _patch(record: Record) -> None:
    record["message"] = redact(record["message"])
    for key, value in list(record["extra"].items()):
        record["extra"][key] = _redact_value(value)


TEXT_FORMAT = "<green>{time:HH:mm:ss.SSS}</green> <level>{level: <7}</level> {extra[context]}<level>{message}</level>"


def _context(record: Record) -> None:
    extra = record["extra"]
    parts = [f"{k}={extra[k]}" for k in ("cycle", "revision") if k in extra]
    extra["context"] = f"[{' '.join(parts)}] " if parts else ""


class _InterceptHandler(logging.Handler):
    """Routes standard-library logging (APScheduler, httpx, GitPython) through loguru and its redaction."""

    def emit(self, record: logging.LogRecord) -> None:
        try:
            level: str | int = logger.level(record.levelname).name
        except ValueError:
            level = record.levelno
        message = record.getMessage()
        if record.exc_info and record.exc_info[1] is not None:
            # the exception's text only: tracebacks can carry URLs and values we cannot vet
            message += f": {type(record.exc_info[1]).__name__}: {record.exc_info[1]}"
        logger.opt(depth=6).log(level, "{}: {}", record.name, message)


def configure_logging(level: str = "INFO", fmt: str = "auto", stream: TextIO | None = None) -> None:
    """Send logs to ``stream`` (stderr): text on a TTY or when asked, else one JSON object per line."""
    stream = stream or sys.stderr
    as_json = fmt == "json" or (fmt == "auto" and not stream.isatty())
    logger.remove()

    def patcher(record: Record) -> None:
        _patch(record)
        _context(record)

    logger.configure(patcher=patcher)
    logging.basicConfig(handlers=[_InterceptHandler()], level=logging.WARNING, force=True)
    if as_json:
        logger.add(stream, level=level, serialize=True, backtrace=False, diagnose=False)
    else:
        logger.add(stream, level=level, format=TEXT_FORMAT, colorize=stream.isatty(), diagnose=False)
