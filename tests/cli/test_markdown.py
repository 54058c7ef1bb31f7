"""The PR comment: hostile tenants.yaml values cannot ping, link or inject HTML, and it always fits.

The rendered comment is parsed with markdown-it (CommonMark with GFM tables, raw HTML allowed as
GitHub allows it), which stands in for GitHub's renderer: what it finds outside code is what a
reviewer would see and what GitHub's mention and reference filters would scan.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from markdown_it import MarkdownIt
from markdown_it.token import Token

from controller.cli.markdown import GITHUB_LIMIT, WJ, CommentContext, pr_comment, render_markdown, work_tree_commit
from controller.core.outcome import CycleStatus
from controller.core.plan import Action, ActionKind, Conflict, FieldChange, Plan
from controller.engine.cycle import CycleReport
from controller.errors import ConfigError
from tests.support import GitRepo

MD = MarkdownIt("commonmark").enable("table")
SHA = "0123456789abcdef0123456789abcdef01234567"
CTX = CommentContext("P2abc", SHA, exit_code=2)

# what GitHub (and GitLab) would turn into a ping, a reference or a link in rendered text
PINGS = re.compile(r"(?:^|[^\w`])@[A-Za-z0-9]|(?:^|[^\w&])#\d|\bGH-\d|![0-9]|\$[0-9]|~[0-9]|https?://|\bwww\.", re.I)
# the only raw HTML the comment itself writes
OUR_HTML = re.compile(r"^(<details( open)?>|</details>|<summary><b>[^<>]*</b></summary>|<br>|<sub>|</sub>)$")

HOSTILE = [
    "@octocat",
    "@org/team",
    "ping@everyone",
    "#123",
    "GH-123",
    "org/repo#42",
    "!17 $5 ~9 %3 &8",
    "https://evil.example/x",
    "www.evil.example",
    "<img src=x onerror=alert(1)>",
    "<script>alert(1)</script>",
    "</details><details open><summary>pwned</summary>",
    "<!-- hide the rest",
    "&lt;b&gt;entity&amp;",
    "[click](javascript:alert(1))",
    "![track](https://evil.example/pixel.png)",
    "a|b||c",
    "back`tick``s```",
    "`",
    "line1\nline2\r\n# heading\n---\n> quote",
    "# heading at start",
    "**bold** _em_ ~~strike~~",
    "\\|escaped pipe\\",
    "\u202eevil\u202c bidi",
    "x" * 5000,
]


def _report(plan: Plan, **kwargs: object) -> CycleReport:
    return CycleReport("c1", CycleStatus.PLANNED, 0.0, plan=plan, **kwargs)  # type: ignore[arg-type]


def _walk(tokens: list[Token]) -> list[Token]:
    out: list[Token] = []
    for token in tokens:
        out.append(token)
        out.extend(_walk(token.children or []))
    return out


def _problems(comment: str) -> list[str]:
    """What a reviewer would see that the comment did not mean: raw HTML, links, pings, stray headings."""
    found = []
    for token in _walk(MD.parse(comment)):
        if token.type in ("html_inline", "html_block"):
            found += [f"raw HTML {line!r}" for line in token.content.split("\n") if line and not OUR_HTML.match(line)]
        if token.type in ("link_open", "image"):
            found.append(f"{token.type} {token.attrs}")
        if token.type == "text" and PINGS.search(token.content):
            found.append(f"pingable text {token.content!r}")
        if token.type == "heading_open" and token.tag != "h4" and token.tag != "h3":
            found.append(f"heading {token.tag}")
    return found


def _hostile_plan(bad: str) -> Plan:
    return Plan(
        actions=(
            Action(ActionKind.CREATE, bad, changes=(FieldChange("name", None, bad),), where=f"{bad}:3"),
            Action(
                ActionKind.UPDATE,
                "acme",
                changes=(
                    FieldChange("name", bad, bad),
                    FieldChange(f"customAttributes.{bad}", {"k": [bad, 1]}, 3.5),
                ),
                where="tenants.yaml:9",
            ),
            Action(ActionKind.DELETE, bad),
        ),
        conflicts=(Conflict(bad, f"parent is set at create only: Descope has parent {bad!r}", f"{bad}:1"),),
        blocked=(f"would delete 12 tenants {bad}",),
        orphaned=(bad,),
        managed=3,
    )


def _cells(comment: str) -> list[list[list[Token]]]:
    """The inline tokens of each table row (header rows too), per cell."""
    rows: list[list[list[Token]]] = []
    in_cell = False
    for token in MD.parse(comment):
        if token.type == "tr_open":
            rows.append([])
        in_cell = token.type in ("td_open", "th_open") or (in_cell and token.type == "inline")
        if token.type == "inline" and rows and in_cell:
            rows[-1].append(token.children or [])
    return rows


@pytest.mark.parametrize("bad", HOSTILE, ids=range(len(HOSTILE)))
def test_a_hostile_value_anywhere_cannot_ping_link_inject_html_or_break_a_table(bad: str) -> None:
    report = _report(_hostile_plan(bad), notes=[f"note {bad}"])
    comment = render_markdown(report, CommentContext(bad, bad, exit_code=1))
    assert _problems(comment) == []
    assert comment.startswith("### descope-gitops plan: 1 to create, 1 to update, 1 to delete, 1 conflict, REFUSED")
    # every table row kept its three cells: the tenant cell holds exactly the tenant id, in code
    for row in _cells(comment)[1:]:
        if len(row) == 3 and row[0] and row[0][0].type == "code_inline":
            assert [t.type for t in row[0]] == ["code_inline"]
    # what the reviewer reads in the code span is the value (newlines shown as ↵, long ones cut)
    shown_ids = [
        t.content.strip() for row in _cells(comment) for t in (row[0] if row else []) if t.type == "code_inline"
    ]
    expected = bad.replace("\r\n", "↵").replace("\n", "↵").replace("\u202e", "\\u202e").replace("\u202c", "\\u202c")
    expected = expected if len(expected) <= 100 else expected[:99] + "…"
    assert shown_ids.count(expected.strip()) == 2  # the create and the delete
    assert len(comment) < GITHUB_LIMIT


@pytest.mark.parametrize("bad", HOSTILE[:9], ids=range(9))
def test_prose_reads_as_written_but_every_sigil_is_split_from_its_reference(bad: str) -> None:
    plan = Plan(conflicts=(Conflict("t", f"Descope has parent {bad}"),))
    comment = render_markdown(_report(plan), CTX)
    (item,) = [t for t in _walk(MD.parse(comment)) if t.type == "inline" and "Descope has parent" in t.content]
    seen = "".join(c.content for c in item.children or [] if c.type != "code_inline")
    assert seen.split(": ", 1)[1].replace(WJ, "") == f"Descope has parent {bad}"
    assert not PINGS.search(seen)


def test_what_a_reviewer_sees_for_a_small_plan() -> None:
    plan = Plan(
        actions=(
            Action(ActionKind.CREATE, "acme", changes=(FieldChange("name", None, "ACME"),), where="tenants.yaml:2"),
            Action(
                ActionKind.UPDATE,
                "globex",
                changes=(FieldChange("customAttributes.seats", 10, 50),),
                where="tenants.yaml:5",
            ),
        ),
        managed=4,
        drifted=1,
        orphaned=("initech",),
    )
    assert render_markdown(_report(plan), CTX) == (
        "### descope-gitops plan: 1 to create, 1 to update, 0 to delete\n"
        "\n"
        ":arrow_forward: **Changes to apply**: descope-gitops makes them in Descope once this is merged. "
        "Exit code 2: changes to apply.\n"
        "\n"
        f"Project `P2abc` · commit `{SHA}` · 4 managed, 1 drifted, 0 unmanaged left alone\n"
        "\n"
        "#### Create (1)\n"
        "\n"
        "| tenant | changes | source |\n"
        "|---|---|---|\n"
        '| `acme` | `name`: `"ACME"` | `tenants.yaml:2` |\n'
        "\n"
        "#### Update (1)\n"
        "\n"
        "| tenant | changes | source |\n"
        "|---|---|---|\n"
        "| `globex` | `customAttributes.seats`: `10` → `50` | `tenants.yaml:5` |\n"
        "\n"
        "#### Orphans: not deleted (1)\n"
        "\n"
        "Removed from tenants.yaml but kept in Descope, because prune is off:\n"
        "\n"
        "- `initech`\n"
        "\n"
        "---\n"
        "<sub>All details, machine-readable: `descope-gitops plan --format json`. "
        "Values are shown as JSON, cut at 120 characters.</sub>\n"
    )


def test_no_changes_guard_refusal_and_error_verdicts() -> None:
    assert ":white_check_mark: **No changes**" in render_markdown(_report(Plan(managed=3)), CTX)
    blocked = render_markdown(_report(Plan(blocked=("would delete 12 tenants, more than max_deletes=10",))), CTX)
    assert blocked.startswith("### descope-gitops plan: 0 to create, 0 to update, 0 to delete, REFUSED by 1 guard")
    assert "**Refused by a guard: nothing will be written**" in blocked
    failed = CycleReport("c", CycleStatus.INVALID, 0.0, error=ConfigError(["tenants.yaml:3: ```\n<b>@x</b>"]))
    comment = render_markdown(failed, CommentContext("P", None, exit_code=1))
    assert comment.startswith("### descope-gitops plan: no plan\n\n:x: **No plan**")
    assert "commit *unknown*" in comment and _problems(comment) == []
    assert "<b>@x</b>" in next(t.content for t in MD.parse(comment) if t.type == "fence")


def _big_plan(n: int, *, value: str = "Tenant") -> Plan:
    creates = [
        Action(
            ActionKind.CREATE, f"new-{i:05}", changes=(FieldChange("name", None, f"{value} {i}"),), where=f"t.yaml:{i}"
        )
        for i in range(n // 10)
    ]
    updates = [
        Action(
            ActionKind.UPDATE,
            f"tenant-{i:05}",
            changes=(
                FieldChange("name", f"{value} {i}", f"{value} {i} renamed"),
                FieldChange("customAttributes.seats", i, i + 1),
            ),
            where=f"tenants/part-{i % 7}.yaml:{i * 9}",
        )
        for i in range(n - n // 10 - 5)
    ]
    deletes = [Action(ActionKind.DELETE, f"old-{i}") for i in range(5)]
    return Plan(actions=(*creates, *updates, *deletes), managed=n, drifted=len(updates), orphaned=("keep-me",))


@pytest.mark.parametrize("n", [2_000, 20_000])
def test_a_large_plan_fits_one_comment_summary_first_commit_named_rest_counted(n: int) -> None:
    plan = _big_plan(n)
    comment = render_markdown(_report(plan), CTX)
    assert len(comment) < GITHUB_LIMIT
    lines = comment.split("\n")
    assert lines[0] == f"### descope-gitops plan: {n // 10:,} to create, {n - n // 10 - 5:,} to update, 5 to delete"
    assert SHA in lines[4] and "`P2abc`" in lines[4]
    assert _problems(comment) == []
    # each section shows what fits and counts the rest; small sections are not starved by big ones
    updates_shown = comment.count("| `tenant-")
    more = re.search(r"\*… and ([\d,]+) more updates not shown here.*plan --format json", comment)
    assert more is not None and updates_shown + int(more.group(1).replace(",", "")) == n - n // 10 - 5
    assert updates_shown > 100
    assert comment.count("| `old-") == 5 and "- `keep-me`" in comment
    assert "<details>\n<summary><b>Update (" in comment  # large sections fold


def test_the_worst_rows_still_fit() -> None:
    bad = "<@x|`#1>" * 40
    actions = tuple(
        Action(
            ActionKind.UPDATE,
            f"{bad}{i}",
            changes=tuple(FieldChange(f"settings.{bad}{k}", bad * 3, [bad] * 9) for k in range(12)),
            where=bad,
        )
        for i in range(2_000)
    )
    plan = Plan(actions=actions, orphaned=tuple(f"{bad}{i}" for i in range(5_000)), blocked=(bad,) * 20)
    report = _report(plan, notes=[bad * 10] * 20, error=ConfigError([bad * 1000]))
    comment = render_markdown(report, CommentContext(bad * 10, bad * 10, exit_code=1))
    assert len(comment) < GITHUB_LIMIT
    assert _problems(comment) == []
    assert "… and 4 more fields" in comment


def test_work_tree_commit_and_revision(tmp_path: Path) -> None:
    assert work_tree_commit(tmp_path / "nowhere.yaml") is None
    repo = GitRepo(tmp_path / "repo")
    assert work_tree_commit(repo.path / "tenants.yaml") is None  # no commit yet
    sha = repo.commit({"tenants.yaml": "tenants: []\n", "other.txt": "x"})
    assert work_tree_commit(repo.path / "tenants.yaml") == (sha, False)
    (repo.path / "other.txt").write_text("changed")  # not the tenants file: still clean
    assert work_tree_commit(repo.path / "tenants.yaml") == (sha, False)
    (repo.path / "tenants.yaml").write_text("tenants: [x]\n")
    assert work_tree_commit(repo.path / "tenants.yaml") == (sha, True)
    report = _report(Plan())
    found = pr_comment(report, project_id="P1", path=repo.path / "tenants.yaml", revision=None, exit_code=0)
    assert f"commit `{sha}` **with uncommitted changes**" in found
    given = pr_comment(report, project_id="P1", path=repo.path / "tenants.yaml", revision="@pr-head", exit_code=0)
    assert "commit `@pr-head` ·" in given and sha not in given


def test_the_comment_says_drift_adoption_and_what_waits_with_a_conflict() -> None:
    from controller.cli.markdown import render_markdown
    from controller.core.model import DesiredState, DesiredTenant
    from controller.core.plan import make_plan

    def state(*tenants: tuple[str, dict[str, object]]) -> DesiredState:
        return DesiredState(tuple(DesiredTenant(i, f, "tenants.yaml", n) for n, (i, f) in enumerate(tenants, 1)))

    desired = state(("acme", {"name": "ACME"}), ("kid", {"name": "Kid", "parent": "p2", "disabled": True}))
    live = [{"id": "acme", "name": "Console"}, {"id": "kid", "name": "Kid", "parent": "p1"}, {"id": "p2", "name": "P2"}]
    drift = render_markdown(_report(make_plan(desired, live, previous=desired, inventory={"acme", "kid"})))
    assert "*(drift: edited in Descope)*" in drift
    assert "waits with it: `disabled`" in drift
    adopted = render_markdown(_report(make_plan(desired, live, inventory={"kid"}, inventory_known=True)))
    assert "*adopted: made outside this controller, managed from now on*" in adopted
