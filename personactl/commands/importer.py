"""`personactl import`: bring live personas (and their tools) under management.

What is written, checked and recorded: `personactl.usecases.importer`; this
says what happened.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import click

from personactl.commands.options import connection_options

if TYPE_CHECKING:
    from personactl.usecases.connect import ApiOptions
    from personactl.usecases.importer import Imports


@click.command("import")
@click.option("--id", "ids", multiple=True, metavar="ID", help="Import this persona (repeatable).")
@click.option(
    "--name",
    "names",
    multiple=True,
    metavar="NAME",
    help="Import the persona with this Anam name (repeatable).",
)
@click.option(
    "--all",
    "all_",
    is_flag=True,
    help="Import every persona not yet managed whose name fits the environment's prefix/suffix.",
)
@click.option(
    "--out",
    "out_dir",
    type=click.Path(file_okay=False, path_type=Path),
    help="Write the manifests under DIR (default: the project's root).",
)
@connection_options
def import_(
    ids: tuple[str, ...], names: tuple[str, ...], all_: bool, out_dir: Path | None, api: ApiOptions
) -> int:
    """Write manifests for live personas and their tools, and record them in the state.

    References are written as names where the name finds exactly that catalog
    entry; each prompt gets its own file under prompts/; the environment's
    namePrefix/nameSuffix are removed from names, and personas (or tools)
    whose names lack them are skipped (or referenced by id): that environment
    could not manage them. File names are safe slugs of the live names; the
    real name stays in metadata.name. Secrets never reach the files: texts
    that held {{ secret("X") }} when last applied get it back, and webhook
    headers that look like credentials become {{ secret("...") }} references:
    set those variables before you plan. Existing files are never
    overwritten, and a failure writes nothing. Afterwards `personactl plan`
    shows no changes for what was imported.
    """
    from personactl.usecases.importer import import_personas, plural

    done = import_personas(
        api,
        ids=ids,
        names=names,
        all_=all_,
        out_dir=out_dir,
        warn=lambda text: click.echo(text, err=True),
    )
    job, env = done.job, done.env
    if not job.items:
        _echo_notes(job.notes)
        click.echo("Nothing to import.")
        return 0
    _report(done)
    imported = plural(len(job.items), "resource")
    them = "it" if len(job.items) == 1 else "them"
    if not done.recorded:
        why = (
            f"{', '.join(done.missing)} not set): once set"
            if done.in_place
            else "written outside the project's root): once among the project's manifests"
        )
        where = "" if done.in_place else f" into {_display(done.root)}"
        click.echo(
            f"Imported {imported}{where}; not recorded in the state ({why}, the next plan "
            f"matches {them} by name."
        )
        return 0
    click.echo(
        f"Imported {imported} into environment {env.name!r} and recorded {them} in "
        f"{_display(env.state_path)}."
    )
    if done.differing:
        click.echo(
            "Still differing from the manifests (see `personactl plan`): "
            f"{', '.join(done.differing)}",
            err=True,
        )
    return 0


def _report(done: Imports) -> None:
    """stderr: what was skipped or referenced by id, written, and what to do next."""
    from personactl.usecases.importer import affix, item_paths

    job, files, secrets, env, root = done.job, done.files, done.secrets, done.env, done.root
    _echo_notes(job.notes)
    for path in files:
        click.echo(f"wrote {_display(path)}", err=True)
    if secrets:
        missing = done.missing
        todo = (
            f"; set {', '.join(missing)} to {'its value' if len(missing) == 1 else 'their values'}"
            " before you plan"
            if missing
            else ""
        )
        click.echo(
            f"Secrets were not written: the manifests read {', '.join(secrets)} from the "
            f"environment{todo}.",
            err=True,
        )
    for item in job.items:
        manifest, prompt = item_paths(root, job, item)
        for label, names in item.changed:
            file = prompt if label == "prompt" else manifest
            secret = "secret" if len(names) == 1 else "secrets"
            click.echo(
                f"Warning: the {label} of {item.kind.lower()} {item.name!r} held the {secret} "
                f"{', '.join(names)} when last applied and has changed since: it was written as "
                f"it is, so check {_display(file)} for secrets before you commit it.",
                err=True,
            )
    if env.name_prefix or env.name_suffix:
        click.echo(
            f"Names in the manifests leave out {affix(env)} of environment {env.name!r}.",
            err=True,
        )


def _echo_notes(notes: list[str]) -> None:
    for note in notes:
        click.echo(note, err=True)


def _display(path: Path) -> str:
    from personactl.manifest.loader import display_path

    return display_path(path)
