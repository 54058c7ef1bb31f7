"""Git credentials and host keys: a token as an HTTP header, the ssh command, known_hosts checks, masked URLs.

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
"""

from __future__ import annotations

import base64
import os
import re
import shlex
from pathlib import Path
from urllib.parse import unquote, urlsplit, urlunsplit

from controller.redaction import MASK


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
