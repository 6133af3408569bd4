"""`personactl catalog KIND`: list what manifests can reference, with names and ids."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from personactl.anam.kinds import NO_LLM as NO_LLM_ID
from personactl.commands.options import api_options

if TYPE_CHECKING:
    from personactl.manifest.model import Environment

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


@dataclass(frozen=True)
class Listing:
    path: str
    columns: tuple[Column, ...]
    server_search: bool = True  # False: the endpoint takes no `search`, filter here


_NAME = Column("NAME", "name", _field("displayName"))
_ID = Column("ID", "id", _field("id"))

LISTINGS: dict[str, Listing] = {
    "avatars": Listing(
        "/v1/avatars",
        (
            _NAME,
            Column("VARIANT", "variant", _field("variantName")),
            Column("VERSIONS", "availableVersions", _field("availableVersions")),
            _ID,
        ),
    ),
    "voices": Listing(
        "/v1/voices",
        (
            _NAME,
            Column("PROVIDER", "provider", _field("provider")),
            Column("MODEL", "model", _field("providerModelId")),
            Column("COUNTRY", "country", _field("country")),
            Column("FAMILY", "family", _voice_family),
            _ID,
        ),
    ),
    "llms": Listing(
        "/v1/llms",
        (
            _NAME,
            Column("MODEL", "modelName", _field("modelName")),
            Column("FORMAT", "format", _field("llmFormat")),
            _ID,
        ),
    ),
    "tools": Listing(
        "/v1/tools",
        (Column("NAME", "name", _field("name")), Column("TYPE", "type", _field("type")), _ID),
    ),
    "knowledge": Listing(
        "/v1/knowledge/groups",
        (
            Column("NAME", "name", _field("name")),
            Column("DOCUMENTS", "documentCount", _field("documentCount")),
            _ID,
        ),
        server_search=False,
    ),
}

# what `llm: CUSTOMER_CLIENT_V1` means; the API does not list it
NO_LLM: Item = {
    "displayName": "no LLM (the client brings its own)",
    "modelName": None,
    "llmFormat": None,
    "id": NO_LLM_ID,
}


@click.command()
@click.argument("kind", type=click.Choice(KINDS), metavar="KIND")
@click.option("--search", help="Only entries whose name contains TEXT.", metavar="TEXT")
@click.option(
    "-o",
    "--output",
    "fmt",
    type=click.Choice(["table", "json"]),
    default="table",
    show_default=True,
    help="An aligned table, or a JSON list of objects.",
)
@api_options
@click.pass_context
def catalog(
    ctx: click.Context,
    kind: str,
    env_name: str | None,
    search: str | None,
    fmt: str,
    api_key: str | None,
    api_url: str | None,
) -> None:
    """List what a manifest can name: KIND is avatars, voices, llms, tools or knowledge.

    Shows the names and ids the environment's API lists (the built-in
    emulator's for a sandbox environment), so a manifest can say
    `voice: {name: ...}` or `avatar: {name: ..., variant: ...}`. Voices show
    their provider family, which decides the voiceGeneration options.
    """
    from personactl.anam.client import client_for

    env, root = _environment(env_name)
    listing = LISTINGS[kind]
    debug = bool((ctx.obj or {}).get("debug", False))
    params = {"search": search} if search and listing.server_search else None
    with client_for(env, root, api_key=api_key, api_url=api_url, debug=debug) as client:
        items = client.list_all(listing.path, params)
    if kind == "llms":
        items = [*items, NO_LLM]
    if search and (not listing.server_search or kind == "llms"):
        items = [item for item in items if _matches(item, search)]
    rows = [[column.get(item) for column in listing.columns] for item in items]
    if fmt == "json":
        import json

        objects = [{c.key: v for c, v in zip(listing.columns, row, strict=True)} for row in rows]
        click.echo(json.dumps(objects, indent=2, ensure_ascii=False))
        return
    if not rows:
        where = f"matching {search!r} " if search else ""
        click.echo(f"no {kind} {where}in environment {env.name!r}", err=True)
        return
    from personactl.output.table import format_table

    click.echo(format_table([c.header for c in listing.columns], rows), nl=False)


def _matches(item: Item, search: str) -> bool:
    needle = search.casefold()
    names = (item.get("displayName"), item.get("name"), item.get("id"))
    return any(isinstance(n, str) and needle in n.casefold() for n in names)


def _environment(env_name: str | None) -> tuple[Environment, Path]:
    """The environment to ask and the project root, from the personactl.yaml above cwd."""
    from personactl.core.errors import PersonactlError
    from personactl.manifest.loader import find_project_root, load_project
    from personactl.manifest.model import PROJECT_FILE

    root = find_project_root(Path.cwd())
    if root is None:
        raise PersonactlError(
            f"no {PROJECT_FILE} in {Path.cwd()} or its parents; "
            "run in a personactl project or pass -C DIR"
        )
    project, _ = load_project(root)  # the manifests themselves are not needed here
    return project.require_environment(env_name), project.root
