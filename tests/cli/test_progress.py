"""sync --apply's live output: terraform's lines, and a coloured bar on a terminal unless NO_COLOR."""

from __future__ import annotations

import io

import pytest

from controller.cli.progress import ApplyOutput, apply_summary, finished_line, sub_finished_line
from controller.core.config_types import ConfigPlan, Stage, SubAction, SubKind, SubOp
from controller.core.outcome import CycleStatus
from controller.core.plan import Action, ActionKind, FieldChange, Plan
from controller.engine.apply import ActionResult, ApplyResult
from controller.engine.config_cycle import ConfigCycle, SubResult
from controller.engine.cycle import CycleReport

CREATE = Action(ActionKind.CREATE, "acme", changes=(FieldChange("name", None, "ACME"),), create_body={"id": "acme"})
UPDATE = Action(ActionKind.UPDATE, "globex", changes=(FieldChange("name", "G", "Globex"),), patch={"name": "Globex"})
DELETE = Action(ActionKind.DELETE, "old-co")


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_finished_lines_read_like_terraform() -> None:
    assert finished_line(ActionResult(CREATE, ok=True), 0.2) == "acme: Creation complete after 0s"
    assert finished_line(ActionResult(UPDATE, ok=True), 65) == "globex: Modifications complete after 1m5s (name)"
    assert finished_line(ActionResult(DELETE, ok=True)) == "old-co: Destruction complete"
    assert finished_line(ActionResult(CREATE, ok=False, error="boom")) == "acme: Error: boom"
    skipped = ActionResult(CREATE, ok=False, error="not attempted: parent tenant 'h' was not created", skipped=True)
    assert finished_line(skipped) == "acme: Not attempted: parent tenant 'h' was not created"


def test_off_a_terminal_plain_lines_as_actions_finish() -> None:
    stream = io.StringIO()
    output = ApplyOutput(stream)
    output.show_plan(Plan(actions=(CREATE, UPDATE)))
    before = stream.getvalue()
    assert "+ create  acme" in before and "\x1b[" not in before
    output.after_action(ActionResult(UPDATE, ok=True))
    assert stream.getvalue()[len(before) :] == "globex: Modifications complete (name)\n"
    output.finish()


@pytest.mark.parametrize("no_color", [False, True])
def test_on_a_terminal_colours_unless_no_color(monkeypatch: pytest.MonkeyPatch, no_color: bool) -> None:
    monkeypatch.delenv("NO_COLOR", raising=False)
    if no_color:
        monkeypatch.setenv("NO_COLOR", "1")
    stream = Terminal()
    output = ApplyOutput(stream)
    output.show_plan(Plan(actions=(CREATE, UPDATE, DELETE)))
    for action in (CREATE, UPDATE, DELETE):
        output.before_write(action, None)
        output.after_action(ActionResult(action, ok=True))
    output.finish()
    text = stream.getvalue()
    assert "acme: Creation complete" in text and "old-co: Destruction complete" in text
    green = "\x1b[32m"
    assert (green in text) is not no_color


def _config() -> ConfigPlan:
    role = SubAction(SubKind.ROLE, SubOp.CREATE, "acme", "Tenant Admin", body={"name": "Tenant Admin"})
    sso = SubAction(
        SubKind.SSO,
        SubOp.UPDATE,
        "acme",
        "okta",
        changes=(FieldChange("saml.attributeMapping.email", "mail", "email"),),
        body={"settings": {}},
        stage=Stage.SSO,
    )
    return ConfigPlan(actions=(role, sso))


def test_the_plan_shown_before_writing_has_the_sub_resources_and_their_count() -> None:
    stream = io.StringIO()
    output = ApplyOutput(stream)
    output.show_plan(Plan(actions=(CREATE,)), _config())
    assert stream.getvalue().splitlines() == [
        "  + create  acme",
        '        name: "ACME"',
        "  + role acme/Tenant Admin",
        "  ~ sso acme/okta saml.attributeMapping.email",
        "Plan: 1 to create, 0 to update, 0 to delete; 0 in sync; roles/SSO/password policy: 1 to create, "
        "1 to update, 0 to delete.",
        "",
    ]


def test_each_finished_sub_resource_write_is_a_line_and_counts_in_the_summary() -> None:
    config = _config()
    role, sso = config.actions
    stream = io.StringIO()
    output = ApplyOutput(stream)
    output.show_plan(Plan(actions=(CREATE,)), config)
    before = stream.getvalue()
    results = [SubResult(role, ok=True), SubResult(sso, ok=False, error="Descope said no")]
    for result in results:
        output.after_sub_action(result)
    assert stream.getvalue()[len(before) :] == (
        "role acme/Tenant Admin: Creation complete\nsso acme/okta: Error: Descope said no\n"
    )
    assert (
        sub_finished_line(SubResult(sso, ok=True))
        == "sso acme/okta: Modifications complete (saml.attributeMapping.email)"
    )
    skipped = SubResult(role, ok=False, error="not attempted: the tenant's own action failed", skipped=True)
    assert sub_finished_line(skipped) == "role acme/Tenant Admin: Not attempted: the tenant's own action failed"

    report = CycleReport("c", CycleStatus.PARTIAL, 0.0, plan=Plan(actions=(CREATE,)))
    report.applied = ApplyResult((ActionResult(CREATE, ok=True),))
    report.config = ConfigCycle(config, results=results)
    assert apply_summary(report) == [
        "Apply incomplete! Resources: 1 added, 0 changed, 0 destroyed; roles/SSO/password policy: 1 added, "
        "0 changed, 0 destroyed; 1 FAILED.",
        "Result: partial (2 done, 1 failed) in 0.0s",
    ]


def test_on_a_terminal_the_bar_counts_the_sub_resources_too(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NO_COLOR", "1")
    config = _config()
    output = ApplyOutput(Terminal())
    output.show_plan(Plan(actions=(CREATE,)), config)
    output.after_action(ActionResult(CREATE, ok=True))
    for action in config.actions:
        output.after_sub_action(SubResult(action, ok=True))
    assert output._progress.tasks[0].total == 3 and output._progress.tasks[0].completed == 3
    output.finish()
