"""The loader and the sub-resource planner agree: tenants.yaml's roles/sso/passwordPolicy plan as written."""

from __future__ import annotations

from controller.core.config_plan import LiveConfig, make_config_plan
from controller.core.config_types import SecretFingerprints
from controller.core.loader import parse_tenant_files

DOC = b"""\
tenants:
  - id: acme
    name: ACME
    roles:
      - name: Tenant Admin
        description: Manages ACME's users
        permissionNames: [users.manage]
    sso:
      - ssoId: okta
        displayName: Okta
        domains: [acme.com]
        saml:
          idpMetadataUrl: https://acme.okta.com/app/x/sso/saml/metadata
          attributeMapping: {email: email, name: displayName, group: groups}
          roleMappings: [{groups: [acme-admins], roleName: Tenant Admin}]
      - ssoId: google
        oidc:
          name: Google
          clientId: 123.apps.googleusercontent.com
          clientSecret: {env: ACME_GOOGLE_SECRET}
          issuer: https://accounts.google.com
    passwordPolicy: {minLength: 12, lowercase: true, number: true, expiration: true, expirationWeeks: 26}
"""


def desired_config() -> dict[str, dict[str, object]]:
    state = parse_tenant_files({"tenants.yaml": DOC})
    keys = ("roles", "sso", "passwordPolicy")
    return {t.id: {k: t.fields[k] for k in keys if k in t.fields} for t in state.tenants}


def test_the_issue_example_plans_a_role_two_sso_configurations_and_a_policy_in_order() -> None:
    secrets = SecretFingerprints(wanted={("acme", "google"): "h1"})
    plan = make_config_plan(desired_config(), LiveConfig(), secrets=secrets)
    assert not plan.conflicts, plan.conflicts
    lines = plan.lines()
    assert any("role acme/Tenant Admin" in line for line in lines)
    assert any("sso acme/okta" in line for line in lines) and any("sso acme/google" in line for line in lines)
    role_stage = min(a.stage for a in plan.actions if a.kind.value == "role")
    sso_stage = min(a.stage for a in plan.actions if a.kind.value == "sso")
    assert role_stage < sso_stage  # the mapping names the role: it exists first
    assert "ACME_GOOGLE_SECRET" in str(plan.as_dict()) and "h1" not in str(plan.as_dict())
