"""``descope-gitops sandbox``: a local Descope-compatible tenant API, for demos and tests."""

from __future__ import annotations

import argparse
import os
import signal
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING

from controller.cli.common import epilog
from controller.cli.exit_codes import ExitCode
from controller.descope_api import RateLimit

if TYPE_CHECKING:
    from controller.cli.common import Subcommands


def _rate_limit(text: str) -> RateLimit:
    try:
        return RateLimit.parse(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"{text!r}: {exc}") from None


def add_parser(sub: Subcommands) -> None:
    """Add ``sandbox``."""
    p = sub.add_parser(
        "sandbox",
        help="run a local Descope-compatible tenant API (for demos and tests)",
        description="Serve Descope's tenant Management API on loopback, in memory or backed by --state.",
        **epilog(ExitCode.OK),
    )
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=8089)
    p.add_argument("--project-id", default="Psandbox")
    p.add_argument("--management-key", default=None, help="default: $DESCOPE_MANAGEMENT_KEY or 'sandbox-key'")
    p.add_argument("--state", metavar="FILE", help="JSON file that keeps tenants across restarts")
    p.add_argument("--latency-ms", type=float, default=0.0, help="delay added to every API request")
    p.add_argument(
        "--rate-limit",
        type=_rate_limit,
        default=None,
        metavar="N/Ws",
        help='at most N requests in any W seconds, then 429 for W seconds, as Descope does ("20/4s"; '
        "a plain number is per second)",
    )
    p.add_argument("--fail-rate", type=float, default=0.0, metavar="F", help="share of requests answered 503")
    p.add_argument("--seed", type=int, default=None, help="make injected failures repeatable")
    p.add_argument(
        "--without-patch",
        action="store_true",
        help="act as a Descope deployment older than PATCH /v1/mgmt/tenant/patch (404 for it)",
    )
    p.add_argument(
        "--attributes",
        metavar="FILE",
        help="the project's custom attribute definitions (JSON or YAML `attributes: [...]`); then undefined "
        "keys and wrongly typed values are refused as Descope does. Default: the --state file's, else any key",
    )
    p.set_defaults(handler=cmd_sandbox, serves=True)  # ends the ordinary way (cli.app.run)


def cmd_sandbox(args: argparse.Namespace) -> int:
    from controller.adapters.attribute_file import read_attribute_file
    from controller.sandbox import SandboxServer

    key = args.management_key or os.environ.get("DESCOPE_MANAGEMENT_KEY") or "sandbox-key"
    attributes = list(read_attribute_file(Path(args.attributes)).values()) if args.attributes else None
    server = SandboxServer(
        project_id=args.project_id,
        management_key=key,
        host=args.host,
        port=args.port,
        state_file=args.state,
        latency_ms=args.latency_ms,
        rate_limit=args.rate_limit,
        fail_rate=args.fail_rate,
        seed=args.seed,
        patch_endpoint=not args.without_patch,
        attributes=attributes,
    )

    def stop(signum: int, frame: FrameType | None) -> None:
        # only a flag-like action here: ask the server loop to return
        import threading

        threading.Thread(target=server.stop, daemon=True).start()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    print(f"Descope sandbox listening on {server.url} (project {args.project_id})", flush=True)
    print(f"  export DESCOPE_BASE_URI={server.url} DESCOPE_PROJECT_ID={args.project_id}", flush=True)
    if attributes is not None:
        names = ", ".join(definition.name for definition in attributes)
        print(f"  custom attributes defined: {names or '(none)'}; other keys are refused", flush=True)
    server.serve_forever()
    print("sandbox stopped", flush=True)
    return ExitCode.OK
