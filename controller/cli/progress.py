"""What ``sync --apply`` draws while it writes, apart from the report printed at the end."""

from __future__ import annotations

from typing import TextIO

from controller.engine.apply import ActionResult, WriteHooks


class ProgressLine(WriteHooks):
    """``sync --apply`` on a terminal: one line of done / failed actions, redrawn in place."""

    def __init__(self, stream: TextIO) -> None:
        self.stream = stream
        self.done = self.failed = 0

    def after_action(self, result: ActionResult) -> None:
        if result.ok:
            self.done += 1
        else:
            self.failed += 1
        self.stream.write(f"\r  {self.done + self.failed} actions finished: {self.done} done, {self.failed} failed ")
        self.stream.flush()

    def finish(self) -> None:
        if self.done or self.failed:
            self.stream.write("\n")
            self.stream.flush()
