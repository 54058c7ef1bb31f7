#!/usr/bin/env python3
"""Run ``descope-gitops plan --format markdown`` and post or update one pull-request comment with it.

The GitHub Action in this directory (action.yml) runs this script; it uses only the standard library, so it
also runs from any CI job that has descope-gitops installed. What it reads from the environment:

    DESCOPE_GITOPS_DESCOPE__PROJECT_ID,    the project and its management key, passed to descope-gitops as
    DESCOPE_GITOPS_DESCOPE__MANAGEMENT_KEY they are (never printed: the key is also cut out of all output)
    DESCOPE_BASE_URI                       optional, another Descope API (or the sandbox)
    INPUT_PATH                             the tenants file or directory (default tenants.yaml)
    INPUT_CONFIG, INPUT_REVISION           optional: --config FILE and --revision REV for the plan
    INPUT_FAIL_ON_CHANGES                  "true": changes (exit 2) fail the job too
    INPUT_COMMENT_TAG                      optional: one comment per tag, for several plans on one pull request
    DESCOPE_GITOPS_COMMAND                 how to run descope-gitops (default: descope-gitops on PATH)
    GITHUB_TOKEN                           a token allowed to write pull-request comments
    GITHUB_REPOSITORY, GITHUB_EVENT_PATH   owner/name, and the event whose pull_request.number is commented on
    GITHUB_API_URL                         default https://api.github.com (GitHub Enterprise, or a test's fake)
    GITHUB_OUTPUT, GITHUB_STEP_SUMMARY     where the step's outputs (exit-code, comment-url) and summary go

The comment starts with a hidden marker (``<!-- descope-gitops-plan -->``). The script looks for a comment on
the pull request that starts with it and edits that one (PATCH); if there is none, or it cannot be edited, it
posts a new one (POST). So a pull request has one plan comment, always the latest.

Its exit status is the job's verdict: 0 when the plan has no changes or changes to apply (2: the point of
the pull request; ``fail-on-changes`` makes it 2), otherwise descope-gitops' own code: 1 error (invalid
YAML or settings, a guard refused the plan, a conflict), 3 Descope unreachable or the key refused, and
any other code (130 interrupted ...) as it is. Failing to write the comment fails the job too (1).
"""

from __future__ import annotations

import json
import os
import re
import secrets
import shlex
import subprocess
import sys
import time
import unicodedata
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

MARKER = "descope-gitops-plan"
COMMENT_LIMIT = 65_536  # GitHub refuses a longer issue or pull-request comment
STDERR_CLIP = 6_000  # the end of descope-gitops' error output shown when it printed no plan
PER_PAGE = 100
ATTEMPTS = 3  # for GitHub's 5xx answers and network errors
TIMEOUT = 30.0
# descope-gitops' exit codes (controller/cli/exit_codes.py; a test keeps these equal to it)
MEANINGS = {
    0: "no changes",
    1: "error: invalid settings or tenants.yaml, a guard refused the plan, or a tenant conflict",
    2: "changes to apply",
    3: "Descope is unreachable, throttled us, failed (5xx) or refused the credentials",
    4: "finished partially: some tenants failed",
    130: "interrupted",
}
SECRET_VARIABLES = ("DESCOPE_GITOPS_DESCOPE__MANAGEMENT_KEY", "DESCOPE_MANAGEMENT_KEY", "GITHUB_TOKEN")
_BIDI = frozenset("\u061c\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069\u2028\u2029")


class CommentError(Exception):
    """The comment could not be read or written; the message is safe to print."""

    def __init__(self, message: str, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status  # GitHub's HTTP status, when it answered


# ------------------------------------------------------------------------------------------- output


def redact(text: str, env: dict[str, str]) -> str:
    """``text`` with every secret value of the environment replaced by ``***``."""
    for name in SECRET_VARIABLES:
        value = env.get(name, "")
        if len(value) >= 4:
            text = text.replace(value, "***")
    return text


def echo(text: str, env: dict[str, str], *, stream: Any = None) -> None:
    """Print untrusted text to the job log: on GitHub Actions, with workflow commands (``::set-output``,
    ``::add-mask`` ...) turned off around it, so text from tenants.yaml cannot act on the runner."""
    out = stream or sys.stdout
    if not text:
        return
    if env.get("GITHUB_ACTIONS") == "true":
        token = secrets.token_hex(16)
        print(f"::stop-commands::{token}", file=out)
        print(text.rstrip("\n"), file=out)
        print(f"::{token}::", file=out)
    else:
        print(text.rstrip("\n"), file=out)
    out.flush()


def fenced(text: str) -> str:
    """A fenced code block no line inside can close; control and bidi characters become U+FFFD."""
    body = "".join(
        "\ufffd" if ch in _BIDI or (unicodedata.category(ch) == "Cc" and ch not in "\n\t") else ch
        for ch in text.replace("\r\n", "\n")
    ).strip("\n")
    longest = max((len(run) for run in re.findall(r"`+", body)), default=0)
    fence = "`" * max(3, longest + 1)
    return f"{fence}text\n{body}\n{fence}"


def failure_comment(code: int, stderr: str) -> str:
    """The comment when descope-gitops printed no plan (settings missing, the command not found ...)."""
    tail = stderr.strip()
    if len(tail) > STDERR_CLIP:
        tail = "…" + tail[-STDERR_CLIP:]
    meaning = MEANINGS.get(code, "unexpected exit code")
    return "\n".join(
        [
            "### descope-gitops plan: failed",
            "",
            f":x: **No plan**: descope-gitops exited with code {code} ({meaning}) before it could make a plan.",
            "",
            fenced(tail or "(no output)"),
        ]
    )


def comment_body(marker: str, plan: str, footer: str) -> str:
    """The marker, the plan and the footer, cut to GitHub's limit (the plan keeps well under it)."""
    head, tail = f"{marker}\n", f"\n\n{footer}\n" if footer else "\n"
    room = COMMENT_LIMIT - len(head) - len(tail)
    plan = plan.rstrip("\n")
    if len(plan) > room:
        note = "\n\n*… cut to fit a GitHub comment: `descope-gitops plan --format json` shows the whole plan.*"
        plan = plan[: room - len(note)].rstrip() + note
    return head + plan + tail


# ------------------------------------------------------------------------------------------- GitHub


class GitHub:
    """The three REST calls the comment needs, with the token in the Authorization header only."""

    def __init__(self, api_url: str, repository: str, token: str) -> None:
        self.api_url = api_url.rstrip("/")
        self.repository = repository
        self._token = token

    def _call(self, method: str, path: str, body: dict[str, Any] | None = None) -> Any:
        url = f"{self.api_url}/repos/{self.repository}{path}"
        if not url.startswith(("https://", "http://")):
            raise CommentError(f"GITHUB_API_URL must be an http(s) URL, not {self.api_url!r}")
        data = json.dumps(body).encode() if body is not None else None
        headers = {
            "Accept": "application/vnd.github+json",
            "Authorization": f"Bearer {self._token}",
            "X-GitHub-Api-Version": "2022-11-28",
            "User-Agent": "descope-gitops-plan-comment",
        }
        if data is not None:
            headers["Content-Type"] = "application/json"
        for attempt in range(1, ATTEMPTS + 1):
            request = urllib.request.Request(url, data=data, headers=headers, method=method)  # noqa: S310
            try:
                with urllib.request.urlopen(request, timeout=TIMEOUT) as response:  # noqa: S310
                    raw = response.read()
                    return json.loads(raw) if raw else None
            except urllib.error.HTTPError as exc:
                if exc.code >= 500 and attempt < ATTEMPTS:
                    time.sleep(2**attempt)
                    continue
                raise CommentError(f"{method} {path}: HTTP {exc.code} {_github_message(exc)}", exc.code) from None
            except (urllib.error.URLError, TimeoutError, OSError) as exc:
                if attempt < ATTEMPTS:
                    time.sleep(2**attempt)
                    continue
                reason = getattr(exc, "reason", exc)
                raise CommentError(f"{method} {path}: {reason}") from None
        raise AssertionError("unreachable")

    def find_comment(self, number: int, marker: str) -> dict[str, Any] | None:
        """The first comment on the pull request that starts with the marker."""
        page = 1
        while True:
            comments = self._call("GET", f"/issues/{number}/comments?per_page={PER_PAGE}&page={page}")
            if not isinstance(comments, list):
                raise CommentError(f"GET /issues/{number}/comments: not a list of comments")
            for comment in comments:
                if isinstance(comment, dict) and str(comment.get("body") or "").lstrip().startswith(marker):
                    return comment
            if len(comments) < PER_PAGE:
                return None
            page += 1

    def upsert(self, number: int, marker: str, body: str) -> tuple[str, dict[str, Any]]:
        """("updated" | "created", the comment): edit our earlier comment, or post a new one."""
        previous = self.find_comment(number, marker)
        if previous is not None:
            try:
                return "updated", self._call("PATCH", f"/issues/comments/{int(previous['id'])}", {"body": body})
            except CommentError as exc:
                # someone else's comment that quotes the marker, or one deleted meanwhile: post our own
                if exc.status not in (403, 404):
                    raise
        return "created", self._call("POST", f"/issues/{number}/comments", {"body": body})


def _github_message(exc: urllib.error.HTTPError) -> str:
    try:
        message = str(json.loads(exc.read() or b"{}").get("message", ""))
    except (ValueError, AttributeError):
        message = ""
    hint = ""
    if exc.code in (401, 403, 404):
        hint = (
            " (the token needs `pull-requests: write`; a pull request from a fork gets a read-only token,"
            " and no secrets)"
        )
    return (message[:300] or exc.reason or "") + hint


def pull_request_number(event_path: str | None) -> int | None:
    """The pull request's number from the event payload, or None when the event is not about one."""
    if not event_path or not Path(event_path).is_file():
        return None
    event = json.loads(Path(event_path).read_text(encoding="utf-8"))
    pull = event.get("pull_request")
    if isinstance(pull, dict) and isinstance(pull.get("number"), int):
        return int(pull["number"])
    issue = event.get("issue")  # issue_comment on a pull request
    if isinstance(issue, dict) and "pull_request" in issue and isinstance(issue.get("number"), int):
        return int(issue["number"])
    return None


# ------------------------------------------------------------------------------------------- main


def _true(value: str | None) -> bool:
    return (value or "").strip().lower() in {"1", "true", "yes", "on"}


def _write(path: str | None, text: str) -> None:
    if path:
        with open(path, "a", encoding="utf-8") as handle:
            handle.write(text)


def verdict(code: int, *, fail_on_changes: bool) -> int:
    """The job's exit status for descope-gitops' exit code."""
    if code == 0:
        return 0
    if code == 2:
        return 2 if fail_on_changes else 0
    return code


def main() -> int:
    env = dict(os.environ)
    path = env.get("INPUT_PATH") or "tenants.yaml"
    command = shlex.split(env.get("DESCOPE_GITOPS_COMMAND") or "descope-gitops")
    argv = [*command, "plan", path, "--format", "markdown"]
    if env.get("INPUT_CONFIG"):
        argv += ["--config", env["INPUT_CONFIG"]]
    if env.get("INPUT_REVISION"):
        argv += ["--revision", env["INPUT_REVISION"]]
    tag = re.sub(r"[^A-Za-z0-9._-]", "-", env.get("INPUT_COMMENT_TAG") or "")
    marker = f"<!-- {MARKER}:{tag} -->" if tag else f"<!-- {MARKER} -->"

    # descope-gitops gets the Descope settings, not the GitHub token; an empty input is an unset setting
    child = {k: v for k, v in env.items() if k not in {"GITHUB_TOKEN", "INPUT_GITHUB_TOKEN"}}
    child = {k: v for k, v in child.items() if v or not k.startswith("DESCOPE")}
    try:
        result = subprocess.run(argv, env=child, capture_output=True, text=True, timeout=1800, check=False)
        code, stdout, stderr = result.returncode, result.stdout, result.stderr
    except FileNotFoundError:
        code, stdout, stderr = 1, "", f"{command[0]}: command not found (is descope-gitops installed?)"
    except subprocess.TimeoutExpired:
        code, stdout, stderr = 1, "", "descope-gitops plan did not finish within 30 minutes"
    stdout, stderr = redact(stdout, env), redact(stderr, env)

    echo(stderr, env, stream=sys.stderr)
    plan = stdout if stdout.strip() else failure_comment(code, stderr)
    echo(plan, env)
    print(f"descope-gitops plan exited {code}: {MEANINGS.get(code, 'unexpected exit code')}", flush=True)

    status = verdict(code, fail_on_changes=_true(env.get("INPUT_FAIL_ON_CHANGES")))
    _write(env.get("GITHUB_STEP_SUMMARY"), plan.rstrip("\n") + "\n")
    _write(env.get("GITHUB_OUTPUT"), f"exit-code={code}\n")

    number = pull_request_number(env.get("GITHUB_EVENT_PATH"))
    if number is None:
        print("not a pull request event: the plan is in the job summary, no comment posted", flush=True)
        return status
    repository = env.get("GITHUB_REPOSITORY", "")
    server, run_id = env.get("GITHUB_SERVER_URL"), env.get("GITHUB_RUN_ID")
    footer = ""
    if server and run_id:
        footer = f"<sub>[descope-gitops plan run]({server}/{repository}/actions/runs/{run_id})</sub>"
    token = env.get("GITHUB_TOKEN", "")
    try:
        if not re.fullmatch(r"[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+", repository):
            raise CommentError(f"GITHUB_REPOSITORY must be owner/name, not {repository!r}")
        if not token:
            raise CommentError("GITHUB_TOKEN is not set")
        github = GitHub(env.get("GITHUB_API_URL") or "https://api.github.com", repository, token)
        action, comment = github.upsert(number, marker, comment_body(marker, plan, footer))
    except CommentError as exc:
        print(f"error: could not write the plan comment on pull request #{number}: {redact(str(exc), env)}")
        return status or 1
    url = str(comment.get("html_url", "")) if isinstance(comment, dict) else ""
    print(f"{action} the plan comment on pull request #{number}: {url}", flush=True)
    _write(env.get("GITHUB_OUTPUT"), f"comment-url={url}\n")
    return status


if __name__ == "__main__":
    sys.exit(main())
