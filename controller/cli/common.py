"""What the commands share: ``--config`` and ``--log-format``, a command's settings and logging, the
tenants path, and the ``--help`` layout that prints exit codes (``ExitCode``) and where settings come from.

Both options are added by ``add_config`` so that every command that reads settings has them, spelled
and documented once.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeAlias

from controller.cli.exit_codes import ExitCode, exit_codes_help
from controller.engine.log_options import LOG_FORMATS, LOG_LEVELS
from controller.errors import ConfigError

if TYPE_CHECKING:
    from controller.settings import Settings

    Subcommands: TypeAlias = argparse._SubParsersAction[argparse.ArgumentParser]
    """What ``add_subparsers()`` returns: each command module's ``add_parser`` adds its commands to it."""

# what controller.settings reads besides --config (tests/cli/test_fast_start.py checks they stay equal)
SETTINGS_ENV_PREFIX = "DESCOPE_GITOPS_"
DESCOPE_SETTINGS_ENV = ("DESCOPE_PROJECT_ID", "DESCOPE_MANAGEMENT_KEY", "DESCOPE_BASE_URI")

SETTINGS_HELP = """\
settings come from --config FILE (TOML) and the environment: DESCOPE_PROJECT_ID,
DESCOPE_MANAGEMENT_KEY (or DESCOPE_GITOPS_DESCOPE__MANAGEMENT_KEY_FILE), DESCOPE_BASE_URI, and any
key as DESCOPE_GITOPS_<SECTION>__<KEY>, e.g. DESCOPE_GITOPS_RECONCILE__PRUNE=true.
"""


class HelpFormatter(argparse.HelpFormatter):
    """Wraps descriptions as argparse does, and keeps an epilog's lines (exit codes, settings) as written."""

    def _fill_text(self, text: str, width: int, indent: str) -> str:
        if text.startswith("exit codes:"):
            return "".join(indent + line for line in text.splitlines(keepends=True))
        return super()._fill_text(text, width, indent)


def epilog(*codes: ExitCode, settings: bool = False) -> dict[str, Any]:
    """``add_parser`` keywords that print the command's exit codes (and where settings come from)."""
    return {
        "epilog": exit_codes_help(*codes) + ("\n" + SETTINGS_HELP if settings else ""),
        "formatter_class": HelpFormatter,
    }


LOG_FORMAT_HELP = (
    "how logs are written to stderr: 'text' lines for a person, or 'json', one flat object per line "
    "(ts, level, msg, logger, cycle, revision, tenant, event, then the event's fields). Default: [log] format "
    "(DESCOPE_GITOPS_LOG__FORMAT), whose 'auto' is text, except for `run` off a terminal: JSON"
)


def add_config(parser: argparse.ArgumentParser) -> None:
    """Add ``--config FILE`` and ``--log-format {auto,text,json}``: every command that reads settings has both."""
    parser.add_argument(
        "--config",
        metavar="FILE",
        default=os.environ.get("DESCOPE_GITOPS_CONFIG"),
        help="settings file (TOML); default: $DESCOPE_GITOPS_CONFIG, else environment only",
    )
    parser.add_argument("--log-format", choices=LOG_FORMATS, default=None, help=LOG_FORMAT_HELP)


def configure_early_logging(args: argparse.Namespace) -> None:
    """Logging until a command has read its settings: as ``DESCOPE_GITOPS_LOG__LEVEL`` asks, or WARNING, as text.

    The level is read as the settings read it, in any case; one they refuse is WARNING here, and
    reading the settings then says what is wrong with it.
    """
    level = os.environ.get("DESCOPE_GITOPS_LOG__LEVEL", "WARNING").upper()
    level = level if level in LOG_LEVELS else "WARNING"
    _configure_logging(args, level, getattr(args, "log_format", None) or "text", daemon=args.command == "run")


def _configure_logging(args: argparse.Namespace, level: str, fmt: str, *, daemon: bool) -> None:
    """Set up logging unless this command has set it up so already: a second set-up costs as much as the first."""
    from controller.engine.logs import configure_logging, resolve_format

    wanted = (level, resolve_format(fmt, sys.stderr, daemon=daemon), daemon, sys.stderr)
    if getattr(args, "logging_as", None) == wanted:
        return
    configure_logging(level, fmt, daemon=daemon)
    args.logging_as = wanted


def settings_are_defaults(args: argparse.Namespace) -> bool:
    """True when there is nothing to read settings from: no ``--config`` and no variable the settings read.

    Then every setting is its default, so a command that needs only a few of them (``validate`` with
    paths) can skip loading the settings models (pydantic-settings) and logging (loguru): it starts in
    about half the time, with the same result.
    """
    if getattr(args, "config", None):
        return False
    for name, value in os.environ.items():
        upper = name.upper()  # the settings read DESCOPE_GITOPS_* whatever its case
        if upper.startswith(SETTINGS_ENV_PREFIX) or (name in DESCOPE_SETTINGS_ENV and value):
            return False
    return True


def load_settings(args: argparse.Namespace, *, daemon: bool = False) -> Settings:
    """The settings, and logging set up from them: ``--log-format`` wins over ``[log] format``."""
    from controller.settings import load_settings as read_settings

    settings = read_settings(args.config)
    # one-shot commands print a report; their logs stay quiet unless a level is asked for
    explicit = daemon or "DESCOPE_GITOPS_LOG__LEVEL" in os.environ or bool(args.config)
    fmt = getattr(args, "log_format", None) or settings.log.format
    _configure_logging(args, settings.log.level if explicit else "WARNING", fmt, daemon=daemon)
    return settings


def tenants_path(args: argparse.Namespace, settings: Settings) -> Path:
    if args.path:
        return Path(args.path)
    if settings.source.kind != "local":
        raise ConfigError(["give a PATH: this command reads a local tenants file, and [source] kind is 'git'"])
    return Path(settings.source.path)
