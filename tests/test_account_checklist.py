"""The account-safety checklist (issue 10, item 3): the named question sets, the accounts set's
content and wording, its validation, and the cautions filled from the jurisdiction."""

from __future__ import annotations

import re
from importlib import resources
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from docket import checklist, jurisdictions
from docket.checklist import (
    ACCOUNTS_INTRO,
    ACCOUNTS_SAFETY_FIRST,
    ACCOUNTS_SUPPORT,
    CHECK,
    SET_NAMES,
    Answer,
    ChecklistData,
    Question,
    accounts_support,
    load_file,
    questions,
    render_caution,
    topics,
)
from docket.errors import ConfigError, InputError, UnknownChoice

ACCOUNTS_TOML = resources.files("docket.checklist").joinpath("accounts.toml").read_text("utf-8")
RISK_TOML = resources.files("docket.checklist").joinpath("questions.toml").read_text("utf-8")

EXPECTED_TOPICS = (
    "Passwords and PINs",
    "Two-step sign-in",
    "Recovery e-mail and phone number",
    "Devices signed in to your accounts",
    "Location sharing",
    "Shared accounts and family plans",
    "Backups and copies of your messages",
    "Smart home devices and cars",
    "Bluetooth trackers",
    "Signs of a spying app",
)

# Questions whose advice changes nothing the other person could notice, so need no caution.
NO_CAUTION = {
    "password_manager",
    "location_photos",
    "tracker_alerts",
    "tracker_scan",
    "spying_access",
}


def accounts() -> tuple[Question, ...]:
    return questions("accounts")


def by_id() -> dict[str, Question]:
    return {q.id: q for q in accounts()}


def everything(q: Question) -> str:
    return " ".join([q.text, q.why, q.how, q.caution, q.topic])


def topic_text(topic: str) -> str:
    return " ".join(everything(q) for q in accounts() if q.topic == topic)


# --- the sets load ----------------------------------------------------------------------------


def test_both_sets_load_and_the_risk_set_is_unchanged() -> None:
    assert SET_NAMES == ("risk", "accounts")
    risk = questions()
    assert questions("risk") == risk
    assert [q.id for q in risk][:3] == ["fear", "relationship", "threats"]
    assert len(risk) == 15
    assert {q.kind for q in risk} == {"yes_no", "choice"}
    # the original checklist has none of the new fields
    assert all(q.how == q.caution == q.topic == "" for q in risk)
    fear = risk[0]
    assert (
        fear.options[0] == ("not_really", "Not really") and fear.label("very") == "Very frightened"
    )
    assert len(accounts()) >= 25
    with pytest.raises(InputError, match="no checklist called 'nope'"):
        questions("nope")


@pytest.mark.parametrize("set_name", SET_NAMES)
def test_ids_are_unique_and_well_formed(set_name: str) -> None:
    ids = [q.id for q in questions(set_name)]
    assert len(ids) == len(set(ids))
    assert all(re.fullmatch(r"[a-z][a-z0-9_]*", i) for i in ids)


def test_the_accounts_set_across_sets_shares_no_ids() -> None:
    assert not {q.id for q in questions()} & {q.id for q in accounts()}


def test_every_accounts_question_has_why_how_topic_and_the_check_answers() -> None:
    for q in accounts():
        assert q.kind == "check", q.id
        assert q.options == CHECK, q.id
        assert len(q.why) > 40 and q.why.endswith("."), q.id
        assert len(q.how_steps) >= 2, q.id
        assert q.topic in EXPECTED_TOPICS, q.id
        assert q.text.endswith("?"), q.id
    assert dict(CHECK) == {
        "done": "I have checked this",
        "not_yet": "Not yet",
        "not_sure": "I am not sure how",
        "not_applicable": "Does not apply to me",
    }


def test_the_shipped_file_loaded_from_a_path_gives_the_same_questions(tmp_path: Path) -> None:
    path = tmp_path / "accounts.toml"
    path.write_text(ACCOUNTS_TOML, "utf-8")
    assert load_file(path, set_name="accounts") == accounts()


# --- content: every topic from the brief is covered -----------------------------------------


def test_topics_are_the_expected_ones_in_order_and_kept_together() -> None:
    grouped = topics("accounts")
    assert tuple(t for t, _ in grouped) == EXPECTED_TOPICS
    assert sum(len(qs) for _, qs in grouped) == len(accounts())
    assert all(len(qs) >= 2 for _, qs in grouped)
    assert topics("risk") == (("", questions()),)


@pytest.mark.parametrize(
    ("topic", "must_mention"),
    [
        ("Passwords and PINs", ["PIN", "lock", "password manager", "never had access to"]),
        (
            "Two-step sign-in",
            [
                "e-mail",
                "Apple ID",
                "Google",
                "social media",
                "banking",
                "phone number",
                "authenticator",
            ],
        ),
        ("Recovery e-mail and phone number", ["recovery e-mail", "phone number", "only yours"]),
        (
            "Devices signed in to your accounts",
            ["Your devices", "Where you're logged in", "Linked devices", "Microsoft", "Apple ID"],
        ),
        (
            "Location sharing",
            [
                "Google Maps",
                "Location sharing",
                "Find My",
                "Family Sharing",
                "Snap Map",
                "Life360",
                "photo",
            ],
        ),
        (
            "Shared accounts and family plans",
            ["Shared Albums", "Family Sharing", "Family Link", "contract", "other person's name"],
        ),
        (
            "Backups and copies of your messages",
            ["iCloud", "Google", "backups", "tablet or computer", "WhatsApp", "forward"],
        ),
        ("Smart home devices and cars", ["speaker", "camera", "doorbell", "car maker's app"]),
        (
            "Bluetooth trackers",
            [
                "AirTag",
                "Tile",
                "SmartTag",
                "Item Found Moving With You",
                "Unknown tracker alerts",
                "Safety & emergency",
                "Tracker Detect",
                "Scan now",
                "serial number",
                "photograph",
            ],
        ),
        ("Signs of a spying app", ["phone check", "know things", "stalkerware"]),
    ],
)
def test_each_topic_covers_what_it_must(topic: str, must_mention: list[str]) -> None:
    words = topic_text(topic)
    assert words, topic
    for phrase in must_mention:
        assert phrase.lower() in words.lower(), (topic, phrase)


def test_advice_covers_android_iphone_and_the_common_accounts() -> None:
    how = " ".join(q.how for q in accounts())
    for name in [
        "Android",
        "iPhone",
        "Google",
        "Apple ID",
        "iCloud",
        "Microsoft",
        "Facebook",
        "Instagram",
        "WhatsApp",
        "Gmail",
        "Outlook",
    ]:
        assert name in how, name


def test_a_found_tracker_is_recorded_before_anything_is_done_to_it() -> None:
    q = by_id()["tracker_found"]
    steps = q.how_steps
    assert "photograph" in q.text.lower() and "serial number" in q.text
    photo = next(i for i, s in enumerate(steps) if "Photograph the tracker" in s)
    assert "before you move it" in steps[photo]
    assert "stops it reporting" in q.caution and "Before you do anything with it" in q.caution


def test_actions_that_could_alert_carry_a_caution_with_both_placeholders() -> None:
    without = {q.id for q in accounts() if not q.caution}
    assert without == NO_CAUTION
    for q in accounts():
        if q.caution:
            assert "{helpline}" in q.caution and "{emergency}" in q.caution, q.id
            assert "more dangerous" in q.caution, q.id


def test_no_phone_number_of_any_jurisdiction_is_written_into_the_file() -> None:
    for jid in jurisdictions.available():
        j = jurisdictions.load(jid)
        numbers = [h.phone for h in j.helplines] + [
            j.emergency_number or "",
            j.non_emergency_number or "",
        ]
        for number in filter(None, numbers):
            assert not re.search(rf"(?<!\d){re.escape(number)}(?!\d)", ACCOUNTS_TOML), (jid, number)
    # nothing that looks like a phone number at all (the only digits are dates, versions, counts)
    assert not re.search(r"\d{3}[ -]?\d{3,}", ACCOUNTS_TOML)


# --- wording ----------------------------------------------------------------------------------

# Claims Docket must never make about the person's account or phone, and anything that would
# turn the list into a measure.
NEVER = re.compile(
    r"\b(?:secure|securely|secured|safe|safer|safely|clean|cleaned|score\w*|level\w*|rating\w*"
    r"|risk\s+(?:score|level|rating)|(?:high|medium|low)[ -]risk|traffic[ -]light"
    r"|out of (?:10|ten|100)|protected|guarantee\w*|100 ?%|all clear|nothing to worry)\b",
    re.IGNORECASE,
)


def test_the_accounts_file_has_no_forbidden_wording() -> None:
    found = [
        (n, m.group(0))
        for n, line in enumerate(ACCOUNTS_TOML.splitlines(), 1)
        for m in NEVER.finditer(line)
    ]
    assert found == []
    assert not jurisdictions.FORBIDDEN_WORDING.search(ACCOUNTS_TOML)


def test_the_constants_have_no_forbidden_wording_and_say_what_they_must() -> None:
    labels = " ".join(label for _, label in CHECK)
    for text in (ACCOUNTS_INTRO, ACCOUNTS_SAFETY_FIRST, ACCOUNTS_SUPPORT, labels):
        assert not NEVER.search(text), text
        assert not jurisdictions.FORBIDDEN_WORDING.search(text), text
    assert "your own pace" in ACCOUNTS_INTRO
    assert "does not add them up" in ACCOUNTS_INTRO
    assert "cannot tell you that an account or a phone" in ACCOUNTS_INTRO
    assert (
        "more dangerous" in ACCOUNTS_SAFETY_FIRST
        and "before you change" in ACCOUNTS_SAFETY_FIRST.lower()
    )
    assert "never had access to" in ACCOUNTS_SAFETY_FIRST


def test_the_wording_check_would_catch_a_claim() -> None:
    # the scan above can fail: a claim written into a copy is found
    assert NEVER.search("Once you have done this, your account is secure.")
    assert NEVER.search("You are safe now.")
    assert NEVER.search("Your phone is clean.")


# --- cautions filled from the jurisdiction ----------------------------------------------------


def test_cautions_are_filled_for_england_and_wales() -> None:
    q = by_id()["change_from_other_device"]
    text = render_caution(q, "england-wales")
    assert "the National Stalking Helpline (0808 802 0300)" in text
    assert "call 999." in text
    assert "{" not in text and "}" not in text
    assert render_caution(q, jurisdictions.load("england-wales")) == text


def test_cautions_are_filled_for_the_united_states() -> None:
    text = render_caution(by_id()["tracker_found"], "united-states")
    assert "the National Domestic Violence Hotline (800-799-7233)" in text
    assert "call 911." in text
    assert "0808" not in text and "999" not in text


def test_a_jurisdiction_without_numbers_gets_neutral_words() -> None:
    bare = jurisdictions.parse("nowhere", {})
    text = render_caution(by_id()["devices_google"], bare)
    assert "speak to a specialist support service or an advocate first" in text
    assert "call your local emergency number." in text
    assert not re.search(r"\d", text)
    only_emergency = jurisdictions.parse("somewhere", {"emergency": {"number": "112"}})
    text = render_caution(by_id()["devices_google"], only_emergency)
    assert "a specialist support service" in text and "call 112." in text
    assert accounts_support(bare) == (
        "If you would like help with any of this, you can talk to a specialist support service. "
        "If you are in danger now, call your local emergency number."
    )


def test_every_caution_renders_completely_for_every_jurisdiction() -> None:
    for jid in jurisdictions.available():
        for q in accounts():
            text = render_caution(q, jid)
            assert bool(text) == bool(q.caution)
            assert "{" not in text and "}" not in text, (jid, q.id)
    assert render_caution(by_id()["tracker_alerts"], "scotland") == ""


# --- answers ----------------------------------------------------------------------------------


def test_accounts_answers_round_trip_in_the_questions_order() -> None:
    data = ChecklistData.build(
        {
            "tracker_found": Answer("done", "Found one in my coat, photographed it"),
            "passwords_known": Answer("not_yet"),
            "car": Answer("not_applicable"),
            "smart_home": Answer(),
            "backups": Answer(None, "Ask my sister to help"),
        },
        "accounts",
    )
    assert [qid for qid, _ in data.answers] == [
        "passwords_known",
        "backups",
        "car",
        "tracker_found",
    ]
    record = data.as_record()
    assert record["set"] == "accounts"
    assert record["answers"]["backups"] == {"details": "Ask my sister to help"}
    back = ChecklistData.from_record(record, "accounts")
    assert back == data
    assert by_id()["passwords_known"].label(back.answers[0][1].choice or "") == "Not yet"


def test_risk_records_stay_exactly_as_before() -> None:
    data = ChecklistData.build({"threats": Answer("yes")})
    assert data.as_record() == {"answers": {"threats": {"choice": "yes"}}}
    assert ChecklistData.from_record(data.as_record()) == data
    assert ChecklistData(()) == ChecklistData.from_record({})


def test_accounts_answers_are_validated() -> None:
    with pytest.raises(UnknownChoice) as exc:
        ChecklistData.build({"tracker_alerts": Answer("yes")}, "accounts")
    assert exc.value.details["valid"] == ["done", "not_yet", "not_sure", "not_applicable"]
    with pytest.raises(InputError, match="no account-safety checklist question called 'fear'"):
        ChecklistData.build({"fear": Answer("very")}, "accounts")
    with pytest.raises(InputError, match="no checklist question called 'car'"):
        ChecklistData.build({"car": Answer("done")})
    with pytest.raises(InputError, match="too long"):
        ChecklistData.build({"car": Answer("done", "x" * 4001)}, "accounts")
    with pytest.raises(InputError, match="no checklist called"):
        ChecklistData.build({}, "banking")


def test_answers_are_read_only_with_the_set_they_were_saved_with() -> None:
    record = ChecklistData.build({"car": Answer("done")}, "accounts").as_record()
    with pytest.raises(InputError, match="belong to the 'accounts' checklist"):
        ChecklistData.from_record(record)
    risk = ChecklistData.build({"fear": Answer("very")}).as_record()
    with pytest.raises(InputError, match="belong to the 'risk' checklist"):
        ChecklistData.from_record(risk, "accounts")


@settings(max_examples=60, deadline=None)
@given(
    st.dictionaries(
        st.sampled_from([q.id for q in questions("accounts")]),
        st.tuples(
            st.one_of(st.none(), st.sampled_from([c for c, _ in CHECK])),
            st.text(max_size=30),
        ),
    )
)
def test_any_valid_accounts_answers_round_trip(raw: dict[str, tuple[str | None, str]]) -> None:
    given_answers = {qid: Answer(c, d) for qid, (c, d) in raw.items()}
    data = ChecklistData.build(given_answers, "accounts")
    kept = {qid for qid, a in given_answers.items() if not a.empty}
    assert {qid for qid, _ in data.answers} == kept
    again = ChecklistData.from_record(data.as_record(), "accounts")
    assert [(q, a.as_record()) for q, a in again.answers] == [
        (q, a.as_record()) for q, a in data.answers
    ]


# --- broken copies ----------------------------------------------------------------------------


def broken(
    tmp_path: Path, old: str, new: str, *, base: str = ACCOUNTS_TOML, count: int = 1
) -> Path:
    assert old in base, old
    path = tmp_path / "accounts-broken.toml"
    path.write_text(base.replace(old, new, count), "utf-8")
    return path


def load_broken(path: Path, set_name: str = "accounts") -> ConfigError:
    with pytest.raises(ConfigError) as exc:
        load_file(path, set_name=set_name)
    err = exc.value
    assert err.code == "config_invalid"
    assert "accounts-broken.toml" in err.message
    assert err.location is not None and err.location.file == "accounts-broken.toml"
    assert err.details["file"] == "accounts-broken.toml"
    return err


def header_line(text: str, qid: str) -> int:
    lines = text.splitlines()
    at = next(i for i, line in enumerate(lines) if line == f'id = "{qid}"')
    return max(i for i in range(at) if lines[i] == "[[questions]]") + 1


def test_an_unknown_key_names_file_question_and_key(tmp_path: Path) -> None:
    path = broken(tmp_path, 'id = "backups"\n', 'id = "backups"\ncolour = "red"\n')
    err = load_broken(path)
    assert "question 'backups'" in err.message and "'colour'" in err.message
    assert err.details["question"] == "backups" and err.details["key"] == "colour"
    assert err.location is not None
    assert err.location.line == header_line(path.read_text("utf-8"), "backups")
    assert err.location.record == "question backups"


def test_missing_text_is_an_error(tmp_path: Path) -> None:
    text_line = next(
        line for line in ACCOUNTS_TOML.splitlines() if line.startswith('text = "Is two-step')
    )
    err = load_broken(broken(tmp_path, text_line + "\n", ""))
    assert "question 'two_step_on'" in err.message and err.details["key"] == "text"
    assert "required" in err.message


def test_empty_text_is_an_error(tmp_path: Path) -> None:
    why = next(line for line in ACCOUNTS_TOML.splitlines() if line.startswith('why = "Snap Map'))
    err = load_broken(broken(tmp_path, why, 'why = "   "'))
    assert err.details["question"] == "location_snap_map" and err.details["key"] == "why"
    assert "required" in err.message


def test_missing_how_or_topic_is_an_error_for_the_accounts_set_only(tmp_path: Path) -> None:
    start = ACCOUNTS_TOML.index('id = "car"')
    how_at = ACCOUNTS_TOML.index('how = """', start)
    end = ACCOUNTS_TOML.index('"""\n', how_at + 9) + 4
    path = tmp_path / "accounts-broken.toml"
    path.write_text(ACCOUNTS_TOML[:how_at] + ACCOUNTS_TOML[end:], "utf-8")
    err = load_broken(path)
    assert err.details == {
        "file": "accounts-broken.toml",
        "question": "car",
        "number": 25,
        "key": "how",
    }
    err = load_broken(
        broken(
            tmp_path,
            'id = "car"\ntopic = "Smart home devices and cars"\n',
            'id = "car"\n',
        )
    )
    assert err.details["question"] == "car" and err.details["key"] == "topic"
    # the risk set has neither, and a risk-set file without them loads
    path = tmp_path / "risk.toml"
    path.write_text(RISK_TOML, "utf-8")
    assert load_file(path) == questions()


def test_a_duplicate_id_is_an_error(tmp_path: Path) -> None:
    err = load_broken(broken(tmp_path, 'id = "devices_microsoft"', 'id = "devices_google"'))
    assert "question 'devices_google'" in err.message and "another question" in err.message
    assert err.details["number"] == 10


def test_an_unknown_kind_is_an_error(tmp_path: Path) -> None:
    err = load_broken(
        broken(
            tmp_path,
            'id = "car"\ntopic = "Smart home devices and cars"\nkind = "check"',
            'id = "car"\ntopic = "Smart home devices and cars"\nkind = "tickbox"',
        )
    )
    assert "question 'car'" in err.message and "'tickbox'" in err.message
    assert err.details["key"] == "kind"


def test_a_question_without_an_id_is_named_by_its_number(tmp_path: Path) -> None:
    err = load_broken(broken(tmp_path, 'id = "password_manager"\n', ""))
    assert "question number 2" in err.message and err.details["number"] == 2
    assert err.details["key"] == "id"


def test_placeholders_are_checked(tmp_path: Path) -> None:
    err = load_broken(
        broken(
            tmp_path,
            "speak to {helpline} or an advocate first, and keep",
            "speak to {hotline} or an advocate first, and keep",
        )
    )
    assert err.details["question"] == "two_step_unknown" and "{hotline}" in err.message
    err = load_broken(
        broken(tmp_path, 'why = "Snap Map can show', 'why = "Call {emergency}. Snap Map can show')
    )
    assert err.details["question"] == "location_snap_map" and err.details["key"] == "why"


def test_forbidden_wording_is_refused(tmp_path: Path) -> None:
    err = load_broken(
        broken(
            tmp_path,
            'why = "Snap Map can show',
            'why = "Once done, your account is secure. Snap Map can show',
        )
    )
    assert err.details["question"] == "location_snap_map" and "'secure'" in err.message
    err = load_broken(
        broken(
            tmp_path, "Keep Bluetooth and location turned on", "Then you are safe. Keep Bluetooth"
        )
    )
    assert err.details["question"] == "tracker_alerts" and "'safe'" in err.message
    # the risk set is held to the words no part of Docket may use
    path = broken(
        tmp_path, "Threats are among", "This is stalking. Threats are among", base=RISK_TOML
    )
    err = load_broken(path, "risk")
    assert err.details["question"] == "threats"


def test_options_belong_only_to_choice_questions(tmp_path: Path) -> None:
    err = load_broken(
        broken(
            tmp_path,
            'id = "car"\n',
            'id = "car"\noptions = [{ code = "a", label = "A" }, { code = "b", label = "B" }]\n',
        )
    )
    assert err.details["question"] == "car" and err.details["key"] == "options"
    path = broken(
        tmp_path,
        '  { code = "very", label = "Very frightened" },\n',
        '  { code = "quite", label = "Very frightened" },\n',
        base=RISK_TOML,
    )
    err = load_broken(path, "risk")
    assert err.details["question"] == "fear" and "used twice" in err.message


def test_a_split_topic_is_an_error(tmp_path: Path) -> None:
    err = load_broken(
        broken(
            tmp_path,
            'id = "spying_access"\ntopic = "Signs of a spying app"',
            'id = "spying_access"\ntopic = "Passwords and PINs"',
        )
    )
    assert err.details["question"] == "spying_access" and err.details["key"] == "topic"


def test_unknown_top_level_keys_and_bad_toml_name_the_file(tmp_path: Path) -> None:
    err = load_broken(
        broken(tmp_path, 'last_checked = "2026-11-24"', 'last_checked = "2026-11-24"\nversion = 2')
    )
    assert err.details["key"] == "version"
    err = load_broken(broken(tmp_path, 'id = "car"', 'id = "car'))
    assert "not valid TOML" in err.message
    path = tmp_path / "accounts-broken.toml"
    path.write_text('last_checked = "2026-11-24"\n', "utf-8")
    err = load_broken(path)
    assert "no questions" in err.message


def test_the_module_names_no_jurisdiction_number() -> None:
    source = Path(checklist.__file__).read_text("utf-8")
    assert "0808" not in source and "999" not in source and "911" not in source
