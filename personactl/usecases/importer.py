"""The import use case: bring live personas (and their tools) under management.

Nothing from the Lab is trusted: names become file names only as slugs,
every path is resolved and must stay inside the output folder, and every
name, path and file is checked before the first file is written. A failure
after that (a write, or the plan that records the import) removes what was
written, so the disk and the state are as they were.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from personactl.anam.api import AnamApi
from personactl.anam.errors import NotFound
from personactl.anam.importer import (
    Imported,
    ToolRef,
    document_problem,
    file_stems,
    group_manifest,
    llm_manifest,
    manifest_name,
    name_problem,
    persona_manifest,
    schema_problems,
    tool_manifest,
)
from personactl.anam.kinds import is_custom_llm
from personactl.anam.resolve import Catalog
from personactl.core.errors import PersonactlError
from personactl.engine.state import StateStore, entry_for
from personactl.manifest.loader import Loaded, display_path, load_all
from personactl.manifest.model import Environment
from personactl.manifest.schemas import modeline
from personactl.output.yamlout import dump_all
from personactl.usecases.connect import ApiOptions, Connect, connect
from personactl.usecases.plan import Options, make_plan
from personactl.usecases.state import store_for


@dataclass
class Imports:
    """What one import did: the files it wrote, whether they were recorded in the state."""

    job: Job
    env: Environment
    root: Path  # where the files went
    files: dict[Path, str | bytes]  # path -> content, in the order written
    secrets: list[str]  # the variables the manifests read their secrets from
    missing: list[str]  # those of them not set
    in_place: bool  # written among the project's manifests
    recorded: bool = False  # recorded in the environment's state
    differing: list[str] = field(default_factory=list)  # recorded, still not matching


def import_personas(
    api: ApiOptions,
    *,
    ids: tuple[str, ...] = (),
    names: tuple[str, ...] = (),
    all_: bool = False,
    out_dir: Path | None = None,
    warn: Callable[[str], None],
    connect: Connect = connect,
) -> Imports:
    """Write manifests for the live personas named (by id, by name, or all that fit the
    environment) and their tools; record them in the state when they were written among
    the project's manifests and every secret they read is set. `job.items` empty: nothing
    to import, nothing written."""
    if bool(ids) + bool(names) + all_ != 1:
        raise PersonactlError("name what to import: --id ID..., --name NAME... or --all")
    loaded = load_all()
    project = loaded.project
    env = project.require_environment(api.env_name)
    root = out_dir or project.root
    store = store_for(env, operation="import")
    client = api.client(env, project.root, connect)
    try:
        job = _prepare(AnamApi(client), loaded, env, store, ids, names, all_)
    finally:
        client.close()
    if not job.items:
        return Imports(job, env, root, {}, [], [], in_place=True)
    files = _files(root, job)
    _check_targets(root, files)
    secrets = sorted({s for i in job.items for s in i.secrets})
    missing = [s for s in secrets if s not in os.environ]
    in_place = out_dir is None or out_dir.resolve() == project.root.resolve()
    done = Imports(job, env, root, files, secrets, missing, in_place)
    if missing or not in_place:
        # Not recorded: the next plan matches them by name, as it would any live resource.
        _write(files)
        return done
    plan = Options(replace(api, env_name=env.name), targets=tuple(i.name for i in job.items))
    done.differing = _write_and_record(files, store, plan, warn, connect)
    done.recorded = True
    return done


# where each kind's manifests go
FOLDERS = {
    "LLM": "llms",
    "KnowledgeGroup": "knowledge-groups",
    "Tool": "tools",
    "Persona": "personas",
}
DOCUMENTS = "knowledge"  # a group's documents go to knowledge/<group>/


@dataclass
class Job:
    """What one import writes (LLMs and tools first, then personas) and what it tells the
    user."""

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
    api: AnamApi,
    loaded: Loaded,
    env: Environment,
    store: StateStore,
    ids: tuple[str, ...],
    names: tuple[str, ...],
    all_: bool = False,
) -> Job:
    """Read the live side and decide every manifest and file name; writes nothing (a
    group's documents are downloaded, to be written with it)."""

    live = _read(api, store)
    managed = {(r.kind, env.anam_name(r.name)) for r in loaded.resources}
    job = Job()
    explicit = bool(ids or names)
    if explicit:
        wanted = _explicit_ids(live.personas, ids, names, env)
    else:
        wanted = _all_ids(live.personas, env, managed, job)
    chosen = _check_personas(_get_all(api, wanted, env), env, managed, live, explicit, job)

    existing = {env.anam_name(r.name): r.name for r in loaded.resources if r.kind == "Tool"}
    tools = _Tools(env, live, existing)
    llms = _llms(env, live, loaded, [raw for raw, _ in chosen], explicit, job)
    llm_names = {ident: item.name for ident, item in llms.items()}
    llm_names.update(_managed_llms(env, live, loaded))
    stems = file_stems([name for _, name in chosen], "persona")
    built = []
    for raw, name in chosen:
        for t in raw.get("tools") or []:
            tools.ref(live.catalog.by_id(live.tools, t.get("id")) or t)
        # A shared live name gets here only by --id: pin the id in metadata.
        pin = live.counts.get(str(raw.get("name")), 0) > 1
        applied = live.applied.get(str(raw.get("id")), {})
        prompt = f"../prompts/{stems[name]}.md.j2"
        item = persona_manifest(
            raw, name, live.catalog, tools.refs, applied, prompt, pin, llm_names
        )
        problem = _name_problem(str(raw.get("name"))) or _invalid(item.doc)
        if problem is None:
            built.append((raw, item))
        else:
            _refuse_or_skip(raw, problem, explicit, job)
    used = {str(t.get("id")) for raw, _ in built for t in raw.get("tools") or []}
    job.notes += [note for tid, note in tools.notes.items() if tid in used]
    job.items = [
        *llms.values(),
        *(t for tid, t in tools.new.items() if tid in used),
        *(i for _, i in built),
    ]
    new_tools = [tid for tid in tools.new if tid in used]
    job.items[:0] = _groups(api, loaded, env, live, job, new_tools, all_)
    for kind in FOLDERS:
        _unique_names(kind, [i.name for i in job.items if i.kind == kind])
    tool_stems = file_stems([i.name for i in job.items if i.kind == "Tool"], "tool")
    job.stems = {("Tool", n): s for n, s in tool_stems.items()}
    llm_stems = file_stems([i.name for i in job.items if i.kind == "LLM"], "llm")
    job.stems.update({("LLM", n): s for n, s in llm_stems.items()})
    job.stems.update({("Persona", i.name): stems[i.name] for _, i in built})
    group_stems = file_stems([i.name for i in job.items if i.kind == "KnowledgeGroup"], "group")
    job.stems.update({("KnowledgeGroup", n): s for n, s in group_stems.items()})
    for item in job.items:
        if item.kind == "KnowledgeGroup":
            folder = f"../{DOCUMENTS}/{group_stems[item.name]}"
            item.doc["spec"]["documents"] = [f"{folder}/{f}" for f in item.documents]
    return job


def _managed_llms(env: Environment, live: _Live, loaded: Loaded) -> dict[str, str]:
    """Live id -> LLM manifest name, for the custom LLMs the manifests already declare."""
    names = {env.anam_name(r.name): r.name for r in loaded.resources if r.kind == "LLM"}
    return {
        str(m.get("id")): names[str(m.get("displayName"))]
        for m in live.catalog.llms
        if is_custom_llm(m) and str(m.get("displayName")) in names
    }


def _llms(
    env: Environment,
    live: _Live,
    loaded: Loaded,
    personas: list[dict[str, Any]],
    explicit: bool,
    job: Job,
) -> dict[str, Imported]:
    """LLM manifests to write (live id -> manifest): the custom LLMs the imported personas
    use and, with --all, every other one the environment can manage. A custom LLM that
    cannot be a manifest here is referred to by id, and the notes say why."""
    managed = _managed_llms(env, live, loaded)
    used = {str(p.get("llmId")) for p in personas}
    out: dict[str, Imported] = {}
    for m in live.catalog.llms:
        ident, anam = str(m.get("id")), str(m.get("displayName"))
        if not is_custom_llm(m) or ident in managed:
            continue
        if explicit and ident not in used:
            continue
        name = manifest_name(anam, env.name_prefix, env.name_suffix)
        if name is None:
            if ident in used:
                job.notes.append(
                    f"LLM {anam!r} is referred to by id (no manifest written): it lacks "
                    f"{affix(env)} that environment {env.name!r} gives its names."
                )
            continue
        applied = live.applied.get(ident, {})
        item = llm_manifest(m, name, applied)
        problem = _name_problem(anam) or _invalid(item.doc)
        if problem is None:
            out[ident] = item
        elif ident in used:
            job.notes.append(
                f"LLM {anam!r} is referred to by id (no manifest written): {problem.why}."
            )
    return out


def _groups(
    api: AnamApi,
    loaded: Loaded,
    env: Environment,
    live: _Live,
    job: Job,
    tool_ids: list[str],
    all_: bool,
) -> list[Imported]:
    """KnowledgeGroup manifests for the live groups the imported tools search (and, with
    --all, every group the environment can manage), their documents downloaded; the
    tools then name them by manifest name."""
    managed = {
        env.anam_name(r.name): r.name for r in loaded.resources if r.kind == "KnowledgeGroup"
    }
    tools = {str(t.get("id")): t for t in live.tools}
    wanted: list[str] = []
    for tid in tool_ids:
        config = tools.get(tid, {}).get("config")
        folder_ids = config.get("documentFolderIds") if isinstance(config, dict) else None
        wanted += [str(g) for g in folder_ids or []]
    used = set(wanted)  # a group only --all brings is skipped quietly when it does not fit
    if all_:
        wanted += [str(g.get("id")) for g in live.catalog.knowledge]
    renames: dict[str, str] = {}  # live group name -> manifest name
    items: list[Imported] = []
    for gid in dict.fromkeys(wanted):
        raw = live.catalog.by_id(live.catalog.knowledge, gid)
        if raw is None:
            continue  # a tool's folder that no longer exists: the tool keeps naming it
        anam = str(raw.get("name"))
        if anam in managed:
            renames[anam] = managed[anam]
            continue
        name = manifest_name(anam, env.name_prefix, env.name_suffix)
        if sum(1 for g in live.catalog.knowledge if g.get("name") == anam) > 1:
            job.notes.append(f"Skipped knowledge group {anam!r} ({gid}): its name is not unique.")
            continue
        if name is None:
            if gid in used:
                job.notes.append(
                    f"Skipped knowledge group {anam!r} ({gid}): it lacks {affix(env)} that "
                    f"environment {env.name!r} gives its names."
                )
            continue
        item = group_manifest(raw, name, [])
        problem = _name_problem(anam) or _invalid(item.doc)
        if problem is not None:
            job.notes.append(f"Skipped knowledge group {anam!r} ({gid}): {problem.why}.")
            continue
        docs = api.documents(gid)
        keep: list[dict[str, Any]] = []
        for d in docs:
            filename = str(d.get("filename"))
            why = document_problem(filename)
            if why is None and filename in {str(k.get("filename")) for k in keep}:
                why = "another document of the group has the same file name"
            if why:
                job.notes.append(
                    f"Skipped document {filename!r} of knowledge group {anam!r}: {why}."
                )
            else:
                keep.append(d)
        contents = api.map_concurrent(api.download_document, [str(d["id"]) for d in keep])
        item.documents = {
            str(d["filename"]): got.unwrap() for d, got in zip(keep, contents, strict=True)
        }
        renames[anam] = name
        items.append(item)
    for item in job.items:
        config = item.doc["spec"].get("config") if item.kind == "Tool" else None
        folders = config.get("documentFolders") if isinstance(config, dict) else None
        if isinstance(config, dict) and isinstance(folders, list):
            config["documentFolders"] = [
                renames.get(f, f) if isinstance(f, str) else f for f in folders
            ]
    return items


def _read(api: AnamApi, store: StateStore) -> _Live:
    lists = ["personas", "tools", "avatars", "voices", "llms", "knowledge"]
    listed = [o.unwrap() for o in api.map_concurrent(api.listing, lists)]
    personas, tools, avatars, voices, llms, knowledge = listed
    counts: dict[str, int] = {}
    for p in personas:
        counts[str(p.get("name"))] = counts.get(str(p.get("name")), 0) + 1
    applied = {e.id: e.applied for e in store.state.resources}
    return _Live(personas, tools, Catalog(avatars, voices, llms, knowledge, tools), applied, counts)


def _explicit_ids(
    personas: list[dict[str, Any]], ids: tuple[str, ...], names: tuple[str, ...], env: Environment
) -> list[str]:

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
    personas: list[dict[str, Any]], env: Environment, managed: set[tuple[str, str]], job: Job
) -> list[str]:
    """Every unmanaged persona whose name fits the environment; the others are noted."""

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
            f"Skipped {plural(len(misfits), 'persona')} without {affix(env)} that environment "
            f"{env.name!r} gives its names: {few}{more}."
        )
    return wanted


def _get_all(api: AnamApi, wanted: list[str], env: Environment) -> list[dict[str, Any]]:
    outcomes = api.map_concurrent(api.persona, wanted)
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
    job: Job,
) -> list[tuple[dict[str, Any], str]]:
    """(live persona, manifest name) for each whose name the environment can manage."""
    chosen = []
    for raw in raws:
        anam = str(raw.get("name"))
        if ("Persona", anam) in managed:
            raise PersonactlError(f"persona {anam!r} is already managed by a manifest")
        name = manifest_name(anam, env.name_prefix, env.name_suffix)
        if name is None:
            raise PersonactlError(
                f"cannot import persona {anam!r} ({raw.get('id')}): it lacks {affix(env)} that "
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

    why = name_problem(anam)
    return _Problem(why, "rename it in the Lab") if why else None


def _invalid(doc: dict[str, Any]) -> _Problem | None:
    """The schema's objections to a manifest about to be written, if any."""

    problems = schema_problems(doc)
    if not problems:
        return None
    names_only = all(p.startswith("metadata.name:") for p in problems)
    return _Problem(
        f"its manifest would be invalid ({'; '.join(problems)})",
        "rename it in the Lab" if names_only else "change it in the Lab",
    )


def _refuse_or_skip(raw: dict[str, Any], problem: _Problem, explicit: bool, job: Job) -> None:
    """A persona asked for by --id/--name is refused; one found by --all is skipped."""

    what = f"persona {str(raw.get('name'))!r} ({raw.get('id')})"
    if explicit:
        raise PersonactlError(
            f"cannot import {what}: {problem.why}; {problem.fix}, then import it again"
        )
    job.notes.append(f"Skipped {what}: {problem.why}; {problem.fix}, then import it again.")


def _unique_names(kind: str, names: list[str]) -> None:
    """Two imported resources of a kind with one manifest name would be one manifest."""

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
        tid, anam = str(raw.get("id")), str(raw.get("name"))
        if tid in self.refs:
            return
        if anam in self.existing:
            self.refs[tid] = self.existing[anam]
            return
        env = self.env
        name = manifest_name(anam, env.name_prefix, env.name_suffix)
        if name is None:
            why = f"it lacks {affix(env)} that environment {env.name!r} gives its names"
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


def _files(root: Path, job: Job) -> dict[Path, str | bytes]:
    """Every file to write, by path: manifests (with the schema modeline), prompts and a
    knowledge group's documents."""

    files: dict[Path, str | bytes] = {}
    folded: set[str] = set()

    modelines = {kind: modeline(kind, root / FOLDERS[kind]) for kind in FOLDERS}
    for item in job.items:
        manifest, prompt = item_paths(root, job, item)
        _add(
            files,
            folded,
            manifest,
            f"{modelines[item.kind]}\n"
            f"# Imported by personactl from the live {item.kind.lower()}.\n" + dump_all([item.doc]),
        )
        if item.prompt is not None:
            _add(files, folded, prompt, item.prompt)
        for filename, content in item.documents.items():
            _add(files, folded, prompt.parent / filename, content)
    return files


def _add(files: dict[Path, str | bytes], folded: set[str], path: Path, text: str | bytes) -> None:
    """One file per path, also on file systems that ignore case."""

    if str(path).casefold() in folded:
        raise PersonactlError(
            f"two imported resources would both be written to {_display(path)}; "
            "rename one in the Lab"
        )
    folded.add(str(path).casefold())
    files[path] = text


def item_paths(root: Path, job: Job, item: Imported) -> tuple[Path, Path]:
    """Where an item's manifest and (for a Persona) its prompt go; for a KnowledgeGroup,
    the second is a path in the folder of its documents."""
    stem = job.stems[(item.kind, item.name)]
    if item.kind == "KnowledgeGroup":
        return root / FOLDERS[item.kind] / f"{stem}.yaml", root / DOCUMENTS / stem / "_"
    return root / FOLDERS[item.kind] / f"{stem}.yaml", root / "prompts" / f"{stem}.md.j2"


def _check_targets(root: Path, files: dict[Path, str | bytes]) -> None:
    """Every path resolves inside `root`, can be created, and is new; else nothing is written."""

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


def _write(files: dict[Path, str | bytes]) -> list[Path]:
    """Write every file, new only; on any failure remove what was written and say so."""

    created: list[Path] = []  # folders and files, in the order they were made
    for path, text in files.items():
        try:
            for folder in reversed(path.parents):
                if not folder.exists():
                    folder.mkdir()
                    created.append(folder)
            if isinstance(text, bytes):
                with path.open("xb") as raw:
                    created.append(path)
                    raw.write(text)
                continue
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


def _write_and_record(
    files: dict[Path, str | bytes],
    store: StateStore,
    plan: Options,
    warn: Callable[[str], None],
    connect: Connect,
) -> list[str]:
    """Write under the state's lock, plan exactly what was imported, record what matches.

    Returns what still differs. If the plan fails, the written files are removed.
    """
    differing = []
    with store:
        created = _write(files)
        try:
            # Record them as a no-op apply would: plan exactly these, keep what matches.
            run = make_plan(plan, state=store.state, connect=connect)
        except BaseException:
            _undo(created)
            warn("Import undone: planning the manifests it wrote failed, so they were removed.")
            raise
        run.client.close()
        for change in run.plan.changes:
            if change.action != "no-op" or change.id is None:
                differing.append(f"{change.kind} {change.name!r}")
                continue
            # Nothing was sent: only the identity is recorded, and the next plan compares
            # each field with the live value.
            entry = entry_for(change, change.id, {}, {}, change.fingerprint)
            # A group's documents, downloaded and so known to be the files: recorded too.
            entry.documents = {
                d.filename: {
                    "id": d.replaces[0],
                    "size": d.size,
                    "sha256": d.sha256,
                    "params": d.params,
                }
                for d in change.documents
                if d.action == "adopt"
            }
            store.record(entry)
    return differing


def affix(env: Environment) -> str:
    """The environment's prefix and/or suffix, as messages name them."""
    parts = []
    if env.name_prefix:
        parts.append(f"prefix {env.name_prefix!r}")
    if env.name_suffix:
        parts.append(f"suffix {env.name_suffix!r}")
    return "the " + " and the ".join(parts)


def plural(n: int, noun: str) -> str:
    return f"{n} {noun}{'' if n == 1 else 's'}"


def _display(path: Path) -> str:
    return display_path(path)
