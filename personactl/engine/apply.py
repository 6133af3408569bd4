"""Apply stage: carry out a Plan, verify every write, record state as it goes.

Consumes only a Plan. Order: LLMs, tools, then personas (a persona may reference
one created moments before), then deletes in reverse: personas, tools, LLMs.
A replace creates its new resource in the first pass and deletes the old one in
the second, once every planned user has moved to the new one; until then the
old one is recorded as deposed, so a crash in between converges on the next run.
Within a phase, writes run concurrently up to `parallelism`. One failed
resource does not stop the others; each success is written to the state file
at once, so a crash at any point loses nothing and a re-run converges.

Before each create the name is looked up once more, so even two runs that
share no lock never create a name that exists live when the create starts (it
is adopted instead). A create whose outcome is unknown (the connection dropped
after the request went out) is never blindly repeated: the resource is looked
up by name first and adopted if it exists. No duplicates, ever.
"""

from __future__ import annotations

import dataclasses
import threading
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass
from typing import Any, Protocol, cast

from personactl.core.equality import covers
from personactl.core.errors import OutcomeUnknown, PersonactlError
from personactl.core.kinds import Kind
from personactl.core.records import Fingerprint, Live, StateEntry
from personactl.core.refs import REF, ref
from personactl.core.secrets import SecretChanged, reveal
from personactl.engine.documents import DocumentApi, DocumentSync, SyncOptions
from personactl.engine.plan import DEPOSED, Plan, ResourceChange
from personactl.engine.state import StateStore, entry_for


class Api(Protocol):
    """The writes apply needs; `anam.api.AnamApi` implements it over HTTP."""

    def create(self, kind: str, body: dict[str, Any]) -> dict[str, Any]: ...
    def update(self, kind: str, ident: str, body: dict[str, Any]) -> dict[str, Any]: ...
    def delete(self, kind: str, ident: str) -> None: ...
    def find_by_name(self, kind: str, name: str) -> list[dict[str, Any]]: ...


@dataclass
class Result:
    change: ResourceChange
    ok: bool
    message: str
    id: str | None = None
    started: bool = True  # False: interrupted before its write began
    retired: bool = False  # the second half of a replace: the old resource's delete


Progress = Callable[[Result], None]
GOING = ("delete", "replace")  # the actions of the second pass


def unpersisted(kind: Kind, sent: dict[str, Any], response: dict[str, Any]) -> list[str]:
    """Body keys the server did not persist as sent (write-only fields excepted)."""
    got = kind.normalize(response)
    keys = []
    for key, value in sent.items():
        if key not in got:
            continue  # not returned by the API: nothing to verify
        expected = sorted(value) if key in kind.sets and isinstance(value, list) else value
        if not covers(expected, got[key]):
            keys.append(key)
    return keys


def _mentions(value: Any, token: str) -> bool:
    if isinstance(value, dict):
        return any(_mentions(v, token) for v in value.values())
    if isinstance(value, list):
        return any(_mentions(v, token) for v in value)
    return bool(value == token)


def describes(applied: dict[str, Any], observed: dict[str, Any], live: dict[str, Any]) -> bool:
    """Whether a state record (applied, observed) describes a live resource (normalized) in
    full for every field it holds: each observed value is the live one, and each field
    applied but not observed (write-only) is absent from live. Only then may a plan
    rebuild the resource from the state instead of reading it."""
    for key in applied.keys() | observed.keys():
        if key in observed:
            if key not in live or live[key] != observed[key]:
                return False
        elif key in live:
            return False
    return True


class Applier:
    def __init__(
        self,
        plan: Plan,
        writer: Api,
        store: StateStore,
        kinds: Mapping[str, Kind],
        *,
        parallelism: int = 8,
        progress: Progress | None = None,
        cancel: threading.Event | None = None,
        documents: SyncOptions | None = None,
    ) -> None:
        """`documents`: how a knowledge group's files are read, waited for and reported."""
        self.plan = plan
        self.writer = writer
        self.store = store
        self.kinds = kinds
        self.parallelism = parallelism
        self.progress = progress or (lambda result: None)
        # Set (by Ctrl-C): writes not yet started are skipped, those in flight finish.
        self.cancel = cancel or threading.Event()
        self.salt = plan.lineage or ""
        # (kind, manifest name) -> live id, for references to what this apply creates
        # (None: its write failed, so its users are not applied).
        self.ids: dict[tuple[str, str], str | None] = {}
        self.documents = documents
        self.by_id = {c.id: (c.kind, c.name) for c in plan.changes if c.id}
        self.desired = {(c.kind, c.name): c.desired or {} for c in plan.changes}

    def run(self) -> list[Result]:
        changes = self.plan.changes
        # What is referred to before its users; deletes in reverse, users first.
        order = list(self.kinds)
        # (change, retire): a replace comes back with the deletes (retire), for its old
        # resource to go once its users have moved.
        phases = [
            [(c, False) for c in changes if c.kind == k and c.action != "delete"] for k in order
        ]
        phases += [
            [(c, c.action == "replace") for c in changes if c.kind == k and c.action in GOING]
            for k in reversed(order)
        ]
        for c in changes:
            if c.id:
                self.ids[(c.kind, c.name)] = c.id
        for gone in self.plan.forget:
            self.store.forget(gone["kind"], gone["name"])
        results: list[Result] = []
        with ThreadPoolExecutor(max_workers=self.parallelism) as pool:
            for planned in phases:
                # A replace whose new resource was not made has nothing to retire (its
                # failure is reported already).
                phase = [
                    (c, retire)
                    for c, retire in planned
                    if not retire or self.ids.get((c.kind, c.name)) is not None
                ]
                futures = {pool.submit(self._one, *item): i for i, item in enumerate(phase)}
                done: list[Result | None] = [None] * len(phase)
                # Reported as each finishes, so progress matches what the state holds.
                for future in as_completed(futures):
                    result = future.result()
                    done[futures[future]] = result
                    if result.change.action != "delete" and not result.retired:
                        key = (result.change.kind, result.change.name)
                        self.ids[key] = result.id if result.ok else None
                    self.progress(result)
                results.extend(r for r in done if r is not None)
        return results

    def _one(self, change: ResourceChange, retire: bool = False) -> Result:
        if self.cancel.is_set() and change.action != "no-op":
            return Result(change, False, "not started: interrupted", started=False, retired=retire)
        try:
            if change.action == "no-op":
                return self._sync_documents(change, self._noop(change))
            if change.action == "delete":
                return self._delete(change)
            if retire:
                return self._retire(change)
            failed = self._failed_use(change.kind, change.name)
            if failed:
                return Result(change, False, f"not applied: it uses {failed}, which failed")
            body = self._resolve_refs(change)
            if change.action == "create":
                result = self._create(change, body)
            elif change.action == "replace":
                result = self._replace(change, body)
            elif change.request is None:  # only a knowledge group's documents change
                result = self._noop(change)
            else:
                result = self._update(change, body)
            return self._sync_documents(change, result)
        except SecretChanged as exc:
            return Result(
                change,
                False,
                f"secret {exc.name!r} is not set or changed since the "
                "plan was made; set it, or plan again",
            )
        except PersonactlError as exc:
            return Result(change, False, exc.message, retired=retire)

    # -- each action ------------------------------------------------------------------

    def _resolve_refs(self, change: ResourceChange) -> dict[str, Any]:
        """The planned body with references to resources created in this run as ids."""
        body = dict(change.request.body or {}) if change.request else {}
        for f in self.kinds[change.kind].fields:
            if f.ref in self.kinds and isinstance(body.get(f.body), list):
                ids = [self._id_of(ident) for ident in body[f.body]]
                body[f.body] = sorted(ids) if f.is_set else ids
            elif f.ref in self.kinds and isinstance(body.get(f.body), str):
                body[f.body] = self._id_of(body[f.body])
            elif f.folders[1] and isinstance(body.get(f.body), dict):
                config = dict(body[f.body])
                if isinstance(config.get(f.folders[1]), list):
                    config[f.folders[1]] = [self._id_of(i) for i in config[f.folders[1]]]
                body[f.body] = config
        return body

    def _uses(self, kind: str, body: dict[str, Any]) -> list[str]:
        """The ids (or references) of the resources of this plan a body names."""
        out: list[str] = []
        for f in self.kinds[kind].fields if kind in self.kinds else ():
            value = body.get(f.body)
            if f.ref in self.kinds and isinstance(value, list):
                out += [v for v in value if isinstance(v, str)]
            elif f.ref in self.kinds and isinstance(value, str):
                out.append(value)
            elif f.folders[1] and isinstance(value, dict):
                ids = value.get(f.folders[1])
                out += [v for v in ids if isinstance(v, str)] if isinstance(ids, list) else []
        return out

    def _failed_use(self, kind: str, name: str, depth: int = 0) -> str | None:
        """A resource this one uses, directly or through another (a persona through its
        tools), whose write failed in this run: `knowledgegroup 'x'`; None if none."""
        if depth > 3:
            return None
        for ident in self._uses(kind, self.desired.get((kind, name), {})):
            m = REF.match(ident)
            key = (m.group(1), m.group(2)) if m else self.by_id.get(ident)
            if key is None:
                continue
            if key in self.ids and self.ids[key] is None:
                return f"{key[0].lower()} {key[1]!r}"
            deeper = self._failed_use(*key, depth=depth + 1)
            if deeper:
                return deeper
        return None

    def _sync_documents(self, change: ResourceChange, result: Result) -> Result:
        """A knowledge group's documents, once the group itself is as planned."""
        if not change.documents or not result.ok or result.id is None:
            return result
        if self.documents is None:
            return Result(change, False, "its documents were not synced (no files to read)")
        ident = result.id

        def record(docs: dict[str, dict[str, Any] | None]) -> None:
            entry = self.store.state.find(change.kind, change.name)
            if entry is None or entry.id != ident:
                return
            kept = {**entry.documents, **{k: v for k, v in docs.items() if v is not None}}
            for name in (k for k, v in docs.items() if v is None):
                kept.pop(name, None)
            self.store.record(dataclasses.replace(entry, documents=kept))

        sync = DocumentSync(
            cast(DocumentApi, self.writer), self.documents, change.name, ident, record
        )
        try:
            done = sync.run(change.documents)
        except PersonactlError as exc:
            return Result(change, False, exc.message, ident)
        if not done:
            return result
        message = done if result.message == "unchanged" else f"{result.message}; {done}"
        return Result(change, True, message, ident)

    def _put(self, entry: StateEntry) -> None:
        """Record an entry, keeping the documents the state holds for the same resource."""
        prev = self.store.state.find(entry.kind, entry.name)
        if prev is not None and prev.id == entry.id and prev.documents:
            entry = dataclasses.replace(entry, documents=dict(prev.documents))
        self.store.record(entry)

    def _id_of(self, ident: str) -> str:
        m = REF.match(ident)
        if m is None:
            return ident
        new = self.ids.get((m.group(1), m.group(2)))
        if new is None:
            raise PersonactlError(
                f"not applied: it uses {m.group(1).lower()} {m.group(2)!r}, which failed"
            )
        return new

    def _record(
        self, change: ResourceChange, ident: str, sent: dict[str, Any], response: dict[str, Any]
    ) -> list[str]:
        """Record exactly what was sent and what the server answered to it, field by field,
        over what the state held before: a live value personactl never sent is never
        taken as its own. The keys the API did not persist as sent are dropped from both,
        so the next plan compares them with the live values and sends them again; they
        are returned."""
        kind = self.kinds[change.kind]
        sent = kind.from_put(sent)  # a PUT's `url` is the body's `urls`
        lost = unpersisted(kind, reveal(sent, self.salt), response)
        if not change.record:  # not managed: written and read back, never recorded
            return lost
        before, observed = self._previous(change, ident)
        earlier = dict(observed)
        applied = {**before, **self._settled(change), **sent}
        observed.update(change.settled)
        seen = Live.of(kind.name, response, kind.normalize(response)).with_sentinels(
            [sent], self.salt
        )
        for key in sent:
            if key in seen.normalized:
                observed[key] = seen.normalized[key]
            else:  # not returned (write-only): an older observation no longer holds
                observed.pop(key, None)
        # A key sent that the manifest no longer has was a reset: from now on the field
        # is not managed (as kubectl forgets it), so a later edit in the Lab stays.
        resets = [k for k in sent if k != kind.name_key and k not in (change.desired or sent)]
        for key in [*lost, *resets]:
            applied.pop(key, None)
            observed.pop(key, None)
        # A key not sent keeps an older observation: the answer may hold another value
        # (a key the write reset, or one changed outside personactl and not compared).
        answer = Live.of(kind.name, response, kind.normalize(response))
        faithful = describes(
            applied, observed, answer.with_sentinels([sent, before, earlier], self.salt).normalized
        )
        fingerprint = self._fingerprint(change, seen.fingerprint, faithful)
        self._put(entry_for(change, ident, applied, observed, fingerprint))
        return lost

    def _fingerprint(
        self, change: ResourceChange, now: Fingerprint | None, faithful: bool = True
    ) -> Fingerprint | None:
        """The fingerprint to record: the live one, unless the observed values recorded
        with it do not describe it in full (`faithful`, or the plan's keep_fingerprint);
        then the one recorded before, so the next plan reads the resource rather than
        take it from the state (--refresh=auto)."""
        keep = change.kind == "Persona" and change.name in self.plan.keep_fingerprint
        if faithful and not keep:
            return now
        prev = self.store.state.find(change.kind, change.name)
        kept = prev.fingerprint if prev is not None and prev.id == change.id else {}
        if not kept:
            return None
        return Fingerprint(kept.get("updatedAt"), str(kept.get("hash", "")))

    def _finish(
        self,
        change: ResourceChange,
        ident: str,
        body: dict[str, Any],
        response: dict[str, Any],
        done: str,
    ) -> Result:
        """Read the write back, record the state (even when the read-back fails: the
        resource exists and is ours), and say how it went."""
        lost = self._record(change, ident, body, response)
        if lost:
            paths = [self.kinds[change.kind].manifest_path(k) for k in lost]
            return Result(
                change,
                False,
                f"the API did not persist {', '.join(paths)} as sent (read-back after "
                f"{'create' if change.action == 'create' else 'update'}); "
                "the next plan sends it again",
                ident,
            )
        return Result(change, True, done, ident)

    def _create(
        self, change: ResourceChange, body: dict[str, Any], done: str = "created"
    ) -> Result:
        response: dict[str, Any] | None = None
        # Looked up once more as the create starts: a run that shares no lock with this
        # one (or a person in the Lab) may have created the name since the plan.
        found = self._same_name(change)
        if found:
            return self._adopt(change, body, found, ": it existed live when the create started")
        for _ in range(3):
            try:
                response = self.writer.create(change.kind, reveal(body, self.salt))
                break
            except OutcomeUnknown:
                found = self._same_name(change)
                if found:  # it was created: adopt it and make sure it is as desired
                    return self._adopt(
                        change,
                        body,
                        found,
                        " after a dropped connection",
                        "the create's outcome was unknown and ",
                    )
        if response is None:
            return Result(change, False, "the create's outcome stayed unknown after 3 tries")
        return self._created(change, body, response, done)

    def _same_name(self, change: ResourceChange) -> list[dict[str, Any]]:
        """The live resources of the change's name; a replace's old resource has the same
        name and is not the new one."""
        found = self.writer.find_by_name(change.kind, change.anam_name)
        return [f for f in found if change.action != "replace" or f.get("id") != change.id]

    def _adopt(
        self,
        change: ResourceChange,
        body: dict[str, Any],
        found: list[dict[str, Any]],
        why: str,
        lead: str = "",
    ) -> Result:
        """Make the one live resource of the name as desired and record it as this one."""
        if len(found) > 1:
            ids = ", ".join(str(f.get("id")) for f in found)
            return Result(
                change,
                False,
                f"{lead}{len(found)} {change.kind.lower()}s now have its name ({ids})",
            )
        kind = self.kinds[change.kind]
        # (what a PUT cannot say, the POST did, or the resource already has)
        put, _ = kind.put_request(dict(body))
        put = {k: v for k, v in put.items() if k in kind.put_keys}
        ident = str(found[0]["id"])
        response = self.writer.update(change.kind, ident, reveal(put, self.salt))
        done = "created" if change.action == "create" else f"created to replace {change.id}"
        return self._created(change, kind.from_put(put), response, f"{done} (adopted{why})")

    def _created(
        self, change: ResourceChange, body: dict[str, Any], response: dict[str, Any], done: str
    ) -> Result:
        ident = str(response["id"])
        # Fields the POST schema does not accept (widgetConfig) follow in one PUT.
        rest = {k: v for k, v in (change.desired or {}).items() if k not in body}
        if rest:
            response = self.writer.update(change.kind, ident, reveal(rest, self.salt))
            body = {**body, **rest}
        return self._finish(change, ident, body, response, done)

    def _replace(self, change: ResourceChange, body: dict[str, Any]) -> Result:
        """The first half of a replace: the old resource is recorded as deposed (so the
        next run deletes it if this one stops half way), then its successor is created."""
        assert change.id is not None
        old = self.store.state.find(change.kind, change.name)
        self.store.record(
            StateEntry(
                kind=change.kind,
                name=change.name + DEPOSED,
                anam_name=change.anam_name,
                id=change.id,
                fingerprint=dict(old.fingerprint) if old and old.id == change.id else {},
            )
        )
        try:
            result = self._create(change, body, f"created to replace {change.id}")
        except PersonactlError:
            self.store.forget(change.kind, change.name + DEPOSED)  # nothing was created
            raise
        if result.id is None:
            self.store.forget(change.kind, change.name + DEPOSED)
        return result

    def _retire(self, change: ResourceChange) -> Result:
        """The second half of a replace: delete the old resource, unless its successor was
        not created or a planned user of it was not moved (then the next run does it)."""
        assert change.id is not None
        token = ref(change.kind, change.name)
        stuck = {
            f"{c.kind.lower()} {c.name!r}"
            for c in self.plan.changes
            if c.request is not None
            and _mentions(c.request.body, token)
            and self.ids.get((c.kind, c.name)) is None
        }
        # Users this plan does not cover (left out by --target) that the state says still
        # point at the old one: it stays until they move.
        stuck |= {
            f"{e.kind.lower()} {e.name!r}"
            for e in self.store.state.resources
            if e.kind != change.kind and _mentions([e.applied, e.observed], change.id)
        }
        if stuck:
            return Result(
                change,
                False,
                f"old {change.kind} {change.id} kept: {', '.join(sorted(stuck))} still use it "
                "(the next apply deletes it once they move)",
                retired=True,
            )
        self.writer.delete(change.kind, change.id)
        self.store.forget(change.kind, change.name + DEPOSED)
        return Result(change, True, f"deleted the old {change.id}", change.id, retired=True)

    def _update(self, change: ResourceChange, body: dict[str, Any]) -> Result:
        assert change.id is not None
        response = self.writer.update(change.kind, change.id, reveal(body, self.salt))
        return self._finish(change, change.id, body, response, "updated")

    def _previous(
        self, change: ResourceChange, ident: str
    ) -> tuple[dict[str, Any], dict[str, Any]]:
        """What the state says was applied and observed for this very resource."""
        prev = self.store.state.find(change.kind, change.name)
        if prev is None or prev.id != ident:
            return {}, {}
        return dict(prev.applied), dict(prev.observed)

    @staticmethod
    def _settled(change: ResourceChange) -> dict[str, Any]:
        """What the manifest wants of the fields that drifted to it (see Plan.settled)."""
        desired = change.desired or {}
        return {k: desired[k] for k in change.settled if k in desired}

    def _noop(self, change: ResourceChange) -> Result:
        """Nothing is sent, so nothing new is applied or observed: only the identity and
        the fingerprint are recorded (a resource adopted by name gets an empty record)."""
        if change.id:
            applied, observed = self._previous(change, change.id)
            applied.update(self._settled(change))
            observed.update(change.settled)
            fingerprint = self._fingerprint(change, change.fingerprint)
            self._put(entry_for(change, change.id, applied, observed, fingerprint))
        return Result(change, True, "unchanged", change.id)

    def _delete(self, change: ResourceChange) -> Result:
        assert change.id is not None
        self.writer.delete(change.kind, change.id)
        self.store.forget(change.kind, change.name)
        return Result(change, True, "deleted", change.id)
