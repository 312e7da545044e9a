"""A --help that fits a screen for the verbs with many options, and --help-all for every one.

COMMON lists, per verb, the options a first use needs, under headings; --help shows those
(argparse's own formatting of each) and ends with a line pointing to --help-all, which prints
argparse's full help: every option, in the verb's groups. A verb not listed keeps its full
--help. Names a verb's parser lacks are skipped, so a list may name a flag before it exists.
"""

from __future__ import annotations

import argparse

HELP_ALL = "--help-all"

COMMON = {
    "train": (
        ("data and model", ("data", "--resume", "--model")),
        ("length and output", ("--kimg", "--minutes", "--new-run", "--out", "--snap-kimg",
                               "--grid-minutes", "--dry-run")),
        ("augmentation", ("--aug",)),
        ("machine", ("--device", "--batch", "--gpus")),
    ),
    "tune": (
        ("data and model", ("data", "--model", "--out")),
        ("search", ("--trials", "--metric", "--space", "--pruner", "--storage", "--show")),
        ("length of a trial", ("--kimg-per-trial", "--minutes-per-trial")),
        ("machine", ("--device", "--batch")),
    ),
    "interpolate": (
        ("keyframes", ("model", "--seeds", "--latents", "--class-walk")),
        ("walk", ("--frames-per-step", "--loop", "--easing", "--fps", "--space")),
        ("output", ("--out", "--scale", "--audio")),
        ("machine", ("--device",)),
    ),
    "eval": (
        ("what to measure", ("model", "--metrics", "--num", "--memorization")),
        ("output", ("--out",)),
        ("machine", ("--device",)),
    ),
}


class ShowAllHelp(argparse.Action):
    """--help-all: print the verb's full help (every option) and exit."""

    def __init__(self, option_strings, dest=argparse.SUPPRESS, default=argparse.SUPPRESS,
                 help="show every option, grouped, and exit"):
        super().__init__(option_strings, dest=dest, default=default, nargs=0, help=help)

    def __call__(self, parser, namespace, values, option_string=None):
        parser.print_help_all()
        parser.exit()


def shorten(parser, verb: str) -> None:
    """Give `parser` (the verb's, a cli.Parser) a short --help and --help-all when COMMON
    lists the verb, and a usage line of its positionals and required options."""
    groups = COMMON.get(verb)
    if groups is None:
        return
    parser.add_argument(HELP_ALL, action=ShowAllHelp)
    parser.common = groups
    parser.usage = usage_line(parser)
    parser._option_string_actions["-h"].help = "show the common options and exit"


def usage_line(parser) -> str:
    """"%(prog)s [options] --out OUT model": the arguments a call cannot do without."""
    words = ["%(prog)s", "[options]"]
    for action in parser._actions:
        if action.option_strings and action.required:
            words.append(f"{action.option_strings[0]} {action.metavar or action.dest.upper()}")
    for action in parser._actions:
        if not action.option_strings:
            name = action.metavar or action.dest
            words.append({"?": f"[{name}]", "*": f"[{name} ...]", "+": f"{name} ..."}.get(
                action.nargs, name))
    return " ".join(words)


def common_help(parser) -> str:
    """The short help: usage, description, the COMMON options under their headings, and the
    line pointing to --help-all with how many options it adds."""
    by_name = {name: action for action in parser._actions
               for name in (action.option_strings or [action.dest])}
    formatter = parser._get_formatter()
    formatter.add_usage(parser.usage, parser._actions, parser._mutually_exclusive_groups)
    formatter.add_text(parser.description)
    shown = set()
    for heading, names in parser.common:
        actions = [by_name[n] for n in names if n in by_name]
        shown.update(id(a) for a in actions)
        formatter.start_section(heading)
        formatter.add_arguments(actions)
        formatter.end_section()
    more = [a for a in parser._actions if a.option_strings and id(a) not in shown
            and not isinstance(a, (argparse._HelpAction, ShowAllHelp))]
    formatter.add_text(f"{len(more)} more options: {parser.prog} {HELP_ALL} lists every "
                       f"option, grouped")
    return formatter.format_help()
