"""Errors that describe a user's mistake (bad path, bad option, empty dataset).

How the CLI (ganvas.cli.main) reports what a verb raised:
  - a GanvasError: one line on stderr, exit code 2 (a subclass may set `exit_code`: a lost
    process of a distributed run ends with 1);
  - an OSError or a MemoryError: one line, exit code 1. The API checks the paths it can
    before any work (GanvasError), so what is left is the machine's refusal: a full disk, a
    folder made read-only meanwhile, too little memory;
  - anything else is a bug and keeps its traceback.
"""


class GanvasError(Exception):
    """A problem with the user's input, reported as one clear line."""


class ConfigError(GanvasError):
    """An option or configuration value that is unknown, out of range, or conflicting."""
