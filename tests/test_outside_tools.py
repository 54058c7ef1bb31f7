"""The README's test command on a machine without promtool: its tests skip with a hint, and CI=true fails them."""

from __future__ import annotations

from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture
def suite_without_promtool(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    pytester.makeini("[pytest]\nmarkers =\n    promtool: needs promtool\n")
    pytester.makepyfile(
        "import pytest\n\n@pytest.mark.promtool\ndef test_rules():\n    assert True\n\n"
        "def test_plain():\n    assert True\n"
    )
    empty = tmp_path / "empty-bin"
    empty.mkdir()
    monkeypatch.setenv("PATH", str(empty))  # no promtool, wherever this suite runs
    monkeypatch.setenv("PYTHONPATH", str(REPO))


@pytest.mark.usefixtures("suite_without_promtool")
def test_without_promtool_its_tests_skip_and_say_how_to_get_it(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("CI", raising=False)
    result = pytester.runpytest_subprocess("-p", "tests.conftest", "-rs")
    result.assert_outcomes(passed=1, skipped=1)
    result.stdout.fnmatch_lines(["*SKIPPED*promtool not on PATH: install Debian's `prometheus` package*"])
    assert result.ret == 0


@pytest.mark.usefixtures("suite_without_promtool")
def test_under_ci_a_missing_promtool_fails_the_run(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CI", "true")
    result = pytester.runpytest_subprocess("-p", "tests.conftest")
    result.assert_outcomes(passed=1, errors=1)
    result.stdout.fnmatch_lines(["*promtool not on PATH*CI=true requires it*"])
    assert result.ret != 0
