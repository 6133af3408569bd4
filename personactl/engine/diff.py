"""Diff stage: three-way, field by field, in request-body vocabulary.

For each field the manifest sets (DESIGN.md §3):
- live == observed (no drift): compare desired with what was last applied,
  so a server that normalises a value (trims a prompt, rounds a number) does
  not cause a perpetual diff;
- live != observed: drift, changed outside personactl; it is reported on its
  own and desired is compared with live;
- the API does not return the field (write-only): compare with applied;
- a field applied before and now removed from the manifest is reset (null or
  the documented default) or reported as unmanaged.
Without state the diff is two-way: desired against live.

Nested option objects are compared key by key and sent whole; for them
"matches live" means every key the manifest sets has that value (keys the
server adds are left alone). Tool sets are compared as sets.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from personactl.core.equality import covers, same
from personactl.core.kinds import MISSING, Kind
from personactl.core.secrets import has_secret
from personactl.engine import plan as p

_NONE: frozenset[str] = frozenset()


def _strip(obj: Any, keys: set[str] | frozenset[str]) -> Any:
    if isinstance(obj, dict) and keys:
        return {k: v for k, v in obj.items() if k not in keys}
    return obj


def _managed(obj: Any, desired: Any) -> Any:
    """An options object reduced to the keys the manifest sets."""
    if isinstance(obj, dict) and isinstance(desired, dict):
        return {k: v for k, v in obj.items() if k in desired}
    return obj


def _as_set(obj: Any) -> Any:
    """A set field in a canonical order, so that order never counts as a change."""
    return sorted(obj, key=str) if isinstance(obj, list) else obj


def _keeping_ignored(value: Any, live: Any, ignored: set[str] | frozenset[str]) -> Any:
    """An object sent whole, with the ignored keys' live values in it."""
    if ignored and isinstance(value, dict) and isinstance(live, dict):
        return {**value, **{k: live[k] for k in ignored if k in live}}
    return value


@dataclass
class FieldPlan:
    """The diff of one resource: what to show and what to send."""

    fields: list[p.FieldChange] = field(default_factory=list)
    drift: list[p.FieldChange] = field(default_factory=list)
    body: dict[str, Any] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    # Fields live already holds as the manifest wants, though the state says otherwise
    # (they drifted to it, or the manifest was edited to the value live has): body key
    # -> live value. Nothing is sent for them; apply records them as applied and
    # observed, so a drift is reported once, not after every apply.
    settled: dict[str, Any] = field(default_factory=dict)


def _nested_changes(path: str, before: Any, after: Any, reason: p.Reason) -> list[p.FieldChange]:
    """Key-level changes of a nested object, found with deepdiff."""
    if not isinstance(before, dict) or not isinstance(after, dict):
        return [p.FieldChange(path, before, after, reason, has_secret(after))]
    from deepdiff import DeepDiff

    diff = DeepDiff(
        before,
        after,
        ignore_numeric_type_changes=True,
        ignore_order=False,
        view="tree",
        verbose_level=2,
    )
    out: list[p.FieldChange] = []
    for bucket in diff.values():
        for node in bucket:
            keys = [str(k) for k in node.path(output_format="list")]
            sub = ".".join([path, *keys])
            b = node.t1 if node.t1 is not _NOTPRESENT() else None
            a = node.t2 if node.t2 is not _NOTPRESENT() else None
            out.append(p.FieldChange(sub, b, a, reason, has_secret(a) or has_secret(b)))
    out.sort(key=lambda c: c.path)
    return out or [p.FieldChange(path, before, after, reason, has_secret(after))]


def _NOTPRESENT() -> Any:  # noqa: N802 - deepdiff's sentinel, imported lazily
    from deepdiff.helper import notpresent

    return notpresent


def diff_resource(
    kind: Kind,
    desired: dict[str, Any],
    live: dict[str, Any] | None,
    applied: dict[str, Any] | None,
    observed: dict[str, Any] | None,
    ignore: list[tuple[str, ...]],
    label: Any,  # Callable[[str, Any], Any]
) -> FieldPlan:
    """Field changes and the minimal request body for an existing resource."""
    out = FieldPlan()
    three_way = applied is not None
    applied = applied or {}
    observed = observed or {}
    live = live or {}
    whole_ignored = {path[0] for path in ignore if len(path) == 1}
    nested_ignored: dict[str, set[str]] = {}
    for path in ignore:
        if len(path) > 1:
            nested_ignored.setdefault(path[0], set()).add(path[1])
    keys = kind.order + [k for k in desired if k not in kind.order]

    for key in keys:
        if key in whole_ignored:
            continue
        # Most of a kind's fields are neither set nor ever applied: nothing to do.
        if key not in desired and (key not in applied or key == kind.name_key):
            continue
        shown = kind.manifest_path(key)
        ign = nested_ignored.get(key, _NONE)
        if ign:
            d, a, o, lv = (
                _strip(side.get(key, MISSING), ign) for side in (desired, applied, observed, live)
            )
        else:
            d, a = desired.get(key, MISSING), applied.get(key, MISSING)
            o, lv = observed.get(key, MISSING), live.get(key, MISSING)
        if key in kind.sets:
            d, a, o, lv = (_as_set(x) for x in (d, a, o, lv))
        nested = key in kind.nested
        eq_live = covers if nested else same

        if d is MISSING:
            if a is MISSING or key == kind.name_key:
                continue
            if key in kind.resets:  # removed from the manifest after being applied
                target = kind.resets[key]
                current = a if lv is MISSING else lv
                if not same(current, target):
                    out.fields.append(
                        p.FieldChange(
                            shown,
                            label(key, current),
                            label(key, target),
                            p.Reason.RESET,
                            has_secret(current),
                        )
                    )
                    out.body[key] = target
            else:
                out.notes.append(
                    f"{shown} was removed from the manifest; its live value is left as it is "
                    "(no longer managed)"
                )
            continue

        change_reason: p.Reason | None = None
        before: Any = lv
        if lv is MISSING:  # write-only: the API does not return it
            before = a if a is not MISSING else None
            if a is MISSING:
                change_reason = p.Reason.WRITE_ONLY
            elif not same(d, a):
                change_reason = p.Reason.CHANGED
        else:
            # An options object is managed by the keys the manifest sets: a key the
            # server keeps (or the Lab sets) that the manifest does not name is not drift.
            lv_m, o_m = (_managed(x, d) for x in (lv, o)) if nested else (lv, o)
            drifted = three_way and o_m is not MISSING and not same(lv_m, o_m)
            if drifted:
                out.drift.extend(
                    _nested_changes(shown, o_m, lv_m, p.Reason.DRIFT)
                    if nested
                    else [
                        p.FieldChange(
                            shown,
                            label(key, o),
                            label(key, lv),
                            p.Reason.DRIFT,
                            has_secret(lv) or has_secret(o),
                        )
                    ]
                )
                if not eq_live(d, lv):
                    change_reason = p.Reason.DRIFT
                else:  # changed outside to what the manifest wants: acknowledged by apply
                    out.settled[key] = live[key]
            elif three_way and a is not MISSING:
                if not same(d, a):
                    # Edited to exactly the value live already has: no request. (Not
                    # `covers`: a key dropped from an options object is sent, whole.)
                    if same(d, lv):
                        out.settled[key] = live[key]
                    else:
                        change_reason = p.Reason.CHANGED
            elif not eq_live(d, lv):
                change_reason = p.Reason.CHANGED

        if change_reason is None:
            continue
        out.body[key] = _keeping_ignored(desired[key], live.get(key), ign)
        if nested and isinstance(before, dict):
            out.fields.extend(_nested_changes(shown, before, d, change_reason))
        else:
            out.fields.append(
                p.FieldChange(
                    shown,
                    label(key, before),
                    label(key, d),
                    change_reason,
                    has_secret(d) or has_secret(before),
                )
            )

    # Changing these makes the API reset their companions, so re-send them.
    for trigger, companion in kind.companions:
        if trigger in out.body and companion in desired and companion not in out.body:
            ignored = nested_ignored.get(companion, set())
            out.body[companion] = _keeping_ignored(desired[companion], live.get(companion), ignored)
            shown = kind.manifest_path(companion)
            reason_of = kind.manifest_path(trigger)
            out.fields.append(
                p.FieldChange(
                    shown,
                    label(companion, live.get(companion)),
                    label(companion, out.body[companion]),
                    p.Reason.RESENT,
                )
            )
            article = "an" if reason_of[:1] in "aeiou" else "a"
            out.notes.append(f"{shown} is re-sent because {article} {reason_of} change resets it")
    return out


def _create_lines(path: str, value: Any, label: Any, key: str) -> list[p.FieldChange]:
    # Expand an object only as far as needed to mask just the secret inside it.
    if isinstance(value, dict) and value and has_secret(value):
        out: list[p.FieldChange] = []
        for k, v in value.items():
            out.extend(_create_lines(f"{path}.{k}", v, label, key))
        return out
    shown = label(key, value) if "." not in path else value
    return [p.FieldChange(path, None, shown, p.Reason.CREATE, has_secret(value))]


def create_fields(kind: Kind, desired: dict[str, Any], label: Any) -> list[p.FieldChange]:
    out: list[p.FieldChange] = []
    for k in (k for k in kind.order if k in desired):
        path = kind.manifest_path(k)
        out.extend(_create_lines(path, desired[k], label, k))
    return out
