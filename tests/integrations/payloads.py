"""Deliveries shaped as Linear, Jira and GitHub document them, signed as each provider signs.

The signatures are computed here from the providers' documentation (hmac over the raw
bytes), independently of the service's code: a scheme the service got wrong fails here.
"""

import hashlib
import hmac
import json
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal

Target = Literal["done", "in_progress"]


def hex_hmac(secret: str, body: bytes, digest: Any = hashlib.sha256) -> str:
    return hmac.new(secret.encode(), body, digest).hexdigest()


def encoded(payload: dict[str, Any]) -> bytes:
    # Providers send compact or pretty JSON alike: the signature covers the exact bytes.
    return json.dumps(payload, indent=1).encode()


@dataclass(frozen=True)
class Delivery:
    body: bytes
    headers: dict[str, str]
    delivery_id: str


# --- Linear ---------------------------------------------------------------------------

LINEAR_STATES = {
    "done": {"id": "3b1e...done", "color": "#5e6ad2", "name": "Done", "type": "completed"},
    "in_progress": {
        "id": "9c2f...prog",
        "color": "#f2c94c",
        "name": "In Progress",
        "type": "started",
    },
}


def linear_issue(
    identifier: str, target: Target, updated_at: datetime, *, sent_at: float | None = None
) -> dict[str, Any]:
    """An `Issue` `update` data-change webhook (developers.linear.app, "Webhooks")."""
    team_key = identifier.split("-")[0]
    state = LINEAR_STATES[target]
    return {
        "action": "update",
        "actor": {"id": str(uuid.uuid4()), "type": "user", "name": "Ada Lovelace"},
        "createdAt": updated_at.isoformat().replace("+00:00", "Z"),
        "data": {
            "id": str(uuid.uuid5(uuid.NAMESPACE_URL, identifier)),
            "createdAt": "2026-10-01T09:00:00.000Z",
            "updatedAt": updated_at.isoformat().replace("+00:00", "Z"),
            "number": int(identifier.split("-")[1]),
            "title": "Interactive product tour",
            "priority": 2,
            "priorityLabel": "High",
            "identifier": identifier,
            "url": f"https://linear.app/acme/issue/{identifier.lower()}/interactive-product-tour",
            "stateId": state["id"],
            "state": state,
            "teamId": "b7e1...team",
            "team": {"id": "b7e1...team", "key": team_key, "name": "Onboarding"},
            "labelIds": [],
            "labels": [],
        },
        "updatedFrom": {"updatedAt": "2026-11-01T09:00:00.000Z", "stateId": "previous-state"},
        "url": f"https://linear.app/acme/issue/{identifier.lower()}/interactive-product-tour",
        "type": "Issue",
        "organizationId": "0d9e...org",
        "webhookTimestamp": int((sent_at if sent_at is not None else time.time()) * 1000),
        "webhookId": "5f3a...hook",
    }


def linear_project(project_id: str, status_type: str, updated_at: datetime) -> dict[str, Any]:
    """A `Project` `update` webhook, its status as an object {id, name, type}."""
    payload = linear_issue("ENG-1", "done", updated_at)
    payload["type"] = "Project"
    payload["data"] = {
        "id": project_id,
        "name": "Onboarding revamp",
        "slugId": "3f2a1b9c",
        "url": "https://linear.app/acme/project/onboarding-revamp-3f2a1b9c",
        "status": {"id": "st-1", "name": status_type.title(), "type": status_type},
        "updatedAt": updated_at.isoformat().replace("+00:00", "Z"),
    }
    return payload


def linear_delivery(
    secret: str, payload: dict[str, Any], delivery_id: str | None = None
) -> Delivery:
    body = encoded(payload)
    delivery_id = delivery_id or str(uuid.uuid4())
    headers = {
        "Content-Type": "application/json; charset=utf-8",
        "User-Agent": "Linear-Webhook",
        "Linear-Delivery": delivery_id,
        "Linear-Event": payload["type"],
        "Linear-Signature": hex_hmac(secret, body),
    }
    return Delivery(body, headers, delivery_id)


# --- Jira -----------------------------------------------------------------------------

JIRA_STATUSES = {
    "done": ("Done", "10002", {"id": 3, "key": "done", "colorName": "green", "name": "Done"}),
    "in_progress": (
        "In Progress",
        "10001",
        {"id": 4, "key": "indeterminate", "colorName": "yellow", "name": "In Progress"},
    ),
}


def jira_issue(
    key: str,
    target: Target,
    updated_at: datetime,
    *,
    status_name: str | None = None,
    resolution: str | None = None,
) -> dict[str, Any]:
    """`jira:issue_updated` of an epic (developer.atlassian.com, Jira Cloud "Webhooks")."""
    name, status_id, category = JIRA_STATUSES[target]
    site = "https://acme.atlassian.net"
    if resolution is None and target == "done":
        resolution = "Done"
    return {
        "timestamp": int(updated_at.timestamp() * 1000),
        "webhookEvent": "jira:issue_updated",
        "issue_event_type_name": "issue_generic",
        "user": {"self": f"{site}/rest/api/2/user?accountId=5b10", "displayName": "Ada"},
        "issue": {
            "id": str(10000 + sum(map(ord, key))),
            "self": f"{site}/rest/api/2/issue/{key}",
            "key": key,
            "fields": {
                "summary": "Interactive product tour",
                "issuetype": {"id": "10000", "name": "Epic", "subtask": False},
                "status": {
                    "self": f"{site}/rest/api/2/status/{status_id}",
                    "description": "",
                    "name": status_name or name,
                    "id": status_id,
                    "statusCategory": {"self": f"{site}/rest/api/2/statuscategory/1", **category},
                },
                "resolution": None
                if resolution is None
                else {"self": f"{site}/rest/api/2/resolution/1", "id": "1", "name": resolution},
                "created": "2026-10-01T09:00:00.000+0000",
                "updated": updated_at.strftime("%Y-%m-%dT%H:%M:%S.")
                + f"{updated_at.microsecond // 1000:03d}+0000",
                "project": {"id": "10000", "key": key.split("-")[0], "name": "Onboarding"},
            },
        },
        "changelog": {
            "id": "10100",
            "items": [
                {
                    "field": "status",
                    "fieldtype": "jira",
                    "fieldId": "status",
                    "from": "10000",
                    "fromString": "To Do",
                    "to": status_id,
                    "toString": status_name or name,
                }
            ],
        },
    }


def jira_delivery(secret: str, payload: dict[str, Any], delivery_id: str | None = None) -> Delivery:
    body = encoded(payload)
    delivery_id = delivery_id or str(uuid.uuid4())
    headers = {
        "Content-Type": "application/json; charset=UTF-8",
        "User-Agent": "Atlassian Webhook HTTP Client",
        "X-Atlassian-Webhook-Identifier": delivery_id,
        "X-Atlassian-Webhook-Retry": "0",
        "X-Hub-Signature": "sha256=" + hex_hmac(secret, body),
    }
    return Delivery(body, headers, delivery_id)


# --- GitHub ---------------------------------------------------------------------------


def github_issue(
    full_name: str, number: int, target: Target, updated_at: datetime
) -> dict[str, Any]:
    """An `issues` event, `closed` (completed) or `reopened` (docs.github.com, "Webhook
    events and payloads")."""
    owner, name = full_name.split("/")
    closed = target == "done"
    stamp = updated_at.strftime("%Y-%m-%dT%H:%M:%SZ")
    return {
        "action": "closed" if closed else "reopened",
        "issue": {
            "url": f"https://api.github.com/repos/{full_name}/issues/{number}",
            "html_url": f"https://github.com/{full_name}/issues/{number}",
            "id": 1000 + number,
            "node_id": "I_kwDOA",
            "number": number,
            "title": "Interactive product tour",
            "user": {"login": "octocat", "id": 1, "type": "User"},
            "labels": [],
            "state": "closed" if closed else "open",
            "state_reason": "completed" if closed else "reopened",
            "locked": False,
            "comments": 0,
            "created_at": "2026-10-01T09:00:00Z",
            "updated_at": stamp,
            "closed_at": stamp if closed else None,
            "author_association": "MEMBER",
            "body": "Guide new users through their first project.",
        },
        "repository": {
            "id": 1296269,
            "node_id": "R_kgDOA",
            "name": name,
            "full_name": full_name,
            "private": True,
            "owner": {"login": owner, "id": 2, "type": "Organization"},
            "html_url": f"https://github.com/{full_name}",
        },
        "organization": {"login": owner, "id": 2},
        "sender": {"login": "octocat", "id": 1, "type": "User"},
    }


def github_milestone(
    full_name: str, number: int, state: str, updated_at: datetime
) -> dict[str, Any]:
    payload = github_issue(full_name, 1, "done", updated_at)
    del payload["issue"]
    payload["action"] = "closed" if state == "closed" else "opened"
    payload["milestone"] = {
        "html_url": f"https://github.com/{full_name}/milestone/{number}",
        "id": 5000 + number,
        "number": number,
        "title": "v2 onboarding",
        "state": state,
        "open_issues": 0,
        "closed_issues": 8,
        "created_at": "2026-10-01T09:00:00Z",
        "updated_at": updated_at.strftime("%Y-%m-%dT%H:%M:%SZ"),
    }
    return payload


def github_delivery(
    secret: str, payload: dict[str, Any], event: str = "issues", delivery_id: str | None = None
) -> Delivery:
    body = encoded(payload)
    delivery_id = delivery_id or str(uuid.uuid4())
    headers = {
        "Content-Type": "application/json",
        "User-Agent": "GitHub-Hookshot/044aadd",
        "X-GitHub-Event": event,
        "X-GitHub-Delivery": delivery_id,
        "X-GitHub-Hook-ID": "292430182",
        "X-GitHub-Hook-Installation-Target-Type": "repository",
        "X-GitHub-Hook-Installation-Target-ID": "1296269",
        "X-Hub-Signature": "sha1=" + hex_hmac(secret, body, hashlib.sha1),
        "X-Hub-Signature-256": "sha256=" + hex_hmac(secret, body),
    }
    return Delivery(body, headers, delivery_id)


# --- One interface over the three, for tests that hold for every provider ---------------


@dataclass(frozen=True)
class Tool:
    """A provider and one object of it that an initiative mirrors."""

    provider: str
    key: str  # as the initiative's externalRef.key holds it

    def change(
        self, secret: str, target: Target, updated_at: datetime, delivery_id: str | None = None
    ) -> Delivery:
        if self.provider == "linear":
            return linear_delivery(secret, linear_issue(self.key, target, updated_at), delivery_id)
        if self.provider == "jira":
            return jira_delivery(secret, jira_issue(self.key, target, updated_at), delivery_id)
        full_name, number = self.key.split("#")
        payload = github_issue(full_name, int(number), target, updated_at)
        return github_delivery(secret, payload, delivery_id=delivery_id)


TOOLS = {
    "linear": Tool("linear", "ONB-42"),
    "jira": Tool("jira", "ONB-42"),
    "github": Tool("github", "acme/onboarding#42"),
}


def at(hour: int, minute: int = 0, second: int = 0) -> datetime:
    return datetime(2026, 11, 28, hour, minute, second, tzinfo=UTC)
