"""The Git source against real repositories in temp directories, read over file:// as the daemon would."""

from __future__ import annotations

import base64
import http.server
import os
import re
import socket
import subprocess
import threading
import time
import traceback
from collections.abc import Iterator
from pathlib import Path

import pytest
from git.cmd import Git

from controller.adapters.git_source import GitSource
from controller.core.loader import parse_tenant_files
from controller.errors import ConfigError, RevisionNotFound, SourceUnavailable, TenantsFileInvalid

TENANTS_A = b"tenants:\n  - {id: a, name: A}\n"
TENANTS_B = b"tenants:\n  - {id: b, name: B}\n"


@pytest.fixture(autouse=True)
def _isolated_git(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """Commits with a fixed identity, and no user or system git config leaking into the tests."""
    monkeypatch.setenv("GIT_CONFIG_GLOBAL", os.devnull)
    monkeypatch.setenv("GIT_CONFIG_NOSYSTEM", "1")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    for who in ("AUTHOR", "COMMITTER"):
        monkeypatch.setenv(f"GIT_{who}_NAME", "Platform Team")
        monkeypatch.setenv(f"GIT_{who}_EMAIL", "platform@example.com")


class Remote:
    """A real repository with a work tree, standing in for the platform team's tenants repo."""

    def __init__(self, path: Path) -> None:
        self.path = path
        path.mkdir(parents=True)
        self.git("init", "--quiet", "--initial-branch=main")

    @property
    def url(self) -> str:
        return self.path.as_uri()

    def git(self, *args: str) -> str:
        done = subprocess.run(["git", *args], cwd=self.path, check=True, capture_output=True, text=True)
        return done.stdout.strip()

    def write(self, name: str, content: bytes) -> None:
        target = self.path / name
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(content)

    def commit(self, files: dict[str, bytes | None], message: str = "change tenants") -> str:
        for name, content in files.items():
            if content is None:
                self.git("rm", "--quiet", "-r", name)
            else:
                self.write(name, content)
        self.git("add", "--all")
        self.git("commit", "--quiet", "--allow-empty", "-m", message)
        return self.git("rev-parse", "HEAD")


@pytest.fixture
def remote(tmp_path: Path) -> Remote:
    return Remote(tmp_path / "remote")


def source(remote: Remote | str, tmp_path: Path, **kw: object) -> GitSource:
    url = remote.url if isinstance(remote, Remote) else remote
    return GitSource(url, cache_dir=tmp_path / "cache" / "tenants.git", **kw)  # type: ignore[arg-type]


class GitCalls:
    """The git commands GitSource ran (its subcommand names), to prove what it did not do."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.commands: list[list[str]] = []
        real = Git.execute

        def spy(git: Git, command: object, *args: object, **kw: object) -> object:
            if isinstance(command, list):
                self.commands.append([str(c) for c in command])
            return real(git, command, *args, **kw)  # type: ignore[call-overload]

        monkeypatch.setattr(Git, "execute", spy)

    def ran(self, subcommand: str) -> bool:
        return any(subcommand in cmd for cmd in self.commands)

    def network(self) -> list[str]:
        return [sub for cmd in self.commands for sub in cmd if sub in ("ls-remote", "fetch", "clone")]


def problems(exc: pytest.ExceptionInfo[TenantsFileInvalid]) -> list[str]:
    return [str(p) for p in exc.value.problems]


# -- following a branch ----------------------------------------------------------------------------------


def test_first_fetch_clones_a_bare_cache_and_returns_the_commit(remote: Remote, tmp_path: Path) -> None:
    sha = remote.commit({"tenants.yaml": TENANTS_A}, "add tenant a")
    results: list[str] = []
    src = source(remote, tmp_path, on_fetch=results.append)

    rev = src.fetch()

    assert rev.id == sha
    assert rev.files == {"tenants.yaml": TENANTS_A}
    assert rev.label == f"main@{sha[:7]}"
    assert rev.committed_at == float(remote.git("log", "-1", "--format=%ct"))
    assert rev.commit_message == "add tenant a\n"
    assert rev.notes == ()
    assert results == ["success"]
    cache = tmp_path / "cache" / "tenants.git"
    assert (cache / "HEAD").is_file() and not (cache / "tenants.yaml").exists()  # bare: no work tree


def test_a_new_commit_is_seen_on_the_next_fetch(remote: Remote, tmp_path: Path) -> None:
    remote.commit({"tenants.yaml": TENANTS_A})
    results: list[str] = []
    src = source(remote, tmp_path, on_fetch=results.append)
    src.fetch()

    second = remote.commit({"tenants.yaml": TENANTS_B}, "switch to b")
    rev = src.fetch()

    assert (rev.id, rev.files["tenants.yaml"], rev.commit_message) == (second, TENANTS_B, "switch to b\n")
    assert results == ["success", "success"]


def test_an_unchanged_remote_is_asked_but_not_fetched(
    remote: Remote, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    sha = remote.commit({"tenants.yaml": TENANTS_A})
    results: list[str] = []
    source(remote, tmp_path, on_fetch=results.append).fetch()
    calls = GitCalls(monkeypatch)

    again = source(remote, tmp_path, on_fetch=results.append)  # a restarted daemon, warm cache
    first = again.fetch()
    second = again.fetch()

    assert first.id == second.id == sha and second.files == {"tenants.yaml": TENANTS_A}
    assert results == ["success", "skipped", "skipped"]
    assert calls.network() == ["ls-remote", "ls-remote"]


def test_a_branch_reset_to_a_commit_already_cached_is_read_without_fetching(
    remote: Remote, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    old = remote.commit({"tenants.yaml": TENANTS_A})
    remote.commit({"tenants.yaml": TENANTS_B})
    src = source(remote, tmp_path)
    src.fetch()
    remote.git("reset", "--quiet", "--hard", old)  # a revert by force-push
    calls = GitCalls(monkeypatch)

    rev = src.fetch()

    assert (rev.id, rev.files["tenants.yaml"]) == (old, TENANTS_A)
    assert not calls.ran("fetch")


def test_uncommitted_edits_in_the_remote_are_not_seen(remote: Remote, tmp_path: Path) -> None:
    sha = remote.commit({"tenants.yaml": TENANTS_A})
    remote.write("tenants.yaml", TENANTS_B)  # edited, not committed
    remote.write("staged.yaml", TENANTS_B)
    remote.git("add", "staged.yaml")  # staged, not committed

    rev = source(remote, tmp_path, path=".").fetch()

    assert rev.id == sha
    assert rev.files == {"tenants.yaml": TENANTS_A}


def test_a_cache_set_aside_by_head_is_still_reported_by_the_next_fetch(remote: Remote, tmp_path: Path) -> None:
    remote.commit({"tenants.yaml": TENANTS_A})
    (tmp_path / "cache" / "tenants.git").mkdir(parents=True)
    (tmp_path / "cache" / "tenants.git" / "junk").write_text("x")
    src = source(remote, tmp_path)

    src.head()
    first, second = src.fetch(), src.fetch()

    assert len(first.notes) == 1 and "not a git repository" in first.notes[0]
    assert second.notes == ()


def test_head_asks_the_remote_without_fetching(remote: Remote, tmp_path: Path) -> None:
    remote.commit({"tenants.yaml": TENANTS_A})
    src = source(remote, tmp_path)
    src.fetch()
    newer = remote.commit({"tenants.yaml": TENANTS_B})

    assert src.head() == newer
    with pytest.raises(SourceUnavailable, match="not in the git cache"):
        src.read_at(newer)  # head() did not bring the commit in


# -- tags and pinned commits -----------------------------------------------------------------------------


@pytest.mark.parametrize("annotated", [False, True], ids=["lightweight", "annotated"])
def test_a_tag_is_followed_and_a_moved_tag_is_seen(remote: Remote, tmp_path: Path, annotated: bool) -> None:
    tagged = remote.commit({"tenants.yaml": TENANTS_A})
    remote.git("tag", *(["-a", "-m", "release"] if annotated else []), "v1.2")
    remote.commit({"tenants.yaml": TENANTS_B})  # main moves on; the tag does not
    results: list[str] = []
    src = source(remote, tmp_path, ref="v1.2", on_fetch=results.append)

    first, second = src.fetch(), src.fetch()

    assert (first.id, first.files["tenants.yaml"], first.label) == (tagged, TENANTS_A, f"v1.2@{tagged[:7]}")
    assert second.id == tagged and results == ["success", "skipped"]

    retagged = remote.commit({"tenants.yaml": b"tenants: []\n"})
    remote.git("tag", "--force", *(["-a", "-m", "release again"] if annotated else []), "v1.2")
    assert src.fetch().id == retagged


def test_a_pinned_commit_never_contacts_the_remote_again(
    remote: Remote, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    pinned = remote.commit({"tenants.yaml": TENANTS_A})
    remote.commit({"tenants.yaml": TENANTS_B})
    results: list[str] = []
    src = source(remote, tmp_path, ref=pinned, on_fetch=results.append)

    assert src.fetch().files == {"tenants.yaml": TENANTS_A}

    remote.path.rename(tmp_path / "gone")  # the remote is unreachable from now on
    calls = GitCalls(monkeypatch)
    rev = src.fetch()
    assert (rev.id, rev.files["tenants.yaml"], rev.label) == (pinned, TENANTS_A, pinned[:7])
    assert src.head() == pinned
    assert results == ["success", "skipped"]
    assert calls.network() == []


def test_a_pinned_commit_missing_on_the_remote_is_unavailable(remote: Remote, tmp_path: Path) -> None:
    remote.commit({"tenants.yaml": TENANTS_A})
    with pytest.raises(SourceUnavailable, match=f"commit {'0' * 40} not found on file://"):
        source(remote, tmp_path, ref="0" * 40).fetch()


# -- what is read from the commit ------------------------------------------------------------------------


def test_a_directory_is_read_recursively_with_repo_relative_names(remote: Remote, tmp_path: Path) -> None:
    remote.commit(
        {
            "tenants/us.yml": b"us",
            "tenants/eu/de.yaml": b"de",
            "tenants/eu/fr/paris.YAML": b"paris",
            "tenants/README.md": b"not yaml",
            "tenants/.draft.yaml": b"hidden",
            "tenants/.wip/x.yaml": b"hidden",
            "elsewhere.yaml": b"outside the path",
        }
    )

    files = source(remote, tmp_path, path="tenants/").fetch().files

    assert list(files) == ["tenants/eu/de.yaml", "tenants/eu/fr/paris.YAML", "tenants/us.yml"]
    assert files["tenants/eu/fr/paris.YAML"] == b"paris"


def test_loader_errors_name_the_file_and_line_in_the_repo(remote: Remote, tmp_path: Path) -> None:
    remote.commit({"tenants/eu.yaml": b"tenants:\n  - id: a\n    name: A\n    enforceSSO: maybe\n"})

    files = source(remote, tmp_path, path="tenants").fetch().files

    with pytest.raises(TenantsFileInvalid) as info:
        parse_tenant_files(files)
    assert any(str(p).startswith("tenants/eu.yaml:4") for p in info.value.problems), problems(info)


def test_the_path_missing_in_the_commit_is_an_invalid_revision(remote: Remote, tmp_path: Path) -> None:
    sha = remote.commit({"other.yaml": TENANTS_A})
    results: list[str] = []

    with pytest.raises(TenantsFileInvalid) as info:
        source(remote, tmp_path, on_fetch=results.append).fetch()

    assert problems(info) == [f"tenants.yaml: not found in commit {sha[:7]} of {remote.url}"]
    assert not info.value.retryable
    assert results == ["success"]  # the fetch itself worked; the revision is what is wrong


def test_a_directory_without_yaml_files_is_invalid(remote: Remote, tmp_path: Path) -> None:
    remote.commit({"tenants/README.md": b"x", "tenants/.hidden.yaml": b"x"})
    with pytest.raises(TenantsFileInvalid) as info:
        source(remote, tmp_path, path="tenants").fetch()
    assert "no *.yaml or *.yml files" in problems(info)[0]


def test_symlinks_in_the_commit_are_refused(remote: Remote, tmp_path: Path) -> None:
    remote.commit({"real/tenants.yaml": TENANTS_A, "tenants/ok.yaml": TENANTS_A})
    os.symlink("../real/tenants.yaml", remote.path / "tenants" / "link.yaml")
    os.symlink("../real", remote.path / "tenants" / "linked-dir")
    os.symlink("/etc/passwd", remote.path / "tenants" / "notes")  # not yaml, not a directory: ignored
    os.symlink("real/tenants.yaml", remote.path / "tenants.yaml")
    remote.commit({})

    with pytest.raises(TenantsFileInvalid) as in_dir:
        source(remote, tmp_path, path="tenants").fetch()
    with pytest.raises(TenantsFileInvalid) as as_file:
        source(remote, tmp_path).fetch()

    assert problems(in_dir) == [
        "tenants/link.yaml: is a symlink (to ../real/tenants.yaml); symlinks in a git source are not followed",
        "tenants/linked-dir: is a symlink (to ../real); symlinks in a git source are not followed",
    ]
    assert problems(as_file) == [
        "tenants.yaml: is a symlink (to real/tenants.yaml); symlinks in a git source are not followed"
    ]


def test_oversize_blobs_are_refused_before_reading(remote: Remote, tmp_path: Path) -> None:
    remote.commit({"tenants.yaml": b"x" * 100, "dir/a.yaml": b"a" * 60, "dir/b.yaml": b"b" * 60})

    with pytest.raises(TenantsFileInvalid) as one:
        source(remote, tmp_path, max_file_bytes=50).fetch()
    with pytest.raises(TenantsFileInvalid) as total:
        source(remote, tmp_path, path="dir", max_total_bytes=100).fetch()

    assert problems(one) == ["tenants.yaml: file is over the size limit of 50 bytes (100 bytes); not read"]
    assert problems(total) == ["dir: the tenants files add up to more than the limit of 100 bytes"]


def test_read_at_returns_an_earlier_cached_commit(remote: Remote, tmp_path: Path) -> None:
    first = remote.commit({"tenants.yaml": TENANTS_A})
    src = source(remote, tmp_path)
    src.fetch()
    remote.commit({"tenants.yaml": TENANTS_B})
    src.fetch()

    assert src.read_at(first).files == {"tenants.yaml": TENANTS_A}
    assert src.read_at(first[:10]).id == first
    with pytest.raises(SourceUnavailable, match="not in the git cache"):
        src.read_at("1234567890abcdef1234567890abcdef12345678")
    with pytest.raises(SourceUnavailable, match="not a commit sha"):
        src.read_at("--output=/tmp/x")


def test_resolve_takes_what_git_resolves_and_names_the_commit(remote: Remote, tmp_path: Path) -> None:
    first = remote.commit({"tenants.yaml": TENANTS_A})
    remote.git("tag", "v1", first)
    remote.git("tag", "-a", "v1-annotated", "-m", "release", first)
    second = remote.commit({"tenants.yaml": TENANTS_B})
    remote.git("branch", "hotfix", first)
    remote.git("checkout", "--quiet", "-b", "feature")
    third = remote.commit({"tenants.yaml": TENANTS_A}, message="feature work")
    remote.git("checkout", "--quiet", "main")
    src = source(remote, tmp_path)  # follows main
    src.fetch()

    assert src.resolve("HEAD") == second
    assert src.resolve("HEAD~1") == first
    assert src.resolve("main^") == first
    assert src.resolve(first[:7]) == first
    assert src.resolve("v1") == first and src.resolve("v1-annotated") == first
    assert src.resolve("hotfix") == first
    assert src.resolve("feature") == third, "a branch the cache never followed is fetched"
    assert src.read_at(src.resolve("feature~1")).files == {"tenants.yaml": TENANTS_B}


@pytest.mark.parametrize(
    ("rev", "message"),
    [
        ("no-such-branch", "names no branch, tag or commit"),
        ("HEAD~5", "has no '~5'"),
        ("--upload-pack=evil", "is not a git revision"),
        ("main:tenants.yaml", "is not a git revision"),
        ("HEAD@{1}", "is not a git revision"),
        ("deadbeef", "names no branch, tag or commit"),
    ],
)
def test_resolve_refuses_what_names_no_commit(remote: Remote, tmp_path: Path, rev: str, message: str) -> None:
    remote.commit({"tenants.yaml": TENANTS_A})
    src = source(remote, tmp_path)
    src.fetch()
    with pytest.raises(RevisionNotFound, match=re.escape(message)):
        src.resolve(rev)


# -- the remote or the cache failing ---------------------------------------------------------------------


def test_a_moved_remote_is_unavailable_and_recovers_when_back(remote: Remote, tmp_path: Path) -> None:
    remote.commit({"tenants.yaml": TENANTS_A})
    results: list[str] = []
    src = source(remote, tmp_path, on_fetch=results.append)
    src.fetch()
    remote.path.rename(tmp_path / "moved")

    with pytest.raises(SourceUnavailable) as info:
        src.fetch()

    assert str(info.value).startswith(f"git ls-remote of {remote.url} failed: ")
    assert "does not appear to be a git repository" in str(info.value)
    assert info.value.retryable and info.value.__cause__ is not None

    (tmp_path / "moved").rename(remote.path)
    newer = remote.commit({"tenants.yaml": TENANTS_B})
    assert src.fetch().id == newer
    assert results == ["success", "error", "success"]


def test_a_deleted_branch_is_unavailable(remote: Remote, tmp_path: Path) -> None:
    remote.commit({"tenants.yaml": TENANTS_A})
    remote.git("branch", "release")
    src = source(remote, tmp_path, ref="release")
    src.fetch()
    remote.git("branch", "--delete", "release")

    with pytest.raises(SourceUnavailable) as info:
        src.fetch()
    assert str(info.value) == f"ref 'release' not found on {remote.url}"


def _garbage(cache: Path, other: Remote) -> None:
    cache.mkdir(parents=True)
    (cache / "HEAD").write_text("not a ref\n")
    (cache / "keep-me.txt").write_text("evidence")


def _other_remote(cache: Path, other: Remote) -> None:
    subprocess.run(["git", "clone", "--quiet", "--bare", other.url, str(cache)], check=True)
    (cache / "keep-me.txt").write_text("evidence")


def _checkout(cache: Path, other: Remote) -> None:
    cache.mkdir(parents=True)
    subprocess.run(["git", "init", "--quiet", str(cache)], check=True)
    (cache / "keep-me.txt").write_text("evidence")


@pytest.mark.parametrize(
    ("make", "reason"),
    [
        (_garbage, "it is not a git repository"),
        (_other_remote, "it is a clone of file://"),
        (_checkout, "it is not a bare repository"),
    ],
    ids=["garbage", "other-remote", "checkout"],
)
def test_an_unusable_cache_is_set_aside_and_recloned(remote: Remote, tmp_path: Path, make: object, reason: str) -> None:
    sha = remote.commit({"tenants.yaml": TENANTS_A})
    other = Remote(tmp_path / "other")
    other.commit({"tenants.yaml": TENANTS_B})
    cache = tmp_path / "cache" / "tenants.git"
    make(cache, other)  # type: ignore[operator]

    rev = source(remote, tmp_path).fetch()

    assert (rev.id, rev.files["tenants.yaml"]) == (sha, TENANTS_A)
    (aside,) = [p for p in cache.parent.iterdir() if p.name.startswith("tenants.git.invalid-")]
    assert (aside / "keep-me.txt").read_text() == "evidence"  # moved, not deleted
    assert len(rev.notes) == 1 and reason in rev.notes[0] and str(aside) in rev.notes[0]


def test_a_cache_with_corrupt_objects_is_set_aside_on_the_next_fetch(remote: Remote, tmp_path: Path) -> None:
    remote.commit({"tenants.yaml": TENANTS_A})
    src = source(remote, tmp_path)
    src.fetch()
    cache = tmp_path / "cache" / "tenants.git"
    for obj in (cache / "objects").rglob("*"):
        if obj.is_file() and obj.parent.name not in ("info", "pack"):
            obj.chmod(0o644)
            obj.write_bytes(b"garbage")  # every loose object is corrupt; the refs still point at them

    with pytest.raises(
        SourceUnavailable, match="is corrupt; the cache will be set aside and recloned on the next fetch"
    ):
        src.fetch()
    rev = src.fetch()

    assert rev.files == {"tenants.yaml": TENANTS_A}
    assert rev.notes and "moved it aside" in rev.notes[0]


# -- credentials and timeouts ----------------------------------------------------------------------------


def _everything_said(exc: BaseException, src: GitSource) -> str:
    return "".join(traceback.format_exception(exc)) + repr(src) + str(src.__dict__.get("url"))


@pytest.mark.parametrize(
    ("url", "token"),
    [
        ("https://user:s3cr3t-token@127.0.0.1:9/repo.git", None),
        ("https://s3cr3t-token@127.0.0.1:9/repo.git", None),
        ("https://127.0.0.1:9/repo.git", "s3cr3t-token"),
    ],
    ids=["user-and-token-in-url", "token-in-url", "token-argument"],
)
def test_a_token_never_leaks_into_errors_or_repr(tmp_path: Path, url: str, token: str | None) -> None:
    src = source(url, tmp_path, token=token, timeout=5)

    with pytest.raises(SourceUnavailable) as fetched:
        src.fetch()
    with pytest.raises(SourceUnavailable) as head:
        src.head()

    for info in (fetched, head):
        said = _everything_said(info.value, src)
        assert "s3cr3t-token" not in said
        assert base64.b64encode(b"s3cr3t-token").decode()[:12] not in said
        assert "https://***@127.0.0.1:9/repo.git" in str(info.value)
    assert "s3cr3t-token" in src.secrets  # for the composition root's register_secret
    config = (tmp_path / "cache" / "tenants.git" / "config").read_text()
    assert "s3cr3t" not in config and "remote" in config


class _RecordingHandler(http.server.BaseHTTPRequestHandler):
    seen: list[tuple[str, str | None]] = []

    def do_GET(self) -> None:  # a wrong token: 401, as GitHub and GitLab answer
        self.seen.append((self.path, self.headers.get("Authorization")))
        self.send_response(401)
        self.send_header("WWW-Authenticate", 'Basic realm="git"')
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture
def http_server() -> Iterator[tuple[str, list[tuple[str, str | None]]]]:
    seen: list[tuple[str, str | None]] = []
    handler = type("Handler", (_RecordingHandler,), {"seen": seen})
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}", seen
    server.shutdown()
    server.server_close()


@pytest.mark.parametrize(
    ("userinfo", "token", "expected"),
    [
        ("", "tok-123456", "x-access-token:tok-123456"),
        ("oauth2:glpat-abcdef@", None, "oauth2:glpat-abcdef"),
        ("ghp_abcdef@", None, "x-access-token:ghp_abcdef"),
    ],
)
def test_the_token_is_sent_as_a_basic_auth_header_not_in_the_url(
    tmp_path: Path,
    http_server: tuple[str, list[tuple[str, str | None]]],
    userinfo: str,
    token: str | None,
    expected: str,
) -> None:
    base, seen = http_server
    src = source(base.replace("http://", f"http://{userinfo}") + "/org/tenants.git", tmp_path, token=token, timeout=5)

    with pytest.raises(SourceUnavailable) as info:
        src.fetch()  # and does not wait for a password

    assert "terminal prompts disabled" in str(info.value)
    assert seen, "git never reached the server"
    path, auth = seen[0]
    assert path.startswith("/org/tenants.git/info/refs")
    assert auth == "Basic " + base64.b64encode(expected.encode()).decode()


def test_a_hanging_remote_times_out(tmp_path: Path) -> None:
    with socket.socket() as listener:  # accepts connections (kernel backlog) and never answers
        listener.bind(("127.0.0.1", 0))
        listener.listen(8)
        url = f"http://127.0.0.1:{listener.getsockname()[1]}/repo.git"
        results: list[str] = []
        src = source(url, tmp_path, timeout=1, on_fetch=results.append)
        raised: list[BaseException] = []

        def fetch() -> None:
            try:
                src.fetch()
            except BaseException as exc:
                raised.append(exc)

        started = time.monotonic()
        worker = threading.Thread(target=fetch, daemon=True)
        worker.start()
        worker.join(timeout=5)  # were the timeout not applied, closing the listener below would end git
        elapsed = time.monotonic() - started

    assert not worker.is_alive() and elapsed < 3, f"fetch still waiting after {elapsed:.1f}s"
    assert [str(e) for e in raised] == [f"git ls-remote of {url} timed out after 1s"]
    assert isinstance(raised[0], SourceUnavailable)
    assert results == ["error"]


KNOWN_HOSTS = "git.example.com ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl\n"
SSH_URL = "ssh://git@git.example.com/org/tenants.git"


def fake_ssh(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, stderr: str = "Permission denied (publickey).") -> Path:
    """An ``ssh`` first on PATH that records its arguments (one a line) and fails like the real one would."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    record = tmp_path / "ssh-args"
    script = bin_dir / "ssh"
    script.write_text(f'#!/bin/sh\nprintf "%s\\n" "$@" > {record}\necho "{stderr}" >&2\nexit 255\n')
    script.chmod(0o755)
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    return record


def known_hosts(tmp_path: Path, name: str = "git material/known_hosts", text: str = KNOWN_HOSTS) -> Path:
    path = tmp_path / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def test_ssh_checks_the_host_key_strictly_against_known_hosts_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    record = fake_ssh(tmp_path, monkeypatch)
    key = tmp_path / "deploy key"  # spaces and a '%' (an ssh token) prove both paths are quoted
    hosts = known_hosts(tmp_path, "git material/known%hosts")

    with pytest.raises(SourceUnavailable, match="Permission denied"):
        source(SSH_URL, tmp_path, ssh_key_file=key, known_hosts_file=hosts, timeout=5).fetch()

    args = record.read_text().splitlines()
    assert args[:2] == ["-i", str(key)]
    for option in (
        "IdentitiesOnly=yes",
        "StrictHostKeyChecking=yes",
        f'UserKnownHostsFile="{str(hosts).replace("%", "%%")}"',  # one file for ssh's parser, '%' literal
        "GlobalKnownHostsFile=/dev/null",  # that file alone
        "BatchMode=yes",
    ):
        assert option in args
    assert not any("accept-new" in a for a in args)
    assert "git@git.example.com" in args


def test_known_hosts_without_a_key_file_still_checks_strictly(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    record = fake_ssh(tmp_path, monkeypatch)
    src = source("git@git.example.com:org/tenants.git", tmp_path, known_hosts_file=known_hosts(tmp_path), timeout=5)
    assert not src.insecure_host_keys
    with pytest.raises(SourceUnavailable):
        src.fetch()
    args = record.read_text().splitlines()
    assert "-i" not in args and "StrictHostKeyChecking=yes" in args


def test_relative_ssh_paths_reach_ssh_absolute(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """git runs ssh from the cache's folder: a path relative to where the daemon started must not move."""
    known_hosts(tmp_path, "known_hosts")
    monkeypatch.chdir(tmp_path)
    src = source(SSH_URL, tmp_path, ssh_key_file=Path("id_ed25519"), known_hosts_file=Path("known_hosts"))
    assert src.ssh_command is not None
    assert f"-i {tmp_path / 'id_ed25519'} " in src.ssh_command
    assert f'UserKnownHostsFile="{tmp_path / "known_hosts"}"' in src.ssh_command


def test_the_explicit_opt_out_keeps_trust_on_first_use_and_says_so(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    record = fake_ssh(tmp_path, monkeypatch)
    src = source(SSH_URL, tmp_path, insecure_accept_new_host_keys=True, timeout=5)
    assert src.insecure_host_keys  # the composition root logs a warning at every start
    with pytest.raises(SourceUnavailable):
        src.fetch()
    args = record.read_text().splitlines()
    assert "StrictHostKeyChecking=accept-new" in args and "BatchMode=yes" in args
    assert not any(a.startswith("UserKnownHostsFile") for a in args)


def test_a_host_key_that_does_not_match_says_what_to_check(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    fake_ssh(tmp_path, monkeypatch, stderr="Host key verification failed.")
    hosts = known_hosts(tmp_path)
    with pytest.raises(SourceUnavailable) as info:
        source(SSH_URL, tmp_path, known_hosts_file=hosts, timeout=5).fetch()
    message = str(info.value)
    assert "Host key verification failed" in message
    assert f"not in known_hosts_file {hosts}, or differs from it" in message
    assert "man-in-the-middle" in message


@pytest.mark.parametrize(
    ("url", "keyscan"),
    [
        (SSH_URL, "ssh-keyscan git.example.com > known_hosts"),
        ("ssh://git@git.example.com:2222/org/tenants.git", "ssh-keyscan -p 2222 git.example.com > known_hosts"),
        ("git+ssh://git.example.com/org/tenants.git", "ssh-keyscan git.example.com"),
        ("git@github.com:org/tenants.git", "ssh-keyscan github.com"),  # scp-like
        ("github.com:org/tenants.git", "ssh-keyscan github.com"),
    ],
)
def test_ssh_without_known_hosts_is_refused_saying_what_to_add(tmp_path: Path, url: str, keyscan: str) -> None:
    with pytest.raises(ConfigError) as info:
        source(url, tmp_path)
    message = str(info.value)
    assert "known_hosts_file: an SSH URL needs the server's host key" in message
    assert '[source] known_hosts_file = "/path/to/known_hosts"' in message
    assert "DESCOPE_GITOPS_SOURCE__KNOWN_HOSTS_FILE" in message
    assert keyscan in message and "ssh-keygen -lf known_hosts" in message
    assert "insecure_accept_new_host_keys = true" in message


@pytest.mark.parametrize(
    ("name", "text", "message"),
    [
        (None, None, "does not exist"),
        ("", None, "is a directory, not a known_hosts file"),
        ("known_hosts", "", "holds no host keys; expected lines like `github.com ssh-ed25519 AAAA...`"),
        ("known_hosts", "# only a comment\n\n", "holds no host keys"),
        ("${HOME}/known_hosts", KNOWN_HOSTS, "ssh would misread this path"),
    ],
)
def test_an_unusable_known_hosts_file_is_refused_at_start(
    tmp_path: Path, name: str | None, text: str | None, message: str
) -> None:
    path = tmp_path / "absent" if name is None else tmp_path / name if name else tmp_path
    if text is not None:
        known_hosts(tmp_path, name or "", text)
    with pytest.raises(ConfigError, match=re.escape(message)) as info:
        source(SSH_URL, tmp_path, known_hosts_file=path)
    assert f"known_hosts_file: {path}" in str(info.value)


def test_known_hosts_and_the_opt_out_together_are_refused(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="set known_hosts_file or insecure_accept_new_host_keys, not both"):
        source(SSH_URL, tmp_path, known_hosts_file=known_hosts(tmp_path), insecure_accept_new_host_keys=True)


def test_https_and_local_remotes_are_unaffected(remote: Remote, tmp_path: Path) -> None:
    sha = remote.commit({"tenants.yaml": TENANTS_A})
    src = source(remote, tmp_path)  # file://, like https: no host key, no ssh
    assert src.ssh_command is None and not src.insecure_host_keys
    assert src.fetch().id == sha
    https = source("https://git.example.com/org/tenants.git", tmp_path)
    assert https.ssh_command is None and not https.insecure_host_keys
    for kw in ({"known_hosts_file": known_hosts(tmp_path)}, {"insecure_accept_new_host_keys": True}):
        with pytest.raises(ConfigError, match="only used with an SSH URL"):
            source("https://git.example.com/org/tenants.git", tmp_path, **kw)


# -- settings and concurrency ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kw", "message"),
    [
        ({"ref": "--upload-pack=touch /tmp/x"}, "ref: "),
        ({"path": "../outside.yaml"}, "path: "),
        ({"timeout": 0}, "timeout: "),
        ({"token": "abcdef"}, "token: a token is only used with an http(s):// URL"),
    ],
)
def test_bad_settings_are_refused_up_front(remote: Remote, tmp_path: Path, kw: dict[str, object], message: str) -> None:
    with pytest.raises(ConfigError, match=re.escape(message)) as info:
        source(remote, tmp_path, **kw)
    assert "abcdef" not in str(info.value)


def test_concurrent_fetches_are_serialised(remote: Remote, tmp_path: Path) -> None:
    sha = remote.commit({"tenants.yaml": TENANTS_A})
    src = source(remote, tmp_path)
    ids: list[str] = []
    errors: list[BaseException] = []

    def run() -> None:
        try:
            ids.append(src.fetch().id)
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=run) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()

    assert errors == [] and ids == [sha] * 4
