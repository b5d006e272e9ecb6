"""docket-verify, the independent bundle verifier: conformance vectors through its own code,
real bundles (real keys, trees, entries and a real openssl timestamp authority) that pass,
every byte flipped and every kind of tampering that must fail, encrypted bundles, strict
parsers under hypothesis, the verifier alone in a fresh virtual environment, the manual
procedure of VERIFY.txt run for real, and the words it prints."""

from __future__ import annotations

import base64
import contextlib
import hashlib
import io
import json
import os
import re
import shutil
import subprocess
import sys
import time
import zipfile
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import rfc8785
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import docket_verify as dv
from docket.ledger import merkle
from docket.ledger.note import Checkpoint, Signer
from tests.conftest import SHARED
from tests.helpers.bundles import Built, Log, b64lines, build, sha, stamper, tlog_proof
from tests.helpers.tsa import CONFIG as TSA_CONFIG
from tests.helpers.tsa import Authority, make_ca, running_tsa
from tests.test_wording import PATTERN

ROOT = Path(__file__).resolve().parents[1]
VECTORS = SHARED / "vectors"
needs_shared = pytest.mark.skipif(not VECTORS.exists(), reason="../shared is not present")


# --- fixtures -----------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def tsa(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Authority]:
    with running_tsa(tmp_path_factory.mktemp("tsa")) as authority:
        yield authority


@pytest.fixture(scope="module")
def roots(tsa: Authority) -> list[x509.Certificate]:
    return x509.load_pem_x509_certificates(tsa.root_pem.read_bytes())


@pytest.fixture(scope="module")
def other_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("other-ca")
    make_ca(folder, "Unrelated")
    return folder / "root.pem"


@pytest.fixture(scope="module")
def built(tsa: Authority) -> Built:
    return build(stamp=stamper(tsa))


@pytest.fixture(scope="module")
def small(tsa: Authority) -> Built:
    return build(stamp=stamper(tsa), small=True, noise=1)


@pytest.fixture(scope="module")
def bundle(built: Built, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return built.write(tmp_path_factory.mktemp("bundle") / "evidence.zip")


def older_size(b: Built) -> int:
    return int(b.manifest["checkpoints"][0]["size"])


def check(b: Built, path: Path, members: dict[str, bytes] | None = None, **kw: Any) -> dv.Report:
    return dv.verify_bundle(b.write(path, members), **kw)


def flat(text: str) -> str:
    """Printed output with its line wrapping undone, to look for phrases."""
    return " ".join(text.split())


def failed(report: dv.Report, member: str | None, *words: str) -> bool:
    """The report failed, naming ``member``, with every one of ``words`` in that reason."""
    return not report.ok and any(
        f.member == member and all(w in f.reason for w in words) for f in report.failures
    )


# --- conformance: the shared vectors through the verifier's own functions -----------------------


def b64(value: str | None) -> bytes:
    return base64.b64decode(value) if value else b""


def vector_files(kind: str) -> list[Path]:
    return sorted((VECTORS / "merkle" / kind).rglob("*.json")) if VECTORS.exists() else []


@needs_shared
@pytest.mark.parametrize("path", vector_files("inclusion"), ids=lambda p: p.stem)
def test_inclusion_vectors(path: Path) -> None:
    v = json.loads(path.read_text())
    args = (v["leafIdx"], v["treeSize"], b64(v["leafHash"]), [b64(h) for h in v["proof"] or []])
    if v["wantErr"]:
        with pytest.raises(dv.VerifyError):
            dv.verify_inclusion(*args, b64(v["root"]))
    else:
        dv.verify_inclusion(*args, b64(v["root"]))


@needs_shared
@pytest.mark.parametrize("path", vector_files("consistency"), ids=lambda p: p.stem)
def test_consistency_vectors(path: Path) -> None:
    v = json.loads(path.read_text())
    args = (v["size1"], v["size2"], [b64(h) for h in v["proof"] or []])
    if v["wantErr"]:
        with pytest.raises(dv.VerifyError):
            dv.verify_consistency(*args, b64(v["root1"]), b64(v["root2"]))
    else:
        dv.verify_consistency(*args, b64(v["root1"]), b64(v["root2"]))


@needs_shared
def test_vectors_were_found_and_hasher_vectors() -> None:
    assert len(vector_files("inclusion")) + len(vector_files("consistency")) > 150
    v = json.loads((VECTORS / "rfc6962-hasher.json").read_text())
    assert hashlib.sha256(b"").hexdigest() == v["empty_tree"]
    for case in v["leaf"]:
        assert dv.leaf_hash(case["input"].encode()).hex() == case["hash"]
    for case in v["node"]:
        assert dv.node_hash(case["left"].encode(), case["right"].encode()).hex() == case["hash"]


@needs_shared
def test_c2sp_signed_note_vector() -> None:
    v = json.loads((VECTORS / "c2sp-signed-note.json").read_text())
    key = dv.VerifierKey.parse(v["vkey"])
    note = dv.parse_note(v["note"].encode())
    dv.verify_note(note, key)
    assert key.encode() == v["vkey"]
    tampered = dv.parse_note(v["note"].replace("example", "exemple", 1).encode())
    with pytest.raises(dv.VerifyError, match="does not verify"):
        dv.verify_note(tampered, key)


def test_exhaustive_small_trees_agree_with_docket() -> None:
    """Every proof Docket's ledger makes for trees up to 33 leaves verifies here; every
    single-byte change to a proof hash fails."""
    for n in range(1, 34):
        leaves = [merkle.leaf_hash(f"entry {i}".encode()) for i in range(n)]
        nodes = merkle.nodes_from_leaves(leaves)
        root = merkle.root(n, nodes)
        for i in range(n):
            proof = merkle.inclusion_proof(i, n, nodes)
            dv.verify_inclusion(i, n, leaves[i], proof, root)
            for j in range(len(proof)):
                bad = [*proof]
                bad[j] = bytes([bad[j][0] ^ 1]) + bad[j][1:]
                with pytest.raises(dv.VerifyError):
                    dv.verify_inclusion(i, n, leaves[i], bad, root)
            if proof:
                with pytest.raises(dv.VerifyError):
                    dv.verify_inclusion(i, n, leaves[i], proof[:-1], root)
            with pytest.raises(dv.VerifyError):
                dv.verify_inclusion(i, n, leaves[i], [*proof, root], root)
        for m in range(1, n + 1):
            proof = merkle.consistency_proof(m, n, nodes)
            dv.verify_consistency(m, n, proof, merkle.root(m, nodes), root)
            if proof:
                with pytest.raises(dv.VerifyError):
                    dv.verify_consistency(m, n, proof[:-1], merkle.root(m, nodes), root)


# --- the container ------------------------------------------------------------------------------


def test_writer_matches_pythons_zipfile_and_streams_paths(tmp_path: Path) -> None:
    big = tmp_path / "big.bin"
    big.write_bytes(os.urandom(3 * 1024 * 1024 + 17))
    members: list[tuple[str, dv.Content]] = [
        ("VERIFY.txt", b"read me\n"),
        ("files/" + hashlib.sha256(big.read_bytes()).hexdigest(), big),
        ("manifest.json", b"{}"),
        ("checkpoints/10.checkpoint", b"ten"),
        ("checkpoints/9.checkpoint", b"nine"),
        ("timestamps/9-1.pem", b"pem"),
        ("timestamps/9-1.tsr", b"tsr"),
        ("timestamps/9-2.tsr", b"tsr2"),
        ("files/" + "0" * 64, lambda: iter([b"chunk one, ", b"", b"chunk two"])),
    ]
    path = tmp_path / "b.zip"
    dv.write_bundle(path, members)
    order = [m.name for m in dv.read_bundle(path)]
    assert order == [
        "manifest.json", "checkpoints/9.checkpoint", "checkpoints/10.checkpoint",
        "timestamps/9-1.tsr", "timestamps/9-1.pem", "timestamps/9-2.tsr",
        "files/" + "0" * 64, members[1][0], "VERIFY.txt",
    ]  # fmt: skip
    assert oct(path.stat().st_mode & 0o777) == "0o600"
    expected = io.BytesIO()
    with zipfile.ZipFile(expected, "w", zipfile.ZIP_STORED) as z:
        for name in order:
            content = dict(members)[name]
            info = zipfile.ZipInfo(name, date_time=(1980, 1, 1, 0, 0, 0))
            info.create_system = 3
            info.external_attr = 0o100644 << 16
            if isinstance(content, Path):
                content = content.read_bytes()
            elif callable(content):
                content = b"".join(content())
            z.writestr(info, content)
    assert path.read_bytes() == expected.getvalue()
    with zipfile.ZipFile(path) as z:
        assert z.testzip() is None


def test_writer_is_atomic_and_can_encrypt(tmp_path: Path, small: Built) -> None:
    target = tmp_path / "out" / "bundle.zip"
    target.parent.mkdir()

    def broken() -> Iterator[bytes]:
        yield b"some bytes"
        raise OSError("the disk went away")

    with pytest.raises(OSError, match="went away"):
        dv.write_bundle(target, [*small.members.items(), ("files/" + "f" * 64, broken)])
    assert list(target.parent.iterdir()) == []
    written = dv.write_bundle(target, list(small.members.items()))
    assert written.path == target and written.size == target.stat().st_size
    assert written.sha256 == hashlib.sha256(target.read_bytes()).hexdigest()
    assert dv.verify_bundle(target).ok
    sealed = tmp_path / "out" / "bundle.enc"
    path, digest, size = dv.write_bundle(sealed, list(small.members.items()), passphrase="pw 1")
    assert path == sealed
    assert sorted(p.name for p in target.parent.iterdir()) == ["bundle.enc", "bundle.zip"]
    assert digest == hashlib.sha256(sealed.read_bytes()).hexdigest() and size > written.size
    assert oct(sealed.stat().st_mode & 0o777) == "0o600"
    assert dv.verify_bundle(sealed, passphrase="pw 1").ok
    assert dv.source_bytes() == (ROOT / "src" / "docket_verify.py").read_bytes()


@pytest.mark.parametrize(
    "members",
    [
        [("manifest.json", b"a"), ("manifest.json", b"b")],
        [("notes.txt", b"x")],
        [("entries/017.json", b"x")],
        [("../manifest.json", b"x")],
        [("files/" + "A" * 64, b"x")],
    ],
)
def test_writer_refuses_what_the_format_does_not_have(
    tmp_path: Path, members: list[tuple[str, bytes | Path]]
) -> None:
    with pytest.raises(dv.BundleError):
        dv.write_bundle(tmp_path / "b.zip", members)
    assert not (tmp_path / "b.zip").exists()


# --- a good bundle ------------------------------------------------------------------------------


def test_good_bundle_passes(bundle: Path, built: Built, capsys: pytest.CaptureFixture[str]) -> None:
    report = dv.verify_bundle(bundle)
    assert report.ok, report.failures
    assert report.fingerprint == built.manifest["fingerprint"]
    assert [e.seq for e in report.entries] == [e["seq"] for e in built.manifest["entries"]]
    assert all(e.ok and e.time and e.time.no_later_than is None for e in report.entries)
    assert [m.id for m in report.messages] == [1, 2, 4]
    assert {f.sha256 for f in report.files} == {f["sha256"] for f in built.manifest["files"]}
    [ts] = report.timestamps
    assert ts.ok and not ts.trusted and "not independently trusted" in ts.detail
    assert dv.main([str(bundle)]) == 0
    out = flat(capsys.readouterr().out)
    assert out.startswith("Checking the Docket evidence bundle: evidence.zip")
    assert "RESULT: PASSED" in out and built.manifest["fingerprint"] in out
    assert "rests on the device's clock" in out
    assert "present but not independently trusted" in out.lower()
    assert "What this check does NOT show" in out
    assert "9 entries were not disclosed" in out


def test_trusted_timestamp_dates_the_entries_it_covers(
    bundle: Path, built: Built, roots: list[x509.Certificate], tsa: Authority,
    capsys: pytest.CaptureFixture[str],
) -> None:  # fmt: skip
    report = dv.verify_bundle(bundle, tsa_roots=roots)
    assert report.ok, report.failures
    [ts] = report.timestamps
    assert ts.trusted and ts.latest is not None and ts.gen_time is not None
    assert ts.authority == "CN=Test TSA" and ts.policy == "1.2.3.4.1" and ts.nonce is not None
    older = older_size(built)
    for e in report.entries:
        assert e.time is not None
        if e.seq < older:
            assert e.time.no_later_than == ts.latest and e.time.timestamp == ts.file
        else:
            assert e.time.no_later_than is None  # the timestamp is over a smaller log
    assert all(m.time and m.time.no_later_than == ts.latest for m in report.messages)
    assert dv.main([str(bundle), "--tsa-root", str(tsa.root_pem)]) == 0
    out = flat(capsys.readouterr().out)
    assert "included in the log no later than" in out and "Trusted: it leads to a root" in out
    assert "before the first trusted timestamp" in out


def test_root_of_another_authority_is_not_trust(
    bundle: Path, other_root: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert dv.main([str(bundle), "--tsa-root", str(other_root), "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    [ts] = doc["timestamps"]
    assert ts["ok"] and not ts["trusted"] and "does not lead to any root" in ts["detail"]
    assert all(e["time"]["time_rests_on"] == "device clock" for e in doc["entries"])


def test_token_over_another_checkpoint_fails(tmp_path: Path, built: Built, tsa: Authority) -> None:
    newest = built.manifest["log_size"]
    token = stamper(tsa)(built.members[f"checkpoints/{newest}.checkpoint"])
    older = older_size(built)
    report = check(built, tmp_path / "b.zip", built.changed(**{f"timestamps/{older}-1.tsr": token}))
    assert failed(report, f"timestamps/{older}-1.tsr", "over other data")


def test_token_from_a_dishonest_authority_fails(
    tmp_path: Path, built: Built, tsa: Authority
) -> None:
    token = stamper(tsa, "/otherdata")(b"ignored")
    older = older_size(built)
    report = check(built, tmp_path / "b.zip", built.changed(**{f"timestamps/{older}-1.tsr": token}))
    assert failed(report, f"timestamps/{older}-1.tsr", "over other data")


def test_recorded_root_is_reported_not_trusted(
    tmp_path: Path, built: Built, tsa: Authority, capsys: pytest.CaptureFixture[str]
) -> None:
    older = older_size(built)
    pem = tsa.root_pem.read_bytes()

    def add_root(m: dict[str, Any]) -> None:
        m["timestamps"][0]["root"] = f"timestamps/{older}-1.pem"

    members = built.with_manifest(add_root)
    members[f"timestamps/{older}-1.pem"] = pem
    path = built.write(tmp_path / "b.zip", members)
    report = dv.verify_bundle(path)
    assert report.ok, report.failures
    assert not report.timestamps[0].trusted and len(report.timestamps[0].recorded_roots) == 1
    assert "It is not trusted unless you check it" in flat(dv.render_text(report))
    members[f"timestamps/{older}-1.pem"] = b"not a certificate"
    assert failed(check(built, tmp_path / "c.zip", members), f"timestamps/{older}-1.pem", "PEM")


# --- the verifier alone, in a fresh virtual environment ----------------------------------------


def fresh_venv() -> Path:
    """A venv with only ``cryptography``, cached under ~/.cache/docket-test/ between runs."""
    base = Path.home() / ".cache" / "docket-test"
    venv = base / f"verify-venv-py{sys.version_info[0]}{sys.version_info[1]}"
    python = venv / "bin" / "python"
    if (venv / "ready").exists():
        return python
    base.mkdir(parents=True, exist_ok=True)
    building = base / f"verify-venv-building-{os.getpid()}"
    shutil.rmtree(building, ignore_errors=True)
    subprocess.run([sys.executable, "-m", "venv", str(building)], check=True, timeout=300)
    pip = subprocess.run(
        [str(building / "bin" / "python"), "-m", "pip", "install", "--quiet", "cryptography"],
        capture_output=True,
        text=True,
        timeout=600,
    )
    if pip.returncode != 0:
        shutil.rmtree(building, ignore_errors=True)
        pytest.skip(f"cryptography could not be installed from the registry: {pip.stderr[-300:]}")
    (building / "ready").write_text("cryptography only\n")
    try:
        building.rename(venv)
    except OSError:  # another run finished first; use its venv
        shutil.rmtree(building, ignore_errors=True)
    return python


def test_verifier_alone_in_a_fresh_venv(bundle: Path, built: Built, tmp_path: Path) -> None:
    python = fresh_venv()
    listed = subprocess.run(
        [str(python), "-m", "pip", "list", "--format=freeze"], capture_output=True, text=True
    ).stdout
    names = {line.split("==")[0].lower() for line in listed.split()}
    assert "docket" not in names and "cryptography" in names
    work = tmp_path / "recipient"
    work.mkdir()
    with zipfile.ZipFile(bundle) as z:
        script = z.read("docket-verify.py")
    assert script == (ROOT / "src" / "docket_verify.py").read_bytes()
    (work / "docket-verify.py").write_bytes(script)
    shutil.copy(bundle, work / "evidence.zip")
    env = {"PATH": os.environ.get("PATH", ""), "HOME": str(work), "LANG": "C.UTF-8"}

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [str(python), "-I", "docket-verify.py", *args],
            cwd=work, env=env, capture_output=True, text=True, timeout=120,
        )  # fmt: skip

    good = run("evidence.zip")
    assert good.returncode == 0, good.stdout + good.stderr
    assert "RESULT: PASSED" in good.stdout and built.manifest["fingerprint"] in good.stdout
    as_json = json.loads(run("evidence.zip", "--json").stdout)
    assert as_json["ok"] and as_json["key"]["fingerprint"] == built.manifest["fingerprint"]
    data = bytearray((work / "evidence.zip").read_bytes())
    data[len(data) // 2] ^= 0xFF
    (work / "changed.zip").write_bytes(bytes(data))
    bad = run("changed.zip")
    assert bad.returncode == 1 and "RESULT: FAILED" in bad.stdout
    assert run("missing.zip").returncode == 2


# --- every byte, and every kind of tampering ---------------------------------------------------


def test_flip_every_byte_of_a_small_bundle(small: Built, tmp_path: Path) -> None:
    path = small.write(tmp_path / "small.zip")
    assert dv.verify_bundle(path).ok
    data = path.read_bytes()
    target = tmp_path / "flipped.zip"
    started = time.monotonic()
    for i in range(len(data)):
        flipped = bytearray(data)
        flipped[i] ^= 0xFF
        target.write_bytes(flipped)
        report = dv.verify_bundle(target)
        assert not report.ok, f"flipping byte {i} went unnoticed"
        assert all(f.reason for f in report.failures)
    assert len(data) > 4000, "the small bundle should still have thousands of bytes"
    assert time.monotonic() - started < 300


def test_truncation_and_appended_bytes_fail(small: Built, tmp_path: Path) -> None:
    data = small.write(tmp_path / "small.zip").read_bytes()
    target = tmp_path / "cut.zip"
    for cut in [*range(0, len(data), 97), len(data) - 1, len(data) - 22]:
        target.write_bytes(data[:cut])
        report = dv.verify_bundle(target)
        assert not report.ok and report.failures[0].reason
    for extra in (b"\x00", b"PK\x05\x06" + bytes(18), data[:30]):
        target.write_bytes(data + extra)
        assert not dv.verify_bundle(target).ok


# bytes of these members are all bound by a hash, a signature or the export entry: any change,
# even one written into a new canonical container, must fail
SEMANTIC = [
    "key.vkey", "entries/{e}.json", "proofs/{e}.tlog-proof", "messages/2.json",
    "message-proofs/2.proof", "checkpoints/{o}.checkpoint", "checkpoints/{n}.checkpoint",
    "consistency/{o}-{n}.proof", "timestamps/{o}-1.tsr", "WITHHELD.txt", "report.html",
]  # fmt: skip


@pytest.mark.parametrize("pattern", SEMANTIC)
def test_flip_every_byte_of_a_member_in_a_canonical_container(
    small: Built, tmp_path: Path, pattern: str
) -> None:
    name = pattern.format(
        e=small.manifest["entries"][0]["seq"], o=older_size(small), n=small.manifest["log_size"]
    )
    original = small.members[name]
    for i in range(len(original)):
        data = bytearray(original)
        data[i] ^= 0xFF
        report = check(small, tmp_path / "b.zip", small.changed(**{name: bytes(data)}))
        assert not report.ok, f"{name}: flipping byte {i} went unnoticed"


def test_added_member_fails(tmp_path: Path, built: Built) -> None:
    seq = 5  # a private note, not disclosed
    members = built.changed(**{f"entries/{seq}.json": built.log.entries[seq]})
    assert failed(check(built, tmp_path / "a.zip", members), f"entries/{seq}.json", "does not list")
    raw = tmp_path / "raw.zip"
    built.write(raw)
    with zipfile.ZipFile(raw, "a") as z:
        z.writestr("notes.txt", "hello")
    report = dv.verify_bundle(raw)
    assert failed(report, "notes.txt", "no member of this name")


def test_missing_member_fails(tmp_path: Path, built: Built) -> None:
    members = dict(built.members)
    del members["messages/4.json"]
    del members["WITHHELD.txt"]
    report = check(built, tmp_path / "m.zip", members)
    assert failed(report, "messages/4.json", "does not hold it")
    assert failed(report, "WITHHELD.txt", "does not hold it")


def test_reordered_or_recompressed_members_fail(tmp_path: Path, built: Built) -> None:
    names = sorted(built.members, key=dv.member_key)
    for order, compression in ((names[::-1], zipfile.ZIP_STORED), (names, zipfile.ZIP_DEFLATED)):
        path = tmp_path / "z.zip"
        with zipfile.ZipFile(path, "w", compression) as z:
            for name in order:
                info = zipfile.ZipInfo(name, date_time=(1980, 1, 1, 0, 0, 0))
                info.create_system = 3
                info.external_attr = 0o100644 << 16
                info.compress_type = compression
                z.writestr(info, built.members[name])
        report = dv.verify_bundle(path)
        assert not report.ok
        reason = report.failures[0].reason
        assert "out of order" in reason or "canonical form" in reason


def test_swapped_proofs_fail(tmp_path: Path, built: Built) -> None:
    a, b = (e["seq"] for e in built.manifest["entries"][:2])
    members = built.changed(**{
        f"proofs/{a}.tlog-proof": built.members[f"proofs/{b}.tlog-proof"],
        f"proofs/{b}.tlog-proof": built.members[f"proofs/{a}.tlog-proof"],
    })  # fmt: skip
    report = check(built, tmp_path / "s.zip", members)
    assert failed(report, f"proofs/{a}.tlog-proof", f"for entry {b}, not entry {a}")
    assert failed(report, f"proofs/{b}.tlog-proof", f"for entry {a}, not entry {b}")
    # the right index but another entry's path
    proof = built.members[f"proofs/{a}.tlog-proof"].replace(
        f"index {a}\n".encode(), f"index {b}\n".encode()
    )
    report = check(built, tmp_path / "t.zip", built.changed(**{f"proofs/{b}.tlog-proof": proof}))
    assert failed(report, f"proofs/{b}.tlog-proof", "does not lead to the signed root")


def test_checkpoint_signed_by_another_key_fails(tmp_path: Path, built: Built) -> None:
    size = built.manifest["log_size"]
    impostor = Signer.generate(built.log.origin)  # same name, another key
    forged = built.log.checkpoint(size, impostor)
    members = built.changed(**{f"checkpoints/{size}.checkpoint": forged})
    report = check(built, tmp_path / "k.zip", members)
    assert failed(report, f"checkpoints/{size}.checkpoint", "no signature by the diary's key")
    # a wholly re-signed bundle passes on its own key, but not against the key handed over
    pinned = built.vkey
    other = build()
    assert dv.verify_bundle(other.write(tmp_path / "o.zip")).ok
    report = dv.verify_bundle(tmp_path / "o.zip", key=pinned)
    assert failed(report, "key.vkey", "not the key you gave")


def test_inconsistent_older_checkpoint_is_reported_as_a_rewrite(
    tmp_path: Path, built: Built
) -> None:
    older, newest = older_size(built), built.manifest["log_size"]
    rewritten = Log(built.log.signer, list(built.log.entries), list(built.log.recorded_at))
    rewritten.entries[2] = rewritten.entries[2].replace(b"He waited outside", b"He was not there")
    members = built.changed(**{f"checkpoints/{older}.checkpoint": rewritten.checkpoint(older)})
    report = check(built, tmp_path / "r.zip", members)
    assert failed(report, f"consistency/{older}-{newest}.proof", "log was rewritten")
    # the signature itself is good: the checkpoint alone does not fail
    assert not any(f.member == f"checkpoints/{older}.checkpoint" for f in report.failures)


def test_changed_entry_or_message_fails(tmp_path: Path, built: Built) -> None:
    seq = built.manifest["entries"][0]["seq"]
    entry = built.members[f"entries/{seq}.json"].replace(b"He waited outside", b"He waited inside ")
    report = check(built, tmp_path / "e.zip", built.changed(**{f"entries/{seq}.json": entry}))
    assert failed(report, f"proofs/{seq}.tlog-proof", "does not lead to the signed root")
    pretty = json.dumps(json.loads(built.members[f"entries/{seq}.json"]), indent=1).encode()
    report = check(built, tmp_path / "f.zip", built.changed(**{f"entries/{seq}.json": pretty}))
    assert failed(report, f"entries/{seq}.json", "canonical JSON")
    msg = built.members["messages/1.json"].replace(b"You can't hide", b"You can hide!!")
    report = check(built, tmp_path / "g.zip", built.changed(**{"messages/1.json": msg}))
    assert failed(report, "message-proofs/1.proof", "does not lead to the signed root")


def test_message_proof_pointing_at_the_wrong_batch_fails(tmp_path: Path, built: Built) -> None:
    b1, b2 = sorted(built.batches)
    proof = built.members["message-proofs/1.proof"].replace(
        f"batch {b1}\n".encode(), f"batch {b2}\n".encode()
    )
    report = check(built, tmp_path / "w.zip", built.changed(**{"message-proofs/1.proof": proof}))
    assert failed(report, "message-proofs/1.proof", f"for batch {b2}, but the manifest says {b1}")

    def move(m: dict[str, Any]) -> None:
        m["messages"][0]["batch"] = b2

    members = built.with_manifest(move)
    members["message-proofs/1.proof"] = proof
    report = check(built, tmp_path / "x.zip", members)
    assert failed(report, "message-proofs/1.proof", "is not in batch")
    # a batch that is not disclosed cannot vouch for a message
    noise = 4
    members["message-proofs/1.proof"] = proof.replace(
        f"batch {b2}\n".encode(), f"batch {noise}\n".encode()
    )
    members = {**members, "manifest.json": rfc8785.dumps(_moved(built, noise))}
    report = check(built, tmp_path / "y.zip", members)
    assert failed(report, "message-proofs/1.proof", "not among the entries")


def _moved(built: Built, batch: int) -> dict[str, Any]:
    m = json.loads(built.members["manifest.json"])
    m["messages"][0]["batch"] = batch
    return dict(m)


def test_file_whose_hash_differs_fails(tmp_path: Path, built: Built) -> None:
    f = built.manifest["files"][0]
    data = bytearray(built.members[f["file"]])
    data[0] ^= 1
    report = check(built, tmp_path / "h.zip", built.changed(**{f["file"]: bytes(data)}))
    assert failed(report, f["file"], "SHA-256")
    # a file no disclosed record names
    stray = b"a stray file"

    def add(m: dict[str, Any]) -> None:
        m["files"].append({"sha256": sha(stray), "size": len(stray), "file": f"files/{sha(stray)}",
                           "name": "x", "media_type": "text/plain"})  # fmt: skip
        m["files"].sort(key=lambda x: x["sha256"])

    members = built.with_manifest(add)
    members[f"files/{sha(stray)}"] = stray
    report = check(built, tmp_path / "i.zip", members)
    assert failed(report, f"files/{sha(stray)}", "no disclosed entry or message names")


def test_withheld_file_is_reported_not_failed(tmp_path: Path, built: Built) -> None:
    f = built.manifest["files"][0]

    def drop(m: dict[str, Any]) -> None:
        m["files"] = m["files"][1:]

    members = built.with_manifest(drop)
    del members[f["file"]]
    report = check(built, tmp_path / "w.zip", members)
    assert report.missing_files and report.missing_files[0][0] == f["sha256"]
    # but the export entry recorded that file as disclosed, so the bundle does not match it
    assert failed(report, f"entries/{built.manifest['export_entry']}.json", "the list of files")


@pytest.mark.parametrize(
    ("change", "words"),
    [
        (lambda m: m.update(recipient="Someone else"), "the recipient, purpose or audience"),
        (lambda m: m.update(purpose="Another purpose"), "the recipient, purpose or audience"),
        (lambda m: m.update(created_at="2026-01-01T00:00:00Z"), "the creation time"),
        (lambda m: m["withheld"].update(entries=0), "withheld"),
        (lambda m: m["withheld"].update(categories=[]), "withheld"),
        (lambda m: m.update(reports=["report.pdf"]), "report"),
    ],
)
def test_export_entry_not_matching_the_manifest_fails(
    tmp_path: Path, built: Built, change: Any, words: str
) -> None:
    members = built.with_manifest(change)
    if "report.html" not in json.loads(members["manifest.json"])["reports"]:
        del members["report.html"]
    report = check(built, tmp_path / "x.zip", members)
    assert failed(report, f"entries/{built.manifest['export_entry']}.json", words)


def test_dropped_entry_and_changed_texts_fail_against_the_export_entry(
    tmp_path: Path, built: Built
) -> None:
    export = f"entries/{built.manifest['export_entry']}.json"
    dropped = built.manifest["entries"][0]

    def drop(m: dict[str, Any]) -> None:
        m["entries"] = m["entries"][1:]

    members = built.with_manifest(drop)
    del members[dropped["file"]], members[dropped["proof"]]
    assert failed(check(built, tmp_path / "d.zip", members), export, "the list of entries")
    for name in ("WITHHELD.txt", "VERIFY.txt", "docket-verify.py", "report.pdf"):
        members = built.changed(**{name: built.members[name] + b" "})
        assert failed(check(built, tmp_path / "t.zip", members), export, "SHA-256"), name


def test_manifest_claims_are_checked(tmp_path: Path, built: Built) -> None:
    cases: list[tuple[Any, str]] = [
        (lambda m: m.update(fingerprint="0000 0000 0000 0000 0000"), "fingerprint"),
        (lambda m: m["entries"][0].update(type="incident.deleted"), "type or subject"),
        (lambda m: m.update(format="docket-bundle/2"), "format"),
        (lambda m: m.update(extra=1), "fields this format does not have"),
        (lambda m: m.update(log_size=m["log_size"] + 1), "newest checkpoint"),
        (lambda m: m.update(export_entry=5), "export entry"),
        (lambda m: m["entries"].reverse(), "increasing order"),
    ]
    for change, words in cases:
        report = check(built, tmp_path / "m.zip", built.with_manifest(change))
        assert any(
            f.member == "manifest.json" or "entries/" in (f.member or "") for f in report.failures
        )
        assert any(words in f.reason for f in report.failures), (words, report.failures)


def test_key_pinning(
    bundle: Path, built: Built, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert dv.main([str(bundle), "--key", built.vkey]) == 0
    assert "This is the key you gave with --key" in flat(capsys.readouterr().out)
    key_file = tmp_path / "diary.vkey"
    key_file.write_text(built.vkey + "\n")
    assert dv.main([str(bundle), "--key", str(key_file)]) == 0
    other = Signer.generate("docket.invalid/other").verifier().encode()
    assert dv.main([str(bundle), "--key", other]) == 1
    assert "NOT the key you gave" in flat(capsys.readouterr().out)


def test_usage_errors(bundle: Path, tmp_path: Path) -> None:
    assert dv.main([str(tmp_path / "missing.zip")]) == 2
    assert dv.main([str(bundle), "--key", "not a key"]) == 2
    (tmp_path / "bad.pem").write_text("nothing")
    assert dv.main([str(bundle), "--tsa-root", str(tmp_path / "bad.pem")]) == 2
    assert dv.main([str(bundle), "--no-such-option"]) == 2
    assert dv.main([]) == 2


def test_not_a_bundle(tmp_path: Path) -> None:
    for content in (b"", b"hello", b"PK\x03\x04" + bytes(40), os.urandom(5000)):
        path = tmp_path / "x.zip"
        path.write_bytes(content)
        report = dv.verify_bundle(path)
        assert not report.ok and report.failures[0].reason


def test_terminal_control_characters_are_never_printed(tmp_path: Path, built: Built) -> None:
    report = dv.verify_bundle(built.write(tmp_path / "x\x1b[2Jname.zip"))
    text = dv.render_text(report)
    assert "\x1b" not in text and "\\u001b" in text


# --- encrypted bundles --------------------------------------------------------------------------


@pytest.fixture(scope="module")
def encrypted(bundle: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    target = tmp_path_factory.mktemp("enc") / "evidence.docket-bundle"
    dv.encrypt_bundle(bundle, target, "correct horse battery staple", log2_n=12)
    return target


def test_encrypted_bundle_right_passphrase(
    encrypted: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert encrypted.read_bytes().startswith(dv.ENCRYPTED_MAGIC)
    assert oct(encrypted.stat().st_mode & 0o777) == "0o600"
    report = dv.verify_bundle(encrypted, passphrase="correct horse battery staple")
    assert report.ok and report.encrypted, report.failures
    secret = tmp_path / "pass"
    secret.write_text("correct horse battery staple\n")
    before = set(Path(os.environ.get("TMPDIR", "/tmp")).glob("docket-verify-*"))
    assert dv.main([str(encrypted), "--passphrase-file", str(secret)]) == 0
    assert "an encrypted bundle" in flat(capsys.readouterr().out)
    assert set(Path(os.environ.get("TMPDIR", "/tmp")).glob("docket-verify-*")) == before


def test_encrypted_bundle_failures(encrypted: Path, tmp_path: Path) -> None:
    report = dv.verify_bundle(encrypted, passphrase="wrong")
    assert failed(report, None, "passphrase is wrong")
    assert failed(dv.verify_bundle(encrypted), None, "no passphrase")
    data = encrypted.read_bytes()
    target = tmp_path / "e.bin"
    header = len(dv.ENCRYPTED_MAGIC) + 27
    for i in [
        *range(0, header + 8),
        *range(header + 8, len(data), max(1, len(data) // 300)),
        len(data) - 1,
    ]:
        flipped = bytearray(data)
        flipped[i] ^= 0xFF
        target.write_bytes(flipped)
        assert not dv.verify_bundle(target, passphrase="correct horse battery staple").ok, i
    for cut in (len(data) - 1, len(data) - 16, header + 4, header, 10):
        target.write_bytes(data[:cut])
        assert not dv.verify_bundle(target, passphrase="correct horse battery staple").ok, cut


def test_encryption_chunks_cannot_be_dropped_reordered_or_extended(tmp_path: Path) -> None:
    plain = tmp_path / "plain.bin"
    plain.write_bytes(os.urandom(2 * 1024 * 1024 + 5000))  # three chunks
    enc = tmp_path / "enc.bin"
    dv.encrypt_bundle(plain, enc, "pass phrase", log2_n=10)
    out = io.BytesIO()
    dv.decrypt_bundle(enc, out, "pass phrase")
    assert out.getvalue() == plain.read_bytes()
    data = enc.read_bytes()
    header = len(dv.ENCRYPTED_MAGIC) + 27
    chunks, pos = [], header
    while pos < len(data):
        n = int.from_bytes(data[pos : pos + 4], "big")
        chunks.append(data[pos : pos + 4 + n])
        pos += 4 + n
    assert len(chunks) == 3
    variants = {
        "dropped the last": chunks[:2],
        "dropped the first": chunks[1:],
        "swapped": [chunks[1], chunks[0], chunks[2]],
        "repeated": [*chunks, chunks[2]],
    }
    for label, parts in variants.items():
        target = tmp_path / "v.bin"
        target.write_bytes(data[:header] + b"".join(parts))
        with pytest.raises(dv.VerifyError):
            dv.decrypt_bundle(target, io.BytesIO(), "pass phrase")
        assert label
    settings_changed = bytearray(data)
    settings_changed[len(dv.ENCRYPTED_MAGIC) + 16] = 21  # N = 2^21: refused before any work
    target = tmp_path / "n.bin"
    target.write_bytes(settings_changed)
    with pytest.raises(dv.VerifyError, match="outside the allowed range"):
        dv.decrypt_bundle(target, io.BytesIO(), "pass phrase")


def test_default_encryption_settings_round_trip(small: Built, tmp_path: Path) -> None:
    path = small.write(tmp_path / "s.zip")
    enc = tmp_path / "s.enc"
    dv.encrypt_bundle(path, enc, "Ünïcode passphrase")  # N = 2^17, r = 8, p = 1
    assert enc.read_bytes()[len(dv.ENCRYPTED_MAGIC) + 16 : len(dv.ENCRYPTED_MAGIC) + 19] == bytes(
        [17, 8, 1]
    )
    decomposed = "U\u0308n\u0131\u0308code passphrase".replace("\u0131\u0308", "i\u0308")
    assert dv.verify_bundle(enc, passphrase=decomposed).ok  # NFC: the same passphrase


# --- strict parsers under hypothesis ------------------------------------------------------------

FUZZ = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@FUZZ
@given(st.binary(max_size=600))
def test_parsers_raise_only_their_own_error(data: bytes) -> None:
    for parse in (
        dv.parse_tlog_proof,
        dv.parse_checkpoint,
        dv.parse_message_proof,
        dv.parse_timestamp_response,
        dv.parse_canonical_json,
        dv.parse_hash_list,
        dv.parse_entry,
        dv.parse_manifest,
    ):
        try:
            parse(data)
        except dv.VerifyError as exc:
            assert exc.reason


@FUZZ
@given(st.text(max_size=120))
def test_text_parsers_raise_only_their_own_error(text: str) -> None:
    for parse in (dv.strict_b64decode, dv.VerifierKey.parse):
        with contextlib.suppress(dv.VerifyError):
            parse(text)
    with contextlib.suppress(dv.VerifyError):
        dv.parse_checkpoint(text.encode("utf-8", "surrogatepass"))


def _mutations(data: bytes) -> st.SearchStrategy[bytes]:
    @st.composite
    def mutate(draw: st.DrawFn) -> bytes:
        out = bytearray(data)
        for _ in range(draw(st.integers(1, 4))):
            i = draw(st.integers(0, max(0, len(out) - 1)))
            kind = draw(st.sampled_from(["set", "insert", "delete", "cut"]))
            byte = draw(st.integers(0, 255))
            if kind == "set" and out:
                out[i] = byte
            elif kind == "insert":
                out.insert(i, byte)
            elif kind == "delete" and out:
                del out[i]
            elif kind == "cut":
                del out[i:]
        return bytes(out)

    return mutate()


@pytest.fixture(scope="module")
def token_and_checkpoint(small: Built) -> tuple[bytes, bytes]:
    older = older_size(small)
    return small.members[f"timestamps/{older}-1.tsr"], small.members[
        f"checkpoints/{older}.checkpoint"
    ]


def test_mutated_timestamps_raise_only_verify_error(
    token_and_checkpoint: tuple[bytes, bytes],
) -> None:
    token, checkpoint = token_and_checkpoint
    dv.check_timestamp(dv.parse_timestamp_response(token), checkpoint)

    @FUZZ
    @given(_mutations(token))
    def run(data: bytes) -> None:
        try:
            parsed = dv.parse_timestamp_response(data)
            dv.check_timestamp(parsed, checkpoint)
        except dv.VerifyError as exc:
            assert exc.reason
        else:
            assert data == token or _same_signed_parts(data, token)

    run()


def _same_signed_parts(data: bytes, token: bytes) -> bool:
    """A changed token may pass only if its signed parts are unchanged (status 0 -> 1)."""
    a, b = dv.parse_timestamp_response(data), dv.parse_timestamp_response(token)
    return a.tst_info == b.tst_info and a.signed_attributes == b.signed_attributes


def test_mutated_proofs_and_checkpoints_raise_only_verify_error(small: Built) -> None:
    seq = small.manifest["entries"][0]["seq"]
    proof = small.members[f"proofs/{seq}.tlog-proof"]
    cp = small.members[f"checkpoints/{small.manifest['log_size']}.checkpoint"]
    mproof = small.members["message-proofs/2.proof"]
    key = dv.VerifierKey.parse(small.vkey)

    @FUZZ
    @given(_mutations(proof), _mutations(cp), _mutations(mproof))
    def run(p: bytes, c: bytes, m: bytes) -> None:
        for parse in (
            dv.parse_tlog_proof,
            lambda d: dv.parse_checkpoint(d, key),
            dv.parse_message_proof,
        ):
            for data in (p, c, m):
                with contextlib.suppress(dv.VerifyError):
                    parse(data)

    run()


json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(2**53) + 1, 2**53 - 1)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4)
    ),
    max_leaves=12,
)


@FUZZ
@given(json_values)
def test_canonical_json_agrees_with_rfc8785(value: Any) -> None:
    try:
        expected = rfc8785.dumps(value)
    except (rfc8785.CanonicalizationError, UnicodeEncodeError):
        with pytest.raises(dv.VerifyError):
            dv.canonical_json(value)
        return
    assert dv.canonical_json(value) == expected
    assert dv.canonical_json(dv.parse_canonical_json(expected)) == expected


@pytest.mark.parametrize(
    "text",
    [b'{"a":1,"a":2}', b'{"b":1,"a":2}', b'{"a": 1}', b"[1.0]", b"[-0]", b'["\\u0041"]', b"[NaN]",
     b'"\xed\xa0\x80"', b'["\\ud800"]', b"\xef\xbb\xbf[]", b"[1e2]", b"[" * 5000 + b"]" * 5000],
)  # fmt: skip
def test_non_canonical_json_is_refused(text: bytes) -> None:
    with pytest.raises(dv.VerifyError):
        dv.parse_canonical_json(text)


@pytest.mark.parametrize(
    "der",
    [
        bytes.fromhex("3080") + bytes(2),  # indefinite length
        bytes.fromhex("30810100"),  # long form for a short length
        bytes.fromhex("3003020100") + b"\x00",  # trailing data
        bytes.fromhex("300402020001"),  # non-minimal integer
        bytes.fromhex("3003020102"),  # status 2: rejection
    ],
)
def test_der_reader_is_strict(der: bytes) -> None:
    with pytest.raises(dv.VerifyError):
        dv.parse_timestamp_response(der)


def test_vkey_with_plus_signs_in_its_base64() -> None:
    for i in range(400):
        signer = Signer.from_seed(f"docket.invalid/{i}", hashlib.sha256(str(i).encode()).digest())
        vkey = signer.verifier().encode()
        if vkey.count("+") >= 3:
            key = dv.VerifierKey.parse(vkey)
            note = signer.sign(Checkpoint(signer.name, 1, bytes(32)).text()).encode()
            assert dv.parse_checkpoint(note, key).size == 1
            return
    pytest.fail("no key with '+' in its base64 among 400")


# --- the words ----------------------------------------------------------------------------------


def test_output_never_uses_forbidden_words(
    bundle: Path, built: Built, roots: list[x509.Certificate], tmp_path: Path, encrypted: Path
) -> None:
    bad = bytearray(bundle.read_bytes())
    bad[100] ^= 1
    (tmp_path / "bad.zip").write_bytes(bad)
    reports = [
        dv.verify_bundle(bundle),
        dv.verify_bundle(bundle, tsa_roots=roots),
        dv.verify_bundle(tmp_path / "bad.zip"),
        dv.verify_bundle(encrypted, passphrase="correct horse battery staple"),
        dv.verify_bundle(encrypted, passphrase="wrong"),
        check(built, tmp_path / "c.zip", built.with_manifest(lambda m: m.update(recipient="x"))),
    ]
    texts = [dv.verify_txt()]
    for r in reports:
        texts += [dv.render_text(r), dv.render_json(r)]
    for text in texts:
        found = PATTERN.search(text)
        assert found is None, found.group(0) if found else ""
        for word in ("tamper-proof", "court-admissible", "forensically sound", "certified"):
            assert word not in text.lower()


def test_the_guide_is_verify_txt(tmp_path: Path) -> None:
    doc = (ROOT / "docs" / "verifying-a-bundle.md").read_text(encoding="utf-8")
    assert dv.verify_txt() in doc
    assert all(len(line) <= 96 for line in dv.verify_txt().splitlines())


def test_the_manual_procedure_works(
    bundle: Path, built: Built, tsa: Authority, tmp_path: Path
) -> None:
    """Run the commands VERIFY.txt gives, on a real bundle, with the real tools."""
    for tool in ("openssl", "sha256sum", "base64", "awk", "sed"):
        if shutil.which(tool) is None:
            pytest.skip(f"{tool} is not installed")
    work = tmp_path / "unzipped"
    with zipfile.ZipFile(bundle) as z:
        z.extractall(work)
    shutil.copy(tsa.root_pem, work / "ROOT.pem")
    text = dv.verify_txt()
    manual = text[text.index("Checking by hand") : text.index("What a check shows")]
    blocks, current = [], []
    for line in manual.splitlines():
        if line.startswith("    "):
            current.append(line[4:])
        elif current:
            blocks.append("\n".join(current))
            current = []
    older, seq = older_size(built), built.manifest["entries"][0]["seq"]
    script = "\n".join(blocks).replace("123", str(older)).replace("17.json", f"{seq}.json")
    script = script.replace("proofs/17", f"proofs/{seq}")
    out = subprocess.run(
        ["bash", "-e", "-c", script], cwd=work, capture_output=True, text=True, timeout=120
    )
    assert out.returncode == 0, out.stderr
    assert len(re.findall(r"^[0-9a-f]{64}: OK$", out.stdout, re.M)) == len(built.manifest["files"])
    assert "Signature Verified Successfully" in out.stdout
    assert "Verification: OK" in out.stdout
    assert built.manifest["fingerprint"].replace(" ", "") in out.stdout
    assert dv.leaf_hash(built.members[f"entries/{seq}.json"]).hex() in out.stdout
    assert re.search(r"Time stamp: ", out.stdout)


def test_proofs_from_the_helper_match_c2sp_format(built: Built) -> None:
    """Sanity of the builder itself: a tlog-proof carries the newest checkpoint verbatim."""
    size = built.manifest["log_size"]
    seq = built.manifest["entries"][0]["seq"]
    assert built.members[f"proofs/{seq}.tlog-proof"] == tlog_proof(
        built.log, seq, size, built.members[f"checkpoints/{size}.checkpoint"]
    )
    assert b64lines([]) == b""


# --- certificates the local openssl authority would not refuse to sign with ---------------------


def custom_authority(
    folder: Path,
    *,
    leaf_days: tuple[int, int] = (-1, 365),
    root_days: tuple[int, int] = (-1, 3650),
    root_is_ca: bool = True,
    rsa_keys: bool = False,
) -> Path:
    """A root and a TSA certificate made with ``cryptography`` (validity in days from now),
    set up for ``openssl ts -reply``, which signs whatever the dates and constraints say."""
    now = datetime.now(UTC)
    folder.mkdir(parents=True, exist_ok=True)
    root_key: rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey
    leaf_key: rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey
    if rsa_keys:
        root_key = rsa.generate_private_key(65537, 2048)
        leaf_key = rsa.generate_private_key(65537, 2048)
    else:
        root_key = ec.generate_private_key(ec.SECP256R1())
        leaf_key = ec.generate_private_key(ec.SECP256R1())
    root_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Custom Root CA")])
    root = (
        x509.CertificateBuilder().subject_name(root_name).issuer_name(root_name)
        .public_key(root_key.public_key()).serial_number(x509.random_serial_number())
        .not_valid_before(now + timedelta(days=root_days[0]))
        .not_valid_after(now + timedelta(days=root_days[1]))
        .add_extension(x509.BasicConstraints(ca=root_is_ca, path_length=None), critical=True)
        .sign(root_key, hashes.SHA256())
    )  # fmt: skip
    leaf = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Custom TSA")]))
        .issuer_name(root_name).public_key(leaf_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now + timedelta(days=leaf_days[0]))
        .not_valid_after(now + timedelta(days=leaf_days[1]))
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.TIME_STAMPING]), critical=True)
        .sign(root_key, hashes.SHA256())
    )  # fmt: skip
    (folder / "root.pem").write_bytes(root.public_bytes(serialization.Encoding.PEM))
    (folder / "tsa.pem").write_bytes(leaf.public_bytes(serialization.Encoding.PEM))
    (folder / "tsa.key").write_bytes(
        leaf_key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    (folder / "tsaserial").write_text("01\n")
    (folder / "tsa.cnf").write_text(TSA_CONFIG.format(dir=folder))
    return folder / "root.pem"


def offline_stamp(folder: Path, message: bytes) -> bytes:
    (folder / "data.bin").write_bytes(message)
    for args in (
        ["ts", "-query", "-data", "data.bin", "-sha256", "-cert", "-out", "q.tsq"],
        ["ts", "-reply", "-config", "tsa.cnf", "-section", "tsa_config1", "-queryfile", "q.tsq",
         "-out", "r.tsr"],
    ):  # fmt: skip
        subprocess.run(["openssl", *args], cwd=folder, check=True, capture_output=True)
    return (folder / "r.tsr").read_bytes()


def restamped(b: Built, folder: Path) -> dict[str, bytes]:
    older = older_size(b)
    token = offline_stamp(folder, b.members[f"checkpoints/{older}.checkpoint"])
    return b.changed(**{f"timestamps/{older}-1.tsr": token})


def test_authority_certificate_expired_at_the_time_fails(tmp_path: Path, built: Built) -> None:
    folder = tmp_path / "ca"
    custom_authority(folder, leaf_days=(-10, -5))
    report = check(built, tmp_path / "b.zip", restamped(built, folder))
    assert failed(report, f"timestamps/{older_size(built)}-1.tsr", "not valid at the time")


def test_root_expired_at_the_time_fails_only_when_trusted(tmp_path: Path, built: Built) -> None:
    folder = tmp_path / "ca"
    root = custom_authority(folder, root_days=(-30, -20), leaf_days=(-25, 30))
    members = restamped(built, folder)
    assert check(built, tmp_path / "a.zip", members).ok  # not trusted, nothing to fail
    roots = x509.load_pem_x509_certificates(root.read_bytes())
    report = check(built, tmp_path / "b.zip", members, tsa_roots=roots)
    assert failed(report, f"timestamps/{older_size(built)}-1.tsr", "issuing authority", "not valid")


def test_root_that_is_not_an_authority_fails(tmp_path: Path, built: Built) -> None:
    folder = tmp_path / "ca"
    root = custom_authority(folder, root_is_ca=False)
    roots = x509.load_pem_x509_certificates(root.read_bytes())
    report = check(built, tmp_path / "b.zip", restamped(built, folder), tsa_roots=roots)
    assert failed(report, f"timestamps/{older_size(built)}-1.tsr", "may not issue")
    good = custom_authority(tmp_path / "good")
    roots = x509.load_pem_x509_certificates(good.read_bytes())
    report = check(built, tmp_path / "c.zip", restamped(built, tmp_path / "good"), tsa_roots=roots)
    assert report.ok and report.timestamps[0].trusted, report.failures


@pytest.mark.parametrize(
    ("usages", "critical"),
    [
        (None, True),
        ([ExtendedKeyUsageOID.TIME_STAMPING], False),
        ([ExtendedKeyUsageOID.TIME_STAMPING, ExtendedKeyUsageOID.CODE_SIGNING], True),
        ([ExtendedKeyUsageOID.CODE_SIGNING], True),
    ],
)
def test_signing_certificate_must_be_for_timestamping_only(
    usages: list[x509.ObjectIdentifier] | None, critical: bool
) -> None:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "t")])
    builder = (
        x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
        .serial_number(1).not_valid_before(datetime(2026, 1, 1, tzinfo=UTC))
        .not_valid_after(datetime(2027, 1, 1, tzinfo=UTC))
    )  # fmt: skip
    if usages is not None:
        builder = builder.add_extension(x509.ExtendedKeyUsage(usages), critical=critical)
    with pytest.raises(dv.VerifyError, match="timestamping"):
        dv._check_usage(builder.sign(key, hashes.SHA256()))


def test_proof_carrying_another_checkpoint_fails(tmp_path: Path, built: Built) -> None:
    seq = built.manifest["entries"][0]["seq"]
    older, newest = older_size(built), built.manifest["log_size"]
    proof = built.members[f"proofs/{seq}.tlog-proof"]
    swapped = proof.replace(
        built.members[f"checkpoints/{newest}.checkpoint"],
        built.members[f"checkpoints/{older}.checkpoint"],
    )
    report = check(
        built, tmp_path / "p.zip", built.changed(**{f"proofs/{seq}.tlog-proof": swapped})
    )
    assert failed(report, f"proofs/{seq}.tlog-proof", "not the bundle's newest checkpoint")


def test_message_proof_with_the_wrong_size_fails(tmp_path: Path, built: Built) -> None:
    """The root does not commit to the size: (index 0, size 3) also verifies as size 4, so the
    size must come from the signed batch entry."""
    b1 = min(built.batches)
    proof = built.members["message-proofs/1.proof"]
    assert b"size 3\n" in proof
    bigger = proof.replace(b"size 3\n", b"size 4\n")
    p = dv.parse_message_proof(bigger)
    root = bytes.fromhex(json.loads(built.log.entries[b1])["record"]["root"])
    dv.verify_inclusion(
        p.index, p.size, dv.leaf_hash(built.members["messages/1.json"]), p.hashes, root
    )
    report = check(built, tmp_path / "s.zip", built.changed(**{"message-proofs/1.proof": bigger}))
    assert failed(report, "message-proofs/1.proof", "position or size")


def test_damaged_member_bytes_are_named_by_their_crc(small: Built, tmp_path: Path) -> None:
    path = small.write(tmp_path / "small.zip")
    data = path.read_bytes()
    start = data.index(b"report.html<!doctype") + len("report.html")
    damaged = bytearray(data)
    damaged[start + 3] ^= 0x20
    path.write_bytes(damaged)
    report = dv.verify_bundle(path)
    assert failed(report, "report.html", "CRC-32")


def test_rsa_authority(tmp_path: Path, built: Built) -> None:
    root = custom_authority(tmp_path / "rsa", rsa_keys=True)
    members = restamped(built, tmp_path / "rsa")
    token = dv.parse_timestamp_response(members[f"timestamps/{older_size(built)}-1.tsr"])
    assert token.signature_algorithm in ("1.2.840.113549.1.1.11", "1.2.840.113549.1.1.1")
    roots = x509.load_pem_x509_certificates(root.read_bytes())
    report = check(built, tmp_path / "b.zip", members, tsa_roots=roots)
    assert report.ok and report.timestamps[0].trusted, report.failures
    changed = bytearray(members[f"timestamps/{older_size(built)}-1.tsr"])
    changed[-5] ^= 1  # inside the RSA signature
    members[f"timestamps/{older_size(built)}-1.tsr"] = bytes(changed)
    report = check(built, tmp_path / "c.zip", members, tsa_roots=roots)
    assert failed(report, f"timestamps/{older_size(built)}-1.tsr", "signature does not verify")


# --- a token built by hand, for what no real authority will sign -------------------------------


def _der(tag: int, body: bytes) -> bytes:
    n = len(body)
    size = (
        bytes([n])
        if n < 0x80
        else bytes([0x80 | ((n.bit_length() + 7) // 8)])
        + n.to_bytes((n.bit_length() + 7) // 8, "big")
    )
    return bytes([tag]) + size + body


def _seq(*parts: bytes) -> bytes:
    return _der(0x30, b"".join(parts))


def _set(*parts: bytes) -> bytes:
    return _der(0x31, b"".join(sorted(parts)))


def _int(n: int) -> bytes:
    return _der(0x02, n.to_bytes(n.bit_length() // 8 + 1, "big", signed=True))


def _oid(dotted: str) -> bytes:
    arcs = [int(a) for a in dotted.split(".")]
    out = bytearray([40 * arcs[0] + arcs[1]])
    for arc in arcs[2:]:
        chunk = [arc & 0x7F]
        while arc > 0x7F:
            arc >>= 7
            chunk.insert(0, 0x80 | (arc & 0x7F))
        out += bytes(chunk)
    return _der(0x06, bytes(out))


def hand_made_token(
    message: bytes, key: ec.EllipticCurvePrivateKey, cert: x509.Certificate
) -> bytes:
    """A TimeStampResp as RFC 3161 and RFC 5652 lay it out, signed with ECDSA P-256."""
    cert_der = cert.public_bytes(serialization.Encoding.DER)
    sha256 = _seq(_oid(dv.OID_SHA256))
    tst = _seq(
        _int(1), _oid("1.2.3.4.1"), _seq(sha256, _der(0x04, hashlib.sha256(message).digest())),
        _int(42), _der(0x18, datetime.now(UTC).strftime("%Y%m%d%H%M%SZ").encode()),
    )  # fmt: skip
    attrs = _set(
        _seq(_oid(dv.OID_CONTENT_TYPE), _set(_oid(dv.OID_TST_INFO))),
        _seq(_oid(dv.OID_MESSAGE_DIGEST), _set(_der(0x04, hashlib.sha256(tst).digest()))),
        _seq(_oid(dv.OID_SIGNING_CERTIFICATE_V2),
             _set(_seq(_seq(_seq(_der(0x04, hashlib.sha256(cert_der).digest())))))),
    )  # fmt: skip
    signature = key.sign(attrs, ec.ECDSA(hashes.SHA256()))
    signer = _seq(
        _int(1), _seq(cert.issuer.public_bytes(), _int(cert.serial_number)), sha256,
        b"\xa0" + attrs[1:], _seq(_oid("1.2.840.10045.4.3.2")), _der(0x04, signature),
    )  # fmt: skip
    signed = _seq(
        _int(3), _set(sha256), _seq(_oid(dv.OID_TST_INFO), _der(0xA0, _der(0x04, tst))),
        _der(0xA0, cert_der), _set(signer),
    )  # fmt: skip
    return _seq(_seq(_int(0)), _seq(_oid(dv.OID_SIGNED_DATA), _der(0xA0, signed)))


@pytest.mark.parametrize("usage", ["timestamping", "none", "not critical"])
def test_hand_made_token_and_the_timestamping_usage(
    tmp_path: Path, built: Built, usage: str
) -> None:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Hand-made TSA")])
    now = datetime.now(UTC)
    builder = (
        x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
        .serial_number(x509.random_serial_number()).not_valid_before(now - timedelta(days=1))
        .not_valid_after(now + timedelta(days=1))
    )  # fmt: skip
    if usage != "none":
        builder = builder.add_extension(
            x509.ExtendedKeyUsage([ExtendedKeyUsageOID.TIME_STAMPING]),
            critical=usage == "timestamping",
        )
    cert = builder.sign(key, hashes.SHA256())
    older = older_size(built)
    token = hand_made_token(built.members[f"checkpoints/{older}.checkpoint"], key, cert)
    report = check(built, tmp_path / "h.zip", built.changed(**{f"timestamps/{older}-1.tsr": token}))
    if usage == "timestamping":
        assert report.ok, report.failures
        assert report.timestamps[0].authority == "CN=Hand-made TSA"
    else:
        assert failed(report, f"timestamps/{older}-1.tsr", "not marked for timestamping")
