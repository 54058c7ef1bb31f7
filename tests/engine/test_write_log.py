"""The one line per write: tenant, cause, fields old → new; secrets hidden, long values cut."""

from __future__ import annotations

import pytest

from controller.core.plan import Action, ActionKind, Cause, FieldChange
from controller.engine.write_log import HIDDEN, write_line

C, D = Cause.CHANGE, Cause.DRIFT
REV = "0d76441aa1b2c3d4e5f6"


def update(*changes: FieldChange, adopt: bool = False) -> Action:
    return Action(ActionKind.UPDATE, "acme", changes=changes, adopt=adopt)


CASES = [
    (
        update(FieldChange("name", "Globex Console Edit", "Globex", D)),
        'corrected drift on acme: name "Globex Console Edit" → "Globex"',
    ),
    (
        update(FieldChange("customAttributes.seats", 50, 75, C)),
        "applied change on acme (rev 0d76441aa1b2): customAttributes.seats 50 → 75",
    ),
    (
        update(FieldChange("customAttributes.seats", 50, 75, C), FieldChange("name", "X", "ACME", D)),
        'applied change on acme (rev 0d76441aa1b2): customAttributes.seats 50 → 75; corrected drift: name "X" → "ACME"',
    ),
    (update(FieldChange("name", "X", "ACME", C), adopt=True), 'adopted acme (rev 0d76441aa1b2): name "X" → "ACME"'),
    (
        Action(ActionKind.CREATE, "acme", changes=(FieldChange("name", None, "ACME"),)),
        'created acme (rev 0d76441aa1b2): name "ACME"',
    ),
    (Action(ActionKind.DELETE, "old-co"), "deleted old-co: removed from tenants.yaml (rev 0d76441aa1b2)"),
    (
        update(FieldChange("customAttributes.apiToken", "s3cr3t-old", "s3cr3t-new", C)),
        f"applied change on acme (rev 0d76441aa1b2): customAttributes.apiToken {HIDDEN} → {HIDDEN}",
    ),
]


@pytest.mark.parametrize(("action", "line"), CASES)
def test_write_line(action: Action, line: str) -> None:
    assert write_line(action, REV) == line


def test_a_long_value_is_cut_with_a_marker() -> None:
    line = write_line(update(FieldChange("name", "a" * 500, "b", D)), REV)
    assert "…" in line and len(line) < 200


def test_a_create_with_many_fields_counts_the_rest() -> None:
    changes = tuple(FieldChange(f"customAttributes.k{i}", None, i) for i in range(30))
    line = write_line(Action(ActionKind.CREATE, "acme", changes=changes), None)
    assert line.endswith("and 10 more fields") and "(rev" not in line
