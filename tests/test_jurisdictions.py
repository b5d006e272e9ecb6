"""Jurisdiction profiles: every shipped profile is complete and honest, names only its own law
and numbers, falls back to neutral wording for what it lacks, and is validated strictly."""

from __future__ import annotations

import copy
import dataclasses
import json
import re
import tomllib
from datetime import date
from importlib import resources
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from docket import jurisdictions
from docket.errors import JurisdictionError
from docket.model.taxonomy import CATEGORY_CODES

PROFILES = ("england-wales", "northern-ireland", "scotland", "united-states")

FORBIDDEN = re.compile(
    r"\b(score|risk level|risk rating|(high|medium|low)[- ]risk|traffic[- ]light"
    r"|is an offence|is stalking|is harassment|court[- ]admissible|tamper[- ]proof"
    r"|forensically sound|certified)\b",
    re.IGNORECASE,
)

# Words that belong to one jurisdiction and must not appear in another's profile.
FOREIGN: dict[str, tuple[str, ...]] = {
    "england-wales": (
        r"\b911\b",
        r"\(Scotland\)",
        r"Northern Ireland",
        r"U\.S\.C\.",
        r"Criminal Justice and Licensing",
        r"Protection from Stalking Act",
        r"non-harassment order",
        r"interdict",
    ),
    "scotland": (
        r"\b911\b",
        r"Protection from Harassment Act",
        r"Stalking Protection Act 2019",
        r"Stalking Protection Order",
        r"Online Safety Act",
        r"Northern Ireland",
        r"England",
        r"U\.S\.C\.",
        r"PSNI",
        r"National Stalking Helpline",
    ),
    "northern-ireland": (
        r"\b911\b",
        r"Protection from Harassment Act",
        r"Stalking Protection Act 2019",
        r"\(Scotland\)",
        r"Police Scotland",
        r"England",
        r"U\.S\.C\.",
        r"non-harassment order",
        r"interdict",
        r"National Stalking Helpline",
    ),
    "united-states": (
        r"\b999\b",
        r"\b101\b",
        r"Protection from Harassment",
        r"Stalking Protection",
        r"legislation\.gov\.uk",
        r"Scotland",
        r"Northern Ireland",
        r"England",
        r"\bWales\b",
        r"non-molestation",
        r"\b0800\b|\b0808\b",
    ),
}


def all_texts(value: Any) -> list[str]:
    """Every string reachable from a profile object: what a person could be shown."""
    if isinstance(value, str):
        return [value]
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        out: list[str] = []
        for f in dataclasses.fields(value):
            out += all_texts(getattr(value, f.name))
        return out
    if isinstance(value, (tuple, list)):
        return [t for item in value for t in all_texts(item)]
    return []


def shipped_data(name: str) -> dict[str, Any]:
    raw = resources.files(jurisdictions).joinpath(f"{name}.toml").read_text("utf-8")
    return tomllib.loads(raw)


def is_iso_date(value: str) -> bool:
    try:
        return date.fromisoformat(value).isoformat() == value
    except ValueError:
        return False


# --- the shipped profiles ----------------------------------------------------------------------


def test_the_four_profiles_are_shipped() -> None:
    assert tuple(jurisdictions.available()) == PROFILES
    assert jurisdictions.DEFAULT == "england-wales"


@pytest.mark.parametrize("name", PROFILES)
def test_every_profile_is_complete(name: str) -> None:
    j = jurisdictions.load(name)
    assert j.id == name
    assert j.category_codes == tuple(CATEGORY_CODES)
    for c in j.categories:
        assert c.name and c.definition, c.code
    assert j.short_name and j.name
    assert is_iso_date(j.last_checked)
    assert j.emergency_number and j.emergency_number in j.emergency_text
    assert j.helplines
    for h in j.helplines:
        assert h.name and h.phone and is_iso_date(h.last_checked), h
        assert any(ch.isdigit() for ch in h.phone)
    assert j.orders and j.order_type("other") is not None
    assert all(o.code in jurisdictions.ORDER_CODES and o.name and o.description for o in j.orders)
    assert len({o.code for o in j.orders}) == len(j.orders)
    coc = j.course_of_conduct
    assert coc != jurisdictions.NEUTRAL_COURSE_OF_CONDUCT
    assert "police" in coc.lower() or "prosecutors" in coc.lower()
    assert coc.endswith("Police and prosecutors decide what, if anything, the law covers.")
    assert "is an offence" not in coc.lower()
    assert j.course_of_conduct_occasions == 2
    assert j.law_examples_intro != jurisdictions.NEUTRAL_LAW_EXAMPLES_INTRO
    assert "police and prosecutors decide" in j.law_examples_intro.lower()
    assert j.laws
    for law in j.laws:
        assert law.title and law.reference
        assert 1 <= law.summary.count(". ") + 1 <= 2, law.summary
    assert "not legal advice" in j.not_legal_advice
    assert j.disclosure_warning != jurisdictions.NEUTRAL_DISCLOSURE
    assert "police" in j.disclosure_warning.lower()


@pytest.mark.parametrize("name", PROFILES)
def test_every_profile_maps_some_categories_to_the_law(name: str) -> None:
    j = jurisdictions.load(name)
    mapped = [c for c in j.categories if c.similar_to]
    assert len(mapped) >= 5
    # Violence and threats are recorded, but no profile says they resemble a stalking example
    # the law does not give.
    assert j.category("VIO").similar_to == ""  # type: ignore[union-attr]


@pytest.mark.parametrize("name", PROFILES)
def test_no_profile_uses_forbidden_wording(name: str) -> None:
    texts = all_texts(jurisdictions.load(name))
    assert len(texts) > 100  # the walk really reached the categories, laws and orders
    for t in texts:
        assert not FORBIDDEN.search(t), t
        assert not jurisdictions.FORBIDDEN_WORDING.search(t), t


@pytest.mark.parametrize("name", PROFILES)
def test_no_profile_mentions_another_jurisdiction(name: str) -> None:
    texts = all_texts(jurisdictions.load(name))
    for pattern in FOREIGN[name]:
        hits = [t for t in texts if re.search(pattern, t, re.IGNORECASE)]
        assert not hits, (pattern, hits)


def test_england_wales_profile() -> None:
    j = jurisdictions.load("england-wales")
    assert j.emergency_number == "999" and j.non_emergency_number == "101"
    assert "55" in j.silent_call
    assert j.helplines[0].phone == "0808 802 0300"
    assert j.category("ENT").similar_to == ""  # type: ignore[union-attr]
    assert j.category("LOI").similar_to.startswith("loitering")  # type: ignore[union-attr]
    assert not j.third_parties_count
    assert {"restraining_order", "stalking_protection_order", "non_molestation_order"} <= {
        o.code for o in j.orders
    }
    assert any("2A" in law.title for law in j.laws)
    assert any(law.title == "Stalking Protection Act 2019" for law in j.laws)
    footer = j.safety_footer()
    assert "999" in footer and "0808 802 0300" in footer
    assert j.checklist_note() == (
        "Several of these are linked in research to serious harm. You can talk to the "
        "National Stalking Helpline on 0808 802 0300. If you are in danger now, call 999."
    )


def test_scotland_profile() -> None:
    j = jurisdictions.load("scotland")
    assert j.emergency_number == "999" and j.non_emergency_number == "101"
    assert j.third_parties_count
    assert j.category("ENT").similar_to == "entering any premises"  # type: ignore[union-attr]
    assert "giving" in j.category("GIF").similar_to  # type: ignore[union-attr]
    assert "another person" in j.category("FOL").similar_to  # type: ignore[union-attr]
    assert j.category("OTH").similar_to  # type: ignore[union-attr]  # the catch-all
    assert j.order_type("non_harassment_order") is not None
    assert j.order_type("stalking_protection_order") is None
    assert any("section 39" in law.title for law in j.laws)
    assert "0800 027 1234" in {h.phone for h in j.helplines}


def test_northern_ireland_profile() -> None:
    j = jurisdictions.load("northern-ireland")
    assert j.emergency_number == "999" and j.non_emergency_number == "101"
    assert j.third_parties_count
    assert j.category("ENT").similar_to == "entering any premises"  # type: ignore[union-attr]
    assert j.order_type("stalking_protection_order") is not None
    assert "27 April 2022" in j.course_of_conduct
    assert any("Protection from Stalking Act (Northern Ireland) 2022" in x.title for x in j.laws)
    assert j.helplines[0].phone == "0808 802 1414"


def test_united_states_profile() -> None:
    j = jurisdictions.load("united-states")
    assert j.emergency_number == "911"
    assert j.non_emergency_number is None and j.silent_call == ""
    assert not j.third_parties_count
    phones = {h.phone for h in j.helplines}
    assert phones == {"800-799-7233", "800-656-4673"}
    assert "no national stalking hotline" in j.helplines_note.lower()
    assert not any("VictimConnect" in t for t in all_texts(j))  # research: verify before listing
    assert any("2261A" in law.title for law in j.laws)
    assert "state" in j.law_examples_intro.lower()
    # The research marks the federal definition "verify": the text must hedge and send the
    # reader to the statute.
    assert "check the current wording" in j.course_of_conduct
    assert j.order_type("protection_order") is not None
    assert j.default_region == "US"
    assert j.checklist_note().endswith("If you are in danger now, call 911.")


def test_load_is_cached() -> None:
    assert jurisdictions.load("scotland") is jurisdictions.load("scotland")


def test_unknown_profile() -> None:
    with pytest.raises(JurisdictionError) as exc:
        jurisdictions.load("atlantis")
    assert "scotland" in (exc.value.hint or "")


# --- fall-backs ----------------------------------------------------------------------------------


def test_an_empty_profile_is_entirely_neutral() -> None:
    j = jurisdictions.parse("somewhere", {})
    assert j.name == j.short_name == "somewhere"
    assert j.emergency_number is None and j.non_emergency_number is None
    assert j.emergency_text == jurisdictions.NEUTRAL_EMERGENCY
    assert j.silent_call == "" and j.helplines == () and j.helplines_note == ""
    assert j.not_legal_advice == jurisdictions.NEUTRAL_NOT_LEGAL_ADVICE
    assert j.disclosure_warning == jurisdictions.NEUTRAL_DISCLOSURE
    assert j.law_examples_intro == jurisdictions.NEUTRAL_LAW_EXAMPLES_INTRO
    assert j.course_of_conduct == jurisdictions.NEUTRAL_COURSE_OF_CONDUCT
    assert j.course_of_conduct_occasions is None and not j.third_parties_count
    assert j.orders == jurisdictions.NEUTRAL_ORDERS
    assert j.laws == ()
    assert j.legal_context_note() == jurisdictions.NEUTRAL_LEGAL_CONTEXT
    assert [c.name for c in j.categories] == list(CATEGORY_CODES.values())
    assert all(c.similar_to == "" for c in j.categories)
    for text in (j.checklist_note(), j.safety_footer(), j.legal_context_note()):
        assert not re.search(r"\d", text), text


def test_neutral_wording_names_no_law_and_no_number() -> None:
    neutral = [
        jurisdictions.NEUTRAL_NOT_LEGAL_ADVICE,
        jurisdictions.NEUTRAL_EMERGENCY,
        jurisdictions.NEUTRAL_DISCLOSURE,
        jurisdictions.NEUTRAL_LAW_EXAMPLES_INTRO,
        jurisdictions.NEUTRAL_COURSE_OF_CONDUCT,
        jurisdictions.NEUTRAL_LEGAL_CONTEXT,
        jurisdictions.NEUTRAL_CHECKLIST_SUPPORT,
        jurisdictions.NEUTRAL_CHECKLIST_DANGER,
        *all_texts(jurisdictions.NEUTRAL_ORDERS),
    ]
    for text in neutral:
        assert not re.search(r"\d", text), text
        assert not re.search(r"\bAct\b|U\.S\.C|Order 19|section", text), text
        assert not FORBIDDEN.search(text), text
    assert jurisdictions.NEUTRAL_COURSE_OF_CONDUCT.endswith(
        "Police and prosecutors decide what, if anything, the law covers."
    )
    assert {o.name for o in jurisdictions.NEUTRAL_ORDERS} == {
        "A court order",
        "Bail conditions",
        "Something else",
    }


def test_partial_profile_keeps_its_own_words_and_falls_back_for_the_rest() -> None:
    j = jurisdictions.parse("somewhere", {"categories": [{"code": "FOL", "name": "Tailing"}]})
    assert j.category("FOL").name == "Tailing"  # type: ignore[union-attr]
    assert j.category("THR").name == CATEGORY_CODES["THR"]  # type: ignore[union-attr]
    assert "999" not in j.safety_footer()


# (section, key or None for a whole list) removed from a full profile -> (attribute, neutral)
OPTIONAL_ITEMS: list[tuple[str, str | None, str, Any]] = [
    ("jurisdiction", "last_checked", "last_checked", ""),
    ("emergency", "number", "emergency_number", None),
    ("emergency", "non_emergency", "non_emergency_number", None),
    ("emergency", "text", "emergency_text", jurisdictions.NEUTRAL_EMERGENCY),
    ("emergency", "silent_call", "silent_call", ""),
    ("wording", "not_legal_advice", "not_legal_advice", jurisdictions.NEUTRAL_NOT_LEGAL_ADVICE),
    ("wording", "disclosure_warning", "disclosure_warning", jurisdictions.NEUTRAL_DISCLOSURE),
    (
        "wording",
        "law_examples_intro",
        "law_examples_intro",
        jurisdictions.NEUTRAL_LAW_EXAMPLES_INTRO,
    ),
    ("course_of_conduct", "text", "course_of_conduct", jurisdictions.NEUTRAL_COURSE_OF_CONDUCT),
    ("course_of_conduct", "text", "course_of_conduct_occasions", None),
    ("course_of_conduct", "third_parties_count", "third_parties_count", False),
    ("helplines", None, "helplines", ()),
    ("orders", None, "orders", jurisdictions.NEUTRAL_ORDERS),
    ("laws", None, "laws", ()),
]


@pytest.mark.parametrize(
    ("section", "key", "attribute", "neutral"),
    OPTIONAL_ITEMS,
    ids=[f"{s}.{k or '*'}->{a}" for s, k, a, _ in OPTIONAL_ITEMS],
)
def test_each_missing_item_falls_back_to_neutral_wording(
    section: str, key: str | None, attribute: str, neutral: Any
) -> None:
    data = copy.deepcopy(shipped_data("england-wales"))
    if section == "course_of_conduct" and key == "third_parties_count":
        data[section][key] = True  # shipped value is already the fall-back; make removal visible
    full = jurisdictions.parse("england-wales", data)
    assert getattr(full, attribute) != neutral
    if key is None:
        del data[section]
    else:
        del data[section][key]
    partial = jurisdictions.parse("england-wales", data)
    assert getattr(partial, attribute) == neutral


def test_short_name_falls_back_to_the_name() -> None:
    data = copy.deepcopy(shipped_data("england-wales"))
    data["jurisdiction"]["short_name"] = "E&W"
    assert jurisdictions.parse("england-wales", data).short_name == "E&W"
    del data["jurisdiction"]["short_name"]
    assert jurisdictions.parse("england-wales", data).short_name == "England and Wales"


def test_checklist_note_without_numbers_uses_neutral_wording() -> None:
    data = copy.deepcopy(shipped_data("england-wales"))
    del data["emergency"]["number"]
    no_emergency = jurisdictions.parse("england-wales", data)
    note = no_emergency.checklist_note()
    assert "999" not in note and jurisdictions.NEUTRAL_CHECKLIST_DANGER in note
    assert "0808 802 0300" in note  # the helpline is still the profile's own
    del data["helplines"]
    neither = jurisdictions.parse("england-wales", data)
    note = neither.checklist_note()
    assert note == " ".join(
        [
            jurisdictions.CHECKLIST_LEAD,
            jurisdictions.NEUTRAL_CHECKLIST_SUPPORT,
            jurisdictions.NEUTRAL_CHECKLIST_DANGER,
        ]
    )
    assert not re.search(r"\d", note)


def test_legal_context_note_is_dated_from_the_profile() -> None:
    j = jurisdictions.load("england-wales")
    note = j.legal_context_note()
    assert "may be relevant" in note and "Police and prosecutors decide" in note
    d = date.fromisoformat(j.last_checked)
    assert f"{d.day} {d:%B %Y}" in note


# --- strict validation ---------------------------------------------------------------------------


def rejected(data: dict[str, Any], *, source: str = "mine.toml") -> JurisdictionError:
    with pytest.raises(JurisdictionError) as exc:
        jurisdictions.parse("mine", data, source=source)
    assert exc.value.code == "jurisdiction_invalid"
    assert source in exc.value.message
    return exc.value


@pytest.mark.parametrize(
    ("data", "key"),
    [
        ({"emergancy": {"number": "999"}}, "emergancy"),
        ({"emergency": {"number": "999", "fax": "1"}}, "emergency.fax"),
        ({"wording": {"disclaimer": "x"}}, "wording.disclaimer"),
        ({"course_of_conduct": {"rule": "x"}}, "course_of_conduct.rule"),
        (
            {"helplines": [{"name": "A", "phone": "1", "last_checked": "2026-01-01", "web": "x"}]},
            "helplines[1].web",
        ),
        ({"categories": [{"code": "FOL", "similar": "x"}]}, "categories[1].similar"),
        ({"orders": [{"code": "other", "name": "x", "description": "y", "z": 1}]}, "orders[1].z"),
        ({"laws": [{"title": "t", "summary": "s", "reference": "r", "url": "u"}]}, "laws[1].url"),
    ],
)
def test_unknown_keys_are_rejected_with_file_and_key_named(data: dict[str, Any], key: str) -> None:
    err = rejected(data)
    assert repr(key) in err.message
    assert err.details == {"file": "mine.toml", "key": key}
    assert err.location is not None and err.location.file == "mine.toml"
    assert err.hint


@pytest.mark.parametrize(
    ("data", "key"),
    [
        ({"jurisdiction": {"name": 5}}, "jurisdiction.name"),
        ({"jurisdiction": {"id": "elsewhere"}}, "jurisdiction.id"),
        ({"jurisdiction": {"last_checked": "24/11/2026"}}, "jurisdiction.last_checked"),
        ({"emergency": {"number": 999}}, "emergency.number"),
        ({"emergency": "999"}, "emergency"),
        ({"helplines": {"name": "A"}}, "helplines"),
        ({"helplines": ["A"]}, "helplines[1]"),
        ({"helplines": [{"name": "A", "phone": "1"}]}, "helplines[1].last_checked"),
        (
            {"helplines": [{"name": "A", "phone": "1", "last_checked": "2026-02-30"}]},
            "helplines[1].last_checked",
        ),
        ({"helplines": [{"name": "A", "last_checked": "2026-01-01"}]}, "helplines[1].phone"),
        ({"categories": [{"code": "ZZZ"}]}, "categories"),
        ({"categories": [{"name": "No code"}]}, "categories[1].code"),
        ({"categories": [{"code": "FOL"}, {"code": "FOL"}]}, "categories[2].code"),
        ({"categories": [{"code": "FOL", "definition": ["x"]}]}, "categories[1].definition"),
        ({"orders": [{"code": "dragon", "name": "x", "description": "y"}]}, "orders[1].code"),
        ({"orders": [{"code": "other", "name": "x"}]}, "orders[1].description"),
        (
            {
                "orders": [
                    {"code": "other", "name": "x", "description": "y"},
                    {"code": "other", "name": "x", "description": "y"},
                ]
            },
            "orders[2].code",
        ),
        ({"laws": [{"title": "t", "summary": "s"}]}, "laws[1].reference"),
        ({"course_of_conduct": {"text": "Two occasions count."}}, "course_of_conduct.text"),
        ({"course_of_conduct": {"occasions": "two"}}, "course_of_conduct.occasions"),
        ({"course_of_conduct": {"occasions": True}}, "course_of_conduct.occasions"),
        ({"course_of_conduct": {"occasions": 0}}, "course_of_conduct.occasions"),
        (
            {"course_of_conduct": {"third_parties_count": "yes"}},
            "course_of_conduct.third_parties_count",
        ),
    ],
)
def test_wrong_types_and_values_are_rejected(data: dict[str, Any], key: str) -> None:
    err = rejected(data)
    assert repr(key) in err.message
    assert err.details["key"] == key


@pytest.mark.parametrize(
    ("data", "key"),
    [
        (
            {"categories": [{"code": "THR", "definition": "This is stalking."}]},
            "categories[1].definition",
        ),
        ({"wording": {"disclosure_warning": "Exports are court-admissible."}}, "wording"),
        (
            {"laws": [{"title": "t", "summary": "Following is an offence.", "reference": "r"}]},
            "laws[1].summary",
        ),
        ({"emergency": {"text": "A high-risk case: call 112."}}, "emergency.text"),
    ],
)
def test_forbidden_wording_in_a_profile_is_refused(data: dict[str, Any], key: str) -> None:
    err = rejected(data)
    assert "never use" in err.message
    assert err.details["key"].startswith(key)


def test_toml_dates_are_accepted_and_normalised() -> None:
    j = jurisdictions.parse(
        "mine",
        {
            "jurisdiction": {"last_checked": date(2026, 11, 24)},
            "helplines": [{"name": "A", "phone": "1", "last_checked": date(2026, 1, 2)}],
        },
    )
    assert j.last_checked == "2026-11-24"
    assert j.helplines[0].last_checked == "2026-01-02"


def test_the_error_names_the_shipped_file_by_default() -> None:
    with pytest.raises(JurisdictionError) as exc:
        jurisdictions.parse("scotland", {"extra": 1})
    assert "scotland.toml" in exc.value.message and "'extra'" in exc.value.message


# --- the command line ----------------------------------------------------------------------------


def run_categories(tmp_path: Path, jurisdiction: str) -> list[dict[str, str]]:
    from docket.cli import cli

    env: dict[str, str | None] = {
        "HOME": str(tmp_path),
        "XDG_CONFIG_HOME": str(tmp_path / "config"),
        "XDG_DATA_HOME": str(tmp_path / "data"),
        "DOCKET_CONFIG": None,
        "DOCKET_DIARY": None,
        "DOCKET_JURISDICTION": None,
    }
    result = CliRunner().invoke(
        cli, ["categories", "--jurisdiction", jurisdiction, "--json"], env=env
    )
    assert result.exit_code == 0, result.output
    rows: list[dict[str, str]] = json.loads(result.stdout)
    return rows


def test_categories_command_lists_the_scottish_names(tmp_path: Path) -> None:
    rows = run_categories(tmp_path, "scotland")
    scotland = jurisdictions.load("scotland")
    assert [r["code"] for r in rows] == list(CATEGORY_CODES)
    assert [r["name"] for r in rows] == [c.name for c in scotland.categories]
    by_code = {r["code"]: r for r in rows}
    assert by_code["GIF"]["name"] == "Things given or left"
    assert by_code["ENT"]["similar_to"] == "entering any premises"
    assert "non-harassment order" in by_code["ORD"]["definition"]
    england = {r["code"]: r for r in run_categories(tmp_path, "england-wales")}
    assert england["GIF"]["name"] != by_code["GIF"]["name"]
    assert england["ENT"]["similar_to"] == ""
