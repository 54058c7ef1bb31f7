"""The pull-request comment (``plan --format markdown``): safe to post as is, and never too long.

CI posts this text to GitHub or GitLab unchanged, and most of it comes from tenants.yaml (anyone
who can open a pull request writes it) or from Descope. So it has its own module and two rules:

**Nothing from YAML or Descope is markdown.** Tenant ids, field names, values, file names, the
project id and the commit are shown only inside code spans (``code``), or a fenced block for a
multi-line error (``fenced``). GitHub and GitLab render no HTML, no link or image, no emphasis or
heading there, and their reference filters skip ``<code>``/``<pre>``: no ``@user`` or ``@org/team``
ping, no ``#123``, ``GH-123``, ``!12`` or commit-SHA link, no autolinked URL, no ``:emoji:``. The span
is fenced with one backtick more than the longest run inside (padded with a space when the value
starts or ends with a backtick or space, which CommonMark strips again); in a table ``|`` becomes
``\\|`` (GFM splits cells before parsing code spans, and unescapes it inside them); newlines become
``↵`` and control and bidirectional-override characters (which could reorder what a reviewer reads)
become visible ``\\uXXXX``. Long values are cut with ``…``.
Messages that mix our words with values (conflicts, guard refusals, notes, failed writes) are prose
(``text``): ``< > &`` become HTML entities, markdown punctuation is backslash-escaped (no link,
image, emphasis, table cell or heading), and an invisible U+2060 WORD JOINER follows every reference
sigil (``@ # ! $ % ~ &``), splits ``GH-1``, ``://`` and ``www.``: a backslash alone would not do, as
mentions and references are found in the rendered text, after the escapes are gone. Values can be
numbers, lists or maps: they are shown as compact JSON (``engine.logs.shown``), then escaped.

**Never longer than a comment may be.** GitHub refuses a comment over 65,536 characters. The
comment keeps to ``BUDGET``: the summary, the verdict, the project, the commit, guard refusals and
errors (each clipped) come first and always fit; conflicts, the actions per kind and the orphans
then share the rest fairly, row by row, and each section that did not fit says how many rows it
left out and that ``plan --format json`` shows them all. Large sections fold into ``<details>``.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from controller.core.config_types import ConfigPlan, SubAction, SubOp, sub_label
from controller.core.plan import Action, ActionKind, Cause, Plan
from controller.engine.config_cycle import ConfigCycle, SubResult
from controller.engine.cycle import CycleReport
from controller.engine.logs import shown

GITHUB_LIMIT = 65_536  # characters in one issue or pull-request comment
BUDGET = 60_000  # what this comment uses at most: room under the limit for a CI wrapper's own lines
HEAD_CLIP = 6_000  # the error block, at most
ID_CLIP = 100  # a tenant id, file name, project id or revision shown in a code span
ROW_CHANGES = 8  # field changes shown per tenant; the rest are counted
OPEN_ROWS = 10  # a section with more rows folds into a closed <details>
_HEAD_SLACK = 200  # a section's table header and blank lines, not in its render(0)
WJ = "\u2060"  # WORD JOINER: invisible, no line break; splits a mention or reference from its sigil
SEE_ALL = "run `descope-gitops plan --format json` to see them all"

_BIDI = frozenset("\u061c\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069\u2028\u2029")
_PUNCT = frozenset("\\`*_{}[]()#+-.!|~=")
_TICKS = re.compile(r"`+")
_SIGILS = frozenset("@#!$%~&")
_LINKISH = re.compile(r"(?i)(?<=\bgh)(?=-)|(?<=:)(?=//)|(?<=\bwww)(?=\.)")
_EXITS = {
    0: "no changes",
    1: "the plan failed or needs a fix before merging",
    2: "changes to apply",
    3: "Descope unreachable or the management key refused",
    4: "some writes failed",
}


@dataclass(frozen=True)
class CommentContext:
    """What the comment says besides the plan: which project, which commit, what the exit code means."""

    project_id: str = ""
    commit: str | None = None  # the Git commit the tenants files were read at, when known
    uncommitted: bool = False  # the work tree's tenants files differ from that commit
    exit_code: int | None = None


# -- escaping -------------------------------------------------------------------------------------


def _visible(text: str) -> str:
    """One line, with control and bidirectional-override characters shown as escapes."""
    if text.isprintable():  # the common case: no Cc, Cf (bidi), line or paragraph separator
        return text
    out = []
    for ch in text.replace("\r\n", "\n"):
        if ch in "\n\r":
            out.append("↵")
        elif ch in _BIDI or unicodedata.category(ch) == "Cc":
            out.append(f"\\u{ord(ch):04x}")
        else:
            out.append(ch)
    return "".join(out)


def _clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def code(value: str, *, table: bool = False, limit: int = ID_CLIP) -> str:
    """``value`` as an inline code span: shown literally by GitHub and GitLab, whatever it holds."""
    body = _clip(_visible(value), limit)
    if not body:
        return "*(empty)*"
    run = max((len(m) for m in _TICKS.findall(body)), default=0) if "`" in body else 0
    fence = "`" * (run + 1)
    if body[0] in "` " or body[-1] in "` ":
        body = f" {body} "
    if table:
        body = body.replace("|", "\\|")
    return f"{fence}{body}{fence}"


def value(data: object, *, table: bool = True) -> str:
    """A field value (any JSON: string, number, list, map, unset) as compact JSON in a code span."""
    return code(shown(data), table=table, limit=200)


def text(message: str, *, limit: int = 600) -> str:
    """Prose that may quote YAML or Descope: no HTML, markdown, mention, reference or link survives."""
    out = []
    for ch in _clip(_LINKISH.sub(WJ, _visible(message)), limit):
        if ch == "&":
            out.append("&amp;")
        elif ch == "<":
            out.append("&lt;")
        elif ch == ">":
            out.append("&gt;")
        elif ch in _PUNCT:
            out.append("\\" + ch)
        else:
            out.append(ch)
        if ch in _SIGILS:
            out.append(WJ)
    return "".join(out)


def fenced(message: str, *, limit: int = HEAD_CLIP) -> list[str]:
    """A multi-line message as a fenced code block whose fence no line inside can close."""
    body = _clip(message, limit).replace("\r\n", "\n")
    body = "".join(
        "\ufffd" if ch in _BIDI or (unicodedata.category(ch) == "Cc" and ch not in "\n\t") else ch for ch in body
    )
    run = max((len(m) for m in _TICKS.findall(body)), default=0)
    fence = "`" * max(3, run + 1)
    return [fence + "text", *body.split("\n"), fence]


def _n(count: int, one: str, many: str | None = None) -> str:
    return f"{count:,} {one if count == 1 else (many or one + 's')}"


# -- sections -------------------------------------------------------------------------------------


@dataclass
class _Section:
    title: str  # our words only: it goes into <summary> and headings unescaped
    noun: str  # "updates": "… and 12 more updates"
    head: list[str]  # table header lines, or [] for a list
    rows: list[str]
    keep_open: bool = False  # conflicts and deletes stay unfolded however many

    def render(self, shown_rows: int) -> list[str]:
        total = len(self.rows)
        rows = self.rows[:shown_rows]
        body = [*self.head, *rows] if rows else []
        if shown_rows < total:
            more = total - shown_rows
            body += [
                "",
                f"*… and {more:,} more {self.noun} not shown here, to keep this comment under "
                f"GitHub's {GITHUB_LIMIT:,} characters: {SEE_ALL}.*",
            ]
        title = f"{self.title} ({total:,})"
        if total <= OPEN_ROWS:
            return [f"#### {title}", "", *body, ""]
        return [
            f"<details{' open' if self.keep_open else ''}>",
            f"<summary><b>{title}</b></summary>",
            "",
            *body,
            "",
            "</details>",
            "",
        ]


def _where(action_where: str) -> str:
    return code(action_where, table=True) if action_where else ""


def _changes_cell(action: Action, results: dict[str, str]) -> str:
    if action.kind is ActionKind.DELETE:
        cell = ["deleted (children first, never cascaded)"]
    else:
        cell = [
            f"{code(c.field, table=True)}: {value(c.after)}"
            if action.kind is ActionKind.CREATE
            else f"{code(c.field, table=True)}: {value(c.before)} → {value(c.after)}"
            + (" *(drift: edited in Descope)*" if c.cause is Cause.DRIFT else "")
            for c in action.changes[:ROW_CHANGES]
        ]
        if action.adopt:
            cell.insert(0, "*adopted: made outside this controller, managed from now on*")
        if len(action.changes) > ROW_CHANGES:
            cell.append(f"*… and {_n(len(action.changes) - ROW_CHANGES, 'more field')}*")
    if action.tenant_id in results:
        cell.append(f"**{text(results[action.tenant_id], limit=300)}**")
    return "<br>".join(cell)


_TITLES = {ActionKind.CREATE: "Create", ActionKind.UPDATE: "Update", ActionKind.DELETE: "Delete"}


def _sections(report: CycleReport, plan: Plan) -> list[_Section]:
    results = report.outcomes()
    table = ["| tenant | changes | source |", "|---|---|---|"]
    sections = []
    if plan.conflicts:
        rows = [
            f"- {code(c.tenant_id)}{' (' + code(c.where) + ')' if c.where else ''}: {text(c.message)}"
            + "".join(
                f"<br>waits with it: {code(ch.field)}: {value(ch.before)} → {value(ch.after)}"
                for ch in c.changes[:ROW_CHANGES]
            )
            for c in plan.conflicts
        ]
        sections.append(_Section(":x: Conflicts: skipped, fix them before merging", "conflicts", [], rows, True))
    for kind in (ActionKind.CREATE, ActionKind.UPDATE, ActionKind.DELETE):
        actions = [a for a in plan.actions if a.kind is kind]
        if actions:
            rows = [
                f"| {code(a.tenant_id, table=True)} | {_changes_cell(a, results)} | {_where(a.where)} |"
                for a in actions
            ]
            noun = {ActionKind.CREATE: "creates", ActionKind.UPDATE: "updates", ActionKind.DELETE: "deletes"}[kind]
            sections.append(_Section(_TITLES[kind], noun, table, rows, kind is ActionKind.DELETE))
    if plan.orphaned:
        head = ["Removed from tenants.yaml but kept in Descope, because prune is off:", ""]
        rows = [f"- {code(tid)}" for tid in plan.orphaned]
        sections.append(_Section("Orphans: not deleted", "orphans", head, rows))
    if report.config is not None:
        sections += _config_sections(report.config)
    return sections


# -- roles, SSO configurations, password policy (issue 16) ------------------------------------------

SUBS = "Roles, SSO, password policy"  # our words: section titles


def _sub_cell(action: SubAction, result: SubResult | None) -> str:
    if action.op is SubOp.DELETE:
        cell = ["deleted (SSO configurations before the roles they name)"]
    else:
        cell = [
            f"{code(c.field, table=True)}: {value(c.after)}"
            if action.op is SubOp.CREATE
            else f"{code(c.field, table=True)}: {value(c.before)} → {value(c.after)}"
            + (" *(drift: edited in Descope)*" if c.cause is Cause.DRIFT else "")
            for c in action.changes[:ROW_CHANGES]
        ]
        if action.op is SubOp.ADOPT:
            cell.insert(0, "*adopted: made outside this controller, managed from now on*")
        if len(action.changes) > ROW_CHANGES:
            cell.append(f"*… and {_n(len(action.changes) - ROW_CHANGES, 'more field')}*")
    cell += [f"*note:* {text(note, limit=300)}" for note in action.notes]  # e.g. why a secret is sent again
    if result is not None:
        said = "done" if result.ok else ("skipped: " if result.skipped else "FAILED: ") + result.error
        cell.append(f"**{text(said, limit=300)}**")
    return "<br>".join(cell)


def _config_sections(config: ConfigCycle) -> list[_Section]:
    plan, results = config.plan, {r.action.ident: r for r in config.results}
    sections = []
    if plan.conflicts:
        rows = [f"- {code(sub_label(c.kind.value, c.tenant_id, c.key))}: {text(c.message)}" for c in plan.conflicts]
        sections.append(_Section(f":x: {SUBS}: conflicts, skipped", "conflicts", [], rows, True))
    table = ["| sub-resource | action | changes |", "|---|---|---|"]
    for title, noun, ops, keep_open in (
        (SUBS, "actions", (SubOp.CREATE, SubOp.UPDATE, SubOp.ADOPT), False),
        (f"{SUBS}: delete", "deletes", (SubOp.DELETE,), True),
    ):
        rows = [
            f"| {code(a.label(), table=True)} | {a.op.value}{' *(drift)*' if a.cause is Cause.DRIFT else ''} "
            f"| {_sub_cell(a, results.get(a.ident))} |"
            for a in plan.actions
            if a.op in ops
        ]
        if rows:
            sections.append(_Section(title, noun, table, rows, keep_open))
    if plan.orphaned:
        head = ["Removed from tenants.yaml but kept in Descope, because prune is off:", ""]
        rows = [f"- {code(sub_label(k, t, key))}" for k, t, key in plan.orphaned]
        sections.append(_Section(f"{SUBS}: orphans, not deleted", "orphans", head, rows))
    return sections


def config_summary(config: ConfigPlan) -> str:
    """The title's part for the sub-resources: ``roles/SSO/password policy: 6 to create, ...``."""
    counts = config.summary()
    parts = [f"{counts[op]:,} to {op}" for op in ("create", "update", "delete")]
    parts += [f"{counts['adopt']:,} to adopt"] if counts["adopt"] else []
    parts += [_n(counts["conflicts"], "conflict")] if counts["conflicts"] else []
    parts += ["REFUSED by " + _n(counts["blocked"], "guard")] if counts["blocked"] else []
    return "roles/SSO/password policy: " + ", ".join(parts)


def _fair_shares(sizes: Sequence[Sequence[int]], budget: int) -> list[int]:
    """How many rows of each section fit: water-filling, so a huge section cannot starve a small one."""
    totals = [sum(s) + len(s) for s in sizes]  # +1 per row for its newline
    allowed = [0] * len(sizes)
    pending = sorted(range(len(sizes)), key=lambda i: totals[i])
    left = budget
    while pending:
        share = left // len(pending)
        i = pending.pop(0)
        allowed[i] = min(totals[i], share)
        left -= allowed[i]
    counts = []
    for i, row_sizes in enumerate(sizes):
        used = taken = 0
        for size in row_sizes:
            if used + size + 1 > allowed[i]:
                break
            used += size + 1
            taken += 1
        counts.append(taken)
    return counts


# -- the comment ----------------------------------------------------------------------------------


def summary(plan: Plan) -> str:
    """The first line a reviewer reads: what would change, what cannot, what was refused."""
    c, u, d = (plan.count(k) for k in (ActionKind.CREATE, ActionKind.UPDATE, ActionKind.DELETE))
    parts = [f"{c:,} to create", f"{u:,} to update", f"{d:,} to delete"]
    if plan.conflicts:
        parts.append(_n(len(plan.conflicts), "conflict"))
    if plan.blocked:
        parts.append("REFUSED by " + _n(len(plan.blocked), "guard"))
    return ", ".join(parts)


def _verdict(report: CycleReport, plan: Plan | None, exit_code: int | None) -> str:
    config = report.config.plan if report.config is not None else ConfigPlan()
    if report.error is not None or plan is None:
        line = ":x: **No plan**: the plan could not be made (below)."
    elif report.applied is not None:
        applied = report.applied
        line = f"**Applied**: {len(applied.succeeded):,} done, {len(applied.failed):,} failed."
    elif plan.blocked:
        line = ":no_entry: **Refused by a guard: nothing will be written** until the deletes are lifted on purpose."
    elif config.blocked:
        line = f":no_entry: **Refused by a guard**: no {SUBS.lower()} write until the deletes are lifted on purpose."
    elif plan.conflicts or config.conflicts:
        line = ":x: **Conflicts**: what is below cannot be brought in line by a write; fix tenants.yaml or Descope."
    elif plan.actions or config.actions:
        line = ":arrow_forward: **Changes to apply**: descope-gitops makes them in Descope once this is merged."
    else:
        line = ":white_check_mark: **No changes**: Descope matches tenants.yaml."
    if exit_code is not None:
        line += f" Exit code {exit_code}" + (f": {_EXITS[exit_code]}." if exit_code in _EXITS else ".")
    return line


def _provenance(report: CycleReport, context: CommentContext, plan: Plan | None) -> str:
    parts = [f"Project {code(context.project_id)}" if context.project_id else "Project *(not set)*"]
    if context.commit:
        parts.append(
            f"commit {code(context.commit)}" + (" **with uncommitted changes**" if context.uncommitted else "")
        )
    else:
        parts.append("commit *unknown* (not a Git work tree; `plan --revision REV` names it)")
    if report.revision is not None and report.revision.label:
        parts.append(f"source {code(report.revision.label)}")
    if plan is not None:
        parts.append(f"{plan.managed:,} managed, {plan.drifted:,} drifted, {plan.unmanaged:,} unmanaged left alone")
        sub_drift = report.config.plan.summary()["drifted"] if report.config is not None else 0
        parts += [f"{_n(sub_drift, 'role, SSO configuration or password policy')} drifted"] if sub_drift else []
    return " · ".join(parts)


def render_markdown(report: CycleReport, context: CommentContext | None = None, *, budget: int = BUDGET) -> str:
    """The comment for ``report``: summary, verdict, provenance, then details, within ``budget``."""
    ctx = context or CommentContext()
    plan = report.plan
    verb = "plan" if report.applied is None else "sync"
    title = f"descope-gitops {verb}: " + (summary(plan) if plan is not None else "no plan")
    if plan is not None and report.config is not None:
        title += " · " + config_summary(report.config.plan)
    lines = [f"### {title}", "", _verdict(report, plan, ctx.exit_code), "", _provenance(report, ctx, plan), ""]
    if report.error is not None:
        lines += ["**Error:**", "", *fenced(str(report.error)), ""]
    if plan is not None:
        blocked = list(plan.blocked[:10])
        if report.config is not None:
            blocked += [f"{SUBS.lower()}: {reason}" for reason in report.config.plan.blocked[:10]]
        lines += [f"- :no_entry: **Refused by guard:** {text(reason, limit=300)}" for reason in blocked]
        lines += [""] if blocked else []
    lines += [f"- Note: {text(note, limit=300)}" for note in report.notes[:5]]
    lines += [""] if report.notes else []
    footer = [
        "---",
        "<sub>All details, machine-readable: `descope-gitops plan --format json`. Values are shown "
        "as JSON, cut at 120 characters.</sub>",
    ]
    if plan is not None:
        sections = _sections(report, plan)
        fixed = sum(len(line) + 1 for line in lines + footer)
        fixed += sum(len("\n".join(s.render(0))) + 1 + _HEAD_SLACK for s in sections)
        counts = _fair_shares([[len(r) for r in s.rows] for s in sections], budget - fixed)
        for section, count in zip(sections, counts, strict=True):
            lines += section.render(count)
    return "\n".join(lines + footer) + "\n"


# -- provenance at the CLI edge -------------------------------------------------------------------


def work_tree_commit(path: Path) -> tuple[str, bool] | None:
    """The HEAD commit of the Git work tree holding ``path``, and whether ``path`` differs from it.

    None when there is no work tree (or no commit, or no git): the comment then says the commit is
    unknown; the plan never fails for it. Costs a few small ``git`` calls.
    """
    try:
        import git  # GitPython: imported here, as the other formats never need it

        start = path if path.is_dir() else path.parent
        with git.Repo(start, search_parent_directories=True) as repo:
            sha = repo.head.commit.hexsha
            root = repo.working_tree_dir
            relative = str(path.resolve().relative_to(Path(root).resolve())) if root else None
            dirty = repo.is_dirty(untracked_files=True, path=relative) if relative else False
        return sha, dirty
    except Exception:  # any failure only means "commit unknown": the plan goes on
        return None


def pr_comment(report: CycleReport, *, project_id: str, path: Path, revision: str | None, exit_code: int | None) -> str:
    """``plan --format markdown``: the comment, with the commit from ``--revision`` or the work tree."""
    found = None if revision else work_tree_commit(path)
    commit, uncommitted = (revision, False) if revision else (found or (None, False))
    return render_markdown(report, CommentContext(project_id, commit, uncommitted, exit_code))
