"""C2SP signed notes (c2sp.org/signed-note) with Ed25519 keys, verifier keys ("vkeys") and
tlog checkpoints (c2sp.org/tlog-checkpoint): writing, signing, and strict parsing.

Depends only on the standard library and ``cryptography``, so the independent bundle verifier
can use it. Parsing is strict because a checkpoint may come from someone hostile: UTF-8, no
control characters but newline, canonical base64 and decimal, and size limits.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import re
from dataclasses import dataclass

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

ED25519 = 0x01
MAX_NOTE_BYTES = 64 * 1024
MAX_SIGNATURES = 100
EM_DASH = "\u2014"
_DECIMAL = re.compile(r"^(0|[1-9][0-9]{0,18})$")


class NoteError(ValueError):
    """A note, key or checkpoint that is malformed or does not verify."""


def strict_b64decode(text: str, what: str) -> bytes:
    try:
        raw = base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise NoteError(f"{what} is not valid base64") from exc
    if base64.b64encode(raw).decode("ascii") != text:
        raise NoteError(f"{what} is not canonical base64")
    return raw


def parse_decimal(text: str, what: str) -> int:
    if not _DECIMAL.match(text):
        raise NoteError(f"{what} is not a decimal number without leading zeros")
    return int(text)


def key_id(name: str, sig_type: int, public: bytes) -> bytes:
    return hashlib.sha256(name.encode() + b"\n" + bytes([sig_type]) + public).digest()[:4]


def _check_key_name(name: str) -> None:
    if not name or any(c.isspace() for c in name) or "+" in name:
        raise NoteError("a key name must be non-empty, without spaces or '+'")


@dataclass(frozen=True)
class Verifier:
    """An Ed25519 note verifier key: name, 4-byte key ID, public key."""

    name: str
    id: bytes
    public: bytes

    @classmethod
    def parse(cls, vkey: str) -> Verifier:
        parts = vkey.strip().split("+", 2)  # base64 may contain '+': split at most twice
        if len(parts) != 3:
            raise NoteError("a verifier key has the form name+keyid+key")
        name, hex_id, b64 = parts
        _check_key_name(name)
        if not re.fullmatch(r"[0-9a-f]{8}", hex_id):
            raise NoteError("the key ID in a verifier key must be 8 lowercase hex digits")
        raw = strict_b64decode(b64, "the verifier key")
        if len(raw) != 33 or raw[0] != ED25519:
            raise NoteError("only Ed25519 verifier keys (type 0x01) are supported")
        public = raw[1:]
        if key_id(name, ED25519, public) != bytes.fromhex(hex_id):
            raise NoteError("the verifier key's ID does not match its name and key")
        return cls(name, bytes.fromhex(hex_id), public)

    def encode(self) -> str:
        b64 = base64.b64encode(bytes([ED25519]) + self.public).decode()
        return f"{self.name}+{self.id.hex()}+{b64}"

    def fingerprint(self) -> str:
        """A short, readable fingerprint of the public key, to compare by eye or over the phone."""
        digest = hashlib.sha256(self.encode().encode()).hexdigest()[:20]
        return " ".join(digest[i : i + 4] for i in range(0, 20, 4))

    def verify(self, text: bytes, signature: bytes) -> bool:
        try:
            Ed25519PublicKey.from_public_bytes(self.public).verify(signature, text)
        except InvalidSignature:
            return False
        return True


@dataclass(frozen=True)
class Signer:
    name: str
    private: Ed25519PrivateKey

    @classmethod
    def generate(cls, name: str) -> Signer:
        _check_key_name(name)
        return cls(name, Ed25519PrivateKey.generate())

    @classmethod
    def from_seed(cls, name: str, seed: bytes) -> Signer:
        _check_key_name(name)
        return cls(name, Ed25519PrivateKey.from_private_bytes(seed))

    def seed(self) -> bytes:
        from cryptography.hazmat.primitives.serialization import NoEncryption, PrivateFormat

        return self.private.private_bytes(Encoding.Raw, PrivateFormat.Raw, NoEncryption())

    def verifier(self) -> Verifier:
        public = self.private.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
        return Verifier(self.name, key_id(self.name, ED25519, public), public)

    def sign(self, text: str) -> str:
        """The signed note for ``text`` (which must end in a newline)."""
        body = _check_text(text)
        sig = self.verifier().id + self.private.sign(body)
        return f"{text}\n{EM_DASH} {self.name} {base64.b64encode(sig).decode()}\n"


def _check_text(text: str) -> bytes:
    if not text.endswith("\n"):
        raise NoteError("the note text must end with a newline")
    if any(ord(c) < 0x20 and c != "\n" for c in text):
        raise NoteError("the note contains control characters")
    return text.encode("utf-8")


@dataclass(frozen=True)
class Signature:
    name: str
    id: bytes
    signature: bytes


@dataclass(frozen=True)
class Note:
    text: str
    signatures: tuple[Signature, ...]

    @classmethod
    def parse(cls, data: bytes | str) -> Note:
        raw = data.encode("utf-8") if isinstance(data, str) else data
        if len(raw) > MAX_NOTE_BYTES:
            raise NoteError("the note is too large")
        try:
            note = raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise NoteError("the note is not valid UTF-8") from exc
        if any(ord(c) < 0x20 and c != "\n" for c in note):
            raise NoteError("the note contains control characters")
        split = note.rfind("\n\n")
        if split < 0 or not note.endswith("\n"):
            raise NoteError("the note has no blank line before its signatures")
        text, sig_block = note[: split + 1], note[split + 2 :]
        signatures = []
        for line in sig_block[:-1].split("\n"):
            if not line.startswith(EM_DASH + " "):
                raise NoteError("a signature line must start with an em dash and a space")
            fields = line[2:].split(" ")
            if len(fields) != 2:
                raise NoteError("a signature line has a key name and a signature")
            name, b64 = fields
            _check_key_name(name)
            sig = strict_b64decode(b64, "a signature")
            if len(sig) < 5:
                raise NoteError("a signature is too short")
            signatures.append(Signature(name, sig[:4], sig[4:]))
        if not signatures:
            raise NoteError("the note has no signatures")
        if len(signatures) > MAX_SIGNATURES:
            raise NoteError("the note has too many signatures")
        return cls(text, tuple(signatures))

    def verify(self, verifier: Verifier) -> None:
        """Raise NoteError unless ``verifier`` signed this note (other keys' lines are ignored)."""
        found = False
        for sig in self.signatures:
            if sig.name != verifier.name or sig.id != verifier.id:
                continue
            if not verifier.verify(self.text.encode("utf-8"), sig.signature):
                raise NoteError(f"the signature by {verifier.name} does not verify")
            found = True
        if not found:
            raise NoteError(f"the note carries no signature by {verifier.name}")


@dataclass(frozen=True)
class Checkpoint:
    """A tlog checkpoint body: origin, tree size, root hash (no extension lines)."""

    origin: str
    size: int
    root: bytes

    def text(self) -> str:
        return f"{self.origin}\n{self.size}\n{base64.b64encode(self.root).decode()}\n"

    @classmethod
    def parse_text(cls, text: str) -> Checkpoint:
        lines = text.split("\n")
        if len(lines) < 4 or lines[-1] != "":
            raise NoteError("a checkpoint has an origin, a size and a root hash, one per line")
        origin, size, root = lines[0], lines[1], lines[2]
        if any(line == "" for line in lines[3:-1]):
            raise NoteError("checkpoint extension lines must not be empty")
        if not origin:
            raise NoteError("the checkpoint origin is empty")
        root_hash = strict_b64decode(root, "the checkpoint root hash")
        if len(root_hash) != 32:
            raise NoteError("the checkpoint root hash is not 32 bytes")
        return cls(origin, parse_decimal(size, "the checkpoint size"), root_hash)


def open_checkpoint(data: bytes | str, verifier: Verifier, origin: str | None = None) -> Checkpoint:
    """Parse a signed checkpoint, check its signature by ``verifier`` and (if given) its origin."""
    note = Note.parse(data)
    note.verify(verifier)
    cp = Checkpoint.parse_text(note.text)
    if origin is not None and cp.origin != origin:
        raise NoteError(f"the checkpoint is for {cp.origin!r}, not {origin!r}")
    return cp
