"""Read the tenants file(s) from a Git remote at a commit, so the daemon follows what was merged, not a work tree.

``GitSource`` keeps one bare repository in ``cache_dir`` (``git init --bare`` plus a fetch of the one ref
we follow: a clone without a work tree). Each ``fetch()`` asks the remote where the ref points
(``git ls-remote``, no objects transferred) and fetches only when that commit is not already in the cache,
so an idle tick costs one round trip. The ref may be a branch (``main``), a tag (``v1.2``, annotated or
not; a branch of the same name wins, as with ``git clone --branch``), a full ref (``refs/heads/x``),
``HEAD``, or a pinned 40-hex commit sha: a pinned commit is fetched once and the remote is never asked
again while the cache holds it. Refs are mirrored under their own names in the cache and the cache keeps
a reflog, so commits seen earlier stay readable by ``read_at`` (``restore --git-rev``) after a force-push.

``GitSource`` is the composition of ``git_auth`` (the token header, the ssh command, known_hosts checks),
``git_cache`` (the bare clone: made, checked, set aside, fetched into, git run on it) and ``git_tree``
(the tenants files at a commit: sizes, symlinks, submodules).

Errors, mapped to the one error tree with ``raise ... from exc``:
- the remote, the network, the cache or git itself fail, a git command exceeds ``timeout``, or the ref or
  pinned commit is not on the remote → ``SourceUnavailable`` (retryable; the last good revision stays);
- the commit is there but its content is not acceptable (path missing in that commit, a symlink, a blob
  over the size limits, no yaml files) → ``TenantsFileInvalid``, a bad revision rather than an outage;
- a cache directory that is not a usable bare clone of this URL (corrupt, another remote, a checkout) is
  renamed aside, never deleted, and recloned; the reason is returned in ``Revision.notes``.

Every message passes through this source's ``controller.redaction.Redactor`` (URL credentials and this
source's secrets masked; the logs use the same module). The composition root
should pass ``GitSource.secrets`` to ``register_secret`` so log lines are masked too. Every git process gets
``kill_after_timeout`` (GitPython kills it and its children); one lock serialises all git work of an instance.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Literal
from urllib.parse import urlsplit

from git import Repo
from git.exc import GitError

from controller.adapters.git_auth import check_host_keys, git_env, mask_url, split_credentials, ssh_host
from controller.adapters.git_cache import SHA, SHORT_SHA, GitCache
from controller.adapters.git_tree import files_in
from controller.adapters.source import Revision
from controller.core.loader import LoadLimits
from controller.errors import ConfigError, RevisionNotFound, SourceUnavailable, TenantsFileInvalid
from controller.redaction import Redactor

__all__ = ["FetchResult", "GitSource"]

FetchResult = Literal["success", "error", "skipped"]

_DEFAULTS = LoadLimits()
# a ref name or sha, then ~N / ^N steps; no spaces, no leading '-', none of git's special syntax (':', '@{', '..')
_REV = re.compile(r"(?P<base>@|(?!-)[A-Za-z0-9._/+\-]{1,200}?)(?P<suffix>(?:[~^][0-9]{0,4})*)")


class GitSource:
    """The tenants file(s) at the commit a Git ref points to, read from a local bare cache of the remote."""

    def __init__(
        self,
        url: str,
        *,
        ref: str = "main",
        path: str = "tenants.yaml",
        cache_dir: Path,
        token: str | None = None,
        ssh_key_file: Path | None = None,
        known_hosts_file: Path | None = None,
        insecure_accept_new_host_keys: bool = False,
        timeout: float = 60.0,
        max_file_bytes: int = _DEFAULTS.max_file_bytes,
        max_total_bytes: int = _DEFAULTS.max_total_bytes,
        on_fetch: Callable[[str], None] | None = None,
    ) -> None:
        self._secrets: list[str] = []
        self._redact = Redactor()  # URL credentials and this source's secrets, in every message
        clean_url, url_user, url_token = split_credentials(url)
        if url_token:
            self._add_secret(url_token)
        if token:
            self._add_secret(token)
        secret = token or url_token
        self.url = clean_url  # never carries credentials
        self._shown_url = self._redact(mask_url(clean_url) if secret else clean_url)
        problems = _check_settings(clean_url, ref, path, timeout, has_token=bool(secret))
        problems += check_host_keys(clean_url, known_hosts_file, insecure_accept_new_host_keys)
        if problems:
            raise ConfigError([self._redact(p) for p in problems], source="git source settings")
        self.ref = ref
        self.path = _normalise_path(path)
        self.cache_dir = Path(cache_dir)
        self.timeout = float(timeout)
        self.max_file_bytes = max_file_bytes
        self.max_total_bytes = max_total_bytes
        # absolute: git runs ssh from the cache's folder, not from where the daemon was started
        self._ssh_key_file = Path(ssh_key_file).absolute() if ssh_key_file is not None else None
        self._ssh = ssh_host(clean_url) is not None
        self._known_hosts_file = Path(known_hosts_file).absolute() if known_hosts_file is not None else None
        self._on_fetch = on_fetch
        self._pinned = ref if SHA.match(ref) else None
        self._lock = threading.RLock()
        self._env, basic = git_env(
            url_user if url_token and not token else "x-access-token",
            secret,
            over_ssh=self._ssh,
            ssh_key_file=self._ssh_key_file,
            known_hosts_file=self._known_hosts_file,
        )
        if basic is not None:
            self._add_secret(basic)
        self._cache = GitCache(
            self.cache_dir,
            url=clean_url,
            shown_url=self._shown_url,
            env=self._env,
            timeout=self.timeout,
            redact=self._redact,
            known_hosts_file=self._known_hosts_file,
        )

    # -- public API ---------------------------------------------------------------------------------------

    @property
    def insecure_host_keys(self) -> bool:
        """True when ssh trusts whatever host key the server presents first (the explicit opt-out): log it."""
        return self._ssh and self._known_hosts_file is None

    @property
    def ssh_command(self) -> str | None:
        """The ``GIT_SSH_COMMAND`` git runs ssh with, or None when git uses plain ``ssh`` (not an SSH URL)."""
        return self._env.get("GIT_SSH_COMMAND")

    @property
    def secrets(self) -> tuple[str, ...]:
        """Values to hand to ``register_secret`` so log lines mask them too (token, its header forms)."""
        return tuple(self._secrets)

    def fetch(self) -> Revision:
        """The files at the commit the ref points to now; fetches from the remote only when it moved."""
        with self._lock:
            try:
                self._cache.ensure()
                sha, fetched = self._update()
            except SourceUnavailable:
                self._report("error")
                raise
            self._report("success" if fetched else "skipped")
            return self._read(sha, self._cache.take_notes())

    def head(self) -> str:
        """The commit the remote's ref points to (``git ls-remote``, no objects fetched).

        For a pinned commit sha that sha itself is the answer and the remote is not contacted.
        """
        with self._lock:
            if self._pinned:
                return self._pinned
            self._cache.ensure()
            return self._cache.ls_remote(self.ref)[1]

    def read_at(self, sha: str) -> Revision:
        """The files at a commit already in the cache (full or abbreviated sha); never contacts the remote."""
        with self._lock:
            if not SHORT_SHA.match(sha):
                raise SourceUnavailable(f"{sha!r} is not a commit sha (4 to 40 hex digits)")
            if not (self.cache_dir / "HEAD").is_file():
                raise SourceUnavailable(f"no git cache at {self.cache_dir} yet; commit {sha} is unknown")
            problem = self._cache.problem()
            if problem is not None:
                raise SourceUnavailable(self._redact(f"the git cache {self.cache_dir} is not usable: {problem}"))
            full = self._cache.resolve(f"{sha.lower()}^{{commit}}")
            if full is None:
                raise SourceUnavailable(
                    f"commit {sha} is not in the git cache of {self._shown_url} (only fetched commits can be read)"
                )
            return self._read(full, ())

    def resolve(self, rev: str) -> str:
        """The full sha of the commit ``rev`` names on this remote: a branch, a tag, ``HEAD`` (the followed
        ref), a sha or unique prefix of one, each optionally with ``~N``/``^N`` suffixes (``HEAD~1``, ``v1.2^``).

        Names are asked of the remote (``ls-remote``) and fetched into the cache under
        ``refs/descope-gitops/rev/``, so a branch means where it points now. RevisionNotFound when
        nothing matches; SourceUnavailable when the remote or the cache cannot be read.
        """
        match = _REV.fullmatch(rev)
        if match is None:
            raise RevisionNotFound(f"{rev!r} is not a git revision (a branch, tag, sha, HEAD, or one of them with ~N)")
        base, suffix = match.group("base"), match.group("suffix")
        with self._lock:
            self._cache.ensure()
            if base in ("HEAD", "@"):
                start = self._pinned or self._update()[0]
            elif SHORT_SHA.match(base) and (local := self._cache.resolve(f"{base.lower()}^{{commit}}")):
                start = local
            else:
                start = self._cache.fetch_name(base, rev)
            full = self._cache.resolve(f"{start}{suffix}^{{commit}}")
        if full is None:
            raise RevisionNotFound(f"{rev!r}: commit {start[:12]} has no {suffix!r} in {self._shown_url}")
        return full

    def __repr__(self) -> str:
        return f"GitSource(url={self._shown_url!r}, ref={self.ref!r}, path={self.path or '.'!r})"

    def _update(self) -> tuple[str, bool]:
        """The commit to read and whether objects were fetched for it."""
        if self._pinned:
            return self._cache.update_pinned(self._pinned)
        return self._cache.update(self.ref)

    # -- reading a commit ---------------------------------------------------------------------------------

    def _read(self, sha: str, notes: tuple[str, ...]) -> Revision:
        try:
            with Repo(self.cache_dir) as repo:
                commit = repo.commit(sha)
                files = files_in(
                    commit,
                    self.path,
                    shown_url=self._shown_url,
                    max_file_bytes=self.max_file_bytes,
                    max_total_bytes=self.max_total_bytes,
                )
                message = commit.message
                return Revision(
                    id=commit.hexsha,
                    files=files,
                    label=f"{sha[:7]}" if self._pinned == sha else f"{self.ref}@{sha[:7]}",
                    committed_at=float(commit.committed_date),
                    commit_message=message if isinstance(message, str) else message.decode("utf-8", "replace"),
                    notes=notes,
                )
        except (TenantsFileInvalid, SourceUnavailable):
            raise
        except (GitError, OSError, ValueError, KeyError, AssertionError) as exc:
            self._cache.suspect = f"reading commit {sha[:7]} failed: {type(exc).__name__}"
            raise SourceUnavailable(
                self._redact(
                    f"cannot read commit {sha[:7]} from the git cache {self.cache_dir}: {exc}; "
                    "the cache will be set aside and recloned on the next fetch"
                )
            ) from exc

    # -- helpers ------------------------------------------------------------------------------------------

    def _add_secret(self, value: str) -> None:
        if value and value not in self._secrets:
            self._secrets.append(value)
            self._redact.add(value)

    def _report(self, result: FetchResult) -> None:
        if self._on_fetch is not None:
            self._on_fetch(result)


def _check_settings(url: str, ref: str, path: str, timeout: float, *, has_token: bool) -> list[str]:
    problems: list[str] = []
    if not url or url.startswith("-") or any(c.isspace() for c in url):
        problems.append(f"url: {url!r} is not a git URL")
    if has_token and urlsplit(url).scheme.lower() not in ("http", "https"):
        problems.append("token: a token is only used with an http(s):// URL; use ssh_key_file for SSH")
    if (
        not ref
        or ref.startswith(("-", "/"))
        or ref.endswith(("/", ".lock", "."))
        or any(bad in ref for bad in ("..", "//", "@{", "\\"))
        or any(c.isspace() or c in "~^:?*[" or ord(c) < 32 for c in ref)
    ):
        problems.append(f"ref: {ref!r} is not a valid branch, tag or commit")
    if any(part == ".." for part in path.replace("\\", "/").split("/")):
        problems.append(f"path: {path!r} must stay inside the repository (no '..')")
    if not timeout > 0:
        problems.append(f"timeout: must be positive, not {timeout!r}")
    return problems


def _normalise_path(path: str) -> str:
    """Repository-relative path with forward slashes; '' means the repository root."""
    parts = [p for p in path.replace("\\", "/").split("/") if p not in ("", ".")]
    return "/".join(parts)
