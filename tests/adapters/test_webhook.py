"""The webhook decision as a pure function: headers and body in, a verdict out (table-driven, no server)."""

from __future__ import annotations

import json
import urllib.parse
from collections.abc import Callable

import pytest

from controller.adapters.webhook import PushEvent, Verdict, decide, sign

SECRET = "s3cr3t-webhook-token"
SHA = "0d1a26e67d8f5eaf1f6ba5c57fc3c7d91ac0fd1c"
PUSH = json.dumps({"ref": "refs/heads/main", "after": SHA}).encode()
GITLAB_PUSH = json.dumps({"ref": "refs/heads/main", "checkout_sha": SHA}).encode()


def run(
    given: dict[str, str],
    body: bytes = PUSH,
    media_type: str = "application/json",
    accepted_refs: Callable[[str], bool] | None = None,
) -> Verdict:
    lookup = {k.lower(): v for k, v in given.items()}
    return decide(lambda name: lookup.get(name.lower()), media_type, body, secret=SECRET, accepted_refs=accepted_refs)


@pytest.mark.parametrize(
    ("given", "body", "outcome", "code", "push"),
    [
        pytest.param(
            {"X-GitHub-Event": "push", "X-GitHub-Delivery": "gh-1", "X-Hub-Signature-256": sign(SECRET, PUSH)},
            PUSH,
            "triggered",
            202,
            PushEvent("github", "refs/heads/main", SHA, "gh-1"),
            id="github-push",
        ),
        pytest.param(
            {"X-GitHub-Event": "ping", "X-Hub-Signature-256": sign(SECRET, b"{}")},
            b"{}",
            "ignored",
            200,
            None,
            id="github-ping",
        ),
        pytest.param(
            {"X-GitHub-Event": "issues", "X-Hub-Signature-256": sign(SECRET, b"{}")},
            b"{}",
            "ignored",
            202,
            None,
            id="github-other-event",
        ),
        pytest.param(
            {"X-GitHub-Event": "push", "X-Hub-Signature-256": sign("other", PUSH)},
            PUSH,
            "refused",
            401,
            None,
            id="github-wrong-secret",
        ),
        pytest.param(
            {"X-Gitlab-Event": "Push Hook", "X-Gitlab-Token": SECRET, "X-Gitlab-Event-UUID": "gl-uuid-1"},
            GITLAB_PUSH,
            "triggered",
            202,
            PushEvent("gitlab", "refs/heads/main", SHA, "gl-uuid-1"),
            id="gitlab-push-uuid-is-the-delivery-id",
        ),
        pytest.param(
            {"X-Gitlab-Event": "Push Hook", "X-Gitlab-Token": "wrong"},
            GITLAB_PUSH,
            "refused",
            401,
            None,
            id="gitlab-wrong-token",
        ),
        pytest.param(
            {"X-Gitlab-Event": "Merge Request Hook", "X-Gitlab-Token": SECRET},
            GITLAB_PUSH,
            "ignored",
            202,
            None,
            id="gitlab-other-event",
        ),
        pytest.param(
            {"X-Signature-256": sign(SECRET, PUSH), "X-Delivery-Id": "ci-42"},
            PUSH,
            "triggered",
            202,
            PushEvent("generic", "refs/heads/main", SHA, "ci-42"),
            id="generic",
        ),
        pytest.param({}, PUSH, "refused", 401, None, id="unsigned"),
        pytest.param(
            {"X-GitHub-Event": "push", "X-Hub-Signature-256": sign(SECRET, b"[1]")},
            b"[1]",
            "refused",
            400,
            None,
            id="github-payload-not-an-object",
        ),
    ],
)
def test_decide(given: dict[str, str], body: bytes, outcome: str, code: int, push: PushEvent | None) -> None:
    verdict = run(given, body)
    assert (verdict.outcome, verdict.code, verdict.push) == (outcome, code, push)
    assert SECRET not in json.dumps(verdict.body) + verdict.reason


def test_form_mode_is_verified_over_the_raw_body() -> None:
    body = urllib.parse.urlencode({"payload": PUSH.decode()}).encode()
    given = {"X-GitHub-Event": "push", "X-Hub-Signature-256": sign(SECRET, body)}
    verdict = run(given, body, media_type="application/x-www-form-urlencoded")
    assert verdict.outcome == "triggered"


def test_another_content_type_is_refused_before_anything_else() -> None:
    verdict = run({"X-GitHub-Event": "push", "X-Hub-Signature-256": sign(SECRET, PUSH)}, media_type="text/plain")
    assert (verdict.outcome, verdict.code) == ("refused", 415)


def test_a_ref_not_followed_is_ignored_and_a_push_without_ref_passes() -> None:
    given = {"X-GitHub-Event": "push", "X-Hub-Signature-256": sign(SECRET, PUSH)}
    assert run(given, accepted_refs=lambda ref: False).outcome == "ignored"
    bare = b'{"after": "abc"}'
    given = {"X-GitHub-Event": "push", "X-Hub-Signature-256": sign(SECRET, bare)}
    assert run(given, bare, accepted_refs=lambda ref: False).outcome == "triggered"


def test_a_hostile_delivery_id_is_shortened_and_printable() -> None:
    given = {"X-Signature-256": sign(SECRET, PUSH), "X-Delivery-Id": "\x1b[31m" + "x" * 500}
    push = run(given).push
    assert push is not None and push.delivery_id is not None
    assert push.delivery_id.isprintable() and len(push.delivery_id) <= 131
