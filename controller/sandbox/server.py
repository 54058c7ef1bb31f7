"""A Descope-compatible tenant Management API on loopback, for local runs, demos, tests and benchmarks.

It speaks Descope's tenant API as Descope's SDKs call it (paths as in github.com/descope/python-sdk
``descope/management/common.py``, ``MgmtV1``; error codes as in github.com/descope/go-sdk
``descope/errors.go``) and docs.descope.com describes it: same paths, methods, bodies, response shapes,
status codes and the error body
``{"errorCode", "errorDescription", "errorMessage"}``. It imports only the standard library and
``controller.descope_api`` (the facts about Descope it follows, shared with the client).

Usage::

    with SandboxServer(project_id="P2abc", management_key="K1") as sandbox:
        httpx.get(sandbox.url + "/v1/mgmt/tenant/all", headers={"Authorization": "Bearer P2abc:K1"})

Tenant API (``Authorization: Bearer <project_id>:<management_key>``)::

    GET   /v1/mgmt/tenant/all                  -> {"tenants": [...]}
    GET   /v1/mgmt/tenant?id=                  -> the tenant, flat
    POST  /v1/mgmt/tenant/create               -> {"id": ...}
    POST  /v1/mgmt/tenant/update               -> {}   (full overwrite)
    PATCH /v1/mgmt/tenant/patch                -> {}   (only the fields given)
    POST  /v1/mgmt/tenant/delete               -> {}
    POST  /v1/mgmt/tenant/search               -> {"tenants": [...]}
    GET   /v1/mgmt/tenant/settings?id=         -> settings;  POST /v1/mgmt/tenant/settings -> {}
    POST  /v1/mgmt/tenant/updateDefaultRoles   -> {}
    GET   /v1/mgmt/license                     -> {"rateLimitTier": "tier1"}

Per tenant (``controller.descope_api`` ``SSO_*``, ``ROLE_*``, ``PASSWORD_SETTINGS_DEFAULTS`` say which rules
are Descope's and which are choices; rules in ``tenant_config``)::

    GET    /v2/mgmt/sso/settings/all?tenantId=         -> {"SSOSettings": [...]}
    GET    /v2/mgmt/sso/settings?tenantId=&ssoId=      -> {"tenant", "saml", "oidc", "ssoId"} (read names)
    POST   /v1/mgmt/sso/settings/new                   -> the new configuration, as a load answers it
    DELETE /v1/mgmt/sso/settings?tenantId=&ssoId=      -> {}
    POST   /v1/mgmt/sso/saml | saml/metadata | oidc    -> {}   (full overwrite of that ssoId)
    POST   /v1/mgmt/role/create | update | delete      -> {}   (update: full overwrite)
    POST   /v1/mgmt/role/search                        -> {"roles": [...]};  GET /v1/mgmt/role/all the same
    GET    /v1/mgmt/password/settings?tenantId=        -> every key;  POST (full overwrite) -> {}

No answer ever carries an OIDC ``clientSecret``: the sandbox drops it when it reads a write. Full records
(control API, state file) carry a tenant's ``ssoSettings`` (as written, write names), ``roles`` and own
``passwordSettings`` when it has any; the project's roles and password settings are under ``project``.

Control API (no auth; not counted, rate limited or faulted)::

    GET  /_sandbox/stats          counters of tenant-API requests;  POST /_sandbox/stats/reset
    GET  /_sandbox/config         the knobs;  POST /_sandbox/config {"latency_ms", "rate_limit",
                                  "fail_rate", "fail_status"} (any subset) -> the knobs
    GET  /_sandbox/faults         pending rules;  DELETE /_sandbox/faults clears them
    POST /_sandbox/faults         {"rules": [{"path", "status", "count", "body", "delay_ms",
                                  "after_commit", "retry_after"}]} queues exact faults (all keys optional)
    GET  /_sandbox/tenants        {"tenants": [full records, each with "settings"], "project": {...}}
    POST /_sandbox/tenants        {"tenants": [...], "replace": false, "project": {...}} seeds records (by id)
                                  without counting
    GET  /_sandbox/attributes     {"attributes": [definitions] or null}: the project's custom attributes
    POST /_sandbox/attributes     {"attributes": [...]} replaces them; {"attributes": null} removes them

Order of a tenant-API request: counted -> framing (413, bad Content-Length) -> rate limit (429, nothing
else happens) -> latency -> a queued or random fault -> auth (401) -> route (404, 405) -> JSON body and
fields (400) -> the change. Faults and the rate limit come before auth, as at Descope's edge.
The latency sleep happens outside the state lock, so concurrent requests overlap. Stats count every
tenant-API request received, including rejected ones; ``writes`` counts requests that were applied to
state (a successful create, update, patch, delete, settings or default-roles call), even when the values
written were the same, because such a call is still a write against Descope. ``rate_limited`` counts the
rate limiter's 429s; an injected 429 (a fault rule or ``fail_status``) counts under ``faults``.

Faults: a rule matches a request by exact path (no path: any tenant-API path) and is used ``count``
times. ``status`` null means "only slow": wait ``delay_ms`` and answer normally. ``after_commit: true``
applies the request first, then waits ``delay_ms`` and answers ``status`` (a create that reached
Descope but whose answer was lost). A rule's ``body`` is sent verbatim (JSON content type if it parses
as JSON, else HTML); without one, a 429 gets Descope's rate-limit body (and ``Retry-After:
<retry_after>``, default 1, null for none), 502/503/504/520-530 get a Cloudflare-like HTML page, and
other statuses a Descope-shaped body with code ``E000500-sandbox``. ``fail_rate`` faults use
``fail_status`` with those same default bodies, and draw from a ``random.Random(seed)``, so a given seed
and request sequence fail the same requests every run.

Rate limit: as Descope's (``descope_api.RateLimit``). ``rate_limit`` is ``"N/Ws"`` (``"20/4s"``: at most
20 requests in any 4 s), a number of requests per second (a fraction keeps its rate: 2.5 is 2 per
0.8 s; the knobs show it as ``"2/0.8s"``), or null for none. A sliding-window log admits at most N
requests whose arrival falls in any W-second span; the one request too many is refused, and from
then on **every** request is refused until W seconds have passed since that refusal (Descope's
published backoff is the window's length). Each refusal is a 429 with Descope's rate-limit body and
``Retry-After`` = the whole seconds left in the block, at least 1. Setting ``rate_limit`` (even to
the same value) starts an empty window with no block, so a test or benchmark begins with a full budget.

Custom attributes: the project may define its tenant custom attributes, as Descope's console (or its
Terraform provider) does: a list of ``{"name", "displayName", "type", "options"}``, where ``name`` is
the machine name a tenant's ``customAttributes`` uses as key, ``type`` one of ``string``, ``number``,
``boolean``, ``singleselect``, ``multiselect``, ``date``, and ``options`` the ``{"label", "value"}``
choices of a select type (a plain string is its own label). Give it as ``SandboxServer(attributes=[...])``,
``descope-gitops sandbox --attributes FILE`` (JSON or YAML ``{"attributes": [...]}``) or the control
API. Without it any key is accepted; with it, see the choices below. The facts and choices themselves
live in ``controller.descope_api``, shared with the client.

State file: loaded in ``__init__`` (a missing file is an empty project; a corrupt one raises
``SandboxStateError`` naming the file). It keeps the tenants and the attribute catalogue; an
``attributes`` argument replaces the catalogue it holds. Version 1 files (no catalogue) are read;
version 2 is written. It is written atomically (temp file, fsync, rename, fsync of
the directory) after every change, before the answer is sent, and on ``stop()``. Concurrent writes
coalesce into one file write. A seed is one change, so it is one write. Each write saves the whole
project, so with 100k tenants a state file costs about a second per write: benchmarks run without one.
``verbose=True`` logs each request and any sandbox traceback to stderr; otherwise the server is quiet.

Choices where Descope's behaviour is unknown
--------------------------------------------
(Descope does not publish these, or they are only inferred from its SDKs. The sandbox picks one
behaviour, and this section is the only place it says so.)

* Bad or missing management key: **401** with code ``E000401-sandbox``. The key is never echoed.
* Unknown tenant (load, update, patch, delete, settings, default roles): **404** with code
  ``E000404-sandbox``. Unknown path: 404 with the same code. Wrong method: 405 with code
  ``E000405-sandbox`` and an ``Allow`` header. A body over 10 MiB: 413 with code
  ``E000413-sandbox`` (the limit is 512 MiB under ``/_sandbox/``, so 100k tenants can be seeded).
* Duplicate id on create, or a name another tenant already has (create, update, patch, seed): **409**
  with code ``E000409-sandbox``.
* Name uniqueness is **case-insensitive** (``Acme`` and ``ACME`` clash), so a client that copes with the
  sandbox copes with a stricter server too. Renaming a tenant to a new case of its own name is allowed.
  Ids are case-sensitive. Search by ``tenantNames`` is exact (case-sensitive).
* Missing required field (name, id, tenantId): 400 ``E011002`` with "The <field> field is required".
  An empty string counts as missing. A field of the wrong type: 400 ``E011003`` naming the field. A
  body that is not JSON, or not a JSON object: 400 ``E011001``. A JSON ``null`` field reads as its zero
  value (as Go decodes it). Keys the sandbox does not know are ignored (as Go's decoder ignores them).
* Auto-generated ids: ``"T"`` + 27 random letters and digits (28 characters, like project ids).
  Custom ids are any non-empty string.
* ``parent`` on create must name an existing tenant, else 400 ``E000400-sandbox``. It is set at create
  only. Update ignores a ``parent`` key and keeps the parent. Patch refuses it (below). Create ignores
  the fields it cannot set (``authType``, ``domains``, ``defaultRoles``, ``createdTime``, ``successors``).
* Update is a full overwrite of the create fields: ``name``, ``selfProvisioningDomains``,
  ``customAttributes``, ``enforceSSO``, ``enforceSSOExclusions``, ``disabled``, ``federatedAppIds``,
  ``roleInheritance``. An omitted or null one is reset to empty/false/"". The fields update cannot set
  (``parent``, ``defaultRoles``, ``authType``, ``domains``, ``createdTime``, ``successors``) are kept,
  and sending them is not an error, so a body built from a load result works.
* ``patch_endpoint=False`` (``sandbox --without-patch``) serves a Descope older than
  ``PATCH /v1/mgmt/tenant/patch`` (it reached the SDKs in September 2026): the path is unknown, 404.
* Patch changes only the fields present and not null. ``customAttributes`` in a patch **replaces the
  whole map**. Patchable fields are ``descope_api.TENANT_PATCH_FIELDS``. ``parent``, ``defaultRoles``,
  ``authType``, ``domains``, ``createdTime`` or ``successors`` in a patch is a 400 ``E011003`` rather
  than being silently dropped. A patch with no fields succeeds and changes nothing.
* Delete of a tenant that still has child tenants: **400** ``E000400-sandbox`` ("still has child
  tenants ... delete them first"), whatever ``cascade`` says (cascade is about users and access keys,
  which the sandbox does not model). Deleting a child removes it from its parent's ``successors``.
* Omitted fields in answers: tenant objects leave out false, empty and zero fields (Go's ``omitempty``).
  ``id`` and ``name`` are always present. ``parent`` is left out when empty in ``all`` and ``search``,
  but ``GET /v1/mgmt/tenant?id=`` always includes it (``""`` for a top-level tenant), as Descope's .NET
  integration test expects. ``authType`` is ``"none"`` until set through settings, so it is present.
  Settings answers always carry every key.
* Settings: ``POST`` is a **full overwrite**, as Descope's (``descope_api.SETTINGS_POST_KEYS`` gives the
  sources): every key it omits, or sends as null, is reset: ``selfProvisioningDomains``, ``domains``,
  ``enforceSSOExclusions`` and ``federatedAppIds`` to empty, ``enforceSSO`` to false, ``authType`` to
  ``"none"``, and each session key to its default (``descope_api.SESSION_SETTINGS_DEFAULTS``: session
  settings off, refresh token 4 weeks, session and step-up tokens 10 minutes, inactivity off (12 hours),
  ``JITDisabled`` false, SSO setup suite off). A client that sends only the keys it means to change wipes
  the rest, which is the bug this strictness exists to catch. The settings keys that are tenant fields
  change the tenant record itself, and ``GET`` reads them from it; ``GET`` always answers every key.
  ``ssoSetupSuiteSettings`` is replaced whole.
* Search: every filter optional; ``null``, ``[]``, ``""`` and ``false`` mean "not filtered". OR within
  a list, AND across filters. Domains match case-insensitively. ``customAttributes`` values match
  exactly (``true`` is not ``1``), and a list filter value matches a tenant value equal to any of its
  items. ``parentTenantId`` matches the direct parent. ``topLevelOnly`` keeps tenants with no parent.
  An empty body returns every tenant.
* customAttributes without a catalogue: any key is accepted. Values must be a string, number,
  boolean, null or list of strings.
* customAttributes with a catalogue, on create, update, patch and seeds through the control API: a key
  that is not defined is refused, whatever its value, with **400** ``E000400-sandbox-undefined-attribute``
  ("Custom attribute not defined": "Custom attribute '<key>' of tenant <id> is not defined in the
  project"); a value the key's type does not take is refused with **400**
  ``E000400-sandbox-invalid-attribute`` ("Custom attribute '<key>' of tenant <id> (<type>) must be
  ..."). Both codes are ``controller.descope_api`` choices. The first offending key is named; the
  tenant is the id sent, or ``named '<name>'`` on a create without one. Nothing is changed. Types:
  ``string`` a string; ``number`` an integer or finite float, never a boolean; ``boolean`` true/false;
  ``singleselect`` one of the option values (not labels); ``multiselect`` a list of option values,
  each at most once; ``date`` whole epoch milliseconds (an integer; a date string is refused).
* ``null`` as an attribute value (any type, or no catalogue) clears it: the key is removed from the
  tenant. An empty map, or omitting ``customAttributes`` on update, clears them all.
* Changing the catalogue does not touch stored values: a tenant keeps a value whose key is no longer
  defined, and reads show it, but a write that sends that key back is refused. The state file is the
  sandbox's own record, so loading it checks nothing.
* Answers list tenants in creation order.
* Rate limit: requests refused during a block do not extend it, and are not counted in the window.
  Descope publishes a backoff of the window's length from when the limit was exceeded, not what a
  client that keeps sending meanwhile gets; the client never sends during a block anyway (it pauses
  every thread), except requests already in flight, and those must not be what decides a test.
"""

from __future__ import annotations

import os
import random
import threading
from collections.abc import Mapping, Sequence
from pathlib import Path
from types import TracebackType
from typing import Any

from controller.descope_api import AttributeDefinition, RateLimit

from .app import App
from .attributes import Catalogue, parse_catalogue
from .knobs import KnobBox, Knobs, changed_knobs
from .routes import TENANT_PATCH, TENANT_ROUTES, routes_without
from .store import TenantStore, copy_snapshot_entry, paused_gc
from .transport import SandboxHTTPServer
from .wire import ApiError


class SandboxServer:
    """A fake Descope project on ``url``; bound in ``__init__``, served by ``start()`` or ``serve_forever()``."""

    def __init__(
        self,
        *,
        project_id: str,
        management_key: str,
        host: str = "127.0.0.1",
        port: int = 0,
        state_file: str | os.PathLike[str] | None = None,
        attributes: Sequence[Mapping[str, Any] | AttributeDefinition] | None = None,
        latency_ms: float = 0,
        rate_limit: RateLimit | str | float | None = None,
        fail_rate: float = 0.0,
        fail_status: int = 503,
        seed: int | None = None,
        verbose: bool = False,
        patch_endpoint: bool = True,
    ) -> None:
        if not project_id or not management_key:
            raise ValueError("the sandbox needs a project_id and a management_key")
        knobs = _initial_knobs(latency_ms, rate_limit, fail_rate, fail_status)
        catalogue = _initial_catalogue(attributes)
        # Separate generators: whether a request fails must not depend on how many ids were generated.
        id_random = random.Random(None if seed is None else f"{seed}:ids")  # noqa: S311 - test data, not secrets
        store = TenantStore(
            state_file=None if state_file is None else Path(state_file), id_random=id_random, attributes=catalogue
        )
        self.project_id = project_id
        self._app = App(
            store=store,
            knobs=KnobBox(knobs),
            token=f"{project_id}:{management_key}",
            fault_random=random.Random(seed),  # noqa: S311 - fault injection, not secrets
            verbose=verbose,
            routes=TENANT_ROUTES if patch_endpoint else routes_without(TENANT_PATCH),
        )
        self._httpd = SandboxHTTPServer((host, port), self._app, verbose=verbose)
        self.url = _url(host, self._httpd.server_port)
        self._life_lock = threading.RLock()  # re-entrant: stop() may run in a signal handler on this thread
        self._serving_thread: int | None = None
        self._background: threading.Thread | None = None
        self._stopped = False

    def __repr__(self) -> str:
        return f"SandboxServer(url={self.url!r}, project_id={self.project_id!r})"  # never the key

    def start(self) -> SandboxServer:
        """Serve in a daemon background thread; the socket already listens, so requests can be sent at once."""
        thread = threading.Thread(target=self.serve_forever, name=f"descope-sandbox {self.url}", daemon=True)
        self._background = thread
        thread.start()
        return self

    def serve_forever(self) -> None:
        """Serve in this thread until ``stop()`` (from another thread or a signal handler)."""
        with self._life_lock:
            if self._stopped:
                return
            if self._serving_thread is not None:
                raise RuntimeError("the sandbox is already serving")
            self._serving_thread = threading.get_ident()
        try:
            self._httpd.serve_forever(poll_interval=0.02)  # also how long stop() may wait
        finally:
            self._httpd.server_close()
            self._httpd.close_connections()

    def stop(self) -> None:
        """Stop serving, close connections and save the state file; calling it again does nothing."""
        with self._life_lock:
            if self._stopped:
                return
            self._stopped = True
            serving = self._serving_thread
        if serving is None:
            self._httpd.server_close()
        elif serving == threading.get_ident():
            # We are inside serve_forever (a signal handler): shutdown() would wait for the loop this very
            # thread runs, so ask from another thread; serve_forever returns once the handler returns.
            threading.Thread(target=self._httpd.shutdown, daemon=True).start()
        else:
            self._httpd.shutdown()
            if self._background is not None:
                self._background.join(timeout=5)
        self._httpd.close_connections()
        self._app.store.save()

    def __enter__(self) -> SandboxServer:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    def stats(self) -> dict[str, Any]:
        """The same counters as ``GET /_sandbox/stats``."""
        return self._app.stats.snapshot()

    def tenants(self) -> list[dict[str, Any]]:
        """A copy of every stored tenant as a full record (no fields omitted), each with its ``settings``."""
        snapshot = self._app.store.snapshot()
        with paused_gc():
            return [copy_snapshot_entry(entry) for entry in snapshot]


def _initial_knobs(
    latency_ms: float, rate_limit: RateLimit | str | float | None, fail_rate: float, fail_status: int
) -> Knobs:
    values = {
        "latency_ms": latency_ms,
        "rate_limit": rate_limit,
        "fail_rate": fail_rate,
        "fail_status": fail_status,
    }
    try:
        return changed_knobs(Knobs(), values)
    except ApiError as exc:
        raise ValueError(exc.message) from None


def _initial_catalogue(attributes: Sequence[Mapping[str, Any] | AttributeDefinition] | None) -> Catalogue | None:
    try:
        return parse_catalogue(None if attributes is None else list(attributes))
    except ApiError as exc:
        raise ValueError(exc.message) from None


def _url(host: str, port: int) -> str:
    return f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"
