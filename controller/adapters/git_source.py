"""Read the tenants file(s) from a Git remote at a commit, so the daemon follows what was merged, not a work tree.

``GitSource`` keeps one bare repository in ``cache_dir`` (``git init --bare`` plus a fetch of the one ref
we follow: a clone without a work tree). Each ``fetch()`` asks the remote where the ref points
(``git ls-remote``, no objects transferred) and fetches only when that commit is not already in the cache,
so an idle tick costs one round trip. The ref may be a branch (``main``), a tag (``v1.2``, annotated or
not; a branch of the same name wins, as with ``git clone --branch``), a full ref (``refs/heads/x``),
``HEAD``, or a pinned 40-hex commit sha: a pinned commit is fetched once and the remote is never asked
again while the cache holds it. Refs are mirrored under their own names in the cache and the cache keeps
a reflog, so commits seen earlier stay readable by ``read_at`` (``restore --git-rev``) after a force-push.

Files are read from the commit's *tree* through GitPython (``commit.tree / path``, blob streams), never
from a checkout: uncommitted edits do not exist for us. The path may be one file (read whatever its name)
or a directory: every ``*.yaml``/``*.yml`` blob under it, recursively, sorted, hidden entries skipped,
named relative to the repository root (``tenants/eu.yaml``) so loader errors read ``tenants/eu.yaml:4``.
Blob sizes are checked before any content is read. Symlinks (mode 120000) named like tenants files or
pointing at a directory are refused (we do not follow links inside a commit); git submodules are refused.

Errors, mapped to the one error tree with ``raise ... from exc``:
- the remote, the network, the cache or git itself fail, a git command exceeds ``timeout``, or the ref or
  pinned commit is not on the remote → ``SourceUnavailable`` (retryable; the last good revision stays);
- the commit is there but its content is not acceptable (path missing in that commit, a symlink, a blob
  over the size limits, no yaml files) → ``TenantsFileInvalid``, a bad revision rather than an outage;
- a cache directory that is not a usable bare clone of this URL (corrupt, another remote, a checkout) is
  renamed aside, never deleted, and recloned; the reason is returned in ``Revision.notes``.

Credentials. Over HTTP(S) the token never enters the stored remote URL, the cache's config or any command
line (command lines are visible to every user in ``ps``, and GitPython puts them in its exceptions). It
goes to git as an ``http.extraHeader`` through the ``GIT_CONFIG_COUNT``/``GIT_CONFIG_KEY_n``/
``GIT_CONFIG_VALUE_n`` environment (git >= 2.31) of each git process: ``Authorization: Basic
base64("x-access-token:<token>")``, which GitHub (PATs and App tokens) and GitLab (any user name with a
PAT) accept. We chose the header over a credential helper because it needs no shell snippet and no extra
401 round trip. A URL with ``user:token@`` is stripped of it: the token is used as above (keeping that user
name, which Bitbucket needs), and ``user@`` alone is taken as a bare token (GitHub's ``https://<token>@``
form). An explicit ``token=`` wins over one in the URL. Over SSH a key file is used through
``GIT_SSH_COMMAND="ssh -i <file> -o IdentitiesOnly=yes ... -o BatchMode=yes"`` (``BatchMode`` makes ssh
fail instead of asking for a passphrase).

Host keys. An SSH URL (``ssh://``, ``git+ssh://`` or scp-like ``git@host:org/repo``) needs
``known_hosts_file``, the server's public key(s) as ``ssh-keyscan`` prints them (Flux and Argo CD ship
known_hosts beside the credentials the same way): ssh then runs with ``StrictHostKeyChecking=yes``
against that file alone (``UserKnownHostsFile=<file>``, ``GlobalKnownHostsFile=/dev/null``), so a server
presenting any other key is refused. Trust on first use (``accept-new``) is no protection in a container
whose ``~/.ssh/known_hosts`` is lost at every restart: each start would trust whoever answers, and whoever
answers serves tenants.yaml, that is, the identity provider's tenants. Without the file an SSH URL is a
ConfigError saying how to get it, unless ``insecure_accept_new_host_keys`` asks for trust on first use
anyway; ``insecure_host_keys`` then tells the composition root to warn at every start. The file is
checked at construction (exists, readable, holds host keys). Paths reach ssh absolute and escaped for
ssh's own option parser (quotes, ``%`` tokens) inside the shell quoting git's ``sh -c`` needs.
``GIT_TERMINAL_PROMPT=0`` and an empty ``GIT_ASKPASS`` are always set, so git never waits for a password.

Every message passes through this source's ``controller.redaction.Redactor`` (URL credentials and this
source's secrets masked; the logs use the same module). The composition root
should pass ``GitSource.secrets`` to ``register_secret`` so log lines are masked too. Every git process gets
``kill_after_timeout`` (GitPython kills it and its children); one lock serialises all git work of an instance.
"""

from __future__ import annotations

import base64
import configparser
import os
import posixpath
import re
import shlex
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Literal
from urllib.parse import unquote, urlsplit, urlunsplit

from git import Repo
from git.cmd import Git
from git.exc import GitCommandError, GitError, InvalidGitRepositoryError, NoSuchPathError
from git.objects import Blob, Commit, Submodule, Tree

from controller.adapters.local_source import YAML_SUFFIXES
from controller.adapters.source import Revision
from controller.core.loader import LoadLimits
from controller.errors import ConfigError, Problem, RevisionNotFound, SourceUnavailable, TenantsFileInvalid
from controller.redaction import MASK, Redactor

__all__ = ["FetchResult", "GitSource"]

FetchResult = Literal["success", "error", "skipped"]

_DEFAULTS = LoadLimits()
SHA = re.compile(r"^[0-9a-f]{40}$")
SHORT_SHA = re.compile(r"^[0-9a-fA-F]{4,40}$")
_SYMLINK_MODE = 0o120000
_SUBMODULE_MODE = 0o160000
_PINNED_NS = "refs/descope-gitops/pinned/"
_REV_NS = "refs/descope-gitops/rev/"
_ALL_REFS = ("+refs/heads/*:refs/heads/*", "+refs/tags/*:refs/tags/*")
# a ref name or sha, then ~N / ^N steps; no spaces, no leading '-', none of git's special syntax (':', '@{', '..')
_REV = re.compile(r"(?P<base>@|(?!-)[A-Za-z0-9._/+\-]{1,200}?)(?P<suffix>(?:[~^][0-9]{0,4})*)")
_STDERR_LIMIT = 600
_REMOTE_OPS = frozenset({"ls-remote", "fetch"})
_UNADVERTISED = re.compile(
    r"not our ref|unadvertised object|couldn't find remote ref|no such remote ref", re.IGNORECASE
)
_CORRUPTION = re.compile(r"is corrupt|bad object|unable to unpack|inflate:|object file .* is empty", re.IGNORECASE)


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


class GitCache:
    """One bare repository mirroring one remote: made, checked, set aside when damaged, fetched into, read from."""

    def __init__(
        self,
        cache_dir: Path,
        *,
        url: str,
        shown_url: str,
        env: dict[str, str],
        timeout: float,
        redact: Redactor,
        known_hosts_file: Path | None,
    ) -> None:
        self.cache_dir = cache_dir
        self.url = url  # never carries credentials
        self.timeout = timeout
        self.suspect: str | None = None  # why the cache looked damaged on the last read, if it did
        self._shown_url = shown_url
        self._env = env
        self._redact = redact
        self._known_hosts_file = known_hosts_file  # only named in the hint when ssh refuses a host key
        self._notes: list[str] = []  # for the next Revision fetch() returns

    def take_notes(self) -> tuple[str, ...]:
        """What was done to the cache since the last call (set aside and recloned), for a Revision's notes."""
        notes, self._notes = tuple(self._notes), []
        return notes

    # -- the cache ----------------------------------------------------------------------------------------

    def ensure(self) -> None:
        """Make sure ``cache_dir`` is a bare repository for this URL; set a bad one aside (noted for fetch)."""
        cache = self.cache_dir
        reason = self.suspect
        if reason is None and cache.exists():
            if cache.is_dir() and not any(cache.iterdir()):
                reason = None
            else:
                reason = self.problem()
                if reason is None:
                    return
        if reason is not None and cache.exists():
            aside = self._set_aside(reason)
            self._notes.append(
                self._redact(
                    f"git cache {cache} was not a usable clone of {self._shown_url} ({reason}); "
                    f"moved it aside to {aside} and cloning again"
                )
            )
        self.suspect = None
        try:
            cache.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise SourceUnavailable(f"cannot create the git cache directory {cache}: {exc.strerror or exc}") from exc
        self._git("init", ["init", "--quiet", "--bare", str(cache)], in_cache=False)
        for key, value in (
            ("remote.origin.url", self.url),  # marks which remote this cache mirrors; no credentials
            ("core.logAllRefUpdates", "always"),  # keep a reflog, so earlier commits stay readable
            ("gc.autoDetach", "false"),  # no background gc outliving our timeout
        ):
            self._git("init", ["config", key, value])

    def problem(self) -> str | None:
        """Why ``cache_dir`` cannot be used as our cache, or None when it can."""
        try:
            with Repo(self.cache_dir) as repo:
                if not repo.bare:
                    return "it is not a bare repository"
                remote = repo.config_reader("repository").get_value('remote "origin"', "url", "")
        except (InvalidGitRepositoryError, NoSuchPathError):
            return "it is not a git repository"
        except (GitError, OSError, ValueError, configparser.Error) as exc:
            return f"git cannot open it: {type(exc).__name__}: {exc}"
        if not remote:
            return "it has no remote.origin.url"
        if str(remote) != self.url:
            return f"it is a clone of {mask_url(str(remote)) if '@' in str(remote) else remote}"
        return None

    def _set_aside(self, reason: str) -> Path:
        cache = self.cache_dir
        stamp = time.strftime("%Y%m%dT%H%M%S")
        for n in range(1000):
            aside = cache.with_name(f"{cache.name}.invalid-{stamp}" + (f"-{n}" if n else ""))
            if not aside.exists():
                break
        try:
            cache.rename(aside)
        except OSError as exc:
            raise SourceUnavailable(
                self._redact(
                    f"git cache {cache} is not usable ({reason}) and cannot be moved aside: {exc.strerror or exc}"
                )
            ) from exc
        return aside

    def _has_commit(self, sha: str) -> bool:
        return self.resolve(f"{sha}^{{commit}}") == sha

    def resolve(self, spec: str) -> str | None:
        """The commit sha ``spec`` names in the cache, or None when the cache does not have it."""
        out = self._git("rev-parse", ["rev-parse", "--verify", "--quiet", "--end-of-options", spec], status_1_ok=True)
        sha = out.strip()  # "" when --verify --quiet found nothing
        return sha if SHA.match(sha) else None

    # -- the remote ---------------------------------------------------------------------------------------

    def ls_remote(self, ref: str) -> tuple[str, str]:
        """(full remote ref name, commit sha it points to, annotated tags peeled) of ``ref``."""
        candidates = [ref] if ref == "HEAD" or ref.startswith("refs/") else [f"refs/heads/{ref}", f"refs/tags/{ref}"]
        patterns = [*candidates, *(f"{c}^{{}}" for c in candidates if c.startswith("refs/tags/"))]
        out = self._git("ls-remote", ["ls-remote", self.url, *patterns])
        seen: dict[str, str] = {}
        for line in out.splitlines():
            sha, _, name = line.partition("\t")
            if SHA.match(sha):
                seen[name] = sha
        for name in candidates:
            if name in seen:
                return name, seen.get(f"{name}^{{}}", seen[name])
        hint = " (a pinned commit must be the full 40-character sha)" if SHORT_SHA.match(ref) else ""
        raise SourceUnavailable(f"ref {ref!r} not found on {self._shown_url}{hint}")

    def update(self, ref: str) -> tuple[str, bool]:
        """The commit ``ref`` points to on the remote, in the cache, and whether objects were fetched for it."""
        remote_ref, commit = self.ls_remote(ref)
        local_ref = remote_ref if remote_ref.startswith("refs/") else f"refs/descope-gitops/{remote_ref}"
        if self._has_commit(commit):  # nothing new on the remote: no fetch
            if self.resolve(f"{local_ref}^{{commit}}") != commit:
                self._git("update-ref", ["update-ref", "-m", "descope-gitops: seen on remote", local_ref, commit])
            return commit, False
        self._git(
            "fetch", ["fetch", "--quiet", "--no-tags", "--no-write-fetch-head", self.url, f"+{remote_ref}:{local_ref}"]
        )
        fetched = self.resolve(f"{local_ref}^{{commit}}")
        if fetched is None:
            raise SourceUnavailable(f"git fetch of {self._shown_url}: ref {remote_ref!r} does not point to a commit")
        return fetched, True  # may be newer than ls-remote said if someone pushed in between

    def update_pinned(self, sha: str) -> tuple[str, bool]:
        """The pinned commit ``sha``, fetched into the cache unless it is there, and whether objects were fetched."""
        if self._has_commit(sha):
            return sha, False
        local_ref = _PINNED_NS + sha
        try:
            self._git(
                "fetch", ["fetch", "--quiet", "--no-tags", "--no-write-fetch-head", self.url, f"+{sha}:{local_ref}"]
            )
        except SourceUnavailable as exc:
            if not _UNADVERTISED.search(str(exc)):
                raise
            # The server will not serve a sha it does not advertise: fetch its branches and tags and look there.
            self._git(
                "fetch",
                [
                    "fetch",
                    "--quiet",
                    "--no-write-fetch-head",
                    self.url,
                    "+refs/heads/*:refs/heads/*",
                    "+refs/tags/*:refs/tags/*",
                ],
            )
            if not self._has_commit(sha):
                raise SourceUnavailable(f"commit {sha} not found on {self._shown_url}") from exc
            self._git("update-ref", ["update-ref", local_ref, sha])
        if not self._has_commit(sha):
            raise SourceUnavailable(f"commit {sha} not found on {self._shown_url}")
        return sha, True

    def fetch_name(self, name: str, rev: str) -> str:
        """The commit a branch or tag of the remote points to, fetched into the cache."""
        try:
            remote_ref, commit = self.ls_remote(name)
        except SourceUnavailable as exc:
            if "not found on" not in str(exc):
                raise
            if SHORT_SHA.match(name):  # maybe a commit we have not fetched: take every branch and tag, look again
                self._git("fetch", ["fetch", "--quiet", "--no-write-fetch-head", self.url, *_ALL_REFS])
                found = self.resolve(f"{name.lower()}^{{commit}}")
                if found is not None:
                    return found
            raise RevisionNotFound(
                f"{rev!r} names no branch, tag or commit of {self._shown_url} (see `git ls-remote`)"
            ) from exc
        if not self._has_commit(commit):
            local = f"{_REV_NS}{remote_ref.removeprefix('refs/')}"
            self._git(
                "fetch", ["fetch", "--quiet", "--no-tags", "--no-write-fetch-head", self.url, f"+{remote_ref}:{local}"]
            )
        return commit

    # -- running git --------------------------------------------------------------------------------------

    def _git(self, op: str, args: list[str], *, in_cache: bool = True, status_1_ok: bool = False) -> str:
        """Run one git command with our environment and timeout; failures become SourceUnavailable.

        ``ls-remote`` and ``fetch`` talk to the remote; everything else works on the cache, and a cache
        command that fails (or a fetch that reports corrupt objects) marks the cache to be set aside and
        recloned on the next fetch, so a damaged cache cannot fail every tick forever.
        """
        command = ["git", *(["--git-dir", str(self.cache_dir)] if in_cache else []), *args]
        remote = op in _REMOTE_OPS
        where = f"of {self._shown_url}" if remote else f"in the git cache {self.cache_dir}"
        started = time.monotonic()
        try:
            return Git(str(self.cache_dir.parent)).execute(command, env=self._env, kill_after_timeout=self.timeout)
        except GitCommandError as exc:
            stderr = _stderr_of(exc)
            if "did not complete in" in stderr or time.monotonic() - started >= self.timeout:
                raise SourceUnavailable(self._redact(f"git {op} {where} timed out after {self.timeout:g}s")) from exc
            if status_1_ok and exc.status == 1 and not stderr:
                return ""
            detail = f": {self._redact(_trim(stderr))}" if stderr else f" (exit status {exc.status})"
            message = f"git {op} {where} failed{detail}"
            if "Host key verification failed" in stderr and self._known_hosts_file is not None:
                message += (
                    f"; the server's host key is not in known_hosts_file {self._known_hosts_file}, or differs from "
                    "it: if the host really changed its key, check the new one against the fingerprints it "
                    "publishes before you replace the line (a different key may be a man-in-the-middle)"
                )
            if not remote or _CORRUPTION.search(stderr):
                self.suspect = f"git {op} failed in it"
                message += "; the cache will be set aside and recloned on the next fetch"
            raise SourceUnavailable(self._redact(message)) from exc
        except (GitError, OSError) as exc:
            raise SourceUnavailable(self._redact(f"git {op} {where} failed: {exc}")) from exc


def _stderr_of(exc: GitCommandError) -> str:
    """git's own stderr from a GitCommandError (GitPython wraps it as "\\n  stderr: '...'")."""
    raw = exc.stderr if isinstance(exc.stderr, str) else str(exc.stderr or "")
    text = raw.strip()
    if text.startswith("stderr: '") and text.endswith("'"):
        text = text[len("stderr: '") : -1]
    return text.strip()


def _trim(text: str) -> str:
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    joined = "; ".join(lines[-4:])
    return joined if len(joined) <= _STDERR_LIMIT else "…" + joined[-_STDERR_LIMIT:]


def split_credentials(url: str) -> tuple[str, str, str | None]:
    """(url without user info, user name for Basic auth, token) for http(s) URLs; others pass through."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return url, "x-access-token", None
    if parts.scheme.lower() not in ("http", "https") or "@" not in parts.netloc:
        return url, "x-access-token", None
    userinfo, _, hostport = parts.netloc.rpartition("@")
    user, colon, password = userinfo.partition(":")
    clean = urlunsplit((parts.scheme, hostport, parts.path, parts.query, parts.fragment))
    if colon:
        return clean, unquote(user) or "x-access-token", unquote(password) or None
    return clean, "x-access-token", unquote(user) or None


def mask_url(url: str) -> str:
    """``https://***@host/path``: shows that credentials are in use without showing them."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return url
    if not parts.scheme or not parts.netloc:
        return url
    host = parts.netloc.rpartition("@")[2]
    return urlunsplit((parts.scheme, f"{MASK}@{host}", parts.path, parts.query, parts.fragment))


def git_env(
    user: str, token: str | None, *, over_ssh: bool, ssh_key_file: Path | None, known_hosts_file: Path | None
) -> tuple[dict[str, str], str | None]:
    """The environment of every git process (no prompts, the token as a header, the ssh command), and the
    Basic credential the header carries (a secret to mask), if any."""
    basic: str | None = None
    env = {"GIT_TERMINAL_PROMPT": "0", "GIT_ASKPASS": "", "GCM_INTERACTIVE": "never"}
    config: list[tuple[str, str]] = []
    if token:
        basic = base64.b64encode(f"{user}:{token}".encode()).decode("ascii")
        config.append(("http.extraHeader", f"Authorization: Basic {basic}"))
    if config:
        first = int(os.environ.get("GIT_CONFIG_COUNT", "0") or "0")  # keep any the operator set
        for n, (key, value) in enumerate(config, start=first):
            env[f"GIT_CONFIG_KEY_{n}"] = key
            env[f"GIT_CONFIG_VALUE_{n}"] = value
        env["GIT_CONFIG_COUNT"] = str(first + len(config))
    if over_ssh:
        ssh = ["ssh"]
        if ssh_key_file is not None:
            ssh += ["-i", shlex.quote(str(ssh_key_file)), "-o", "IdentitiesOnly=yes"]
        if known_hosts_file is not None:
            known_hosts = shlex.quote(f"UserKnownHostsFile={_ssh_option_path(known_hosts_file)}")
            ssh += ["-o", "StrictHostKeyChecking=yes", "-o", known_hosts, "-o", "GlobalKnownHostsFile=/dev/null"]
        else:  # insecure_accept_new_host_keys (checked by check_host_keys): trust on first use
            ssh += ["-o", "StrictHostKeyChecking=accept-new"]
        env["GIT_SSH_COMMAND"] = " ".join([*ssh, "-o", "BatchMode=yes"])
    return env, basic


_SCP_LIKE = re.compile(r"(?:[^@/]+@)?(?P<host>\[[^\]/]+\]|[^:/\[\]]+):(?!//)")
_REMOTE_HELPER = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*::")
_SSH_SCHEMES = frozenset({"ssh", "git+ssh", "ssh+git"})
_MAX_KNOWN_HOSTS_BYTES = 1024 * 1024


def ssh_host(url: str) -> tuple[str, int | None] | None:
    """(host, port) an SSH URL connects to, or None for any other URL (https, file, a local path).

    Like git: ``ssh://`` (and ``git+ssh://``), or the scp-like ``[user@]host:path`` where no ``/``
    comes before the first ``:``; ``transport::address`` names a remote helper, not a host.
    """
    if "://" in url:
        try:
            parts = urlsplit(url)
            port = parts.port
        except ValueError:
            return None
        return (parts.hostname or "", port) if parts.scheme.lower() in _SSH_SCHEMES else None
    match = _SCP_LIKE.match(url)
    if match is None or _REMOTE_HELPER.match(url):
        return None
    return match.group("host").strip("[]"), None


def check_host_keys(url: str, known_hosts_file: Path | None, insecure: bool) -> list[str]:
    """Why the SSH host key settings cannot be used, one line each (nothing for a URL that is not SSH)."""
    target = ssh_host(url)
    if target is None:
        return [
            f"{key}: only used with an SSH URL (ssh://host/repo or git@host:org/repo); remove it"
            for key, value in (("known_hosts_file", known_hosts_file), ("insecure_accept_new_host_keys", insecure))
            if value
        ]
    if known_hosts_file is not None and insecure:
        return [
            "set known_hosts_file or insecure_accept_new_host_keys, not both "
            "(with known_hosts_file, keys are checked strictly)"
        ]
    if known_hosts_file is None:
        if insecure:
            return []
        host, port = target
        keyscan = f"ssh-keyscan {f'-p {port} ' if port and port != 22 else ''}{host or '<host>'}"
        return [
            "known_hosts_file: an SSH URL needs the server's host key to check it against; without one, whoever "
            "answers the connection (a man-in-the-middle) would be trusted and would serve tenants.yaml. Set "
            '[source] known_hosts_file = "/path/to/known_hosts" (or DESCOPE_GITOPS_SOURCE__KNOWN_HOSTS_FILE) to a '
            f"file with the host's lines from `{keyscan} > known_hosts`, after checking `ssh-keygen -lf "
            "known_hosts` against the SSH key fingerprints your Git host publishes (on a workstation, "
            "~/.ssh/known_hosts will do); or, knowingly, set "
            "insecure_accept_new_host_keys = true to trust the first key presented at each start"
        ]
    return _known_hosts_problems(Path(known_hosts_file))


def _known_hosts_problems(path: Path) -> list[str]:
    """Whether the known_hosts file can be used: readable, small, with at least one host key line."""
    where = f"known_hosts_file: {path}"
    if any(c in str(path) for c in "\n\r\0") or "${" in str(path):
        return [f"{where}: ssh would misread this path (a line break, NUL or '${{'); move the file to a plain path"]
    try:
        with path.open("rb") as handle:
            data = handle.read(_MAX_KNOWN_HOSTS_BYTES + 1)
    except FileNotFoundError:
        return [f"{where} does not exist (mount the known_hosts key of the git Secret there)"]
    except IsADirectoryError:
        return [f"{where} is a directory, not a known_hosts file"]
    except OSError as exc:
        return [f"{where} cannot be read: {exc.strerror or exc}"]
    if len(data) > _MAX_KNOWN_HOSTS_BYTES:
        return [f"{where} is larger than {_MAX_KNOWN_HOSTS_BYTES:,} bytes; it should hold a few host key lines"]
    lines = [line.strip() for line in data.decode("utf-8", "replace").splitlines()]
    if not any(line and not line.startswith("#") and len(line.split()) >= 3 for line in lines):
        return [
            f"{where} holds no host keys; expected lines like `github.com ssh-ed25519 AAAA...` "
            "as `ssh-keyscan <host>` prints them"
        ]
    return []


def _ssh_option_path(path: Path) -> str:
    """``path`` as the value of an ssh ``-o`` option: quoted for ssh's parser, ``%`` not a token."""
    escaped = str(path).replace("\\", "\\\\").replace('"', '\\"').replace("%", "%%")
    return f'"{escaped}"'


def files_in(
    commit: Commit, path: str, *, shown_url: str, max_file_bytes: int, max_total_bytes: int
) -> dict[str, bytes]:
    """The tenants file(s) at ``path`` in ``commit``: the blob, or the yaml blobs under a tree, by repository path."""
    root = commit.tree
    where = f"commit {commit.hexsha[:7]} of {shown_url}"
    try:
        obj = root / path if path else root
    except KeyError:
        raise TenantsFileInvalid([Problem(path, None, f"not found in {where}")]) from None
    if isinstance(obj, Tree):
        return _read_tree(root, obj, where, path=path, max_file_bytes=max_file_bytes, max_total_bytes=max_total_bytes)
    if not isinstance(obj, Blob):
        raise TenantsFileInvalid([Problem(path, None, f"is a git submodule in {where}; not followed")])
    if obj.mode == _SYMLINK_MODE:
        raise TenantsFileInvalid([_symlink_problem(path, obj)])
    limit = min(max_file_bytes, max_total_bytes)
    if obj.size > limit:
        raise TenantsFileInvalid([_too_big(path, obj.size, limit)])
    return {path: _read_blob(obj, path, limit)}


def _read_tree(
    root: Tree, tree: Tree, where: str, *, path: str, max_file_bytes: int, max_total_bytes: int
) -> dict[str, bytes]:
    found: list[Blob] = []
    problems: list[Problem] = []
    for item in _walk(tree):
        is_yaml = item.name.lower().endswith(YAML_SUFFIXES)
        if item.mode == _SUBMODULE_MODE or not isinstance(item, Blob):
            if is_yaml:
                problems.append(Problem(_path(item), None, "is a git submodule; not followed"))
            continue
        if item.mode == _SYMLINK_MODE:
            if is_yaml or _points_at_tree(root, item):
                problems.append(_symlink_problem(_path(item), item))
            continue
        if not is_yaml:
            continue
        if item.size > max_file_bytes:
            problems.append(_too_big(_path(item), item.size, max_file_bytes))
        else:
            found.append(item)
    shown_dir = path or "."
    if problems:
        raise TenantsFileInvalid(sorted(problems, key=lambda p: p.file))
    if not found:
        raise TenantsFileInvalid(
            [Problem(shown_dir, None, f"no *.yaml or *.yml files in this directory of {where} (hidden ones skipped)")]
        )
    if sum(blob.size for blob in found) > max_total_bytes:
        raise TenantsFileInvalid(
            [
                Problem(
                    shown_dir,
                    None,
                    f"the tenants files add up to more than the limit of {max_total_bytes:,} bytes",
                )
            ]
        )
    found.sort(key=lambda blob: _path(blob))
    return {_path(blob): _read_blob(blob, _path(blob), max_file_bytes) for blob in found}


def _walk(tree: Tree) -> Iterator[Blob | Submodule]:
    """Every non-hidden entry under ``tree`` except directories themselves, depth first."""
    for item in tree:
        if item.name.startswith("."):
            continue
        if isinstance(item, Tree):
            yield from _walk(item)
        else:
            yield item


def _path(obj: Blob | Submodule) -> str:
    """An object's path from the repository root, with forward slashes (GitPython types it loosely)."""
    return os.fspath(obj.path)


def _points_at_tree(root: Tree, link: Blob) -> bool:
    """Whether a symlink blob's target, resolved inside the commit, is a directory."""
    target = _read_blob(link, _path(link), 4096).decode("utf-8", "replace")
    resolved = posixpath.normpath(posixpath.join(posixpath.dirname(_path(link)), target))
    if target.startswith("/") or resolved == ".." or resolved.startswith("../"):
        return False  # outside the repository: nothing there for us, like any non-yaml file
    try:
        return isinstance(root / resolved, Tree) if resolved != "." else True
    except KeyError:
        return False


def _read_blob(blob: Blob, display: str, limit: int) -> bytes:
    content: bytes = blob.data_stream.read(limit + 1)
    if len(content) > limit:
        raise TenantsFileInvalid([_too_big(display, None, limit)])
    return content


def _symlink_problem(display: str, link: Blob) -> Problem:
    try:
        target = _read_blob(link, display, 4096).decode("utf-8", "replace")
    except TenantsFileInvalid:
        target = "?"
    return Problem(display, None, f"is a symlink (to {target}); symlinks in a git source are not followed")


def _too_big(display: str, size: int | None, limit: int) -> Problem:
    shown = f"{size:,} bytes" if size is not None else "larger than that"
    return Problem(display, None, f"file is over the size limit of {limit:,} bytes ({shown}); not read")
