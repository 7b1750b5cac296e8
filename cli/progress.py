"""Signs of life for slow work: a spinner with the elapsed time on standard error that
appears only when the work lasts more than a couple of seconds, and only on a terminal
(never in a pipe, a file or ``--json`` output)."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

#: seconds of silence before the spinner appears
DELAY = 2.0


class Working:
    """The handle :func:`working` yields: :meth:`update` changes the text, :meth:`stop`
    hides the spinner for good (e.g. when a real progress bar takes over)."""

    def __init__(self, progress: Any = None, task: Any = None) -> None:
        self._progress = progress
        self._task = task
        self._lock = threading.Lock()
        self._state = "waiting"

    def _show(self) -> None:
        with self._lock:
            if self._state == "waiting" and self._progress is not None:
                self._progress.start()
                self._state = "shown"

    def update(self, text: str) -> None:
        if self._progress is not None:
            self._progress.update(self._task, description=text)

    def stop(self) -> None:
        with self._lock:
            if self._state == "shown":
                self._progress.stop()
            self._state = "stopped"


@contextmanager
def working(text: str, enabled: bool = True, delay: float = DELAY) -> Iterator[Working]:
    """Show ``text``, a spinner and the elapsed time on standard error once the block has
    run for ``delay`` seconds (terminals only; ``enabled=False``: never)."""
    from .render import console

    err = console(stderr=True)
    if not enabled or not err.is_terminal:
        yield Working()
        return
    from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

    progress = Progress(SpinnerColumn(), TextColumn("{task.description}"), TimeElapsedColumn(), console=err,
                        transient=True)
    handle = Working(progress, progress.add_task(text, total=None))
    timer = threading.Timer(delay, handle._show)
    timer.daemon = True
    timer.start()
    try:
        yield handle
    finally:
        timer.cancel()
        handle.stop()
