"""Each event's webhook deliveries are written by the database itself, in the statement that
appends the event (trigger `fan_out_to_webhooks`, migration 0006): an organization without
endpoints pays one index probe, and no extra round trip is ever made.

Team matching: an endpoint with `team_ids` hears only about objects of those teams (an
objective's, key result's or initiative's team, a team itself, an alignment link's source
objective's team: the event's `team_id`). Events of objects without a team (cycles,
webhook endpoints) ignore the team filter. `webhook.test` goes to its own endpoint only.
"""

NOTIFY_CHANNEL = "okr_webhook_deliveries"  # the trigger's pg_notify wakes the workers on it
TEST_EVENT = "webhook.test"
