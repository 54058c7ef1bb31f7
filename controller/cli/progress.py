"""What ``sync --apply`` shows while it writes: the plan first, each action as it finishes, a summary.

The shape is terraform's, because that is what people applying infrastructure from Git already read:
the plan before anything is written, then ``acme: Creation complete after 0s`` as each action finishes
(``Modifications``, ``Destruction``; ``acme: Error: ...`` for a failure), then ``Apply complete!
Resources: 2 added, 1 changed, 0 destroyed.``

On a terminal the lines scroll above a progress bar (rich): done/total, rate, ETA, and the finished
creates, updates and deletes as ``+ ~ -`` in green, yellow and red; rich honours ``NO_COLOR``. Off a
terminal (CI logs, pipes, tests) there is no bar and no colour: one plain line per finished action,
written and flushed as it finishes, so a log shows progress live and in finish order. rich is
imported only on a terminal, so ``validate``, ``--help`` and scripted runs never load it.
"""

from __future__ import annotations

import threading
import time
from typing import TYPE_CHECKING, Any, TextIO

from controller.cli.render import SUB_RESOURCES, render_text
from controller.core.config_types import ConfigPlan, SubOp
from controller.core.outcome import CycleStatus
from controller.core.plan import Action, ActionKind, Plan
from controller.engine.apply import ActionResult, WriteHooks
from controller.engine.config_cycle import ConfigCycle, SubResult
from controller.engine.cycle import CycleReport

if TYPE_CHECKING:
    from controller.core.model import LiveTenant

_DONE = {
    ActionKind.CREATE: "Creation complete",
    ActionKind.UPDATE: "Modifications complete",
    ActionKind.DELETE: "Destruction complete",
}
_SUB_DONE = {
    SubOp.CREATE: ("Creation complete", ActionKind.CREATE),
    SubOp.UPDATE: ("Modifications complete", ActionKind.UPDATE),
    SubOp.DELETE: ("Destruction complete", ActionKind.DELETE),
    SubOp.ADOPT: ("Adoption complete", ActionKind.UPDATE),
}
_STYLE = {"+": "green", "~": "yellow", "-": "red", "!": "magenta"}


def finished_line(result: ActionResult, elapsed: float | None = None) -> str:
    """``acme: Creation complete after 0s``, ``globex: Modifications complete after 1s (name)``, ``a: Error: ...``."""
    action = result.action
    if result.skipped:
        reason = result.error.removeprefix("not attempted: ")
        return f"{action.tenant_id}: Not attempted: {reason}"
    if not result.ok:
        return f"{action.tenant_id}: Error: {result.error}"
    line = f"{action.tenant_id}: {'Adoption complete' if action.adopt else _DONE[action.kind]}"
    if elapsed is not None:
        line += f" after {_duration(elapsed)}"
    if action.kind is ActionKind.UPDATE and action.changes:
        line += f" ({', '.join(c.field for c in action.changes)})"
    return line


def sub_finished_line(result: SubResult) -> str:
    """``role acme/Tenant Admin: Creation complete``, ``sso acme/okta: Modifications complete (saml.x)``."""
    action = result.action
    if result.skipped:
        return f"{action.label()}: Not attempted: {result.error.removeprefix('not attempted: ')}"
    if not result.ok:
        return f"{action.label()}: Error: {result.error}"
    line = f"{action.label()}: {_SUB_DONE[action.op][0]}"
    if action.op is SubOp.UPDATE and action.changes:
        line += f" ({', '.join(c.field for c in action.changes)})"
    return line


def _duration(seconds: float) -> str:
    """Terraform's way: ``0s``, ``12s``, ``1m5s``."""
    whole = int(seconds)
    return f"{whole // 60}m{whole % 60}s" if whole >= 60 else f"{whole}s"


def apply_summary(report: CycleReport) -> list[str]:
    """The closing lines of an apply: ``Apply complete! Resources: ...`` and our ``Result:`` line."""
    applied, plan = report.applied, report.plan
    if applied is None or plan is None:
        return []
    ok = [r.action.kind for r in applied.succeeded]
    counts = (
        f"Resources: {ok.count(ActionKind.CREATE)} added, {ok.count(ActionKind.UPDATE)} changed, "
        f"{ok.count(ActionKind.DELETE)} destroyed"
    )
    failed, conflicts = len(applied.failed), len(plan.conflicts)
    config = report.config
    if config is not None:  # roles, SSO, password policy: counted apart, as in the plan
        ops = [r.action.op for r in config.results if r.ok]
        added, destroyed = ops.count(SubOp.CREATE), ops.count(SubOp.DELETE)
        counts += f"; {SUB_RESOURCES}: {added} added, {len(ops) - added - destroyed} changed, {destroyed} destroyed"
        failed, conflicts = failed + len(config.failed), conflicts + len(config.plan.conflicts)
    if not failed and not conflicts and report.status is CycleStatus.SUCCEEDED:
        head = f"Apply complete! {counts}."
    else:
        problems = [f"{failed} FAILED"] if failed else []
        problems += [f"{conflicts} conflict{'s' if conflicts != 1 else ''} not applied"] if conflicts else []
        problems += [f"{SUB_RESOURCES} refused by guard"] if config is not None and config.plan.blocked else []
        head = f"Apply incomplete! {counts}; {', '.join(problems) or 'not all applied'}."
    done = len(applied.succeeded) + (len([r for r in config.results if r.ok]) if config is not None else 0)
    result = f"Result: {report.status} ({done} done, {failed} failed) in {report.duration:.1f}s"
    return [head, result]


class ApplyOutput(WriteHooks):
    """``sync --apply``'s live output on ``stream``: the plan (``show_plan``), the actions, the summary."""

    def __init__(self, stream: TextIO, *, terminal: bool | None = None) -> None:
        self.stream = stream
        self.terminal = stream.isatty() if terminal is None else terminal
        self.plan_shown = False
        self._lock = threading.Lock()
        self._started: dict[str, float] = {}
        self._done = {ActionKind.CREATE: 0, ActionKind.UPDATE: 0, ActionKind.DELETE: 0}
        self._failed = 0
        self._total = 0
        self._console: Any = None  # rich.console.Console, on a terminal only
        self._progress: Any = None  # rich.progress.Progress while actions run
        self._task: Any = None
        if self.terminal:
            from rich.console import Console

            self._console = Console(file=stream, highlight=False)  # NO_COLOR is honoured by rich itself

    # -- the plan ---------------------------------------------------------------------------------

    def show_plan(self, plan: Plan, config: ConfigPlan | None = None) -> None:
        """Print the plan, tenants and sub-resources, before anything is written (``Reconciler.on_plan``)."""
        shown = CycleReport(cycle_id="", status=CycleStatus.PLANNED, started=0.0, plan=plan)
        shown.config = ConfigCycle(config) if config is not None else None
        for line in render_text(shown).splitlines():
            self._print(line, _STYLE.get(line.lstrip()[:1]) if line.startswith("  ") else None)
        subs = 0 if config is None or config.blocked else len(config.actions)
        self._total = 0 if plan.blocked else len(plan.actions) + subs
        if self._total:
            self._print("")  # terraform's gap between the plan and the apply
        self.plan_shown = True

    # -- WriteHooks (from worker threads) ---------------------------------------------------------

    def before_write(self, action: Action, live: LiveTenant | None) -> None:
        with self._lock:
            self._started[action.tenant_id] = time.monotonic()

    def after_action(self, result: ActionResult) -> None:
        with self._lock:
            started = self._started.pop(result.action.tenant_id, None)
        elapsed = None if started is None else time.monotonic() - started
        if result.ok:
            self._done[result.action.kind] += 1
        else:
            self._failed += 1
        self._print(finished_line(result, elapsed), None if result.ok else "bold red")
        self._advance()

    def after_sub_action(self, result: SubResult) -> None:
        """A role, SSO configuration or password policy write finished (``ConfigStep.on_result``)."""
        if result.ok:
            with self._lock:
                self._done[_SUB_DONE[result.action.op][1]] += 1
        else:
            self._failed += 1
        self._print(sub_finished_line(result), None if result.ok else "bold red")
        self._advance()

    # -- the end ----------------------------------------------------------------------------------

    def note(self, text: str) -> None:
        self._print(f"Note: {text}")

    def finish(self) -> None:
        """Take the bar down (call it whatever happened)."""
        if self._progress is not None:
            self._progress.stop()
            self._progress = None

    def summary(self, report: CycleReport) -> None:
        """The closing lines once the cycle is over: ``Apply complete! ...``, the result, the notes."""
        lines = apply_summary(report)  # the sub-resources were in the plan and in a line each as they finished
        if lines:
            self._print("")
            self._print(lines[0], "bold green" if lines[0].startswith("Apply complete") else "bold red")
            for line in lines[1:]:
                self._print(line)
        for note in report.notes:
            self.note(note)

    # -- drawing ----------------------------------------------------------------------------------

    def _print(self, line: str, style: str | None = None) -> None:
        if self._console is None:
            self.stream.write(line + "\n")
            self.stream.flush()
            return
        from rich.text import Text

        target = self._progress.console if self._progress is not None else self._console
        target.print(Text(line, style=style or ""))

    def _advance(self) -> None:
        if self._console is None or not self._total:
            return
        if self._progress is None:
            self._progress = _progress_bar(self._console)
            self._task = self._progress.add_task("", total=self._total)
            self._progress.start()
        c, u, d = (self._done[k] for k in (ActionKind.CREATE, ActionKind.UPDATE, ActionKind.DELETE))
        description = f"[green]+{c}[/] [yellow]~{u}[/] [red]-{d}[/]" + (
            f" [bold red]✗{self._failed}[/]" if self._failed else ""
        )
        self._progress.update(self._task, advance=1, description=description)


def _progress_bar(console: Any) -> Any:
    """A rich Progress: ``+2 ~1 -0 ━━━━━━━━━━ 3/10 4.2/s ETA 0:00:02``."""
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        ProgressColumn,
        Task,
        TextColumn,
        TimeRemainingColumn,
    )
    from rich.text import Text

    class RateColumn(ProgressColumn):
        def render(self, task: Task) -> Text:
            speed = task.finished_speed or task.speed
            return Text(f"{speed:.1f}/s" if speed else "-/s", style="progress.data.speed")

    return Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        RateColumn(),
        TextColumn("ETA"),
        TimeRemainingColumn(),
        console=console,
        transient=True,
    )
