"""docket-verify: the independent check of a Docket evidence bundle (format ``docket-bundle/1``).

This one file is both the ``docket-verify`` command and the ``docket-verify.py`` that every
bundle carries (``python docket-verify.py BUNDLE``). It needs only Python 3.11 or later and the
``cryptography`` package; it never imports Docket, never uses the network, and gives the same
answer every time it is run on the same bundle.

It also holds the canonical ZIP writer (``write_bundle``), the member order
(``MEMBER_ORDER``), the passphrase encryption (``encrypt_bundle``) and the recipient's guide
(``verify_txt``) that ``docket export`` uses, so that the writer and the checker can never
disagree. The specification is docs/bundle-format.md.

Everything read from a bundle may come from someone hostile, so every parser is strict: UTF-8,
no control characters, canonical base64 and decimals, DER, size limits; nothing is repaired.
"""

from __future__ import annotations

import argparse
import base64
import binascii
import getpass
import hashlib
import itertools
import json
import math
import os
import re
import struct
import sys
import tempfile
import textwrap
import unicodedata
import warnings
import zlib
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, BinaryIO, NamedTuple

try:
    from cryptography import x509
    from cryptography.exceptions import InvalidSignature, InvalidTag
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM
    from cryptography.hazmat.primitives.serialization import Encoding
    from cryptography.utils import CryptographyDeprecationWarning
except ImportError:  # pragma: no cover - exercised by hand, not in the test suite
    sys.stderr.write(
        "docket-verify needs the Python package 'cryptography'.\n"
        "Install it with:  python -m pip install cryptography\n"
    )
    raise SystemExit(2) from None

__all__ = [
    "ENCRYPTED_MAGIC",
    "FORMAT",
    "MEMBER_ORDER",
    "BundleError",
    "Content",
    "Report",
    "VerifierKey",
    "VerifyError",
    "Written",
    "canonical_json",
    "decrypt_bundle",
    "encrypt_bundle",
    "is_encrypted",
    "main",
    "member_key",
    "parse_canonical_json",
    "parse_checkpoint",
    "parse_message_proof",
    "parse_timestamp_response",
    "parse_tlog_proof",
    "render_json",
    "render_text",
    "source_bytes",
    "strict_b64decode",
    "verify_bundle",
    "verify_consistency",
    "verify_inclusion",
    "verify_txt",
    "write_bundle",
]

FORMAT = "docket-bundle/1"
ENCRYPTED_MAGIC = b"docket-bundle-encrypted/1\n"
HASH_SIZE = 32
MAX_MEMBERS = 10_000
MAX_BUNDLE_BYTES = 0xFFFF_FFFE  # every ZIP size and offset fits 32 bits, so no ZIP64 records
MAX_NOTE_BYTES = 64 * 1024
MAX_SIGNATURES = 100
MAX_PROOF_HASHES = 64
MAX_KEPT_BYTES = 1 << 30  # all the small members a check holds in memory together
READ_BLOCK = 1 << 20


class VerifyError(Exception):
    """A check that failed: ``reason`` says why in plain words; ``member`` names the bundle
    member it concerns, when there is one."""

    def __init__(self, reason: str, member: str | None = None) -> None:
        super().__init__(reason if member is None else f"{member}: {reason}")
        self.reason = reason
        self.member = member


class BundleError(ValueError):
    """A bundle that cannot be written or encrypted as asked (for ``docket export``)."""


class UsageError(Exception):
    """A mistake in how the command was called (exit status 2)."""


# --- strict text, decimals and base64 -----------------------------------------------------------

_CONTROL = re.compile(r"[\x00-\x09\x0b-\x1f\x7f]")
_DECIMAL = re.compile(r"(0|[1-9][0-9]{0,18})")
_HEX64 = re.compile(r"[0-9a-f]{64}")
_RFC3339_UTC = re.compile(r"([0-9]{4})-([0-9]{2})-([0-9]{2})T([0-9]{2}):([0-9]{2}):([0-9]{2})Z")


def _decode_text(data: bytes, what: str) -> str:
    """UTF-8 text with no control characters but the newline."""
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        raise VerifyError(f"{what} is not valid UTF-8 text") from None
    if _CONTROL.search(text):
        raise VerifyError(f"{what} contains a control character")
    return text


def _plain(value: str, what: str, limit: int = 4096) -> str:
    """A short string from a record or the manifest: no control or formatting characters."""
    if len(value) > limit:
        raise VerifyError(f"{what} is longer than {limit} characters")
    if value.isascii() and value.isprintable():
        return value
    for c in value:
        if unicodedata.category(c) in ("Cc", "Cf", "Cs", "Co", "Cn", "Zl", "Zp"):
            raise VerifyError(f"{what} contains a control or formatting character")
    return value


def strict_b64decode(text: str, what: str = "a value") -> bytes:
    """Standard base64 (RFC 4648 §4) in its one canonical spelling, or VerifyError."""
    if not isinstance(text, str) or not text.isascii():
        raise VerifyError(f"{what} is not valid base64")
    try:
        raw = base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        raise VerifyError(f"{what} is not valid base64") from None
    if base64.b64encode(raw).decode("ascii") != text:
        raise VerifyError(f"{what} is not base64 in its canonical form")
    return raw


def parse_decimal(text: str, what: str) -> int:
    if not _DECIMAL.fullmatch(text):
        raise VerifyError(f"{what} is not a decimal number without leading zeros")
    return int(text)


def _hash_lines(lines: Sequence[str], what: str) -> tuple[bytes, ...]:
    if len(lines) > MAX_PROOF_HASHES:
        raise VerifyError(f"{what} has more hashes than any tree needs")
    out = []
    for i, line in enumerate(lines):
        h = strict_b64decode(line, f"hash {i + 1} of {what}")
        if len(h) != HASH_SIZE:
            raise VerifyError(f"hash {i + 1} of {what} is not 32 bytes")
        out.append(h)
    return tuple(out)


def parse_hash_list(data: bytes, what: str = "the proof") -> tuple[bytes, ...]:
    """A consistency proof file: one base64 SHA-256 hash per line; empty for an empty proof."""
    if not data:
        return ()
    if len(data) > MAX_PROOF_HASHES * 46:
        raise VerifyError(f"{what} is larger than any proof can be")
    text = _decode_text(data, what)
    if not text.endswith("\n"):
        raise VerifyError(f"{what} does not end with a newline")
    return _hash_lines(text[:-1].split("\n"), what)


# --- RFC 8785 canonical JSON --------------------------------------------------------------------


def _es_number(x: float) -> str:
    """A float as ECMAScript's Number.prototype.toString writes it (RFC 8785 §3.2.2.3)."""
    if not math.isfinite(x):
        raise VerifyError("a number in the JSON is not finite")
    if x == 0:
        return "0"
    sign = "-" if x < 0 else ""
    mantissa, _, exponent = repr(abs(x)).partition("e")
    whole, _, fraction = mantissa.partition(".")
    digits = (whole + fraction).lstrip("0")
    point = len(whole) + int(exponent or "0") - (len(whole + fraction) - len(digits))
    digits = digits.rstrip("0")
    k, n = len(digits), point
    if k <= n <= 21:
        out = digits + "0" * (n - k)
    elif 0 < n <= 21:
        out = digits[:n] + "." + digits[n:]
    elif -6 < n <= 0:
        out = "0." + "0" * -n + digits
    else:
        e = n - 1
        out = digits[0] + ("." + digits[1:] if k > 1 else "") + ("e+" if e >= 0 else "e-")
        out += str(abs(e))
    return sign + out


# RFC 8785 §3.2.2.2 escapes exactly what Python's JSON string encoder escapes when it may
# write non-ASCII: quote, backslash and the controls (\b \t \n \f \r short, the rest \u00xx)
_json_string: Callable[[str], str] = json.encoder.encode_basestring


def _encode(value: Any, out: list[str], depth: int) -> None:
    if depth > 200:
        raise VerifyError("the JSON is nested too deeply")
    if value is None:
        out.append("null")
    elif value is True:
        out.append("true")
    elif value is False:
        out.append("false")
    elif isinstance(value, int):
        out.append(str(value))
    elif isinstance(value, float):
        out.append(_es_number(value))
    elif isinstance(value, str):
        out.append(_json_string(value))
    elif isinstance(value, list):
        out.append("[")
        for i, item in enumerate(value):
            if i:
                out.append(",")
            _encode(item, out, depth + 1)
        out.append("]")
    elif isinstance(value, dict):
        out.append("{")
        # RFC 8785 §3.2.3: members sorted by their names' UTF-16 code units
        for i, key in enumerate(sorted(value, key=lambda k: k.encode("utf-16-be"))):
            if i:
                out.append(",")
            out.append(_json_string(key))
            out.append(":")
            _encode(value[key], out, depth + 1)
        out.append("}")
    else:
        raise VerifyError(f"a {type(value).__name__} cannot be written as JSON")


def canonical_json(value: Any) -> bytes:
    """RFC 8785 (JCS) canonical JSON of strings, integers, floats, booleans, null, lists and
    objects with string keys."""
    out: list[str] = []
    try:
        _encode(value, out, 0)
        return "".join(out).encode("utf-8")
    except (UnicodeEncodeError, RecursionError):
        raise VerifyError("the JSON holds text that is not valid Unicode") from None


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in pairs:
        if key in out:
            raise VerifyError(f"the JSON names {key!r} twice in one object")
        out[key] = value
    return out


def _no_constant(name: str) -> Any:
    raise VerifyError(f"the JSON holds {name}, which JSON does not allow")


def _json_int(text: str) -> int:
    if len(text) > 40:
        raise VerifyError("the JSON holds a number with too many digits")
    return int(text)


def parse_canonical_json(data: bytes, what: str = "the JSON") -> Any:
    """Parse JSON that must already be in RFC 8785 canonical form: re-encoding it must give
    the same bytes, so that the bytes hashed and the values read are one and the same."""
    try:
        text = data.decode("utf-8")
        value = json.loads(
            text,
            object_pairs_hook=_no_duplicates,
            parse_constant=_no_constant,
            parse_int=_json_int,
        )
    except VerifyError as exc:
        raise VerifyError(f"{what} is not valid: {exc.reason}") from None
    except (ValueError, RecursionError, TypeError):
        raise VerifyError(f"{what} is not valid JSON") from None
    try:
        again = canonical_json(value)
    except VerifyError as exc:
        raise VerifyError(f"{what} is not valid: {exc.reason}") from None
    if again != data:
        raise VerifyError(f"{what} is not in canonical JSON form (RFC 8785)")
    return value


# --- RFC 9162 Merkle trees ----------------------------------------------------------------------


def leaf_hash(data: bytes) -> bytes:
    return hashlib.sha256(b"\x00" + data).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    return hashlib.sha256(b"\x01" + left + right).digest()


def _check_hashes(values: Sequence[bytes], what: str) -> None:
    for value in values:
        if len(value) != HASH_SIZE:
            raise VerifyError(f"{what} holds a hash that is not 32 bytes")


def verify_inclusion(
    index: int, size: int, leaf: bytes, proof: Sequence[bytes], root: bytes
) -> None:
    """RFC 9162 §2.1.3.2: raise VerifyError unless ``proof`` takes leaf ``index`` of a tree
    of ``size`` leaves to ``root``."""
    if not 0 <= index < size:
        raise VerifyError(f"position {index} is not inside a log of {size} entries")
    _check_hashes([leaf, root, *proof], "the inclusion proof")
    fn, sn, r = index, size - 1, leaf
    for p in proof:
        if sn == 0:
            raise VerifyError("the inclusion proof is longer than the tree allows")
        if fn & 1 or fn == sn:
            r = node_hash(p, r)
            if not fn & 1:
                while not fn & 1 and fn != 0:
                    fn >>= 1
                    sn >>= 1
        else:
            r = node_hash(r, p)
        fn >>= 1
        sn >>= 1
    if sn != 0:
        raise VerifyError("the inclusion proof is shorter than the tree needs")
    if r != root:
        raise VerifyError("the inclusion proof does not lead to the signed root hash")


def verify_consistency(
    size1: int, size2: int, proof: Sequence[bytes], root1: bytes, root2: bytes
) -> None:
    """RFC 9162 §2.1.4.2: raise VerifyError unless the tree of ``size2`` is the tree of
    ``size1`` with entries added after it (nothing changed, removed or reordered)."""
    if size1 < 1 or size2 < size1:
        raise VerifyError(f"there is no consistency proof from size {size1} to size {size2}")
    _check_hashes(proof, "the consistency proof")
    if size1 == size2:
        if proof:
            raise VerifyError("the sizes are equal, so the proof must be empty")
        if root1 != root2:
            raise VerifyError("two checkpoints of the same size have different root hashes")
        return
    _check_hashes([root1, root2], "the consistency proof")
    if not proof:
        raise VerifyError("the consistency proof is empty")
    path = list(proof)
    if size1 & (size1 - 1) == 0:
        path.insert(0, root1)
    fn, sn = size1 - 1, size2 - 1
    while fn & 1:
        fn >>= 1
        sn >>= 1
    fr = sr = path[0]
    for c in path[1:]:
        if sn == 0:
            raise VerifyError("the consistency proof is longer than the trees allow")
        if fn & 1 or fn == sn:
            fr = node_hash(c, fr)
            sr = node_hash(c, sr)
            if not fn & 1:
                while not fn & 1 and fn != 0:
                    fn >>= 1
                    sn >>= 1
        else:
            sr = node_hash(sr, c)
        fn >>= 1
        sn >>= 1
    if sn != 0:
        raise VerifyError("the consistency proof is shorter than the trees need")
    if fr != root1 or sr != root2:
        raise VerifyError("the consistency proof does not lead to the two signed root hashes")


# --- C2SP signed notes, verifier keys, checkpoints, tlog-proofs ----------------------------------

EM_DASH = "\u2014"
ED25519_TYPE = 0x01


def _key_name(name: str) -> str:
    if not name or any(c.isspace() for c in name) or "+" in name:
        raise VerifyError("a key name must be non-empty, without spaces or '+'")
    return name


@dataclass(frozen=True)
class VerifierKey:
    """A C2SP signed-note verifier key for Ed25519: ``name+keyid+base64(0x01 || key)``."""

    name: str
    id: bytes
    public: bytes

    @classmethod
    def parse(cls, vkey: str) -> VerifierKey:
        if len(vkey) > 1024:
            raise VerifyError("the key is too long to be a verifier key")
        parts = vkey.split("+", 2)  # base64 may contain '+': split at most twice
        if len(parts) != 3:
            raise VerifyError("a verifier key has the form name+keyid+key")
        name, hex_id, b64 = parts
        _key_name(name)
        if not re.fullmatch(r"[0-9a-f]{8}", hex_id):
            raise VerifyError("the key ID in a verifier key must be 8 lowercase hex digits")
        raw = strict_b64decode(b64, "the verifier key")
        if len(raw) != 33 or raw[0] != ED25519_TYPE:
            raise VerifyError("only Ed25519 verifier keys (type 0x01) are supported")
        public = raw[1:]
        if _key_id(name, public) != bytes.fromhex(hex_id):
            raise VerifyError("the verifier key's ID does not match its name and key")
        return cls(name, bytes.fromhex(hex_id), public)

    def encode(self) -> str:
        b64 = base64.b64encode(bytes([ED25519_TYPE]) + self.public).decode()
        return f"{self.name}+{self.id.hex()}+{b64}"

    def fingerprint(self) -> str:
        """Twenty hex digits in groups of four, as Docket shows them to the person."""
        digest = hashlib.sha256(self.encode().encode()).hexdigest()[:20]
        return " ".join(digest[i : i + 4] for i in range(0, 20, 4))

    def verify(self, text: bytes, signature: bytes) -> bool:
        try:
            Ed25519PublicKey.from_public_bytes(self.public).verify(signature, text)
        except (InvalidSignature, ValueError):
            return False
        return True


def _key_id(name: str, public: bytes) -> bytes:
    return hashlib.sha256(name.encode() + b"\n" + bytes([ED25519_TYPE]) + public).digest()[:4]


@dataclass(frozen=True)
class NoteSignature:
    name: str
    id: bytes
    signature: bytes


@dataclass(frozen=True)
class Note:
    text: str
    signatures: tuple[NoteSignature, ...]


def parse_note(data: bytes) -> Note:
    """A C2SP signed note: text, a blank line, signature lines ``— name base64``."""
    if len(data) > MAX_NOTE_BYTES:
        raise VerifyError("the signed note is too large")
    note = _decode_text(data, "the signed note")
    split = note.rfind("\n\n")
    if split < 0 or not note.endswith("\n"):
        raise VerifyError("the signed note has no blank line before its signatures")
    text, block = note[: split + 1], note[split + 2 : -1]
    signatures = []
    for line in block.split("\n"):
        if not line.startswith(EM_DASH + " "):
            raise VerifyError("a signature line must start with an em dash and a space")
        fields = line[2:].split(" ")
        if len(fields) != 2:
            raise VerifyError("a signature line has a key name and a signature, nothing else")
        name, b64 = fields
        _key_name(name)
        sig = strict_b64decode(b64, "a signature")
        if len(sig) < 5:
            raise VerifyError("a signature is too short")
        signatures.append(NoteSignature(name, sig[:4], sig[4:]))
    if len(signatures) > MAX_SIGNATURES:
        raise VerifyError("the signed note has too many signatures")
    return Note(text, tuple(signatures))


def verify_note(note: Note, key: VerifierKey) -> None:
    """C2SP: signatures by other keys are ignored; one by ``key`` must verify, and every one
    that claims to be by ``key`` must verify."""
    found = False
    for sig in note.signatures:
        if sig.name != key.name or sig.id != key.id:
            continue
        if not key.verify(note.text.encode("utf-8"), sig.signature):
            raise VerifyError("the signature by the diary's key does not verify")
        found = True
    if not found:
        raise VerifyError("it carries no signature by the diary's key")


@dataclass(frozen=True)
class Checkpoint:
    """A C2SP tlog-checkpoint body: origin, tree size, root hash (and extension lines)."""

    origin: str
    size: int
    root: bytes
    extensions: tuple[str, ...] = ()


def parse_checkpoint_text(text: str) -> Checkpoint:
    lines = text.split("\n")
    if len(lines) < 4 or lines[-1] != "":
        raise VerifyError("a checkpoint has an origin, a size and a root hash, one per line")
    origin, size, root = lines[0], lines[1], lines[2]
    if not origin:
        raise VerifyError("the checkpoint's origin is empty")
    if any(line == "" for line in lines[3:-1]):
        raise VerifyError("a checkpoint's extension lines must not be empty")
    root_hash = strict_b64decode(root, "the checkpoint's root hash")
    if len(root_hash) != HASH_SIZE:
        raise VerifyError("the checkpoint's root hash is not 32 bytes")
    return Checkpoint(
        origin, parse_decimal(size, "the checkpoint's size"), root_hash, tuple(lines[3:-1])
    )


def parse_checkpoint(data: bytes, key: VerifierKey | None = None) -> Checkpoint:
    """A signed checkpoint: strict parsing, and (with ``key``) the signature by that key."""
    note = parse_note(data)
    if key is not None:
        verify_note(note, key)
    elif not note.signatures:
        raise VerifyError("the checkpoint has no signature")
    return parse_checkpoint_text(note.text)


@dataclass(frozen=True)
class TlogProof:
    """A C2SP tlog-proof: the entry's index, its inclusion proof, and the checkpoint verbatim."""

    index: int
    extra: bytes | None
    hashes: tuple[bytes, ...]
    checkpoint: bytes


TLOG_PROOF_HEADER = "c2sp.org/tlog-proof@v1"


def parse_tlog_proof(data: bytes) -> TlogProof:
    if len(data) > MAX_NOTE_BYTES + MAX_PROOF_HASHES * 46 + 256:
        raise VerifyError("the proof is too large")
    cut = data.find(b"\n\n")
    if cut < 0:
        raise VerifyError("the proof has no blank line before its checkpoint")
    head = _decode_text(data[:cut], "the proof").split("\n")
    checkpoint = data[cut + 2 :]
    if head[0] != TLOG_PROOF_HEADER:
        raise VerifyError(f"the proof does not start with {TLOG_PROOF_HEADER}")
    rest = head[1:]
    extra = None
    if rest and rest[0].startswith("extra "):
        extra = strict_b64decode(rest[0][6:], "the proof's extra data")
        rest = rest[1:]
    if not rest or not rest[0].startswith("index "):
        raise VerifyError("the proof has no 'index' line")
    index = parse_decimal(rest[0][6:], "the proof's index")
    hashes = _hash_lines(rest[1:], "the inclusion proof")
    parse_note(checkpoint)  # the checkpoint must at least be a well-formed note
    return TlogProof(index, extra, hashes, checkpoint)


@dataclass(frozen=True)
class MessageProof:
    """Where a message sits in its import batch: ``docket-message-proof/1``."""

    batch: int
    index: int
    size: int
    hashes: tuple[bytes, ...]


MESSAGE_PROOF_HEADER = "docket-message-proof/1"


def parse_message_proof(data: bytes) -> MessageProof:
    if len(data) > 256 + MAX_PROOF_HASHES * 46:
        raise VerifyError("the message proof is too large")
    text = _decode_text(data, "the message proof")
    if not text.endswith("\n"):
        raise VerifyError("the message proof does not end with a newline")
    lines = text[:-1].split("\n")
    if len(lines) < 4 or lines[0] != MESSAGE_PROOF_HEADER:
        raise VerifyError(f"the message proof does not start with {MESSAGE_PROOF_HEADER}")
    values = []
    for line, word in zip(lines[1:4], ("batch", "index", "size"), strict=True):
        if not line.startswith(word + " "):
            raise VerifyError(f"the message proof has no '{word}' line where it should be")
        values.append(parse_decimal(line[len(word) + 1 :], f"the message proof's {word}"))
    batch, index, size = values
    if not 0 <= index < size:
        raise VerifyError("the message proof's index is not below its size")
    return MessageProof(batch, index, size, _hash_lines(lines[4:], "the message proof"))


# --- a strict DER reader, for RFC 3161 timestamp tokens ------------------------------------------


@dataclass(frozen=True)
class _Tlv:
    tag: int
    data: bytes
    start: int
    body: int
    end: int

    def value(self) -> bytes:
        return self.data[self.body : self.end]

    def raw(self) -> bytes:
        return self.data[self.start : self.end]

    def items(self) -> _Der:
        if not self.tag & 0x20:
            raise VerifyError("the timestamp has a primitive value where a structure belongs")
        return _Der(self.data, self.body, self.end)


class _Der:
    """Reads DER TLVs one after another within ``data[pos:end]``: definite, minimal lengths,
    low tag numbers only."""

    def __init__(self, data: bytes, pos: int = 0, end: int | None = None) -> None:
        self.data = data
        self.pos = pos
        self.end = len(data) if end is None else end

    def done(self) -> bool:
        return self.pos >= self.end

    def peek(self) -> int | None:
        return None if self.done() else self.data[self.pos]

    def read(self, tag: int, what: str) -> _Tlv:
        d, start = self.data, self.pos
        if start + 2 > self.end:
            raise VerifyError(f"the timestamp ends where {what} should be")
        if d[start] != tag:
            raise VerifyError(f"the timestamp has something else where {what} should be")
        if tag & 0x1F == 0x1F:
            raise VerifyError("the timestamp uses a tag form DER does not need")
        first = d[start + 1]
        if first < 0x80:
            length, body = first, start + 2
        elif first == 0x80:
            raise VerifyError("the timestamp uses an indefinite length, which DER forbids")
        else:
            n = first & 0x7F
            if n > 4 or start + 2 + n > self.end:
                raise VerifyError(f"the length of {what} in the timestamp is not valid")
            length_bytes = d[start + 2 : start + 2 + n]
            length = int.from_bytes(length_bytes, "big")
            if length_bytes[0] == 0 or length < 0x80:
                raise VerifyError("the timestamp has a length that is not in its shortest form")
            body = start + 2 + n
        end = body + length
        if end > self.end:
            raise VerifyError(f"{what} runs past the end of the timestamp")
        self.pos = end
        return _Tlv(tag, d, start, body, end)

    def optional(self, tag: int, what: str) -> _Tlv | None:
        return self.read(tag, what) if self.peek() == tag else None

    def finish(self, what: str) -> None:
        if not self.done():
            raise VerifyError(f"the timestamp has unexpected data after {what}")


def _der_int(tlv: _Tlv, what: str) -> int:
    v = tlv.value()
    if not v or (len(v) > 1 and ((v[0] == 0 and v[1] < 0x80) or (v[0] == 0xFF and v[1] >= 0x80))):
        raise VerifyError(f"{what} in the timestamp is not a valid DER integer")
    if len(v) > 64:
        raise VerifyError(f"{what} in the timestamp is too large")
    return int.from_bytes(v, "big", signed=True)


def _der_oid(tlv: _Tlv, what: str) -> str:
    v = tlv.value()
    if not v or len(v) > 64 or v[-1] & 0x80:
        raise VerifyError(f"{what} in the timestamp is not a valid object identifier")
    arcs: list[int] = []
    n, fresh = 0, True
    for b in v:
        if fresh and b == 0x80:
            raise VerifyError(f"{what} in the timestamp is not in its shortest form")
        n = (n << 7) | (b & 0x7F)
        fresh = not b & 0x80
        if fresh:
            arcs.append(n)
            n = 0
    first = min(arcs[0] // 40, 2)
    return ".".join(str(a) for a in [first, arcs[0] - 40 * first, *arcs[1:]])


def _der_bool(tlv: _Tlv, what: str) -> bool:
    v = tlv.value()
    if v not in (b"\x00", b"\xff"):
        raise VerifyError(f"{what} in the timestamp is not a valid DER boolean")
    return v == b"\xff"


_GENERALIZED_TIME = re.compile(
    rb"([0-9]{4})([0-9]{2})([0-9]{2})([0-9]{2})([0-9]{2})([0-9]{2})(?:\.([0-9]*[1-9]))?Z"
)


def _der_time(tlv: _Tlv) -> datetime:
    m = _GENERALIZED_TIME.fullmatch(tlv.value())
    if not m:
        raise VerifyError("the timestamp's time is not a valid DER GeneralizedTime")
    y, mo, d, h, mi, s = (int(g) for g in m.groups()[:6])
    fraction = (m.group(7) or b"").decode()
    micro = int((fraction + "000000")[:6]) if fraction else 0
    try:
        return datetime(y, mo, d, h, mi, s, micro, tzinfo=UTC)
    except ValueError:
        raise VerifyError("the timestamp's time is not a real date and time") from None


def _algorithm(tlv: _Tlv, what: str) -> str:
    """An AlgorithmIdentifier whose parameters are absent or NULL: true of every hash and
    signature algorithm this checker supports (RSA-PSS, with parameters, is not one)."""
    der = tlv.items()
    oid = _der_oid(der.read(0x06, what), what)
    null = der.optional(0x05, f"the parameters of {what}")
    if null is not None and null.value():
        raise VerifyError(f"{what} in the timestamp has parameters that are not NULL")
    if not der.done():
        raise VerifyError(f"{what} in the timestamp has parameters this checker does not support")
    return oid


OID_SIGNED_DATA = "1.2.840.113549.1.7.2"
OID_TST_INFO = "1.2.840.113549.1.9.16.1.4"
OID_CONTENT_TYPE = "1.2.840.113549.1.9.3"
OID_MESSAGE_DIGEST = "1.2.840.113549.1.9.4"
OID_SIGNING_CERTIFICATE = "1.2.840.113549.1.9.16.2.12"
OID_SIGNING_CERTIFICATE_V2 = "1.2.840.113549.1.9.16.2.47"
OID_SHA1 = "1.3.14.3.2.26"
OID_SHA256 = "2.16.840.1.101.3.4.2.1"
_DIGESTS: dict[str, Callable[[], hashes.HashAlgorithm]] = {
    OID_SHA256: hashes.SHA256,
    "2.16.840.1.101.3.4.2.2": hashes.SHA384,
    "2.16.840.1.101.3.4.2.3": hashes.SHA512,
}
_DIGEST_NAMES = {
    OID_SHA256: "sha256",
    "2.16.840.1.101.3.4.2.2": "sha384",
    "2.16.840.1.101.3.4.2.3": "sha512",
    OID_SHA1: "sha1",
}
OID_RSA = "1.2.840.113549.1.1.1"
_RSA_WITH = {
    "1.2.840.113549.1.1.11": OID_SHA256,
    "1.2.840.113549.1.1.12": "2.16.840.1.101.3.4.2.2",
    "1.2.840.113549.1.1.13": "2.16.840.1.101.3.4.2.3",
}
_ECDSA_WITH = {
    "1.2.840.10045.4.3.2": OID_SHA256,
    "1.2.840.10045.4.3.3": "2.16.840.1.101.3.4.2.2",
    "1.2.840.10045.4.3.4": "2.16.840.1.101.3.4.2.3",
}
OID_ED25519 = "1.3.101.112"


@dataclass(frozen=True)
class TimestampToken:
    """The parts of an RFC 3161 TimeStampResp a check needs, exactly as they were signed."""

    status: int
    policy: str
    imprint_algorithm: str
    imprint: bytes
    serial: int
    gen_time: datetime
    accuracy: timedelta | None
    nonce: int | None
    tst_info: bytes  # the DER TSTInfo that the signature covers
    digest_algorithm: str
    signed_attributes: bytes  # DER, with the SET OF tag, as the signature covers them
    message_digest: bytes
    signer_cert_hashes: tuple[tuple[str, bytes], ...]  # ESS (algorithm, hash), signer first
    signature_algorithm: str
    signature: bytes
    certificates: tuple[bytes, ...]
    signer_issuer: bytes | None  # issuerAndSerialNumber
    signer_serial: int | None
    signer_key_id: bytes | None  # subjectKeyIdentifier


def _status(der: _Der) -> tuple[int, bool]:
    info = der.read(0x30, "the status").items()
    status = _der_int(info.read(0x02, "the status"), "the status")
    info.optional(0x30, "the status text")
    info.optional(0x03, "the failure information")
    info.finish("the status")
    return status, not der.done()


def _attributes(tlv: _Tlv) -> dict[str, _Tlv]:
    """Signed attributes: each type once, each with exactly one value."""
    out: dict[str, _Tlv] = {}
    der = tlv.items()
    while not der.done():
        attr = der.read(0x30, "a signed attribute").items()
        oid = _der_oid(attr.read(0x06, "an attribute type"), "an attribute type")
        values = attr.read(0x31, "an attribute's values").items()
        attr.finish("a signed attribute")
        if oid in out:
            raise VerifyError("the timestamp has a signed attribute twice")
        start = values.pos
        tag = values.peek()
        if tag is None:
            raise VerifyError("a signed attribute in the timestamp has no value")
        values.read(tag, "an attribute value")
        values.finish("an attribute value")
        out[oid] = _Der(values.data, start, values.pos).read(tag, "an attribute value")
    return out


def _ess_hashes(attrs: dict[str, _Tlv]) -> tuple[tuple[str, bytes], ...]:
    out = []
    if OID_SIGNING_CERTIFICATE_V2 in attrs:
        certs = attrs[OID_SIGNING_CERTIFICATE_V2].items().read(0x30, "the certificate list")
        der = certs.items()
        while not der.done():
            ident = der.read(0x30, "a certificate identifier").items()
            alg = OID_SHA256
            if ident.peek() == 0x30:
                alg = _algorithm(ident.read(0x30, "a hash algorithm"), "a hash algorithm")
            out.append((alg, ident.read(0x04, "a certificate hash").value()))
    elif OID_SIGNING_CERTIFICATE in attrs:
        certs = attrs[OID_SIGNING_CERTIFICATE].items().read(0x30, "the certificate list")
        der = certs.items()
        while not der.done():
            ident = der.read(0x30, "a certificate identifier").items()
            out.append((OID_SHA1, ident.read(0x04, "a certificate hash").value()))
    else:
        raise VerifyError("the timestamp does not name its signing certificate (RFC 3161 §2.4.1)")
    if not out:
        raise VerifyError("the timestamp's list of signing certificates is empty")
    return tuple(out)


def _tst_info(
    der_bytes: bytes,
) -> tuple[str, str, bytes, int, datetime, timedelta | None, int | None]:
    info = _Der(der_bytes).read(0x30, "the timestamp information")
    der = info.items()
    if _der_int(der.read(0x02, "the version"), "the version") != 1:
        raise VerifyError("the timestamp information has an unknown version")
    policy = _der_oid(der.read(0x06, "the policy"), "the policy")
    imprint = der.read(0x30, "the message imprint").items()
    alg = _algorithm(imprint.read(0x30, "the imprint algorithm"), "the imprint algorithm")
    hashed = imprint.read(0x04, "the imprinted hash").value()
    imprint.finish("the message imprint")
    serial = _der_int(der.read(0x02, "the serial number"), "the serial number")
    gen_time = _der_time(der.read(0x18, "the time"))
    accuracy = None
    acc = der.optional(0x30, "the accuracy")
    if acc is not None:
        a = acc.items()
        seconds = a.optional(0x02, "the accuracy in seconds")
        millis = a.optional(0x80, "the accuracy in milliseconds")
        micros = a.optional(0x81, "the accuracy in microseconds")
        a.finish("the accuracy")
        s = 0 if seconds is None else _der_int(seconds, "the accuracy")
        ms = 0 if millis is None else _der_int(millis, "the accuracy")
        us = 0 if micros is None else _der_int(micros, "the accuracy")
        if not (0 <= s <= 10**9 and 0 <= ms <= 999 and 0 <= us <= 999):
            raise VerifyError("the timestamp's accuracy is out of range")
        accuracy = timedelta(seconds=s, milliseconds=ms, microseconds=us)
    ordering = der.optional(0x01, "the ordering flag")
    if ordering is not None:
        _der_bool(ordering, "the ordering flag")
    nonce_tlv = der.optional(0x02, "the nonce")
    nonce = None if nonce_tlv is None else _der_int(nonce_tlv, "the nonce")
    der.optional(0xA0, "the authority's name")
    extensions = der.optional(0xA1, "the extensions")
    if extensions is not None:
        ext = extensions.items()
        while not ext.done():
            e = ext.read(0x30, "an extension").items()
            _der_oid(e.read(0x06, "an extension type"), "an extension type")
            critical = e.optional(0x01, "an extension's critical flag")
            e.read(0x04, "an extension value")
            e.finish("an extension")
            if critical is not None and _der_bool(critical, "a critical flag"):
                raise VerifyError(
                    "the timestamp has a critical extension this checker does not know"
                )
    der.finish("the timestamp information")
    if info.end != len(der_bytes):
        raise VerifyError("the timestamp information has data after its end")
    return policy, alg, hashed, serial, gen_time, accuracy, nonce


def parse_timestamp_response(data: bytes) -> TimestampToken:
    """Parse an RFC 3161 TimeStampResp (DER) strictly: status, then the CMS SignedData with
    its TSTInfo, signer information and certificates. Checks nothing cryptographic."""
    if len(data) > 256 * 1024:
        raise VerifyError("the timestamp is too large")
    outer = _Der(data)
    resp = outer.read(0x30, "the timestamp response")
    outer.finish("the timestamp response")
    der = resp.items()
    status, has_token = _status(der)
    if status not in (0, 1):
        raise VerifyError(f"the timestamp authority did not grant this timestamp (status {status})")
    if not has_token:
        raise VerifyError("the timestamp response holds no token")
    content_info = der.read(0x30, "the token").items()
    der.finish("the token")
    if _der_oid(content_info.read(0x06, "the token type"), "the token type") != OID_SIGNED_DATA:
        raise VerifyError("the token is not CMS signed data")
    explicit = content_info.read(0xA0, "the signed data").items()
    content_info.finish("the token")
    signed = explicit.read(0x30, "the signed data").items()
    explicit.finish("the signed data")
    if _der_int(signed.read(0x02, "the version"), "the version") != 3:
        raise VerifyError("the signed data has an unexpected version")
    digest_set = signed.read(0x31, "the digest algorithms").items()
    digests = []
    while not digest_set.done():
        digests.append(
            _algorithm(digest_set.read(0x30, "a digest algorithm"), "a digest algorithm")
        )
    encap = signed.read(0x30, "the signed content").items()
    if _der_oid(encap.read(0x06, "the content type"), "the content type") != OID_TST_INFO:
        raise VerifyError("the signed content is not timestamp information")
    econtent = encap.read(0xA0, "the signed content").items()
    encap.finish("the signed content")
    tst_info = econtent.read(0x04, "the timestamp information").value()
    econtent.finish("the timestamp information")
    certificates: list[bytes] = []
    certs = signed.optional(0xA0, "the certificates")
    if certs is not None:
        c = certs.items()
        while not c.done():
            certificates.append(c.read(0x30, "a certificate").raw())
            if len(certificates) > 16:
                raise VerifyError("the timestamp carries too many certificates")
    signed.optional(0xA1, "the revocation lists")
    signers = signed.read(0x31, "the signer information").items()
    signed.finish("the signed data")
    signer = signers.read(0x30, "the signer information").items()
    if not signers.done():
        raise VerifyError("the timestamp has more than one signer")
    version = _der_int(signer.read(0x02, "the signer version"), "the signer version")
    issuer = serial = key_id = None
    if version == 1:
        sid = signer.read(0x30, "the signer's identity").items()
        issuer = sid.read(0x30, "the signer's issuer").raw()
        serial = _der_int(sid.read(0x02, "the signer's serial number"), "a serial number")
        sid.finish("the signer's identity")
    elif version == 3:
        key_id = signer.read(0x80, "the signer's key identifier").value()
    else:
        raise VerifyError("the signer information has an unknown version")
    digest_alg = _algorithm(signer.read(0x30, "the digest algorithm"), "the digest algorithm")
    if digest_alg not in digests:
        raise VerifyError("the signer's digest algorithm is not among the signed data's")
    attrs_tlv = signer.read(0xA0, "the signed attributes")
    signature_alg = _algorithm(
        signer.read(0x30, "the signature algorithm"), "the signature algorithm"
    )
    signature = signer.read(0x04, "the signature").value()
    signer.optional(0xA1, "the unsigned attributes")
    signer.finish("the signer information")
    attrs = _attributes(attrs_tlv)
    if OID_CONTENT_TYPE not in attrs or OID_MESSAGE_DIGEST not in attrs:
        raise VerifyError("the timestamp's signed attributes lack the content type or digest")
    ctype = attrs[OID_CONTENT_TYPE]
    if ctype.tag != 0x06 or _der_oid(ctype, "the content type") != OID_TST_INFO:
        raise VerifyError("the signed content type is not timestamp information")
    md = attrs[OID_MESSAGE_DIGEST]
    if md.tag != 0x04:
        raise VerifyError("the signed message digest is not an octet string")
    policy, imprint_alg, imprint, tserial, gen_time, accuracy, nonce = _tst_info(tst_info)
    return TimestampToken(
        status=status,
        policy=policy,
        imprint_algorithm=imprint_alg,
        imprint=imprint,
        serial=tserial,
        gen_time=gen_time,
        accuracy=accuracy,
        nonce=nonce,
        tst_info=tst_info,
        digest_algorithm=digest_alg,
        signed_attributes=b"\x31" + attrs_tlv.raw()[1:],
        message_digest=md.value(),
        signer_cert_hashes=_ess_hashes(attrs),
        signature_algorithm=signature_alg,
        signature=signature,
        certificates=tuple(certificates),
        signer_issuer=issuer,
        signer_serial=serial,
        signer_key_id=key_id,
    )


# --- checking a timestamp token -----------------------------------------------------------------


@dataclass(frozen=True)
class TokenCheck:
    authority: str  # the signing certificate's subject
    trusted: bool
    detail: str


def _digest(oid: str, data: bytes) -> bytes:
    name = _DIGEST_NAMES.get(oid)
    if name is None:
        raise VerifyError("the timestamp uses a hash algorithm this checker does not know")
    return hashlib.new(name, data).digest()


def _der(cert: x509.Certificate) -> bytes:
    return cert.public_bytes(Encoding.DER)


def _signer_certificate(token: TimestampToken, certs: list[x509.Certificate]) -> x509.Certificate:
    for cert in certs:
        if token.signer_key_id is not None:
            try:
                ski = cert.extensions.get_extension_for_class(x509.SubjectKeyIdentifier)
            except (x509.ExtensionNotFound, ValueError):
                continue
            if ski.value.digest == token.signer_key_id:
                return cert
        elif cert.serial_number == token.signer_serial and (
            cert.issuer.public_bytes() == token.signer_issuer
        ):
            return cert
    raise VerifyError("the timestamp does not carry the certificate of the key that signed it")


def _check_signature(token: TimestampToken, cert: x509.Certificate) -> None:
    key = cert.public_key()
    data, sig, alg = token.signed_attributes, token.signature, token.signature_algorithm
    try:
        if alg in _RSA_WITH or alg == OID_RSA:
            hash_oid = _RSA_WITH.get(alg, token.digest_algorithm)
            if hash_oid not in _DIGESTS or not isinstance(key, rsa.RSAPublicKey):
                raise VerifyError("the timestamp's RSA signature uses an unsupported hash or key")
            key.verify(sig, data, padding.PKCS1v15(), _DIGESTS[hash_oid]())
        elif alg in _ECDSA_WITH:
            if not isinstance(key, ec.EllipticCurvePublicKey):
                raise VerifyError("the timestamp's ECDSA signature does not match its key")
            key.verify(sig, data, ec.ECDSA(_DIGESTS[_ECDSA_WITH[alg]]()))
        elif alg == OID_ED25519:
            if not isinstance(key, Ed25519PublicKey):
                raise VerifyError("the timestamp's Ed25519 signature does not match its key")
            key.verify(sig, data)
        else:
            raise VerifyError(
                "the timestamp is signed with an algorithm this checker does not support"
            )
    except InvalidSignature:
        raise VerifyError("the timestamp authority's signature does not verify") from None


def _valid_at(cert: x509.Certificate, when: datetime) -> bool:
    return cert.not_valid_before_utc <= when <= cert.not_valid_after_utc


def _check_usage(cert: x509.Certificate) -> None:
    """RFC 3161 §2.3: the signing certificate's one, critical extended key usage is
    timeStamping."""
    try:
        eku = cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage)
    except x509.ExtensionNotFound:
        raise VerifyError("the timestamp's certificate is not marked for timestamping") from None
    except ValueError:
        raise VerifyError(
            "the timestamp's certificate has extensions that cannot be read"
        ) from None
    if not eku.critical or list(eku.value) != [x509.oid.ExtendedKeyUsageOID.TIME_STAMPING]:
        raise VerifyError(
            "the timestamp's certificate is not marked for timestamping only, as a critical "
            "extension (RFC 3161 §2.3)"
        )


def _chain(
    leaf: x509.Certificate,
    pool: list[x509.Certificate],
    roots: Sequence[x509.Certificate],
) -> list[x509.Certificate] | None:
    """A path from ``leaf`` to one of ``roots`` (the leaf itself may be one), or None."""
    anchors = {_der(r) for r in roots}

    def walk(path: list[x509.Certificate]) -> list[x509.Certificate] | None:
        cert = path[-1]
        if _der(cert) in anchors:
            return path
        if len(path) > 6:
            return None
        for cand in [*roots, *pool]:
            if any(_der(cand) == _der(p) for p in path) or cand.subject != cert.issuer:
                continue
            try:
                cert.verify_directly_issued_by(cand)
            except (ValueError, TypeError, InvalidSignature):
                continue
            found = walk([*path, cand])
            if found is not None:
                return found
        return None

    return walk([leaf])


def _check_path(path: list[x509.Certificate], when: datetime) -> None:
    for i, cert in enumerate(path):
        if not _valid_at(cert, when):
            who = "timestamp authority's" if i == 0 else "issuing authority's"
            raise VerifyError(f"the {who} certificate was not valid at the time of the timestamp")
        if i == 0:
            continue
        try:
            bc = cert.extensions.get_extension_for_class(x509.BasicConstraints).value
        except (x509.ExtensionNotFound, ValueError):
            raise VerifyError("a certificate in the chain is not marked as an authority") from None
        if not bc.ca or (bc.path_length is not None and bc.path_length < i - 1):
            raise VerifyError("a certificate in the chain may not issue the next one")
        try:
            ku = cert.extensions.get_extension_for_class(x509.KeyUsage).value
        except x509.ExtensionNotFound:
            continue
        except ValueError:
            raise VerifyError(
                "a certificate in the chain has extensions that cannot be read"
            ) from None
        if not ku.key_cert_sign:
            raise VerifyError("a certificate in the chain may not sign certificates")


def check_timestamp(
    token: TimestampToken, message: bytes, roots: Sequence[x509.Certificate] = ()
) -> TokenCheck:
    """Check a parsed token over ``message``: imprint, the signer's signature over the
    signed attributes, the signer certificate binding, and (with ``roots``) the chain."""
    if token.imprint_algorithm != OID_SHA256:
        raise VerifyError("the timestamp is not over a SHA-256 hash")
    if token.imprint != hashlib.sha256(message).digest():
        raise VerifyError("the timestamp is over other data, not this checkpoint")
    if token.digest_algorithm not in _DIGESTS:
        raise VerifyError("the timestamp's digest algorithm is not SHA-256, SHA-384 or SHA-512")
    if token.message_digest != _digest(token.digest_algorithm, token.tst_info):
        raise VerifyError("the timestamp's signed digest does not match its time information")
    try:  # cryptography reads a certificate's fields lazily: any access may find one malformed
        with warnings.catch_warnings():
            warnings.simplefilter("error", CryptographyDeprecationWarning)
            return _check_certificates(token, roots)
    except (ValueError, x509.InvalidVersion, CryptographyDeprecationWarning):
        raise VerifyError("a certificate in the timestamp cannot be read") from None


def _check_certificates(token: TimestampToken, roots: Sequence[x509.Certificate]) -> TokenCheck:
    certs = [x509.load_der_x509_certificate(der) for der in token.certificates]
    signer = _signer_certificate(token, certs)
    alg, expected = token.signer_cert_hashes[0]
    if _digest(alg, _der(signer)) != expected:
        raise VerifyError(
            "the timestamp's signed certificate reference does not match its certificate"
        )
    _check_signature(token, signer)
    _check_usage(signer)
    if not _valid_at(signer, token.gen_time):
        raise VerifyError(
            "the timestamp authority's certificate was not valid at the time of the timestamp"
        )
    authority = _show(signer.subject.rfc4514_string())
    if not roots:
        return TokenCheck(
            authority,
            False,
            "present but not independently trusted: no root certificate was given (see --tsa-root)",
        )
    path = _chain(signer, certs, roots)
    if path is None:
        return TokenCheck(
            authority,
            False,
            "not independently trusted: it does not lead to any root certificate you gave",
        )
    _check_path(path, token.gen_time)
    return TokenCheck(authority, True, "trusted: it leads to a root certificate you gave")


# --- the canonical ZIP container ----------------------------------------------------------------

_NUM = r"(0|[1-9][0-9]{0,17})"
_FILES_RANK = 9
MEMBER_ORDER: tuple[tuple[str, re.Pattern[str]], ...] = (
    ("manifest.json", re.compile(r"manifest\.json")),
    ("key.vkey", re.compile(r"key\.vkey")),
    ("checkpoints/<size>.checkpoint", re.compile(rf"checkpoints/{_NUM}\.checkpoint")),
    ("consistency/<from>-<to>.proof", re.compile(rf"consistency/{_NUM}-{_NUM}\.proof")),
    ("timestamps/<size>-<n>.tsr, then .pem", re.compile(rf"timestamps/{_NUM}-{_NUM}\.(tsr|pem)")),
    ("entries/<seq>.json", re.compile(rf"entries/{_NUM}\.json")),
    ("proofs/<seq>.tlog-proof", re.compile(rf"proofs/{_NUM}\.tlog-proof")),
    ("messages/<id>.json", re.compile(rf"messages/{_NUM}\.json")),
    ("message-proofs/<id>.proof", re.compile(rf"message-proofs/{_NUM}\.proof")),
    ("files/<sha256>", re.compile(r"files/([0-9a-f]{64})")),
    ("report.pdf", re.compile(r"report\.pdf")),
    ("report.html", re.compile(r"report\.html")),
    ("VERIFY.txt", re.compile(r"VERIFY\.txt")),
    ("WITHHELD.txt", re.compile(r"WITHHELD\.txt")),
    ("docket-verify.py", re.compile(r"docket-verify\.py")),
)
"""The members a bundle may hold, in the order they must appear. Within a row: numbers in
numeric order (a timestamp's ``.tsr`` before its ``.pem``), files by their hex name."""


def member_key(name: str) -> tuple[int, tuple[int | str, ...]]:
    """The sort key of a member name; VerifyError for a name this format does not have."""
    for rank, (_, pattern) in enumerate(MEMBER_ORDER):
        m = pattern.fullmatch(name)
        if m:
            parts: list[int | str] = []
            for g in m.groups():
                if g in ("tsr", "pem"):
                    parts.append(0 if g == "tsr" else 1)
                else:
                    parts.append(g if rank == _FILES_RANK else int(g))
            return rank, tuple(parts)
    raise VerifyError("this bundle format has no member of this name", _show(name))


_LOCAL = 0x04034B50
_CENTRAL = 0x02014B50
_END = 0x06054B50
_ZIP_VERSION = 20
_UNIX = 3
_DOS_DATE = (0 << 9) | (1 << 5) | 1  # 1980-01-01
_DOS_TIME = 0  # 00:00:00
_EXTERNAL_ATTR = 0o100644 << 16  # a regular file, rw-r--r--


def _local_header(name: bytes, crc: int, size: int) -> bytes:
    return (
        struct.pack(
            "<IHHHHHIIIHH",
            _LOCAL,
            _ZIP_VERSION,
            0,
            0,
            _DOS_TIME,
            _DOS_DATE,
            crc,
            size,
            size,
            len(name),
            0,
        )
        + name
    )


def _central_header(name: bytes, crc: int, size: int, offset: int) -> bytes:
    return (
        struct.pack(
            "<IBBBBHHHHIIIHHHHHII",
            _CENTRAL,
            _ZIP_VERSION,
            _UNIX,
            _ZIP_VERSION,
            0,
            0,
            0,
            _DOS_TIME,
            _DOS_DATE,
            crc,
            size,
            size,
            len(name),
            0,
            0,
            0,
            0,
            _EXTERNAL_ATTR,
            offset,
        )
        + name
    )


def _end_record(count: int, cd_size: int, cd_offset: int) -> bytes:
    return struct.pack("<IHHHHIIH", _END, 0, 0, count, count, cd_size, cd_offset, 0)


Content = bytes | Path | Callable[[], Iterable[bytes]]
"""A member's bytes: in memory, a file streamed from disk, or a function that returns an
iterator of chunks (streamed too: Docket's evidence files come from its chunk store)."""


class Written(NamedTuple):
    path: Path
    sha256: str  # of the file written (the encrypted file, when encrypted)
    size: int


def write_bundle(
    path: Path | str, members: Sequence[tuple[str, Content]], *, passphrase: str | None = None
) -> Written:
    """Write a bundle at ``path``: the canonical ZIP of ``members``, or, with ``passphrase``,
    that ZIP encrypted (``docket-bundle-encrypted/1``). The file is created readable by its
    owner only and appears at ``path`` only once it is complete.

    Members are put in ``MEMBER_ORDER`` whatever order they are given in; file and chunk
    members are streamed, never held in memory. Raises BundleError for a name the format does
    not have, a name given twice, too many members, or a bundle of 4 GiB or more.
    """
    keyed = []
    for name, content in members:
        try:
            keyed.append((member_key(name), name, content))
        except VerifyError:
            raise BundleError(f"a bundle has no member called {name!r}") from None
    keyed.sort(key=lambda k: k[0])
    for a, b in itertools.pairwise(keyed):
        if a[0] == b[0]:
            raise BundleError(f"the member {a[1]!r} is given twice")
    if len(keyed) > MAX_MEMBERS:
        raise BundleError(f"a bundle holds at most {MAX_MEMBERS:,} members")
    target = Path(path)
    temporary: list[Path] = []
    try:
        plain = _temporary(target, temporary)
        ordered = [(name, content) for _, name, content in keyed]
        if passphrase is None:
            with plain.open("r+b") as out:
                _write_zip(out, ordered)
        else:
            # encrypted as it is written: the unencrypted ZIP never touches the disk
            with plain.open("r+b") as out:
                sealing = _Sealing(out, passphrase)
                _write_zip_in_order(sealing, ordered)
                sealing.close()
        digest = hashlib.sha256()
        with plain.open("rb") as f:
            while block := f.read(READ_BLOCK):
                digest.update(block)
        size = plain.stat().st_size
        plain.replace(target)
        return Written(target, digest.hexdigest(), size)
    finally:
        for t in temporary:
            t.unlink(missing_ok=True)


def source_bytes() -> bytes:
    """This file's bytes: the ``docket-verify.py`` every bundle carries."""
    return Path(__file__).read_bytes()


def _temporary(target: Path, made: list[Path]) -> Path:
    fd, name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".part", dir=target.parent)
    os.close(fd)
    made.append(Path(name))
    return Path(name)


def _chunks(content: Content) -> Iterator[bytes]:
    if isinstance(content, bytes):
        yield content
    elif isinstance(content, Path):
        with content.open("rb") as src:
            while block := src.read(READ_BLOCK):
                yield block
    else:
        yield from content()


def _write_zip(out: BinaryIO, members: list[tuple[str, Content]]) -> None:
    central: list[bytes] = []
    offset = 0
    for name, content in members:
        raw_name = name.encode("ascii")
        out.write(_local_header(raw_name, 0, 0))  # CRC and size are filled in below
        crc = size = 0
        for block in _chunks(content):
            size += len(block)
            _check_room(offset + 30 + len(raw_name) + size)
            crc = zlib.crc32(block, crc)
            out.write(block)
        end = out.tell()
        out.seek(offset)
        out.write(_local_header(raw_name, crc, size))
        out.seek(end)
        central.append(_central_header(raw_name, crc, size, offset))
        offset = end
    cd = b"".join(central)
    _check_room(offset + len(cd) + 22)
    out.write(cd)
    out.write(_end_record(len(central), len(cd), offset))


def _write_zip_in_order(out: _Sealing, members: list[tuple[str, Content]]) -> None:
    """The same bytes as ``_write_zip``, written front to back without seeking: each
    member's CRC and size are found by reading it once before it is written."""
    central: list[bytes] = []
    offset = 0
    for name, content in members:
        raw_name = name.encode("ascii")
        crc = size = 0
        for block in _chunks(content):
            size += len(block)
            _check_room(offset + 30 + len(raw_name) + size)
            crc = zlib.crc32(block, crc)
        out.write(_local_header(raw_name, crc, size))
        again = 0
        for block in _chunks(content):
            again += len(block)
            out.write(block)
        if again != size:
            raise BundleError(f"the member {name!r} changed while the bundle was written")
        central.append(_central_header(raw_name, crc, size, offset))
        offset += 30 + len(raw_name) + size
    cd = b"".join(central)
    _check_room(offset + len(cd) + 22)
    out.write(cd)
    out.write(_end_record(len(central), len(cd), offset))


class _Sealing:
    """A write-only stream that encrypts what is written into ``docket-bundle-encrypted/1``
    chunks as it goes, holding back one chunk so the last can be marked as last."""

    def __init__(self, out: BinaryIO, passphrase: str, log2_n: int = 17, r: int = 8, p: int = 1):
        if not passphrase:
            raise BundleError("an encrypted bundle needs a passphrase")
        salt, self.prefix = os.urandom(16), os.urandom(8)
        try:
            key = _scrypt(passphrase, salt, log2_n, r, p)
        except VerifyError as exc:
            raise BundleError(exc.reason) from None
        self.header = ENCRYPTED_MAGIC + _HEADER.pack(salt, log2_n, r, p, self.prefix)
        self.aead = AESGCM(key)
        self.out = out
        self.out.write(self.header)
        self.buffer = bytearray()
        self.held: bytes | None = None
        self.index = 0

    def _seal(self, block: bytes, final: bool) -> None:
        nonce = self.prefix + struct.pack(">I", self.index)
        sealed = self.aead.encrypt(nonce, block, self.header + (b"\x01" if final else b""))
        self.out.write(struct.pack(">I", len(sealed)) + sealed)
        self.index += 1

    def write(self, data: bytes) -> None:
        self.buffer += data
        while len(self.buffer) > _CHUNK:
            if self.held is not None:
                self._seal(self.held, final=False)
            self.held = bytes(self.buffer[:_CHUNK])
            del self.buffer[:_CHUNK]

    def close(self) -> None:
        if self.buffer:
            if self.held is not None:
                self._seal(self.held, final=False)
            self.held = bytes(self.buffer)
            self.buffer.clear()
        self._seal(self.held or b"", final=True)
        self.out.flush()


def _check_room(size: int) -> None:
    if size > MAX_BUNDLE_BYTES:
        raise BundleError("a bundle must be smaller than 4 GiB; leave out some large files")


@dataclass(frozen=True)
class Member:
    name: str
    size: int
    sha256: bytes
    data: bytes | None  # kept only for the small members the checks read


_KEEP_LIMITS = {
    0: 64 << 20,  # manifest.json
    1: 4096,  # key.vkey
    2: MAX_NOTE_BYTES,  # checkpoints
    3: MAX_PROOF_HASHES * 46,  # consistency proofs
    4: 256 << 10,  # timestamps and their root certificates
    5: 32 << 20,  # entries
    6: MAX_NOTE_BYTES + MAX_PROOF_HASHES * 46 + 256,  # tlog-proofs
    7: 32 << 20,  # messages
    8: 256 + MAX_PROOF_HASHES * 46,  # message proofs
}


def _read_exact(f: BinaryIO, n: int, what: str) -> bytes:
    data = f.read(n)
    if len(data) != n:
        raise VerifyError(f"the file ends in the middle of {what}: it is truncated or not a bundle")
    return data


def read_bundle(path: Path) -> list[Member]:
    """Read a bundle's members in one pass, checking that the file is byte for byte the
    canonical ZIP of those members (what ``write_bundle`` writes) and every CRC-32."""
    members: list[Member] = []
    kept = 0
    with path.open("rb") as f:
        total = os.fstat(f.fileno()).st_size
        if total > MAX_BUNDLE_BYTES:
            raise VerifyError("the file is larger than a bundle can be (4 GiB)")
        pos = 0
        last: tuple[int, tuple[int | str, ...]] | None = None
        central: list[bytes] = []
        while True:
            head = _read_exact(f, 4, "a member's header")
            (sig,) = struct.unpack("<I", head)
            if sig == _CENTRAL or (sig == _END and not members):
                break
            if sig != _LOCAL:
                where = "is not a Docket bundle (not a ZIP file)" if pos == 0 else "is damaged"
                raise VerifyError(f"the file {where}: unexpected bytes at byte {pos}")
            fixed = head + _read_exact(f, 26, "a member's header")
            crc, _, size, name_len = struct.unpack("<IIIH", fixed[14:28])
            raw_name = _read_exact(f, name_len, "a member's name")
            try:
                name = raw_name.decode("ascii")
            except UnicodeDecodeError:
                raise VerifyError(f"a member's name at byte {pos} is not plain ASCII") from None
            key = member_key(name)
            if fixed + raw_name != _local_header(raw_name, crc, size):
                raise VerifyError(
                    "its ZIP header is not in the canonical form (changed or rewritten)", name
                )
            if last is not None and key <= last:
                raise VerifyError("the member is out of order or appears twice", name)
            last = key
            if len(members) >= MAX_MEMBERS:
                raise VerifyError(f"the bundle has more than {MAX_MEMBERS:,} members")
            if pos + 30 + name_len + size > total:
                raise VerifyError("the file ends inside this member: it is truncated", name)
            limit = _KEEP_LIMITS.get(key[0])
            if limit is not None and size > limit:
                raise VerifyError("the member is larger than this format allows", name)
            kept += size if limit is not None else 0
            if kept > MAX_KEPT_BYTES:
                raise VerifyError("the bundle's records are larger than this format allows", name)
            digest = hashlib.sha256()
            computed = 0
            blocks: list[bytes] = []
            left = size
            while left:
                block = _read_exact(f, min(left, READ_BLOCK), f"member {name}")
                left -= len(block)
                computed = zlib.crc32(block, computed)
                digest.update(block)
                if limit is not None:
                    blocks.append(block)
            if computed != crc:
                raise VerifyError(
                    "its bytes fail their CRC-32 check: the member was damaged or changed", name
                )
            members.append(
                Member(name, size, digest.digest(), b"".join(blocks) if limit is not None else None)
            )
            central.append(_central_header(raw_name, crc, size, pos))
            pos += 30 + name_len + size
        cd = b"".join(central)
        expected = cd + _end_record(len(central), len(cd), pos)
        if total - pos != len(expected):
            raise VerifyError("the ZIP directory at the end of the file is not the canonical one")
        rest = head + f.read(len(expected) - 4)
        if rest != expected:
            raise VerifyError("the ZIP directory at the end of the file is not the canonical one")
    return members


# --- encrypted bundles --------------------------------------------------------------------------

_CHUNK = 1 << 20
_TAG = 16
_HEADER = struct.Struct(">16sBBB8s")  # salt, log2(N), r, p, nonce prefix


def is_encrypted(path: Path) -> bool:
    with path.open("rb") as f:
        return f.read(len(ENCRYPTED_MAGIC)) == ENCRYPTED_MAGIC


def _passphrase_bytes(passphrase: str) -> bytes:
    return unicodedata.normalize("NFC", passphrase).encode("utf-8")


def _scrypt(passphrase: str, salt: bytes, log2_n: int, r: int, p: int) -> bytes:
    if not 10 <= log2_n <= 20 or not 1 <= r <= 32 or not 1 <= p <= 16:
        raise VerifyError(
            "the encrypted bundle asks for key-derivation settings outside the allowed range"
        )
    n = 1 << log2_n
    if 128 * r * n > 1 << 30:
        raise VerifyError("the encrypted bundle asks for more memory than allowed (1 GiB)")
    return hashlib.scrypt(
        _passphrase_bytes(passphrase),
        salt=salt,
        n=n,
        r=r,
        p=p,
        maxmem=128 * r * (n + p + 2) + 4096,
        dklen=32,
    )


def encrypt_bundle(
    source: Path, target: Path, passphrase: str, *, log2_n: int = 17, r: int = 8, p: int = 1
) -> None:
    """Encrypt the bundle ZIP at ``source`` into ``target`` (``docket-bundle-encrypted/1``):
    scrypt for the key, AES-256-GCM in 1 MiB chunks, streamed."""
    if not passphrase:
        raise BundleError("an encrypted bundle needs a passphrase")
    salt, prefix = os.urandom(16), os.urandom(8)
    try:
        key = _scrypt(passphrase, salt, log2_n, r, p)
    except VerifyError as exc:
        raise BundleError(exc.reason) from None
    header = ENCRYPTED_MAGIC + _HEADER.pack(salt, log2_n, r, p, prefix)
    aead = AESGCM(key)
    fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        with os.fdopen(fd, "wb") as out, source.open("rb") as src:
            out.write(header)
            index = 0
            block = src.read(_CHUNK)
            while True:
                following = src.read(_CHUNK)
                final = not following
                nonce = prefix + struct.pack(">I", index)
                sealed = aead.encrypt(nonce, block, header + (b"\x01" if final else b""))
                out.write(struct.pack(">I", len(sealed)) + sealed)
                if final:
                    break
                block, index = following, index + 1
    except BaseException:
        target.unlink(missing_ok=True)
        raise


def decrypt_bundle(source: Path, out: BinaryIO, passphrase: str) -> None:
    """Decrypt an encrypted bundle into ``out``, chunk by chunk; VerifyError when the
    passphrase is wrong or the file was truncated, reordered or changed."""
    with source.open("rb") as f:
        total = os.fstat(f.fileno()).st_size
        if total > MAX_BUNDLE_BYTES + (MAX_BUNDLE_BYTES // _CHUNK + 1) * (_TAG + 4) + 256:
            raise VerifyError("the encrypted file is larger than a bundle can be")
        if f.read(len(ENCRYPTED_MAGIC)) != ENCRYPTED_MAGIC:
            raise VerifyError("the file is not an encrypted Docket bundle")
        params = f.read(_HEADER.size)
        if len(params) != _HEADER.size:
            raise VerifyError("the encrypted file ends inside its header: it is truncated")
        salt, log2_n, r, p, prefix = _HEADER.unpack(params)
        header = ENCRYPTED_MAGIC + params
        aead = AESGCM(_scrypt(passphrase, salt, log2_n, r, p))
        index = 0
        size_bytes = f.read(4)
        while True:
            if len(size_bytes) != 4:
                raise VerifyError("the encrypted file is truncated")
            (length,) = struct.unpack(">I", size_bytes)
            if not _TAG <= length <= _CHUNK + _TAG:
                raise VerifyError(
                    "the encrypted file is damaged (a chunk has an impossible length)"
                )
            sealed = f.read(length)
            if len(sealed) != length:
                raise VerifyError("the encrypted file is truncated")
            size_bytes = f.read(4)
            final = not size_bytes
            if not final and length != _CHUNK + _TAG:
                raise VerifyError("the encrypted file is damaged (a chunk in the middle is short)")
            if final and index > 0 and length == _TAG:
                raise VerifyError("the encrypted file is damaged (its last chunk is empty)")
            nonce = prefix + struct.pack(">I", index)
            try:
                plain = aead.decrypt(nonce, sealed, header + (b"\x01" if final else b""))
            except InvalidTag:
                if index == 0:
                    raise VerifyError(
                        "the passphrase is wrong, or the file was changed or truncated"
                    ) from None
                raise VerifyError(
                    f"the encrypted file was changed or truncated (at part {index + 1})"
                ) from None
            out.write(plain)
            if final:
                return
            index += 1
            if index >= 1 << 32:
                raise VerifyError("the encrypted file has too many chunks")


# --- the manifest and the records ---------------------------------------------------------------


def _int(value: Any, what: str, low: int = 0) -> int:
    if type(value) is not int or value < low or value > 2**63:
        raise VerifyError(f"{what} is not a whole number of at least {low}")
    return value


def _str(value: Any, what: str, limit: int = 4096) -> str:
    if not isinstance(value, str):
        raise VerifyError(f"{what} is not text")
    return _plain(value, what, limit)


def _dict(
    value: Any, what: str, required: Sequence[str], optional: Sequence[str] = ()
) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise VerifyError(f"{what} is not a JSON object")
    missing = [k for k in required if k not in value]
    if missing:
        raise VerifyError(f"{what} lacks {', '.join(repr(k) for k in missing)}")
    extra = [k for k in value if k not in required and k not in optional]
    if extra:
        names = ", ".join(_show(repr(k)) for k in extra[:5])
        raise VerifyError(f"{what} has fields this format does not have: {names}")
    return value


def _list(value: Any, what: str) -> list[Any]:
    if not isinstance(value, list):
        raise VerifyError(f"{what} is not a list")
    return value


def _increasing(values: Sequence[Any], what: str) -> None:
    for a, b in itertools.pairwise(values):
        if not a < b:
            raise VerifyError(f"{what} is not in increasing order without repeats")


@dataclass(frozen=True)
class ManifestEntry:
    seq: int
    type: str
    subject: str
    file: str
    proof: str


@dataclass(frozen=True)
class ManifestMessage:
    id: int
    batch: int
    file: str
    proof: str


@dataclass(frozen=True)
class ManifestFile:
    sha256: str
    size: int
    file: str
    name: str
    media_type: str


@dataclass(frozen=True)
class ManifestTimestamp:
    checkpoint: int
    file: str
    root: str | None


@dataclass(frozen=True)
class Manifest:
    created_at: str
    created_by: str
    origin: str
    key: str
    fingerprint: str
    log_size: int
    recipient: str
    purpose: str
    audience: str
    checkpoints: tuple[int, ...]
    timestamps: tuple[ManifestTimestamp, ...]
    entries: tuple[ManifestEntry, ...]
    messages: tuple[ManifestMessage, ...]
    files: tuple[ManifestFile, ...]
    withheld: dict[str, Any]
    withheld_entries: int
    withheld_categories: tuple[str, ...]
    export_entry: int
    reports: tuple[str, ...]


def _expect_name(value: Any, expected: str, what: str) -> None:
    if value != expected:
        raise VerifyError(f"{what} should be {expected!r}")


def parse_manifest(data: bytes) -> Manifest:
    doc = _dict(
        parse_canonical_json(data, "the manifest"),
        "the manifest",
        [
            "format", "created_at", "created_by", "origin", "key", "fingerprint", "log_size",
            "recipient", "purpose", "audience", "checkpoints", "consistency", "timestamps",
            "entries", "messages", "files", "withheld", "export_entry", "reports",
        ],
    )  # fmt: skip
    if doc["format"] != FORMAT:
        raise VerifyError(f"the manifest's format is not {FORMAT} (this checker reads only that)")
    created_at = _str(doc["created_at"], "the creation time")
    if not _RFC3339_UTC.fullmatch(created_at):
        raise VerifyError("the manifest's creation time is not in the form 2026-11-24T10:15:00Z")
    log_size = _int(doc["log_size"], "the log size", 1)
    checkpoints = []
    for i, cp in enumerate(_list(doc["checkpoints"], "the list of checkpoints")):
        cp = _dict(cp, f"checkpoint {i + 1} in the manifest", ["size", "file"])
        size = _int(cp["size"], "a checkpoint's size", 1)
        _expect_name(cp["file"], f"checkpoints/{size}.checkpoint", "a checkpoint's file")
        checkpoints.append(size)
    if not checkpoints:
        raise VerifyError("the manifest lists no checkpoint")
    _increasing(checkpoints, "the list of checkpoints")
    if checkpoints[-1] != log_size:
        raise VerifyError("the newest checkpoint's size is not the manifest's log size")
    consistency = _list(doc["consistency"], "the list of consistency proofs")
    if len(consistency) != len(checkpoints) - 1:
        raise VerifyError(
            "the manifest does not list one consistency proof per pair of checkpoints"
        )
    for i, c in enumerate(consistency):
        c = _dict(c, "a consistency proof in the manifest", ["from", "to", "file"])
        a, b = checkpoints[i], checkpoints[i + 1]
        if c["from"] != a or c["to"] != b or type(c["from"]) is not int or type(c["to"]) is not int:
            raise VerifyError(f"consistency proof {i + 1} should be from {a} to {b}")
        _expect_name(c["file"], f"consistency/{a}-{b}.proof", "a consistency proof's file")
    timestamps = []
    for t in _list(doc["timestamps"], "the list of timestamps"):
        t = _dict(t, "a timestamp in the manifest", ["checkpoint", "file"], ["root"])
        size = _int(t["checkpoint"], "a timestamp's checkpoint", 1)
        if size not in checkpoints:
            raise VerifyError(
                f"a timestamp is over checkpoint {size}, which the bundle does not hold"
            )
        name = _str(t["file"], "a timestamp's file")
        m = re.fullmatch(rf"timestamps/{size}-([1-9][0-9]{{0,5}})\.tsr", name)
        if not m:
            raise VerifyError(f"a timestamp's file should be named timestamps/{size}-<n>.tsr")
        root = t.get("root")
        if root is not None:
            _expect_name(root, f"timestamps/{size}-{m.group(1)}.pem", "a timestamp's root file")
        timestamps.append(ManifestTimestamp(size, name, root))
    _increasing([member_key(t.file) for t in timestamps], "the list of timestamps")
    entries = []
    for e in _list(doc["entries"], "the list of entries"):
        e = _dict(e, "an entry in the manifest", ["seq", "type", "subject", "file", "proof"])
        seq = _int(e["seq"], "an entry's number")
        _expect_name(e["file"], f"entries/{seq}.json", "an entry's file")
        _expect_name(e["proof"], f"proofs/{seq}.tlog-proof", "an entry's proof")
        entries.append(
            ManifestEntry(
                seq,
                _str(e["type"], "an entry's type", 200),
                _str(e["subject"], "an entry's subject", 200),
                e["file"],
                e["proof"],
            )
        )
    _increasing([e.seq for e in entries], "the list of entries")
    messages = []
    for m_ in _list(doc["messages"], "the list of messages"):
        m_ = _dict(m_, "a message in the manifest", ["id", "batch", "file", "proof"])
        mid = _int(m_["id"], "a message's number")
        _expect_name(m_["file"], f"messages/{mid}.json", "a message's file")
        _expect_name(m_["proof"], f"message-proofs/{mid}.proof", "a message's proof")
        messages.append(
            ManifestMessage(mid, _int(m_["batch"], "a message's batch"), m_["file"], m_["proof"])
        )
    _increasing([m.id for m in messages], "the list of messages")
    files = []
    for f in _list(doc["files"], "the list of files"):
        f = _dict(f, "a file in the manifest", ["sha256", "size", "file", "name", "media_type"])
        sha = _str(f["sha256"], "a file's SHA-256")
        if not _HEX64.fullmatch(sha):
            raise VerifyError("a file's SHA-256 is not 64 lowercase hex digits")
        _expect_name(f["file"], f"files/{sha}", "a file's member")
        files.append(
            ManifestFile(
                sha,
                _int(f["size"], "a file's size"),
                f["file"],
                _str(f["name"], "a file's name", 1024),
                _str(f["media_type"], "a file's type", 255),
            )
        )
    _increasing([f.sha256 for f in files], "the list of files")
    withheld = _dict(doc["withheld"], "the withheld summary", ["entries", "categories"])
    categories = tuple(
        _str(c, "a withheld category", 200)
        for c in _list(withheld["categories"], "the withheld categories")
    )
    reports = tuple(
        _str(r, "a report's name") for r in _list(doc["reports"], "the list of reports")
    )
    if len(set(reports)) != len(reports) or not set(reports) <= {"report.pdf", "report.html"}:
        raise VerifyError("the list of reports may name only report.pdf and report.html, once each")
    export_entry = _int(doc["export_entry"], "the export entry's number")
    if export_entry not in {e.seq for e in entries}:
        raise VerifyError("the export entry is not among the disclosed entries")
    return Manifest(
        created_at=created_at,
        created_by=_str(doc["created_by"], "the program that made the bundle", 200),
        origin=_str(doc["origin"], "the log's origin", 1024),
        key=_str(doc["key"], "the key", 1024),
        fingerprint=_str(doc["fingerprint"], "the fingerprint", 200),
        log_size=log_size,
        recipient=_str(doc["recipient"], "the recipient"),
        purpose=_str(doc["purpose"], "the purpose"),
        audience=_str(doc["audience"], "the audience", 200),
        checkpoints=tuple(checkpoints),
        timestamps=tuple(timestamps),
        entries=tuple(entries),
        messages=tuple(messages),
        files=tuple(files),
        withheld=withheld,
        withheld_entries=_int(withheld["entries"], "the number of withheld entries"),
        withheld_categories=categories,
        export_entry=export_entry,
        reports=reports,
    )


@dataclass(frozen=True)
class LogEntry:
    seq: int
    type: str
    subject: str
    recorded_at: str
    record: Any


_ENTRY_KEYS = ("clock", "record", "recorded_at", "salt", "seq", "subject", "type", "v")


def parse_entry(data: bytes) -> LogEntry:
    doc = _dict(
        parse_canonical_json(data, "the entry"), "the entry", _ENTRY_KEYS, ("corrects", "reason")
    )
    if doc["v"] != 1 or type(doc["v"]) is not int:
        raise VerifyError("the entry has a version this checker does not know")
    if doc["clock"] != "device":
        raise VerifyError("the entry's clock label is not 'device'")
    salt = (
        strict_b64decode(doc["salt"], "the entry's salt") if isinstance(doc["salt"], str) else b""
    )
    if len(salt) != 32:
        raise VerifyError("the entry's salt is not 32 bytes of base64")
    recorded_at = _str(doc["recorded_at"], "the entry's time", 64)
    if not _RFC3339_UTC.fullmatch(recorded_at):
        raise VerifyError("the entry's time is not in the form 2026-11-24T10:15:00Z")
    if "corrects" in doc:
        _int(doc["corrects"], "the entry it corrects")
    if "reason" in doc:
        _str(doc["reason"], "the entry's reason", 100_000)
    record = doc["record"]
    if record is not None and not isinstance(record, dict):
        raise VerifyError("the entry's record is not a JSON object")
    return LogEntry(
        _int(doc["seq"], "the entry's number"),
        _str(doc["type"], "the entry's type", 200),
        _str(doc["subject"], "the entry's subject", 200),
        recorded_at,
        record,
    )


# --- the report ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Failure:
    member: str | None
    reason: str


@dataclass(frozen=True)
class ItemTime:
    """When a disclosed entry or message is shown to have been in the log."""

    no_later_than: datetime | None  # from the earliest trusted timestamp covering it
    timestamp: str | None  # that timestamp's member
    untrusted_time: datetime | None  # from a timestamp that was not independently trusted
    device_time: str  # recorded_at of the entry (or of the message's batch): device clock


@dataclass(frozen=True)
class EntryResult:
    seq: int
    type: str
    subject: str
    ok: bool
    time: ItemTime | None


@dataclass(frozen=True)
class MessageResult:
    id: int
    batch: int
    ok: bool
    time: ItemTime | None


@dataclass(frozen=True)
class TimestampResult:
    file: str
    checkpoint: int
    ok: bool
    trusted: bool
    detail: str
    authority: str | None = None
    gen_time: datetime | None = None
    accuracy: timedelta | None = None
    latest: datetime | None = None
    policy: str | None = None
    nonce: int | None = None
    serial: int | None = None
    recorded_roots: tuple[str, ...] = ()  # SHA-256 of each certificate in the bundle's .pem


@dataclass(frozen=True)
class FileResult:
    sha256: str
    size: int
    name: str
    media_type: str
    ok: bool
    named_by: tuple[str, ...]


@dataclass
class Report:
    """Everything a check found, for ``render_text`` and ``render_json``."""

    bundle: str
    encrypted: bool = False
    failures: list[Failure] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    fingerprint: str | None = None
    key: str | None = None
    key_pinned: bool | None = None
    manifest: Manifest | None = None
    log_size: int | None = None
    checkpoints: list[int] = field(default_factory=list)
    timestamps: list[TimestampResult] = field(default_factory=list)
    entries: list[EntryResult] = field(default_factory=list)
    messages: list[MessageResult] = field(default_factory=list)
    files: list[FileResult] = field(default_factory=list)
    missing_files: list[tuple[str, tuple[str, ...]]] = field(default_factory=list)
    export_bound: bool = False  # the manifest matches the export entry in the log

    @property
    def ok(self) -> bool:
        return not self.failures

    def fail(self, member: str | None, reason: str) -> None:
        self.failures.append(Failure(member, reason))


# --- the check ----------------------------------------------------------------------------------


_FIXED = ("manifest.json", "key.vkey", "VERIFY.txt", "WITHHELD.txt", "docket-verify.py")
_TEXTS = ("VERIFY.txt", "WITHHELD.txt", "docket-verify.py")


def verify_bundle(
    path: Path,
    *,
    key: str | None = None,
    tsa_roots: Sequence[x509.Certificate] = (),
    passphrase: str | None = None,
) -> Report:
    """Check the bundle at ``path``: every check of docs/bundle-format.md, offline.

    ``key`` pins the diary's verifier key; ``tsa_roots`` are the timestamp root certificates
    the recipient trusts; ``passphrase`` opens an encrypted bundle (a failure without it).
    Never raises for anything in the bundle: every problem becomes a Failure in the report.
    """
    report = Report(bundle=path.name)
    try:
        if is_encrypted(path):
            report.encrypted = True
            if passphrase is None:
                report.fail(None, "the bundle is encrypted, and no passphrase was given")
                return report
            fd, plain = tempfile.mkstemp(prefix="docket-verify-", suffix=".zip")
            try:
                with os.fdopen(fd, "wb") as out:
                    decrypt_bundle(path, out, passphrase)
                _check(Path(plain), report, key, tsa_roots)
            finally:
                Path(plain).unlink()
        else:
            _check(path, report, key, tsa_roots)
    except VerifyError as exc:
        report.fail(exc.member, exc.reason)
    except OSError as exc:
        report.fail(None, f"the bundle could not be read ({exc.strerror or exc})")
    except Exception as exc:  # a case no check foresaw: never a pass, never a crash
        report.fail(None, f"the checker could not finish ({type(exc).__name__}): treat as failed")
    return report


def _check(
    path: Path, report: Report, pinned: str | None, roots: Sequence[x509.Certificate]
) -> None:
    members = {m.name: m for m in read_bundle(path)}
    for name in ("manifest.json", "key.vkey"):
        if name not in members:
            raise VerifyError("the bundle has no such member", name)
    key = _check_key(members["key.vkey"], report, pinned)
    try:
        manifest = parse_manifest(_data(members["manifest.json"]))
    except VerifyError as exc:
        raise VerifyError(exc.reason, "manifest.json") from None
    report.manifest = manifest
    report.log_size = manifest.log_size
    report.checkpoints = list(manifest.checkpoints)
    if manifest.key != key.encode():
        report.fail("manifest.json", "the key it names is not the one in key.vkey")
    if manifest.fingerprint != key.fingerprint():
        report.fail("manifest.json", "the fingerprint it states is not the fingerprint of key.vkey")
    _check_members(manifest, members, report)
    checkpoints = _check_checkpoints(manifest, members, key, report)
    _check_consistency(manifest, members, checkpoints, report)
    _check_timestamps(manifest, members, roots, report)
    entries = _check_entries(manifest, members, checkpoints, report)
    messages = _check_messages(manifest, members, entries, report)
    _check_files(manifest, members, entries, messages, report)
    _check_export(manifest, members, entries, report)
    _times(manifest, entries, report)


def _data(member: Member) -> bytes:
    assert member.data is not None  # every member a check reads is kept by read_bundle
    return member.data


def _check_key(member: Member, report: Report, pinned: str | None) -> VerifierKey:
    try:
        text = _decode_text(_data(member), "the key file")
        if not text.endswith("\n") or text.count("\n") != 1:
            raise VerifyError("the key file must hold exactly one line")
        key = VerifierKey.parse(text[:-1])
    except VerifyError as exc:
        raise VerifyError(exc.reason, "key.vkey") from None
    report.key = key.encode()
    report.fingerprint = key.fingerprint()
    if pinned is not None:
        report.key_pinned = pinned == key.encode()
        if not report.key_pinned:
            report.fail(
                "key.vkey",
                "this is not the key you gave with --key: the bundle was not signed by that diary",
            )
    return key


def _check_members(manifest: Manifest, members: dict[str, Member], report: Report) -> None:
    expected = set(_FIXED) | set(manifest.reports)
    expected |= {f"checkpoints/{s}.checkpoint" for s in manifest.checkpoints}
    expected |= {
        f"consistency/{a}-{b}.proof"
        for a, b in zip(manifest.checkpoints, manifest.checkpoints[1:], strict=False)
    }
    for t in manifest.timestamps:
        expected.add(t.file)
        if t.root is not None:
            expected.add(t.root)
    for e in manifest.entries:
        expected |= {e.file, e.proof}
    for m in manifest.messages:
        expected |= {m.file, m.proof}
    expected |= {f.file for f in manifest.files}
    for name in sorted(set(members) - expected, key=member_key):
        report.fail(name, "the manifest does not list this member")
    for name in sorted(expected - set(members), key=member_key):
        report.fail(name, "the manifest lists this member, but the bundle does not hold it")


def _check_checkpoints(
    manifest: Manifest, members: dict[str, Member], key: VerifierKey, report: Report
) -> dict[int, tuple[Checkpoint, bytes]]:
    out: dict[int, tuple[Checkpoint, bytes]] = {}
    for size in manifest.checkpoints:
        name = f"checkpoints/{size}.checkpoint"
        if name not in members:
            continue
        data = _data(members[name])
        try:
            cp = parse_checkpoint(data, key)
            if cp.origin != manifest.origin:
                raise VerifyError("its origin is not the manifest's origin")
            if cp.size != size:
                raise VerifyError(
                    f"it is for a log of {cp.size} entries, not {size} as its name says"
                )
        except VerifyError as exc:
            report.fail(name, exc.reason)
            continue
        out[size] = (cp, data)
    return out


def _check_consistency(
    manifest: Manifest,
    members: dict[str, Member],
    checkpoints: dict[int, tuple[Checkpoint, bytes]],
    report: Report,
) -> None:
    for a, b in zip(manifest.checkpoints, manifest.checkpoints[1:], strict=False):
        name = f"consistency/{a}-{b}.proof"
        if name not in members or a not in checkpoints or b not in checkpoints:
            continue
        try:
            proof = parse_hash_list(_data(members[name]))
        except VerifyError as exc:
            report.fail(name, exc.reason)
            continue
        try:
            verify_consistency(a, b, proof, checkpoints[a][0].root, checkpoints[b][0].root)
        except VerifyError as exc:
            report.fail(
                name,
                f"the log of {b} entries cannot be shown to extend the log of {a} entries "
                f"({exc.reason}). Either this proof was changed, or the log was rewritten "
                "between the two checkpoints",
            )


def _check_timestamps(
    manifest: Manifest,
    members: dict[str, Member],
    roots: Sequence[x509.Certificate],
    report: Report,
) -> None:
    for t in manifest.timestamps:
        cp_name = f"checkpoints/{t.checkpoint}.checkpoint"
        if t.file not in members or cp_name not in members:
            continue
        recorded: tuple[str, ...] = ()
        if t.root is not None and t.root in members:
            try:
                pem = x509.load_pem_x509_certificates(_data(members[t.root]))
                recorded = tuple(hashlib.sha256(_der(c)).hexdigest() for c in pem)
            except ValueError:
                report.fail(t.root, "it does not hold PEM certificates")
        try:
            token = parse_timestamp_response(_data(members[t.file]))
            check = check_timestamp(token, _data(members[cp_name]), roots)
        except VerifyError as exc:
            report.fail(t.file, exc.reason)
            report.timestamps.append(
                TimestampResult(t.file, t.checkpoint, False, False, exc.reason)
            )
            continue
        latest = token.gen_time + (token.accuracy or timedelta(0))
        report.timestamps.append(
            TimestampResult(
                t.file, t.checkpoint, True, check.trusted, check.detail, check.authority,
                token.gen_time, token.accuracy, latest, token.policy, token.nonce, token.serial,
                recorded,
            )
        )  # fmt: skip


def _check_entries(
    manifest: Manifest,
    members: dict[str, Member],
    checkpoints: dict[int, tuple[Checkpoint, bytes]],
    report: Report,
) -> dict[int, LogEntry]:
    good: dict[int, LogEntry] = {}
    newest = checkpoints.get(manifest.log_size)
    for e in manifest.entries:
        if e.file not in members or e.proof not in members:
            report.entries.append(EntryResult(e.seq, e.type, e.subject, False, None))
            continue
        data = _data(members[e.file])
        try:
            entry = parse_entry(data)
            if entry.seq != e.seq:
                raise VerifyError(f"it is entry {entry.seq}, not {e.seq} as its name says")
            if entry.type != e.type or entry.subject != e.subject:
                raise VerifyError("its type or subject is not what the manifest says")
        except VerifyError as exc:
            report.fail(e.file, exc.reason)
            report.entries.append(EntryResult(e.seq, e.type, e.subject, False, None))
            continue
        try:
            proof = parse_tlog_proof(_data(members[e.proof]))
            if proof.extra is not None:
                raise VerifyError("the proof has an 'extra' line, which this format does not use")
            if proof.index != e.seq:
                raise VerifyError(f"the proof is for entry {proof.index}, not entry {e.seq}")
            if newest is None:
                raise VerifyError(
                    "the newest checkpoint could not be checked, so neither can this proof"
                )
            if proof.checkpoint != newest[1]:
                raise VerifyError(
                    "the checkpoint in the proof is not the bundle's newest checkpoint"
                )
            verify_inclusion(e.seq, newest[0].size, leaf_hash(data), proof.hashes, newest[0].root)
        except VerifyError as exc:
            report.fail(e.proof, exc.reason)
            report.entries.append(EntryResult(e.seq, e.type, e.subject, False, None))
            continue
        good[e.seq] = entry
        report.entries.append(EntryResult(e.seq, e.type, e.subject, True, None))
    return good


def _batch(entry: LogEntry) -> tuple[int, int, int, bytes]:
    rec = entry.record
    if not isinstance(rec, dict):
        raise VerifyError("its batch entry holds no record")
    first = _int(rec.get("first"), "the batch's first message")
    last = _int(rec.get("last"), "the batch's last message")
    count = _int(rec.get("count"), "the batch's count", 1)
    root = rec.get("root")
    if not isinstance(root, str) or not _HEX64.fullmatch(root):
        raise VerifyError("the batch's root hash is not 64 lowercase hex digits")
    return first, last, count, bytes.fromhex(root)


def _file_refs(items: Any, what: str) -> list[tuple[str, int | None]]:
    """(sha256, size) of each file a message record names."""
    out = []
    for a in _list(items, f"{what}'s attachments"):
        if not isinstance(a, dict):
            raise VerifyError(f"{what} has an attachment that is not a JSON object")
        sha, size = a.get("sha256"), a.get("size")
        if sha is None:
            continue
        if not isinstance(sha, str) or not _HEX64.fullmatch(sha):
            raise VerifyError(f"{what} names a file by something that is not a SHA-256")
        out.append((sha, None if size is None else _int(size, "an attachment's size")))
    return out


def _added_refs(entry: LogEntry) -> list[tuple[int, int, str, str, int]]:
    """(message id, place, name, sha256, size) of each file a ``message.files_added`` entry
    adds to an imported message (in a place the message's own record left without a file)."""
    rec = entry.record
    if not isinstance(rec, dict):
        raise VerifyError("it holds no record of the files it adds")
    mid = rec.get("message")
    if type(mid) is not int or entry.subject != f"message/{mid}":
        raise VerifyError("the message it adds files to is not the one its subject names")
    files = rec.get("files")
    if not isinstance(files, list) or not files:
        raise VerifyError("it lists no files")
    out = []
    for f in files:
        if not isinstance(f, dict):
            raise VerifyError("a file it adds is not a JSON object")
        idx, name, sha, size = f.get("idx"), f.get("name"), f.get("sha256"), f.get("size")
        if type(idx) is not int or idx < 0 or not isinstance(name, str):
            raise VerifyError("a file it adds has no place or name in the message")
        if not isinstance(sha, str) or not _HEX64.fullmatch(sha) or type(size) is not int:
            raise VerifyError("a file it adds is not named by a SHA-256 and size")
        out.append((mid, idx, name, sha, size))
    return out


def _check_added_place(message: Any, mid: int, idx: int, name: str) -> None:
    """A file added later must fill a place the disclosed message's record left empty, and
    that place must name the same file (or none)."""
    files = message.get("attachments") if isinstance(message, dict) else None
    place = files[idx] if isinstance(files, list) and idx < len(files) else None
    if not isinstance(place, dict) or place.get("sha256") is not None:
        raise VerifyError(
            f"it adds a file in place {idx + 1} of message {mid}, which the message's record "
            "does not leave empty"
        )
    if place.get("name") not in (None, "", name):
        raise VerifyError(
            f"the file it adds to message {mid} is not the one the message's record names"
        )


def _check_messages(
    manifest: Manifest, members: dict[str, Member], entries: dict[int, LogEntry], report: Report
) -> dict[int, tuple[int, Any]]:
    good: dict[int, tuple[int, Any]] = {}
    for m in manifest.messages:
        if m.file not in members or m.proof not in members:
            report.messages.append(MessageResult(m.id, m.batch, False, None))
            continue
        data = _data(members[m.file])
        try:
            record = parse_canonical_json(data, "the message")
            if (
                not isinstance(record, dict)
                or record.get("id") != m.id
                or type(record.get("id")) is not int
            ):
                raise VerifyError(f"it is not the record of message {m.id}")
            _file_refs(record.get("attachments"), "the message")
        except VerifyError as exc:
            report.fail(m.file, exc.reason)
            report.messages.append(MessageResult(m.id, m.batch, False, None))
            continue
        try:
            proof = parse_message_proof(_data(members[m.proof]))
            if proof.batch != m.batch:
                raise VerifyError(
                    f"the proof is for batch {proof.batch}, but the manifest says {m.batch}"
                )
            batch = entries.get(proof.batch)
            if batch is None:
                raise VerifyError(
                    f"its batch, entry {proof.batch}, is not among the entries that checked out"
                )
            if batch.type != "messages.imported":
                raise VerifyError(f"entry {proof.batch} is not a batch of imported messages")
            first, last, count, root = _batch(batch)
            if not first <= m.id <= last:
                raise VerifyError(
                    f"message {m.id} is not in batch {proof.batch} (messages {first} to {last})"
                )
            if proof.index != m.id - first or proof.size != count:
                raise VerifyError("the proof's position or size does not match the batch entry")
            verify_inclusion(proof.index, proof.size, leaf_hash(data), proof.hashes, root)
        except VerifyError as exc:
            report.fail(m.proof, exc.reason)
            report.messages.append(MessageResult(m.id, m.batch, False, None))
            continue
        good[m.id] = (m.batch, record)
        report.messages.append(MessageResult(m.id, m.batch, True, None))
    return good


def _check_files(
    manifest: Manifest,
    members: dict[str, Member],
    entries: dict[int, LogEntry],
    messages: dict[int, tuple[int, Any]],
    report: Report,
) -> None:
    named: dict[str, list[tuple[str, int | None]]] = {}
    for seq, entry in sorted(entries.items()):
        if entry.type == "attachment.added" and isinstance(entry.record, dict):
            sha, size = entry.record.get("sha256"), entry.record.get("size")
            if isinstance(sha, str) and _HEX64.fullmatch(sha) and type(size) is int:
                named.setdefault(sha, []).append((f"entry {seq}", size))
            else:
                report.fail(
                    f"entries/{seq}.json", "the file it adds is not named by a SHA-256 and size"
                )
        elif entry.type == "message.files_added":
            try:
                for mid, idx, name, sha, size in _added_refs(entry):
                    if mid in messages:
                        _check_added_place(messages[mid][1], mid, idx, name)
                    named.setdefault(sha, []).append(
                        (f"entry {seq} (added later to message {mid})", size)
                    )
            except VerifyError as exc:
                report.fail(f"entries/{seq}.json", exc.reason)
    for mid, (_, record) in sorted(messages.items()):
        for sha, size in _file_refs(record.get("attachments"), "the message"):
            named.setdefault(sha, []).append((f"message {mid}", size))
    listed = set()
    for f in manifest.files:
        listed.add(f.sha256)
        refs = named.get(f.sha256, [])
        ok = True
        member = members.get(f.file)
        problem = None
        if member is None:
            ok = False
        elif member.sha256.hex() != f.sha256:
            problem = "its bytes do not have the SHA-256 its name and the manifest give"
        elif member.size != f.size:
            problem = "its size is not the size the manifest gives"
        elif not refs:
            problem = "no disclosed entry or message names this file"
        elif any(size is not None and size != f.size for _, size in refs):
            problem = "its size is not the size the record naming it gives"
        if problem is not None:
            report.fail(f.file, problem)
            ok = False
        report.files.append(
            FileResult(f.sha256, f.size, f.name, f.media_type, ok, tuple(r for r, _ in refs))
        )
    for sha in sorted(set(named) - listed):
        report.missing_files.append((sha, tuple(r for r, _ in named[sha])))


def _check_export(
    manifest: Manifest, members: dict[str, Member], entries: dict[int, LogEntry], report: Report
) -> None:
    name = f"entries/{manifest.export_entry}.json"
    entry = entries.get(manifest.export_entry)
    if entry is None:
        report.fail(
            name,
            "the export entry did not check out, so the bundle's contents are not bound to the log",
        )
        return
    try:
        if entry.type != "export.made" or not entry.subject.startswith("export/"):
            raise VerifyError("the export entry is not of type export.made with subject export/<n>")
        rec = _dict(
            entry.record,
            "the export record",
            [
                "id",
                "to",
                "purpose",
                "audience",
                "entries",
                "messages",
                "files",
                "reports",
                "texts",
                "withheld",
            ],
        )
        problems = []
        if f"export/{rec['id']}" != entry.subject or isinstance(rec["id"], bool):
            problems.append("its number does not match its subject")
        if (rec["to"], rec["purpose"], rec["audience"]) != (
            manifest.recipient,
            manifest.purpose,
            manifest.audience,
        ):
            problems.append("the recipient, purpose or audience")
        if entry.recorded_at != manifest.created_at:
            problems.append("the creation time")
        disclosed = [e.seq for e in manifest.entries if e.seq != manifest.export_entry]
        if not _same_set(rec["entries"], disclosed):
            problems.append("the list of entries")
        if not _same_set(rec["messages"], [m.id for m in manifest.messages]):
            problems.append("the list of messages")
        if not _same_set(rec["files"], [f.sha256 for f in manifest.files]):
            problems.append("the list of files")
        if canonical_json(rec["withheld"]) != canonical_json(manifest.withheld):
            problems.append("the summary of what was withheld")
        for field_name, names in (("reports", manifest.reports), ("texts", _TEXTS)):
            wanted = {n: members[n].sha256.hex() for n in names if n in members}
            if rec[field_name] != wanted:
                problems.append(f"the SHA-256 of {' or '.join(names) if names else 'the reports'}")
        if problems:
            raise VerifyError(
                "what the export entry in the log recorded differs from this bundle in: "
                + "; ".join(problems)
            )
        report.export_bound = True
    except VerifyError as exc:
        report.fail(name, exc.reason)


def _same_set(recorded: Any, actual: list[Any]) -> bool:
    """The record's list holds exactly ``actual``'s values (of the same types), once each."""
    if not isinstance(recorded, list) or len(recorded) != len(actual):
        return False
    kinds = {type(v) for v in actual}
    if any(type(v) not in kinds for v in recorded):
        return False
    return sorted(recorded) == sorted(actual) and len(set(recorded)) == len(recorded)


def _latest(t: TimestampResult) -> datetime:
    assert t.latest is not None
    return t.latest


def _times(manifest: Manifest, entries: dict[int, LogEntry], report: Report) -> None:
    good = [t for t in report.timestamps if t.ok and t.latest is not None]

    def when(seq: int, device_time: str) -> ItemTime:
        covering = [t for t in good if t.checkpoint > seq]
        trusted = min((t for t in covering if t.trusted), key=_latest, default=None)
        untrusted = min((t for t in covering if not t.trusted), key=_latest, default=None)
        return ItemTime(
            trusted.latest if trusted else None,
            trusted.file if trusted else None,
            untrusted.latest if untrusted else None,
            device_time,
        )

    report.entries = [
        EntryResult(
            e.seq,
            e.type,
            e.subject,
            e.ok,
            when(e.seq, entries[e.seq].recorded_at) if e.ok else None,
        )
        for e in report.entries
    ]
    report.messages = [
        MessageResult(
            m.id, m.batch, m.ok, when(m.batch, entries[m.batch].recorded_at) if m.ok else None
        )
        for m in report.messages
    ]


# --- rendering ----------------------------------------------------------------------------------

_MONTHS = (
    "January", "February", "March", "April", "May", "June", "July", "August", "September",
    "October", "November", "December",
)  # fmt: skip


def _show(text: str) -> str:
    """Text from the bundle made safe to print: control and formatting characters (which
    could move the cursor or reorder a line) shown as escapes."""
    out = []
    for c in text:
        if unicodedata.category(c) in ("Cc", "Cf", "Cs", "Co", "Cn", "Zl", "Zp"):
            out.append(f"\\u{ord(c):04x}" if ord(c) < 0x10000 else f"\\U{ord(c):08x}")
        else:
            out.append(c)
    return "".join(out)


def _human_time(value: datetime) -> str:
    value = value.astimezone(UTC)
    if value.microsecond:
        value = value.replace(microsecond=0) + timedelta(seconds=1)  # round up: "no later than"
    return f"{value.day} {_MONTHS[value.month - 1]} {value.year} at {value:%H:%M:%S} UTC"


def _device_time(text: str) -> str:
    m = _RFC3339_UTC.fullmatch(text)
    if not m:
        return _show(text)
    try:
        return _human_time(datetime.fromisoformat(text.replace("Z", "+00:00")))
    except ValueError:
        return _show(text)


def _iso(value: datetime | None) -> str | None:
    return None if value is None else value.astimezone(UTC).isoformat().replace("+00:00", "Z")


def _plural(n: int, word: str, plural: str | None = None) -> str:
    return f"{n:,} {word if n == 1 else (plural or word + 's')}"


def _not_proven(report: Report) -> list[str]:
    m = report.manifest
    disclosed = len(report.entries)
    out = [
        "That anything the entries, messages or files say is true. The check shows they are "
        "unchanged since they were written into the log; it cannot show they are accurate.",
        "That events happened when the entries say they did. Times typed into an entry, and "
        "times from the device's clock, are the person's own account; nobody vouches for them.",
    ]
    if m is not None and report.log_size is not None:
        out.append(
            "That nothing relevant was left out. The log held "
            f"{_plural(report.log_size, 'entry', 'entries')}; this bundle discloses "
            f"{disclosed:,}, so {_plural(report.log_size - disclosed, 'entry was', 'entries were')}"
            " not disclosed, and this check cannot see what they say."
        )
    else:
        out.append(
            "That nothing relevant was left out: this check sees only what the bundle holds."
        )
    trusted = [t for t in report.timestamps if t.ok and t.trusted and t.latest is not None]
    if trusted:
        first = min(t.latest for t in trusted if t.latest is not None)
        out.append(
            "When anything was written before the first trusted timestamp "
            f"({_human_time(first)}), or how long before its timestamp an entry was written: "
            "a timestamp shows only that the log held an entry by then."
        )
    else:
        out.append(
            "When anything was written: no timestamp was checked against a root certificate "
            "you trust, so every time here rests on the device's clock."
        )
    out.append(
        "Who wrote the entries. The signatures show that the diary's key signed the log, "
        "not who was using the diary."
    )
    if report.messages:
        out.append(
            "Who sent a message, or when. An imported message is as the exported chat or file "
            "showed it; the check cannot show that the sender or the time there is genuine."
        )
    return out


_KEEP_TOGETHER = re.compile(
    r"[0-9]{1,2} (?:" + "|".join(_MONTHS) + r") [0-9]{4} at [0-9:]{8} UTC|[0-9]+ seconds?"
)


def _wrap(text: str, width: int = 92) -> list[str]:
    """One paragraph wrapped for a terminal, never inside a date; an indented line's
    continuations are indented two more spaces (under the text of a "- " bullet)."""
    body = text.lstrip(" ")
    indent = " " * (len(text) - len(body))
    hang = indent + "  " if indent else ""
    glued = _KEEP_TOGETHER.sub(lambda m: m.group(0).replace(" ", "\x1f"), text)
    wrapped = textwrap.wrap(
        glued, width=width, subsequent_indent=hang, break_long_words=False, break_on_hyphens=False
    )
    return [line.replace("\x1f", " ") for line in wrapped] or [""]


def render_text(report: Report) -> str:
    """The report in plain words, for someone who is not technical."""
    lines: list[str] = []

    def add(text: str) -> None:
        lines.extend(_wrap(text))

    add(f"Checking the Docket evidence bundle: {_show(report.bundle)}")
    if report.encrypted:
        add("(an encrypted bundle, opened with the passphrase you gave)")
    add("")
    if report.ok:
        add("RESULT: PASSED. Every check on this bundle passed.")
        add(
            "The disclosed entries and messages are exactly as they were written into the "
            "diary's log, the files match the SHA-256 hashes recorded there, and the log was "
            "signed with the key shown below."
        )
    else:
        add(f"RESULT: FAILED. {_plural(len(report.failures), 'check')} did not pass.")
        add(
            "Do not rely on this bundle as it is. It may have been damaged when it was copied "
            "(ask for a fresh copy) or it may have been changed. What failed:"
        )
        for f in report.failures:
            add(f"  - {_show(f.member) + ': ' if f.member else ''}{f.reason}.")
    add("")
    if report.fingerprint:
        add("The diary's key")
        add(f"  Fingerprint: {report.fingerprint}")
        if report.key_pinned is True:
            add("  This is the key you gave with --key.")
        elif report.key_pinned is False:
            add("  This is NOT the key you gave with --key.")
        else:
            add(
                "  Compare it with the fingerprint the person gave you separately (on paper, in "
                "person or by phone). If they differ, this bundle does not come from the diary "
                "they told you about."
            )
        add("")
    m = report.manifest
    if m is not None:
        if report.export_bound:
            add("About this bundle (as the person recorded it in the diary's log when exporting)")
        else:
            add("About this bundle (as its manifest states: NOT matched to the diary's log)")
        add(f"  For: {_show(m.recipient)}")
        add(f"  Purpose: {_show(m.purpose)}")
        made = _device_time(m.created_at)
        add(f"  Made: {made} by the device's clock, with {_show(m.created_by)}")
        add(
            f"  The log held {_plural(m.log_size, 'entry', 'entries')} at its newest checkpoint. "
            f"This bundle discloses {_plural(len(m.entries), 'entry', 'entries')}, "
            f"{_plural(len(m.messages), 'message')} and {_plural(len(m.files), 'file')}."
        )
        if m.withheld_categories:
            add(
                "  The person says the entries not disclosed include: "
                + ", ".join(_show(c) for c in m.withheld_categories)
                + " (their description, not checked)."
            )
        if len(m.checkpoints) > 1:
            add(
                "  Checkpoints of the log at sizes "
                + ", ".join(f"{s:,}" for s in m.checkpoints)
                + " were checked: each later one only adds entries to the one before."
            )
        add("")
    if report.timestamps:
        add("Timestamps")
        for t in report.timestamps:
            if not t.ok:
                add(f"  {t.file}: FAILED ({t.detail}).")
                continue
            assert t.gen_time is not None
            acc = "" if t.accuracy is None else f", accurate to within {_seconds(t.accuracy)}"
            add(
                f"  {t.file}: from {t.authority}, {_human_time(t.gen_time)}{acc}, over the "
                f"checkpoint of {_plural(t.checkpoint, 'entry', 'entries')}."
            )
            add(f"    {t.detail[0].upper() + t.detail[1:]}.")
            if t.recorded_roots:
                add(
                    "    The bundle also holds the root certificate the person recorded (SHA-256 "
                    + ", ".join(r[:16] + "…" for r in t.recorded_roots)
                    + "). It is not trusted unless you check it and give it with --tsa-root."
                )
        add("")
    if report.entries:
        add("Disclosed entries")
        for e in report.entries:
            label = f"  Entry {e.seq:,} ({_show(e.type)}, {_show(e.subject)})"
            add(f"{label}: {_when_text(e.time, e.ok)}")
        add("")
    if report.messages:
        add("Disclosed messages")
        for msg in report.messages:
            label = f"  Message {msg.id:,} (imported with entry {msg.batch:,})"
            add(f"{label}: {_when_text(msg.time, msg.ok, 'it was imported into the diary')}")
        add("")
    if report.files or report.missing_files:
        add("Files")
        for file in report.files:
            status = "matches" if file.ok else "FAILED"
            by = f", named by {', '.join(file.named_by)}" if file.named_by else ""
            add(
                f"  files/{file.sha256[:16]}… ({_show(file.name)}, {_show(file.media_type)}, "
                f"{_plural(file.size, 'byte')}): {status}{by}."
            )
        for sha, refs in report.missing_files:
            add(
                f"  Not included: the file with SHA-256 {sha[:16]}…, named by {', '.join(refs)}. "
                "Files can be withheld, or removed from the diary."
            )
        add("  (File names and types are as the person gave them.)")
        add("")
    add("What this check does NOT show")
    for item in _not_proven(report):
        add(f"  - {item}")
    add("")
    return "\n".join(lines)


def _seconds(value: timedelta) -> str:
    n = value.total_seconds()
    return "1 second" if n == 1 else f"{n:g} seconds"


def _when_text(t: ItemTime | None, ok: bool, event: str = "it was recorded") -> str:
    if not ok or t is None:
        return "FAILED (see above)."
    if t.no_later_than is not None:
        return (
            f"included in the log no later than {_human_time(t.no_later_than)} "
            f"(trusted timestamp {t.timestamp})."
        )
    text = (
        f"included in the log, but no trusted timestamp covers it: the time {event}, "
        f"{_device_time(t.device_time)}, rests on the device's clock."
    )
    if t.untrusted_time is not None:
        text += (
            f" A timestamp that was not independently trusted says the log held it by "
            f"{_human_time(t.untrusted_time)}."
        )
    return text


def render_json(report: Report) -> str:
    """The same report as JSON (keys sorted, UTF-8)."""

    def item_time(t: ItemTime | None) -> dict[str, Any] | None:
        if t is None:
            return None
        return {
            "included_no_later_than": _iso(t.no_later_than),
            "timestamp": t.timestamp,
            "untrusted_timestamp_time": _iso(t.untrusted_time),
            "device_clock_time": t.device_time,
            "time_rests_on": "trusted timestamp" if t.no_later_than else "device clock",
        }

    m = report.manifest
    doc: dict[str, Any] = {
        "bundle": report.bundle,
        "encrypted": report.encrypted,
        "ok": report.ok,
        "verdict": "passed" if report.ok else "failed",
        "failures": [{"member": f.member, "reason": f.reason} for f in report.failures],
        "key": {
            "vkey": report.key,
            "fingerprint": report.fingerprint,
            "matches_key_given": report.key_pinned,
        },
        "log_size": report.log_size,
        "checkpoints": report.checkpoints,
        "stated": None
        if m is None
        else {
            "recipient": m.recipient,
            "purpose": m.purpose,
            "audience": m.audience,
            "created_at": m.created_at,
            "created_by": m.created_by,
            "withheld": m.withheld,
        },
        "bound_to_export_entry": report.export_bound,
        "undisclosed_entries": None
        if report.log_size is None
        else report.log_size - len(report.entries),
        "timestamps": [
            {
                "file": t.file,
                "checkpoint": t.checkpoint,
                "ok": t.ok,
                "trusted": t.trusted,
                "detail": t.detail,
                "authority": t.authority,
                "time": _iso(t.gen_time),
                "accuracy_seconds": None if t.accuracy is None else t.accuracy.total_seconds(),
                "no_later_than": _iso(t.latest),
                "policy": t.policy,
                "nonce": None if t.nonce is None else str(t.nonce),
                "serial": None if t.serial is None else str(t.serial),
                "recorded_root_sha256": list(t.recorded_roots),
            }
            for t in report.timestamps
        ],
        "entries": [
            {
                "seq": e.seq,
                "type": e.type,
                "subject": e.subject,
                "ok": e.ok,
                "time": item_time(e.time),
            }
            for e in report.entries
        ],
        "messages": [
            {"id": x.id, "batch": x.batch, "ok": x.ok, "time": item_time(x.time)}
            for x in report.messages
        ],
        "files": [
            {
                "sha256": f.sha256,
                "size": f.size,
                "name": f.name,
                "media_type": f.media_type,
                "ok": f.ok,
                "named_by": list(f.named_by),
            }
            for f in report.files
        ],
        "files_not_included": [{"sha256": s, "named_by": list(r)} for s, r in report.missing_files],
        "not_proven": _not_proven(report),
    }
    return json.dumps(doc, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


# --- the recipient's guide ----------------------------------------------------------------------


def verify_txt() -> str:
    """The text of VERIFY.txt (and of docs/verifying-a-bundle.md): what the bundle is, how to
    check it with and without docket-verify, and what a check does and does not show."""
    return _VERIFY_TXT


_VERIFY_TXT = """\
What this bundle is
-------------------

This is an evidence bundle made with Docket, a diary that a person keeps about what is
happening to them. It holds only the entries, messages and files the person chose to
give you, with the information needed to check them. It is not the whole diary.

Every entry in the diary is written into a log. Each entry is fixed by a SHA-256 hash,
and the log is summed up from time to time in a "checkpoint" that the diary signs with
its own key. A timestamp from an independent timestamp authority may show that a
checkpoint, and so every entry it covers, existed no later than a given time. The proofs
in this bundle let anyone check, offline, that each disclosed entry is one that was
written into that log, unchanged.

Before you start: ask the person for their diary key's fingerprint (20 digits and
letters a to f, in groups of four) by a separate route, such as on paper, in person or by phone.
You will compare it with the one the check shows.


Checking with docket-verify
---------------------------

You need Python 3.11 or later and the Python package "cryptography". The checker is in
the bundle as docket-verify.py; Docket also installs it as the command docket-verify.
Because the checker comes inside the bundle, anyone who could change the bundle could
also change the checker: where it matters, use a copy of docket-verify obtained
separately.

    python -m pip install cryptography
    python docket-verify.py BUNDLE.zip

Unzip the bundle first to get docket-verify.py out of it (any unzip tool will do), but
give the checker the bundle file itself. Useful options:

    --key KEY             the diary's key (as the person gave it, or a file holding it);
                          the check fails if the bundle was signed by another key
    --tsa-root ROOT.pem   the root certificate of a timestamp authority you trust
                          (repeat for more than one); without it, timestamps are reported
                          as present but not independently trusted
    --json                the same report as JSON
    --passphrase-file F   for an encrypted bundle; without it, you are asked

The exit status is 0 when every check passed, 1 when any failed and 2 when the command
was used wrongly.


Reading the result
------------------

The result comes first: "RESULT: PASSED" or "RESULT: FAILED". A failure names the part
of the bundle and the reason. A bundle that was damaged in copying also fails: ask for a
fresh copy before drawing any conclusion.

"Fingerprint" is the diary key's fingerprint: compare it with the one the person gave
you.

For every disclosed entry and message the report says either "included in the log no
later than" a time (from a trusted timestamp), or that no trusted timestamp covers it,
in which case its time rests on the device's clock, which nobody vouches for.

Files are named by their SHA-256 hash. A file the diary names but the bundle does not
hold is listed: people may withhold files, and files removed from the diary cannot be
disclosed.


Checking by hand
----------------

Some of the checks can be done with standard tools (sha256sum and openssl 3, on Linux or
macOS; on Windows, "certutil -hashfile FILE SHA256" shows a SHA-256). Unzip the bundle
into an empty folder and run these commands there.

Step 1. Each file in files/ is named by its SHA-256 hash. This prints OK for each file
whose bytes match its name:

    cd files && ls | awk '{print $0 "  " $0}' | sha256sum -c; cd ..

Step 2. The checkpoint signature. Make the diary's public key into a PEM file, take the
signed text and the signature out of a checkpoint, and check the signature with openssl
(use any file in checkpoints/; 123 stands for its number):

    (printf '\\060\\052\\060\\005\\006\\003\\053\\145\\160\\003\\041\\000'; \\
      cut -d+ -f3- key.vkey | base64 -d | tail -c 32) > key.der
    openssl pkey -pubin -inform DER -in key.der -out key.pem
    sed -n '/^$/q;p' checkpoints/123.checkpoint > cp.txt
    tail -n 1 checkpoints/123.checkpoint | cut -d' ' -f3 | base64 -d | tail -c 64 > cp.sig
    openssl pkeyutl -verify -pubin -inkey key.pem -rawin -in cp.txt -sigfile cp.sig

It prints "Signature Verified Successfully". The fingerprint docket-verify shows is the
first 20 hex digits of the SHA-256 of key.vkey's line (without its newline):

    tr -d '\\n' < key.vkey | sha256sum | cut -c1-20

Step 3. A timestamp. Each file in timestamps/ named 123-1.tsr is a timestamp over
checkpoints/123.checkpoint. With the root certificate of the timestamp authority,
obtained from the authority itself (not from the bundle), as ROOT.pem:

    openssl ts -verify -in timestamps/123-1.tsr -data checkpoints/123.checkpoint \\
      -CAfile ROOT.pem
    openssl ts -reply -in timestamps/123-1.tsr -text

The first prints "Verification: OK"; the second shows the time ("Time stamp:").

Step 4. An entry's leaf hash is the SHA-256 of a zero byte followed by the entry's
bytes:

    (printf '\\000'; cat entries/17.json) | sha256sum

Going from that hash to the checkpoint's root hash uses the hashes in
proofs/17.tlog-proof, as RFC 9162 section 2.1.3.2 describes. That step, the proofs that
each later checkpoint only adds to the one before, and the check that manifest.json
matches the entry in the log that records this export are what docket-verify does for
you.


What a check shows, and what it does not
----------------------------------------

A bundle that passes shows that the disclosed entries and messages are exactly as they
were written into the diary's log, that the files match the SHA-256 hashes recorded there,
that the log was signed by the key with the fingerprint shown, that the log was only ever
added to between the checkpoints in the bundle, and, for each trusted timestamp, that the
entries it covers existed no later than its time.

It does not show:

  - that anything the entries, messages or files say is true;
  - that events happened when the entries say they did (times from the device's clock, and
    times the person typed, are their own account);
  - that nothing relevant was left out: the bundle says only how many entries were not
    disclosed, and the person's own description of them;
  - when anything was written before the first trusted timestamp;
  - who wrote the entries: the key shows which diary signed them, not who used it.

Police, prosecutors and courts decide what weight to give the bundle.
"""


# --- the command --------------------------------------------------------------------------------


def _load_key(value: str) -> str:
    try:
        return VerifierKey.parse(value.strip()).encode()
    except VerifyError:
        pass
    try:
        text = Path(value).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError, ValueError):
        raise UsageError(f"--key {value!r} is neither a verifier key nor a readable file") from None
    try:
        return VerifierKey.parse(text.strip()).encode()
    except VerifyError as exc:
        raise UsageError(f"the key in {value!r} is not a verifier key ({exc.reason})") from None


def _load_roots(paths: Sequence[str]) -> list[x509.Certificate]:
    roots: list[x509.Certificate] = []
    for p in paths:
        try:
            roots += x509.load_pem_x509_certificates(Path(p).read_bytes())
        except OSError as exc:
            raise UsageError(
                f"cannot read the root certificate file {p!r} ({exc.strerror})"
            ) from None
        except ValueError:
            raise UsageError(f"{p!r} does not hold PEM certificates") from None
    return roots


def _read_passphrase(path: str | None) -> str:
    if path is None:
        try:
            return getpass.getpass("Passphrase for the encrypted bundle: ")
        except (EOFError, KeyboardInterrupt):
            raise UsageError("no passphrase was given for the encrypted bundle") from None
    try:
        text = Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise UsageError(f"cannot read the passphrase file {path!r} ({exc})") from None
    if text.endswith("\r\n"):
        return text[:-2]
    return text[:-1] if text.endswith("\n") else text


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="docket-verify",
        description="Check a Docket evidence bundle offline and say, in plain words, what it "
        "shows and what it does not.",
    )
    p.add_argument(
        "bundle", metavar="BUNDLE", help="the bundle file (.zip, or an encrypted bundle)"
    )
    p.add_argument("--json", action="store_true", help="print the report as JSON")
    p.add_argument("--key", metavar="VKEY_OR_FILE", help="the diary's verifier key, to pin")
    p.add_argument(
        "--tsa-root",
        metavar="PEM",
        action="append",
        default=[],
        help="a timestamp root certificate you trust (repeatable)",
    )
    p.add_argument(
        "--passphrase-file", metavar="FILE", help="the passphrase of an encrypted bundle"
    )
    return p


def main(argv: Sequence[str] | None = None) -> int:
    """The docket-verify command: 0 when every check passes, 1 when any fails, 2 for a
    usage error."""
    for stream in (sys.stdout, sys.stderr):
        reconfigure = getattr(stream, "reconfigure", None)
        if reconfigure is not None:
            reconfigure(errors="replace")
    try:
        args = _parser().parse_args(argv)
    except SystemExit as exc:
        return 0 if exc.code == 0 else 2
    try:
        bundle = Path(args.bundle)
        if not bundle.is_file():
            raise UsageError(f"there is no file {args.bundle!r}")
        key = None if args.key is None else _load_key(args.key)
        roots = _load_roots(args.tsa_root)
        passphrase = None
        if is_encrypted(bundle):
            passphrase = _read_passphrase(args.passphrase_file)
    except UsageError as exc:
        sys.stderr.write(f"docket-verify: {exc}\n")
        return 2
    except OSError as exc:
        sys.stderr.write(f"docket-verify: cannot read {args.bundle!r} ({exc.strerror})\n")
        return 2
    report = verify_bundle(bundle, key=key, tsa_roots=roots, passphrase=passphrase)
    sys.stdout.write(render_json(report) if args.json else render_text(report))
    sys.stdout.flush()
    return 0 if report.ok else 1


if __name__ == "__main__":
    sys.exit(main())
