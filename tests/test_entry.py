"""The fast entry encoder writes exactly what RFC 8785 would, for any entry."""

from __future__ import annotations

import rfc8785
from hypothesis import given
from hypothesis import strategies as st

from docket.model.entry import Entry

text = st.text(st.characters(blacklist_categories=("Cs",)), max_size=30)
json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**53) + 1, 2**53 - 1) | text,
    lambda children: st.lists(children, max_size=3) | st.dictionaries(text, children, max_size=3),
    max_leaves=10,
)
entries = st.builds(
    Entry,
    seq=st.integers(0, 2**40),
    type=text,
    subject=text,
    recorded_at=text,
    record=st.none() | st.dictionaries(text, json_values, max_size=5),
    salt=st.binary(min_size=32, max_size=32),
    corrects=st.none() | st.integers(0, 2**40),
    reason=st.none() | text,
)


@given(entries)
def test_encode_matches_rfc8785(e: Entry) -> None:
    assert e.encode() == bytes(rfc8785.dumps(e.document()))


def test_control_characters_and_unicode() -> None:
    e = Entry(
        1, 't\u0001\n"\\', "s\u2028/é😀", "2026", {"k": "\x7f\u00e9"}, b"\0" * 32, None, "r\t"
    )
    assert e.encode() == bytes(rfc8785.dumps(e.document()))
