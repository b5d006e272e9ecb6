"""C2SP signed notes and checkpoints: the spec's example, round trips, and rejection of every
single-bit flip, truncation and extension of a signed checkpoint."""

from __future__ import annotations

import json

import pytest

from docket.ledger import merkle
from docket.ledger.note import Checkpoint, Note, NoteError, Signer, Verifier, open_checkpoint
from tests.conftest import SHARED


def test_c2sp_signed_note_example() -> None:
    path = SHARED / "vectors" / "c2sp-signed-note.json"
    if not path.exists():
        pytest.skip("../shared is not present")
    v = json.loads(path.read_text())
    verifier = Verifier.parse(v["vkey"])
    assert verifier.encode() == v["vkey"]
    Note.parse(v["note"]).verify(verifier)
    assert Note.parse(v["note"]).text == "This is an example message.\n"


def make() -> tuple[Signer, str]:
    signer = Signer.generate("docket.invalid/0123456789abcdef")
    cp = Checkpoint("docket.invalid/0123456789abcdef", 7, merkle.leaf_hash(b"root"))
    return signer, signer.sign(cp.text())


def test_checkpoint_round_trip_and_vkey() -> None:
    signer, note = make()
    vkey = signer.verifier().encode()
    v = Verifier.parse(vkey)
    cp = open_checkpoint(note, v, "docket.invalid/0123456789abcdef")
    assert cp.size == 7 and cp.root == merkle.leaf_hash(b"root")
    assert len(v.fingerprint().replace(" ", "")) == 20
    assert Signer.from_seed(signer.name, signer.seed()).verifier() == signer.verifier()


def test_vkeys_with_plus_in_base64() -> None:
    """split('+', 2): about half of all keys have a '+' in their base64 (security.md §1.5)."""
    seen_plus = 0
    for _ in range(200):
        vkey = Signer.generate("example.com/log").verifier().encode()
        seen_plus += vkey.count("+") > 2
        assert Verifier.parse(vkey).encode() == vkey
    assert seen_plus > 0


def test_unknown_signatures_are_ignored_but_needed_one_is_required() -> None:
    signer, note = make()
    other = Signer.generate("witness.example")
    cosigned = note + other.sign(Note.parse(note).text).split("\n\n", 1)[1]
    open_checkpoint(cosigned, signer.verifier())
    with pytest.raises(NoteError):
        open_checkpoint(note, other.verifier())


def test_wrong_origin() -> None:
    signer, note = make()
    with pytest.raises(NoteError):
        open_checkpoint(note, signer.verifier(), "docket.invalid/someone-else")


def test_every_mutation_of_a_signed_checkpoint_is_rejected() -> None:
    signer, note = make()
    verifier = signer.verifier()
    raw = note.encode()
    accepted = []
    for i in range(len(raw)):
        for bit in range(8):
            bad = bytearray(raw)
            bad[i] ^= 1 << bit
            try:
                open_checkpoint(bytes(bad), verifier)
            except NoteError:
                continue
            accepted.append((i, bit))
    assert accepted == []
    for cut in range(len(raw)):
        with pytest.raises(NoteError):
            open_checkpoint(raw[:cut], verifier)
    for extra in (b"x", b"\n", b"extension\n"):
        with pytest.raises(NoteError):
            open_checkpoint(raw + extra, verifier)


@pytest.mark.parametrize(
    "text",
    [
        "origin\n007\nAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\n",
        "origin\n7\nAAAA\n",
        "origin\n-7\nAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\n",
        "\n7\nAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\n",
        "origin\n7\n",
        "origin\n7\nAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=",
    ],
)
def test_malformed_checkpoint_bodies(text: str) -> None:
    with pytest.raises(NoteError):
        Checkpoint.parse_text(text)


@pytest.mark.parametrize(
    "vkey",
    [
        "noplus",
        "a+b+c",
        "na me+00000000+AAAA",
        "x+530d903a+AekyeRrm56hApGFkyQR4ZCbV54Id2LKaANYcrnKv3U2k",
    ],
)
def test_malformed_vkeys(vkey: str) -> None:
    with pytest.raises(NoteError):
        Verifier.parse(vkey)
