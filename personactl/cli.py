"""Command-line entry point: click wiring only.

Each command lives in `personactl/commands/<name>.py` and is imported only
when it runs, so `personactl validate` does not pay for httpx or deepdiff.
"""

from __future__ import annotations

import importlib
import os
import sys
from typing import Any

import click

from personactl import __version__

# command name -> "module:attribute"
COMMANDS: dict[str, str] = {
    "validate": "personactl.commands.validate:validate",
    "render": "personactl.commands.render:render",
    "schema": "personactl.commands.schema:schema",
    "plan": "personactl.commands.plan:plan",
    "diff": "personactl.commands.plan:diff",
    "apply": "personactl.commands.apply:apply",
    "import": "personactl.commands.importer:import_",
    "state": "personactl.commands.state:state",
    "smoke": "personactl.commands.smoke:smoke",
    "emulator": "personactl.emulator.cli:emulator",
    "catalog": "personactl.commands.catalog:catalog",
    "session-config": "personactl.commands.session_config:session_config",
    "export": "personactl.commands.export:export",
}


class LazyGroup(click.Group):
    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(COMMANDS)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        target = COMMANDS.get(cmd_name)
        if target is None:
            return None
        module_name, attr = target.split(":")
        command = getattr(importlib.import_module(module_name), attr)
        assert isinstance(command, click.Command)
        return command


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.option(
    "-C",
    "--directory",
    "directory",
    type=click.Path(file_okay=False, exists=True),
    help="Run as if started in DIR (the project holding personactl.yaml).",
)
@click.option("--debug", is_flag=True, help="Show tracebacks and debug logs on stderr.")
@click.option("--no-color", is_flag=True, help="No colour in output (also: NO_COLOR=1).")
@click.version_option(__version__, prog_name="personactl")
@click.pass_context
def cli(ctx: click.Context, directory: str | None, debug: bool, no_color: bool) -> None:
    """Persona-as-code for Anam AI personas.

    Declare personas and tools in YAML, check them offline with `validate`,
    see the final specs with `render`, and (next) reconcile them against the
    Anam API with `plan` and `apply`.
    """
    ctx.ensure_object(dict)
    ctx.obj["invoked_from"] = os.getcwd()
    if directory:
        os.chdir(directory)
    ctx.obj["debug"] = debug
    ctx.obj["color"] = not no_color and "NO_COLOR" not in os.environ


def main(argv: list[str] | None = None) -> None:
    """Run the CLI with personactl's exit codes: 0 ok, 1 any error, 2 changes."""
    args = sys.argv[1:] if argv is None else argv
    debug = "--debug" in args
    try:
        rv: Any = cli.main(args=args, prog_name="personactl", standalone_mode=False)
    except click.exceptions.Exit as exc:
        sys.exit(exc.exit_code)
    except click.exceptions.Abort:
        click.echo("Aborted.", err=True)
        sys.exit(1)
    except click.ClickException as exc:  # usage errors exit 1, not click's 2
        exc.show()
        sys.exit(1)
    except KeyboardInterrupt:
        click.echo("Interrupted.", err=True)
        sys.exit(1)
    except Exception as exc:
        from personactl.errors import PersonactlError

        if debug:
            import traceback

            traceback.print_exc()
        if isinstance(exc, PersonactlError):
            for diag in exc.diagnostics:
                click.echo(f"error: {diag}", err=True)
            if not exc.diagnostics:
                click.echo(f"error: {exc.message}", err=True)
        else:
            click.echo(
                f"error: internal error: {type(exc).__name__}: {exc} "
                "(run with --debug for a traceback, and please report it)",
                err=True,
            )
        sys.exit(1)
    sys.exit(rv if isinstance(rv, int) else 0)
