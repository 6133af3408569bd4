"""`personactl schema KIND`: print a JSON Schema."""

from __future__ import annotations

import click


@click.command()
@click.argument(
    "kind",
    type=click.Choice(
        ["project", "persona", "tool", "llm", "knowledgegroup", "plan"], case_sensitive=False
    ),
)
@click.option("--path", "show_path", is_flag=True, help="Print the schema file's path instead.")
def schema(kind: str, show_path: bool) -> None:
    """Print the JSON Schema (draft 2020-12) of a manifest KIND, or of a plan.

    project, persona, tool, llm and knowledgegroup describe the manifests; plan describes
    `plan -o json` and the files `plan --out` saves (docs/plan-format.md).
    Editors that speak the YAML language server pick a manifest's schema up
    from a modeline at the top of the file:

    \b
      # yaml-language-server: $schema=<path printed by --path>
    """
    from personactl.manifest.schemas import schema_path, schema_text

    if show_path:
        click.echo(str(schema_path(kind)))
    else:
        click.echo(schema_text(kind), nl=False)
