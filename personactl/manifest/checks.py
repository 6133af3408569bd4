"""Validate stage: JSON Schema plus the semantic checks a schema cannot express.

`check()` runs load -> compose -> render -> schema -> semantics for every
environment and returns every problem once, sorted.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

from personactl.core.errors import Diagnostic
from personactl.core.suggest import did_you_mean
from personactl.manifest import schemas
from personactl.manifest.compose import compose
from personactl.manifest.languages import ISO_639_1
from personactl.manifest.loader import Loaded, Unresolved
from personactl.manifest.model import Environment, Resource
from personactl.manifest.render import Rendered, Renderer, SecretMode
from personactl.manifest.urls import link_local_reason

TOOL_NAME_MAX = 64
# An LLM's `secret` is exactly one secret() call: a literal key would end up in git.
_SECRET_CALL = re.compile(
    r"""\s*\{\{-?\s*secret\(\s*(["'])[A-Za-z_][A-Za-z0-9_]*\1\s*\)\s*-?\}\}\s*"""
)


@cache
def _schema(kind: str) -> dict[str, Any]:
    import json

    schema: dict[str, Any] = json.loads(schemas.schema_text(kind))
    return schema


def _branches(node: Any, defs: dict[str, Any]) -> Iterator[dict[str, Any]]:
    """`node` and every subschema that also applies to the same value."""
    if not isinstance(node, dict):
        return
    ref = node.get("$ref")
    if isinstance(ref, str) and ref.startswith("#/$defs/"):
        yield from _branches(defs.get(ref.removeprefix("#/$defs/")), defs)
    yield node
    for key in ("allOf", "anyOf", "oneOf"):
        for sub in node.get(key, []):
            yield from _branches(sub, defs)
    for key in ("then", "else"):
        yield from _branches(node.get(key), defs)


def _field_names(nodes: list[Any], defs: dict[str, Any]) -> set[str] | None:
    """The fields a value of these schemas may have; None if any key goes (a free-form
    object such as headers), an empty set if it is a scalar."""
    names: set[str] = set()
    free = False
    for node in nodes:
        for branch in _branches(node, defs):
            names |= set(branch.get("properties", {}))
            free = free or branch.get("type") == "object" or "additionalProperties" in branch
    return None if free and not names else names


def _ignore_path_problem(kind: str, path: str) -> str | None:
    """Why an ignoreChanges path names no field of the spec, checked segment by segment."""
    schema = _schema(kind)
    defs = schema.get("$defs", {})
    nodes: list[Any] = [schema["properties"]["spec"]]
    segments = path.split(".")
    for i, seg in enumerate(segments):
        names = _field_names(nodes, defs)
        if names is None:
            return None
        if seg not in names:
            if i == 0:
                return f"names no spec field of a {kind}{did_you_mean(seg, names)}"
            parent = ".".join(segments[:i])
            if not names:
                return f"{parent} has no fields"
            return f"{parent} has no field {seg!r}{did_you_mean(seg, names)}"
        nodes = [
            b["properties"][seg]
            for node in nodes
            for b in _branches(node, defs)
            if seg in b.get("properties", {})
        ]
    return None


def semantic(
    rendered: Rendered,
    tool_names: set[str],
    env: Environment | None,
    unresolved: Unresolved | None = None,
    llm_names: set[str] | None = None,
) -> list[Diagnostic]:
    res = rendered.resource
    spec = rendered.data.get("spec")
    spec = spec if isinstance(spec, dict) else {}
    out: list[Diagnostic] = []
    if res.kind == "Persona":
        tools = spec.get("tools")
        for i, ref in enumerate(tools if isinstance(tools, list) else []):
            if isinstance(ref, str) and unresolved and ref in unresolved:
                out.extend(unresolved[ref])  # the root cause: the file that should define it
            elif isinstance(ref, str) and ref not in tool_names:
                out.append(
                    Diagnostic.at(
                        res.loc(("spec", "tools", i)),
                        f"tool {ref!r} is not defined by any Tool manifest"
                        f"{did_you_mean(ref, tool_names)}; name a Tool manifest or use "
                        "{id: <tool id>}",
                        "tool-reference",
                    )
                )
        llm = spec.get("llm")
        if isinstance(llm, str) and llm != "CUSTOMER_CLIENT_V1" and llm_names is not None:
            if unresolved and llm in unresolved:
                out.extend(unresolved[llm])
            elif llm not in llm_names:
                out.append(
                    Diagnostic.at(
                        res.loc(("spec", "llm")),
                        f"LLM {llm!r} is not defined by any LLM manifest"
                        f"{did_you_mean(llm, llm_names)}; name an LLM manifest, or use "
                        "{name: <catalog name>} or {id: <llm id>}",
                        "llm-reference",
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
                    f"tool name {final!r} (with the prefix/suffix of environment {env.name!r}) is "
                    f"{len(final)} characters, over Anam's limit of {TOOL_NAME_MAX}",
                    "tool-name-length",
                )
            )
    if res.kind == "LLM":
        out.extend(_llm_secret(res))
    if res.kind == "Tool" and spec.get("type") == "SERVER_WEBHOOK":
        out.extend(_webhook_url(rendered))
    ignore = res.lifecycle.get("ignoreChanges")
    for i, path in enumerate(ignore if isinstance(ignore, list) else []):
        problem = _ignore_path_problem(res.kind, path) if isinstance(path, str) else None
        if problem:
            out.append(
                Diagnostic.at(
                    res.loc(("lifecycle", "ignoreChanges", i)),
                    f"ignoreChanges path {path!r} {problem}"
                    if problem.startswith("names")
                    else f"ignoreChanges path {path!r}: {problem}",
                    "ignore-changes",
                )
            )
    return out


def _llm_secret(res: Resource) -> list[Diagnostic]:
    """An LLM's secret must come from the environment (its value is never echoed)."""
    raw = res.spec.get("secret")
    if not isinstance(raw, str) or _SECRET_CALL.fullmatch(raw):
        return []
    return [
        Diagnostic.at(
            res.loc(("spec", "secret")),
            'spec.secret must be a {{ secret("NAME") }} value, not a literal key (it would '
            "end up in git): export the key as an environment variable and write "
            "secret: '{{ secret(\"ACME_LLM_KEY\") }}'",
            "llm-secret",
        )
    ]


def _webhook_url(rendered: Rendered) -> list[Diagnostic]:
    """Refuse webhooks to link-local and cloud metadata addresses unless opted in."""
    res = rendered.resource
    config = rendered.data["spec"].get("config")
    url = config.get("url") if isinstance(config, dict) else None
    if not isinstance(url, str) or res.lifecycle.get("allowLinkLocalUrl") is True:
        return []
    reason = link_local_reason(url)
    if reason is None:
        return []
    return [
        Diagnostic.at(
            res.loc(("spec", "config", "url")),
            f"spec.config.url: {reason}; point the webhook at a public host, or set "
            "lifecycle.allowLinkLocalUrl: true on this Tool if it must call there",
            "webhook-url",
        )
    ]


def _documents(rendered: Rendered, root: Path) -> list[Diagnostic]:
    """A KnowledgeGroup's files (manifest.documents) and its upload parameters."""
    from personactl.manifest.documents import document_files

    res = rendered.resource
    out = document_files(res, root)[1]
    spec = rendered.data.get("spec")
    size, overlap = (spec.get(k) if isinstance(spec, dict) else None for k in _CHUNKING)
    if isinstance(size, int) and isinstance(overlap, int) and overlap >= size:
        out.append(
            Diagnostic.at(
                res.loc(("spec", "chunkOverlap")),
                f"chunkOverlap ({overlap}) must be less than chunkSize ({size})",
                "chunking",
            )
        )
    return out


_CHUNKING = ("chunkSize", "chunkOverlap")


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
    composed, diags = compose(loaded.resources, project, env, loaded.unresolved)
    if select is not None:
        composed = select(composed)
    if focus is not None and project.file not in focus:
        diags = []  # patch problems belong to personactl.yaml, which was not asked for
    tool_names = {r.name for r in loaded.resources if r.kind == "Tool"}
    llm_names = {r.name for r in loaded.resources if r.kind == "LLM"}
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
        diags.extend(semantic(rendered, tool_names, env, loaded.unresolved, llm_names))
        if res.kind == "KnowledgeGroup":
            diags.extend(_documents(rendered, project.root))
        rendered_all.append(rendered)
    if loaded.project_broken:  # its vars are unknown: "undefined" would mislead
        diags = [d for d in diags if d.rule != "template-undefined"]
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
    focus = loaded.focus
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
    loaded_errors = set(loaded.diagnostics)
    for d, names in per_env.items():
        # A problem located in personactl.yaml already sits under its environment;
        # a load error reported as a root cause holds in every environment.
        everywhere = len(names) == len(environments) or d in loaded_errors
        if not everywhere and d.path != project.file:
            which = ", ".join(n for n in names if n)
            label = "environment" if len(names) == 1 else "environments"
            d = Diagnostic(d.path, d.line, d.column, f"{d.message} (in {label} {which})", d.rule)
        result.add(d)
    return CheckResult(sorted(result), rendered, renderer.secret_values)
