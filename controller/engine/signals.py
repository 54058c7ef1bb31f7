"""Signal handlers installed for a block and the previous ones put back after it (uvicorn's ``capture_signals``).

A handler only records what arrived (a plain attribute, no locks: a handler runs between two
bytecodes of the main thread, which may hold any lock at that moment); the code that owns the
loop reads the record and acts.
"""

from __future__ import annotations

import signal
import threading
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from types import FrameType

Handler = Callable[[int, FrameType | None], None]


@contextmanager
def capture_signals(handlers: Mapping[signal.Signals, Handler]) -> Iterator[None]:
    """Install ``handlers`` for the block; restore the previous handlers after it, however it ends.

    Outside the main thread Python cannot install handlers: the block then runs without them.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = {sig: signal.signal(sig, handler) for sig, handler in handlers.items()}
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def raise_interrupt(signum: int, frame: FrameType | None) -> None:
    """For one-shot commands: SIGTERM ends the command like Ctrl-C (journaled work resumes next run)."""
    raise KeyboardInterrupt
