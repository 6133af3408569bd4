"""Settings for the whole personactl process (the CLI's, and the benchmarks' that stand
in for it)."""

from __future__ import annotations

import gc

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
