"""Global IDs and cursors are Strawberry's encoding, however they are made."""

from uuid import UUID

from hypothesis import given
from hypothesis import strategies as st
from strawberry import relay

from okr_service.kit.ids import decode_global_id, global_id, to_base64


@given(prefix=st.text(min_size=1), value=st.uuids() | st.integers() | st.text())
def test_encoding_is_strawberrys(prefix: str, value: object) -> None:
    assert to_base64(prefix, value) == relay.to_base64(prefix, value)


@given(type_name=st.from_regex(r"[A-Z][A-Za-z]{0,20}", fullmatch=True), id_=st.uuids())
def test_a_global_id_decodes_to_what_it_encodes(type_name: str, id_: UUID) -> None:
    assert decode_global_id(global_id(type_name, id_), field="id") == (type_name, id_)
