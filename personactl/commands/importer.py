"""`personactl import`: bring live personas (and their tools) under management.

Nothing from the Lab is trusted: names become file names only as slugs,
every path is resolved and must stay inside the output folder, and every
name, path and file is checked before the first file is written. A failure
after that (a write, or the plan that records the import) removes what was
written, so the disk and the state are as they were.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from personactl.commands.options import connection_options

if TYPE_CHECKING:
    from personactl.anam.client import AnamClient
    from personactl.anam.importer import Imported, ToolRef
    from personactl.anam.resolve import Catalog
    from personactl.engine.state import StateStore
    from personactl.manifest.loader import Loaded
    from personactl.manifest.model import Environment
    from personactl.pipeline import Options


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
    from personactl.anam.client import client_for
    from personactl.core.errors import PersonactlError
    from personactl.engine.state import StateStore
    from personactl.manifest.loader import display_path, load_all
    from personactl.pipeline import Options

    if bool(ids) + bool(names) + all_ != 1:
        raise PersonactlError("name what to import: --id ID..., --name NAME... or --all")
    loaded = load_all()
    project = loaded.project
    env = project.require_environment(env_name)
    root = out_dir or project.root
    debug = bool(ctx.obj.get("debug"))
    store = StateStore(env.state_path, display_path(env.state_path), env.name)
    client = client_for(
        env, project.root, api_key=api_key, api_url=api_url, parallelism=parallelism, debug=debug
    )
    try:
        job = _prepare(client, loaded, env, store, ids, names)
    finally:
        client.close()
    if not job.items:
        _echo_notes(job.notes)
        click.echo("Nothing to import.")
        return 0
    files = _files(root, job)
    _check_targets(root, files)
    secrets = sorted({s for i in job.items for s in i.secrets})
    missing = [s for s in secrets if s not in os.environ]
    in_place = out_dir is None or out_dir.resolve() == project.root.resolve()
    imported = _count(len(job.items), "resource")
    them = "it" if len(job.items) == 1 else "them"
    if missing or not in_place:
        # Not recorded: the next plan matches them by name, as it would any live resource.
        _write(files)
        _report(job, files, secrets, env, root)
        why = (
            f"{', '.join(missing)} not set): once set"
            if in_place
            else "written outside the project's root): once among the project's manifests"
        )
        where = "" if in_place else f" into {_display(root)}"
        click.echo(
            f"Imported {imported}{where}; not recorded in the state ({why}, the next plan "
            f"matches {them} by name."
        )
        return 0
    plan = Options(
        env_name=env.name,
        targets=tuple(i.name for i in job.items),
        api_key=api_key,
        api_url=api_url,
        parallelism=parallelism,
        debug=debug,
    )
    differing = _write_and_record(files, store, plan)
    _report(job, files, secrets, env, root)
    click.echo(
        f"Imported {imported} into environment {env.name!r} and recorded {them} in "
        f"{_display(env.state_path)}."
    )
    if differing:
        click.echo(
            f"Still differing from the manifests (see `personactl plan`): {', '.join(differing)}",
            err=True,
        )
    return 0


_FOLDERS = {"Tool": "tools", "Persona": "personas"}  # where each kind's manifests go


@dataclass
class _Job:
    """What one import writes (tools first, then personas) and what it tells the user."""

    items: list[Imported] = field(default_factory=list)
    stems: dict[tuple[str, str], str] = field(default_factory=dict)  # (kind, name) -> file stem
    notes: list[str] = field(default_factory=list)  # what was skipped or referenced by id


@dataclass
class _Live:
    """The live side of one import, read once."""

    personas: list[dict[str, Any]]
    tools: list[dict[str, Any]]
    catalog: Catalog
    applied: dict[str, dict[str, Any]]  # live id -> the state's `applied`, for secrets
    counts: dict[str, int]  # live persona name -> how many personas have it


def _prepare(
    client: AnamClient,
    loaded: Loaded,
    env: Environment,
    store: StateStore,
    ids: tuple[str, ...],
    names: tuple[str, ...],
) -> _Job:
    """Read the live side and decide every manifest and file name; writes nothing."""
    from personactl.anam.importer import file_stems, persona_manifest

    live = _read(client, store)
    managed = {(r.kind, env.anam_name(r.name)) for r in loaded.resources}
    job = _Job()
    explicit = bool(ids or names)
    if explicit:
        wanted = _explicit_ids(live.personas, ids, names, env)
    else:
        wanted = _all_ids(live.personas, env, managed, job)
    chosen = _check_personas(_get_all(client, wanted, env), env, managed, live, explicit, job)

    existing = {env.anam_name(r.name): r.name for r in loaded.resources if r.kind == "Tool"}
    tools = _Tools(env, live, existing)
    stems = file_stems([name for _, name in chosen], "persona")
    built = []
    for raw, name in chosen:
        for t in raw.get("tools") or []:
            tools.ref(live.catalog.by_id(live.tools, t.get("id")) or t)
        # A shared live name gets here only by --id: pin the id in metadata.
        pin = live.counts.get(str(raw.get("name")), 0) > 1
        applied = live.applied.get(str(raw.get("id")), {})
        prompt = f"../prompts/{stems[name]}.md.j2"
        item = persona_manifest(raw, name, live.catalog, tools.refs, applied, prompt, pin)
        problem = _name_problem(str(raw.get("name"))) or _invalid(item.doc)
        if problem is None:
            built.append((raw, item))
        else:
            _refuse_or_skip(raw, problem, explicit, job)
    used = {str(t.get("id")) for raw, _ in built for t in raw.get("tools") or []}
    job.notes += [note for tid, note in tools.notes.items() if tid in used]
    job.items = [t for tid, t in tools.new.items() if tid in used] + [i for _, i in built]
    for kind in ("Tool", "Persona"):
        _unique_names(kind, [i.name for i in job.items if i.kind == kind])
    tool_stems = file_stems([i.name for i in job.items if i.kind == "Tool"], "tool")
    job.stems = {("Tool", n): s for n, s in tool_stems.items()}
    job.stems.update({("Persona", i.name): stems[i.name] for _, i in built})
    return job


def _read(client: AnamClient, store: StateStore) -> _Live:
    from personactl.anam.resolve import Catalog

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
    counts: dict[str, int] = {}
    for p in personas:
        counts[str(p.get("name"))] = counts.get(str(p.get("name")), 0) + 1
    applied = {e.id: e.applied for e in store.state.resources}
    return _Live(personas, tools, Catalog(avatars, voices, llms, knowledge, tools), applied, counts)


def _explicit_ids(
    personas: list[dict[str, Any]], ids: tuple[str, ...], names: tuple[str, ...], env: Environment
) -> list[str]:
    from personactl.core.errors import PersonactlError

    wanted = list(ids)
    for n in names:
        found = [str(p["id"]) for p in personas if p.get("name") == n]
        if not found:
            raise PersonactlError(f"no live persona is named {n!r} in environment {env.name!r}")
        if len(found) > 1:
            raise PersonactlError(
                f"{len(found)} live personas are named {n!r} ({', '.join(found)}); import by --id"
            )
        wanted.extend(found)
    return list(dict.fromkeys(wanted))


def _all_ids(
    personas: list[dict[str, Any]], env: Environment, managed: set[tuple[str, str]], job: _Job
) -> list[str]:
    """Every unmanaged persona whose name fits the environment; the others are noted."""
    from personactl.anam.importer import manifest_name

    wanted, misfits = [], []
    for p in personas:
        name = str(p.get("name"))
        if ("Persona", name) in managed:
            continue
        if manifest_name(name, env.name_prefix, env.name_suffix) is None:
            misfits.append(name)
        else:
            wanted.append(str(p["id"]))
    if misfits:
        few = ", ".join(repr(n) for n in sorted(misfits)[:5])
        more = f" and {len(misfits) - 5} more" if len(misfits) > 5 else ""
        job.notes.append(
            f"Skipped {_count(len(misfits), 'persona')} without {_affix(env)} that environment "
            f"{env.name!r} gives its names: {few}{more}."
        )
    return wanted


def _get_all(client: AnamClient, wanted: list[str], env: Environment) -> list[dict[str, Any]]:
    from personactl.anam.errors import NotFound
    from personactl.core.errors import PersonactlError

    outcomes = client.map_concurrent(lambda i: client.get_resource(f"/v1/personas/{i}"), wanted)
    raws = []
    for ident, outcome in zip(wanted, outcomes, strict=True):
        if isinstance(outcome.error, NotFound):
            raise PersonactlError(f"no persona has id {ident!r} in environment {env.name!r}")
        raws.append(outcome.unwrap())
    return raws


def _check_personas(
    raws: list[dict[str, Any]],
    env: Environment,
    managed: set[tuple[str, str]],
    live: _Live,
    explicit: bool,
    job: _Job,
) -> list[tuple[dict[str, Any], str]]:
    """(live persona, manifest name) for each whose name the environment can manage."""
    from personactl.anam.importer import manifest_name
    from personactl.core.errors import PersonactlError

    chosen = []
    for raw in raws:
        anam = str(raw.get("name"))
        if ("Persona", anam) in managed:
            raise PersonactlError(f"persona {anam!r} is already managed by a manifest")
        name = manifest_name(anam, env.name_prefix, env.name_suffix)
        if name is None:
            raise PersonactlError(
                f"cannot import persona {anam!r} ({raw.get('id')}): it lacks {_affix(env)} that "
                f"environment {env.name!r} gives its names, so that environment cannot manage "
                "it; import it into an environment it fits, or rename it in the Lab"
            )
        if live.counts.get(anam, 0) > 1 and not explicit:
            job.notes.append(
                f"Skipped persona {anam!r} ({raw.get('id')}): {live.counts[anam]} live personas "
                "have that name and a manifest stands for one; rename them apart in the Lab, "
                "or import one with --id."
            )
            continue
        chosen.append((raw, name))
    return chosen


class _Problem:
    """Why a live resource cannot become a manifest, and what the user can do."""

    def __init__(self, why: str, fix: str) -> None:
        self.why = why
        self.fix = fix


def _name_problem(anam: str) -> _Problem | None:
    from personactl.anam.importer import name_problem

    why = name_problem(anam)
    return _Problem(why, "rename it in the Lab") if why else None


def _invalid(doc: dict[str, Any]) -> _Problem | None:
    """The schema's objections to a manifest about to be written, if any."""
    from personactl.anam.importer import schema_problems

    problems = schema_problems(doc)
    if not problems:
        return None
    names_only = all(p.startswith("metadata.name:") for p in problems)
    return _Problem(
        f"its manifest would be invalid ({'; '.join(problems)})",
        "rename it in the Lab" if names_only else "change it in the Lab",
    )


def _refuse_or_skip(raw: dict[str, Any], problem: _Problem, explicit: bool, job: _Job) -> None:
    """A persona asked for by --id/--name is refused; one found by --all is skipped."""
    from personactl.core.errors import PersonactlError

    what = f"persona {str(raw.get('name'))!r} ({raw.get('id')})"
    if explicit:
        raise PersonactlError(
            f"cannot import {what}: {problem.why}; {problem.fix}, then import it again"
        )
    job.notes.append(f"Skipped {what}: {problem.why}; {problem.fix}, then import it again.")


def _unique_names(kind: str, names: list[str]) -> None:
    """Two imported resources of a kind with one manifest name would be one manifest."""
    from personactl.core.errors import PersonactlError

    twice = sorted({n for n in names if names.count(n) > 1})
    if twice:
        raise PersonactlError(
            f"more than one {kind.lower()} to import would be named {twice[0]!r}; "
            "rename them apart in the Lab"
        )


class _Tools:
    """How imported personas refer to live tools: Tool manifests, existing or new, or ids."""

    def __init__(self, env: Environment, live: _Live, existing: dict[str, str]) -> None:
        self.env = env
        self.live = live
        self.existing = existing  # Anam name -> manifest name, for tools already managed
        self.refs: dict[str, ToolRef] = {}  # live id -> reference
        self.new: dict[str, Imported] = {}  # live id -> manifest to write
        self.notes: dict[str, str] = {}  # live id -> why it is referred to by id

    def ref(self, raw: dict[str, Any]) -> None:
        from personactl.anam.importer import manifest_name, tool_manifest

        tid, anam = str(raw.get("id")), str(raw.get("name"))
        if tid in self.refs:
            return
        if anam in self.existing:
            self.refs[tid] = self.existing[anam]
            return
        env = self.env
        name = manifest_name(anam, env.name_prefix, env.name_suffix)
        if name is None:
            why = f"it lacks {_affix(env)} that environment {env.name!r} gives its names"
        else:
            item = tool_manifest(raw, name, self.live.catalog, self.live.applied.get(tid, {}))
            problem = _name_problem(anam) or _invalid(item.doc)
            if problem is None:
                self.refs[tid] = name
                self.new[tid] = item
                return
            why = problem.why
        self.refs[tid] = {"id": tid}
        self.notes[tid] = f"Tool {anam!r} is referred to by id (no manifest written): {why}."


def _files(root: Path, job: _Job) -> dict[Path, str]:
    """Every file to write, by path: manifests (with the schema modeline) and prompts."""
    from personactl.output.yamlout import dump_all

    files: dict[Path, str] = {}
    folded: set[str] = set()
    from personactl.manifest.schemas import modeline

    modelines = {kind: modeline(kind, root / _FOLDERS[kind]) for kind in _FOLDERS}
    for item in job.items:
        manifest, prompt = _paths(root, job, item)
        _add(
            files,
            folded,
            manifest,
            f"{modelines[item.kind]}\n"
            f"# Imported by personactl from the live {item.kind.lower()}.\n"
            + dump_all([item.doc]),
        )
        if item.prompt is not None:
            _add(files, folded, prompt, item.prompt)
    return files


def _add(files: dict[Path, str], folded: set[str], path: Path, text: str) -> None:
    """One file per path, also on file systems that ignore case."""
    from personactl.core.errors import PersonactlError

    if str(path).casefold() in folded:
        raise PersonactlError(
            f"two imported resources would both be written to {_display(path)}; "
            "rename one in the Lab"
        )
    folded.add(str(path).casefold())
    files[path] = text


def _paths(root: Path, job: _Job, item: Imported) -> tuple[Path, Path]:
    """Where an item's manifest and (for a Persona) its prompt go."""
    stem = job.stems[(item.kind, item.name)]
    return root / _FOLDERS[item.kind] / f"{stem}.yaml", root / "prompts" / f"{stem}.md.j2"


def _check_targets(root: Path, files: dict[Path, str]) -> None:
    """Every path resolves inside `root`, can be created, and is new; else nothing is written."""
    from personactl.core.errors import PersonactlError

    base = root.resolve()
    for path in files:
        real = path.resolve()
        if not real.is_relative_to(base):
            raise PersonactlError(
                f"{_display(path)} resolves to {real}, outside {_display(root)}: import writes "
                "only inside its output folder; remove the link or choose another --out"
            )
        blocker = next((p for p in path.parents if p.exists() and not p.is_dir()), None)
        if blocker is not None:
            raise PersonactlError(
                f"cannot write {_display(path)}: {_display(blocker)} is a file, not a folder; "
                "move it away or choose another --out"
            )
    clashes = [p for p in files if p.exists() or p.is_symlink()]
    if clashes:
        one = len(clashes) == 1
        raise PersonactlError(
            f"{', '.join(_display(p) for p in clashes)} already exist{'s' if one else ''}: "
            f"import writes new files only; move {'it' if one else 'them'} away or use --out DIR"
        )


def _write(files: dict[Path, str]) -> list[Path]:
    """Write every file, new only; on any failure remove what was written and say so."""
    from personactl.core.errors import PersonactlError

    created: list[Path] = []  # folders and files, in the order they were made
    for path, text in files.items():
        try:
            for folder in reversed(path.parents):
                if not folder.exists():
                    folder.mkdir()
                    created.append(folder)
            with path.open("x", encoding="utf-8") as handle:
                created.append(path)
                handle.write(text)
        except OSError as exc:
            _undo(created)
            raise PersonactlError(
                f"cannot write {_display(path)}: {exc.strerror}; nothing was imported"
            ) from None
    return created


def _undo(created: list[Path]) -> None:
    for path in reversed(created):
        try:
            if path.is_dir() and not path.is_symlink():
                path.rmdir()
            else:
                path.unlink()
        except OSError:
            pass  # best effort: the error that brought us here is the one to report


def _write_and_record(files: dict[Path, str], store: StateStore, plan: Options) -> list[str]:
    """Write under the state's lock, plan exactly what was imported, record what matches.

    Returns what still differs. If the plan fails, the written files are removed.
    """
    from personactl.engine.state import entry_for
    from personactl.pipeline import make_plan

    differing = []
    with store:
        created = _write(files)
        try:
            # Record them as a no-op apply would: plan exactly these, keep what matches.
            run = make_plan(plan, state=store.state)
        except BaseException:
            _undo(created)
            click.echo(
                "Import undone: planning the manifests it wrote failed, so they were removed.",
                err=True,
            )
            raise
        run.client.close()
        for change in run.plan.changes:
            if change.action != "no-op" or change.id is None:
                differing.append(f"{change.kind} {change.name!r}")
                continue
            # Nothing was sent: only the identity is recorded, and the next plan compares
            # each field with the live value.
            store.record(entry_for(change, change.id, {}, {}, change.fingerprint))
    return differing


def _report(
    job: _Job, files: dict[Path, str], secrets: list[str], env: Environment, root: Path
) -> None:
    """stderr: what was skipped or referenced by id, written, and what to do next."""
    _echo_notes(job.notes)
    for path in files:
        click.echo(f"wrote {_display(path)}", err=True)
    if secrets:
        missing = [s for s in secrets if s not in os.environ]
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
        manifest, prompt = _paths(root, job, item)
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
            f"Names in the manifests leave out {_affix(env)} of environment {env.name!r}.",
            err=True,
        )


def _echo_notes(notes: list[str]) -> None:
    for note in notes:
        click.echo(note, err=True)


def _affix(env: Environment) -> str:
    """The environment's prefix and/or suffix, as messages name them."""
    parts = []
    if env.name_prefix:
        parts.append(f"prefix {env.name_prefix!r}")
    if env.name_suffix:
        parts.append(f"suffix {env.name_suffix!r}")
    return "the " + " and the ".join(parts)


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}{'' if n == 1 else 's'}"


def _display(path: Path) -> str:
    from personactl.manifest.loader import display_path

    return display_path(path)
