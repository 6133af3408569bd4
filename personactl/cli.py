"""Command-line entry point: click wiring only.

Each command lives in `personactl/commands/<name>.py` and is imported only
when it runs, so `personactl validate` does not pay for httpx or deepdiff.
"""

from __future__ import annotations

import importlib
import sys
from typing import Any

import click

from personactl import __version__
from personactl.commands.options import add_global_options, global_options

# command name -> ("module:attribute", the one-line summary `personactl --help` lists),
# in the order a new project meets them.
COMMANDS: dict[str, tuple[str, str]] = {
    "init": (
        "personactl.commands.init:init",
        "Start a project: personactl.yaml, a persona, its prompt.",
    ),
    "validate": (
        "personactl.commands.validate:validate",
        "Check the manifests offline; errors name file:line:col.",
    ),
    "render": (
        "personactl.commands.render:render",
        "Print each resource's final spec in an environment.",
    ),
    "plan": (
        "personactl.commands.plan:plan",
        "Show what apply would change, drift included.",
    ),
    "diff": (
        "personactl.commands.plan:diff",
        "The plan, exiting 2 when something would change.",
    ),
    "apply": (
        "personactl.commands.apply:apply",
        "Make the live personas and tools match the manifests.",
    ),
    "import": (
        "personactl.commands.importer:import_",
        "Write manifests for live personas and manage them.",
    ),
    "state": (
        "personactl.commands.state:state",
        "List, show, forget or rename what the state records.",
    ),
    "smoke": (
        "personactl.commands.smoke:smoke",
        "Check that each applied persona can start a session.",
    ),
    "catalog": (
        "personactl.commands.catalog:catalog",
        "List the avatars, voices, LLMs, tools and knowledge.",
    ),
    "session-config": (
        "personactl.commands.session_config:session_config",
        "Print the message that changes a live session.",
    ),
    "export": (
        "personactl.commands.export:export",
        "Export a persona as Deepgram Voice Agent Settings.",
    ),
    "schema": (
        "personactl.commands.schema:schema",
        "Print the JSON Schema of a manifest kind or of a plan.",
    ),
    "emulator": (
        "personactl.emulator.cli:emulator",
        "Serve the offline Anam API emulator over HTTP.",
    ),
}


class LazyGroup(click.Group):
    def list_commands(self, ctx: click.Context) -> list[str]:
        return list(COMMANDS)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name not in COMMANDS:
            return None
        module_name, attr = COMMANDS[cmd_name][0].split(":")
        command = getattr(importlib.import_module(module_name), attr)
        assert isinstance(command, click.Command)
        add_global_options(command)
        return command

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        # Summaries from the table, whole: no command module is imported for --help.
        with formatter.section("Commands"):
            formatter.write_dl([(name, summary) for name, (_, summary) in COMMANDS.items()])


@click.group(
    cls=LazyGroup,
    params=global_options(),
    context_settings={"help_option_names": ["-h", "--help"]},
    epilog="\b\nExit status: 0 success, 1 any error, 2 changes present (diff, and\n"
    "plan --detailed-exitcode). `personactl COMMAND --help` describes a command;\n"
    "-C, --debug and --no-color work after the command too.",
)
@click.version_option(__version__, prog_name="personactl")
def cli() -> None:
    """Persona-as-code for Anam AI personas.

    Declare personas, tools and prompts in YAML and Jinja, check them offline
    with `validate`, review what would change with `plan`, and make the Anam
    API match with `apply`, as Terraform does for infrastructure. An
    environment with `backend: sandbox` uses a built-in emulator of the API:
    no account, no network. New here? Run `personactl init`.
    """


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
        from personactl.core.errors import PersonactlError

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
