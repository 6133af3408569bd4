"""`personactl validate`: offline checks, fit for pre-commit."""

from __future__ import annotations

import os

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
    from personactl.output.diagnostics import report
    from personactl.usecases.validate import validate as run

    # pre-commit sets PRE_COMMIT=1 for its hooks.
    result = run(paths, env_name, _invoked_from(), os.environ.get("PRE_COMMIT") == "1")
    out, err = report(result.diagnostics, fmt, result.checked, result.skipped)
    click.echo(out, nl=False)
    click.echo(err, nl=False, err=True)
    return 1 if result.diagnostics else 0


def _invoked_from() -> str:
    ctx = click.get_current_context(silent=True)
    obj = ctx.obj if ctx is not None and isinstance(ctx.obj, dict) else {}
    return str(obj.get("invoked_from") or os.getcwd())
