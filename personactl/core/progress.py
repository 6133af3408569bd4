"""Progress of a long run, as the layers below the commands report it.

A use case (or the fetch stage, or document processing) is handed a
`Progress` and calls it; the command line decides how it shows (a live bar on
a terminal, plain lines in a log: `personactl.commands.progress`). Calls may
come from worker threads, so an implementation must be thread-safe.

    progress.start("reading personas", total=120)
    progress.step("support-cara")              # one done
    progress.step("sales-max", ok=False)       # one failed
    progress.finish()
"""

from __future__ import annotations

from typing import Protocol


class Progress(Protocol):
    def start(self, what: str, total: int) -> None:
        """A task of `total` steps begins (`what`: a few words, e.g. "reading personas")."""

    def step(self, item: str, *, ok: bool = True, note: str = "") -> None:
        """One step of the current task is done: `item` names what it was about (a
        resource or a document), `ok` whether it succeeded, `note` what happened."""

    def finish(self) -> None:
        """The current task is over (also when it stopped early)."""


class NoProgress:
    """Shows nothing: the default when nobody is watching."""

    def start(self, what: str, total: int) -> None:
        pass

    def step(self, item: str, *, ok: bool = True, note: str = "") -> None:
        pass

    def finish(self) -> None:
        pass
