"""The session-config use case: the persona_config data message for a live session.

Three ways to say what changes (API field names in the message, either
vocabulary in an assignment):

- no assignments and no other environment: every live-updatable field as the
  persona is configured in ENV (what to send to put a tweaked session back);
- another environment OTHER: only what differs between the persona in ENV and
  in OTHER (nested options: only the keys that differ), so a session running
  the ENV configuration becomes the OTHER one. Both environments' manifests are
  rendered offline; the voice is resolved through ENV's catalog only (OTHER
  need not be reachable: a voice that differs is refused anyway, because a
  voice cannot change live);
- assignments `PATH=VALUE`: explicit changes, applied last (so they also adjust
  a message made from OTHER).

Validation is `personactl.live.validate_data`, the same the Python API uses.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

from personactl import live
from personactl.anam.api import AnamApi
from personactl.anam.kinds import PERSONA
from personactl.anam.resolve import Catalog, Resolver
from personactl.core.errors import ManifestErrors, PersonactlError
from personactl.manifest.checks import check
from personactl.manifest.model import Environment
from personactl.manifest.render import Rendered
from personactl.usecases.connect import ApiOptions, Connect, connect
from personactl.usecases.project import find_persona, manifests

# manifest spec key -> API field, for the live-updatable fields (declared in anam.kinds)
LIVE_SPEC = {f.manifest: f.body for f in PERSONA.live_fields}
# manifest (and API) vocabulary -> API field of the data message
ALIASES = {**LIVE_SPEC, **{f.body: f.body for f in PERSONA.live_fields}}
_MISSING = object()


def parse_assignment(data: dict[str, Any], assignment: str) -> None:
    """Apply one `--set PATH=VALUE` to `data` (API names); VALUE is JSON when it parses."""
    path, sep, raw = assignment.partition("=")
    path = path.strip()
    if not sep or not path:
        raise PersonactlError(
            f"--set {assignment!r} must look like PATH=VALUE (e.g. voiceGeneration.speed=1.1)"
        )
    try:
        value: Any = json.loads(raw)
    except ValueError:
        value = raw
    parts = path.split(".")
    if any(not p for p in parts):
        raise PersonactlError(f"--set {assignment!r}: {path!r} is not a field path")
    head = ALIASES.get(parts[0], parts[0])
    if head == "languageCode" and len(parts) > 1:
        raise PersonactlError(
            f"--set {assignment!r}: languageCode has no fields; write languageCode=fr"
        )
    if head in ("voiceGenerationOptions", "voiceDetectionOptions"):
        if len(parts) > 2:
            raise PersonactlError(
                f"--set {assignment!r}: voice options are flat; write {parts[0]}.KEY=VALUE "
                "(e.g. voiceGeneration.speed=1.1)"
            )
        current = data.get(head)
        if len(parts) == 1:
            if isinstance(value, dict) and isinstance(current, dict):
                data[head] = {**current, **value}
            else:
                data[head] = value
            return
        data[head] = {**(current if isinstance(current, dict) else {}), parts[1]: value}
        return
    # languageCode, or a field the validator will reject (unknown, or not live)
    target: Any = data
    for part in parts[:-1]:
        nxt = target.get(part)
        if not isinstance(nxt, dict):
            nxt = target[part] = {}
        target = nxt
    target[parts[-1]] = value


def live_fields(spec: dict[str, Any]) -> dict[str, Any]:
    """The live-updatable fields of a persona spec, in API names."""
    return {api: spec[key] for key, api in LIVE_SPEC.items() if key in spec}


def difference(
    name: str, a: dict[str, Any], b: dict[str, Any], env_a: str, env_b: str
) -> dict[str, Any]:
    """The data that turns a session configured as `a` (ENV) into `b` (OTHER)."""
    not_live = sorted(k for k in set(a) | set(b) if k not in LIVE_SPEC and a.get(k) != b.get(k))
    if not_live:
        why = (
            f"between environments {env_a!r} and {env_b!r} and cannot change in a live "
            f"session: run `personactl apply -e {env_b}` (use --set alone for the live fields)"
        )
        raise _refused(name, not_live, ("differs", "differ"), why)
    unset: list[str] = []
    data: dict[str, Any] = {}
    for key, api in LIVE_SPEC.items():
        before, after = a.get(key, _MISSING), b.get(key, _MISSING)
        if key == "languageCode":
            if after is _MISSING and before is not _MISSING:
                unset.append(key)
            elif after is not _MISSING and after != before:
                data[api] = after
            continue
        old = before if isinstance(before, dict) else {}
        new = after if isinstance(after, dict) else {}
        unset += [f"{key}.{k}" for k in old if k not in new]
        changed = {k: v for k, v in new.items() if old.get(k, _MISSING) != v}
        if changed:
            data[api] = changed
    if unset:
        why = (
            f"set in environment {env_a!r} but not in {env_b!r}, and a live update cannot "
            f"unset a field: give a value with --set, or run `personactl apply -e {env_b}`"
        )
        raise _refused(name, unset, ("is", "are"), why)
    return data


def _refused(name: str, fields: list[str], verbs: tuple[str, str], why: str) -> PersonactlError:
    """Persona `name`'s `fields` cannot go in the message: `verbs` for one field and for
    several, and `why`."""
    verb = verbs[0] if len(fields) == 1 else verbs[1]
    return PersonactlError(f"Persona {name!r}: {', '.join(fields)} {verb} {why}")


def session_config(
    name: str,
    api: ApiOptions,
    *,
    assignments: tuple[str, ...] = (),
    from_env: str | None = None,
    warn: Callable[[str], None],
    connect: Connect = connect,
) -> dict[str, Any]:
    """The validated `data` of the persona_config message for persona `name`."""
    loaded = manifests()
    project = loaded.project
    env = project.environment(api.env_name)
    other = project.environment(from_env) if from_env else None
    envs: list[Environment | None] = [env]
    if other is not None and other is not env:
        envs.append(other)
    # Placeholder secrets: the live fields never hold one, and no secret is needed.
    result = check(loaded, envs, secrets="placeholder")
    if result.diagnostics:
        raise ManifestErrors(result.diagnostics)
    env_label = env.name if env else ""
    persona = find_persona(result.rendered[env_label], name, env)
    spec = persona.desired_spec(mask=False)
    where = f"Persona {name!r}" + (f" in environment {env.name!r}" if env else "")

    data: dict[str, Any] = {}
    if other is not None:
        other_spec = find_persona(result.rendered[other.name], name, other).desired_spec(mask=False)
        data = difference(name, spec, other_spec, env_label, other.name)
    elif not assignments:
        data = live_fields(spec)
    for assignment in assignments:
        parse_assignment(data, assignment)

    provider = model = None
    generation = data.get(live.GENERATION)
    if isinstance(generation, dict) and generation and "voice" in spec:
        voice = None
        if env is None:
            warn(
                "no environment to ask for the voice's provider: voice generation "
                "options are only checked to fit some provider"
            )
        else:
            voice = _resolve_voice(persona, env, project.root, api, connect)
        if voice is not None:
            provider, model = voice.get("provider"), voice.get("providerModelId")
            where += (
                f" (voice {voice.get('displayName')!r}: {provider}{f' {model}' if model else ''})"
            )
    try:
        return live.validate_data(data, voice_provider=provider, voice_model=model)
    except live.NothingToUpdate as exc:
        detail = ""
        if other is not None:
            detail = (
                f" (environments {env_label!r} and {other.name!r} configure the same "
                "languageCode, voiceGeneration and voiceDetection)"
            )
        raise PersonactlError(f"{where}: {exc}{detail}") from None
    except live.InvalidPersonaConfig as exc:
        raise PersonactlError(f"{where}: {exc}") from None


def _resolve_voice(
    persona: Rendered,
    env: Environment,
    root: Path,
    api: ApiOptions,
    connect: Connect,
) -> dict[str, Any] | None:
    """The persona's voice as the environment's catalog lists it."""
    with api.client(env, root, connect) as client:
        voices = AnamApi(client).voices()
    spec = persona.desired_spec(mask=False)
    found, err = Resolver(Catalog(voices=voices), {}).voice(
        spec["voice"], persona.resource.loc(("spec", "voice"))
    )
    if err is not None:
        raise ManifestErrors([err])
    return found
