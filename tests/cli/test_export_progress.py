"""The export's progress on stderr: nothing for a quick export, plain lines off a terminal."""

from __future__ import annotations

import io

from controller.cli.commands.export import SettingsProgress


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_a_quick_export_shows_nothing() -> None:
    stream, clock = io.StringIO(), Clock()
    progress = SettingsProgress(stream, tty=False, clock=clock)
    for done in range(11):
        progress(done, 10)
    progress.finish()
    assert stream.getvalue() == ""


def test_off_a_terminal_plain_lines_about_every_tenth() -> None:
    stream, clock = io.StringIO(), Clock()
    progress = SettingsProgress(stream, tty=False, clock=clock)
    progress(0, 300)
    clock.now = 2.0
    for done in range(1, 301):
        progress(done, 300)
    progress.finish()
    lines = stream.getvalue().splitlines()
    assert lines[0] == "read settings 1/300" and lines[-1] == "read settings 300/300"
    assert 10 <= len(lines) <= 12
    assert "\r" not in stream.getvalue()


def test_on_a_terminal_a_bar_that_ends_with_a_newline() -> None:
    stream, clock = io.StringIO(), Clock()
    progress = SettingsProgress(stream, tty=True, clock=clock)
    progress(0, 3)
    clock.now = 5.0
    for done in range(1, 4):
        progress(done, 3)
    progress.finish()
    out = stream.getvalue()
    assert "read settings" in out and out.endswith("\n")
