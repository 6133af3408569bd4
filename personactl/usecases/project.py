"""What several use cases start from: the project of the working directory, its manifests."""

from __future__ import annotations

from pathlib import Path

from personactl.core.errors import PersonactlError
from personactl.manifest.loader import (
    Loaded,
    find_project_root,
    load_all,
    load_project,
    no_manifests_error,
)
from personactl.manifest.model import Environment, Project
from personactl.manifest.render import Rendered


def project_here() -> Project:
    """The project above the working directory, without its manifests (not needed)."""
    project, _ = load_project(find_project_root(Path.cwd()))
    return project


def manifests() -> Loaded:
    """The project and its manifests; none at all is an error that says where it looked."""
    loaded = load_all()
    if not loaded.resources and not loaded.diagnostics:
        raise no_manifests_error(loaded.project)
    return loaded


def find_persona(items: list[Rendered], name: str, env: Environment | None) -> Rendered:
    """The rendered Persona `name`, else an error listing the known ones."""
    for r in items:
        if r.kind == "Persona" and r.name == name:
            return r
    known = sorted(r.name for r in items if r.kind == "Persona")
    where = f" in environment {env.name!r}" if env else ""
    raise PersonactlError(f"no Persona named {name!r}{where} (known: {', '.join(known) or 'none'})")
