"""`personactl validate`: offline checks, fit for pre-commit."""

from __future__ import annotations

import click

from personactl.commands.options import every_env_option


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
    directories; pre-commit passes the changed files), reports problems in
    those files only, still resolving references against the whole project.
    YAML files that hold no personactl document are skipped.

    Each environment is composed (patches, name prefix) and rendered with
    placeholder secrets, then checked against the JSON Schemas and the
    semantic rules (tool references, prompt files, undefined template
    variables, ISO 639-1 language codes, patch targets).

    Exit status: 0 when clean, 1 when there are errors.
    """
    from personactl.manifest.checks import check
    from personactl.manifest.loader import load_all, no_manifests_error
    from personactl.output import diagnostics as view

    loaded = load_all(paths)
    if not loaded.resources and not paths and not loaded.diagnostics:
        raise no_manifests_error(loaded.project)
    envs = None
    if env_name is not None:
        env = loaded.project.environment(env_name)
        envs = [env]
    result = check(loaded, envs)
    diags = result.diagnostics
    checked = (
        len(loaded.requested) - len(loaded.skipped)
        if paths
        else (len({r.path for r in loaded.resources}) + (1 if loaded.project.file else 0))
    )
    if fmt == "json":
        click.echo(view.as_json(diags), nl=False)
        click.echo(view.summary(diags, checked, len(loaded.skipped)), err=True)
    elif fmt == "github":
        click.echo(view.github(diags), nl=False)
        click.echo(view.summary(diags, checked, len(loaded.skipped)), err=True)
    else:
        click.echo(view.text(diags), nl=False)
        click.echo(view.summary(diags, checked, len(loaded.skipped)))
    return 1 if diags else 0
