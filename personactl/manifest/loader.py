"""Load stage: find the project, read manifest files, build resources.

Nothing here stops at the first problem: every error in every file is
collected as a Diagnostic so `validate` can report them all in one run.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from personactl.core.errors import Diagnostic, PersonactlError
from personactl.manifest import globbing, schemas
from personactl.manifest.model import (
    API_VERSION,
    DEFAULT_MANIFEST_GLOBS,
    DEFAULT_TEMPLATE_DIRS,
    PROJECT_FILE,
    RESOURCE_KINDS,
    Environment,
    Patch,
    Project,
    Resource,
    StateConfig,
)
from personactl.manifest.parallel_read import read_all
from personactl.manifest.yamlsource import (
    MAX_FILE_BYTES,
    Document,
    YamlError,
    parse_documents,
    read_text,
)

YAML_SUFFIXES = globbing.YAML_SUFFIXES
DEFAULT_API_URL = "https://api.anam.ai"
DEFAULT_API_KEY_ENV = "ANAM_API_KEY"


def display_path(path: Path) -> str:
    """Paths in messages are relative to the working directory when they can be."""
    try:
        rel = os.path.relpath(path)
    except ValueError:  # pragma: no cover - another drive on Windows
        return str(path)
    return str(path) if rel.startswith("..") else rel


def find_project_root(start: Path, cache: dict[Path, Path | None] | None = None) -> Path | None:
    """The nearest folder at or above `start` holding personactl.yaml."""
    cache = {} if cache is None else cache
    seen: list[Path] = []
    root: Path | None = None
    for folder in (start, *start.parents):
        if folder in cache:
            root = cache[folder]
            break
        seen.append(folder)
        if (folder / PROJECT_FILE).is_file():
            root = folder
            break
    for folder in seen:  # all below `root`: they share its answer
        cache[folder] = root
    return root


def read_documents(path: Path) -> tuple[list[Document], list[Diagnostic]]:
    display = display_path(path)
    try:
        return parse_documents(read_text(path, display), display), []
    except YamlError as exc:
        return [], [exc.diagnostic]
    except OSError as exc:
        return [], [Diagnostic(display, 1, 1, f"cannot read file: {exc.strerror}", "io")]


def _state_file(value: Any, env_name: str) -> str:
    """The state file of an environment (also where a remote state is shown from)."""
    if isinstance(value, str) and value:
        return value
    if isinstance(value, dict) and isinstance(value.get("path"), str) and value["path"]:
        return str(value["path"])
    return f".personactl/{env_name}.json"


def _state_config(value: Any, env_name: str) -> StateConfig:
    """An environment's `state:` (a path, or an object naming a backend), as data."""
    raw = _str_map(value)
    backend = raw.get("backend")
    if backend not in ("postgres", "http"):
        return StateConfig(path=_state_file(value, env_name))

    def text(key: str, default: str = "") -> str:
        got = raw.get(key)
        return got if isinstance(got, str) and got else default

    if backend == "postgres":
        return StateConfig(
            backend="postgres",
            url_env=text("urlEnv", "PERSONACTL_STATE_URL"),
            schema=text("schema", "personactl"),
        )
    lock = text("lockAddress", text("address"))
    return StateConfig(
        backend="http",
        address=text("address"),
        lock_address=lock,
        unlock_address=text("unlockAddress", lock),
        lock_method=text("lockMethod", "LOCK"),
        unlock_method=text("unlockMethod", "UNLOCK"),
        username_env=text("usernameEnv"),
        password_env=text("passwordEnv"),
    )


def _str_map(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def load_project(root: Path | None) -> tuple[Project, list[Diagnostic]]:
    """Read personactl.yaml (if any) into a Project; problems become diagnostics."""
    if root is None:
        here = Path.cwd()
        return (
            Project(
                root=here,
                doc=None,
                manifest_globs=list(DEFAULT_MANIFEST_GLOBS),
                template_dirs=[here / d for d in DEFAULT_TEMPLATE_DIRS],
                vars={},
                environments={},
                default_environment=None,
            ),
            [],
        )
    root = root.resolve()
    docs, diags = read_documents(root / PROJECT_FILE)
    doc = next((d for d in docs if d.data is not None), None)
    data: dict[str, Any] = {}
    if doc is not None:
        if not isinstance(doc.data, dict):
            diags.append(
                Diagnostic.at(doc.loc(()), "personactl.yaml must be a mapping", "not-a-mapping")
            )
        else:
            data = doc.data
            diags.extend(
                schemas.validate_document("Project", data, doc.loc, doc.key_loc, doc.bool_words)
            )
        if len([d for d in docs if d.data is not None]) > 1:
            diags.append(
                Diagnostic.at(
                    docs[1].loc(()),
                    "personactl.yaml must hold one document (kind: Project)",
                    "project-multi-doc",
                )
            )
    spec = _str_map(data.get("spec"))
    globs = [g for g in spec.get("manifests", DEFAULT_MANIFEST_GLOBS) if isinstance(g, str)]
    tdirs = [t for t in spec.get("templates", DEFAULT_TEMPLATE_DIRS) if isinstance(t, str)]
    environments: dict[str, Environment] = {}
    for name, raw in _str_map(spec.get("environments")).items():
        env = _str_map(raw)
        patches = []
        for i, p in enumerate(env.get("patches") or []):
            if isinstance(p, dict) and isinstance(p.get("name"), str):
                patches.append(
                    Patch(
                        kind=str(p.get("kind", "Persona")),
                        name=p["name"],
                        patch=_str_map(p.get("patch")),
                        keypath=("spec", "environments", name, "patches", i, "patch"),
                    )
                )
        api_url = env.get("apiUrl")
        environments[name] = Environment(
            name=name,
            backend=str(env.get("backend") or ("anam" if api_url else "sandbox")),
            api_url=str(api_url or DEFAULT_API_URL).rstrip("/"),
            api_key_env=str(env.get("apiKeyEnv") or DEFAULT_API_KEY_ENV),
            name_prefix=str(env.get("namePrefix") or ""),
            name_suffix=str(env.get("nameSuffix") or ""),
            vars=_str_map(env.get("vars")),
            state_path=root / _state_file(env.get("state"), name),
            state=_state_config(env.get("state"), name),
            patches=patches,
            keypath=("spec", "environments", name),
        )
    default = spec.get("defaultEnvironment")
    if isinstance(default, str) and default not in environments and doc is not None:
        diags.append(
            Diagnostic.at(
                doc.loc(("spec", "defaultEnvironment")),
                f"defaultEnvironment {default!r} is not one of the environments "
                f"({', '.join(sorted(environments)) or 'none defined'})",
                "unknown-environment",
            )
        )
        default = None
    if not isinstance(default, str):
        default = next(iter(environments), None)
    project = Project(
        root=root,
        doc=doc,
        manifest_globs=globs,
        template_dirs=[root / t for t in tdirs],
        vars=_str_map(spec.get("vars")),
        environments=environments,
        default_environment=default,
    )
    return project, diags


def glob_files(project: Project) -> list[Path]:
    """The manifest files the project's globs name, sorted, without duplicates."""
    found = glob_stats(project)
    if found is None:
        return _glob_files_pathlib(project)
    return [Path(p) for p in sorted(found, key=_path_order)]


def _path_order(path: str) -> str:
    """Sorts path strings as sorting their Path objects would (part by part): a
    separator sorts before any character, as the end of a part does."""
    return path.replace(os.sep, "\0")


def _glob_files_pathlib(project: Project) -> list[Path]:
    found: set[Path] = set()
    for pattern in project.manifest_globs:
        for path in project.root.glob(pattern):
            if path.is_file() and path.suffix in YAML_SUFFIXES and ".personactl" not in path.parts:
                found.add(path)  # already absolute: the root is resolved
    found.discard(project.root / PROJECT_FILE)
    return sorted(found)


def glob_stats(project: Project) -> dict[str, str] | None:
    """What glob_files finds, with each file's stat key (see globbing.glob_stats)."""
    return globbing.glob_stats(str(project.root), project.manifest_globs, PROJECT_FILE)


def expand_paths(paths: Iterable[str]) -> tuple[list[Path], list[Diagnostic]]:
    """Files and directories named on the command line, as a sorted file list."""
    files: set[Path] = set()
    diags: list[Diagnostic] = []
    for raw in paths:
        p = Path(raw)
        if p.is_dir():
            for sub in p.rglob("*"):
                rel_parts = sub.relative_to(p).parts
                hidden = any(part.startswith(".") for part in rel_parts)
                if sub.is_file() and sub.suffix in YAML_SUFFIXES and not hidden:
                    files.add(Path(os.path.abspath(sub)))
        elif p.is_file():
            files.add(Path(os.path.abspath(p)))
        elif os.path.exists(p):  # a FIFO or a device: reading it could block
            diags.append(Diagnostic(raw, 1, 1, "not a regular file; pass a file", "io"))
        else:
            diags.append(Diagnostic(raw, 1, 1, "no such file or directory", "io"))
    return sorted(files), diags


def is_personactl_file(docs: list[Document]) -> bool:
    return any(
        isinstance(d.data, dict) and str(d.data.get("apiVersion", "")).startswith("personactl/")
        for d in docs
    )


def _document_name(doc: Document) -> str | None:
    meta = doc.data.get("metadata") if isinstance(doc.data, dict) else None
    name = meta.get("name") if isinstance(meta, dict) else None
    return name if isinstance(name, str) else None


def identify(doc: Document, project_file: str | None) -> Resource | Diagnostic | None:
    """The resource a document declares, or why it declares none (None: an empty
    document, or the project's own)."""
    if doc.data is None:
        return None  # an empty document, e.g. a trailing `---`
    if not isinstance(doc.data, dict):
        got = type(doc.data).__name__.replace("str", "a string").replace("list", "a list")
        return Diagnostic.at(
            doc.loc(()),
            f"expected a mapping with apiVersion, kind, metadata and spec, got {got}",
            "not-a-mapping",
        )
    api = doc.data.get("apiVersion")
    kind = doc.data.get("kind")
    if api != API_VERSION:
        what = "missing apiVersion" if api is None else f"unknown apiVersion {api!r}"
        return Diagnostic.at(
            doc.loc(("apiVersion",)), f"{what} (expected {API_VERSION})", "api-version"
        )
    if kind == "Project":
        if doc.path == project_file:
            return None
        where = f"kind Project belongs in {PROJECT_FILE} at the project root"
        return Diagnostic.at(doc.loc(("kind",)), where, "kind")
    if kind not in RESOURCE_KINDS:
        what = "missing kind" if kind is None else f"unknown kind {kind!r}"
        expected = f"{', '.join(RESOURCE_KINDS[:-1])} or {RESOURCE_KINDS[-1]}"
        return Diagnostic.at(doc.loc(("kind",)), f"{what} (expected {expected})", "kind")
    return Resource(kind=str(kind), name=_document_name(doc) or "", doc=doc, data=doc.data)


# A name that a file or document that failed to load may define -> its errors.
Unresolved = dict[str, list[Diagnostic]]


def resources_from(
    docs: list[Document], project_file: str | None
) -> tuple[list[Resource], list[Diagnostic], Unresolved]:
    resources: list[Resource] = []
    diags: list[Diagnostic] = []
    unresolved: Unresolved = {}
    for doc in docs:
        found = identify(doc, project_file)
        if isinstance(found, Resource):
            resources.append(found)
        elif found is not None:
            diags.append(found)
            name = _document_name(doc)
            if name is not None:
                unresolved.setdefault(name, []).append(found)
    return resources, diags, unresolved


def duplicate_names(resources: list[Resource], focus: set[str] | None = None) -> list[Diagnostic]:
    """A duplicate is reported at the second place a whole load finds, unless only the
    first is in `focus` (the files named to `validate FILE`): then there, or a file
    that introduces a duplicate name would pass a check of that file alone."""
    first: dict[tuple[str, str], Resource] = {}
    diags = []
    for res in resources:
        if not res.name:
            continue
        key = (res.kind, res.name)
        if key in first:
            here, there = res, first[key]
            if focus is not None and here.path not in focus and there.path in focus:
                here, there = there, here
            other = there.loc(("metadata", "name"))
            diags.append(
                Diagnostic.at(
                    here.loc(("metadata", "name")),
                    f"duplicate {res.kind} {res.name!r}: also defined at {other}; "
                    "metadata.name must be unique per kind",
                    "duplicate-name",
                )
            )
        else:
            first[key] = res
    return diags


# `name: value` anywhere in a file, block or flow style: what a file that does not
# parse may define (best effort, so that references to it stay quiet).
_BLOCK_NAME = re.compile(r"^[ \t-]*name[ \t]*:[ \t]*(\S[^#\n]*?)[ \t]*(?:#.*)?$", re.M)
_FLOW_NAME = re.compile(r"[{,][ \t]*name[ \t]*:[ \t]*([^,}\n]+)")


def names_in_text(path: Path) -> set[str]:
    """Every value written after `name:` in a file, read leniently."""
    try:
        with open(path, "rb") as f:
            text = f.read(MAX_FILE_BYTES).decode("utf-8", "replace")
    except OSError:
        return set()
    found = _BLOCK_NAME.findall(text) + _FLOW_NAME.findall(text)
    return {v.strip().strip("'\"[]{} ") for v in found} - {""}


def _not_a_manifest_hint(diags: list[Diagnostic]) -> list[Diagnostic]:
    """Under pre-commit, a file outside the project's globs that does not load may be
    someone else's YAML: say how to keep it from the hook."""
    return [
        Diagnostic(
            d.path,
            d.line,
            d.column,
            f"{d.message} (if it is not a personactl manifest, leave it out with "
            f"`exclude: ^{re.escape(d.path)}$` under the personactl hook in "
            ".pre-commit-config.yaml)",
            d.rule,
        )
        for d in diags
    ]


def load_resources(
    files: list[Path],
    project: Project,
    optional: frozenset[Path] = frozenset(),
    pre_commit: bool = False,
    focus: set[str] | None = None,
) -> tuple[list[Resource], list[Diagnostic], list[Path], Unresolved]:
    """Resources of `files`; files in `optional` that hold no personactl document
    (a workflow file pre-commit handed us, say) are skipped and returned.

    Also returns, for each name a broken file or document may define, its errors:
    a check that would say "not defined" reports the root cause instead.
    """
    resources, diags, skipped, unresolved = _read_files(files, project, optional, pre_commit)
    diags.extend(duplicate_names(resources, focus))
    return resources, diags, skipped, unresolved


def _read_files(
    files: list[Path],
    project: Project,
    optional: frozenset[Path],
    pre_commit: bool,
) -> tuple[list[Resource], list[Diagnostic], list[Path], Unresolved]:
    resources: list[Resource] = []
    diags: list[Diagnostic] = []
    skipped: list[Path] = []
    unresolved: Unresolved = {}
    for path, (docs, errs) in zip(files, read_all(files, read_documents), strict=True):
        if path in optional and not errs and not is_personactl_file(docs):
            skipped.append(path)
            continue
        if errs:
            errs = _not_a_manifest_hint(errs) if pre_commit and path in optional else errs
            for name in names_in_text(path):
                unresolved.setdefault(name, []).extend(errs)
        diags.extend(errs)
        found, errs, broken = resources_from(docs, project.file)
        resources.extend(found)
        diags.extend(errs)
        for name, name_errs in broken.items():
            unresolved.setdefault(name, []).extend(name_errs)
    return resources, diags, skipped, unresolved


@dataclass
class Loaded:
    project: Project
    resources: list[Resource]
    diagnostics: list[Diagnostic]
    requested: list[Path]  # files named on the command line (empty: the whole project)
    skipped: list[Path]  # requested files that hold no personactl documents
    # Names a file or document that failed to load may define, with its errors.
    unresolved: Unresolved = field(default_factory=dict)
    project_broken: bool = False  # personactl.yaml exists but did not load: vars unknown
    # Files (prompts, partials) that stand for the whole project: check all of it.
    triggers: list[Path] = field(default_factory=list)

    @property
    def focus(self) -> set[str] | None:
        """Display paths whose problems are reported; None: every file."""
        if not self.requested or self.triggers:
            return None
        return {display_path(p) for p in self.requested}

    def files_checked(self) -> int:
        if self.focus is not None:
            return len(self.requested) - len(self.skipped)
        files = {r.path for r in self.resources} | {display_path(p) for p in self.triggers}
        files |= {display_path(p) for p in self.requested if p not in self.skipped}
        if self.project.file:
            files.add(self.project.file)
        return len(files)


def _load(
    project: Project,
    diags: list[Diagnostic],
    requested: list[Path],
    glob: bool,
    pre_commit: bool = False,
) -> Loaded:
    files = glob_files(project) if glob else []
    in_globs = set(files)
    optional = frozenset(p for p in requested if p not in in_globs)
    # personactl.yaml, even when named, is read by load_project only.
    everything = sorted((in_globs | set(requested)) - {project.root / PROJECT_FILE})
    focus = {display_path(p) for p in requested} if requested else None
    resources, errs, skipped, unresolved = load_resources(
        everything, project, optional, pre_commit, focus
    )
    broken = project.doc is None and (project.root / PROJECT_FILE).is_file()
    return Loaded(project, resources, diags + errs, requested, skipped, unresolved, broken)


def _load_indexed(
    project: Project, diags: list[Diagnostic], requested: list[Path], pre_commit: bool
) -> Loaded | None:
    """_load for files named on the command line, with the project's other manifests
    taken from the index (manifest/index.py) where their stat is unchanged, as
    stand-ins that carry only their kind, name and where the name is: all that the
    checks of the named files read of them. None: not worth it (a small project).

    Nothing refers to a persona by name but a patch in personactl.yaml and another
    document of the same name, so a persona of another file whose name neither the
    named files nor personactl.yaml mention gets no stand-in at all: the cost of a
    10,000-persona project is then a `stat` per file, made by a prescan child
    while personactl starts when there is one (manifest/prescan.py)."""
    from personactl.manifest import index, prescan

    root = project.root
    globs = project.manifest_globs
    wanted = {str(p): p for p in requested if p != root / PROJECT_FILE}
    # Read before waiting for a prescan child's survey: this process would only wait.
    recorded = index.load(root)
    if recorded is None or recorded.globs != globs:
        recorded = index.EMPTY
    survey = prescan.take(str(root), globs, recorded.stamp)
    if survey is None or not wanted.keys() <= survey.named.keys():
        found = glob_stats(project)
        if found is None or len(found) < index.MIN_FILES:
            return None
        survey = index.survey(str(root), recorded, found, list(wanted))
    elif survey.count < index.MIN_FILES:
        return None
    optional = frozenset(p for key, p in wanted.items() if not survey.named[key][0])
    resources: list[Resource] = []
    errs: list[Diagnostic] = []
    skipped: list[Path] = []
    unresolved: Unresolved = {}
    order: dict[str, str] = {}  # path -> its sort key, for the files resources came from
    prefix = str(root) + os.sep
    cut = len(prefix)
    made: dict[str, index.Entry | None] = {}  # rel -> its new entry (None: not recorded)
    was: dict[str, index.Entry | None] = dict(survey.stale)  # rel -> its recorded entry
    now = index.now_ns()

    def read(path: str, known: bool) -> None:
        """Read a file, and make its entry when it is one the globs find (`known`)."""
        st = os.stat(path) if known else None  # before the read: never newer than it
        got, file_errs, file_skipped, broken = _read_files(
            [wanted.get(path) or Path(path)], project, optional, pre_commit
        )
        resources.extend(got)
        errs.extend(file_errs)
        skipped.extend(file_skipped)
        for name, name_errs in broken.items():
            unresolved.setdefault(name, []).extend(name_errs)
        if got:
            order[got[0].path] = _path_order(path)
        if st is not None:
            ok = not file_errs and not index.racy(st, now)
            made[path[cut:]] = index.entry(st, [_declared(r) for r in got]) if ok else None

    for path, (known, entry) in survey.named.items():
        if path in wanted:
            if known:
                was[path[cut:]] = entry
            read(path, known)
    mentioned: set[str] = set()
    for res in resources:
        _strings(res.data, mentioned)
    if project.doc is not None:
        _strings(project.doc.data, mentioned)
    here = os.getcwd() + os.sep
    files = recorded.files
    skip = survey.stale.keys() | set(survey.gone) | made.keys()  # read, or gone
    stand = [*recorded.others, *(recorded.personas.get(n) for n in mentioned)]
    for rel in dict.fromkeys(r for r in stand if isinstance(r, str)):
        if rel in skip:
            continue
        raw = files.get(rel)
        fields = raw.split("\t")[1:] if isinstance(raw, str) else []
        stand_ins = _stand_ins(prefix + rel, fields, here, mentioned)
        if stand_ins is None or not index.well_formed(fields):  # damaged: read it instead
            was[rel] = raw if isinstance(raw, str) else None
            read(prefix + rel, True)
        elif stand_ins:
            resources.extend(stand_ins)
            order[stand_ins[0].path] = _path_order(prefix + rel)
    for rel in survey.stale:
        if prefix + rel not in wanted:
            read(prefix + rel, True)
    if survey.gone or any(made.get(rel) != was.get(rel) for rel in made.keys() | was.keys()):
        entries = {rel: e for rel, e in files.items() if rel not in made and rel not in was}
        for rel in survey.gone:
            entries.pop(rel, None)
        entries.update((rel, e) for rel, e in made.items() if e is not None)
        index.save(root, globs, entries)
    # In the order a whole load finds them, which decides which of two is the duplicate.
    resources.sort(key=lambda r: (order[r.path], r.doc.index))
    errs.extend(duplicate_names(resources, {display_path(p) for p in requested}))
    broken_project = project.doc is None and (root / PROJECT_FILE).is_file()
    return Loaded(project, resources, diags + errs, requested, skipped, unresolved, broken_project)


def _strings(value: Any, out: set[str]) -> None:
    if isinstance(value, str):
        out.add(value)
    elif isinstance(value, dict):
        for key, item in value.items():
            out.add(key)
            _strings(item, out)
    elif isinstance(value, list):
        for item in value:
            _strings(item, out)


def _declared(res: Resource) -> list[Any]:
    at = res.loc(("metadata", "name"))
    return [res.kind, res.name, res.doc.index, at.line, at.column]


def _stand_ins(
    path: str, declared: list[str], here: str, mentioned: set[str]
) -> list[Resource] | None:
    """Resources standing for the documents an index entry records, five fields each
    (see _load_indexed for the personas left out); None when the entry is malformed:
    the file is read instead."""
    if len(declared) % 5:
        return None
    out: list[Resource] = []
    for i in range(0, len(declared), 5):
        kind, name, index, line, column = declared[i : i + 5]
        if kind == "Persona" and name not in mentioned:
            continue
        try:
            at = (int(line), int(column))
            position = int(index)
        except ValueError:
            return None
        shown = path[len(here) :] if path.startswith(here) else display_path(Path(path))
        doc = Document(shown, position, None, {("metadata", "name"): at})
        data = {"apiVersion": API_VERSION, "kind": kind, "metadata": {"name": name}}
        doc.data = data
        out.append(Resource(kind=kind, name=name, doc=doc, data=data))
    return out


def load_all() -> Loaded:
    """The project of the working directory and every resource its globs name."""
    project, diags = load_project(find_project_root(Path.cwd()))
    return _load(project, diags, [], glob=True)


@dataclass
class PathsLoaded:
    groups: list[Loaded]  # one per project the paths belong to
    diagnostics: list[Diagnostic]  # paths that do not exist
    skipped: list[Path]  # files in no project that are not YAML


def load_paths(paths: Iterable[str], pre_commit: bool = False) -> PathsLoaded:
    """Each path checked against its own project, found by walking up from it.

    YAML files are reported on alone, with the whole project loaded so that
    references and patches resolve. Any other file inside a project (a prompt
    template, a partial) stands for its whole project, as any manifest may use it.
    Paths are relative to the working directory, and so are the messages.
    `pre_commit`: run as a pre-commit hook (errors in foreign YAML say how to exclude it).
    """
    files, diags = expand_paths(paths)
    roots: dict[Path, Path | None] = {}
    groups: dict[Path | None, list[Path]] = {}
    triggers: dict[Path | None, list[Path]] = {}
    outside: list[Path] = []
    for path in files:
        root = find_project_root(path.parent, roots)
        if path.suffix in YAML_SUFFIXES:
            groups.setdefault(root, []).append(path)
        elif root is None:
            outside.append(path)
        else:
            groups.setdefault(root, [])
            triggers.setdefault(root, []).append(path)
    loaded = []
    for root, requested in groups.items():
        project, project_diags = load_project(root)
        group = None
        # Only the named files are reported on: the others are needed for their names.
        if root is not None and not triggers.get(root) and project.doc is not None:
            group = _load_indexed(project, project_diags, requested, pre_commit)
        if group is None:
            group = _load(project, project_diags, requested, root is not None, pre_commit)
        group.triggers = triggers.get(root, [])
        loaded.append(group)
    return PathsLoaded(loaded, diags, outside)


def no_manifests_error(project: Project, takes_paths: bool = False) -> PersonactlError:
    """Nothing to work on; what to do depends on the command (only validate takes paths)."""
    globs = ", ".join(project.manifest_globs)
    if project.file is None:
        where = "the current directory (no personactl.yaml found)"
        fixes = [
            "run personactl in the project's directory",
            "point -C at it",
            "start one with `personactl init`",
        ]
    else:
        where = project.file
        fixes = [f"check spec.manifests in {project.file}"]
    if takes_paths:
        fixes.append("pass paths")
    fix = fixes[0] if len(fixes) == 1 else f"{', '.join(fixes[:-1])} or {fixes[-1]}"
    return PersonactlError(f"no manifests found by {globs} in {where}; {fix}")
