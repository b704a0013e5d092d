"""User tokens for frontend work without an identity provider (`okr-service dev-token`).

`serve --demo` makes a fresh EC P-256 key pair each time it starts, keeps the private half
in a file of the data folder (readable by its owner only) and trusts the public half, with
its own issuer and audience, as its one JWT key. `dev-token` signs with that file. A server
started without `--demo` never loads the key, so it refuses every such token; a restarted
demo has a new key, so older dev tokens stop working too.
"""

import json
import os
from datetime import UTC, datetime, timedelta
from pathlib import Path
from uuid import UUID

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from okr_service.kit.principal import Role

DEV_ISSUER = "okr-service-demo"
DEV_AUDIENCE = "okr-service-demo"
KEY_FILE = "demo-token-key.json"
MAX_MINUTES = 24 * 60


class NoDemoKey(Exception):
    """No demo server has made a signing key in this data folder."""


def key_file(data_dir: Path) -> Path:
    return data_dir / KEY_FILE


def make_demo_key(data_dir: Path, organization_id: UUID) -> str:
    """A new signing key for the demo organization; its public half as PEM."""
    private = ec.generate_private_key(ec.SECP256R1())
    private_pem = private.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()
    data_dir.mkdir(parents=True, exist_ok=True)
    path = key_file(data_dir)
    # Created owner-only before anything is written to it.
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "w") as file:
        json.dump({"organizationId": str(organization_id), "privateKey": private_pem}, file)
    return (
        private.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )


def mint_dev_token(
    data_dir: Path,
    role: Role,
    team_ids: list[UUID],
    *,
    name: str = "Dev user",
    minutes: int = 60,
    now: datetime | None = None,
) -> str:
    """A token of the running demo's organization for `role` in `team_ids`."""
    if not 0 < minutes <= MAX_MINUTES:
        raise ValueError(f"A dev token lives 1 to {MAX_MINUTES} minutes.")
    try:
        stored = json.loads(key_file(data_dir).read_text())
    except FileNotFoundError:
        raise NoDemoKey(
            f"No demo signing key in {data_dir}: start `okr-service serve --demo` first."
        ) from None
    issued = now or datetime.now(UTC)
    claims = {
        "iss": DEV_ISSUER,
        "aud": DEV_AUDIENCE,
        "sub": f"dev:{name}",
        "name": name,
        "org": stored["organizationId"],
        "roles": [str(role)],
        "teams": [str(team) for team in team_ids],
        "iat": issued,
        "exp": issued + timedelta(minutes=minutes),
    }
    return jwt.encode(claims, stored["privateKey"], algorithm="ES256")
