"""Local pipeline: load + validate + render + resolve + normalize + diff + plan.

Usage: python benchmarks/local_pipeline.py PROJECT_DIR [--sizes]   (prints JSON timings;
--sizes adds the saved plan's and the state file's sizes, in a run of their own)

Runs the real stages in one process for every persona of a generated project,
with no network: the catalog is the emulator's stock catalog, and each
persona's live GET response is synthesised in the API's response shape from
what was desired, with a state file saying it was applied (a three-way no-op
plan, the common case in CI). `run.py` runs this as a whole process and
reads its peak memory.
"""

from __future__ import annotations

import json
import os
import sys
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any


def main(root: Path, sizes: bool = False) -> dict[str, Any]:
    start = time.perf_counter()
    os.chdir(root)
    from personactl.core.process import tune_gc

    tune_gc()  # as the CLI does
    from personactl.anam.kinds import KINDS
    from personactl.anam.liveset import LiveSet
    from personactl.anam.resolve import Catalog, Resolver
    from personactl.core.records import Live, StateEntry, fingerprint
    from personactl.emulator import catalog as stock
    from personactl.engine.planner import Desired, build_plan
    from personactl.engine.state import State
    from personactl.manifest.checks import check
    from personactl.manifest.loader import load_all

    t = {"import": time.perf_counter() - start}
    mark = time.perf_counter()
    loaded = load_all()
    env = loaded.project.environment("sandbox")
    assert env is not None
    t["load"] = time.perf_counter() - mark
    mark = time.perf_counter()
    result = check(loaded, [env], secrets="sentinel")
    assert not result.diagnostics, result.diagnostics[:3]
    rendered = result.rendered[env.name]
    t["validate+render"] = time.perf_counter() - mark

    mark = time.perf_counter()
    cat = Catalog(stock.avatars(), stock.voices(), stock.llms(), stock.knowledge_groups(), [])
    tool_ids = {r.name: str(uuid.uuid4()) for r in rendered if r.kind == "Tool"}
    resolver = Resolver(cat, dict(tool_ids))
    desired = []
    for r in rendered:
        body, errs = resolver.body(KINDS[r.kind], r)
        assert not errs, errs
        desired.append(Desired(r.kind, r.name, r.anam_name, body, "", []))
    t["resolve"] = time.perf_counter() - mark

    # The API's response shapes, as a GET would return them after an apply.
    responses = {}
    for d in desired:
        ident = tool_ids[d.name] if d.kind == "Tool" else str(uuid.uuid4())
        b = d.body
        if d.kind == "Tool":
            responses[(d.kind, d.name)] = {"id": ident, **b, "updatedAt": None}
            continue
        responses[(d.kind, d.name)] = {
            "id": ident,
            "name": b["name"],
            "description": b.get("description"),
            "avatar": cat.by_id(cat.avatars, b.get("avatarId")),
            "avatarModel": b.get("avatarModel"),
            "voice": cat.by_id(cat.voices, b.get("voiceId")),
            "llmId": b.get("llmId"),
            "brain": {"personality": None, "systemPrompt": b.get("systemPrompt")},
            "tools": [{"id": i, "name": "x"} for i in b.get("toolIds", [])],
            "knowledge": [],
            "skipGreeting": False,
            "zeroDataRetention": False,
            "voiceGenerationOptions": b.get("voiceGenerationOptions"),
            "voiceDetectionOptions": b.get("voiceDetectionOptions"),
            "languageCode": b.get("languageCode"),
            "initialMessage": b.get("initialMessage"),
            "widgetConfig": {},
            "createdAt": "2026-01-01T00:00:00.000Z",
            "updatedAt": "2026-01-01T00:00:00.000Z",
        }

    mark = time.perf_counter()
    live = LiveSet(catalog=cat)
    state = State(environment=env.name)
    for d in desired:
        raw = responses[(d.kind, d.name)]
        norm = KINDS[d.kind].normalize(raw)
        live.matched[(d.kind, d.name)] = Live(d.kind, raw["id"], raw, norm, fingerprint(raw, norm))
        observed = {k: norm[k] for k in d.body if k in norm}
        state.put(StateEntry(d.kind, d.name, d.anam_name, raw["id"], d.body, observed))
    t["normalize"] = time.perf_counter() - mark

    def plan_now() -> Any:  # the diff and plan stage, as it stands (again in _sizes)
        return build_plan(
            environment=env.name,
            backend="anam",
            api_url="-",
            state_path="-",
            state=state,
            desired=desired,
            live=live,
            label=lambda k, v: resolver.label(k, v, {}),
            prune=False,
            lineage="benchmark",
            kinds=KINDS,
        )

    mark = time.perf_counter()
    plan = plan_now()
    t["diff+plan"] = time.perf_counter() - mark
    counts = plan.counts()
    assert counts["no-op"] == len(desired), counts
    t["total"] = time.perf_counter() - start
    if not sizes:
        return {"resources": len(desired), "seconds": t}
    stage = (desired, live, plan_now, tool_ids)
    return {"resources": len(desired), "seconds": t, "bytes": _sizes(plan, state, t, *stage)}


def _sizes(
    plan: Any,
    state: Any,
    t: dict[str, float],
    desired: list[Any],
    live: Any,
    plan_now: Callable[[], Any],
    tool_ids: dict[str, str],
) -> dict[str, int]:
    """(With --sizes, run apart: its JSON would add to the pipeline's peak memory.)"""
    from personactl.core.records import StateEntry

    # Sizes: the saved plan (formatVersion 3: each prompt once), the same plan with
    # every string in place (as formatVersion 2 wrote it), and the state file. Then
    # the same for a plan in which every persona's prompt changed (before and after
    # in `fields`, the request body, `desired`): where the four copies were.
    sizes: dict[str, int] = {}
    mark = time.perf_counter()
    sizes["plan"] = len(json.dumps(plan.sealed(), indent=2, ensure_ascii=False).encode())
    t["plan JSON"] = time.perf_counter() - mark
    sizes["plan, strings in place"] = _unpacked_size(plan)
    mark = time.perf_counter()
    sizes["state"] = len(json.dumps(state.to_dict(), indent=2, ensure_ascii=False).encode())
    t["state JSON"] = time.perf_counter() - mark
    for d in desired:
        if d.kind == "Persona":
            entry = state.find(d.kind, d.name)
            assert entry is not None
            old = d.body["systemPrompt"] + "\nAn older line."
            state.put(
                StateEntry(
                    d.kind,
                    d.name,
                    d.anam_name,
                    entry.id,
                    {**entry.applied, "systemPrompt": old},
                    {**entry.observed, "systemPrompt": old},
                )
            )
            live_one = live.matched[(d.kind, d.name)]
            live_one.normalized["systemPrompt"] = old
    mark = time.perf_counter()
    changed = plan_now()
    assert changed.counts()["update"] == len(desired) - len(tool_ids), changed.counts()
    sizes["plan, every prompt changed"] = len(
        json.dumps(changed.sealed(), indent=2, ensure_ascii=False).encode()
    )
    t["plan, every prompt changed, +JSON"] = time.perf_counter() - mark
    sizes["the same, strings in place"] = _unpacked_size(changed)
    return sizes


def _unpacked_size(plan: Any) -> int:
    data = plan.to_dict()
    data["display"] = False
    return len(json.dumps(data, indent=2, ensure_ascii=False).encode())


if __name__ == "__main__":
    # --sizes: also the plan and state JSON sizes (and their times), apart from the pipeline.
    print(json.dumps(main(Path(sys.argv[1]).resolve(), sizes="--sizes" in sys.argv[2:])))
    from personactl.core.process import end

    end(0)  # as the CLI ends (cli.main): without freeing every object first
