"""``descope-gitops demo``: the product end to end on one machine, with nothing to configure.

Starts the bundled sandbox on loopback, writes a sample tenants.yaml in a temporary directory and
walks through what a platform team sees: a plan, an apply, an edit going through, a console edit
being reverted, and a final "no changes" that cost one Descope call. It uses the same composition
and reconcile code as the real commands.
"""

from __future__ import annotations

import secrets
import shutil
import tempfile
from pathlib import Path

import httpx

from controller.engine import compose
from controller.engine.reconciler import CycleOptions, Reconciler
from controller.engine.render import render_text
from controller.sandbox import SandboxServer
from controller.settings import Settings

SAMPLE = """\
# tenants.yaml: the desired state of the Descope project's tenants
tenants:
  - id: holding-co
    name: Holding Co
    customAttributes: {plan: enterprise}

  - id: acme-corp
    name: ACME Corp
    parent: holding-co
    selfProvisioningDomains: [acme.com]
    customAttributes: {plan: enterprise, seats: 50}
    defaultRoles: [viewer]
    settings:
      sessionTokenExpiration: 10
      sessionTokenExpirationUnit: minutes

  - id: globex
    name: Globex
    selfProvisioningDomains: [globex.example]
    enforceSSO: false
"""

EDIT = ("seats: 50}", "seats: 75}")
NEW_TENANT = """
  - id: initech
    name: Initech
    selfProvisioningDomains: [initech.example]
    customAttributes: {plan: starter}
"""


def _step(title: str) -> None:
    print(f"\n=== {title} " + "=" * max(0, 72 - len(title)), flush=True)


def run_demo(*, keep: bool = False) -> int:
    workdir = Path(tempfile.mkdtemp(prefix="descope-gitops-demo-"))
    key = secrets.token_urlsafe(24)
    tenants_file = workdir / "tenants.yaml"
    tenants_file.write_text(SAMPLE, encoding="utf-8")
    try:
        with SandboxServer(project_id="Pdemo", management_key=key) as sandbox:
            settings = Settings(
                descope={"project_id": "Pdemo", "management_key": key, "base_url": sandbox.url},
                store={"dir": workdir / "state"},
            )
            print(f"Sandbox Descope API on {sandbox.url}; tenants file {tenants_file}")
            with compose.descope_client(settings) as client:
                reconciler = Reconciler(compose.local_source(tenants_file), client, compose.state_store(settings))
                apply = CycleOptions(apply=True, policy=compose.plan_policy(settings))
                plan_only = CycleOptions(apply=False, policy=compose.plan_policy(settings))

                _step("1. descope-gitops plan: a new project, three tenants to create")
                print(render_text(reconciler.run_cycle(plan_only)))

                _step("2. descope-gitops sync --apply")
                first = reconciler.run_cycle(apply)
                print(render_text(first))

                _step("3. a merged change: acme-corp gets 75 seats, initech is added")
                tenants_file.write_text(SAMPLE.replace(*EDIT) + NEW_TENANT, encoding="utf-8")
                second = reconciler.run_cycle(apply)
                print(render_text(second))

                _step("4. someone turns on enforceSSO for globex in the Descope console; the next sync reverts it")
                httpx.request(
                    "PATCH",
                    f"{sandbox.url}/v1/mgmt/tenant/patch",
                    json={"id": "globex", "enforceSSO": True},
                    headers={"Authorization": f"Bearer Pdemo:{key}"},
                ).raise_for_status()
                third = reconciler.run_cycle(apply)
                print(render_text(third))

                _step("5. nothing left to do: a no-change plan costs one Descope call")
                httpx.post(f"{sandbox.url}/_sandbox/stats/reset").raise_for_status()
                final = reconciler.run_cycle(plan_only)
                print(render_text(final))
                calls = httpx.get(f"{sandbox.url}/_sandbox/stats").json()["total"]
                print(f"Descope API calls for that plan: {calls} (one GET /v1/mgmt/tenant/all)")
            ok = all(r.status == "succeeded" for r in (first, second, third)) and not (
                final.plan and final.plan.has_changes
            )
            print("\nDemo " + ("succeeded." if ok else "FAILED: see the reports above."))
            return 0 if ok else 1
    finally:
        if keep:
            print(f"kept {workdir}")
        else:
            shutil.rmtree(workdir, ignore_errors=True)
