"""The options several commands share, each declared once with one help text.

`connection_options` and `selection_options` are decorators for the commands
that talk to the API and that plan; `GLOBAL_OPTIONS` are `-C`, `--debug` and
`--no-color`, which `personactl` takes before the subcommand and cli.py adds to
every subcommand too, so `personactl plan --debug` works as well.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar

import click

if TYPE_CHECKING:
    from personactl.usecases.plan import Options

F = TypeVar("F", bound=Callable[..., Any])

ENV_HELP = "Environment from personactl.yaml (default: defaultEnvironment, else the first)."


def _env(help_text: str) -> Callable[[F], F]:
    return click.option("-e", "--env", "env_name", metavar="NAME", help=help_text)


env_option = _env(ENV_HELP)
# validate checks every environment unless told otherwise: same option, its own default.
every_env_option = _env("Check only this environment (default: every environment).")

api_key_option = click.option(
    "--api-key",
    metavar="KEY",
    help="API key (default: the variable the environment's apiKeyEnv names, "
    "ANAM_API_KEY unless set otherwise).",
)
api_url_option = click.option(
    "--api-url",
    metavar="URL",
    help="Anam API base URL (default: $ANAM_API_URL, else the environment's apiUrl); "
    "not for a sandbox environment.",
)
parallelism_option = click.option(
    "--parallelism",
    type=click.IntRange(1, 64),
    default=8,
    show_default=True,
    metavar="N",
    help="Requests in flight at once.",
)


def api_options(f: F) -> F:
    """-e, --api-key and --api-url: for commands that read from the API."""
    return env_option(api_key_option(api_url_option(f)))


def connection_options(f: F) -> F:
    """api_options and --parallelism: for commands that send many requests."""
    return api_options(parallelism_option(f))


def selection_options(f: F) -> F:
    """--target, -l and --prune: which resources a plan covers."""
    f = click.option(
        "--prune",
        is_flag=True,
        help="Also delete resources recorded in the state that the manifests no "
        "longer declare (never lifecycle.preventDestroy ones).",
    )(f)
    f = click.option(
        "-l",
        "--selector",
        "selectors",
        multiple=True,
        metavar="KEY=VALUE",
        help="Only resources with this label (repeatable).",
    )(f)
    return click.option(
        "--target",
        "targets",
        multiple=True,
        metavar="NAME",
        help="Only this resource (repeatable); the tools it uses come along.",
    )(f)


def plan_options(
    ctx: click.Context,
    env_name: str | None,
    targets: tuple[str, ...],
    selectors: tuple[str, ...],
    prune: bool,
    api_key: str | None,
    api_url: str | None,
    parallelism: int,
) -> Options:
    """The plan use case's Options from the flags plan, diff and apply share."""
    from personactl.usecases.plan import Options

    return Options(
        env_name=env_name,
        targets=targets,
        selectors=selectors,
        prune=prune,
        api_key=api_key,
        api_url=api_url,
        parallelism=parallelism,
        debug=bool(ctx.obj.get("debug")),
    )


# -- -C, --debug, --no-color: before or after the subcommand -----------------------------


def _settings(ctx: click.Context) -> dict[str, Any]:
    """The run's settings (ctx.obj), shared by the root context and every subcommand's."""
    root = ctx.find_root()
    obj: dict[str, Any] = root.ensure_object(dict)
    if ctx.obj is not obj:
        ctx.obj = obj
    return obj


def _directory(ctx: click.Context, _: click.Parameter, value: str | None) -> None:
    obj = _settings(ctx)
    # Where the user ran personactl, before any -C: paths they typed are relative to it.
    obj.setdefault("invoked_from", os.getcwd())
    if value:
        os.chdir(value)


def _debug(ctx: click.Context, _: click.Parameter, value: bool) -> None:
    obj = _settings(ctx)
    obj["debug"] = bool(value or obj.get("debug"))


def _no_color(ctx: click.Context, _: click.Parameter, value: bool) -> None:
    obj = _settings(ctx)
    obj["color"] = obj.get("color", True) and not value and "NO_COLOR" not in os.environ


def global_options() -> list[click.Option]:
    """New Option objects for -C, --debug and --no-color (one set per command)."""
    return [
        click.Option(
            ["-C", "--directory"],
            type=click.Path(file_okay=False, exists=True),
            metavar="DIR",
            is_eager=True,  # before other options read files relative to the directory
            expose_value=False,
            callback=_directory,
            help="Run as if started in DIR (the project holding personactl.yaml).",
        ),
        click.Option(
            ["--debug"],
            is_flag=True,
            expose_value=False,
            callback=_debug,
            help="Show tracebacks, and one line per HTTP request, on stderr.",
        ),
        click.Option(
            ["--no-color"],
            is_flag=True,
            expose_value=False,
            callback=_no_color,
            help="No colour in output (also: NO_COLOR=1).",
        ),
    ]


def add_global_options(command: click.Command) -> None:
    """Give `command` (and a group's subcommands) -C, --debug and --no-color, once."""
    if not any("--debug" in p.opts for p in command.params):
        command.params.extend(global_options())
    if isinstance(command, click.Group):
        for sub in command.commands.values():
            add_global_options(sub)
