"""The `ganvas` command: parses arguments and calls the Python API, nothing more.

One module per group of verbs (data, measure, studio); each verb is an add_VERB function that
declares its arguments and a run_VERB function that calls the API. A user's mistake
(GanvasError, bad arguments) prints one line and exits with 2.
"""

from __future__ import annotations

import argparse
import sys

from ..errors import GanvasError
from . import data, measure, studio

EXIT_USAGE = 2


class Parser(argparse.ArgumentParser):
    """argparse, but a usage error is one line (no usage dump) and exit code 2."""

    def error(self, message: str) -> None:  # noqa: D401 (argparse API)
        self.exit(EXIT_USAGE, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


def build_parser() -> Parser:
    from .. import __version__
    parser = Parser(prog="ganvas", description="From a folder of pictures to a trained GAN.")
    parser.add_argument("--version", action="version", version=f"ganvas {__version__}")
    sub = parser.add_subparsers(dest="verb", metavar="VERB", parser_class=Parser)
    sub.required = True
    for add in (data.add_prepare, data.add_train, studio.add_generate, measure.add_eval,
                data.add_demo, studio.add_interpolate, studio.add_explore, studio.add_style_mix,
                measure.add_report, studio.add_project, studio.add_export, studio.add_app):
        add(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Entry point of the console script; returns the exit code."""
    args = build_parser().parse_args(argv)
    try:
        args.run(args)
    except GanvasError as e:
        print(f"ganvas {args.verb}: error: {e}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        print(f"ganvas {args.verb}: interrupted", file=sys.stderr)
        return 130
    return 0
