"""The report for police, an advocate or a court (research: legal-risk.md §7.3): gathering
what goes in it, applying the audience's redactions, and rendering it as one self-contained
HTML file or a paginated PDF (WeasyPrint).

The report is built from the facade's views only. Nothing in it says what the conduct is in
law or gives a score; every fact names the entries behind it. Redactions are decided here, in
one place, so the preview, the HTML and the PDF can never disagree about what is left out.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from jinja2 import Environment, PackageLoader, select_autoescape

from docket import __version__, outfiles
from docket.analysis import WEEKDAYS, Analysis, Period
from docket.checklist import ASK_FOR_ASSESSMENT, questions
from docket.errors import InputError
from docket.model import taxonomy
from docket.model.views import AttachmentView, IncidentView, PersonView
from docket.records import IncidentFilter
from docket.web import charts

if TYPE_CHECKING:
    from docket.api import Diary, WitnessAccountView

PRIVATE_PLACE = "[a private place]"


@dataclass(frozen=True)
class Redactions:
    """What the report leaves out. Private notes are never included unless asked for."""

    private_places: bool = True  # places the person marked as private, such as home
    third_party_contacts: bool = True  # witnesses' phone numbers and addresses
    private_notes: bool = True
    checklist: bool = False  # leave out the checklist answers

    def describe(self) -> list[str]:
        out = []
        if self.private_places:
            out.append("places you marked as private (such as home)")
        if self.third_party_contacts:
            out.append("witnesses' contact details")
        if self.private_notes:
            out.append("your private notes")
        if self.checklist:
            out.append("your answers to the checklist")
        return out


AUDIENCES: dict[str, tuple[str, str, Redactions]] = {
    "police": (
        "For the police",
        "A record to help the police see the whole pattern and where to look for evidence.",
        Redactions(private_places=True, third_party_contacts=True, private_notes=True),
    ),
    "advocate": (
        "For an advocate or support worker",
        "A record to help a specialist advocate support you and plan for your safety.",
        Redactions(private_places=False, third_party_contacts=False, private_notes=True),
    ),
    "court": (
        "For a court",
        "A record to support an application, such as for a protective order or injunction.",
        Redactions(
            private_places=True, third_party_contacts=True, private_notes=True, checklist=True
        ),
    ),
}


@dataclass(frozen=True)
class ReportOptions:
    audience: str = "police"
    start: date | None = None  # the first day covered, in the diary's zone
    end: date | None = None  # the last day covered (inclusive)
    prepared_by: str = ""  # a name or a reference for the cover; blank: not shown
    redactions: Redactions | None = None  # None: the audience's defaults
    only: tuple[int, ...] | None = None  # just these incidents (an evidence bundle's)

    def resolved(self) -> Redactions:
        if self.audience not in AUDIENCES:
            raise InputError(
                f"{self.audience!r} is not a report audience Docket knows.",
                hint="Use police, advocate or court.",
            )
        return self.redactions or AUDIENCES[self.audience][2]


@dataclass
class Report:
    """Everything the report shows, after redaction."""

    options: ReportOptions
    redactions: Redactions
    audience_title: str
    audience_purpose: str
    generated_at: str
    timezone: str
    jurisdiction: Any
    period_label: str
    incidents: list[dict[str, Any]]
    people: list[dict[str, Any]]
    analysis: Analysis
    files: list[dict[str, Any]]
    sources: list[dict[str, Any]]
    contacts_with_police: list[dict[str, Any]]
    impact: list[dict[str, Any]]
    harm_facts: list[dict[str, Any]]
    checklist: list[dict[str, str]]
    integrity: dict[str, Any]
    withheld: list[str]
    charts: dict[str, Any] = field(default_factory=dict)

    @property
    def as_of_label(self) -> str:
        d = date.fromisoformat(self.analysis.as_of)
        return f"{d.day} {d:%B %Y}"

    @property
    def incident_ids(self) -> list[int]:
        return [i["id"] for i in self.incidents]


def _local(tz: ZoneInfo, utc_text: str | None, fmt: str = "%d %b %Y, %H:%M") -> str:
    if not utc_text:
        return ""
    return datetime.fromisoformat(utc_text.replace("Z", "+00:00")).astimezone(tz).strftime(fmt)


def _period(diary: Diary, o: ReportOptions) -> tuple[Period, str]:
    tz = ZoneInfo(diary.timezone)
    start = datetime.combine(o.start, datetime.min.time(), tz).astimezone(UTC) if o.start else None
    end = (
        datetime.combine(o.end + timedelta(days=1), datetime.min.time(), tz).astimezone(UTC)
        if o.end
        else None
    )
    if o.start and o.end and o.end < o.start:
        raise InputError(
            "The report's last day is before its first day.",
            hint="Check --from and --to: dates are read day first (03/11/2026 is 3 November).",
        )
    iso = "%Y-%m-%dT%H:%M:%SZ"
    label = (
        f"{o.start:%d %B %Y} to {o.end:%d %B %Y}"
        if o.start and o.end
        else f"from {o.start:%d %B %Y}"
        if o.start
        else f"up to {o.end:%d %B %Y}"
        if o.end
        else "the whole diary"
    )
    return Period(start.strftime(iso) if start else None, end.strftime(iso) if end else None), label


def _witness_account_row(w: WitnessAccountView, red: Redactions) -> dict[str, Any]:
    d = w.data
    when = d.seen_on.strftime("%d %b %Y") if d.seen_on else ""
    if d.time_from:
        when += (", " if when else "") + d.time_from + (f" to {d.time_to}" if d.time_to else "")
    return {
        "id": w.id,
        "by": d.name + (f" ({d.relationship})" if d.relationship else ""),
        "contact": "" if red.third_party_contacts else d.contact,
        "when": when,
        "place": d.place,
        "saw": d.saw,
        "heard": d.heard,
        "appearance": d.appearance,
        "other": d.other,
        "written_on": d.written_on.strftime("%d %b %Y") if d.written_on else "",
        "note_file": d.attachment,
    }


def _incident_row(
    v: IncidentView,
    diary: Diary,
    people: dict[int, PersonView],
    red: Redactions,
    tz: ZoneInfo,
    accounts: list[WitnessAccountView] | None = None,
) -> dict[str, Any]:
    d = v.data
    assert d is not None
    j = diary.jurisdiction
    cat = j.category(d.category)
    occ = d.occurred
    when = _local(tz, v.occurred_start, "%d %b %Y" if occ.date_only else "%d %b %Y, %H:%M")
    if occ.end:
        when += " to " + occ.end.astimezone(tz).strftime("%H:%M")
    if occ.approximate:
        when = "about " + when
    place = ""
    if d.place:
        place = PRIVATE_PLACE if (d.place.private and red.private_places) else d.place.text
    witnesses = [
        w.name
        + ("" if red.third_party_contacts or not w.contact else f" ({w.contact})")
        + (f": {w.saw}" if w.saw else "")
        for w in d.witnesses
    ]
    return {
        "id": v.id,
        "when": when,
        "recorded": _local(tz, v.recorded_at),
        "retrospective": v.retrospective,
        "version": v.version,
        "category": cat.name if cat else d.category,
        "code": d.category,
        "similar_to": cat.similar_to if cat else "",
        "channel": taxonomy.CHANNELS.get(d.channel or "", ""),
        "place": place,
        "description": d.description,
        "exact_words": d.exact_words,
        "people": [people[p].data.name for p in d.people if p in people and people[p].data],  # type: ignore[union-attr]
        "targeted": [t for t in d.targeted if t.lower() != "me"],
        "witnesses": witnesses,
        "witness_accounts": [_witness_account_row(w, red) for w in accounts or ()],
        "effect": d.effect.labels(),
        "effect_details": d.effect.details,
        "told_to_stop": taxonomy.TOLD_TO_STOP.get(d.told_to_stop or "", ""),
        "reported": [r.as_record() for r in d.reported],
        "evidence": [
            {"id": a.id, "name": a.data.name if a.data else "", "sha256": a.sha256}
            for a in v.attachments
            if not a.redacted
        ],
        "evidence_to_obtain": list(d.evidence_to_obtain),
        "orders": d.orders,
        "private_notes": "" if red.private_notes else d.private_notes,
    }


def build(diary: Diary, options: ReportOptions) -> Report:
    red = options.resolved()
    tz = ZoneInfo(diary.timezone)
    period, label = _period(diary, options)
    j = diary.jurisdiction
    views = diary.incidents(IncidentFilter(start_utc=period.start, end_utc=period.end))
    if options.only is not None:
        views = [v for v in views if v.id in set(options.only)]
    people = {p.id: p for p in diary.people() if p.data is not None}
    accounts: dict[int, list[WitnessAccountView]] = {}
    for w in diary.witness_accounts():
        accounts.setdefault(w.data.incident, []).append(w)
    rows = [
        _incident_row(v, diary, people, red, tz, accounts.get(v.id))
        for v in views
        if v.data is not None
    ]
    a = diary.analyse(period=period)

    files: list[dict[str, Any]] = []
    in_report = {v.id for v in views}
    for att in diary.attachments():
        if att.redacted or att.data is None:
            continue
        if att.data.incident is not None and att.data.incident not in in_report:
            continue
        files.append(_file_row(att, tz))

    police = []
    impact = []
    for r in rows:
        for rep in r["reported"]:
            police.append({"incident": r["id"], "when": r["when"], **rep})
        if r["effect"] or r["effect_details"]:
            impact.append(
                {
                    "incident": r["id"],
                    "when": r["when"],
                    "effect": r["effect"],
                    "words": r["effect_details"],
                }
            )
    police.sort(key=lambda p: (p.get("on") or "", p["incident"]))

    checklist = []
    if not red.checklist:
        answers = dict(diary.checklist().data.answers)
        for q in questions():
            got = answers.get(q.id)
            if got is not None:
                checklist.append(
                    {
                        "question": q.text,
                        "answer": q.label(got.choice) if got.choice else "",
                        "details": got.details,
                    }
                )

    responsible = [p for p in people.values() if p.data and p.data.role == "responsible"]
    report = Report(
        options=options,
        redactions=red,
        audience_title=AUDIENCES[options.audience][0],
        audience_purpose=AUDIENCES[options.audience][1],
        generated_at=datetime.now(tz).strftime("%d %B %Y, %H:%M"),
        timezone=diary.timezone,
        jurisdiction=j,
        period_label=label,
        incidents=rows,
        people=[_person_row(p) for p in responsible],
        analysis=a,
        files=files,
        sources=[
            {
                "name": s["name"],
                "sha256": s["sha256"],
                "size": s["size"],
                "importer": s["importer"],
                "imported": _local(tz, s["imported_at"]),
                "added": s["summary"].get("added", 0),
            }
            for s in diary.sources()
        ],
        contacts_with_police=police,
        impact=impact,
        harm_facts=_harm_facts(rows, responsible, a),
        checklist=checklist,
        integrity=diary.integrity_summary(),
        withheld=red.describe(),
    )
    months = a.months[-24:]
    report.charts = {
        "months": charts.columns(
            [(date.fromisoformat(m.month + "-01").strftime("%b %y"), m.incidents) for m in months],
            title="Incidents each month",
            every=max(1, len(months) // 8),
        )
        if months
        else None,
        "contacts": charts.columns(
            [(date.fromisoformat(m.month + "-01").strftime("%b %y"), m.contacts) for m in months],
            title="Calls and messages from the person responsible, each month",
            every=max(1, len(months) // 8),
        )
        if a.contacts
        else None,
        "categories": charts.bars(
            [(name, n) for _, name, n in a.by_category], title="Incidents by what happened"
        )
        if a.by_category
        else None,
        "heatmap": charts.heatmap(
            a.heatmap, WEEKDAYS, title="Incidents and contacts by day of the week and hour"
        ),
    }
    return report


def _file_row(att: AttachmentView, tz: ZoneInfo) -> dict[str, Any]:
    d = att.data
    assert d is not None
    return {
        "id": att.id,
        "name": d.name,
        "media_type": d.media_type,
        "size": att.size,
        "sha256": att.sha256,
        "incident": d.incident,
        "obtained": d.obtained,
        "added": _local(tz, att.recorded_at),
    }


def _person_row(p: PersonView) -> dict[str, Any]:
    d = p.data
    assert d is not None
    return {
        "id": p.id,
        "name": d.name,
        "relationship": taxonomy.RELATIONSHIPS.get(d.relationship, d.relationship),
        "description": d.description,
        "identifiers": [i.label() for i in d.identifiers],
    }


def _harm_facts(
    rows: list[dict[str, Any]], responsible: list[PersonView], a: Analysis
) -> list[dict[str, Any]]:
    """Facts research links to serious harm (legal-risk.md §6.2), as recorded facts with
    their entries — never added up, never a level."""
    out: list[dict[str, Any]] = []

    def entries(codes: set[str]) -> list[int]:
        return [r["id"] for r in rows if r["code"] in codes]

    exes = [
        p.data.name
        for p in responsible
        if p.data and p.data.relationship in ("ex_partner", "partner")
    ]
    if exes:
        out.append(
            {
                "fact": "The person responsible is a current or former partner: "
                + ", ".join(exes)
                + ".",
                "entries": [],
            }
        )
    for codes, words in (
        ({"THR"}, "Threats were recorded"),
        ({"VIO"}, "Violence was recorded"),
        ({"PRP", "ENT"}, "Damage to property, or entering or trying to enter, was recorded"),
        ({"TRK", "MON", "HAC"}, "Tracking, monitoring or interference with accounts was recorded"),
        ({"LOI", "APP"}, "Turning up or approaching in person was recorded"),
        ({"PRX"}, "Contact with people around the person was recorded"),
        ({"ORD"}, "Entries about breaking an order were recorded"),
    ):
        ids = entries(codes)
        if ids:
            out.append(
                {
                    "fact": f"{words} ({len(ids)} {'entry' if len(ids) == 1 else 'entries'}).",
                    "entries": ids,
                }
            )
    fear = [r["id"] for r in rows if "Feared violence" in r["effect"]]
    if fear:
        out.append(
            {
                "fact": f"Fear of violence was recorded in {len(fear)} "
                f"{'entry' if len(fear) == 1 else 'entries'}.",
                "entries": fear,
            }
        )
    for f in a.findings:
        if f.rule in ("rate_rise", "flag_weapon", "flag_threat", "third_parties"):
            out.append({"fact": f.text, "entries": list(f.incidents)})
    return out


# --- rendering --------------------------------------------------------------------------------


def _env() -> Environment:
    return Environment(
        loader=PackageLoader("docket.report", "templates"),
        autoescape=select_autoescape(default=True, default_for_string=True),
        trim_blocks=True,
        lstrip_blocks=True,
    )


def render_html(report: Report, *, for_pdf: bool = False) -> str:
    env = _env()
    css = env.loader.get_source(env, "report.css")[0]  # type: ignore[union-attr]
    return env.get_template("report.html").render(
        r=report,
        a=report.analysis,
        j=report.jurisdiction,
        css=css,
        for_pdf=for_pdf,
        version=__version__,
        ask=ASK_FOR_ASSESSMENT,
    )


def _no_fetch(url: str, *args: Any, **kwargs: Any) -> dict[str, Any]:
    """WeasyPrint's URL fetcher: the report is self-contained, so nothing is ever fetched —
    not from the network, not from the disk."""
    raise ValueError(f"the report does not load anything from outside itself ({url[:40]})")


def render_pdf(report: Report) -> bytes:
    from weasyprint import HTML

    document = HTML(string=render_html(report, for_pdf=True), url_fetcher=_no_fetch)
    pdf: bytes = document.write_pdf()
    return pdf


def write(report: Report, out: Path) -> tuple[Path, str]:
    """Write the report (PDF or HTML, by the file's suffix) atomically, readable only by the
    user; returns the path and the file's SHA-256."""
    suffix = out.suffix.lower()
    if suffix not in (".pdf", ".html", ".htm"):
        raise InputError(
            f"Docket cannot tell what kind of report {out.name!r} should be.",
            hint="End the file name with .pdf or .html.",
        )
    data = render_pdf(report) if suffix == ".pdf" else render_html(report).encode("utf-8")
    out = outfiles.write_private(out, data)
    return out, hashlib.sha256(data).hexdigest()


def preview(report: Report) -> dict[str, Any]:
    """What the report will include and leave out, for the person to check before export."""
    return {
        "audience": report.options.audience,
        "period": report.period_label,
        "incidents": len(report.incidents),
        "files": len(report.files),
        "withheld": report.withheld,
        "private_places_hidden": sum(1 for i in report.incidents if i["place"] == PRIVATE_PLACE),
        "checklist_answers": len(report.checklist),
    }


def with_redactions(options: ReportOptions, **changes: bool) -> ReportOptions:
    return replace(options, redactions=replace(options.resolved(), **changes))


def with_choices(
    options: ReportOptions,
    *,
    show_private_places: bool = False,
    show_witnesses: bool = False,
    show_private_notes: bool = False,
    leave_out_checklist: bool = False,
) -> ReportOptions:
    """The person's choices (from the CLI or the web form) over the audience's defaults:
    each can only show what the audience hides, or hide the checklist."""
    defaults = options.resolved()
    return with_redactions(
        options,
        private_places=defaults.private_places and not show_private_places,
        third_party_contacts=defaults.third_party_contacts and not show_witnesses,
        private_notes=not show_private_notes,
        checklist=defaults.checklist or leave_out_checklist,
    )
