"""The ``flair-hdbscan`` command group.

Each sub-command lives in its own module and is imported only when it runs, so that
``flair-hdbscan --help`` stays fast. A :class:`~flair_hdbscan.errors.FlairError` raised by any
command is printed as one line on standard error and the process exits with status 2.
"""

from __future__ import annotations

import importlib
import logging
import sys

import click

from flair_hdbscan import __version__

#: Registered sub-commands: name → "module:attribute" under ``flair_hdbscan.cli``.
COMMANDS: dict[str, str] = {
    "sample-data": "sample_data:sample_data",
    "info": "info:info",
    "evaluate": "evaluate:evaluate",
    "plot": "plot:plot",
    "run": "run:run",
    "fit": "fit:fit",
    "predict": "predict:predict",
}


class LazyGroup(click.Group):
    """A click group that imports each command's module on first use."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        """Names of the registered commands, sorted."""
        return sorted(COMMANDS)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        """Import and return the command called ``cmd_name``."""
        target = COMMANDS.get(cmd_name)
        if target is None:
            return None
        module_name, attr = target.split(":")
        module = importlib.import_module(f"flair_hdbscan.cli.{module_name}")
        return getattr(module, attr)

    def invoke(self, ctx: click.Context):  # noqa: D102
        from flair_hdbscan.errors import FlairError

        try:
            return super().invoke(ctx)
        except FlairError as exc:
            click.echo(f"Error: {exc}", err=True)
            sys.exit(2)
        except KeyboardInterrupt:
            click.echo("Interrupted: finished outputs are kept; run again to resume.", err=True)
            sys.exit(130)


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="flair-hdbscan")
@click.option("-v", "--verbose", count=True, help="More log messages (-v info, -vv debug).")
def cli(verbose: int) -> None:
    """Can HDBSCAN clustering stand in for manual annotation of FLAIR #2 land cover?"""
    level = logging.WARNING - 10 * min(verbose, 2)
    logging.basicConfig(level=level, format="%(levelname)s %(name)s: %(message)s")


if __name__ == "__main__":
    cli()
