"""The ``flair-hdbscan`` command group.

Each sub-command lives in its own module and is imported only when it runs, so that
``flair-hdbscan --help`` stays fast. Whatever a command meets ends in one line on standard
error, never a traceback: a usage error or a :class:`~flair_hdbscan.errors.FlairError` (a
user's mistake, status 2, or a fault of the environment such as a full disk, status 1), an
``OSError`` or ``MemoryError`` the library did not foresee (status 1), and Ctrl-C (status
130, finished work kept).
"""

from __future__ import annotations

import importlib
import logging
import sys

import click

from flair_hdbscan import __version__
from flair_hdbscan.errors import FlairError
from flair_hdbscan.interrupts import interrupt_handler

#: Registered sub-commands: name → "module:attribute" under ``flair_hdbscan.cli``.
COMMANDS: dict[str, str] = {
    "sample-data": "sample_data:sample_data",
    "info": "info:info",
    "evaluate": "evaluate:evaluate",
    "plot": "plot:plot",
    "run": "run:run",
    "budget": "budget:budget",
    "fit": "fit:fit",
    "predict": "predict:predict",
    "label": "label:label",
}

INTERRUPTED = "interrupted; run again to resume (finished work is kept)"


def _interrupted(exc: BaseException) -> bool:
    """Whether ``exc`` is, or was caused by, Ctrl-C (numba wraps it in a SystemError)."""
    seen = 0
    while exc is not None and seen < 10:
        if isinstance(exc, KeyboardInterrupt):
            return True
        exc = exc.__cause__ or exc.__context__  # type: ignore[assignment]
        seen += 1
    return False


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

        try:
            with interrupt_handler(INTERRUPTED):
                return super().invoke(ctx)
        except FlairError as exc:
            click.echo(f"Error: {exc}", err=True)
            sys.exit(exc.exit_code)
        except KeyboardInterrupt:
            click.echo(INTERRUPTED, err=True)
            sys.exit(130)
        except click.UsageError as exc:
            # one line, as every other error: the option, the allowed values, where to look
            where = exc.ctx.command_path if exc.ctx is not None else ctx.command_path
            click.echo(f"Error: {exc.format_message()} (see '{where} --help')", err=True)
            sys.exit(exc.exit_code)
        except (click.exceptions.Exit, click.ClickException):
            raise
        except MemoryError:
            click.echo(
                "Error: out of memory: use a larger --stride, fewer experiments, or a "
                "machine with more memory",
                err=True,
            )
            sys.exit(1)
        except OSError as exc:
            where = f" {exc.filename}" if getattr(exc, "filename", None) else ""
            click.echo(f"Error: system error{where}: {exc.strerror or exc}", err=True)
            sys.exit(1)
        except SystemError as exc:
            if _interrupted(exc):
                click.echo(INTERRUPTED, err=True)
                sys.exit(130)
            raise


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="flair-hdbscan")
@click.option("-v", "--verbose", count=True, help="More log messages (-v info, -vv debug).")
def cli(verbose: int) -> None:
    """Can HDBSCAN clustering stand in for manual annotation of FLAIR #2 land cover?"""
    level = logging.WARNING - 10 * min(verbose, 2)
    logging.basicConfig(level=level, format="%(levelname)s %(name)s: %(message)s")
    if verbose < 2:
        # Dask logs every worker start and stop at INFO (with tracebacks of closed
        # connections), and importing it resets its loggers' levels: filter at the handlers
        for handler in logging.getLogger().handlers:
            if not any(isinstance(f, DaskBelowError) for f in handler.filters):
                handler.addFilter(DaskBelowError())


class DaskBelowError(logging.Filter):
    """Drop Dask's log records below ERROR (its workers' comings and goings)."""

    def filter(self, record: logging.LogRecord) -> bool:
        """Keep a record unless it is Dask's and below ERROR."""
        return record.levelno >= logging.ERROR or not record.name.startswith("distributed")


if __name__ == "__main__":
    cli()
