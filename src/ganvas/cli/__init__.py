"""The `ganvas` command: parses arguments and calls the Python API, nothing more.

One module per group of verbs (data, measure, studio); each verb is an add_VERB function that
declares its arguments and a run_VERB function that calls the API. A user's mistake
(GanvasError, bad arguments) prints one line and exits with 2, and so does an OSError saying a
path cannot be used (a read-only folder, a file where a folder is needed: durable.UNUSABLE_PATH,
for what the verbs' up-front checks could not see). What the machine refuses (any other OSError:
a full disk; MemoryError) is also one line, with exit code 1.
"""

from __future__ import annotations

import argparse
import os
import sys

from ..durable import UNUSABLE_PATH
from ..errors import GanvasError
from . import blend, data, measure, short_help, studio, tune

EXIT_FAILURE = 1
EXIT_USAGE = 2


class Parser(argparse.ArgumentParser):
    """argparse, but a usage error is one line (no usage dump) and exit code 2, and a verb
    with many options shows its common ones under --help, every one under --help-all
    (`common`: the headings and names of short_help.COMMON; empty: every option)."""

    common: tuple = ()

    def error(self, message: str) -> None:  # noqa: D401 (argparse API)
        self.exit(EXIT_USAGE, f"{self.prog}: error: {message} (see {self.prog} --help)\n")

    def format_help(self) -> str:
        return short_help.common_help(self) if self.common else super().format_help()

    def print_help_all(self) -> None:
        self._print_message(super().format_help(), sys.stdout)


def build_parser() -> Parser:
    from .. import __version__
    parser = Parser(prog="ganvas", description="From a folder of pictures to a trained GAN.")
    parser.add_argument("--version", action="version", version=f"ganvas {__version__}")
    sub = parser.add_subparsers(dest="verb", metavar="VERB", parser_class=Parser)
    sub.required = True
    for add in (data.add_prepare, data.add_train, studio.add_generate, measure.add_eval,
                data.add_demo, studio.add_interpolate, studio.add_explore,
                studio.add_directions, studio.add_style_mix,
                measure.add_report, studio.add_project, studio.add_export,
                studio.add_import, blend.add_blend, studio.add_app, tune.add_tune):
        add(sub)
    for verb, verb_parser in sub.choices.items():
        short_help.shorten(verb_parser, verb)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Entry point of the console script; returns the exit code."""
    argv = sys.argv[1:] if argv is None else list(argv)
    args = build_parser().parse_args(argv)
    args.argv = argv                 # `train --gpus N` starts the same command N times
    verb = f"ganvas {args.verb}{process_label()}"
    try:
        args.run(args)
    except GanvasError as e:
        print(f"{verb}: error: {e}", file=sys.stderr)
        return getattr(e, "exit_code", EXIT_USAGE)
    except MemoryError:
        print(f"{verb}: error: out of memory: this request needs more memory than "
              f"the machine has; ask for less (fewer seeds, frames or steps, a smaller "
              f"--scale)", file=sys.stderr)
        return EXIT_FAILURE
    except OSError as e:
        print(f"{verb}: error: {describe_os_error(e)}", file=sys.stderr)
        return EXIT_USAGE if e.errno in UNUSABLE_PATH else EXIT_FAILURE
    except KeyboardInterrupt:
        print(f"{verb}: interrupted", file=sys.stderr)
        return 130
    return 0


def process_label() -> str:
    """" (process 1 of 2)" in a process torchrun started other than the first, else "" (and
    for malformed variables, which training's own check names)."""
    rank, size = os.environ.get("RANK", "0"), os.environ.get("WORLD_SIZE", "1")
    if rank == "0" or not (rank.isdigit() and size.isdigit() and int(rank) < int(size)):
        return ""
    return f" (process {rank} of {size})"


def describe_os_error(e: OSError) -> str:
    """One line for an OSError: "cannot use <filename>: <strerror>" (both files of a rename)."""
    lines = str(e).splitlines()
    reason = e.strerror or (lines[0] if lines else type(e).__name__)
    if e.filename is None:
        return f"{reason}"
    names = repr(str(e.filename)) + (f" -> {str(e.filename2)!r}" if e.filename2 else "")
    return f"cannot use {names}: {reason}"
