"""The export use case: a persona as another voice-agent runtime's configuration.

The persona is rendered for the environment, its voice and LLM are resolved
through the environment's catalog, the mapping in `personactl.targets` builds
the document, the persona's `targets.<format>` block is deep-merged over it,
and the result is validated against the target's vendored schema: an invalid
result is an error, never output.

Secrets: with `reveal_secrets` false the manifests are rendered with
placeholder secrets (`<secret:NAME>`), so the export needs no secret at all;
with it, the real values are read from the environment and written.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from personactl.anam.api import AnamApi
from personactl.anam.kinds import NO_LLM
from personactl.anam.resolve import Catalog, Resolver
from personactl.core.errors import ManifestErrors, PersonactlError
from personactl.core.files import atomic_write
from personactl.manifest.checks import check
from personactl.manifest.render import Rendered
from personactl.targets import deepgram
from personactl.usecases.connect import ApiOptions, Connect, connect
from personactl.usecases.project import find_persona, manifests

_SECRET_PLACEHOLDER = re.compile(r"<secret:([A-Za-z_][A-Za-z0-9_]*)>")


@dataclass
class Exported:
    settings: dict[str, Any]
    warnings: list[str]  # what could not be mapped and no override settled
    # secret name -> where its placeholder stands (only without reveal_secrets)
    placeholders: dict[str, list[str]] = field(default_factory=dict)
    holds_secrets: bool = False  # real secret values were written (reveal_secrets)


def export(
    name: str,
    target: str,
    api: ApiOptions,
    *,
    reveal_secrets: bool = False,
    connect: Connect = connect,
) -> Exported:
    """Persona `name` of environment `api.env_name` as `target` (deepgram) settings,
    validated."""
    loaded = manifests()
    project = loaded.project
    env = project.environment(api.env_name)
    if env is None:
        raise PersonactlError(
            "export resolves the persona's voice and LLM through an environment's catalog: "
            "add spec.environments to personactl.yaml (for example `sandbox: {backend: sandbox}`)"
        )
    result = check(loaded, [env], secrets="require" if reveal_secrets else "placeholder")
    if result.diagnostics:
        raise ManifestErrors(result.diagnostics)
    items = result.rendered[env.name]
    persona = find_persona(items, name, env)
    spec = persona.desired_spec(mask=False)
    tools, unresolved = _tools(spec, items)

    with api.client(env, project.root, connect) as client:
        anam = AnamApi(client)
        voices = anam.voices() if "voice" in spec else []
        llms = anam.llms()
    # A persona on an LLM manifest exports that manifest (its urls and secret), not the live LLM.
    llm_specs = {
        r.name: {"displayName": r.anam_name, **r.desired_spec(mask=False)}
        for r in items
        if r.kind == "LLM"
    }
    resolver = Resolver(Catalog(voices=voices, llms=llms), {}, dict.fromkeys(llm_specs))
    voice, llm = _voice_and_llm(persona, spec, resolver)
    if isinstance(spec.get("llm"), str) and spec["llm"] in llm_specs:
        llm = llm_specs[spec["llm"]]

    exported = deepgram.settings_for(
        spec,
        prompt=persona.prompt,
        tools=tools,
        unresolved_tools=unresolved,
        voice=voice,
        llm=llm,
    )
    settings = exported.settings
    overrides = (persona.data.get("targets") or {}).get(target)
    at = persona.resource.key_loc(("targets", target)) if overrides is not None else None
    if overrides is not None:
        settings = deepgram.apply_overrides(settings, overrides)
    problems = deepgram.validate(settings)
    if problems:
        where = f" (after merging targets.{target} at {at})" if at else ""
        raise PersonactlError(
            f"the Deepgram Settings for Persona {name!r}{where} do not validate against "
            f"Deepgram's schema: {'; '.join(problems)}; fix targets.{target} in the manifest"
        )
    done = Exported(settings, exported.open_warnings(overrides))
    if not reveal_secrets:
        for secret, where in _placeholders(settings):
            done.placeholders.setdefault(secret, []).append(where)
    else:
        done.holds_secrets = bool(result.secret_values)
    return done


def _tools(
    spec: dict[str, Any], items: list[Rendered]
) -> tuple[list[deepgram.ToolSpec], list[str]]:
    """The persona's tools that have manifests, and the others as they are written."""
    tools_by_name = {r.name: r for r in items if r.kind == "Tool"}
    tools: list[deepgram.ToolSpec] = []
    unresolved: list[str] = []
    for ref in spec.get("tools") or []:
        if isinstance(ref, str) and ref in tools_by_name:
            tools.append(deepgram.ToolSpec(ref, tools_by_name[ref].desired_spec(mask=False)))
        else:
            unresolved.append(json.dumps(ref) if not isinstance(ref, str) else repr(ref))
    return tools, unresolved


def _voice_and_llm(
    persona: Rendered, spec: dict[str, Any], resolver: Resolver
) -> tuple[dict[str, Any] | None, dict[str, Any] | str | None]:
    """The catalog entries of the persona's voice and LLM (the account's default LLM when
    it names none; `NO_LLM` when the client brings its own)."""
    at = persona.resource.loc
    llms = resolver.catalog.llms
    errors = []
    voice = None
    if "voice" in spec:
        voice, err = resolver.voice(spec["voice"], at(("spec", "voice")))
        if err:
            errors.append(err)
    llm: dict[str, Any] | str | None = None
    if "llm" in spec:
        ident, err = resolver.llm(spec["llm"], at(("spec", "llm")))
        if err:
            errors.append(err)
        elif ident == NO_LLM:
            llm = NO_LLM
        else:
            llm = resolver.catalog.by_id(llms, ident)
    else:
        llm = next((m for m in llms if m.get("isDefault")), None)
    if errors:
        raise ManifestErrors(errors)
    return voice, llm


def _placeholders(value: Any, path: str = "") -> list[tuple[str, str]]:
    """(secret name, where) for every `<secret:NAME>` in the document."""
    found: list[tuple[str, str]] = []
    if isinstance(value, str):
        found += [(m.group(1), path) for m in _SECRET_PLACEHOLDER.finditer(value)]
    elif isinstance(value, dict):
        for k, v in value.items():
            found += _placeholders(v, f"{path}.{k}" if path else str(k))
    elif isinstance(value, list):
        for i, v in enumerate(value):
            found += _placeholders(v, f"{path}[{i}]")
    return found


def write_output(out: str, text: str, *, private: bool) -> None:
    """Write `text` to `out` whole or not at all; private (0600) when it may hold secrets."""
    atomic_write(Path(out), text, private=private)
