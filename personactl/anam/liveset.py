"""What the fetch stage hands the planner: the live resources matched to the
manifests, and what else the plan needs to know of the live side.

Plain data, apart from `anam.fetch` (which does the HTTP): the planner and the
local benchmark use it without importing an HTTP client.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from personactl.anam.resolve import Catalog
from personactl.core.errors import Diagnostic
from personactl.core.records import Live, StateEntry


@dataclass
class LiveSet:
    matched: dict[tuple[str, str], Live | None] = field(default_factory=dict)
    notes: dict[tuple[str, str], list[str]] = field(default_factory=dict)
    # State entries with no manifest: (entry, live or None if already gone).
    orphans: list[tuple[StateEntry, Live | None]] = field(default_factory=list)
    # Every live persona/tool summary by id, for labels and pruning.
    persona_list: list[dict[str, Any]] = field(default_factory=list)
    catalog: Catalog = field(default_factory=Catalog)
    # The documents of every matched knowledge group, by the group's id.
    documents: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    diagnostics: list[Diagnostic] = field(default_factory=list)
    # Matched resources taken from the state unread (--refresh=auto): their Live is
    # rebuilt from the state, already in sentinel form.
    unread: set[tuple[str, str]] = field(default_factory=set)
