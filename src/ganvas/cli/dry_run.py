"""What `ganvas train ... --dry-run` prints: the resolved values the chosen model reads.

The family says which values it reads (models.contract.Family.uses: the model fields it
reads, the training options of the capabilities it has); the others stay at their defaults
(validation refuses anything else) and are left out of the table, with a line saying how many
and where every value is (the Resolved object, config.json, --help-all)."""

from __future__ import annotations


def dry_run_table(result) -> str:
    """The dry run's text for `result` (a config.resolve.Resolved): a heading, the aligned
    table of the values the run's family reads, and a line on those left out."""
    from ..models import family_of
    from .short_help import HELP_ALL
    family = result.config.model.family
    reads = family_of(family).uses
    table = result.render(given="flag", only=reads)
    left_out = len(result.rows(given="flag")) - len(result.rows(given="flag", only=reads))
    text = f"dry run: nothing written; resolved configuration (value, source):\n{table}"
    if left_out:
        text += (f"\n({left_out} options a {family} model does not read are left out, each at "
                 f"its default;\n {HELP_ALL} lists every option, config.json keeps every "
                 f"value)")
    return text
