"""`status` text: times ahead read "in 12s", errors are cut at a word, tenants are listed most recent first."""

from __future__ import annotations

import time

from controller.cli.status import TENANTS_SHOWN, _relative, _tenant_lines, cut_words


def test_a_future_time_reads_in_not_ago() -> None:
    assert _relative(time.time() + 12.2) == "in 12s"
    assert _relative(time.time() - 80 * 60) == "80m ago"


def test_errors_are_never_cut_mid_word() -> None:
    error = "409 E0xx: tenant name 'Globex' is already used by tenant globex-old; rename one of them"
    cut = cut_words(error, 40)
    assert cut.endswith(" …") and error.startswith(cut[:-2]) and error[len(cut) - 2] == " "
    assert cut_words("short", 40) == "short"


def test_tenants_past_the_first_twenty_are_counted() -> None:
    now = time.time()
    tenants = [
        {
            "tenant": f"t{i:02d}",
            "action": "update",
            "cause": "drift",
            "result": "written",
            "at": now - i,
            "changes": [{"field": "name", "cause": "drift", "before": '"x"', "after": '"y"'}],
        }
        for i in range(25)
    ]
    lines = _tenant_lines(tenants)
    assert lines[0] == f"Tenants, most recent first ({TENANTS_SHOWN} of 25):"
    assert lines[1].startswith("  t00: corrected drift")
    assert lines[-1].startswith("  … and 5 more") and "--format json" in lines[-1]
