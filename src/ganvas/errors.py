"""Errors that describe a user's mistake (bad path, bad option, empty dataset).

The CLI turns a GanvasError into one line on stderr and exit code 2; anything else is a bug
and keeps its traceback.
"""


class GanvasError(Exception):
    """A problem with the user's input, reported as one clear line."""


class ConfigError(GanvasError):
    """An option or configuration value that is unknown, out of range, or conflicting."""
