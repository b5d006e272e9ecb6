"""Property tests: any incident the model accepts survives a trip through the record form and
through the encrypted store unchanged, and its canonical bytes are stable."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from docket.api import Diary
from docket.model import taxonomy
from docket.model.entry import canonical
from docket.model.records import Effect, IncidentData, Occurrence, Place, Report, Witness
from tests.conftest import PASSPHRASE

text = st.text(st.characters(blacklist_categories=("Cs",)), max_size=40)
stripped = text.map(str.strip)
moments = st.datetimes(
    min_value=datetime(2000, 1, 1), max_value=datetime(2026, 1, 1), timezones=st.just(UTC)
).map(lambda d: d.replace(microsecond=0))

incidents = st.builds(
    IncidentData,
    occurred=st.builds(
        lambda start, minutes, approx: Occurrence(
            start,
            "UTC",
            end=start + timedelta(minutes=minutes) if minutes else None,
            approximate=approx,
        ),
        moments,
        st.integers(0, 600),
        st.booleans(),
    ),
    category=st.sampled_from(list(taxonomy.CATEGORY_CODES)),
    tags=st.lists(stripped.filter(bool), max_size=3).map(tuple),
    channel=st.none() | st.sampled_from(list(taxonomy.CHANNELS)),
    place=st.none() | st.builds(Place, stripped.filter(bool), st.booleans()),
    description=text,
    exact_words=text,
    witnesses=st.lists(st.builds(Witness, stripped.filter(bool), text, text), max_size=2).map(
        tuple
    ),
    targeted=st.lists(stripped.filter(bool), max_size=2).map(tuple),
    effect=st.builds(Effect, st.booleans(), st.booleans(), st.booleans(), st.booleans(), text),
    told_to_stop=st.none() | st.sampled_from(list(taxonomy.TOLD_TO_STOP)),
    reported=st.lists(
        st.builds(Report, stripped.filter(bool), st.none() | st.dates(), text, text, text),
        max_size=2,
    ).map(tuple),
    evidence_to_obtain=st.lists(stripped.filter(bool), max_size=2).map(tuple),
    orders=text,
    private_notes=text,
)


@given(incidents)
def test_record_form_round_trips(data: IncidentData) -> None:
    record = data.as_record()
    assert IncidentData.from_record(record).as_record() == record
    assert canonical(IncidentData.from_record(record).as_record()) == canonical(record)


@settings(
    max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(st.lists(incidents, min_size=1, max_size=4))
def test_store_round_trips(tmp_path_factory: object, batch: list[IncidentData]) -> None:
    path = Path(tmp_path_factory.mktemp("prop")) / "p.docket"  # type: ignore[attr-defined]
    with Diary.create(path, PASSPHRASE, timezone="UTC") as d:
        ids = [d.add_incident_data(x).id for x in batch]
    with Diary.open(path, PASSPHRASE) as d:
        for iid, x in zip(ids, batch, strict=True):
            got = d.incident(iid).data
            assert got is not None and got.as_record() == x.as_record()
