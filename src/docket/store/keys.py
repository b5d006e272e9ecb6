"""Key derivation for the diary file: Argon2id of the passphrase, salted with SQLCipher's own
16-byte file salt, giving the 256-bit raw key SQLCipher uses for its pages.

The salt is the first 16 bytes of every SQLCipher 4 file, stored in clear by SQLCipher itself,
so the diary needs no sidecar file and no header of ours. Argon2 parameters therefore live here,
in code, as numbered profiles: a diary is opened by trying the profiles newest first.
"""

from __future__ import annotations

import os
import unicodedata
from dataclasses import dataclass

from argon2.low_level import Type, hash_secret_raw

from docket.errors import PassphraseRejected

SALT_BYTES = 16
KEY_BYTES = 32
MIN_PASSPHRASE_CHARS = 8


@dataclass(frozen=True)
class KdfProfile:
    """One set of Argon2id parameters. Never change a published profile: add a new one."""

    version: int
    time_cost: int
    memory_kib: int
    parallelism: int


# RFC 9106 "second recommended option" (t=3, m=64 MiB, p=4): about 0.15-0.2 s on a 2-core
# laptop, memory-hard against GPU guessing. Newest first.
PROFILES: tuple[KdfProfile, ...] = (
    KdfProfile(1, time_cost=3, memory_kib=64 * 1024, parallelism=4),
)
CURRENT = PROFILES[0]


def normalise_passphrase(passphrase: str) -> bytes:
    """NFC-normalise so the same words typed on a phone and on a laptop give the same key."""
    return unicodedata.normalize("NFC", passphrase).encode("utf-8")


def derive_key(passphrase: str, salt: bytes, profile: KdfProfile = CURRENT) -> bytes:
    if len(salt) != SALT_BYTES:
        raise ValueError("salt must be 16 bytes")
    return hash_secret_raw(
        normalise_passphrase(passphrase),
        salt,
        time_cost=profile.time_cost,
        memory_cost=profile.memory_kib,
        parallelism=profile.parallelism,
        hash_len=KEY_BYTES,
        type=Type.ID,
    )


def new_salt() -> bytes:
    return os.urandom(SALT_BYTES)


def check_new_passphrase(passphrase: str) -> None:
    """The minimum for a new passphrase. Strength feedback beyond this belongs to front ends."""
    stripped = passphrase.strip()
    if len(stripped) < MIN_PASSPHRASE_CHARS:
        raise PassphraseRejected(
            f"That passphrase is too short: it needs at least {MIN_PASSPHRASE_CHARS} characters.",
            cause="Anyone with the diary file could guess a short passphrase quickly.",
            hint="Use three or four unrelated words of your own choosing. "
            "Write it somewhere safe that the other person cannot reach.",
        )
    if stripped != passphrase:
        raise PassphraseRejected(
            "That passphrase starts or ends with a space.",
            cause="Spaces at the ends are easy to forget when typing it again.",
            hint="Type it again without spaces at the start or the end.",
        )


def sqlcipher_key_literal(key: bytes, salt: bytes | None = None) -> str:
    """The PRAGMA key value for a raw key; with a salt, the 96-hex form that sets the file salt."""
    if len(key) != KEY_BYTES:
        raise ValueError("key must be 32 bytes")
    blob = key.hex() + (salt.hex() if salt is not None else "")
    return f"\"x'{blob}'\""
