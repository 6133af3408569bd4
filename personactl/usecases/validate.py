"""The validate use case: the diagnostics of the project, or of the files named.

Shared by `commands/validate.py` (click) and the fast path in `cli.py`, which
runs `personactl validate` without importing click (pre-commit runs it often).
"""

from __future__ import annotations

import contextlib
from collections.abc import Sequence
from dataclasses import dataclass

from personactl.core.errors import Diagnostic
from personactl.manifest.loader import Loaded, load_all, load_paths, no_manifests_error


@dataclass
class Validated:
    diagnostics: list[Diagnostic]  # sorted, each once
    checked: int  # files checked
    skipped: int  # files named that hold no personactl document


def validate(
    paths: Sequence[str], env_name: str | None, invoked_from: str, pre_commit: bool = False
) -> Validated:
    """Check the project of the working directory (no `paths`), or each path against its
    own project; `paths` and the messages are relative to `invoked_from`."""
    # Imported before loading (the checks need it next): a prescan child may still be
    # surveying the project then (manifest/prescan.py), and this process would only wait.
    import personactl.manifest.checks  # noqa: F401

    if not paths:
        loaded = load_all()
        if not loaded.resources and not loaded.diagnostics:
            raise no_manifests_error(loaded.project, takes_paths=True)
        return Validated(_check(loaded, env_name), loaded.files_checked(), 0)
    # Paths and messages are relative to where the user ran personactl (before -C).
    with contextlib.chdir(invoked_from):
        found = load_paths(paths, pre_commit=pre_commit)
        diags = list(found.diagnostics)
        groups = found.groups
        for loaded in groups:
            diags.extend(_check(loaded, env_name))
    checked = sum(g.files_checked() for g in groups)
    skipped = len(found.skipped) + sum(len(g.skipped) for g in groups)
    return Validated(sorted(set(diags)), checked, skipped)


def _check(loaded: Loaded, env_name: str | None) -> list[Diagnostic]:
    from personactl.manifest.checks import check

    envs = None if env_name is None else [loaded.project.environment(env_name)]
    return check(loaded, envs).diagnostics
