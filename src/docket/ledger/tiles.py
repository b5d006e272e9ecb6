"""Where the Merkle tree's stored nodes live: tiles of up to 62 hashes in ``tree_tile``.

A tile holds five levels of the tree over 32 consecutive nodes of one level: tier ``k`` covers
tree levels 5k to 5k+4. Its hashes are the 32 bottom nodes and the 30 perfect subtrees above
them, in the order they complete (post-order), so a growing tile is only ever appended to. The
node that would top a tile is a bottom node of the tier above. Only completed perfect subtrees
are stored, as RFC 9162 proofs need.

One read fetches five levels of a proof path, and the tiles near the top of a large tree are
few and stay in the page cache: an inclusion proof at a million entries reads four tiles,
where one row per node took twenty reads, most of them cache misses.
"""

from __future__ import annotations

from typing import Any

from docket.ledger import merkle
from docket.store.base import PgRaw

HEIGHT = 5
WIDTH = 1 << HEIGHT  # bottom nodes per tile
FULL = 2 * WIDTH - 2  # hashes in a full tile (its own top lives in the next tier)
HASH = 32
_TIER = 1 << 48  # key = tier * _TIER + index: one integer key keeps a tile inline in its page


def key(tier: int, tile: int) -> int:
    """The ``tree_tile`` row id of a tile."""
    return tier * _TIER + tile


def tier_range(tier: int) -> tuple[int, int]:
    """The row ids of one tier: from, and up to but not including."""
    return tier * _TIER, (tier + 1) * _TIER


class LogDamaged(Exception):
    """A stored tree node or entry that should exist does not."""


def locate(level: int, index: int) -> tuple[int, int, int]:
    """(tier, tile, position) of node ``index`` at tree ``level``."""
    tier, local = divmod(level, HEIGHT)
    tile = index >> (HEIGHT - local)
    done = ((index & ((WIDTH >> local) - 1)) + 1) << local  # bottom nodes complete with it
    return tier, tile, 2 * (done - 1) - (done - 1).bit_count() + local


def hashes_in(bottom: int) -> int:
    """How many hashes a tile holds once ``bottom`` of its bottom nodes are complete."""
    return 2 * bottom - bottom.bit_count() - (1 if bottom == WIDTH else 0)


def first_leaf(tier: int, tile: int) -> int:
    """The first entry under a tile."""
    return tile << (HEIGHT * (tier + 1))


def hashes_column(raw: Any) -> str:
    """How to select ``hashes`` as bytes on ``raw``'s database. SQLite keeps whatever type a
    value was written with, so a tile changed by hand into text still reads as bytes;
    PostgreSQL's bytea column holds nothing else."""
    return "hashes" if isinstance(raw, PgRaw) else "CAST(hashes AS BLOB)"


class Reader:
    """Reads nodes for one proof or root, keeping the few tiles it touches."""

    def __init__(self, raw: Any) -> None:
        self._raw = raw
        self._select = f"SELECT {hashes_column(raw)} FROM tree_tile WHERE id = ?"
        self._tiles: dict[tuple[int, int], bytes] = {}

    def tile(self, tier: int, tile: int) -> bytes:
        data = self._tiles.get((tier, tile))
        if data is None:
            found = self._raw.execute(self._select, (key(tier, tile),)).fetchone()
            data = b"" if found is None else bytes(found[0])
            if len(self._tiles) >= 256:
                self._tiles.clear()
            self._tiles[tier, tile] = data
        return data

    def __call__(self, level: int, index: int) -> bytes:
        tier, tile, pos = locate(level, index)
        value = self.tile(tier, tile)[pos * HASH : (pos + 1) * HASH]
        if len(value) != HASH:
            raise LogDamaged(f"tree node ({level}, {index}) is missing")
        return value


# SQLite: a whole-row replace is the quicker of the two there (measured); PostgreSQL has no
# INSERT OR REPLACE.
INSERT = "INSERT OR REPLACE INTO tree_tile (id, hashes) VALUES (?, ?)"
INSERT_PG = (
    "INSERT INTO tree_tile (id, hashes) VALUES (?, ?) "
    "ON CONFLICT (id) DO UPDATE SET hashes = excluded.hashes"
)


def add_leaf(raw: Any, index: int, leaf: bytes) -> None:
    """Store leaf ``index`` and every perfect subtree it completes (caller's transaction).

    Each step's left sibling is an older node in the tile the step's right child is in. Tiles
    are rewritten whole: SQL's ``||`` would turn them into text.
    """
    reader = Reader(raw)
    added: dict[tuple[int, int], bytes] = {(0, index >> HEIGHT): leaf}
    h, level, i = leaf, 0, index
    while i & 1:
        h = merkle.node_hash(reader(level, i - 1), h)
        level += 1
        i >>= 1
        tier, tile, _ = locate(level, i)
        added[(tier, tile)] = added.get((tier, tile), b"") + h
    raw.executemany(
        INSERT_PG if isinstance(raw, PgRaw) else INSERT,
        [(key(tier, tile), reader.tile(tier, tile) + data) for (tier, tile), data in added.items()],
    )


class Builder:
    """Assembles tiles from nodes given in completion order, leaves included (each tier's
    nodes then arrive in its tiles' own order, one tile after another)."""

    def __init__(self) -> None:
        self._data: list[bytearray] = []
        self._next: list[int] = []  # the index of each tier's growing tile

    def add(self, level: int, value: bytes) -> tuple[int, int, bytes] | None:
        """Add one node; return (tier, tile, hashes) when that completes a tile."""
        tier = level // HEIGHT
        if tier == len(self._data):
            self._data.append(bytearray())
            self._next.append(0)
        data = self._data[tier]
        data += value
        if len(data) < FULL * HASH:
            return None
        tile = self._next[tier]
        self._next[tier] = tile + 1
        self._data[tier] = bytearray()
        return tier, tile, bytes(data)

    def partial(self) -> list[tuple[int, int, bytes]]:
        """The tiles still growing, lowest tier first."""
        return [
            (tier, self._next[tier], bytes(data)) for tier, data in enumerate(self._data) if data
        ]
