"""`personactl validate`: offline checks, fit for pre-commit."""

from __future__ import annotations

import contextlib
import os
from typing import TYPE_CHECKING

import click

from personactl.commands.options import every_env_option

if TYPE_CHECKING:
    from personactl.core.errors import Diagnostic
    from personactl.manifest.loader import Loaded


@click.command()
@click.argument("paths", nargs=-1, type=click.Path())
@every_env_option
@click.option(
    "-o",
    "--output",
    "fmt",
    type=click.Choice(["text", "json", "github"]),
    default="text",
    show_default=True,
    help="text: path:line:col: message; json: a list of objects; "
    "github: GitHub Actions annotations.",
)
def validate(paths: tuple[str, ...], env_name: str | None, fmt: str) -> int:
    """Check manifests offline and report every error in one run.

    With no PATHS, checks the project in the current directory (see -C): its
    personactl.yaml and every manifest its globs name. With PATHS (files or
    directories; pre-commit passes the changed files), each path is checked
    against its own project, found by walking up from it, and problems are
    reported in those files only, still resolving references against the
    whole project. Any other file in a project (a prompt template, a partial)
    stands for its whole project. PATHS are relative to the directory
    personactl was started in, even with -C, and so are the messages. YAML
    files that hold no personactl document are skipped.

    Each environment is composed (patches, name prefix) and rendered with
    placeholder secrets, then checked against the JSON Schemas and the
    semantic rules (tool references, prompt files, undefined template
    variables, ISO 639-1 language codes, patch targets, webhook URLs).

    Exit status: 0 when clean, 1 when there are errors.
    """
    from personactl.manifest.loader import load_all, load_paths, no_manifests_error

    if not paths:
        loaded = load_all()
        if not loaded.resources and not loaded.diagnostics:
            raise no_manifests_error(loaded.project, takes_paths=True)
        diags = _check(loaded, env_name)
        _report(diags, fmt, loaded.files_checked(), 0)
        return 1 if diags else 0
    # Paths and messages are relative to where the user ran personactl (before -C).
    with contextlib.chdir(_invoked_from()):
        # pre-commit sets PRE_COMMIT=1 for its hooks.
        found = load_paths(paths, pre_commit=os.environ.get("PRE_COMMIT") == "1")
        diags = list(found.diagnostics)
        groups = found.groups
        for loaded in groups:
            diags.extend(_check(loaded, env_name))
    checked = sum(g.files_checked() for g in groups)
    skipped = len(found.skipped) + sum(len(g.skipped) for g in groups)
    diags = sorted(set(diags))
    _report(diags, fmt, checked, skipped)
    return 1 if diags else 0


def _invoked_from() -> str:
    ctx = click.get_current_context(silent=True)
    obj = ctx.obj if ctx is not None and isinstance(ctx.obj, dict) else {}
    return str(obj.get("invoked_from") or os.getcwd())


def _check(loaded: Loaded, env_name: str | None) -> list[Diagnostic]:
    from personactl.manifest.checks import check

    envs = None if env_name is None else [loaded.project.environment(env_name)]
    return check(loaded, envs).diagnostics


def _report(diags: list[Diagnostic], fmt: str, checked: int, skipped: int) -> None:
    from personactl.output import diagnostics as view

    if fmt == "json":
        click.echo(view.as_json(diags), nl=False)
    elif fmt == "github":
        click.echo(view.github(diags), nl=False)
    else:
        click.echo(view.text(diags), nl=False)
    # The summary is payload in text form; beside JSON or annotations it is a note.
    click.echo(view.summary(diags, checked, skipped), err=fmt != "text")
