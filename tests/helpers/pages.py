"""Decrypt every page of a SQLCipher 4 file with its raw key, independently of SQLCipher.

Tests use it to prove that redacted bytes are really gone from the file (freed pages
included), which SQLite's own queries cannot show. Layout per page: AES-256-CBC ciphertext,
then a 16-byte IV and a 64-byte HMAC-SHA512 (the reserve); page 1 starts with the 16-byte salt.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

PAGE = 4096
RESERVE = 80


def decrypted_pages(path: Path, key: bytes) -> Iterator[bytes]:
    data = path.read_bytes()
    for n in range(len(data) // PAGE):
        page = data[n * PAGE : (n + 1) * PAGE]
        start = 16 if n == 0 else 0
        body = page[start : PAGE - RESERVE]
        iv = page[PAGE - RESERVE : PAGE - RESERVE + 16]
        dec = Cipher(algorithms.AES(key), modes.CBC(iv)).decryptor()
        yield dec.update(body) + dec.finalize()
