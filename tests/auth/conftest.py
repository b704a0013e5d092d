"""An app that accepts user tokens: keys made here, a JWKS file and a PEM key in its settings."""

import json
import time
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from uuid import UUID

import httpx
import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from fastapi import FastAPI

from okr_service.app import create_app
from okr_service.kit.settings import Settings
from tests.conftest import Api, new_organization
from tests.graphql.support import uuid_of

ISSUER = "https://id.example.test/"
AUDIENCE = "okr-service"


def rsa_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def ec_key() -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP256R1())


def jwk(key: rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey, kid: str, alg: str) -> dict[str, Any]:
    algorithm = jwt.get_algorithm_by_name(alg)
    found: dict[str, Any] = json.loads(algorithm.to_jwk(key.public_key()))
    return {**found, "kid": kid, "alg": alg, "use": "sig"}


def pem(key: rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey) -> str:
    return (
        key.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )


@dataclass
class IdentityProvider:
    """Signs tokens like the frontend's identity provider would."""

    jwks_file: Path
    keys: dict[str, tuple[Any, str]] = field(default_factory=dict)  # kid -> (key, alg)
    pem_key: rsa.RSAPrivateKey = field(default_factory=rsa_key)

    def publish(self) -> None:
        self.jwks_file.write_text(
            json.dumps({"keys": [jwk(key, kid, alg) for kid, (key, alg) in self.keys.items()]})
        )

    def claims(self, organization_id: UUID, **overrides: Any) -> dict[str, Any]:
        now = int(time.time())
        claims = {
            "iss": ISSUER,
            "aud": AUDIENCE,
            "sub": "user-42",
            "name": "Ada Lovelace",
            "iat": now,
            "exp": now + 300,
            "org": str(organization_id),
            "roles": ["viewer"],
            "teams": [],
        }
        claims.update(overrides)
        return {name: value for name, value in claims.items() if value is not None}

    def sign(self, claims: dict[str, Any], kid: str | None = "rsa-1") -> str:
        if kid is None:
            return jwt.encode(claims, self.pem_key, algorithm="RS256")
        key, alg = self.keys[kid]
        return jwt.encode(claims, key, algorithm=alg, headers={"kid": kid})

    def token(self, organization_id: UUID, kid: str | None = "rsa-1", **overrides: Any) -> str:
        return self.sign(self.claims(organization_id, **overrides), kid)


@pytest.fixture(scope="module")
def identity(tmp_path_factory: pytest.TempPathFactory) -> IdentityProvider:
    provider = IdentityProvider(tmp_path_factory.mktemp("jwks") / "jwks.json")
    provider.keys = {"rsa-1": (rsa_key(), "RS256"), "ec-1": (ec_key(), "ES256")}
    provider.publish()
    return provider


@pytest.fixture(scope="module")
async def jwt_app(database_url: str, identity: IdentityProvider) -> AsyncIterator[FastAPI]:
    settings = Settings(
        database_url=None,
        auth_cache_seconds=0,
        auth_failure_rate_per_second=0,  # the tests send many bad tokens from one address
        jwt_jwks_file=identity.jwks_file,
        jwt_public_keys=pem(identity.pem_key),
        jwt_issuer=ISSUER,
        jwt_audience=AUDIENCE,
        jwt_leeway_seconds=0,
        webhook_allowed_cidrs="127.0.0.0/8",
        webhook_allow_http=True,
    )
    application = create_app(settings, database_url=database_url)
    async with application.router.lifespan_context(application):
        yield application


@pytest.fixture
async def jwt_http(jwt_app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=jwt_app)
    async with httpx.AsyncClient(transport=transport, base_url="http://okr.test") as client:
        yield client


@pytest.fixture
async def org_admin(jwt_app: FastAPI, jwt_http: httpx.AsyncClient) -> Api:
    """An admin API key of a fresh organization, on the app that accepts user tokens."""
    organization_id, key = await new_organization(jwt_app)
    return Api(jwt_http, organization_id, key)


def user(
    api: Api, identity: IdentityProvider, role: str, teams: Sequence[str] = (), **claims: Any
) -> Api:
    """A signed-in user of `api`'s organization with `role` in `teams` (global IDs)."""
    token = identity.token(
        api.organization_id,
        roles=[role],
        teams=[str(uuid_of(team)) for team in teams],
        **claims,
    )
    return Api(api.client, api.organization_id, token)
