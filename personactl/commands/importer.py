"""`personactl import`: bring live personas (and their tools) under management."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import click

from personactl.commands.plan import connection_options


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
    "--all", "all_", is_flag=True, help="Import every persona not yet managed in this environment."
)
@click.option(
    "--out",
    "out_dir",
    type=click.Path(file_okay=False, path_type=Path),
    help="Write the manifests under DIR (default: the project's root).",
)
@connection_options
@click.pass_context
def import_(
    ctx: click.Context,
    ids: tuple[str, ...],
    names: tuple[str, ...],
    all_: bool,
    out_dir: Path | None,
    env_name: str | None,
    api_key: str | None,
    api_url: str | None,
    parallelism: int,
) -> int:
    """Write manifests for live personas and their tools, and record them in the state.

    References are written as names where the name finds exactly that catalog
    entry; each prompt gets its own file under prompts/; the environment's
    namePrefix/nameSuffix are removed from names. Webhook headers that look
    like credentials become {{ secret("...") }} references: set those
    variables before you plan. Existing files are never overwritten. Afterwards
    `personactl plan` shows no changes for what was imported.
    """
    from personactl.anam.client import client_for
    from personactl.anam.errors import NotFound
    from personactl.anam.importer import Imported, manifest_name, persona_manifest, tool_manifest
    from personactl.anam.resolve import Catalog
    from personactl.engine.state import StateStore, entry_for
    from personactl.errors import PersonactlError
    from personactl.manifest.loader import display_path, load_all
    from personactl.output.yamlout import dump_all
    from personactl.pipeline import Options, make_plan

    if bool(ids) + bool(names) + all_ != 1:
        raise PersonactlError("name what to import: --id ID..., --name NAME... or --all")
    loaded = load_all()
    project = loaded.project
    env = project.require_environment(env_name)
    root = out_dir or project.root
    debug = bool(ctx.obj.get("debug"))
    client = client_for(
        env, project.root, api_key=api_key, api_url=api_url, parallelism=parallelism, debug=debug
    )
    try:
        paths = [
            "/v1/personas",
            "/v1/tools",
            "/v1/avatars",
            "/v1/voices",
            "/v1/llms",
            "/v1/knowledge/groups",
        ]
        listed = [o.unwrap() for o in client.map_concurrent(client.list_all, paths)]
        personas, tools, avatars, voices, llms, knowledge = listed
        catalog = Catalog(avatars, voices, llms, knowledge, tools)
        managed = {(r.kind, env.anam_name(r.name)) for r in loaded.resources}
        if ids:
            wanted = list(ids)
        elif names:
            wanted = []
            for n in names:
                found = [str(p["id"]) for p in personas if p.get("name") == n]
                if not found:
                    raise PersonactlError(
                        f"no live persona is named {n!r} in environment {env.name!r}"
                    )
                if len(found) > 1:
                    raise PersonactlError(
                        f"{len(found)} live personas are named {n!r} "
                        f"({', '.join(found)}); import by --id"
                    )
                wanted.extend(found)
        else:
            wanted = [str(p["id"]) for p in personas if ("Persona", p.get("name")) not in managed]
        outcomes = client.map_concurrent(lambda i: client.get(f"/v1/personas/{i}"), wanted)
        raws = []
        for ident, outcome in zip(wanted, outcomes, strict=True):
            if isinstance(outcome.error, NotFound):
                raise PersonactlError(f"no persona has id {ident!r} in environment {env.name!r}")
            raws.append(outcome.unwrap())

        existing_tools = {
            env.anam_name(r.name): r.name for r in loaded.resources if r.kind == "Tool"
        }
        tool_names: dict[str, str] = {}
        new_tools: list[Imported] = []
        for raw in raws:
            for t in raw.get("tools") or []:
                tid, tname = str(t.get("id")), str(t.get("name"))
                if tid in tool_names:
                    continue
                if tname in existing_tools:
                    tool_names[tid] = existing_tools[tname]
                    continue
                full = catalog.by_id(tools, tid) or t
                name = manifest_name(tname, env.name_prefix, env.name_suffix)
                tool_names[tid] = name
                new_tools.append(tool_manifest(full, name, catalog))
        new_personas = []
        for raw in raws:
            anam = str(raw.get("name"))
            if ("Persona", anam) in managed:
                raise PersonactlError(f"persona {anam!r} is already managed by a manifest")
            name = manifest_name(anam, env.name_prefix, env.name_suffix)
            new_personas.append(persona_manifest(raw, name, catalog, tool_names))

        written = _write(root, new_tools + new_personas, dump_all)
        for path in written:
            click.echo(f"wrote {display_path(path)}", err=True)
        secrets = sorted({s for t in new_tools for s in t.secrets})
        if secrets:
            click.echo(
                f"Webhook credentials were not written: set {', '.join(secrets)} "
                "to their values before you plan.",
                err=True,
            )
    finally:
        client.close()

    imported = [(i.kind, i.name) for i in new_tools + new_personas]
    if not imported:
        click.echo("Nothing to import.")
        return 0
    missing = [s for s in secrets if s not in os.environ]
    if missing or out_dir is not None:
        why = (
            f"{', '.join(missing)} not set"
            if missing
            else "the manifests were written outside the project"
        )
        click.echo(
            f"Imported {len(imported)} resources; not recorded in the state ({why}): "
            "the next apply adopts them by name."
        )
        return 0
    # Record them as a no-op apply would: plan exactly these, keep what matches.
    run = make_plan(
        Options(
            env_name=env.name,
            targets=tuple(n for _, n in imported),
            api_key=api_key,
            api_url=api_url,
            parallelism=parallelism,
            debug=debug,
        )
    )
    run.client.close()
    store = StateStore(env.state_path, display_path(env.state_path), env.name)
    differing = []
    with store:
        for change in run.plan.changes:
            if change.action != "no-op" or change.id is None:
                differing.append(f"{change.kind} {change.name!r}")
                continue
            # Nothing was sent: only the identity is recorded, and the next plan compares
            # each field with the live value.
            store.record(entry_for(change, change.id, {}, {}, change.fingerprint))
    click.echo(
        f"Imported {len(imported)} resources into environment {env.name!r} and recorded "
        f"them in {display_path(env.state_path)}."
    )
    if differing:
        click.echo(
            f"Still differing from the manifests (see `personactl plan`): {', '.join(differing)}",
            err=True,
        )
    return 0


def _write(root: Path, items: list[Any], dump: Any) -> list[Path]:
    from personactl.errors import PersonactlError

    files: dict[Path, str] = {}
    for item in items:
        folder = "personas" if item.kind == "Persona" else "tools"
        files[root / folder / f"{item.name}.yaml"] = (
            f"# Imported by personactl from the live {item.kind.lower()}.\n" + dump([item.doc])
        )
        if item.prompt is not None:
            files[root / "prompts" / f"{item.name}.md.j2"] = item.prompt
    clashes = [p for p in files if p.exists()]
    if clashes:
        raise PersonactlError(
            f"{', '.join(str(p) for p in clashes)} already exist: import writes new files only; "
            "move them away or use --out DIR"
        )
    for path, text in files.items():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    return list(files)
