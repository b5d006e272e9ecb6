from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from docket.errors import InvalidIdentifier
from docket.model import identifiers


@pytest.mark.parametrize(
    "text", ["07700 900123", "+44 7700 900123", "0044 7700 900123", "(07700) 900-123"]
)
def test_uk_numbers_normalise_to_one_e164(text: str) -> None:
    assert identifiers.phone(text, "GB").value == "+447700900123"


def test_region_matters_for_national_numbers() -> None:
    assert identifiers.phone("(202) 555-0143", "US").value == "+12025550143"


@pytest.mark.parametrize("text", ["12", "not a number", "+44 77", ""])
def test_bad_numbers_explain(text: str) -> None:
    with pytest.raises(InvalidIdentifier) as info:
        identifiers.phone(text, "GB")
    assert info.value.hint


def test_email_domain_lowercased_local_kept() -> None:
    assert identifiers.email(" Some.One@Example.COM ").value == "Some.One@example.com"


def test_handle_needs_platform() -> None:
    h = identifiers.handle("Instagram:@Some_One")
    assert (h.platform, h.value) == ("instagram", "some_one")
    with pytest.raises(InvalidIdentifier):
        identifiers.handle("@someone")


def test_vehicle_plate() -> None:
    assert identifiers.vehicle("ab12 cde").value == "AB12CDE"
    with pytest.raises(InvalidIdentifier):
        identifiers.vehicle("!!")


@given(st.text(max_size=30))
def test_phone_parser_never_crashes(text: str) -> None:
    try:
        ident = identifiers.phone(text, "GB")
    except InvalidIdentifier:
        return
    assert ident.value.startswith("+")
    assert identifiers.phone(ident.value, "GB").value == ident.value
