"""`personactl session-config NAME`: the persona_config data message for a live session.

Three ways to say what changes (API field names in the output, either
vocabulary in `--set`):

- neither `--set` nor `--from-env`: every live-updatable field as the persona
  is configured in ENV (what to send to put a tweaked session back);
- `--from-env OTHER`: only what differs between the persona in ENV and in
  OTHER (nested options: only the keys that differ), so a session running the
  ENV configuration becomes the OTHER one. Both environments' manifests are
  rendered offline; the voice is resolved through ENV's catalog only (OTHER
  need not be reachable: a voice that differs is refused anyway, because a
  voice cannot change live);
- `--set PATH=VALUE` (repeatable): explicit changes, applied last (so they
  also adjust a `--from-env` message).

Validation is `personactl.live.validate_data`, the same the Python API uses.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

import click

from personactl.anam.kinds import PERSONA
from personactl.commands.options import api_options

if TYPE_CHECKING:
    from personactl.manifest.model import Environment
    from personactl.manifest.render import Rendered

# manifest spec key -> API field, for the live-updatable fields
LIVE_SPEC = {f.manifest: f.body for f in PERSONA.live_fields}
# manifest (and API) vocabulary -> API field of the data message
ALIASES = {**LIVE_SPEC, **{f.body: f.body for f in PERSONA.live_fields}}
_MISSING = object()


def parse_assignment(data: dict[str, Any], assignment: str) -> None:
    """Apply one `--set PATH=VALUE` to `data` (API names); VALUE is JSON when it parses."""
    from personactl.core.errors import PersonactlError

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
    from personactl.core.errors import PersonactlError

    not_live = sorted(k for k in set(a) | set(b) if k not in LIVE_SPEC and a.get(k) != b.get(k))
    if not_live:
        verb = "differs" if len(not_live) == 1 else "differ"
        raise PersonactlError(
            f"Persona {name!r}: {', '.join(not_live)} {verb} between environments {env_a!r} "
            f"and {env_b!r} and cannot change in a live session: run "
            f"`personactl apply -e {env_b}` (use --set alone for the live fields)"
        )
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
        verb = "is" if len(unset) == 1 else "are"
        raise PersonactlError(
            f"Persona {name!r}: {', '.join(unset)} {verb} set in environment {env_a!r} but not "
            f"in {env_b!r}, and a live update cannot unset a field: give a value with --set, "
            f"or run `personactl apply -e {env_b}`"
        )
    return data


def find_persona(items: list[Rendered], name: str, env: Environment | None) -> Rendered:
    from personactl.core.errors import PersonactlError

    for r in items:
        if r.kind == "Persona" and r.name == name:
            return r
    known = sorted(r.name for r in items if r.kind == "Persona")
    where = f" in environment {env.name!r}" if env else ""
    raise PersonactlError(f"no Persona named {name!r}{where} (known: {', '.join(known) or 'none'})")


@click.command("session-config")
@click.argument("name")
@click.option(
    "--set",
    "assignments",
    multiple=True,
    metavar="PATH=VALUE",
    help="A change, e.g. voiceGeneration.speed=1.1 or languageCode=fr (repeatable); "
    "VALUE is JSON when it parses, else a string.",
)
@click.option(
    "--from-env",
    "from_env",
    metavar="OTHER",
    help="Change a session running the -e environment's configuration to environment "
    "OTHER's: send only what differs.",
)
@click.option("--compact", is_flag=True, help="One line of JSON.")
@api_options
@click.pass_context
def session_config(
    ctx: click.Context,
    name: str,
    env_name: str | None,
    assignments: tuple[str, ...],
    from_env: str | None,
    compact: bool,
    api_key: str | None,
    api_url: str | None,
) -> None:
    """Print the persona_config data message that changes a live session of NAME.

    Only languageCode, voiceGenerationOptions and voiceDetectionOptions can
    change in a live session (send the output with sendDataMessage()). The
    message is checked by Anam's rules: not empty, known fields only, values
    in range for the persona's voice provider and model.
    """
    from personactl import live
    from personactl.core.errors import ManifestErrors, PersonactlError
    from personactl.manifest.checks import check
    from personactl.manifest.loader import load_all, no_manifests_error

    loaded = load_all()
    if not loaded.resources and not loaded.diagnostics:
        raise no_manifests_error(loaded.project)
    project = loaded.project
    env = project.environment(env_name)
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
        voice = _resolve_voice(ctx, persona, env, project.root, api_key, api_url)
        if voice is not None:
            provider, model = voice.get("provider"), voice.get("providerModelId")
            where += (
                f" (voice {voice.get('displayName')!r}: {provider}{f' {model}' if model else ''})"
            )
    try:
        checked = live.validate_data(data, voice_provider=provider, voice_model=model)
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
    click.echo(live.dumps(live.message(checked), compact=compact))


def _resolve_voice(
    ctx: click.Context,
    persona: Rendered,
    env: Environment | None,
    root: Any,
    api_key: str | None,
    api_url: str | None,
) -> dict[str, Any] | None:
    """The persona's voice as the environment's catalog lists it."""
    from personactl.anam.client import client_for
    from personactl.anam.resolve import Catalog, Resolver
    from personactl.core.errors import ManifestErrors

    if env is None:
        click.echo(
            "warning: no environment to ask for the voice's provider: voice generation "
            "options are only checked to fit some provider",
            err=True,
        )
        return None
    debug = bool((ctx.obj or {}).get("debug", False))
    with client_for(env, root, api_key=api_key, api_url=api_url, debug=debug) as client:
        voices = client.list_all("/v1/voices")
    spec = persona.desired_spec(mask=False)
    found, err = Resolver(Catalog(voices=voices), {}).voice(
        spec["voice"], persona.resource.loc(("spec", "voice"))
    )
    if err is not None:
        raise ManifestErrors([err])
    return found
