"""The CI recipes run for real: the GitHub Action's script and the GitLab job's script, against the sandbox.

The Action's script (deploy/github-action/plan_comment.py) runs as the Action's last step runs it: the real
``descope-gitops plan``, the secrets in ``DESCOPE_GITOPS_DESCOPE__*``, a pull-request event file, and the GitHub
REST API, here a small fake on loopback that keeps comments and records every request. The GitLab job's
``script:`` lines run in bash as a GitLab runner runs them.
"""

from __future__ import annotations

import json
import re
import shlex
import subprocess
import sys
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
import yaml

from tests.e2e.conftest import MANAGEMENT_KEY, PROJECT_ID, Run, Sandbox
from tests.support import GitRepo

pytestmark = pytest.mark.e2e

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "deploy" / "github-action" / "plan_comment.py"
GITLAB = ROOT / "deploy" / "gitlab" / "descope-gitops-plan.yml"
TOKEN = "ghs_fake-token-0123456789"
REPOSITORY = "example-org/tenants"
PR = 17
MARKER = "<!-- descope-gitops-plan -->"
ONE = "tenants:\n  - id: acme\n    name: ACME Corp\n"
TWO = ONE + "  - id: globex\n    name: Globex\n"


@dataclass
class Recorded:
    method: str
    path: str
    headers: dict[str, str]
    body: str


@dataclass
class FakeGitHub:
    """The issue-comment endpoints of GitHub's REST API, for one repository."""

    url: str = ""
    requests: list[Recorded] = field(default_factory=list)
    comments: dict[int, dict[str, Any]] = field(default_factory=dict)  # id -> comment, in posting order
    foreign: set[int] = field(default_factory=set)  # comments the token may not edit (403)
    refuse_writes: bool = False  # a read-only token: POST and PATCH answer 403
    next_id: int = 1000

    def add(self, body: str, *, login: str = "someone", editable: bool = True) -> int:
        self.next_id += 1
        self.comments[self.next_id] = {
            "id": self.next_id,
            "body": body,
            "user": {"login": login},
            "html_url": f"https://github.example/{REPOSITORY}/pull/{PR}#issuecomment-{self.next_id}",
        }
        if not editable:
            self.foreign.add(self.next_id)
        return self.next_id

    def ours(self) -> list[dict[str, Any]]:
        return [c for c in self.comments.values() if c["body"].startswith(MARKER)]

    def calls(self) -> list[tuple[str, str]]:
        return [(r.method, urlsplit(r.path).path) for r in self.requests]

    def log(self) -> str:
        """Everything the fake received, as text: where a leaked secret would show."""
        return "\n".join(f"{r.method} {r.path} {json.dumps(r.headers)} {r.body}" for r in self.requests)


def _handler(fake: FakeGitHub) -> type[BaseHTTPRequestHandler]:
    prefix = f"/repos/{REPOSITORY}"

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: Any) -> None:  # quiet
            pass

        def _answer(self, status: int, payload: Any) -> None:
            data = json.dumps(payload).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def _handle(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length).decode() if length else ""
            fake.requests.append(Recorded(self.command, self.path, dict(self.headers.items()), body))
            if self.headers.get("Authorization") != f"Bearer {TOKEN}":
                return self._answer(401, {"message": "Bad credentials"})
            url = urlsplit(self.path)
            if self.command == "GET" and url.path == f"{prefix}/issues/{PR}/comments":
                query = parse_qs(url.query)
                per_page, page = int(query["per_page"][0]), int(query["page"][0])
                listed = list(fake.comments.values())[(page - 1) * per_page : page * per_page]
                return self._answer(200, listed)
            if fake.refuse_writes and self.command in {"POST", "PATCH"}:
                return self._answer(403, {"message": "Resource not accessible by integration"})
            if self.command == "POST" and url.path == f"{prefix}/issues/{PR}/comments":
                comment_id = fake.add(json.loads(body)["body"], login="github-actions[bot]")
                return self._answer(201, fake.comments[comment_id])
            match = re.fullmatch(rf"{prefix}/issues/comments/(\d+)", url.path)
            if self.command == "PATCH" and match and int(match[1]) in fake.comments:
                if int(match[1]) in fake.foreign:
                    return self._answer(403, {"message": "Forbidden"})
                fake.comments[int(match[1])]["body"] = json.loads(body)["body"]
                return self._answer(200, fake.comments[int(match[1])])
            return self._answer(404, {"message": "Not Found"})

        def do_GET(self) -> None:
            self._handle()

        def do_POST(self) -> None:
            self._handle()

        def do_PATCH(self) -> None:
            self._handle()

    return Handler


@pytest.fixture
def github() -> Iterator[FakeGitHub]:
    fake = FakeGitHub()
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(fake))
    fake.url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield fake
    server.shutdown()
    server.server_close()


@dataclass
class Job:
    """One run of the Action's plan step."""

    result: subprocess.CompletedProcess[str]
    outputs: dict[str, str]
    summary: str

    @property
    def output(self) -> str:
        return self.result.stdout + self.result.stderr


@pytest.fixture
def checkout(tmp_path: Path) -> GitRepo:
    repo = GitRepo(tmp_path / "checkout")
    repo.commit({"tenants.yaml": ONE})
    return repo


@pytest.fixture
def action(sandbox: Sandbox, cli_env: dict[str, str], github: FakeGitHub, checkout: GitRepo, tmp_path: Path) -> Any:
    """Run the plan step as action.yml does: its env, in the workspace (the checkout)."""
    runs = iter(range(1000))

    def run(
        *, event: dict[str, Any] | None = None, key: str = MANAGEMENT_KEY, command: str | None = None, **inputs: str
    ) -> Job:
        n = next(runs)
        event_path = tmp_path / f"event-{n}.json"
        event_path.write_text(json.dumps({"pull_request": {"number": PR}} if event is None else event))
        outputs, summary = tmp_path / f"output-{n}", tmp_path / f"summary-{n}.md"
        # the developer's and the e2e fixture's Descope variables are replaced by the Action's
        env = {k: v for k, v in cli_env.items() if k not in {"DESCOPE_PROJECT_ID", "DESCOPE_MANAGEMENT_KEY"}}
        env.update(
            {
                "DESCOPE_GITOPS_DESCOPE__PROJECT_ID": PROJECT_ID,
                "DESCOPE_GITOPS_DESCOPE__MANAGEMENT_KEY": key,
                "DESCOPE_BASE_URI": sandbox.url,
                "DESCOPE_GITOPS_COMMAND": command or shlex.join([sys.executable, "-m", "controller"]),
                "INPUT_PATH": "tenants.yaml",
                "INPUT_CONFIG": "",
                "INPUT_REVISION": "",
                "INPUT_FAIL_ON_CHANGES": "false",
                "INPUT_COMMENT_TAG": "",
                "GITHUB_TOKEN": TOKEN,
                "GITHUB_REPOSITORY": REPOSITORY,
                "GITHUB_EVENT_PATH": str(event_path),
                "GITHUB_API_URL": github.url,
                "GITHUB_SERVER_URL": "https://github.example",
                "GITHUB_RUN_ID": "4242",
                "GITHUB_OUTPUT": str(outputs),
                "GITHUB_STEP_SUMMARY": str(summary),
                "GITHUB_ACTIONS": "true",
            }
        )
        env.update({f"INPUT_{name.upper()}": value for name, value in inputs.items()})
        result = subprocess.run(
            [sys.executable, str(SCRIPT)],
            cwd=checkout.path,
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        written = outputs.read_text() if outputs.exists() else ""
        job = Job(result, dict(line.split("=", 1) for line in written.splitlines()), summary.read_text())
        # the management key reaches no output, no request, no file the runner keeps
        for secret in {MANAGEMENT_KEY, key} - {""}:
            for where in (job.output, github.log(), written, job.summary):
                assert secret not in where
        return job

    return run


# ================================================================================= the GitHub Action's script


def test_first_run_posts_one_comment_and_the_next_updates_it(
    action: Any, github: FakeGitHub, checkout: GitRepo
) -> None:
    first = action()
    assert first.result.returncode == 0, first.output  # changes to apply do not fail the job
    assert first.outputs["exit-code"] == "2"
    assert github.calls() == [
        ("GET", f"/repos/{REPOSITORY}/issues/{PR}/comments"),
        ("POST", f"/repos/{REPOSITORY}/issues/{PR}/comments"),
    ]
    (comment,) = github.comments.values()
    body = comment["body"]
    assert body.startswith(MARKER + "\n### descope-gitops plan: 1 to create")
    head = checkout.git("rev-parse", "HEAD")
    assert "`acme`" in body and f"`{PROJECT_ID}`" in body and f"`{head[:12]}" in body, body
    assert "actions/runs/4242" in body, "the comment links the run"
    assert first.outputs["comment-url"] == comment["html_url"]
    assert "descope-gitops plan: 1 to create" in first.summary
    assert "created the plan comment" in first.result.stdout

    checkout.commit({"tenants.yaml": TWO})
    github.requests.clear()
    second = action()
    assert second.result.returncode == 0, second.output
    assert [method for method, _ in github.calls()] == ["GET", "PATCH"], "the comment is edited, not posted again"
    assert github.calls()[1][1] == f"/repos/{REPOSITORY}/issues/comments/{comment['id']}"
    (updated,) = github.comments.values()
    assert updated["body"].startswith(MARKER + "\n### descope-gitops plan: 2 to create")
    assert "`globex`" in updated["body"]
    assert "updated the plan comment" in second.result.stdout


def test_the_token_is_sent_as_a_header_only(action: Any, github: FakeGitHub) -> None:
    job = action()
    assert job.result.returncode == 0, job.output
    assert github.requests
    for request in github.requests:
        assert request.headers["Authorization"] == f"Bearer {TOKEN}"
        assert request.headers["Accept"] == "application/vnd.github+json"
        assert TOKEN not in request.path and TOKEN not in request.body
    assert TOKEN not in job.output


def test_a_yaml_error_fails_the_job_with_the_error_in_the_comment(
    action: Any, github: FakeGitHub, checkout: GitRepo
) -> None:
    checkout.commit({"tenants.yaml": "tenants:\n  - id: acme\n    name: [unclosed\n"})
    job = action()
    assert job.result.returncode == 1, job.output
    assert job.outputs["exit-code"] == "1"
    (comment,) = github.comments.values()
    assert comment["body"].startswith(MARKER + "\n### descope-gitops plan: no plan")
    assert ":x:" in comment["body"] and "tenants.yaml:4: YAML syntax error" in comment["body"]

    checkout.commit({"tenants.yaml": ONE})  # fixed: the same comment now shows the plan, the job passes
    fixed = action()
    assert fixed.result.returncode == 0, fixed.output
    (comment,) = github.comments.values()
    assert "1 to create" in comment["body"] and "YAML syntax error" not in comment["body"]


def test_a_refused_key_fails_the_job_with_exit_code_3(action: Any, github: FakeGitHub) -> None:
    wrong = "K-wrong-key-that-must-not-leak"
    job = action(key=wrong)  # the fixture checks that this key, too, is printed and sent nowhere
    assert job.result.returncode == 3, job.output
    (comment,) = github.comments.values()
    assert "Exit code 3" in comment["body"] and "authentication failed" in comment["body"]


def test_a_key_the_command_prints_is_cut_out_of_log_and_comment(
    action: Any, github: FakeGitHub, tmp_path: Path
) -> None:
    """Defence in depth: descope-gitops never prints the key, and if a broken one did, the script cuts it out."""
    leaky = tmp_path / "leaky.py"
    leaky.write_text(
        "import os, sys\n"
        "key = os.environ['DESCOPE_GITOPS_DESCOPE__MANAGEMENT_KEY']\n"
        "print('### plan with the key ' + key)\n"
        "print('stderr with the key ' + key, file=sys.stderr)\n"
        "sys.exit(2)\n"
    )
    job = action(command=shlex.join([sys.executable, str(leaky)]))  # the fixture checks every output
    assert job.result.returncode == 0, job.output
    (comment,) = github.comments.values()
    assert "### plan with the key ***" in comment["body"] and "stderr with the key ***" in job.output


def test_settings_missing_still_comment_with_the_error(action: Any, github: FakeGitHub) -> None:
    job = action(key="")  # an unset secret: GitHub passes an empty string
    assert job.result.returncode == 1, job.output
    (comment,) = github.comments.values()
    body = comment["body"]
    assert body.startswith(MARKER + "\n### descope-gitops plan: failed")
    assert "```text\n" in body and "descope.management_key is not set" in body


def test_no_changes_passes_and_fail_on_changes_fails_on_changes(
    action: Any, github: FakeGitHub, cli: Run, checkout: GitRepo
) -> None:
    assert cli("sync", str(checkout.path / "tenants.yaml"), "--apply").returncode == 0
    in_sync = action()
    assert in_sync.result.returncode == 0 and in_sync.outputs["exit-code"] == "0", in_sync.output
    assert "no changes" in github.ours()[0]["body"].lower()

    checkout.commit({"tenants.yaml": TWO})
    strict = action(fail_on_changes="true")
    assert strict.result.returncode == 2 and strict.outputs["exit-code"] == "2", strict.output
    assert len(github.ours()) == 1


def test_the_marker_finds_our_comment_among_many_and_skips_one_it_cannot_edit(action: Any, github: FakeGitHub) -> None:
    github.add(f"{MARKER}\nquoted by a reviewer", editable=False)  # starts with the marker, not ours: 403
    for n in range(130):  # our earlier comment is on the second page
        github.add(f"review comment {n}")
    job = action()
    assert job.result.returncode == 0, job.output
    assert [m for m, _ in github.calls()] == ["GET", "PATCH", "POST"], "the foreign comment is left alone"
    ours = [c for c in github.comments.values() if c["user"]["login"] == "github-actions[bot]"]
    assert len(ours) == 1

    github.requests.clear()
    github.foreign.clear()
    github.comments = {k: v for k, v in github.comments.items() if "quoted by a reviewer" not in v["body"]}
    again = action()
    assert again.result.returncode == 0, again.output
    pages = [parse_qs(urlsplit(r.path).query)["page"] for r in github.requests if r.method == "GET"]
    assert pages == [["1"], ["2"]] and [m for m, _ in github.calls()][-1] == "PATCH"
    assert len(github.ours()) == 1


def test_a_comment_tag_keeps_a_separate_comment(action: Any, github: FakeGitHub) -> None:
    action()
    action(comment_tag="staging")
    bodies = [c["body"] for c in github.comments.values()]
    assert len(bodies) == 2
    assert bodies[0].startswith(MARKER) and bodies[1].startswith("<!-- descope-gitops-plan:staging -->")


def test_a_read_only_token_fails_the_job_and_says_why(action: Any, github: FakeGitHub) -> None:
    github.refuse_writes = True
    job = action()
    assert job.result.returncode == 1, job.output
    assert "could not write the plan comment" in job.result.stdout
    assert "HTTP 403" in job.result.stdout and "pull-requests: write" in job.result.stdout


def test_outside_a_pull_request_nothing_is_posted(action: Any, github: FakeGitHub) -> None:
    job = action(event={"ref": "refs/heads/main"})
    assert job.result.returncode == 0, job.output
    assert github.requests == []
    assert "not a pull request" in job.result.stdout and "1 to create" in job.summary


def test_workflow_commands_are_off_while_the_plan_is_printed(action: Any) -> None:
    job = action()
    lines = job.result.stdout.splitlines()
    (start,) = [i for i, line in enumerate(lines) if line.startswith("::stop-commands::")]
    token = lines[start].split("::")[2]
    assert len(token) == 32
    end = lines.index(f"::{token}::")
    assert any("1 to create" in line for line in lines[start:end])


# ================================================================================= the GitLab job


def _gitlab_script(job: str = "descope-gitops-plan", part: str = "script") -> str:
    lines: list[str] = yaml.safe_load(GITLAB.read_text(encoding="utf-8"))[job][part]
    return "\n".join(lines)


def _run_gitlab(part: str, env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess[str]:
    # a GitLab runner runs the lines of one section in one bash, stopping at the first failure
    return subprocess.run(
        ["bash", "-e", "-o", "pipefail", "-c", _gitlab_script(part=part)],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


@pytest.fixture
def gitlab_env(sandbox: Sandbox, cli_env: dict[str, str], tmp_path: Path) -> dict[str, str]:
    """The job's environment: its variables, the CI/CD variables, and descope-gitops on PATH."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    command = bin_dir / "descope-gitops"
    command.write_text(f'#!/bin/sh\nexec {shlex.quote(sys.executable)} -m controller "$@"\n')
    command.chmod(0o755)
    env = {k: v for k, v in cli_env.items() if k not in {"DESCOPE_PROJECT_ID", "DESCOPE_MANAGEMENT_KEY"}}
    variables = yaml.safe_load(GITLAB.read_text(encoding="utf-8"))["descope-gitops-plan"]["variables"]
    env.update({k: str(v) for k, v in variables.items()})
    env.update(
        {
            "PATH": f"{bin_dir}:{env['PATH']}",
            "DESCOPE_GITOPS_DESCOPE__PROJECT_ID": PROJECT_ID,
            "DESCOPE_GITOPS_DESCOPE__MANAGEMENT_KEY": MANAGEMENT_KEY,
            "DESCOPE_BASE_URI": sandbox.url,
            "CI_COMMIT_SHA": "0123456789abcdef0123456789abcdef01234567",
        }
    )
    return env


def test_the_gitlab_job_plans_and_keeps_the_markdown(gitlab_env: dict[str, str], tmp_path: Path) -> None:
    work = tmp_path / "project"
    work.mkdir()
    (work / "tenants.yaml").write_text(ONE)
    result = _run_gitlab("script", gitlab_env, work)
    assert result.returncode == 2, result.stderr  # allow_failure: exit_codes [2], a warning
    artifact = (work / "descope-gitops-plan.md").read_text()
    assert artifact.startswith("### descope-gitops plan: 1 to create") and "`0123456789ab" in artifact
    assert artifact.strip() in result.stdout and "exited 2" in result.stdout
    assert MANAGEMENT_KEY not in result.stdout + result.stderr + artifact

    (work / "tenants.yaml").write_text("tenants:\n  - id: acme\n    name: [unclosed\n")
    broken = _run_gitlab("script", gitlab_env, work)
    assert broken.returncode == 1
    assert "YAML syntax error" in (work / "descope-gitops-plan.md").read_text()


def test_the_gitlab_job_refuses_to_guess_the_package(gitlab_env: dict[str, str], tmp_path: Path) -> None:
    result = _run_gitlab(
        "before_script", {k: v for k, v in gitlab_env.items() if k != "DESCOPE_GITOPS_PACKAGE"}, tmp_path
    )
    assert result.returncode == 1 and "set DESCOPE_GITOPS_PACKAGE" in result.stderr
