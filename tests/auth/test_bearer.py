"""A user token's claims read without the JWT library (the read replica's routing reads
them before any verification) are the claims PyJWT reads, for any token."""

import base64
import json
import string

import jwt
from hypothesis import given
from hypothesis import strategies as st

from okr_service.auth.bearer import unverified_claims

JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=8),
    lambda children: (
        st.lists(children, max_size=3)
        | st.dictionaries(st.sampled_from(["sub", "org", "alg", "x"]), children, max_size=3)
    ),
    max_leaves=6,
)
# base64url's alphabet, and what a token should not hold
PART = st.text(alphabet=string.ascii_letters + string.digits + "-_=+/é{}", max_size=12)


def encoded(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def pyjwt_claims(token: str) -> object:
    try:
        return jwt.decode(token, options={"verify_signature": False})
    except jwt.PyJWTError:
        return {}


@given(header=JSON, claims=JSON, signature=st.binary(max_size=8))
def test_json_parts_read_as_pyjwt_reads_them(
    header: object, claims: object, signature: bytes
) -> None:
    parts = [json.dumps(header).encode(), json.dumps(claims).encode(), signature]
    token = ".".join(encoded(part) for part in parts)
    assert unverified_claims(token) == pyjwt_claims(token)


@given(parts=st.lists(PART, min_size=3, max_size=3))
def test_malformed_parts_read_as_pyjwt_reads_them(parts: list[str]) -> None:
    token = ".".join(parts)
    assert unverified_claims(token) == pyjwt_claims(token)


def test_a_signed_token_gives_its_claims_and_an_api_key_none() -> None:
    secret = "test-secret-of-thirty-two-bytes!"
    token = jwt.encode({"org": "o1", "sub": "ada"}, secret, algorithm="HS256")
    assert unverified_claims(token) == {"org": "o1", "sub": "ada"}
    assert unverified_claims("okr_abc") == {}
