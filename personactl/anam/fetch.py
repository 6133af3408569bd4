"""Fetch stage: the live personas, tools and custom LLMs, matched to the manifests.

Identity (DESIGN.md §3): a resource is matched by its pinned `metadata.id`,
else by the id in the environment's state file, else by exact name among the
live resources. Two live resources with the name and no pin is an error that
lists both ids. Requests: the persona and tool lists (100 a page), the
catalog lists the manifests need, and one GET per matched persona (tool list
items are already full), run concurrently.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol

from personactl.anam.api import AnamApi
from personactl.anam.client import AnamClient, Outcome
from personactl.anam.errors import NotFound
from personactl.anam.kinds import KINDS, NO_LLM, is_custom_llm
from personactl.anam.normalize import normalize
from personactl.anam.resolve import Catalog
from personactl.core.errors import Diagnostic
from personactl.core.records import Live, StateEntry
from personactl.manifest.render import Rendered


class StateView(Protocol):
    """What fetch reads of the state: who each manifest was, and every entry."""

    @property
    def resources(self) -> list[StateEntry]: ...

    def find(self, kind: str, name: str) -> StateEntry | None: ...


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


def catalog_needs(rendered: list[Rendered]) -> set[str]:
    """Which catalog lists the manifests need (skip what nobody references)."""
    need: set[str] = set()
    for r in rendered:
        spec = r.data.get("spec") or {}
        if r.kind == "Persona":
            if "avatar" in spec:
                need.add("avatars")
            if "voice" in spec:
                need.add("voices")
            if isinstance(spec.get("llm"), dict | str) and spec["llm"] != NO_LLM:
                need.add("llms")
        elif r.kind == "LLM":
            need.add("llms")
        elif r.kind == "KnowledgeGroup" or (
            isinstance(spec.get("config"), dict) and "documentFolders" in spec["config"]
        ):
            need.add("knowledge")
    return need


def fetch(
    client: AnamClient, rendered: list[Rendered], state: StateView | None, managed_kinds: set[str]
) -> LiveSet:
    live = LiveSet()
    needs = catalog_needs(rendered)
    if any(e.kind == "LLM" and "LLM" in managed_kinds for e in (state.resources if state else [])):
        needs.add("llms")  # an LLM in the state may be a prune candidate
    if state and any(e.kind == "KnowledgeGroup" for e in state.resources):
        needs.add("knowledge")  # groups to match or prune
    lists = ["personas", "tools", *sorted(needs)]
    reads = AnamApi(client)
    results = client.map_concurrent(reads.listing, lists)
    fetched: dict[str, list[dict[str, Any]]] = {}
    for name, listed in zip(lists, results, strict=True):
        fetched[name] = listed.unwrap()
    live.persona_list = fetched["personas"]
    live.catalog = Catalog(
        avatars=fetched.get("avatars", []),
        voices=fetched.get("voices", []),
        llms=fetched.get("llms", []),
        knowledge=fetched.get("knowledge", []),
        tools=fetched["tools"],
    )
    summaries = {
        "Persona": fetched["personas"],
        "Tool": fetched["tools"],
        # LLM manifests are custom LLMs: a stock one is never matched, updated or deleted
        "LLM": [i for i in fetched.get("llms", []) if is_custom_llm(i)],
        "KnowledgeGroup": fetched.get("knowledge", []),
    }
    by_id = {kind: {str(i.get("id")): i for i in items} for kind, items in summaries.items()}
    named: dict[str, dict[Any, list[dict[str, Any]]]] = {}  # kind -> name -> items, by _named

    to_get: list[tuple[tuple[str, str], str]] = []  # personas needing a full GET
    for r in rendered:
        key = (r.kind, r.name)
        entry = state.find(r.kind, r.name) if state else None
        pinned = r.resource.pinned_id
        notes = live.notes.setdefault(key, [])
        ident: str | None = None
        if pinned:
            if pinned not in by_id[r.kind]:
                live.diagnostics.append(
                    Diagnostic.at(
                        r.resource.loc(("metadata", "id")),
                        f"{r.kind} id {pinned!r} (metadata.id) does not exist in this environment; "
                        "remove the pin to create it, or fix the id",
                        "identity",
                    )
                )
                continue
            ident = pinned
        elif entry and entry.id in by_id[r.kind]:
            ident = entry.id
        else:
            if entry:
                notes.append(
                    f"the {r.kind.lower()} recorded in the state ({entry.id}) no longer exists; "
                    "it will be created again"
                )
            same_name = _named(summaries[r.kind], named, r.kind).get(r.anam_name, [])
            if len(same_name) > 1:
                ids = ", ".join(str(i.get("id")) for i in same_name)
                live.diagnostics.append(
                    Diagnostic.at(
                        r.resource.loc(("metadata", "name")),
                        f"{len(same_name)} live {r.kind.lower()}s are named {r.anam_name!r} "
                        f"({ids}); pin one with metadata.id or rename the others",
                        "identity-ambiguous",
                    )
                )
                continue
            if same_name:
                ident = str(same_name[0]["id"])
                if not entry:
                    notes.append(f"adopts the existing {r.kind.lower()} {ident} by name")
        if ident is None:
            live.matched[key] = None
        elif r.kind == "Persona":
            to_get.append((key, ident))
        else:
            live.matched[key] = normalize(r.kind, by_id[r.kind][ident])  # list items are whole

    # Resources in the state but no longer in the manifests (prune candidates).
    wanted = {(r.kind, r.name) for r in rendered}
    orphan_gets: list[StateEntry] = []
    for entry in state.resources if state else []:
        if (entry.kind, entry.name) in wanted or entry.kind not in managed_kinds:
            continue
        item = by_id.get(entry.kind, {}).get(entry.id)
        if item is None:
            live.orphans.append((entry, None))
        elif entry.kind != "Persona":  # list items are whole
            live.orphans.append((entry, normalize(entry.kind, item)))
        else:
            orphan_gets.append(entry)

    groups = [m.id for (kind, _), m in live.matched.items() if kind == "KnowledgeGroup" and m]
    for group_id, docs in zip(groups, client.map_concurrent(reads.documents, groups), strict=True):
        live.documents[group_id] = docs.unwrap()

    gets = [ident for _, ident in to_get] + [e.id for e in orphan_gets]
    outcomes: list[Outcome[dict[str, Any]]] = client.map_concurrent(reads.persona, gets)
    for (key, _), outcome in zip(to_get, outcomes[: len(to_get)], strict=True):
        if isinstance(outcome.error, NotFound):  # deleted between the list and the GET
            live.matched[key] = None
        elif outcome.error is not None:
            raise outcome.error
        else:
            live.matched[key] = normalize("Persona", outcome.unwrap())
    for entry, outcome in zip(orphan_gets, outcomes[len(to_get) :], strict=True):
        if isinstance(outcome.error, NotFound):
            live.orphans.append((entry, None))
        elif outcome.error is not None:
            raise outcome.error
        else:
            live.orphans.append((entry, normalize("Persona", outcome.unwrap())))
    return live


def _named(
    items: list[dict[str, Any]], cache: dict[str, dict[Any, list[dict[str, Any]]]], kind: str
) -> dict[Any, list[dict[str, Any]]]:
    """The listed items of `kind` by name, indexed once (a search per resource without a
    state was quadratic: 2.4 s at 10,000 personas)."""
    if kind not in cache:
        index: dict[Any, list[dict[str, Any]]] = {}
        name_key = KINDS[kind].name_key
        for item in items:
            index.setdefault(item.get(name_key), []).append(item)
        cache[kind] = index
    return cache[kind]


def unmanaged_personas(client: AnamClient, live: LiveSet, state: StateView | None) -> list[Live]:
    """Every live persona no manifest or state entry stands for, read whole (its list
    item has no llmId): asked only when a plan replaces or deletes an LLM."""
    known = {m.id for m in live.matched.values() if m is not None}
    known |= {entry.id for entry, _ in live.orphans}
    known |= {entry.id for entry in (state.resources if state else [])}
    ids = [str(p.get("id")) for p in live.persona_list if str(p.get("id")) not in known]
    out = []
    for outcome in client.map_concurrent(AnamApi(client).persona, ids):
        if isinstance(outcome.error, NotFound):  # deleted since the list
            continue
        out.append(normalize("Persona", outcome.unwrap()))
    return out
