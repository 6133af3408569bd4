"""Plain data for what the user wrote: resources, the project, environments."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from personactl.core.errors import Location
from personactl.manifest.globbing import PROJECT_FILE as PROJECT_FILE
from personactl.manifest.yamlsource import Document, KeyPath

API_VERSION = "personactl/v1"
RESOURCE_KINDS = ("Persona", "Tool", "LLM", "KnowledgeGroup")
DEFAULT_MANIFEST_GLOBS = (
    "personas/**/*.yaml",
    "tools/**/*.yaml",
    "llms/**/*.yaml",
    "knowledge-groups/**/*.yaml",
)
DEFAULT_TEMPLATE_DIRS = ("prompts",)


@dataclass
class Resource:
    """One Persona or Tool document, with the locations of its values.

    `overlay` maps key paths changed by an environment patch to the patch's
    location in personactl.yaml, so errors point at the value that caused them.
    """

    kind: str
    name: str
    doc: Document
    data: dict[str, Any]
    overlay: dict[KeyPath, Location] = field(default_factory=dict)

    @property
    def path(self) -> str:
        return self.doc.path

    @property
    def spec(self) -> dict[str, Any]:
        spec = self.data.get("spec")
        return spec if isinstance(spec, dict) else {}

    @property
    def lifecycle(self) -> dict[str, Any]:
        lc = self.data.get("lifecycle")
        return lc if isinstance(lc, dict) else {}

    @property
    def labels(self) -> dict[str, str]:
        meta = self.data.get("metadata")
        labels = meta.get("labels") if isinstance(meta, dict) else None
        return labels if isinstance(labels, dict) else {}

    @property
    def pinned_id(self) -> str | None:
        meta = self.data.get("metadata")
        value = meta.get("id") if isinstance(meta, dict) else None
        return value if isinstance(value, str) else None

    def loc(self, path: KeyPath) -> Location:
        p = tuple(path)
        while True:
            if p in self.overlay:
                return self.overlay[p]
            found = self.doc.find(p)
            if found is not None:
                return found
            if not p:
                return self.doc.loc(())
            p = p[:-1]

    def key_loc(self, path: KeyPath) -> Location:
        if tuple(path) in self.overlay:
            return self.overlay[tuple(path)]
        return self.doc.key_loc(path)

    @property
    def ref(self) -> str:
        return f"{self.kind} {self.name!r}"


@dataclass
class Patch:
    kind: str
    name: str
    patch: dict[str, Any]
    keypath: KeyPath  # of the `patch` value inside personactl.yaml


@dataclass(frozen=True)
class StateConfig:
    """An environment's `state:` setting: a file path (a string), or a backend object."""

    backend: str = "file"  # file | postgres | http
    path: str = ""  # file: relative to the project
    url_env: str = ""  # postgres: the variable holding the postgresql:// URL
    schema: str = "personactl"  # postgres
    address: str = ""  # http
    lock_address: str = ""
    unlock_address: str = ""
    lock_method: str = "LOCK"
    unlock_method: str = "UNLOCK"
    username_env: str = ""
    password_env: str = ""


@dataclass
class Environment:
    name: str
    backend: str  # "sandbox" | "anam"
    api_url: str
    api_key_env: str
    name_prefix: str
    name_suffix: str
    vars: dict[str, Any]
    state_path: Path
    patches: list[Patch]
    keypath: KeyPath  # of this environment inside personactl.yaml
    state: StateConfig = field(default_factory=StateConfig)

    def anam_name(self, name: str) -> str:
        return f"{self.name_prefix}{name}{self.name_suffix}"


@dataclass
class Project:
    root: Path
    doc: Document | None  # None when there is no personactl.yaml
    manifest_globs: list[str]
    template_dirs: list[Path]
    vars: dict[str, Any]
    environments: dict[str, Environment]
    default_environment: str | None

    @property
    def file(self) -> str | None:
        return self.doc.path if self.doc else None

    def require_environment(self, name: str | None) -> Environment:
        """The named (or default) environment; an error when there are none."""
        env = self.environment(name)
        if env is None:
            from personactl.core.errors import PersonactlError

            raise PersonactlError(
                f"no environments are defined: add spec.environments to {PROJECT_FILE} "
                "(for example `sandbox: {backend: sandbox}`)"
            )
        return env

    def environment(self, name: str | None) -> Environment | None:
        """The named environment, the default one, or None if there are none."""
        from personactl.core.errors import PersonactlError

        if name is None:
            name = self.default_environment
            if name is None:
                return None
        env = self.environments.get(name)
        if env is None:
            known = ", ".join(sorted(self.environments)) or "none are defined"
            raise PersonactlError(
                f"unknown environment {name!r} (known: {known}); "
                f"define it under spec.environments in {PROJECT_FILE}"
            )
        return env
