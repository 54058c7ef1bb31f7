"""The log formats and levels, apart from the log set-up: the CLI's parser offers them without importing logging."""

from __future__ import annotations

from typing import Final, Literal

LogFormat = Literal["auto", "json", "text"]
LOG_FORMATS: Final[tuple[LogFormat, ...]] = ("auto", "text", "json")

LOG_LEVELS: Final = ("TRACE", "DEBUG", "INFO", "SUCCESS", "WARNING", "ERROR", "CRITICAL")
"""loguru's levels, which ``[log] level`` accepts in any case (controller/settings.py)."""
