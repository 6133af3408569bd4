"""`personactl emulator ...` commands."""

from __future__ import annotations

import signal
import sys
import threading
from collections.abc import Callable
from pathlib import Path
from types import FrameType
from typing import Any

import click

from personactl.emulator.settings import API_KEY_ENV, DEFAULT_API_KEY

Decorator = Callable[[Callable[..., object]], Callable[..., object]]


def _value(name: str, kind: click.ParamType[Any], default: object, text: str) -> Decorator:
    """A valued option with its default shown: one line per switch below."""
    return click.option(name, type=kind, default=default, show_default=True, help=text)


@click.group()
def emulator() -> None:
    """Run the offline Anam API emulator."""


@emulator.command()
@click.option(
    "--host",
    default=None,
    help="Interface to bind [default: 127.0.0.1]. Only an explicit --host may be non-loopback.",
)
@_value("--port", click.IntRange(0, 65535), 4010, "TCP port; 0 picks a free one.")
@click.option(
    "--data",
    "data_dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=Path(".personactl/sandbox"),
    show_default=True,
    help="Directory holding the emulator's SQLite database (shared with `-e sandbox`).",
)
@click.option(
    "--api-key",
    envvar=API_KEY_ENV,
    default=DEFAULT_API_KEY,
    show_default=True,
    help=f"Bearer key clients must send (also ${API_KEY_ENV}).",
)
@click.option(
    "--hide-write-only",
    is_flag=True,
    help="Omit languageCode, uninterruptibleGreeting and initialMessage from persona "
    "responses, as the official response schema does.",
)
@click.option(
    "--latency-ms",
    type=click.FloatRange(min=0),
    default=0.0,
    help="Sleep this many milliseconds per request.",
)
@click.option(
    "--fail",
    "fail_spec",
    default="",
    metavar="STATUS=RATE,...",
    help="Inject failures before any effect, e.g. 429=0.2,503=0.1.",
)
@click.option(
    "--drop-after-commit",
    type=click.FloatRange(0, 1),
    default=0.0,
    help="Rate at which a POST/PUT commits and then drops the connection.",
)
@_value("--retry-after", click.IntRange(min=0), 1, "Retry-After seconds sent with injected 429s.")
@click.option("--seed", type=int, default=None, help="Seed for fault draws, so runs repeat.")
@click.option(
    "--spike",
    "spike_spec",
    default="",
    metavar="RATE:MS",
    help="Latency spikes: answer this fraction of requests this many ms late, e.g. 0.05:2000.",
)
@click.option(
    "--normalize-text",
    is_flag=True,
    help="Trim white space around systemPrompt, description and initialMessage on write.",
)
@_value(
    "--processing-ms",
    click.FloatRange(min=0),
    50.0,
    "Milliseconds an uploaded knowledge document stays PROCESSING before it is READY (or FAILED).",
)
@click.option("--access-log", is_flag=True, help="Log one line per request to stderr.")
@click.pass_context
def serve(
    ctx: click.Context,
    host: str | None,
    port: int,
    data_dir: Path,
    api_key: str,
    hide_write_only: bool,
    latency_ms: float,
    fail_spec: str,
    drop_after_commit: float,
    retry_after: int,
    seed: int | None,
    spike_spec: str,
    normalize_text: bool,
    processing_ms: float,
    access_log: bool,
) -> None:
    """Serve the emulator over HTTP and print its URL.

    An Anam-API-compatible server for offline use and CI, with the stock
    catalog seeded; point an `anam` environment's apiUrl at the URL it
    prints. Stop it with Ctrl-C or SIGTERM.
    """
    from personactl.emulator.app import EmulatorApp
    from personactl.emulator.faults import parse_fail_rates
    from personactl.emulator.server import DEFAULT_HOST, create_server, is_loopback
    from personactl.emulator.settings import EmulatorSettings

    # only a value typed on the command line may open the emulator to the network
    explicit = ctx.get_parameter_source("host") == click.core.ParameterSource.COMMANDLINE
    bind_host = host or DEFAULT_HOST
    settings = EmulatorSettings(
        api_key=api_key,
        hide_write_only=hide_write_only,
        latency_ms=latency_ms,
        fail_rates=parse_fail_rates(fail_spec),
        drop_after_commit=drop_after_commit,
        seed=seed,
        retry_after_seconds=retry_after,
        normalize_text=normalize_text,
        processing_ms=processing_ms,
        **_parse_spike(spike_spec),
    )
    app = EmulatorApp(data_dir, settings)
    try:
        server = create_server(
            app, bind_host, port, allow_non_loopback=explicit, access_log=access_log
        )
    except BaseException:
        app.close()
        raise
    if not is_loopback(bind_host):
        click.echo(f"warning: listening on {bind_host}, reachable from other machines", err=True)

    def stop(signum: int, frame: FrameType | None) -> None:
        # shutdown() waits for serve_forever(), so it must run on another thread
        threading.Thread(target=server.shutdown, daemon=True).start()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    click.echo(server.url)
    sys.stdout.flush()
    try:
        server.serve_forever(poll_interval=0.05)
    finally:
        server.server_close()
        app.close()


def _parse_spike(spec: str) -> dict[str, float]:
    """`RATE:MS` -> spike settings; empty means none."""
    from personactl.core.errors import PersonactlError

    if not spec:
        return {}
    rate_text, sep, ms_text = spec.partition(":")
    try:
        rate, ms = float(rate_text), float(ms_text)
    except ValueError:
        rate, ms = -1.0, -1.0
    if not sep or not 0 <= rate <= 1 or ms < 0:
        raise PersonactlError(f"--spike: {spec!r} is not RATE:MS (for example 0.05:2000)")
    return {"spike_rate": rate, "spike_ms": ms}
