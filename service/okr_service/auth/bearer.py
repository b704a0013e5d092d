"""What every request may ask of a bearer token without the JWT library: is it a user's
token or an API key, and what claims does a user token carry (unverified).

The JWT library loads `cryptography` (about 10 MB per worker): only a service configured
to accept user tokens loads it (okr_service/auth/tokens.py, through
okr_service/backends.py).
"""

import base64
import json
from typing import Any

from okr_service.kit.settings import Settings


class InvalidToken(Exception):
    """A token that is malformed, badly signed, expired or not meant for this service."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


def looks_like_jwt(token: str) -> bool:
    """Three dot-separated parts is a JWT; an API key (`okr_...`) has no dot."""
    return token.count(".") == 2


def accepts_user_tokens(settings: Settings) -> bool:
    """Whether keys to verify user tokens are configured (else only API keys work)."""
    return settings.jwt_jwks_file is not None or bool(settings.jwt_public_keys)


def unverified_claims(token: str) -> dict[str, Any]:
    """A JWT's claims as sent, its signature unchecked; {} unless its header and claims
    are JSON objects and every part is base64url, as the JWT library reads them."""
    if not looks_like_jwt(token):
        return {}
    header, claims, signature = token.split(".")
    try:
        decoded_header = json.loads(base64url(header))
        decoded_claims = json.loads(base64url(claims))
        base64url(signature)
    except ValueError:  # bad base64, bad UTF-8 and bad JSON alike
        return {}
    if not isinstance(decoded_header, dict) or not isinstance(decoded_claims, dict):
        return {}
    return decoded_claims


def base64url(segment: str) -> bytes:
    return base64.urlsafe_b64decode(segment.encode() + b"=" * (-len(segment) % 4))
