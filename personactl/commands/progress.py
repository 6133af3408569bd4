"""Progress people can watch, on stderr (stdout carries only the payload).

On a terminal: a live bar drawn by `rich` (imported only then, so a run in CI
or a pipe never pays for it): the task, a bar, done/total, the current
resource, failures so far and the time elapsed. Without a terminal: plain
lines a log keeps, one per step (apply, document processing) or one per tenth
of a long task (a plan's persona reads).

Anything below the commands reports through `personactl.core.progress.Progress`
(start / step / finish); `watch(...)` gives the right one for this run:

    progress = watch(ctx, lines="each")       # apply, documents: a line per step
    progress = watch(ctx, lines="tenths", at_least=LONG)   # a long plan's reads
"""

from __future__ import annotations

import sys
import threading
import time
from collections.abc import Callable
from typing import Any, Literal, TextIO

import click

from personactl.core.progress import NoProgress, Progress

# A plan's reads show progress from this many on (fewer are over before one looks).
LONG = 50

Lines = Literal["each", "tenths"]


class LineProgress:
    """Plain lines, for a log: `[3/10] persona 'support-cara': ok`, or for tenths
    `reading personas: 100/1000 (1.2 s, 0 failed)`."""

    def __init__(
        self,
        write: Callable[[str], None],
        *,
        lines: Lines = "each",
        at_least: int = 0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.write = write
        self.lines = lines
        self.at_least = at_least
        self.clock = clock
        self._lock = threading.Lock()
        self._reset("", 0)

    def _reset(self, what: str, total: int) -> None:
        self.what, self.total, self.done, self.failed = what, total, 0, 0
        self.started = self.clock()
        self.shown = total > 0 and total >= self.at_least

    def start(self, what: str, total: int) -> None:
        with self._lock:
            self._reset(what, total)

    def step(self, item: str, *, ok: bool = True, note: str = "") -> None:
        with self._lock:
            self.done += 1
            self.failed += 0 if ok else 1
            if not self.shown:
                return
            if self.lines == "each":
                said = note or ("ok" if ok else "failed")
                self.write(f"[{self.done}/{self.total}] {item}: {said}")
            elif self.done * 10 // self.total != (self.done - 1) * 10 // self.total:
                spent = self.clock() - self.started
                self.write(
                    f"{self.what}: {self.done}/{self.total} ({spent:.1f} s, {self.failed} failed)"
                )

    def finish(self) -> None:
        with self._lock:
            self.shown = False


class BarProgress:
    """A live bar on a terminal (rich). `transient`: cleared when the task is over (a
    plan's reads, before the plan is printed); else it stays as the task's record."""

    def __init__(self, stream: TextIO, *, color: bool, transient: bool, at_least: int = 0) -> None:
        from rich.console import Console

        self.console = Console(file=stream, no_color=not color, highlight=False)
        self.transient = transient
        self.at_least = at_least
        self._lock = threading.Lock()
        self._bar: Any = None
        self._task: Any = None
        self.failed = 0

    def start(self, what: str, total: int) -> None:
        from rich.progress import (
            BarColumn,
            MofNCompleteColumn,
            TextColumn,
            TimeElapsedColumn,
        )
        from rich.progress import Progress as Bar

        with self._lock:
            self._stop()
            if total <= 0 or total < self.at_least:
                return
            self.failed = 0
            self._bar = Bar(
                TextColumn("{task.description}"),
                BarColumn(),
                MofNCompleteColumn(),
                TextColumn("failed: {task.fields[failed]}"),
                TimeElapsedColumn(),
                TextColumn("{task.fields[current]}"),
                console=self.console,
                transient=self.transient,
            )
            self._bar.start()
            self._task = self._bar.add_task(what, total=total, current="", failed=0)

    def step(self, item: str, *, ok: bool = True, note: str = "") -> None:
        with self._lock:
            if self._bar is None:
                return
            if not ok:
                self.failed += 1
                self._bar.console.print(f"FAILED {item}: {note}", markup=False, highlight=False)
            self._bar.update(self._task, advance=1, current=item, failed=self.failed)

    def finish(self) -> None:
        with self._lock:
            self._stop()

    def say(self, text: str) -> None:
        """A line of its own, above the bar while it runs (a knowledge group's documents)."""
        with self._lock:
            console = self._bar.console if self._bar is not None else self.console
            console.print(text, markup=False, highlight=False)

    def _stop(self) -> None:
        if self._bar is not None:
            self._bar.stop()
            self._bar = None


def on_terminal(stream: Any) -> bool:
    return hasattr(stream, "isatty") and stream.isatty()


def watch(
    ctx: click.Context,
    *,
    lines: Lines = "each",
    at_least: int = 0,
    transient: bool = False,
    quiet: bool = False,
) -> Progress:
    """The progress display for this run, on stderr: a bar on a terminal, plain lines
    otherwise (`lines`), nothing for a task of fewer than `at_least` steps, or at all
    when `quiet`. With --debug, plain lines: the request log shares stderr, and a bar
    redrawn between its lines would garble them."""
    if quiet:
        return NoProgress()
    stream = sys.stderr
    settings = ctx.obj or {}
    if on_terminal(stream) and not settings.get("debug"):
        color = bool(settings.get("color", True))
        return BarProgress(stream, color=color, transient=transient, at_least=at_least)
    return LineProgress(lambda line: click.echo(line, err=True), lines=lines, at_least=at_least)
