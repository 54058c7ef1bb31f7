"""Masking secrets in text: one rule for log lines, error messages and URLs, shared by the adapters and the engine.

Two things are masked: credentials written into a URL (``https://user:token@host`` → ``https://***@host``,
whatever the scheme), and every secret a ``Redactor`` was given (the management key, a Git token and its
header forms, a webhook secret), longest first so a secret containing another is masked whole. Values
shorter than four characters are not masked: masking "a" would mangle every message and protect nothing.
A leaf module, like ``errors``: any layer may import it; it imports nothing of ours.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Iterable
from typing import Final

MASK: Final = "***"
MIN_SECRET_LENGTH: Final = 4
_URL_CREDENTIALS: Final = re.compile(r"(?P<scheme>[a-zA-Z][a-zA-Z0-9+.-]*://)[^/@\s:]*(?::[^/@\s]*)?@")


def mask_url_credentials(text: str) -> str:
    """``text`` with the user info of every URL in it replaced by ``***``."""
    return _URL_CREDENTIALS.sub(lambda m: f"{m.group('scheme')}{MASK}@", text)


class Redactor:
    """Masks URL credentials and the secrets it knows; thread-safe, secrets may be added at any time."""

    def __init__(self, secrets: Iterable[str | None] = ()) -> None:
        self._lock = threading.Lock()
        self._secrets: tuple[str, ...] = ()
        for secret in secrets:
            self.add(secret)

    def add(self, secret: str | None) -> None:
        if not secret or len(secret) < MIN_SECRET_LENGTH:
            return
        with self._lock:
            if secret not in self._secrets:
                self._secrets = tuple(sorted((*self._secrets, secret), key=len, reverse=True))

    @property
    def secrets(self) -> tuple[str, ...]:
        return self._secrets

    def __call__(self, text: str) -> str:
        text = mask_url_credentials(text)
        for secret in self._secrets:  # a tuple swapped whole under the lock: safe to read without it
            if secret in text:
                text = text.replace(secret, MASK)
        return text
