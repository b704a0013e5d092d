"""The README's configuration table is generated from the settings: it cannot drift."""

from service.cli import README_PATH, with_settings_table


def test_the_configuration_table_lists_every_setting() -> None:
    readme = README_PATH.read_text()
    assert readme == with_settings_table(readme), (
        "README.md's configuration table is stale: run `okr-service export-contracts`."
    )
