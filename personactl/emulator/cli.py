"""`personactl emulator ...` commands."""

import click


@click.group()
def emulator() -> None:
    """Run the offline Anam API emulator."""
