"""The PR comment's roles/SSO/password policy part: listed, marked, inert whatever the names, and within size."""

from __future__ import annotations

import pytest

from controller.cli.markdown import GITHUB_LIMIT, CommentContext, render_markdown
from controller.core.config_types import ConfigPlan, Stage, SubAction, SubConflict, SubKind, SubOp
from controller.core.outcome import CycleStatus
from controller.core.plan import Cause, FieldChange, Plan
from controller.engine.config_cycle import ConfigCycle, SubResult
from controller.engine.cycle import CycleReport
from tests.cli.test_markdown import HOSTILE, _cells, _problems

SECRET = "hunter2-oidc-secret"
REFERENCE = {"env": "ACME_GOOGLE_SECRET"}
ROLE = SubAction(
    SubKind.ROLE,
    SubOp.CREATE,
    "acme",
    "Tenant Admin",
    changes=(FieldChange("description", None, "Manages ACME's users"),),
    body={"name": "Tenant Admin", "tenantId": "acme", "description": "Manages ACME's users"},
)
DRIFTED = SubAction(
    SubKind.SSO,
    SubOp.UPDATE,
    "acme",
    "okta",
    changes=(FieldChange("saml.attributeMapping.email", "mail", "email", Cause.DRIFT),),
    body={"displayName": "Okta", "domains": [], "settings": {}},
)
GOOGLE = SubAction(
    SubKind.SSO,
    SubOp.UPDATE,
    "acme",
    "google",
    changes=(FieldChange("oidc.clientSecret", None, REFERENCE),),
    body={"displayName": "Google", "domains": [], "settings": {"clientSecret": REFERENCE}},
    notes=("clientSecret {env: ACME_GOOGLE_SECRET} is re-sent because the secret its reference names changed",),
)
ADOPTED = SubAction(SubKind.ROLE, SubOp.ADOPT, "acme", "Member")
GONE = SubAction(SubKind.ROLE, SubOp.DELETE, "acme", "Old", stage=Stage.ROLE_DELETE)


def comment(config: ConfigPlan, *, plan: Plan | None = None, results: list[SubResult] | None = None) -> str:
    report = CycleReport("c1", CycleStatus.PLANNED, 0.0, plan=plan or Plan(managed=1))
    report.config = ConfigCycle(config, results=results or [])
    return render_markdown(report, CommentContext("P1", "abc", exit_code=2))


def test_the_sub_resources_are_listed_with_drift_adoption_secret_notes_and_deletes() -> None:
    text = comment(ConfigPlan(actions=(ROLE, DRIFTED, GOOGLE, ADOPTED, GONE), drifted={"sso": 1}))
    assert text.splitlines()[0] == (
        "### descope-gitops plan: 0 to create, 0 to update, 0 to delete · roles/SSO/password policy: "
        "1 to create, 2 to update, 1 to delete, 1 to adopt"
    )
    assert "**Changes to apply**" in text and "1 role, SSO configuration or password policy drifted" in text
    assert '| `role acme/Tenant Admin` | create | `description`: `"Manages ACME\'s users"` |' in text
    assert (
        '| `sso acme/okta` | update *(drift)* | `saml.attributeMapping.email`: `"mail"` → `"email"` '
        "*(drift: edited in Descope)* |"
    ) in text
    assert "| `role acme/Member` | adopt | *adopted: made outside this controller, managed from now on* |" in text
    assert "*note:* clientSecret \\{env: ACME\\_GOOGLE\\_SECRET\\} is re\\-sent because" in text
    assert "#### Roles, SSO, password policy: delete (1)" in text and "| `role acme/Old` | delete |" in text
    assert _problems(text) == []


def test_conflicts_orphans_guards_and_outcomes_are_said() -> None:
    config = ConfigPlan(
        actions=(ROLE,),
        conflicts=(SubConflict(SubKind.SSO, "acme", "google", "oidc.clientSecret is a literal value"),),
        orphaned=(("role", "acme", "Legacy"),),
        blocked=("would delete 12 roles/SSO configurations (max_deletes is 10)",),
    )
    text = comment(config, results=[SubResult(ROLE, ok=False, error="Descope said no")])
    assert ":no_entry: **Refused by a guard**: no roles, sso, password policy write" in text
    assert "- :no_entry: **Refused by guard:** roles, sso, password policy: would delete 12 roles/SSO" in text
    assert "- `sso acme/google`: oidc\\.clientSecret is a literal value" in text
    assert "#### Roles, SSO, password policy: orphans, not deleted (1)" in text and "- `role acme/Legacy`" in text
    assert "**FAILED: Descope said no**" in text
    conflicted = comment(ConfigPlan(conflicts=config.conflicts))
    assert ":x: **Conflicts**" in conflicted


def test_no_secret_value_only_its_reference() -> None:
    text = comment(ConfigPlan(actions=(GOOGLE,)))
    assert SECRET not in text
    assert '`oidc.clientSecret`: `(unset)` → `{"env": "ACME_GOOGLE_SECRET"}`' in text


@pytest.mark.parametrize("bad", HOSTILE, ids=range(len(HOSTILE)))
def test_a_hostile_role_name_or_value_stays_inert(bad: str) -> None:
    role = SubAction(SubKind.ROLE, SubOp.UPDATE, bad, bad, changes=(FieldChange(bad, bad, bad),), body={})
    config = ConfigPlan(
        actions=(role, SubAction(SubKind.SSO, SubOp.DELETE, bad, bad)),
        conflicts=(SubConflict(SubKind.ROLE, bad, bad, f"a message naming {bad}"),),
        orphaned=(("sso", bad, bad),),
        blocked=(f"guard {bad}",),
    )
    text = comment(config)
    assert _problems(text) == []
    for row in _cells(text)[1:]:  # every table row kept its three cells
        assert len(row) == 3


def test_many_sub_resources_fit_one_comment_and_say_how_many_are_left_out() -> None:
    described = (FieldChange("description", None, "x" * 150),)
    many = tuple(SubAction(SubKind.ROLE, SubOp.CREATE, f"t-{i}", f"role-{i}", changes=described) for i in range(3000))
    text = comment(ConfigPlan(actions=many))
    assert len(text) < GITHUB_LIMIT
    assert "3,000 to create" in text.splitlines()[0]
    assert "more actions not shown here" in text
