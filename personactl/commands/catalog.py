"""`personactl catalog KIND`: list what manifests can reference, with names and ids."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import click

from personactl.commands.options import api_options, output_option

if TYPE_CHECKING:
    from personactl.usecases.connect import ApiOptions

# the use case's, repeated: `--help` must not import it (nor httpx with it)
KINDS = ("avatars", "voices", "llms", "tools", "knowledge")

Item = dict[str, Any]


@dataclass(frozen=True)
class Column:
    header: str  # in the table
    key: str  # in `-o json`
    get: Callable[[Item], object]


def _field(name: str) -> Callable[[Item], object]:
    return lambda item: item.get(name)


def _voice_family(item: Item) -> object:
    from personactl.core.voice_families import family_for_voice

    family = family_for_voice(item.get("provider"), item.get("providerModelId"))
    return family.value if family is not None else None


_NAME = Column("NAME", "name", _field("displayName"))
_ID = Column("ID", "id", _field("id"))

# What each kind's table (and `-o json` object) shows.
LISTINGS: dict[str, tuple[Column, ...]] = {
    "avatars": (
        _NAME,
        Column("VARIANT", "variant", _field("variantName")),
        Column("VERSIONS", "availableVersions", _field("availableVersions")),
        _ID,
    ),
    "voices": (
        _NAME,
        Column("PROVIDER", "provider", _field("provider")),
        Column("MODEL", "model", _field("providerModelId")),
        Column("COUNTRY", "country", _field("country")),
        Column("FAMILY", "family", _voice_family),
        _ID,
    ),
    "llms": (
        _NAME,
        Column("MODEL", "modelName", _field("modelName")),
        Column("FORMAT", "format", _field("llmFormat")),
        _ID,
    ),
    "tools": (Column("NAME", "name", _field("name")), Column("TYPE", "type", _field("type")), _ID),
    "knowledge": (
        Column("NAME", "name", _field("name")),
        Column("DOCUMENTS", "documentCount", _field("documentCount")),
        _ID,
    ),
}


@click.command()
@click.argument("kind", type=click.Choice(KINDS), metavar="KIND")
@click.option("--search", help="Only entries whose name contains TEXT.", metavar="TEXT")
@output_option(("table", "json"), "An aligned table, or a JSON list of objects.")
@api_options
def catalog(kind: str, api: ApiOptions, search: str | None, fmt: str) -> None:
    """List what a manifest can name: KIND is avatars, voices, llms, tools or knowledge.

    Shows the names and ids the environment's API lists (the built-in
    emulator's for a sandbox environment), so a manifest can say
    `voice: {name: ...}` or `avatar: {name: ..., variant: ...}`. Voices show
    their provider family, which decides the voiceGeneration options.
    """
    from personactl.usecases.catalog import catalog as list_catalog

    listed = list_catalog(kind, api, search=search)
    columns = LISTINGS[kind]
    rows = [[column.get(item) for column in columns] for item in listed.items]
    if fmt == "json":
        import json

        objects = [{c.key: v for c, v in zip(columns, row, strict=True)} for row in rows]
        click.echo(json.dumps(objects, indent=2, ensure_ascii=False))
        return
    if not rows:
        where = f"matching {search!r} " if search else ""
        click.echo(f"no {kind} {where}in environment {listed.env.name!r}", err=True)
        return
    from personactl.output.table import format_table

    click.echo(format_table([c.header for c in columns], rows), nl=False)
