"""User-facing exceptions.

Every failure a user can cause (a wrong path, a malformed file, a bad option value) raises a
subclass of :class:`FlairError` whose message names the file or value and the likely fix.
The command line prints that message on one line and exits with status 2.
"""

from __future__ import annotations

__all__ = ["DataError", "FlairError", "ModelFileError", "OptionError"]


class FlairError(Exception):
    """Base class of every error caused by the user's input rather than by a bug."""


class DataError(FlairError):
    """A dataset file or folder is missing, unpaired, unreadable or not in FLAIR #2 format."""


class OptionError(FlairError, ValueError):
    """An option or argument value is out of range or inconsistent with another."""


class ModelFileError(FlairError):
    """A model file is unreadable, of another version, or does not match the data."""
