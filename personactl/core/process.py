"""Settings for the whole personactl process (the CLI's, and the benchmarks' that stand
in for it)."""

from __future__ import annotations

import gc
import os
import sys

TYPE_CHECKING = False  # typing itself is not imported yet when `validate` forks
if TYPE_CHECKING:
    from typing import NoReturn

# A run builds one large graph that lives to the end (every document, its source
# positions, the rendered specs, the plan) and frees little before it exits. CPython's
# default, a collection every 700 new objects, walks that growing graph again and again:
# 10-20% of a 1,000-persona plan. Collecting every 50,000 keeps the few cycles a run
# makes bounded all the same.
GEN0_THRESHOLD = 50_000


def tune_gc() -> None:
    """Collect garbage rarely: personactl is a short run over long-lived data."""
    _, gen1, gen2 = gc.get_threshold()
    gc.set_threshold(GEN0_THRESHOLD, gen1, gen2)


def end(code: int) -> NoReturn:
    """End the process now that the command is done: its files are written and closed,
    its threads joined and its locks released (each command does that itself, on every
    path). The interpreter would otherwise free every object of the run one by one
    before exiting: 0.2 s after a 10,000-persona plan. Output is flushed first.

    No exit handler runs: a command must finish its own work (a thread, a file, an
    atexit hook) before it returns."""
    import contextlib  # (not at the top: this module is imported before `validate` forks)

    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(OSError, ValueError):  # a closed pipe (`| head`)
            stream.flush()
    os._exit(code)
