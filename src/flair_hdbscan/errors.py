"""User-facing exceptions.

Every failure a user can cause (a wrong path, a malformed file, a bad option value) raises a
subclass of :class:`FlairError` whose message names the file or value and the likely fix;
the command line prints it on one line and exits with status 2. A fault of the environment
(disk full, read-only folder, a worker lost) raises :class:`FaultError`: one line, status 1.
"""

from __future__ import annotations

__all__ = [
    "DataError",
    "FaultError",
    "FlairError",
    "ModelFileError",
    "OptionError",
    "OutputError",
]


class FlairError(Exception):
    """Base class of every error caused by the user's input rather than by a bug."""

    #: Exit status of the command line.
    exit_code = 2


class DataError(FlairError):
    """A dataset file or folder is missing, unpaired, unreadable or not in FLAIR #2 format."""


class OptionError(FlairError, ValueError):
    """An option or argument value is out of range or inconsistent with another."""


class ModelFileError(FlairError):
    """A model file is unreadable, of another version, or does not match the data."""


class OutputError(FlairError):
    """An output folder holds another run's outputs, or another run is writing to it."""


class FaultError(FlairError):
    """The environment failed: disk full, read-only or vanished folder, no worker left."""

    exit_code = 1
