"""The committed contracts pass the linters integrators run on them (tests/tools/lint-contracts):
graphql-schema-linter's description and Relay rules with no violation, Redocly's recommended
ruleset with no problem."""

import subprocess
from pathlib import Path

from tests.tools import TOOLS, installed, run


def test_the_contracts_pass_the_linters() -> None:
    installed()
    result = subprocess.run(
        [str(TOOLS / "lint-contracts")], capture_output=True, text=True, timeout=300, check=False
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Your API description is valid" in result.stdout + result.stderr


def test_the_linter_reports_what_is_left_undescribed(tmp_path: Path) -> None:
    """The rules are on: a field, an argument and an enum value without a description fail."""
    sdl = tmp_path / "schema.graphql"
    sdl.write_text(
        '"Reads."\ntype Query {\n  "A team."\n  team(id: ID!): Team\n}\n'
        '"A team."\ntype Team {\n  name: String\n  "How it is."\n  health: Health\n}\n'
        '"How it is."\nenum Health {\n  "Fine."\n  ON_TRACK\n  AT_RISK\n}\n'
    )
    result = run("graphql-schema-linter", sdl, cwd=TOOLS)
    assert result.returncode == 1
    for problem in (
        "The field `Team.name` is missing a description.",
        "The `id` argument of `team` is missing a description.",
        "The enum value `Health.AT_RISK` is missing a description.",
    ):
        assert problem in result.stdout, result.stdout
