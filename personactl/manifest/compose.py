"""Compose stage: apply an environment to the resources.

Environment patches are JSON Merge Patches (RFC 7386) applied to the whole
resource document. Every value a patch sets keeps the patch's location in
personactl.yaml, so an out-of-range value points at the line that set it.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from personactl.core.errors import Diagnostic, Location
from personactl.core.suggest import did_you_mean
from personactl.manifest.model import Environment, Project, Resource
from personactl.manifest.yamlsource import KeyPath


def merge_patch(target: Any, patch: Any) -> Any:
    """RFC 7386: objects merge key by key, null deletes, anything else replaces."""
    if not isinstance(patch, dict):
        return patch
    result = dict(target) if isinstance(target, dict) else {}
    for key, value in patch.items():
        if value is None:
            result.pop(key, None)
        else:
            result[key] = merge_patch(result.get(key), value)
    return result


def _patch_locations(
    patch: Any, at: KeyPath, patch_at: KeyPath, project: Project, out: dict[KeyPath, Location]
) -> None:
    assert project.doc is not None
    out[at] = project.doc.loc(patch_at)
    if isinstance(patch, dict):
        for key, value in patch.items():
            _patch_locations(value, at + (key,), patch_at + (key,), project, out)
    elif isinstance(patch, list):
        for i, value in enumerate(patch):
            _patch_locations(value, at + (i,), patch_at + (i,), project, out)


def compose(
    resources: list[Resource],
    project: Project,
    env: Environment | None,
    unresolved: dict[str, list[Diagnostic]] | None = None,
) -> tuple[list[Resource], list[Diagnostic]]:
    """The resources as the environment sees them, and problems with its patches.

    `unresolved`: names a file that failed to load may define, with its errors; a
    patch naming one reports those errors (the root cause), not "no manifest"."""
    if env is None or not env.patches:
        return resources, []
    assert project.doc is not None
    by_key = {(r.kind, r.name): i for i, r in enumerate(resources)}
    out = list(resources)
    diags: list[Diagnostic] = []
    for patch in env.patches:
        name_path = patch.keypath[:-1] + ("name",)
        index = by_key.get((patch.kind, patch.name))
        if index is None and unresolved and patch.name in unresolved:
            diags.extend(unresolved[patch.name])
            continue
        if index is None:
            names = sorted(r.name for r in resources if r.kind == patch.kind)
            hint = did_you_mean(patch.name, names)
            diags.append(
                Diagnostic.at(
                    project.doc.loc(name_path),
                    f"environment {env.name!r} patches {patch.kind} {patch.name!r}, "
                    f"but no manifest defines it{hint}",
                    "patch-target",
                )
            )
            continue
        meta = patch.patch.get("metadata")
        if isinstance(meta, dict) and ("name" in meta or "id" in meta):
            key = "name" if "name" in meta else "id"
            diags.append(
                Diagnostic.at(
                    project.doc.loc(patch.keypath + ("metadata", key)),
                    f"a patch cannot change metadata.{key}: it is the resource's identity",
                    "patch-identity",
                )
            )
            continue
        res = out[index]
        overlay = dict(res.overlay)
        _patch_locations(patch.patch, (), patch.keypath, project, overlay)
        del overlay[()]  # the document root keeps its own location
        out[index] = replace(res, data=merge_patch(res.data, patch.patch), overlay=overlay)
    return out, diags
