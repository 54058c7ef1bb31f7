"""The secrets tenants.yaml refers to (an OIDC ``clientSecret``): resolved here, fingerprinted, never stored.

Why in the engine: ``core`` is pure and must never hold a secret, so the planner sees only fingerprints
(``core.config_types.SecretFingerprints``). Descope never returns ``clientSecret``, so whether the secret
changed is told by a keyed hash (HMAC-SHA256) of the value last written, kept in the state store, against
the hash of the value the reference names now. The key is 32 random bytes in the store directory
(``secret-fingerprint.key``), created once with mode 0600, and only by a cycle that may write (a ``plan``
leaves the store as it found it): a stolen state file alone cannot be used to test guesses of the secret.
Without a key yet (a first ``plan``) nothing was written with one either: the secret's fingerprint is
``UNKNOWN``, so the plan says it "is sent" when no fingerprint is stored and treats it as unchanged when one
is (without the key the two cannot be compared; the next writing cycle does). Without a store (a plan with
no store directory) a key for this process only is used; nothing was recorded as written then.

A resolved value is registered with the log redactor at once, and substituted into the OIDC body only at
send time (``with_secret``).
"""

from __future__ import annotations

import hashlib
import hmac
import os
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, Final

from controller.core.config_types import SecretFingerprints
from controller.engine.logs import register_secret

KEY_FILE: Final = "secret-fingerprint.key"
KEY_BYTES: Final = 32
UNKNOWN: Final = "unknown"  # the fingerprint of a resolved secret while the store has no key (see above)
SecretKey = tuple[str, str]  # (tenant_id, ssoId)


def fingerprint_key(directory: Path | None, *, create: bool = True) -> bytes | None:
    """The per-store HMAC key: read, or created once (0600, never overwritten if another process won the race).

    A store directory that does not exist yet (``plan`` before the first ``sync --apply``) has no fingerprint
    to compare with: a key for this run only will do, and a read-only command creates no directory. None when
    the store has no key yet and ``create`` is false (a read-only ``plan``).
    """
    if directory is None or not directory.is_dir():
        return os.urandom(KEY_BYTES)
    path = directory / KEY_FILE
    if not create and not path.exists():
        return None
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0), 0o600)
    except FileExistsError:
        key = path.read_bytes()
        if len(key) < KEY_BYTES:
            raise ValueError(f"{path} is not a usable fingerprint key ({len(key)} bytes)") from None
        return key
    key = os.urandom(KEY_BYTES)
    with os.fdopen(fd, "wb") as out:
        out.write(key)
        out.flush()
        os.fsync(out.fileno())
    return key


def fingerprint(key: bytes, value: str) -> str:
    return "hmac-sha256:" + hmac.new(key, value.encode(), hashlib.sha256).hexdigest()


def resolve(reference: Mapping[str, Any]) -> str | None:
    """``{env: NAME}`` or ``{file: PATH}`` → the secret (a file's trailing newline dropped); None if unreadable."""
    if "env" in reference:
        value = os.environ.get(str(reference["env"]))
    elif "file" in reference:
        try:
            value = Path(str(reference["file"])).read_text(encoding="utf-8").rstrip("\r\n")
        except OSError:
            value = None
    else:
        value = None
    return value or None


def resolve_all(
    desired: Mapping[str, Mapping[str, Any]], key: Callable[[], bytes | None], written: Mapping[SecretKey, str]
) -> tuple[SecretFingerprints, dict[SecretKey, str]]:
    """Fingerprints for the planner, and the resolved values (kept in memory for ``with_secret``).

    ``key`` is asked only when a secret resolved (a tenants.yaml without OIDC secrets never needs one).
    """
    wanted: dict[SecretKey, str] = {}
    values: dict[SecretKey, str] = {}
    for tenant_id, config in desired.items():
        for entry in config.get("sso") or ():
            oidc = entry.get("oidc")
            reference = oidc.get("clientSecret") if isinstance(oidc, Mapping) else None
            if not isinstance(reference, Mapping):
                continue
            value = resolve(reference)
            if value is None:
                continue
            register_secret(value)
            ident = (tenant_id, str(entry.get("ssoId") or ""))
            values[ident] = value
    secret_key = key() if values else None
    for ident, value in values.items():
        if secret_key is not None:
            wanted[ident] = fingerprint(secret_key, value)
        else:
            wanted[ident] = written.get(ident, UNKNOWN)
    return SecretFingerprints(written=dict(written), wanted=wanted), values


def with_secret(settings: Mapping[str, Any], value: str | None) -> dict[str, Any]:
    """The OIDC settings to send: the ``clientSecret`` reference replaced by its value (or refused)."""
    out = dict(settings)
    if isinstance(out.get("clientSecret"), Mapping):
        if value is None:
            raise ValueError("the clientSecret reference could not be resolved at send time")
        out["clientSecret"] = value
    return out
