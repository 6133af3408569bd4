"""The options several commands share, each declared once with one help text.

`api_options`, `connection_options` and `plan_options` are decorators for the
commands that talk to the API and that plan: the command gets one object
(`api`, or `opts`) rather than a parameter per flag. `output_option` is -o.
`GLOBAL_OPTIONS` are `-C`, `--debug` and `--no-color`, which `personactl` takes
before the subcommand and cli.py adds to every subcommand too, so
`personactl plan --debug` works as well.
"""

from __future__ import annotations

import functools
import inspect
import os
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any, TypeVar, cast

import click

if TYPE_CHECKING:
    from personactl.usecases.connect import ApiOptions
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


def _passes(name: str, make: Callable[..., object]) -> Callable[[F], F]:
    """Hand the command `make(...)` as its one argument `name`, in place of the options
    `make` takes (by their names): a command sees one object, not a flag per option."""
    taken = set(inspect.signature(make).parameters)

    def decorate(f: F) -> F:
        @functools.wraps(f)
        def command(*args: Any, **kwargs: Any) -> Any:
            given = {key: kwargs.pop(key) for key in taken & kwargs.keys()}
            return f(*args, **kwargs, **{name: make(**given)})

        return cast(F, command)

    return decorate


def _api(
    env_name: str | None, api_key: str | None, api_url: str | None, parallelism: int = 8
) -> ApiOptions:
    """The API flags, and --debug from the run's settings; `parallelism` is
    --parallelism's default for the commands without the flag."""
    from personactl.usecases.connect import ApiOptions  # when run: --help stays light

    debug = bool(_settings(click.get_current_context()).get("debug"))
    return ApiOptions(env_name, api_key, api_url, parallelism, debug)


def _plan(
    api: ApiOptions,
    targets: tuple[str, ...],
    selectors: tuple[str, ...],
    prune: bool,
    refresh: str = "auto",
) -> Options:
    from personactl.usecases.plan import Options

    return Options(api, targets, selectors, prune, "full" if refresh == "full" else "auto")


def api_options(f: F) -> F:
    """-e, --api-key and --api-url, passed as `api` (ApiOptions, --debug included):
    for commands that read from the API."""
    return env_option(api_key_option(api_url_option(_passes("api", _api)(f))))


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
        help=(
            "Only this resource (repeatable); the tools it uses, and the knowledge groups "
            "they search, come along."
        ),
    )(f)


refresh_option = click.option(
    "--refresh",
    type=click.Choice(("auto", "full")),
    default="auto",
    show_default=True,
    help="auto: read again only the personas whose updatedAt moved since the last apply "
    "(or whose tools changed), take the others from the state; full: read every persona "
    "(a scheduled drift check).",
)


def plan_options(f: F) -> F:
    """connection_options, selection_options and --refresh, passed as `opts` (the plan use
    case's Options): the flags plan, diff and apply share."""
    return connection_options(selection_options(refresh_option(_passes("opts", _plan)(f))))


def output_option(formats: Sequence[str], help_text: str) -> Callable[[F], F]:
    """-o/--output into `fmt`: one of `formats`, the first by default."""
    return click.option(
        "-o",
        "--output",
        "fmt",
        type=click.Choice(formats),
        default=formats[0],
        show_default=True,
        help=help_text,
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


def _flag(name: str, callback: Callable[..., None], help_text: str) -> click.Option:
    """A flag that only sets the run's settings (its callback), never a parameter."""
    return click.Option([name], is_flag=True, expose_value=False, callback=callback, help=help_text)


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
        _flag("--debug", _debug, "Show tracebacks, and one line per HTTP request, on stderr."),
        _flag("--no-color", _no_color, "No colour in output (also: NO_COLOR=1)."),
    ]


def add_global_options(command: click.Command) -> None:
    """Give `command` (and a group's subcommands) -C, --debug and --no-color, once."""
    if not any("--debug" in p.opts for p in command.params):
        command.params.extend(global_options())
    if isinstance(command, click.Group):
        for sub in command.commands.values():
            add_global_options(sub)
