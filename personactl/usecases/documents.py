"""The plan's part for knowledge groups: their documents, and groups still in use.

For each KnowledgeGroup manifest, its files (with sizes and hashes) are diffed
against the group's live documents and what the state recorded
(`engine.documents`); a live document of the same name that personactl never
recorded and has the same size is downloaded once and hashed, so an imported
or adopted group is matched, not uploaded again. A group the prune would delete
is kept while a live tool still searches it.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

from personactl.anam.api import AnamApi
from personactl.anam.liveset import LiveSet
from personactl.engine import plan as p
from personactl.engine.documents import diff_documents
from personactl.engine.state import State
from personactl.manifest.documents import local_documents
from personactl.manifest.render import Rendered

GROUP = "KnowledgeGroup"
CHUNKING = ("chunkSize", "chunkOverlap")


def upload_params(spec: dict[str, Any]) -> dict[str, int]:
    return {k: spec[k] for k in CHUNKING if isinstance(spec.get(k), int)}


def attach_documents(
    plan: p.Plan,
    rendered: list[Rendered],
    live: LiveSet,
    state: State | None,
    root: Path,
    api: AnamApi,
    prune: bool,
) -> None:
    """Add each group's document changes (and drift) to its ResourceChange."""
    changes = {(c.kind, c.name): c for c in plan.changes if c.action != p.Action.DELETE}
    for r in rendered:
        rc = changes.get((GROUP, r.name))
        if r.kind != GROUP or rc is None:
            continue
        local = local_documents(r.resource, root)
        matched = live.matched.get((GROUP, r.name))
        docs = live.documents.get(matched.id, []) if matched else []
        entry = state.find(GROUP, r.name) if state else None
        recorded = entry.documents if entry and matched and entry.id == matched.id else {}
        recorded_ids = {str(d.get("id")) for d in recorded.values()}
        sizes = {f.filename: f.size for f in local}
        unknown = [
            str(d["id"])
            for d in docs
            if str(d.get("id")) not in recorded_ids
            and sizes.get(str(d.get("filename"))) == d.get("fileSize")
        ]
        hashes = {}
        for ident, got in zip(
            unknown, api.map_concurrent(api.download_document, unknown), strict=True
        ):
            hashes[ident] = "sha256:" + hashlib.sha256(got.unwrap()).hexdigest()
        spec = r.data.get("spec") or {}
        diff = diff_documents(
            r.name, local, docs, recorded, upload_params(spec), prune=prune, hashes=hashes
        )
        rc.documents = diff.changes
        rc.drift += diff.drift
        plan.warnings += diff.warnings
        if diff.acts and rc.action == p.Action.NO_OP:
            rc.action = p.Action.UPDATE


def _folder_ids(body: dict[str, Any] | None) -> list[str]:
    config = (body or {}).get("config")
    ids = config.get("documentFolderIds") if isinstance(config, dict) else None
    return [i for i in ids if isinstance(i, str)] if isinstance(ids, list) else []


def keep_used_groups(plan: p.Plan, live: LiveSet) -> None:
    """Prune never deletes a group a tool still uses once the apply is done: a tool of
    the manifests, or any live tool this plan neither deletes nor moves off it."""
    deleted = {c.id for c in plan.changes if c.kind == "Tool" and c.action == p.Action.DELETE}
    managed = {
        c.id: c.desired
        for c in plan.changes
        if c.kind == "Tool" and c.id and c.action != p.Action.DELETE
    }
    wanted = {c.name: c.desired for c in plan.changes if c.kind == "Tool" and c.desired}
    kept = []
    for c in plan.changes:
        if c.kind != GROUP or c.action != p.Action.DELETE:
            kept.append(c)
            continue
        users = [name for name, body in wanted.items() if c.id in _folder_ids(body)]
        for tool in live.catalog.tools:
            ident = str(tool.get("id"))
            if ident in deleted or ident in managed or c.id not in _folder_ids(tool):
                continue
            users.append(str(tool.get("name")))
        if users:
            plan.warnings.append(
                f"KnowledgeGroup {c.name!r} ({c.anam_name}) is still used by tool "
                f"{', '.join(repr(u) for u in sorted(set(users)))}: not deleted"
            )
        else:
            kept.append(c)
    plan.changes = kept
