"""`personactl export NAME --format deepgram`: a persona for another voice-agent runtime.

The persona is rendered for the environment, its voice and LLM are resolved
through the environment's catalog, the mapping in `personactl.targets` builds
the document, the persona's `targets.<format>` block is deep-merged over it,
and the result is validated against the target's vendored schema before it
is printed: an invalid result is an error, never output.

Secrets: without `--reveal-secrets` the manifests are rendered with
placeholder secrets (`<secret:NAME>`), so the export needs no secret at all
and says on stderr which placeholders it wrote; with it, the real values are
read from the environment and written.
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path
from typing import Any

import click

from personactl.commands.options import api_options

FORMATS = ("deepgram",)
_SECRET_PLACEHOLDER = re.compile(r"<secret:([A-Za-z_][A-Za-z0-9_]*)>")


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


def _format(ctx: click.Context, fmt: str | None, target: str | None) -> str:
    """--format, or the --target it replaced (with a notice): export's --target was a
    format, while plan's and apply's --target is a resource."""
    if target is not None:
        click.echo(f"warning: --target is deprecated for export: use --format {target}", err=True)
    chosen = fmt or target
    if chosen is None:
        raise click.UsageError(
            f"Missing option '--format' (the only format is {', '.join(FORMATS)}).", ctx
        )
    return chosen


@click.command()
@click.argument("name")
@click.option(
    "--format",
    "fmt",
    type=click.Choice(FORMATS),
    help="What to print: deepgram (a Deepgram Voice Agent Settings message).",
)
@click.option("--target", "target", type=click.Choice(FORMATS), hidden=True)  # the old --format
@click.option(
    "--out",
    "out",
    type=click.Path(dir_okay=False, writable=True),
    metavar="FILE",
    help="Write to FILE instead of stdout.",
)
@click.option(
    "--reveal-secrets",
    is_flag=True,
    help="Write secret values (read from the environment) instead of <secret:NAME> placeholders.",
)
@api_options
@click.pass_context
def export(
    ctx: click.Context,
    name: str,
    fmt: str | None,
    target: str | None,
    env_name: str | None,
    out: str | None,
    reveal_secrets: bool,
    api_key: str | None,
    api_url: str | None,
) -> None:
    """Print persona NAME as a Deepgram Voice Agent Settings message (--format deepgram).

    Maps the persona's language, LLM and prompt, tools, voice and greeting to
    the message's listen, think, functions, speak and greeting; merges the
    persona's targets.deepgram block over the result; and validates it
    against Deepgram's schema before printing it. What cannot be mapped is
    named on stderr. The voice and LLM are resolved through the
    environment's catalog.
    """
    from personactl.anam.client import client_for
    from personactl.anam.kinds import NO_LLM
    from personactl.anam.resolve import Catalog, Resolver
    from personactl.commands.session_config import find_persona
    from personactl.core.errors import ManifestErrors, PersonactlError
    from personactl.manifest.checks import check
    from personactl.manifest.loader import load_all, no_manifests_error
    from personactl.targets import deepgram

    target = _format(ctx, fmt, target)
    loaded = load_all()
    if not loaded.resources and not loaded.diagnostics:
        raise no_manifests_error(loaded.project)
    project = loaded.project
    env = project.environment(env_name)
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
    tools_by_name = {r.name: r for r in items if r.kind == "Tool"}
    tools: list[deepgram.ToolSpec] = []
    unresolved: list[str] = []
    for ref in spec.get("tools") or []:
        if isinstance(ref, str) and ref in tools_by_name:
            tools.append(deepgram.ToolSpec(ref, tools_by_name[ref].desired_spec(mask=False)))
        else:
            unresolved.append(json.dumps(ref) if not isinstance(ref, str) else repr(ref))

    resolver_at = persona.resource.loc
    debug = bool((ctx.obj or {}).get("debug", False))
    with client_for(env, project.root, api_key=api_key, api_url=api_url, debug=debug) as client:
        voices = client.list_all("/v1/voices") if "voice" in spec else []
        llms = client.list_all("/v1/llms")
    resolver = Resolver(Catalog(voices=voices, llms=llms), {})
    errors = []
    voice = None
    if "voice" in spec:
        voice, err = resolver.voice(spec["voice"], resolver_at(("spec", "voice")))
        if err:
            errors.append(err)
    llm: dict[str, Any] | str | None = None
    if "llm" in spec:
        ident, err = resolver.llm(spec["llm"], resolver_at(("spec", "llm")))
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

    for warning in exported.open_warnings(overrides):
        click.echo(f"warning: {name}: {warning}", err=True)
    if not reveal_secrets:
        by_name: dict[str, list[str]] = {}
        for secret, where in _placeholders(settings):
            by_name.setdefault(secret, []).append(where)
        for secret, paths in sorted(by_name.items()):
            click.echo(
                f"note: secret {secret} is written as the placeholder <secret:{secret}> "
                f"(at {', '.join(paths)}); pass --reveal-secrets to write its value",
                err=True,
            )
    elif result.secret_values:
        click.echo("note: the output holds secret values (--reveal-secrets)", err=True)

    text = json.dumps(settings, indent=2, ensure_ascii=False) + "\n"
    if out is None:
        click.echo(text, nl=False)
        return
    path = Path(out)
    tmp = path.with_name(f".{path.name}.tmp")
    # Private when it may hold secrets; written whole or not at all.
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600 if reveal_secrets else 0o644)
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        fh.write(text)
    os.replace(tmp, path)
    click.echo(f"wrote {out}", err=True)
