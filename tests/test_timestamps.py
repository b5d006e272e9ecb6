"""Trusted timestamps against a real local authority (openssl ts -reply on 127.0.0.1)."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from pathlib import Path

import pytest

from docket.api import Diary
from docket.ledger import timestamp
from docket.model.forms import IncidentInput
from tests.helpers.tsa import Authority, make_ca, running_tsa


@pytest.fixture(scope="module")
def tsa(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Authority]:
    with running_tsa(tmp_path_factory.mktemp("tsa")) as authority:
        yield authority


@pytest.fixture(scope="module")
def other_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("other-ca")
    make_ca(folder, "Unrelated")
    return folder / "root.pem"


def closed_port_url() -> str:
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return f"http://127.0.0.1:{port}/good"


def test_good_token_verified_against_root(diary: Diary, tsa: Authority) -> None:
    diary.add_incident(IncidentInput(category="CON", occurred="01/11/2026 10:00"))
    out = diary.checkpoint([f"{tsa.url}/good"], tsa.root_pem.read_bytes())
    [result] = out.timestamps
    assert result.status == "granted" and result.gen_time
    report = diary.verify(tsa_roots_pem=tsa.root_pem.read_bytes())
    assert report.ok, report.problems
    [ts] = report.timestamps
    assert ts.trusted and ts.checkpoint_size == out.size
    untrusted = diary.verify()
    assert untrusted.ok and not untrusted.timestamps[0].trusted


def test_token_without_root_is_kept_but_not_called_trusted(diary: Diary, tsa: Authority) -> None:
    out = diary.checkpoint([f"{tsa.url}/good"])
    assert out.timestamps[0].status == "granted"
    assert "not checked against a trusted root" in (out.timestamps[0].detail or "")


def test_untrusted_root(diary: Diary, tsa: Authority, other_root: Path) -> None:
    diary.checkpoint([f"{tsa.url}/good"], tsa.root_pem.read_bytes())
    report = diary.verify(tsa_roots_pem=other_root.read_bytes())
    assert not report.ok
    assert any(p.code == "timestamp" for p in report.problems)
    out = diary.checkpoint([f"{tsa.url}/good"], other_root.read_bytes())
    assert out.timestamps[0].status == "failed"


def test_token_over_other_data_is_refused(diary: Diary, tsa: Authority) -> None:
    out = diary.checkpoint([f"{tsa.url}/otherdata"], tsa.root_pem.read_bytes())
    [result] = out.timestamps
    assert (result.status == "failed" and "nonce" in (result.detail or "")) or "other data" in (
        result.detail or ""
    )
    assert diary.verify().ok  # a refused token is not kept as evidence


def test_nonce_mismatch(diary: Diary, tsa: Authority) -> None:
    diary.checkpoint([f"{tsa.url}/good"], tsa.root_pem.read_bytes())
    out = diary.checkpoint([f"{tsa.url}/replay"], tsa.root_pem.read_bytes())
    assert out.timestamps[0].status == "failed"
    assert "nonce" in (out.timestamps[0].detail or "")


def test_nonce_checked_on_a_real_token(tsa: Authority) -> None:
    message = b"a checkpoint\n"
    prepared = timestamp.prepare(message)
    response = timestamp.send(f"{tsa.url}/good", prepared.der)
    roots = timestamp.load_roots(tsa.root_pem.read_bytes())
    assert timestamp.check(response, message, prepared.nonce, roots).trusted
    with pytest.raises(timestamp.TimestampError, match="nonce"):
        timestamp.check(response, message, prepared.nonce + 1, roots)
    with pytest.raises(timestamp.TimestampError, match="other data"):
        timestamp.check(response, message + b"x", prepared.nonce, roots)


def test_offline_request_is_queued_then_retried(diary: Diary, tsa: Authority) -> None:
    out = diary.checkpoint([closed_port_url(), f"{tsa.url}/down"], tsa.root_pem.read_bytes())
    assert [t.status for t in out.timestamps] == ["queued", "queued"]
    assert diary.verify().queued_timestamps == 2
    with diary._file.write() as conn:  # the authorities come back (same requests, new address)
        from sqlalchemy import text

        conn.execute(text("UPDATE timestamp SET url = :u"), {"u": f"{tsa.url}/good"})
    retried = diary.retry_timestamps()
    assert [t.status for t in retried] == ["granted", "granted"]
    report = diary.verify(tsa_roots_pem=tsa.root_pem.read_bytes())
    assert report.ok and len(report.timestamps) == 2 and report.queued_timestamps == 0
