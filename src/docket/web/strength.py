"""Feedback on a new passphrase while it is typed: a rough estimate of how hard it is to
guess, in words, with one piece of advice. It never blocks a passphrase the diary accepts
(``keys.check_new_passphrase`` sets the minimum); it helps people choose a better one."""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

# a few of the passphrases tried first by anyone guessing (lower case, without spaces)
COMMON = frozenset(
    [
        "password",
        "passw0rd",
        "password1",
        "password123",
        "qwerty",
        "qwertyuiop",
        "123456789",
        "1234567890",
        "iloveyou",
        "letmein",
        "welcome",
        "admin",
        "abc123",
        "monkey",
        "dragon",
        "football",
        "baseball",
        "sunshine",
        "princess",
        "trustno1",
        "starwars",
        "whatever",
        "superman",
        "batman",
        "liverpool",
        "arsenal",
        "chelsea",
        "manchester",
        "correcthorsebatterystaple",
    ]
)


@dataclass(frozen=True)
class Strength:
    level: int  # 0 too short, 1 weak, 2 fair, 3 good, 4 strong
    label: str
    advice: str


def estimate(passphrase: str) -> Strength:
    text = passphrase.strip()
    if len(text) < 8:
        return Strength(0, "Too short", "Use at least 8 characters; three or four words is better.")
    squashed = re.sub(r"[\s\-_.]", "", text.lower())
    if squashed in COMMON or len(set(squashed)) <= 3:
        return Strength(1, "Easy to guess", "This is one of the first things people try.")
    words = [w for w in re.split(r"[\s\-_.]+", text) if w]
    pool = 0
    pool += 26 if re.search(r"[a-z]", text) else 0
    pool += 26 if re.search(r"[A-Z]", text) else 0
    pool += 10 if re.search(r"[0-9]", text) else 0
    pool += 33 if re.search(r"[^a-zA-Z0-9\s]", text) else 0
    pool += 100 if re.search(r"[^\x00-\x7f]", text) else 0
    bits = len(text) * math.log2(max(pool, 2)) * 0.6  # people's characters are not random
    if len(words) >= 3:
        bits = max(bits, len(words) * 11.0)
    if re.search(r"(.)\1\1", text):
        bits -= 10
    if bits < 36:
        return Strength(
            1, "Weak", "Add more words: three or four unrelated words are hard to guess."
        )
    if bits < 50:
        return Strength(2, "Fair", "One more unrelated word would make it much stronger.")
    if bits < 64:
        return Strength(
            3, "Good", "Good. Make sure it is not something the other person knows about you."
        )
    return Strength(
        4, "Strong", "Strong. Make sure it is not something the other person knows about you."
    )
