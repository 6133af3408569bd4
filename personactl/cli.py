"""Command-line entry point: click wiring only, and a fast path for `validate`.

Each command lives in `personactl/commands/<name>.py` and is imported only
when it runs, so `personactl validate` does not pay for httpx or deepdiff.
pre-commit runs `personactl validate FILE...` on every commit, so its plain
forms (paths, -e, -o, -C, --debug, --no-color) are parsed here without
importing click at all (a third of the run); anything else (--help, an
unknown option, a bad value) goes to click, which says what is wrong.
"""

from __future__ import annotations

import os
import sys

# typing (and the re it imports) would cost the prescan child of `validate` its head
# start: no import of it before the fork (prescan.py).
TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Any, NoReturn

    import click

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
        "Make the live resources match the manifests.",
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


_built: click.Group | None = None


def _build() -> click.Group:
    """The click group, made on first use: `validate`'s fast path never imports click."""
    global _built
    if _built is not None:
        return _built
    import importlib

    import click

    from personactl import __version__
    from personactl.commands.options import add_global_options, global_options

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

    _built = cli
    return cli


def __getattr__(name: str) -> Any:
    if name == "cli":  # `from personactl.cli import cli`: the click group
        return _build()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


# -- validate without click ------------------------------------------------------------

_FORMATS = ("text", "json", "github")
FastArgs = tuple[list[str], str | None, str, str | None]


def _validate_args(args: list[str]) -> FastArgs | None:
    """(paths, -e, -o, -C) when `args` is a plain `validate` run; None sends it to click."""
    paths: list[str] = []
    env: str | None = None
    fmt = "text"
    directory: str | None = None
    command = False
    i = 0
    while i < len(args):
        arg = args[i]
        name, eq, inline = arg.partition("=") if arg.startswith("--") else (arg, "", "")
        takes = name in ("-C", "--directory") or (
            command and name in ("-e", "--env", "-o", "--output")
        )
        value: str | None = None
        if takes:
            if eq:
                value = inline
            elif i + 1 < len(args):
                i += 1
                value = args[i]
            else:
                return None  # click says the value is missing
        if name in ("-C", "--directory"):
            if directory is not None or not value or not os.path.isdir(value):
                return None  # twice (relative to each other), or click's "does not exist"
            directory = value
        elif arg in ("--debug", "--no-color"):
            pass  # --debug is read by main; validate prints no colour
        elif not command:
            if arg != "validate":
                return None
            command = True
        elif name in ("-e", "--env"):
            env = value
        elif name in ("-o", "--output"):
            if value not in _FORMATS:
                return None
            fmt = value
        elif arg == "--":
            paths.extend(args[i + 1 :])
            break
        elif arg.startswith("-") and arg != "-":
            return None  # --help, an unknown option, -ojson: click handles them
        else:
            paths.append(arg)
        i += 1
    return (paths, env, fmt, directory) if command else None


def _fast_validate(
    paths: list[str], env: str | None, fmt: str, directory: str | None, *, debug: bool
) -> int:
    invoked_from = os.getcwd()
    try:
        if directory:
            os.chdir(directory)
        from personactl.output.diagnostics import report
        from personactl.usecases.validate import validate

        result = validate(paths, env, invoked_from, os.environ.get("PRE_COMMIT") == "1")
        out, err = report(result.diagnostics, fmt, result.checked, result.skipped)
        sys.stdout.write(out)
        sys.stdout.flush()
        sys.stderr.write(err)
        return 1 if result.diagnostics else 0
    except KeyboardInterrupt:
        print("Interrupted.", file=sys.stderr)
        return 1
    except Exception as exc:
        _show_error(exc, debug, print)
        return 1


def _show_error(exc: Exception, debug: bool, echo: Any) -> None:
    """An exception as personactl's one-line error (and a traceback with --debug)."""
    from personactl.core.errors import PersonactlError

    if debug:
        import traceback

        traceback.print_exc()
    if isinstance(exc, PersonactlError):
        for diag in exc.diagnostics:
            echo(f"error: {diag}", file=sys.stderr)
        if not exc.diagnostics:
            echo(f"error: {exc.message}", file=sys.stderr)
    else:
        echo(
            f"error: internal error: {type(exc).__name__}: {exc} "
            "(run with --debug for a traceback, and please report it)",
            file=sys.stderr,
        )


def main(argv: list[str] | None = None) -> None:
    """Run the CLI with personactl's exit codes: 0 ok, 1 any error, 2 changes."""
    from personactl.core.process import end, tune_gc

    tune_gc()
    # Without argv this is the console script: the process ends with the command.
    finish: Callable[[int], NoReturn] = sys.exit
    if argv is None:
        finish = end
    args = sys.argv[1:] if argv is None else argv
    debug = "--debug" in args
    fast = _validate_args(args)
    if fast is not None:
        if argv is None and fast[0]:  # a process of its own: survey beside the imports
            from personactl.manifest import prescan

            prescan.start(fast[0])
        finish(_fast_validate(*fast, debug=debug))
    import click

    cli = _build()
    code = 1
    try:
        rv: Any = cli.main(args=args, prog_name="personactl", standalone_mode=False)
        code = rv if isinstance(rv, int) else 0
    except click.exceptions.Exit as exc:
        code = exc.exit_code
    except click.exceptions.Abort:
        click.echo("Aborted.", err=True)
    except click.ClickException as exc:  # usage errors exit 1, not click's 2
        exc.show()
    except KeyboardInterrupt:
        click.echo("Interrupted.", err=True)
    except Exception as exc:
        _show_error(exc, debug, lambda text, file: click.echo(text, err=True))
    finish(code)
