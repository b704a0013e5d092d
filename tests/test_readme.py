"""The README's configuration table and event list are generated from the settings and the
event catalog: they cannot drift."""

from okr_service.cli import README_PATH, with_event_list, with_settings_table


def test_the_configuration_table_lists_every_setting() -> None:
    readme = README_PATH.read_text()
    assert readme == with_settings_table(readme), (
        "README.md's configuration table is stale: run `okr-service export-contracts`."
    )


def test_the_event_list_is_the_catalogs() -> None:
    readme = README_PATH.read_text()
    assert readme == with_event_list(readme), (
        "README.md's event list is stale: run `okr-service export-contracts`."
    )
