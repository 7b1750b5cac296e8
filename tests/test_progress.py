"""The spinner for slow work (cli/progress.py): shown on a terminal once the work has
run past its delay, never for quick work, never when disabled or off a terminal."""

from __future__ import annotations

import io
import time

from rich.console import Console

import commlb.cli.render as render
from commlb.cli.progress import working


def _terminal(monkeypatch, is_terminal: bool = True) -> io.StringIO:
    buf = io.StringIO()
    monkeypatch.setattr(render, "console", lambda stderr=False: Console(file=buf, force_terminal=is_terminal,
                                                                        width=80, color_system=None))
    return buf


def test_slow_work_shows_the_spinner(monkeypatch):
    buf = _terminal(monkeypatch)
    with working("searching the protocol trees", delay=0.1):
        time.sleep(0.8)
    assert "searching the protocol trees" in buf.getvalue()


def test_quick_work_disabled_or_piped_shows_nothing(monkeypatch):
    buf = _terminal(monkeypatch)
    with working("quick", delay=5):
        pass
    with working("disabled", enabled=False, delay=0.05):
        time.sleep(0.3)
    assert buf.getvalue() == ""
    piped = _terminal(monkeypatch, is_terminal=False)
    with working("piped", delay=0.05):
        time.sleep(0.3)
    assert piped.getvalue() == ""


def test_stop_hides_it_for_good(monkeypatch):
    buf = _terminal(monkeypatch)
    with working("preparing", delay=0.3) as handle:
        handle.stop()  # a real progress bar took over before the delay
        time.sleep(0.6)
    assert "preparing" not in buf.getvalue()
