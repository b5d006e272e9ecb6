from __future__ import annotations

import re

import pytest

from docket import jurisdictions
from docket.errors import JurisdictionError
from docket.model.taxonomy import CATEGORY_CODES

FORBIDDEN = re.compile(
    r"\b(is an offence|is stalking|court-admissible|tamper-proof|risk score)\b", re.IGNORECASE
)


def test_england_wales_profile_is_complete() -> None:
    j = jurisdictions.load("england-wales")
    assert j.category_codes == tuple(CATEGORY_CODES)
    assert j.emergency_number == "999"
    assert any(h.phone == "0808 802 0300" and h.last_checked for h in j.helplines)
    assert all(c.definition for c in j.categories)
    assert "not legal advice" in j.not_legal_advice
    footer = j.safety_footer()
    assert "999" in footer and "0808 802 0300" in footer


def test_profiles_never_claim_an_offence() -> None:
    for name in jurisdictions.available():
        j = jurisdictions.load(name)
        texts = [j.not_legal_advice, j.disclosure_warning, j.emergency_text]
        texts += [f"{c.name} {c.definition} {c.similar_to}" for c in j.categories]
        for t in texts:
            assert not FORBIDDEN.search(t), t


def test_missing_items_fall_back_to_neutral_wording() -> None:
    j = jurisdictions.parse("somewhere", {"categories": [{"code": "FOL", "name": "Tailing"}]})
    assert j.category("FOL") is not None and j.category("FOL").name == "Tailing"  # type: ignore[union-attr]
    assert j.category("THR").name == CATEGORY_CODES["THR"]  # type: ignore[union-attr]
    assert j.emergency_number is None
    assert j.emergency_text == jurisdictions.NEUTRAL_EMERGENCY
    assert j.helplines == ()
    assert "999" not in j.safety_footer()


def test_unknown_category_in_profile_rejected() -> None:
    with pytest.raises(JurisdictionError):
        jurisdictions.parse("x", {"categories": [{"code": "ZZZ"}]})


def test_unknown_profile() -> None:
    with pytest.raises(JurisdictionError):
        jurisdictions.load("atlantis")
