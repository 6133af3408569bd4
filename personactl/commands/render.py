"""`personactl render`: print the final desired specs of an environment."""

from __future__ import annotations

from typing import Any

import click

from personactl.commands.options import env_option, output_option


@click.command()
@click.argument("names", nargs=-1)
@env_option
@output_option(("yaml", "json"), "YAML documents, or one JSON list.")
def render(names: tuple[str, ...], env_name: str | None, fmt: str) -> None:
    """Print the final desired spec of each resource (or only NAMES).

    Applies the environment's patches and name prefix/suffix, renders every
    template with the project's and environment's vars, and reads secrets
    from the environment. Secret values print as (sensitive).
    """
    from personactl.core.errors import ManifestErrors, PersonactlError
    from personactl.core.suggest import unknown_names
    from personactl.manifest.checks import check
    from personactl.manifest.loader import load_all, no_manifests_error
    from personactl.manifest.render import redact

    loaded = load_all()
    if not loaded.resources and not loaded.diagnostics:
        raise no_manifests_error(loaded.project)
    env = loaded.project.environment(env_name)
    if names:
        known = {r.name for r in loaded.resources}
        if missing := unknown_names(names, known):
            raise PersonactlError(
                f"no resource named {missing} (known: {', '.join(sorted(known))})"
            )

    def only_named(resources: list[Any]) -> list[Any]:
        return [r for r in resources if r.name in names]

    # Only what is printed is rendered, so only its secrets must be set.
    result = check(loaded, [env], secrets="require", select=only_named if names else None)
    if result.diagnostics:
        raise ManifestErrors(result.diagnostics)
    items = result.rendered[env.name if env else ""]
    docs: list[dict[str, Any]] = []
    for r in items:
        meta: dict[str, Any] = {"name": r.name, "anamName": r.anam_name}
        if r.resource.labels:
            meta["labels"] = r.resource.labels
        if r.resource.pinned_id:
            meta["id"] = r.resource.pinned_id
        doc: dict[str, Any] = {"kind": r.kind, "metadata": meta, "spec": r.desired_spec()}
        if r.resource.lifecycle:
            doc["lifecycle"] = r.resource.lifecycle
        docs.append(doc)
    if fmt == "json":
        import json

        text = json.dumps(docs, indent=2, ensure_ascii=False) + "\n"
    else:
        from personactl.output.yamlout import dump_all

        text = dump_all(docs)
    click.echo(redact(text, result.secret_values), nl=False)
