"""Fetch stage: the live personas and tools, matched to the manifests.

Identity (DESIGN.md §3): a resource is matched by its pinned `metadata.id`,
else by the id in the environment's state file, else by exact name among the
live resources (an index by name, built once). Two live resources with the
name and no pin is an error that lists both ids. Requests: the persona and
tool lists (100 a page), the catalog lists the manifests need, and one GET per
matched persona (tool list items are already full), run concurrently.

Refresh (DESIGN.md §3, "Refresh"):
- `full` reads every persona. The GETs of the ids the state (or a pin) already
  names start beside the list pages, not after them.
- `auto` (the default) takes a persona from the state unread when its listed
  `updatedAt` is the one the state recorded, the state holds a complete record
  of it (see `_from_state`) and nothing it refers to changed (`_dependencies`).
  Its `Live` is rebuilt from what the state observed, which, for such a
  persona, is what a GET would answer for every field the diff compares.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any, Literal, Protocol

from personactl.anam.api import LIST_PATHS, RESOURCE_PATHS, AnamApi
from personactl.anam.client import AnamClient, Outcome
from personactl.anam.errors import NotFound
from personactl.anam.kinds import KINDS, NO_LLM, is_custom_llm
from personactl.anam.liveset import LiveSet
from personactl.anam.normalize import normalize
from personactl.anam.resolve import Catalog
from personactl.core.errors import Diagnostic
from personactl.core.progress import NoProgress, Progress
from personactl.core.records import Fingerprint, Live, StateEntry
from personactl.manifest.render import Rendered

Refresh = Literal["auto", "full"]
REFRESH_MODES: tuple[Refresh, ...] = ("auto", "full")

# The list that holds each kind's live resources ("Tool" -> "tools").
LIST_OF_KIND = {
    kind: name
    for kind, path in RESOURCE_PATHS.items()
    for name, p in LIST_PATHS.items()
    if p == path
}


class StateView(Protocol):
    """What fetch reads of the state: who each manifest was, and every entry."""

    @property
    def resources(self) -> list[StateEntry]: ...

    def find(self, kind: str, name: str) -> StateEntry | None: ...


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


def index_by_name(
    items: Iterable[dict[str, Any]], key: str = "name"
) -> dict[str, list[dict[str, Any]]]:
    """Live resources by exact name (`key`: the kind's identity key), built once (a scan
    per manifest is quadratic)."""
    out: dict[str, list[dict[str, Any]]] = {}
    for item in items:
        out.setdefault(str(item.get(key)), []).append(item)
    return out


def _known_ids(
    rendered: list[Rendered], state: StateView | None, managed_kinds: set[str]
) -> dict[str, str]:
    """Persona ids known before any list answers (id -> manifest name): pins, and the
    state's entries (those of the manifests and the prune candidates). A full refresh
    GETs them beside the lists."""
    ids: dict[str, str] = {}
    wanted = set()
    for r in rendered:
        wanted.add((r.kind, r.name))
        if r.kind != "Persona":
            continue
        entry = state.find(r.kind, r.name) if state else None
        ident = r.resource.pinned_id or (entry.id if entry else None)
        if ident:
            ids[ident] = r.name
    for entry in state.resources if state else []:
        orphan = (entry.kind, entry.name) not in wanted
        if entry.kind == "Persona" and "Persona" in managed_kinds and orphan:
            ids[entry.id] = entry.name
    return ids


def _dependencies_changed(
    kind: str,
    entry: StateEntry,
    live_by_id: dict[str, dict[str, dict[str, Any]]],
    state_by_id: dict[tuple[str, str], StateEntry],
) -> bool:
    """Whether a resource this one refers to (a field whose `ref` is a kind: tools, and
    whatever other kinds declare) is gone, or changed since the state recorded it. The
    API need not move a persona's `updatedAt` for that (a deleted tool leaves its
    personas), so such a persona is read again."""
    for f in KINDS[kind].fields:
        if f.ref not in KINDS:
            continue
        listed = live_by_id.get(f.ref)
        if listed is None:
            return True  # that list was not read: nothing says it is unchanged
        ids: set[str] = set()
        for side in (entry.applied, entry.observed):
            value = side.get(f.body)
            ids.update(str(v) for v in (value if isinstance(value, list) else [value]) if v)
        for ident in ids:
            item = listed.get(ident)
            if item is None:
                return True  # gone
            recorded = state_by_id.get((f.ref, ident))
            if recorded is not None and recorded.fingerprint.get("updatedAt") != item.get(
                "updatedAt"
            ):
                return True  # changed since the state recorded it
    return False


def _from_state(
    r: Rendered,
    ident: str,
    entry: StateEntry | None,
    summary: dict[str, Any],
    dependencies_changed: Callable[[StateEntry], bool],
) -> Live | None:
    """The live persona rebuilt from the state, when the state's record of it is complete
    and current; None when it must be read.

    Complete and current: the state recorded this very id, with a fingerprint whose
    `updatedAt` is the one listed now (apply records a fingerprint only when the
    observed values then described the live resource in full: see
    `usecases.plan.fingerprint_kept`); every field the manifest sets was sent
    (in `applied`; one applied but not observed is one the API does not return, as
    a GET would not); and nothing the persona refers to changed."""
    if entry is None or entry.id != ident:
        return None
    updated_at = entry.fingerprint.get("updatedAt")
    digest = entry.fingerprint.get("hash")
    if not updated_at or summary.get("updatedAt") != updated_at or not isinstance(digest, str):
        return None
    kind = KINDS[r.kind]
    spec = r.data.get("spec") or {}
    sets = {f.body for f in kind.fields if f.manifest in spec}
    if not sets <= entry.applied.keys() or "name" not in entry.applied:
        return None
    if dependencies_changed(entry):
        return None
    normalized = dict(entry.observed)
    normalized["name"] = summary.get("name")  # as listed: the live name itself
    raw = {"id": ident, "name": summary.get("name"), "updatedAt": updated_at}
    return Live(r.kind, ident, raw, normalized, Fingerprint(str(updated_at), digest))


def fetch(
    client: AnamClient,
    rendered: list[Rendered],
    state: StateView | None,
    managed_kinds: set[str],
    *,
    refresh: Refresh = "auto",
    progress: Progress | None = None,
) -> LiveSet:
    progress = progress or NoProgress()
    live = LiveSet()
    needs = catalog_needs(rendered)
    if any(e.kind == "LLM" and "LLM" in managed_kinds for e in (state.resources if state else [])):
        needs.add("llms")  # an LLM in the state may be a prune candidate
    if state and any(e.kind == "KnowledgeGroup" for e in state.resources):
        needs.add("knowledge")  # groups to match or prune
    # The lists of the kinds a persona refers to come along, so that auto can tell
    # whether one it uses changed (today the tools, which are listed anyway).
    referred = {LIST_OF_KIND[f.ref] for f in KINDS["Persona"].fields if f.ref in LIST_OF_KIND}
    lists = list(dict.fromkeys(["personas", "tools", *sorted(needs | referred)]))
    reads = AnamApi(client)
    names = _known_ids(rendered, state, managed_kinds)
    gets = _Reads(reads, client.config.parallelism, progress, names)
    try:
        fetched = _lists(client, reads, lists, gets, names, state, refresh)
        live = _match(live, fetched, rendered, state, managed_kinds, refresh, gets)
    finally:
        gets.close()
    groups = [m.id for (kind, _), m in live.matched.items() if kind == "KnowledgeGroup" and m]
    for group_id, docs in zip(groups, client.map_concurrent(reads.documents, groups), strict=True):
        live.documents[group_id] = docs.unwrap()
    return live


def _lists(
    client: AnamClient,
    reads: AnamApi,
    lists: list[str],
    gets: _Reads,
    names: dict[str, str],
    state: StateView | None,
    refresh: Refresh,
) -> dict[str, list[dict[str, Any]]]:
    """Every list, while the persona GETs known to be needed already run: under full,
    those of every id known before the lists; under auto, those of each persona whose
    listed updatedAt is not the state's, as soon as its page arrives."""
    recorded: dict[str, Any] = {}
    if state is not None:
        recorded = {e.id: e.fingerprint.get("updatedAt") for e in state.resources if e.id in names}

    def moved(items: list[dict[str, Any]]) -> None:
        for item in items:
            ident = str(item["id"])
            if ident in names and (
                not recorded.get(ident) or item.get("updatedAt") != recorded[ident]
            ):
                gets.start(ident)

    def listing(name: str) -> list[dict[str, Any]]:
        hook = moved if name == "personas" and refresh == "auto" else None
        return reads.listing(name, on_page=hook)

    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="personactl-lists") as one:
        pending = one.submit(client.map_concurrent, listing, lists)
        if refresh == "full":
            for ident in names:
                gets.start(ident)
        results = pending.result()
    return {name: outcome.unwrap() for name, outcome in zip(lists, results, strict=True)}


class _Reads:
    """Persona GETs, each started once, as soon as it is known to be needed (beside the
    list pages), on the client's pool of connections; progress counts them as they end."""

    def __init__(
        self, api: AnamApi, parallelism: int, progress: Progress, names: dict[str, str]
    ) -> None:
        self.api = api
        self.progress = progress
        self.names = names
        self.pool = ThreadPoolExecutor(max_workers=parallelism, thread_name_prefix="personactl-get")
        self.futures: dict[str, Future[dict[str, Any]]] = {}
        self.lock = threading.Lock()
        self.ended: list[tuple[str, bool]] = []
        self.shown = False

    def start(self, ident: str) -> None:
        with self.lock:
            if ident not in self.futures:
                self.futures[ident] = self.pool.submit(self._read, ident)

    def _read(self, ident: str) -> dict[str, Any]:
        ok = False
        try:
            found = self.api.persona(ident)
            ok = True
            return found
        except NotFound:
            ok = True  # gone: the plan says what follows, not a failed read
            raise
        finally:
            with self.lock:
                item = (self.names.get(ident, ident), ok)
                self.ended.append(item)
                if self.shown:
                    self.progress.step(item[0], ok=ok)

    def wait(self, idents: Iterable[str]) -> dict[str, Outcome[Any]]:
        """Every GET of `idents` (started now if not yet), ended: an Outcome each."""
        wanted = list(dict.fromkeys(idents))
        for ident in wanted:
            self.start(ident)
        with self.lock:
            if self.futures:
                self.progress.start("reading personas", len(self.futures))
                for name, ok in self.ended:
                    self.progress.step(name, ok=ok)
                self.shown = True
        out: dict[str, Outcome[Any]] = {}
        for ident in wanted:
            try:
                out[ident] = Outcome(ident, self.futures[ident].result())
            except Exception as exc:  # noqa: BLE001 (each read's outcome is its own)
                out[ident] = Outcome(ident, None, exc)
        with self.lock:
            if self.shown:
                self.progress.finish()
            self.shown = False
        return out

    def close(self) -> None:
        self.pool.shutdown(wait=True, cancel_futures=True)


def _match(
    live: LiveSet,
    fetched: dict[str, list[dict[str, Any]]],
    rendered: list[Rendered],
    state: StateView | None,
    managed_kinds: set[str],
    refresh: Refresh,
    gets: _Reads,
) -> LiveSet:
    """Identity, the personas taken from the state unread, and the GETs of the others."""
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
    by_name = {
        kind: index_by_name(items, KINDS[kind].name_key) for kind, items in summaries.items()
    }
    live_by_id = {
        kind: {str(i.get("id")): i for i in fetched[name]}
        for kind, name in LIST_OF_KIND.items()
        if name in fetched
    }
    state_by_id = {(e.kind, e.id): e for e in state.resources} if state else {}

    def dependencies_changed(entry: StateEntry) -> bool:
        return _dependencies_changed(entry.kind, entry, live_by_id, state_by_id)

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
            same_name = by_name[r.kind].get(r.anam_name, [])
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
            unread = None
            if refresh == "auto":
                unread = _from_state(r, ident, entry, by_id[r.kind][ident], dependencies_changed)
            if unread is not None:
                live.matched[key] = unread
                live.unread.add(key)
            else:
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

    got = gets.wait([i for _, i in to_get] + [e.id for e in orphan_gets])

    for key, ident in to_get:
        outcome = got[ident]
        if isinstance(outcome.error, NotFound):  # deleted between the list and the GET
            live.matched[key] = None
        elif outcome.error is not None:
            raise outcome.error
        else:
            live.matched[key] = normalize("Persona", outcome.unwrap())
    for entry in orphan_gets:
        outcome = got[entry.id]
        if isinstance(outcome.error, NotFound):
            live.orphans.append((entry, None))
        elif outcome.error is not None:
            raise outcome.error
        else:
            live.orphans.append((entry, normalize("Persona", outcome.unwrap())))
    return live


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
