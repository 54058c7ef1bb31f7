"""The one error tree of descope-gitops, so every layer raises and catches the same names.

Foreign errors (httpx, PyYAML, OSError, GitPython, pydantic) are mapped to these at the edge
that meets them, with ``raise ... from exc``. Each class says whether retrying can help
(``retryable``), which is what the engine uses to decide between "try again next tick" and
"stop and tell a human". Messages never contain secrets.

    DescopeGitopsError                  retryable?
    ├── ConfigError                     no   settings are invalid (one line per problem)
    │   └── UsageError                  no   a command-line argument is wrong (one line)
    ├── SourceError                          tenants.yaml cannot be had or is not acceptable
    │   ├── TenantsFileInvalid          no   parse/schema errors, each with file:line
    │   ├── SourceUnavailable           yes  the path or Git remote cannot be read now
    │   └── RevisionNotFound            no   a Git revision asked for names no commit
    ├── DescopeError                         the Descope Management API said no
    │   ├── DescopeAuthError            no   401/403: project id or management key wrong
    │   ├── DescopeNotFound             no   404
    │   ├── DescopeConflict             no   the tenant id or name already exists
    │   ├── DescopeValidationError      no   400/422: Descope refused the request body
    │   │   └── DescopeAttributeRefused no   a custom attribute is not defined, or not of its type
    │   ├── DescopeRateLimited          yes  429, carries retry_after seconds
    │   ├── DescopeServerError          yes  5xx
    │   ├── DescopeUnreachable          yes  connection refused, DNS, TLS, timeout
    │   └── DescopeBadResponse          yes  a 2xx whose body is not the JSON we expect
    ├── ShuttingDown                    yes  stop was asked for while a request waited its turn; not sent
    ├── PlanError                            the desired state cannot be reached safely
    │   └── GuardBlocked                no   a guard refused the whole plan (reasons listed)
    └── StoreError                           the local/mounted state directory
        ├── StoreCorrupt                no   a file is unreadable or from an unknown version
        ├── StoreLocked                 no   another process holds the store lock
        ├── BackupNotFound              no   no backup has that id (or it does not hold the tenant)
        ├── StoreSymlink                no   a file or folder below the store root is a symlink
        └── StoreWriteFailed            yes  disk full, read-only, permission
            └── StoreUnwritable         yes  at start: the store's volume cannot take writes
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass


class DescopeGitopsError(Exception):
    """Base of every error this package raises on purpose."""

    retryable: bool = False

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    def __str__(self) -> str:
        return self.message


class ConfigError(DescopeGitopsError):
    """Settings are missing or invalid; ``problems`` holds one readable line each."""

    def __init__(self, problems: Sequence[str], source: str = "settings") -> None:
        self.problems = list(problems)
        lines = "\n".join(f"  - {p}" for p in self.problems)
        super().__init__(f"invalid {source}:\n{lines}")


class UsageError(ConfigError):
    """A command-line argument cannot be used (a time, a backup id, a missing target); one line."""

    def __init__(self, problem: str) -> None:
        super().__init__([problem], source="arguments")
        self.message = problem


class SourceError(DescopeGitopsError):
    """The desired state (tenants.yaml) cannot be obtained or accepted."""


@dataclass(frozen=True)
class Problem:
    """One thing wrong with a tenants file, located as precisely as we can."""

    file: str
    line: int | None
    message: str

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}" if self.line is not None else self.file
        return f"{where}: {self.message}"


class TenantsFileInvalid(SourceError):
    """The tenants file(s) failed to parse or validate; nothing of this revision is applied."""

    def __init__(self, problems: Sequence[Problem]) -> None:
        self.problems = list(problems)
        count = len(self.problems)
        head = f"{count} problem{'s' if count != 1 else ''} in tenants file(s)"
        super().__init__(head + ":\n" + "\n".join(f"  {p}" for p in self.problems))


class RevisionNotFound(SourceError):
    """A Git revision given by a person (``restore --git-rev``) names no commit of the remote."""


class SourceUnavailable(SourceError):
    """The source cannot be read right now (missing path, remote down); try again later."""

    retryable = True


class DescopeError(DescopeGitopsError):
    """The Descope Management API refused or failed a request."""

    def __init__(
        self,
        message: str,
        *,
        operation: str = "",
        status: int | None = None,
        code: str | None = None,
    ) -> None:
        self.operation = operation
        self.status = status
        self.code = code
        parts = [p for p in (operation, f"HTTP {status}" if status else None, code) if p]
        prefix = f"Descope {' '.join(parts)}: " if parts else "Descope: "
        super().__init__(prefix + message)


class DescopeAuthError(DescopeError):
    """401/403: the project id or management key is wrong or lacks permission."""


class DescopeNotFound(DescopeError):
    """404: the tenant (or path) does not exist."""


class DescopeConflict(DescopeError):
    """The id or name is already taken by another tenant."""


class DescopeValidationError(DescopeError):
    """400/422: Descope refused the request body."""


class DescopeAttributeRefused(DescopeValidationError):
    """Descope refused a tenant's custom attribute ``attribute`` (None when it named none).

    ``reason``: ``undefined`` (the project does not define the key), ``value`` (its type does not take
    the value), or ``refused`` (Descope did not say which in a way we know).
    """

    def __init__(self, message: str, *, attribute: str | None, reason: str, **kw: object) -> None:
        self.attribute = attribute
        self.reason = reason
        super().__init__(message, **kw)  # type: ignore[arg-type]


class DescopeRateLimited(DescopeError):
    """429: too many requests; wait ``retry_after`` seconds."""

    retryable = True

    def __init__(self, message: str, *, retry_after: float | None = None, **kw: object) -> None:
        self.retry_after = retry_after
        super().__init__(message, **kw)  # type: ignore[arg-type]


class DescopeServerError(DescopeError):
    """5xx from Descope or the CDN in front of it."""

    retryable = True


class DescopeUnreachable(DescopeError):
    """The request did not get an HTTP answer: connection, DNS, TLS or timeout."""

    retryable = True


class DescopeBadResponse(DescopeError):
    """Descope answered 2xx with a body we cannot understand."""

    retryable = True


class ShuttingDown(DescopeGitopsError):
    """The controller is stopping: a request that was waiting for the rate limit was not sent.

    Retryable: the next run sends it. Raised instead of waiting out a rate window (up to a minute at
    Descope's default limit) so SIGTERM is answered within seconds, not ``shutdown_timeout``.
    """

    retryable = True

    def __init__(self, message: str = "the controller is shutting down: the request was not sent") -> None:
        super().__init__(message)


class PlanError(DescopeGitopsError):
    """The desired state cannot be reached safely."""


class GuardBlocked(PlanError):
    """A safety guard refused the whole plan; nothing was applied."""

    def __init__(self, reasons: Sequence[str]) -> None:
        self.reasons = list(reasons)
        super().__init__("plan refused by guard: " + "; ".join(self.reasons))


class StoreError(DescopeGitopsError):
    """The state directory (checkpoints, backups, lock) cannot be used."""


class StoreCorrupt(StoreError):
    """A store file is unreadable or has an unknown format version; it was kept aside, not deleted."""


class StoreLocked(StoreError):
    """Another process holds the store lock."""


class BackupNotFound(StoreError):
    """No backup has the id asked for, or that backup does not hold the tenant asked for."""


class StoreSymlink(StoreError):
    """A file or folder below the store root is a symlink; it is never followed, so nothing outside is touched."""

    def __init__(self, path: str, target: str, *, root: str) -> None:
        self.path = path
        self.target = target
        super().__init__(
            f"{path} is a symlink (to {target}): descope-gitops never follows symlinks inside its store {root}, "
            "so that nothing outside it is written, read or deleted; replace the symlink with the real file or "
            "folder (or point [store] dir at where the data really is)"
        )


class StoreWriteFailed(StoreError):
    """A write to the store failed (disk full, read-only, permission)."""

    retryable = True


class StoreUnwritable(StoreWriteFailed):
    """At start-up the store's volume could not take a write (full, read-only, permission); one line says why."""
