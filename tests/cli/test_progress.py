"""sync --apply's live output: terraform's lines, and a coloured bar on a terminal unless NO_COLOR."""

from __future__ import annotations

import io

import pytest

from controller.cli.progress import ApplyOutput, finished_line
from controller.core.plan import Action, ActionKind, FieldChange, Plan
from controller.engine.apply import ActionResult

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
