"""Log set-up: loguru to stderr as flat JSON lines for a log pipeline, or text for a person; secrets redacted.

Why flat JSON: Loki, Datadog and ``jq`` query top-level keys, and the pipeline must not depend on
loguru's own record layout (``serialize=True`` nests everything under ``record``). Each JSON line is
one object with the fixed keys ``ts`` (RFC 3339, UTC, milliseconds, ``Z``), ``level`` (lowercase,
as zap and logrus write it: ``info``, ``warning``...), ``msg``, ``logger`` (the module, or the
library's logger name), ``cycle``, ``revision``, ``tenant`` and ``event`` (``null`` when the line is
outside a cycle or about no tenant), then every other key bound with ``logger.bind(...)`` at top
level (``field``, ``reverts``, ``reason``...). A list or map is a JSON value, never a nested record.
An exception adds ``error``, ``exc_type`` and ``stack`` as strings. A bound key never overwrites a
key the pipeline sets: ``logger.bind(msg=...)`` comes out as ``extra_msg``.

Which format: ``json`` and ``text`` are what they say; ``auto`` is text on a terminal and, off a
terminal, JSON for the daemon (a log pipeline reads it) but text for one-shot commands (a person
or a CI log reads it).

Secrets are registered once by the composition root (``register_secret``); every record's message
and bound fields pass through ``redact`` before any sink sees them, an exception's text and stack
too, and credentials in URLs (``https://user:token@host``) are masked whatever they are.
"""

from __future__ import annotations

import json
import logging
import math
import os
import sys
import traceback
from datetime import UTC
from typing import TYPE_CHECKING, Any, Final, Literal, TextIO

from controller.engine.log_options import LOG_FORMATS
from controller.redaction import MASK as REDACTION_MASK
from controller.redaction import Redactor

if TYPE_CHECKING:
    from loguru import Logger, Record

_redactor = Redactor()
MASK = REDACTION_MASK
MAX_VALUE_CHARS = 120

FIXED_KEYS: Final = ("ts", "level", "msg", "logger", "cycle", "revision", "tenant", "event")
"""The keys of every JSON line, in this order; the ones not known for a line are ``null``."""
ERROR_KEYS: Final = ("error", "exc_type", "stack")
"""Added to a JSON line that carries an exception."""
COLLISION_PREFIX: Final = "extra_"
"""Prefixes a bound key that would overwrite a key the pipeline sets (``msg`` -> ``extra_msg``)."""
_BOUND_FIXED: Final = frozenset({"cycle", "revision", "tenant", "event"})
_STDLIB_LOGGER: Final = "_logger"  # the standard-library logger's name, for intercepted records
_INTERNAL: Final = frozenset({_STDLIB_LOGGER, "_context", "_source", "_error", "_json"})


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
        return {redact(k) if isinstance(k, str) else k: _redact_value(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [_redact_value(v) for v in value]
    return value


def _patch(record: Record) -> None:
    record["message"] = redact(record["message"])
    for key, value in list(record["extra"].items()):
        record["extra"][key] = _redact_value(value)


def _json_value(value: Any) -> Any:
    """``value`` as plain JSON: scalars kept, lists and maps as JSON values, anything else as redacted text."""
    if value is None or isinstance(value, bool | int | str):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else str(value)
    if isinstance(value, dict):
        return {redact(str(k)): _json_value(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_json_value(v) for v in value]
    if isinstance(value, set | frozenset):
        return sorted((_json_value(v) for v in value), key=str)
    return redact(str(value))


def _exception(record: Record) -> tuple[str, str, str] | None:
    """The record's exception as ``(exc_type, error, stack)``, the last two redacted, or None."""
    exc = record["exception"]
    if exc is None or exc.type is None:
        return None
    stack = "".join(traceback.format_exception(exc.type, exc.value, exc.traceback))
    return exc.type.__name__, redact(str(exc.value)), redact(stack.rstrip("\n"))


def json_line(record: Record) -> str:
    """One flat JSON object for ``record`` (see the module docstring for its keys)."""
    extra = record["extra"]
    line: dict[str, Any] = {
        "ts": record["time"].astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z"),
        "level": record["level"].name.lower(),
        "msg": record["message"],
        "logger": extra.get(_STDLIB_LOGGER) or record["name"],
    }
    line.update({key: _json_value(extra.get(key)) for key in ("cycle", "revision", "tenant", "event")})
    failure = _exception(record)
    if failure is not None:
        exc_type, error, stack = failure
        line.update(error=error, exc_type=exc_type, stack=stack)
    for key, value in extra.items():
        if key in _BOUND_FIXED or key in _INTERNAL:
            continue
        name = str(key)
        while name in line:
            name = COLLISION_PREFIX + name
        line[name] = _json_value(value)
    return json.dumps(line, ensure_ascii=False, default=str)


def _json_format(record: Record) -> str:
    record["extra"]["_json"] = json_line(record)
    return "{extra[_json]}\n"


TEXT_FORMAT = (
    "<green>{time:HH:mm:ss.SSS}</green> <level>{level: <7}</level> "
    "{extra[_context]}{extra[_source]}<level>{message}</level>{extra[_error]}\n"
)


def _text_format(record: Record) -> str:
    extra = record["extra"]
    parts = [f"{k}={extra[k]}" for k in ("cycle", "revision") if k in extra]
    extra["_context"] = f"[{' '.join(parts)}] " if parts else ""
    extra["_source"] = f"{extra[_STDLIB_LOGGER]}: " if _STDLIB_LOGGER in extra else ""
    failure = _exception(record)
    extra["_error"] = ""
    if failure is not None:
        exc_type, error, stack = failure
        has_traceback = record["exception"] is not None and record["exception"].traceback is not None
        extra["_error"] = f": {exc_type}: {error}" + (f"\n{stack}" if has_traceback else "")
    return TEXT_FORMAT


class _InterceptHandler(logging.Handler):
    """Routes standard-library logging (APScheduler, httpx, GitPython) through loguru and its redaction."""

    def emit(self, record: logging.LogRecord) -> None:
        from loguru import logger

        try:
            level: str | int = logger.level(record.levelname).name
        except ValueError:
            level = record.levelno
        exception = record.exc_info if record.exc_info and record.exc_info[1] is not None else None
        logger.bind(**{_STDLIB_LOGGER: record.name}).opt(depth=6, exception=exception).log(
            level, "{}", record.getMessage()
        )


def resolve_format(fmt: str, stream: TextIO, *, daemon: bool) -> Literal["json", "text"]:
    """``json`` or ``text`` for ``fmt``: ``auto`` is text on a terminal, else JSON only for the daemon."""
    if fmt in ("json", "text"):
        return "json" if fmt == "json" else "text"
    if fmt != "auto":
        raise ValueError(f"log format must be one of {', '.join(LOG_FORMATS)}, not {fmt!r}")
    return "json" if daemon and not _isatty(stream) else "text"


def _isatty(stream: TextIO) -> bool:
    try:
        return stream.isatty()
    except (AttributeError, ValueError):  # a closed or unusual stream is no terminal
        return False


def configure_logging(
    level: str = "INFO", fmt: str = "auto", stream: TextIO | None = None, *, daemon: bool = False
) -> None:
    """Send logs at ``level`` and above to ``stream`` (stderr) as ``fmt`` (``resolve_format``)."""
    logger = _loguru()
    stream = stream or sys.stderr
    as_json = resolve_format(fmt, stream, daemon=daemon) == "json"
    logger.remove()
    logger.configure(patcher=_patch)
    logging.basicConfig(handlers=[_InterceptHandler()], level=logging.WARNING, force=True)
    if as_json:
        logger.add(stream, level=level, format=_json_format, backtrace=False, diagnose=False)
    else:
        logger.add(stream, level=level, format=_text_format, colorize=_isatty(stream), diagnose=False)


def _loguru() -> Logger:
    """loguru's logger; imported here, not at the top, so that `--help` and `validate` start without it.

    Imported first here (the CLI's case), it comes without the stderr sink that loguru adds on import
    (``LOGURU_AUTOINIT``, its documented switch): ``configure_logging`` would remove that sink at once,
    and each sink costs about as much to add as the rest of loguru's import (it lists the paths of every
    install scheme).
    """
    if "loguru" in sys.modules:
        from loguru import logger

        return logger
    saved = os.environ.get("LOGURU_AUTOINIT")
    os.environ["LOGURU_AUTOINIT"] = "False"  # read once, when loguru is imported
    try:
        from loguru import logger
    finally:
        if saved is None:
            del os.environ["LOGURU_AUTOINIT"]
        else:
            os.environ["LOGURU_AUTOINIT"] = saved
    return logger
