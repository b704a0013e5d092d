"""The suite's own API tests, collected again here, where the app (and `engine`) go through
PgBouncer in transaction mode (conftest.py): queries and mutations with their events, the
compiled read path and its asyncpg reads (okr_service/kit/rows.py), a statement cancelled at
its time limit, a lost server connection, tenant isolation. (The generated-query tests of
the compiled path, and the long parametrized cross-tenant probes, stay in tests/graphql:
they take seconds each, and are not about the pooler.)"""

from tests.graphql.test_compiled_reads import (  # noqa: F401
    test_a_page_of_objectives_is_compiled_in_a_fixed_number_of_statements,
    test_every_root_it_serves_is_compiled,
    test_node_lookups_are_compiled,
    test_objectives_contributing_to_objectives_on_the_same_page_are_served,
    test_what_it_does_not_serve_runs_whole_through_strawberry,
)
from tests.graphql.test_cross_tenant import (  # noqa: F401
    test_an_update_cannot_move_a_row_into_another_organizations_parent,
    test_lists_never_show_another_organization,
    test_nodes_of_another_organization_are_null,
)
from tests.graphql.test_events import *  # noqa: F403
from tests.graphql.test_smoke import *  # noqa: F403
from tests.kit.test_rows import *  # noqa: F403
