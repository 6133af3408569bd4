"""Load stage: find the project, read manifest files, build resources.

Nothing here stops at the first problem: every error in every file is
collected as a Diagnostic so `validate` can report them all in one run.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from personactl.errors import Diagnostic, PersonactlError
from personactl.manifest import schemas
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
)
from personactl.manifest.yamlsource import Document, YamlError, parse_documents, read_text

YAML_SUFFIXES = (".yaml", ".yml")
DEFAULT_API_URL = "https://api.anam.ai"
DEFAULT_API_KEY_ENV = "ANAM_API_KEY"


def display_path(path: Path) -> str:
    """Paths in messages are relative to the working directory when they can be."""
    try:
        rel = os.path.relpath(path)
    except ValueError:  # pragma: no cover - another drive on Windows
        return str(path)
    return str(path) if rel.startswith("..") else rel


def find_project_root(start: Path) -> Path | None:
    for folder in (start, *start.parents):
        if (folder / PROJECT_FILE).is_file():
            return folder
    return None


def read_documents(path: Path) -> tuple[list[Document], list[Diagnostic]]:
    display = display_path(path)
    try:
        return parse_documents(read_text(path, display), display), []
    except YamlError as exc:
        return [], [exc.diagnostic]
    except OSError as exc:
        return [], [Diagnostic(display, 1, 1, f"cannot read file: {exc.strerror}", "io")]


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
            state_path=root / str(env.get("state") or f".personactl/{name}.json"),
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
    found: set[Path] = set()
    for pattern in project.manifest_globs:
        for path in project.root.glob(pattern):
            if path.is_file() and path.suffix in YAML_SUFFIXES and ".personactl" not in path.parts:
                found.add(path)  # already absolute: the root is resolved
    found.discard(project.root / PROJECT_FILE)
    return sorted(found)


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
        else:
            diags.append(Diagnostic(raw, 1, 1, "no such file or directory", "io"))
    return sorted(files), diags


def is_personactl_file(docs: list[Document]) -> bool:
    return any(
        isinstance(d.data, dict) and str(d.data.get("apiVersion", "")).startswith("personactl/")
        for d in docs
    )


def resources_from(
    docs: list[Document], project_file: str | None
) -> tuple[list[Resource], list[Diagnostic]]:
    resources: list[Resource] = []
    diags: list[Diagnostic] = []
    for doc in docs:
        if doc.data is None:
            continue  # an empty document, e.g. a trailing `---`
        if not isinstance(doc.data, dict):
            got = type(doc.data).__name__.replace("str", "a string").replace("list", "a list")
            diags.append(
                Diagnostic.at(
                    doc.loc(()),
                    f"expected a mapping with apiVersion, kind, metadata and spec, got {got}",
                    "not-a-mapping",
                )
            )
            continue
        api = doc.data.get("apiVersion")
        kind = doc.data.get("kind")
        if api != API_VERSION:
            what = "missing apiVersion" if api is None else f"unknown apiVersion {api!r}"
            diags.append(
                Diagnostic.at(
                    doc.loc(("apiVersion",)), f"{what} (expected {API_VERSION})", "api-version"
                )
            )
            continue
        if kind == "Project":
            if doc.path != project_file:
                diags.append(
                    Diagnostic.at(
                        doc.loc(("kind",)),
                        f"kind Project belongs in {PROJECT_FILE} at the project root",
                        "kind",
                    )
                )
            continue
        if kind not in RESOURCE_KINDS:
            what = "missing kind" if kind is None else f"unknown kind {kind!r}"
            diags.append(
                Diagnostic.at(doc.loc(("kind",)), f"{what} (expected Persona or Tool)", "kind")
            )
            continue
        meta = doc.data.get("metadata")
        name = meta.get("name") if isinstance(meta, dict) else None
        resources.append(
            Resource(
                kind=str(kind),
                name=name if isinstance(name, str) else "",
                doc=doc,
                data=doc.data,
            )
        )
    return resources, diags


def duplicate_names(resources: list[Resource]) -> list[Diagnostic]:
    first: dict[tuple[str, str], Resource] = {}
    diags = []
    for res in resources:
        if not res.name:
            continue
        key = (res.kind, res.name)
        if key in first:
            other = first[key].loc(("metadata", "name"))
            diags.append(
                Diagnostic.at(
                    res.loc(("metadata", "name")),
                    f"duplicate {res.kind} {res.name!r}: also defined at {other}; "
                    "metadata.name must be unique per kind",
                    "duplicate-name",
                )
            )
        else:
            first[key] = res
    return diags


def load_resources(
    files: list[Path], project: Project, optional: frozenset[Path] = frozenset()
) -> tuple[list[Resource], list[Diagnostic], list[Path]]:
    """Resources of `files`; files in `optional` that hold no personactl document
    (a workflow file pre-commit handed us, say) are skipped and returned."""
    resources: list[Resource] = []
    diags: list[Diagnostic] = []
    skipped: list[Path] = []
    for path in files:
        docs, errs = read_documents(path)
        if path in optional and not errs and not is_personactl_file(docs):
            skipped.append(path)
            continue
        diags.extend(errs)
        found, errs = resources_from(docs, project.file)
        resources.extend(found)
        diags.extend(errs)
    diags.extend(duplicate_names(resources))
    return resources, diags, skipped


@dataclass
class Loaded:
    project: Project
    resources: list[Resource]
    diagnostics: list[Diagnostic]
    requested: list[Path]  # files named on the command line (empty: the whole project)
    skipped: list[Path]  # requested files that hold no personactl documents


def load_all(paths: tuple[str, ...] = ()) -> Loaded:
    """The project and every resource it names, plus any explicitly given paths.

    With explicit paths the whole project is still loaded, so tool references
    and patches resolve; callers report only the requested files' problems.
    """
    project, diags = load_project(find_project_root(Path.cwd()))
    files = glob_files(project) if project.doc is not None or not paths else []
    requested: list[Path] = []
    if paths:
        requested, errs = expand_paths(paths)
        diags.extend(errs)
    in_globs = set(files)
    optional = frozenset(p for p in requested if p not in in_globs)
    resources, errs, skipped = load_resources(sorted(in_globs | set(requested)), project, optional)
    return Loaded(project, resources, diags + errs, requested, skipped)


def require_clean(diags: list[Diagnostic]) -> None:
    if diags:
        from personactl.errors import ManifestErrors

        raise ManifestErrors(diags)


def no_manifests_error(project: Project, takes_paths: bool = False) -> PersonactlError:
    """Nothing to work on; what to do depends on the command (only validate takes paths)."""
    globs = ", ".join(project.manifest_globs)
    if project.file is None:
        fix = "run personactl in the project's directory or point -C at it"
        where = "the current directory (no personactl.yaml found)"
    else:
        fix = f"check spec.manifests in {project.file}"
        where = project.file
    if takes_paths:
        fix += " or pass paths"
    return PersonactlError(f"no manifests found by {globs} in {where}; {fix}")
