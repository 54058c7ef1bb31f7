"""The bare clone GitSource reads from: made, checked, set aside when damaged, fetched into, and git run on it."""

from __future__ import annotations

import configparser
import re
import time
from pathlib import Path

from git import Repo
from git.cmd import Git
from git.exc import GitCommandError, GitError, InvalidGitRepositoryError, NoSuchPathError

from controller.adapters.git_auth import mask_url
from controller.errors import RevisionNotFound, SourceUnavailable
from controller.redaction import Redactor

SHA = re.compile(r"^[0-9a-f]{40}$")
SHORT_SHA = re.compile(r"^[0-9a-fA-F]{4,40}$")
_PINNED_NS = "refs/descope-gitops/pinned/"
_REV_NS = "refs/descope-gitops/rev/"
_ALL_REFS = ("+refs/heads/*:refs/heads/*", "+refs/tags/*:refs/tags/*")
_STDERR_LIMIT = 600
_REMOTE_OPS = frozenset({"ls-remote", "fetch"})
_UNADVERTISED = re.compile(
    r"not our ref|unadvertised object|couldn't find remote ref|no such remote ref", re.IGNORECASE
)
_CORRUPTION = re.compile(r"is corrupt|bad object|unable to unpack|inflate:|object file .* is empty", re.IGNORECASE)


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
