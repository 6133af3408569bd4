"""Validate stage: JSON Schema plus the semantic checks a schema cannot express.

`check()` runs load -> compose -> render -> schema -> semantics for every
environment and returns every problem once, sorted.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from difflib import get_close_matches

from personactl.errors import Diagnostic
from personactl.manifest import schemas
from personactl.manifest.compose import compose
from personactl.manifest.languages import ISO_639_1
from personactl.manifest.loader import Loaded, display_path
from personactl.manifest.model import Environment, Resource
from personactl.manifest.render import Rendered, Renderer, SecretMode

TOOL_NAME_MAX = 64


def _closest(name: str, names: Iterable[str]) -> str:
    close = get_close_matches(name, list(names), n=3, cutoff=0.6)
    return f" (did you mean {', '.join(repr(c) for c in close)}?)" if close else ""


def _spec_fields(kind: str) -> set[str]:
    import json

    schema = json.loads(schemas.schema_text(kind))
    return set(schema["properties"]["spec"]["properties"])


def semantic(rendered: Rendered, tool_names: set[str], env: Environment | None) -> list[Diagnostic]:
    res = rendered.resource
    spec = rendered.data.get("spec")
    spec = spec if isinstance(spec, dict) else {}
    out: list[Diagnostic] = []
    if res.kind == "Persona":
        tools = spec.get("tools")
        for i, ref in enumerate(tools if isinstance(tools, list) else []):
            if isinstance(ref, str) and ref not in tool_names:
                out.append(
                    Diagnostic.at(
                        res.loc(("spec", "tools", i)),
                        f"tool {ref!r} is not defined by any Tool manifest"
                        f"{_closest(ref, tool_names)}; name a Tool manifest or use "
                        "{id: <tool id>}",
                        "tool-reference",
                    )
                )
        code = spec.get("languageCode")
        if isinstance(code, str) and len(code) == 2 and code not in ISO_639_1:
            out.append(
                Diagnostic.at(
                    res.loc(("spec", "languageCode")),
                    f"languageCode {code!r} is not an ISO 639-1 language code "
                    "(e.g. en, fr, de, es, ja)",
                    "language-code",
                )
            )
    if res.kind == "Tool" and env is not None and res.name:
        final = rendered.anam_name
        if len(final) > TOOL_NAME_MAX:
            out.append(
                Diagnostic.at(
                    res.loc(("metadata", "name")),
                    f"tool name {final!r} (with environment {env.name!r}'s prefix/suffix) is "
                    f"{len(final)} characters, over Anam's limit of {TOOL_NAME_MAX}",
                    "tool-name-length",
                )
            )
    ignore = res.lifecycle.get("ignoreChanges")
    if isinstance(ignore, list):
        fields = _spec_fields(res.kind)
        for i, path in enumerate(ignore):
            if isinstance(path, str) and path.split(".")[0] not in fields:
                out.append(
                    Diagnostic.at(
                        res.loc(("lifecycle", "ignoreChanges", i)),
                        f"ignoreChanges path {path!r} names no spec field of a {res.kind}"
                        f"{_closest(path.split('.')[0], fields)}",
                        "ignore-changes",
                    )
                )
    return out


@dataclass
class CheckResult:
    diagnostics: list[Diagnostic]
    rendered: dict[str, list[Rendered]]  # per environment name ("" without environments)
    secret_values: set[str]  # for redacting any output


def _focused(res: Resource, focus: set[str] | None) -> bool:
    return focus is None or res.path in focus


# Narrows the composed resources a command works on (plan --target, render NAME).
Select = Callable[[list[Resource]], list[Resource]]


def check_environment(
    loaded: Loaded,
    env: Environment | None,
    renderer: Renderer,
    focus: set[str] | None,
    select: Select | None = None,
) -> tuple[list[Rendered], list[Diagnostic]]:
    project = loaded.project
    composed, diags = compose(loaded.resources, project, env)
    if select is not None:
        composed = select(composed)
    if focus is not None and project.file not in focus:
        diags = []  # patch problems belong to personactl.yaml, which was not asked for
    tool_names = {r.name for r in loaded.resources if r.kind == "Tool"}
    rendered_all: list[Rendered] = []
    for res in composed:
        if not _focused(res, focus):
            continue
        rendered, errs = renderer.render(res, env)
        diags.extend(errs)
        diags.extend(
            schemas.validate_document(
                res.kind,
                rendered.data,
                res.loc,
                res.key_loc,
                res.doc.bool_words,
            )
        )
        diags.extend(semantic(rendered, tool_names, env))
        rendered_all.append(rendered)
    return rendered_all, diags


def check(
    loaded: Loaded,
    environments: list[Environment | None] | None = None,
    secrets: SecretMode = "placeholder",
    *,
    salt: str = "",
    select: Select | None = None,
) -> CheckResult:
    """Every problem in the loaded manifests, once, for each environment asked for.

    A problem that shows in some environments only says which. `salt` salts the
    secret sentinels (the state's lineage); `select` limits rendering, and so the
    secrets that must be set, to the resources a command works on.
    """
    project = loaded.project
    focus: set[str] | None = None
    if loaded.requested:
        focus = {display_path(p) for p in loaded.requested}
    base = [d for d in loaded.diagnostics if focus is None or d.path in focus]
    if environments is None:
        environments = list(project.environments.values()) or [None]
    renderer = Renderer(project, secrets=secrets, salt=salt)
    per_env: dict[Diagnostic, list[str]] = {}
    rendered: dict[str, list[Rendered]] = {}
    for env in environments:
        out, diags = check_environment(loaded, env, renderer, focus, select)
        rendered[env.name if env else ""] = out
        for d in set(diags):
            per_env.setdefault(d, []).append(env.name if env else "")
    result = set(base)
    for d, names in per_env.items():
        # A problem located in personactl.yaml already sits under its environment.
        if len(names) < len(environments) and d.path != project.file:
            which = ", ".join(n for n in names if n)
            label = "environment" if len(names) == 1 else "environments"
            d = Diagnostic(d.path, d.line, d.column, f"{d.message} (in {label} {which})", d.rule)
        result.add(d)
    return CheckResult(sorted(result), rendered, renderer.secret_values)
