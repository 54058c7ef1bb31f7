"""The daemon's HTTP port over real loopback HTTP: probes, metrics, and a webhook that only verified pushes trigger."""

from __future__ import annotations

import json
import socket
import threading
import time
import urllib.parse
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest
from prometheus_client import CollectorRegistry, Counter, make_wsgi_app

from controller.adapters.http_server import Health, HttpEndpoints, HttpLimits, PushEvent, sign, verify_signature
from controller.errors import ConfigError

SECRET = "s3cr3t-webhook-token"
SHA = "0d1a26e67d8f5eaf1f6ba5c57fc3c7d91ac0fd1c"
PUSH = {"ref": "refs/heads/main", "before": "0" * 40, "after": SHA, "repository": {"full_name": "acme/tenants"}}


class Recorder:
    """Collects pushes and log lines; ``health``/``ready`` are what the probes report next."""

    def __init__(self) -> None:
        self.pushes: list[PushEvent] = []
        self.lines: list[str] = []
        self.health = Health(ok=True, detail={"uptime_seconds": 3})
        self.ready = Health(ok=True, detail={"store": "open", "last_success_age_seconds": 12.3})

    def on_push(self, event: PushEvent) -> None:
        self.pushes.append(event)


Make = Callable[..., tuple[HttpEndpoints, Recorder]]

# One client for the module: building an httpx.Client (its TLS context) costs more than a request here.
http = httpx.Client(timeout=5)


@pytest.fixture(scope="module", autouse=True)
def _close_client() -> Iterator[None]:
    yield
    http.close()


@pytest.fixture
def make() -> Iterator[Make]:
    started: list[HttpEndpoints] = []

    def _make(**overrides: Any) -> tuple[HttpEndpoints, Recorder]:
        rec = Recorder()
        kwargs: dict[str, Any] = {
            "liveness": lambda: rec.health,
            "readiness": lambda: rec.ready,
            "on_push": rec.on_push,
            "webhook_secret": SECRET,
            "log": rec.lines.append,
        }
        kwargs.update(overrides)
        endpoints = HttpEndpoints(**kwargs).start()
        started.append(endpoints)
        return endpoints, rec

    yield _make
    for endpoints in started:
        endpoints.stop()


def post(url: str, body: bytes, headers: dict[str, str], content_type: str = "application/json") -> httpx.Response:
    return http.post(url + "/hooks/git", content=body, headers={"Content-Type": content_type, **headers}, timeout=5)


def github(body: bytes, event: str = "push", secret: str = SECRET, **extra: str) -> dict[str, str]:
    return {
        "X-GitHub-Event": event,
        "X-GitHub-Delivery": "72d3162e-cc78-11e3-81ab-4c9367dc0958",
        "X-Hub-Signature-256": sign(secret, body),
        **extra,
    }


def raw_request(endpoints: HttpEndpoints, data: bytes) -> bytes:
    """Send raw bytes and read the answer until the server closes (fails if it does not answer within 3 s)."""
    with socket.create_connection(("127.0.0.1", endpoints.port), timeout=3) as sock:
        sock.sendall(data)
        chunks = []
        while chunk := sock.recv(65536):
            chunks.append(chunk)
    return b"".join(chunks)


# ------------------------------------------------------------------------------------------ helpers


def test_sign_matches_githubs_documented_example() -> None:
    # https://docs.github.com/en/webhooks/using-webhooks/validating-webhook-deliveries#testing-the-webhook-payload-validation
    expected = "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17"
    assert sign("It's a Secret to Everybody", b"Hello, World!") == expected
    assert verify_signature("It's a Secret to Everybody", b"Hello, World!", expected)
    assert verify_signature(
        "It's a Secret to Everybody", b"Hello, World!", expected.upper().replace("SHA256", "sha256")
    )


@pytest.mark.parametrize(
    "header",
    [None, "", "sha256=", "sha1=" + "0" * 40, sign("other", b"{}"), sign(SECRET, b"{ }"), "sha256=zz\u00e9", "garbage"],
)
def test_verify_signature_refuses(header: str | None) -> None:
    assert not verify_signature(SECRET, b"{}", header)


# ------------------------------------------------------------------------------------------ probes


def test_healthz_and_readyz_report_ok_with_detail(make: Make) -> None:
    endpoints, _ = make()
    health = http.get(endpoints.url + "/healthz")
    assert health.status_code == 200
    assert health.headers["content-type"] == "application/json"
    assert health.json() == {"status": "ok", "uptime_seconds": 3}
    ready = http.get(endpoints.url + "/readyz")
    assert ready.status_code == 200
    assert ready.json() == {"status": "ok", "store": "open", "last_success_age_seconds": 12.3}


def test_probes_answer_503_with_the_detail_when_not_ok(make: Make) -> None:
    endpoints, rec = make()
    rec.health = Health(ok=False, detail={"reason": "scheduler thread died", "status": "ignored"})
    rec.ready = Health(ok=False, detail={"store": "closed", "last_success_age_seconds": float("inf")})
    health = http.get(endpoints.url + "/healthz")
    assert health.status_code == 503
    assert health.json() == {"status": "unavailable", "reason": "scheduler thread died"}
    ready = http.get(endpoints.url + "/readyz")
    assert ready.status_code == 503
    assert ready.json() == {"status": "unavailable", "store": "closed", "last_success_age_seconds": None}


def test_unknown_path_is_404_and_wrong_method_is_405(make: Make) -> None:
    endpoints, _ = make()
    assert http.get(endpoints.url + "/").status_code == 404
    assert http.get(endpoints.url + "/healthz/extra").status_code == 404
    wrong = http.post(endpoints.url + "/healthz", content=b"x")
    assert wrong.status_code == 405
    assert wrong.headers["allow"] == "GET"
    hook = http.get(endpoints.url + "/hooks/git")
    assert hook.status_code == 405
    assert hook.headers["allow"] == "POST"


# ------------------------------------------------------------------------------------------ metrics


def test_metrics_app_is_mounted_at_metrics(make: Make) -> None:
    registry = CollectorRegistry()
    Counter("descope_gitops_reconcile", "cycles", ["result"], registry=registry).labels("succeeded").inc(3)
    endpoints, _ = make(metrics_app=make_wsgi_app(registry))
    response = http.get(endpoints.url + "/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    assert 'descope_gitops_reconcile_total{result="succeeded"} 3.0' in response.text


def test_metrics_is_404_without_an_app(make: Make) -> None:
    endpoints, _ = make()
    assert http.get(endpoints.url + "/metrics").status_code == 404


# ------------------------------------------------------------------------------------------ github


def test_signed_github_push_triggers_once_with_ref_after_and_delivery(make: Make) -> None:
    endpoints, rec = make()
    body = json.dumps(PUSH).encode()
    response = post(endpoints.url, body, github(body))
    assert response.status_code == 202
    assert response.json() == {"triggered": True}
    assert rec.pushes == [PushEvent("github", "refs/heads/main", SHA, "72d3162e-cc78-11e3-81ab-4c9367dc0958")]
    assert rec.lines == []


def test_github_ping_answers_pong_without_triggering(make: Make) -> None:
    endpoints, rec = make()
    body = b'{"zen": "Keep it logically awesome.", "hook_id": 1}'
    response = post(endpoints.url, body, github(body, event="ping"))
    assert response.status_code == 200
    assert "pong" in response.text
    assert rec.pushes == []


def test_other_github_events_are_ignored(make: Make) -> None:
    endpoints, rec = make()
    body = b'{"action": "opened"}'
    response = post(endpoints.url, body, github(body, event="issues"))
    assert response.status_code == 202
    assert response.json()["triggered"] is False
    assert "issues" in response.json()["reason"]
    assert rec.pushes == []


@pytest.mark.parametrize(
    "headers",
    [
        pytest.param({"X-GitHub-Event": "push"}, id="missing-signature"),
        pytest.param({"X-GitHub-Event": "push", "X-Hub-Signature-256": sign("wrong", b"")}, id="wrong-secret"),
        pytest.param(
            {"X-GitHub-Event": "push", "X-Hub-Signature-256": sign(SECRET, b'{"ref": "refs/heads/evil"}')},
            id="signature-for-another-body",
        ),
        pytest.param({"X-GitHub-Event": "push", "X-Hub-Signature": "sha1=" + "0" * 40}, id="sha1-only"),
        pytest.param({"X-GitHub-Event": "ping", "X-Hub-Signature-256": "sha256=deadbeef"}, id="unsigned-ping"),
        pytest.param({"X-Signature-256": "sha256=" + "0" * 64}, id="generic-bad"),
        pytest.param({}, id="generic-unsigned"),
    ],
)
def test_unsigned_or_wrongly_signed_webhooks_are_401_and_do_not_trigger(make: Make, headers: dict[str, str]) -> None:
    endpoints, rec = make()
    body = json.dumps(PUSH).encode()
    response = post(endpoints.url, body, headers)
    assert response.status_code == 401
    assert set(response.json()) == {"error"}
    assert rec.pushes == []
    assert len(rec.lines) == 1
    assert "401" in rec.lines[0]
    for line in [*rec.lines, response.text]:
        assert SECRET not in line
        for value in headers.values():
            if value.startswith("sha"):
                assert value not in line


def test_form_encoded_github_payload_is_verified_over_the_raw_body(make: Make) -> None:
    endpoints, rec = make()
    body = urllib.parse.urlencode({"payload": json.dumps(PUSH)}).encode()
    response = post(endpoints.url, body, github(body), content_type="application/x-www-form-urlencoded")
    assert response.status_code == 202
    assert rec.pushes == [PushEvent("github", "refs/heads/main", SHA, "72d3162e-cc78-11e3-81ab-4c9367dc0958")]


def test_form_without_payload_field_is_400(make: Make) -> None:
    endpoints, rec = make()
    body = b"other=1"
    response = post(endpoints.url, body, github(body), content_type="application/x-www-form-urlencoded")
    assert response.status_code == 400
    assert rec.pushes == []


@pytest.mark.parametrize("body", [b"{not json", b"", b'["a list"]', b"\xff\xfe\x00"])
def test_signed_push_whose_body_is_not_a_json_object_is_400(make: Make, body: bytes) -> None:
    endpoints, rec = make()
    response = post(endpoints.url, body, github(body))
    assert response.status_code == 400
    assert set(response.json()) == {"error"}
    assert rec.pushes == []


def test_other_content_types_are_415(make: Make) -> None:
    endpoints, rec = make()
    body = json.dumps(PUSH).encode()
    response = post(endpoints.url, body, github(body), content_type="text/plain")
    assert response.status_code == 415
    assert rec.pushes == []


def test_accepted_refs_filters_pushes_to_other_branches(make: Make) -> None:
    endpoints, rec = make(accepted_refs=lambda ref: ref == "refs/heads/main")
    other = json.dumps({**PUSH, "ref": "refs/heads/feature"}).encode()
    response = post(endpoints.url, other, github(other))
    assert response.status_code == 202
    assert response.json()["triggered"] is False
    assert "refs/heads/feature" in response.json()["reason"]
    assert rec.pushes == []
    main = json.dumps(PUSH).encode()
    assert post(endpoints.url, main, github(main)).json() == {"triggered": True}
    assert [p.ref for p in rec.pushes] == ["refs/heads/main"]


# ------------------------------------------------------------------------------------------ gitlab, generic


def test_gitlab_push_with_the_right_token_triggers(make: Make) -> None:
    endpoints, rec = make()
    body = json.dumps({"object_kind": "push", "ref": "refs/heads/main", "checkout_sha": SHA}).encode()
    headers = {"X-Gitlab-Event": "Push Hook", "X-Gitlab-Token": SECRET, "X-Gitlab-Event-UUID": "uuid-1"}
    response = post(endpoints.url, body, headers)
    assert response.status_code == 202
    assert rec.pushes == [PushEvent("gitlab", "refs/heads/main", SHA, "uuid-1")]


def test_gitlab_tag_push_triggers_and_other_gitlab_events_are_ignored(make: Make) -> None:
    endpoints, rec = make()
    body = json.dumps({"ref": "refs/tags/v1", "after": SHA}).encode()
    tag = post(endpoints.url, body, {"X-Gitlab-Event": "Tag Push Hook", "X-Gitlab-Token": SECRET})
    assert tag.json() == {"triggered": True}
    mr = post(endpoints.url, body, {"X-Gitlab-Event": "Merge Request Hook", "X-Gitlab-Token": SECRET})
    assert mr.status_code == 202
    assert mr.json()["triggered"] is False
    assert rec.pushes == [PushEvent("gitlab", "refs/tags/v1", SHA, None)]


@pytest.mark.parametrize("token", [None, "wrong", SECRET + "x", SECRET[:-1], ""])
def test_gitlab_wrong_or_missing_token_is_401(make: Make, token: str | None) -> None:
    endpoints, rec = make()
    body = json.dumps(PUSH).encode()
    headers = {"X-Gitlab-Event": "Push Hook"} | ({} if token is None else {"X-Gitlab-Token": token})
    response = post(endpoints.url, body, headers)
    assert response.status_code == 401
    assert rec.pushes == []
    assert SECRET not in response.text
    assert all(SECRET not in line for line in rec.lines)


@pytest.mark.parametrize("header", ["X-Signature-256", "X-Hub-Signature-256"])
def test_generic_signed_webhook_triggers(make: Make, header: str) -> None:
    endpoints, rec = make()
    body = json.dumps({"ref": "refs/heads/main", "after": SHA}).encode()
    response = post(endpoints.url, body, {header: sign(SECRET, body), "X-Delivery-Id": "ci-42"})
    assert response.json() == {"triggered": True}
    assert rec.pushes == [PushEvent("generic", "refs/heads/main", SHA, "ci-42")]


def test_generic_webhook_accepts_any_json(make: Make) -> None:
    endpoints, rec = make(accepted_refs=lambda ref: False)
    body = b'"deploy please"'
    response = post(endpoints.url, body, {"X-Signature-256": sign(SECRET, body)})
    assert response.json() == {"triggered": True}  # no ref to filter on: a trigger only makes the next poll early
    assert rec.pushes == [PushEvent("generic", None, None, None)]


def test_webhook_not_configured_is_404_and_never_triggers(make: Make) -> None:
    endpoints, rec = make(webhook_secret=None)
    body = json.dumps(PUSH).encode()
    response = post(endpoints.url, body, github(body, secret=""))
    assert response.status_code == 404
    assert response.json() == {"error": "webhook not configured"}
    assert rec.pushes == []


def test_an_empty_secret_is_refused_at_construction() -> None:
    with pytest.raises(ConfigError, match="webhook_secret"):
        HttpEndpoints(liveness=lambda: Health(True), readiness=lambda: Health(True), on_push=print, webhook_secret="")


# ------------------------------------------------------------------------------------------ limits and failures


def test_oversize_body_is_413_and_the_server_keeps_answering(make: Make) -> None:
    endpoints, rec = make(max_body_bytes=1024)
    body = json.dumps({**PUSH, "pad": "x" * 4096}).encode()
    response = post(endpoints.url, body, github(body))
    assert response.status_code == 413
    assert rec.pushes == []
    assert http.get(endpoints.url + "/healthz").status_code == 200
    small = json.dumps(PUSH).encode()
    assert post(endpoints.url, small, github(small)).status_code == 202


def test_a_sender_still_writing_its_body_reads_the_413_not_a_broken_pipe(make: Make) -> None:
    endpoints, rec = make(max_body_bytes=1024)
    head = b"POST /hooks/git HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 5000000\r\n\r\n"
    with socket.create_connection(("127.0.0.1", endpoints.port), timeout=3) as sock:
        sock.sendall(head + b"x" * 200_000)
        time.sleep(0.2)  # the server answers 413 meanwhile; a naive sender keeps writing before it reads
        sock.sendall(b"x" * 100_000)  # without a lingering close this is a broken pipe / connection reset
        answer = sock.recv(64)
    assert answer.startswith((b"HTTP/1.0 413 ", b"HTTP/1.1 413 "))
    assert rec.pushes == []


def test_oversize_content_length_is_refused_before_the_body_arrives(make: Make) -> None:
    endpoints, rec = make(max_body_bytes=1024)
    # Declares 50 MB but sends 2 bytes: a server that tried to read it all would hang here instead of answering.
    started = time.monotonic()
    head = (
        b"POST /hooks/git HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
        b"X-GitHub-Event: push\r\nX-Hub-Signature-256: sha256=00\r\nContent-Length: 50000000\r\n\r\n{}"
    )
    answer = raw_request(endpoints, head)
    assert answer.startswith((b"HTTP/1.0 413 ", b"HTTP/1.1 413 "))
    assert time.monotonic() - started < 2.5
    assert rec.pushes == []


def test_chunked_bodies_are_decoded_and_limited(make: Make) -> None:
    endpoints, rec = make(max_body_bytes=1024)
    body = json.dumps(PUSH).encode()

    def chunks(data: bytes) -> Iterator[bytes]:
        yield from (data[i : i + 50] for i in range(0, len(data), 50))

    ok = http.post(
        endpoints.url + "/hooks/git",
        content=chunks(body),
        headers={"Content-Type": "application/json", **github(body)},
    )
    assert ok.status_code == 202
    assert len(rec.pushes) == 1
    big = body + b" " * 4096
    refused = http.post(
        endpoints.url + "/hooks/git", content=chunks(big), headers={"Content-Type": "application/json", **github(big)}
    )
    assert refused.status_code == 413
    assert len(rec.pushes) == 1


@pytest.mark.parametrize(
    "framing",
    [b"Content-Length: abc\r\n\r\n", b"Transfer-Encoding: chunked\r\n\r\nzz\r\n", b"Transfer-Encoding: gzip\r\n\r\n"],
)
def test_malformed_framing_is_refused_without_crashing(make: Make, framing: bytes) -> None:
    endpoints, rec = make()
    answer = raw_request(
        endpoints, b"POST /hooks/git HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n" + framing
    )
    status = int(answer.split(b" ", 2)[1])
    assert status in (400, 501)
    assert rec.pushes == []
    assert http.get(endpoints.url + "/healthz").status_code == 200


def test_a_raising_callback_is_500_without_traceback_and_the_server_keeps_serving(make: Make) -> None:
    def explode(event: PushEvent) -> None:
        raise RuntimeError("boom in on_push")

    def broken_liveness() -> Health:
        raise ValueError("cannot tell")

    endpoints, rec = make(on_push=explode, liveness=broken_liveness)
    body = json.dumps(PUSH).encode()
    response = post(endpoints.url, body, github(body))
    assert response.status_code == 500
    assert response.json() == {"error": "internal error"}
    assert "Traceback" not in response.text
    assert "boom" not in response.text
    assert http.get(endpoints.url + "/healthz").status_code == 500
    assert http.get(endpoints.url + "/readyz").status_code == 200
    assert any("RuntimeError" in line for line in rec.lines)


def test_a_raising_metrics_app_is_500(make: Make) -> None:
    def broken_app(environ: Any, start_response: Any) -> list[bytes]:
        raise OSError("registry gone")

    endpoints, _ = make(metrics_app=broken_app)
    assert http.get(endpoints.url + "/metrics").status_code == 500
    assert http.get(endpoints.url + "/healthz").status_code == 200


def test_requests_do_not_write_to_stderr(make: Make, capfd: pytest.CaptureFixture[str]) -> None:
    endpoints, _ = make(on_push=lambda event: 1 / 0)
    http.get(endpoints.url + "/healthz")
    http.get(endpoints.url + "/nope")
    body = json.dumps(PUSH).encode()
    post(endpoints.url, body, github(body))
    post(endpoints.url, body, {"X-GitHub-Event": "push"})
    raw_request(endpoints, b"GARBAGE\r\n\r\n")
    captured = capfd.readouterr()
    assert captured.err == ""
    assert captured.out == ""


# ------------------------------------------------------------------------------------------ lifecycle


def test_stop_is_idempotent_and_frees_the_port(make: Make) -> None:
    endpoints, _ = make()
    port = endpoints.port
    assert endpoints.url == f"http://127.0.0.1:{port}"
    assert http.get(endpoints.url + "/healthz").status_code == 200
    endpoints.stop()
    endpoints.stop()
    with pytest.raises(httpx.ConnectError):
        http.get(endpoints.url + "/healthz")
    again, _ = make(listen=f"127.0.0.1:{port}")
    assert again.port == port
    assert http.get(again.url + "/healthz").status_code == 200


def test_a_port_in_use_or_a_bad_listen_address_is_a_config_error(make: Make) -> None:
    endpoints, _ = make()
    with pytest.raises(ConfigError, match="cannot listen"):
        HttpEndpoints(
            listen=f"127.0.0.1:{endpoints.port}",
            liveness=lambda: Health(True),
            readiness=lambda: Health(True),
            on_push=lambda event: None,
            webhook_secret=None,
        )
    with pytest.raises(ConfigError, match="HOST:PORT"):
        HttpEndpoints(
            listen="localhost",
            liveness=lambda: Health(True),
            readiness=lambda: Health(True),
            on_push=lambda event: None,
            webhook_secret=None,
        )


# ------------------------------------------------------------------------------------------ replays


def test_a_replayed_github_delivery_is_answered_as_a_duplicate_and_triggers_nothing(make: Make) -> None:
    outcomes: list[str] = []
    endpoints, rec = make(on_webhook=outcomes.append)
    body = json.dumps(PUSH).encode()
    assert post(endpoints.url, body, github(body)).json() == {"triggered": True}
    replay = post(endpoints.url, body, github(body))
    assert replay.status_code == 200
    assert replay.json()["duplicate"] is True
    assert replay.json()["triggered"] is False
    assert "72d3162e-cc78-11e3-81ab-4c9367dc0958" in replay.json()["reason"]
    assert len(rec.pushes) == 1
    assert outcomes == ["triggered", "duplicate"]
    assert any("already received" in line for line in rec.lines)
    other = post(endpoints.url, body, github(body, **{"X-GitHub-Delivery": "another-delivery"}))
    assert other.json() == {"triggered": True}
    assert len(rec.pushes) == 2


def test_gitlab_event_uuid_is_a_delivery_id_too(make: Make) -> None:
    endpoints, rec = make()
    body = json.dumps({"ref": "refs/heads/main", "checkout_sha": SHA}).encode()
    headers = {"X-Gitlab-Event": "Push Hook", "X-Gitlab-Token": SECRET, "X-Gitlab-Event-UUID": "uuid-7"}
    assert post(endpoints.url, body, headers).status_code == 202
    replay = post(endpoints.url, body, headers)
    assert replay.status_code == 200
    assert replay.json()["duplicate"] is True
    assert len(rec.pushes) == 1


def test_a_forged_delivery_cannot_use_up_a_real_delivery_id(make: Make) -> None:
    outcomes: list[str] = []
    endpoints, rec = make(on_webhook=outcomes.append)
    body = json.dumps(PUSH).encode()
    forged = post(endpoints.url, body, github(body, secret="not-the-secret"))
    assert forged.status_code == 401
    assert post(endpoints.url, body, github(body)).json() == {"triggered": True}
    assert len(rec.pushes) == 1
    assert outcomes == ["refused", "triggered"]


def test_a_delivery_that_failed_on_our_side_can_be_redelivered(make: Make) -> None:
    calls: list[PushEvent] = []

    def flaky(event: PushEvent) -> None:
        calls.append(event)
        if len(calls) == 1:
            raise RuntimeError("scheduler busy")

    endpoints, _ = make(on_push=flaky)
    body = json.dumps(PUSH).encode()
    assert post(endpoints.url, body, github(body)).status_code == 500
    assert post(endpoints.url, body, github(body)).json() == {"triggered": True}  # the host's retry gets through
    assert len(calls) == 2


def test_deliveries_without_an_id_are_never_taken_for_replays(make: Make) -> None:
    endpoints, rec = make()
    body = json.dumps({"ref": "refs/tags/v1", "after": SHA}).encode()
    for _ in range(2):
        assert post(endpoints.url, body, {"X-Gitlab-Event": "Tag Push Hook", "X-Gitlab-Token": SECRET}).json() == {
            "triggered": True
        }
    assert len(rec.pushes) == 2


# ------------------------------------------------------------------------------------------ bounds


def test_a_client_that_never_finishes_its_request_is_disconnected_at_the_deadline(make: Make) -> None:
    cut: list[None] = []
    endpoints, _ = make(limits=HttpLimits(request_timeout=1), on_deadline=lambda: cut.append(None))
    started = time.monotonic()
    with socket.create_connection(("127.0.0.1", endpoints.port), timeout=15) as sock:
        sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Slow: ")
        sock.setblocking(False)
        for _ in range(20):  # a byte every half second: each read is quick, the request never ends
            try:
                sock.send(b"X")
                if sock.recv(1) == b"":
                    break
            except BlockingIOError:
                pass
            except OSError:
                break
            time.sleep(0.5)
        else:
            pytest.fail("still connected after 10 s with a 1 s request deadline")
    assert time.monotonic() - started >= 0.9
    assert cut == [None]
    assert endpoints.deadline_closes == 1
    assert http.get(endpoints.url + "/healthz").status_code == 200  # honest clients are not affected


def test_probes_answer_while_every_worker_is_stuck_in_a_slow_scrape(make: Make) -> None:
    release = threading.Event()

    def stuck_metrics(environ: Any, start_response: Any) -> list[bytes]:
        release.wait(30)
        start_response("200 OK", [("Content-Type", "text/plain")])
        return [b"descope_gitops_build_info 1\n"]

    endpoints, _ = make(metrics_app=stuck_metrics)
    scrapes = [
        threading.Thread(target=http.get, args=(endpoints.url + "/metrics",), kwargs={"timeout": 30}) for _ in range(8)
    ]
    for thread in scrapes:
        thread.start()
    try:
        time.sleep(0.3)  # every worker is now waiting inside the metrics app
        for path in ("/healthz", "/readyz"):
            assert http.get(endpoints.url + path, timeout=5).status_code == 200
    finally:
        release.set()
        for thread in scrapes:
            thread.join(timeout=30)


def test_the_thread_count_is_fixed_whatever_the_number_of_connections(make: Make) -> None:
    endpoints, _ = make()
    threads = endpoints.thread_count()
    socks = [socket.create_connection(("127.0.0.1", endpoints.port), timeout=5) for _ in range(100)]
    try:
        for sock in socks:
            sock.sendall(b"GET /healthz HTTP/1.1\r\n")  # started, never finished
        assert http.get(endpoints.url + "/healthz", timeout=5).status_code == 200
        assert endpoints.thread_count() == threads
    finally:
        for sock in socks:
            sock.close()


def test_answers_close_the_connection(make: Make) -> None:
    endpoints, _ = make()
    answer = raw_request(endpoints, b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")  # returns only once the server closes
    assert answer.startswith(b"HTTP/1.1 200 ")
    assert b"\r\nConnection: close\r\n" in answer


@pytest.mark.parametrize(
    "limits",
    [HttpLimits(backlog=0), HttpLimits(max_connections=0), HttpLimits(request_timeout=0)],
)
def test_nonsense_limits_are_a_config_error(limits: HttpLimits) -> None:
    with pytest.raises(ConfigError, match="http\\."):
        HttpEndpoints(
            liveness=lambda: Health(True),
            readiness=lambda: Health(True),
            on_push=lambda event: None,
            webhook_secret=None,
            limits=limits,
        )
