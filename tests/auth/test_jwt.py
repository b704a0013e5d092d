"""Frontend users' JWTs: verified (signature, issuer, audience, expiry) and mapped to a
principal; anything doubtful is a 401 like an unknown API key."""

import base64
import hashlib
import hmac
import json
import time
from typing import Any
from uuid import uuid4

import httpx
import jwt
import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from tests.auth.conftest import IdentityProvider, ec_key, pem, rsa_key, user
from tests.conftest import Api
from tests.graphql.support import db_state, events

VIEWER = "{ viewer { organization { id } scopes role actorName } }"


def b64url(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def unsigned(header: dict[str, Any], claims: dict[str, Any], signature: bytes = b"") -> str:
    return ".".join(
        [
            b64url(json.dumps(header).encode()),
            b64url(json.dumps(claims).encode()),
            b64url(signature),
        ]
    )


async def refused(http: httpx.AsyncClient, token: str) -> str:
    response = await http.post(
        "/graphql", json={"query": VIEWER}, headers={"Authorization": f"Bearer {token}"}
    )
    assert response.status_code == 401, response.text
    assert response.headers["www-authenticate"] == "Bearer"
    body = response.json()
    [error] = body["errors"]
    assert error["extensions"]["code"] == "UNAUTHENTICATED"
    message: str = error["message"]
    return message


@pytest.mark.parametrize("kid", ["rsa-1", "ec-1", None])
async def test_a_valid_token_signs_the_user_in(
    org_admin: Api, identity: IdentityProvider, kid: str | None
) -> None:
    """RS256 and ES256 keys of the JWKS file by `kid`, and the PEM key for a token without."""
    token = identity.token(org_admin.organization_id, kid=kid, roles=["editor", "viewer"])
    data = await Api(org_admin.client, org_admin.organization_id, token).query(VIEWER)
    assert data["viewer"]["scopes"] == ["READ", "WRITE"]
    assert data["viewer"]["role"] == "EDITOR"
    assert data["viewer"]["actorName"] == "Ada Lovelace"


async def test_the_highest_role_wins_and_no_role_is_a_viewer(
    org_admin: Api, identity: IdentityProvider
) -> None:
    for roles, expected in [
        (["viewer", "admin", "editor"], "ADMIN"),
        ("editor", "EDITOR"),
        (["auditor"], "VIEWER"),
        (None, "VIEWER"),
    ]:
        token = identity.token(org_admin.organization_id, roles=roles)
        data = await Api(org_admin.client, org_admin.organization_id, token).query(VIEWER)
        assert data["viewer"]["role"] == expected, roles


async def test_a_user_s_changes_name_them_in_the_event_log(
    org_admin: Api, identity: IdentityProvider, engine: AsyncEngine
) -> None:
    admin = user(org_admin, identity, "admin", sub="auth0|ada", name=None)
    await admin.ok("createTeam", {"name": "Platform"})
    [event] = [
        e for e in await events(engine, org_admin.organization_id) if e["type"] == "team.created"
    ]
    user_id = base64.b64encode(b"User:auth0|ada").decode()  # a global ID wrapping the `sub`
    assert event["actor"] == {"type": "user", "id": user_id, "name": "auth0|ada"}


def other_rsa_token(identity: IdentityProvider, claims: dict[str, Any], kid: str) -> str:
    return jwt.encode(claims, rsa_key(), algorithm="RS256", headers={"kid": kid})


BAD_TOKENS = {
    "expired": lambda idp, org: idp.token(org, exp=int(time.time()) - 5),
    "not yet valid": lambda idp, org: idp.token(org, nbf=int(time.time()) + 600),
    "wrong issuer": lambda idp, org: idp.token(org, iss="https://evil.example.test/"),
    "wrong audience": lambda idp, org: idp.token(org, aud="another-service"),
    "no audience": lambda idp, org: idp.token(org, aud=None),
    "no expiry": lambda idp, org: idp.token(org, exp=None),
    "no subject": lambda idp, org: idp.token(org, sub=None),
    "bad signature": lambda idp, org: other_rsa_token(idp, idp.claims(org), "rsa-1"),
    "bad signature, no kid": lambda idp, org: jwt.encode(idp.claims(org), rsa_key(), "RS256"),
    "unknown kid": lambda idp, org: other_rsa_token(idp, idp.claims(org), "rsa-9"),
    "tampered claims": lambda idp, org: tamper(idp.token(org), roles=["admin"]),
    "alg none": lambda idp, org: unsigned({"alg": "none", "typ": "JWT"}, idp.claims(org)),
    "HS256 with the public key as secret": lambda idp, org: hs256_confusion(idp, org),
    "ES256 header on the RSA key": lambda idp, org: jwt.encode(
        idp.claims(org), ec_key(), algorithm="ES256", headers={"kid": "rsa-1"}
    ),
    "org not a UUID": lambda idp, org: idp.token(org, org="acme"),
    "unknown organization": lambda idp, org: idp.token(uuid4()),
    "teams not UUIDs": lambda idp, org: idp.token(org, teams=["platform"]),
    "garbage": lambda idp, org: "not.a.jwt",
}


def tamper(token: str, **claims: Any) -> str:
    header, payload, signature = token.split(".")
    decoded = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    return ".".join([header, b64url(json.dumps({**decoded, **claims}).encode()), signature])


def hs256_confusion(identity: IdentityProvider, organization_id: Any) -> str:
    """The classic attack: an HMAC token keyed with the (public) verification key."""
    header = {"alg": "HS256", "typ": "JWT", "kid": "rsa-1"}
    body = unsigned(header, identity.claims(organization_id)).rsplit(".", 1)[0]
    secret = pem(identity.keys["rsa-1"][0]).encode()
    return body + "." + b64url(hmac.new(secret, body.encode(), hashlib.sha256).digest())


@pytest.mark.parametrize("case", list(BAD_TOKENS))
async def test_a_bad_token_gets_401_and_writes_nothing(
    org_admin: Api, identity: IdentityProvider, engine: AsyncEngine, case: str
) -> None:
    token = BAD_TOKENS[case](identity, org_admin.organization_id)
    before = await db_state(engine, org_admin.organization_id)
    assert await refused(org_admin.client, token)
    response = await org_admin.client.post(
        "/graphql",
        json={"query": 'mutation { createTeam(input: {name: "X"}) { team { id } } }'},
        headers={"Authorization": f"Bearer {token}"},
    )
    assert response.status_code == 401
    assert await db_state(engine, org_admin.organization_id) == before


async def test_expiry_is_checked_on_every_request(
    org_admin: Api, identity: IdentityProvider
) -> None:
    """Nothing about a token is cached: the same token is refused once it has expired."""
    token = identity.token(org_admin.organization_id, exp=int(time.time()) + 2)
    assert (await Api(org_admin.client, org_admin.organization_id, token).query(VIEWER))["viewer"]
    time.sleep(2.5)  # noqa: ASYNC251 (the clock has to move)
    assert "expired" in await refused(org_admin.client, token)


async def test_a_rotated_key_is_picked_up_from_the_jwks_file(
    org_admin: Api, identity: IdentityProvider
) -> None:
    identity.keys["rsa-2"] = (rsa_key(), "RS256")
    identity.publish()
    token = identity.token(org_admin.organization_id, kid="rsa-2")
    data = await Api(org_admin.client, org_admin.organization_id, token).query(VIEWER)
    assert data["viewer"]["role"] == "VIEWER"


async def test_tokens_are_refused_where_no_jwt_key_is_configured(
    api: Api, identity: IdentityProvider
) -> None:
    message = await refused(api.client, identity.token(api.organization_id))
    assert "no JWT keys" in message
