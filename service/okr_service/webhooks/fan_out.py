"""Each event's webhook deliveries are written by the database itself, in the statement that
appends the event (trigger `fan_out_to_webhooks`, migrations 0006 and 0008): an organization
without endpoints pays one index probe, and no extra round trip is ever made.

Audience (`events.audience`, from the catalog): `subscribers` go to endpoints listing no event
types or this one; `named` (admin-only types) only to endpoints listing this type by name;
`own_endpoint` (`webhook.test`) only to the endpoint the event is about.

Team matching: an endpoint with `team_ids` hears only about objects of those teams (an
objective's, key result's or initiative's team, a team itself, an alignment link's source
objective's team: the event's `team_id`). Events of objects without a team (cycles,
webhook endpoints) ignore the team filter.
"""

NOTIFY_CHANNEL = "okr_webhook_deliveries"  # the trigger's pg_notify wakes the workers on it
