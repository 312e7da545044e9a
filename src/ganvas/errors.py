"""Errors that describe a user's mistake (bad path, bad option, empty dataset).

How the CLI (ganvas.cli.main) reports what a verb raised:
  - a GanvasError: one line on stderr, exit code 2 (a subclass may set `exit_code`: a lost
    process of a distributed run ends with 1);
  - an OSError saying a path cannot be used (durable.UNUSABLE_PATH: read-only, no
    permission, a folder where a file goes, ...): one line, exit code 2, as a GanvasError.
    The API checks the paths it can before any work (GanvasError); this is what it could not;
  - any other OSError or a MemoryError: one line, exit code 1, the machine's refusal: a full
    disk, too little memory. Writes name the user's path, never a temporary (durable.naming);
  - anything else is a bug and keeps its traceback.
"""


class GanvasError(Exception):
    """A problem with the user's input, reported as one clear line."""


class ConfigError(GanvasError):
    """An option or configuration value that is unknown, out of range, or conflicting."""
