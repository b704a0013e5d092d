"""Frontend users' JWT bearer tokens: verified against configured public keys, mapped to a
principal. Nothing about a token is cached; only the parsed keys are kept.

Claims: `iss`, `aud`, `exp` and `sub` are required; `org` names the organization (UUID),
`name` the person (optional), `roles` their roles there (viewer, editor, admin: the highest
wins; none means viewer), `teams` the teams (UUIDs) they belong to.
"""

import json
import logging
import os
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from uuid import UUID

import jwt
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.serialization import load_pem_public_key

from okr_service.auth.bearer import InvalidToken, accepts_user_tokens
from okr_service.kit.principal import Principal, Role
from okr_service.kit.settings import Settings

logger = logging.getLogger(__name__)

PublicKey = rsa.RSAPublicKey | ec.EllipticCurvePublicKey
ALGORITHMS = ("RS256", "ES256")
REQUIRED_CLAIMS = ["exp", "iss", "aud", "sub"]
USER = "user"
MAX_NAME = 200
_PEM_BLOCK = "-----END PUBLIC KEY-----"


def fits(key: PublicKey, algorithm: str) -> bool:
    if algorithm == "RS256":
        return isinstance(key, rsa.RSAPublicKey)
    return isinstance(key, ec.EllipticCurvePublicKey) and isinstance(key.curve, ec.SECP256R1)


def public(key: Any) -> PublicKey | None:
    if isinstance(key, rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey):
        key = key.public_key()
    return key if isinstance(key, rsa.RSAPublicKey | ec.EllipticCurvePublicKey) else None


def load_pem_keys(pem: str) -> list[PublicKey]:
    keys = []
    for block in pem.split(_PEM_BLOCK):
        if block.strip():
            key = public(load_pem_public_key((block.strip() + "\n" + _PEM_BLOCK).encode()))
            if key is None:
                raise ValueError("OKR_JWT_PUBLIC_KEYS holds a key that is neither RSA nor EC.")
            keys.append(key)
    return keys


def load_jwks(path: Path) -> tuple[dict[str, tuple[PublicKey, str | None]], list[PublicKey]]:
    """Signing keys by `kid` (with the `alg` a key is pinned to), and keys without a `kid`."""
    by_kid: dict[str, tuple[PublicKey, str | None]] = {}
    anonymous: list[PublicKey] = []
    for entry in json.loads(path.read_text()).get("keys", []):
        if entry.get("use", "sig") != "sig" or entry.get("kty") not in ("RSA", "EC"):
            continue
        try:
            key = public(jwt.PyJWK.from_dict(entry).key)
        except jwt.PyJWTError:
            logger.warning("Skipping an unusable key %r of %s", entry.get("kid"), path)
            continue
        if key is None:
            continue
        if "kid" in entry:
            by_kid[str(entry["kid"])] = (key, entry.get("alg"))
        else:
            anonymous.append(key)
    return by_kid, anonymous


@dataclass
class TokenVerifier:
    issuer: str
    audience: str
    leeway: float
    pem_keys: list[PublicKey]
    jwks_file: Path | None = None
    by_kid: dict[str, tuple[PublicKey, str | None]] = field(default_factory=dict)
    jwks_anonymous: list[PublicKey] = field(default_factory=list)
    _jwks_mtime: int | None = None

    @classmethod
    def from_settings(cls, settings: Settings) -> "TokenVerifier | None":
        """The verifier, or None when no key is configured (then only API keys work)."""
        if not accepts_user_tokens(settings):
            return None
        if not settings.jwt_issuer or not settings.jwt_audience:
            raise ValueError("JWT keys are configured: set OKR_JWT_ISSUER and OKR_JWT_AUDIENCE.")
        verifier = cls(
            issuer=settings.jwt_issuer,
            audience=settings.jwt_audience,
            leeway=settings.jwt_leeway_seconds,
            pem_keys=load_pem_keys(settings.jwt_public_keys or ""),
            jwks_file=settings.jwt_jwks_file,
        )
        verifier.reload_jwks()
        if not (verifier.pem_keys or verifier.by_kid or verifier.jwks_anonymous):
            raise ValueError("No usable RS256/ES256 public key in the JWT settings.")
        return verifier

    def reload_jwks(self) -> bool:
        """Read the JWKS file again if it changed (keys rotated); whether it did."""
        if self.jwks_file is None:
            return False
        mtime = os.stat(self.jwks_file).st_mtime_ns
        if mtime == self._jwks_mtime:
            return False
        self.by_kid, self.jwks_anonymous = load_jwks(self.jwks_file)
        self._jwks_mtime = mtime
        return True

    def candidates(self, kid: str | None, algorithm: str) -> Iterable[PublicKey]:
        if kid is not None and kid not in self.by_kid:
            try:
                self.reload_jwks()
            except (OSError, ValueError):
                logger.warning("Could not re-read %s", self.jwks_file, exc_info=True)
        if kid is not None and kid in self.by_kid:
            key, pinned = self.by_kid[kid]
            keys = [key] if pinned in (None, algorithm) else []
        else:
            keys = [*self.pem_keys, *self.jwks_anonymous]
            if kid is None:
                keys += [key for key, pinned in self.by_kid.values() if pinned in (None, algorithm)]
        return [key for key in keys if fits(key, algorithm)]

    def verify(self, token: str) -> Principal:
        try:
            header = jwt.get_unverified_header(token)
        except jwt.PyJWTError:
            raise InvalidToken("Malformed token.") from None
        algorithm = header.get("alg")
        if algorithm not in ALGORITHMS:
            raise InvalidToken("Tokens must be signed with RS256 or ES256.")
        kid = header.get("kid")
        keys = self.candidates(kid if isinstance(kid, str) else None, algorithm)
        if not keys:
            raise InvalidToken("The token's signing key is unknown.")
        for key in keys:
            try:
                claims = jwt.decode(
                    token,
                    key,
                    algorithms=[algorithm],
                    audience=self.audience,
                    issuer=self.issuer,
                    leeway=self.leeway,
                    options={"require": REQUIRED_CLAIMS},
                )
            except (jwt.InvalidSignatureError, jwt.InvalidKeyError):
                continue
            except jwt.ExpiredSignatureError:
                raise InvalidToken("The token has expired.") from None
            except jwt.PyJWTError as error:
                raise InvalidToken(f"Invalid token: {error}") from None
            return principal_from_claims(claims)
        raise InvalidToken("The token's signature does not verify.")


def principal_from_claims(claims: dict[str, Any]) -> Principal:
    sub, name = claims.get("sub"), claims.get("name")
    if not isinstance(sub, str) or not sub.strip():
        raise InvalidToken("Invalid token: `sub` must name the user.")
    return Principal.for_role(
        highest_role(claims.get("roles")),
        organization_id=uuid_claim(claims.get("org"), "org"),
        actor_id=sub,
        actor_name=(name if isinstance(name, str) and name.strip() else sub)[:MAX_NAME],
        actor_type=USER,
        team_ids=frozenset(uuid_claim(team, "teams") for team in list_claim(claims, "teams")),
    )


def highest_role(value: Any) -> Role:
    roles = [value] if isinstance(value, str) else value if isinstance(value, list) else []
    granted = {Role(role) for role in roles if role in set(Role)}
    for role in (Role.ADMIN, Role.EDITOR):
        if role in granted:
            return role
    return Role.VIEWER


def list_claim(claims: dict[str, Any], name: str) -> list[Any]:
    value = claims.get(name, [])
    if not isinstance(value, list):
        raise InvalidToken(f"Invalid token: `{name}` must be a list.")
    return value


def uuid_claim(value: Any, name: str) -> UUID:
    if isinstance(value, str):
        try:
            return UUID(value)
        except ValueError:
            pass
    raise InvalidToken(f"Invalid token: `{name}` must hold UUIDs.")
