"""Apply stage: carry out a Plan, verify every write, record state as it goes.

Consumes only a Plan. Order: tools, then personas (a persona may reference a
tool created moments before), then deletes in reverse: personas, then tools.
Within a phase, writes run concurrently up to `parallelism`. One failed
resource does not stop the others; each success is written to the state file
at once, so a crash at any point loses nothing and a re-run converges.

A create whose outcome is unknown (the connection dropped after the request
went out) is never blindly repeated: the resource is looked up by name first
and adopted if it exists. No duplicates, ever.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass
from typing import Any, Protocol

from personactl.core.equality import covers
from personactl.core.errors import OutcomeUnknown, PersonactlError
from personactl.core.kinds import Kind
from personactl.core.records import Fingerprint, Live
from personactl.core.refs import REF
from personactl.core.secrets import SecretChanged, reveal
from personactl.engine.plan import Plan, ResourceChange
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


Progress = Callable[[Result], None]


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
    ) -> None:
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

    def run(self) -> list[Result]:
        changes = self.plan.changes
        # What is referred to before its users; deletes in reverse, users first.
        order = list(self.kinds)
        phases = [[c for c in changes if c.kind == k and c.action != "delete"] for k in order]
        phases += [
            [c for c in changes if c.kind == k and c.action == "delete"] for k in reversed(order)
        ]
        for c in changes:
            if c.id:
                self.ids[(c.kind, c.name)] = c.id
        for gone in self.plan.forget:
            self.store.forget(gone["kind"], gone["name"])
        results: list[Result] = []
        with ThreadPoolExecutor(max_workers=self.parallelism) as pool:
            for phase in phases:
                futures = {pool.submit(self._one, change): i for i, change in enumerate(phase)}
                done: list[Result | None] = [None] * len(phase)
                # Reported as each finishes, so progress matches what the state holds.
                for future in as_completed(futures):
                    result = future.result()
                    done[futures[future]] = result
                    if result.change.action != "delete":
                        key = (result.change.kind, result.change.name)
                        self.ids[key] = result.id if result.ok else None
                    self.progress(result)
                results.extend(r for r in done if r is not None)
        return results

    def _one(self, change: ResourceChange) -> Result:
        if self.cancel.is_set() and change.action != "no-op":
            return Result(change, False, "not started: interrupted", started=False)
        try:
            if change.action == "no-op":
                return self._noop(change)
            if change.action == "delete":
                return self._delete(change)
            body = self._resolve_refs(change)
            if change.action == "create":
                return self._create(change, body)
            return self._update(change, body)
        except SecretChanged as exc:
            return Result(
                change,
                False,
                f"secret {exc.name!r} is not set or changed since the "
                "plan was made; set it, or plan again",
            )
        except PersonactlError as exc:
            return Result(change, False, exc.message)

    # -- each action ------------------------------------------------------------------

    def _resolve_refs(self, change: ResourceChange) -> dict[str, Any]:
        """The planned body with references to resources created in this run as ids."""
        body = dict(change.request.body or {}) if change.request else {}
        for f in self.kinds[change.kind].fields:
            if f.ref in self.kinds and isinstance(body.get(f.body), list):
                ids = [self._id_of(ident) for ident in body[f.body]]
                body[f.body] = sorted(ids) if f.is_set else ids
        return body

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
        lost = unpersisted(kind, reveal(sent, self.salt), response)
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
        resets = [k for k in sent if k != "name" and k not in (change.desired or sent)]
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
        self.store.record(entry_for(change, ident, applied, observed, fingerprint))
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

    def _create(self, change: ResourceChange, body: dict[str, Any]) -> Result:
        response: dict[str, Any] | None = None
        adopted = False
        for _ in range(3):
            try:
                response = self.writer.create(change.kind, reveal(body, self.salt))
                break
            except OutcomeUnknown:
                found = self.writer.find_by_name(change.kind, change.anam_name)
                if len(found) > 1:
                    ids = ", ".join(str(f.get("id")) for f in found)
                    return Result(
                        change,
                        False,
                        f"the create's outcome was unknown and "
                        f"{len(found)} {change.kind.lower()}s now have its name ({ids})",
                    )
                if found:  # it was created: adopt it and make sure it is as desired
                    put_keys = self.kinds[change.kind].put_keys
                    put = {k: v for k, v in body.items() if k in put_keys}
                    ident = str(found[0]["id"])
                    response = self.writer.update(change.kind, ident, reveal(put, self.salt))
                    body, adopted = put, True
                    break
        if response is None:
            return Result(change, False, "the create's outcome stayed unknown after 3 tries")
        ident = str(response["id"])
        done = "created (adopted after a dropped connection)" if adopted else "created"
        # Fields the POST schema does not accept (widgetConfig) follow in one PUT.
        rest = {k: v for k, v in (change.desired or {}).items() if k not in body}
        if rest:
            response = self.writer.update(change.kind, ident, reveal(rest, self.salt))
            body = {**body, **rest}
        return self._finish(change, ident, body, response, done)

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
            self.store.record(entry_for(change, change.id, applied, observed, fingerprint))
        return Result(change, True, "unchanged", change.id)

    def _delete(self, change: ResourceChange) -> Result:
        assert change.id is not None
        self.writer.delete(change.kind, change.id)
        self.store.forget(change.kind, change.name)
        return Result(change, True, "deleted", change.id)
