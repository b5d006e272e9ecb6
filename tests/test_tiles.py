"""The tree's tile storage: every node lands where proofs look for it, whichever way the tiles
were written (one leaf at a time, or rebuilt in one pass), and proofs read few tiles."""

from __future__ import annotations

import sqlite3

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from docket.ledger import merkle, tiles
from docket.ledger.log import LogDamaged


def leaves(n: int) -> list[bytes]:
    return [merkle.leaf_hash(i.to_bytes(4, "big")) for i in range(n)]


def table() -> sqlite3.Connection:
    db = sqlite3.connect(":memory:")
    db.execute("CREATE TABLE tree_tile (id INTEGER PRIMARY KEY, hashes BLOB NOT NULL)")
    return db


def appended(ls: list[bytes]) -> sqlite3.Connection:
    db = table()
    for i, leaf in enumerate(ls):
        tiles.add_leaf(db, i, leaf)
    return db


def built(ls: list[bytes]) -> dict[tuple[int, int], bytes]:
    builder = tiles.Builder()
    compact = merkle.CompactRange()
    out: dict[tuple[int, int], bytes] = {}
    done: list[tuple[int, int, bytes]] = []
    for i, leaf in enumerate(ls):
        compact.push(leaf, done)
        for level, index, value in [(0, i, leaf), *done]:
            assert tiles.locate(level, index)[:2] == (
                level // tiles.HEIGHT,
                len([k for k in out if k[0] == level // tiles.HEIGHT]),
            )
            full = builder.add(level, value)
            if full is not None:
                out[full[0], full[1]] = full[2]
        done.clear()
    for tier, idx, data in builder.partial():
        out[tier, idx] = data
    return out


def perfect_subtrees(n: int) -> list[tuple[int, int]]:
    return [(level, i) for level in range(n.bit_length()) for i in range(n >> level)]


def test_positions_are_the_order_nodes_complete() -> None:
    seen: dict[tuple[int, int], list[int]] = {}
    compact = merkle.CompactRange()
    done: list[tuple[int, int, bytes]] = []
    for i in range(4 * tiles.WIDTH**2):
        compact.push(b"\x00" * 32, done)
        for level, index, _ in [(0, i, b""), *done]:
            tier, tile, pos = tiles.locate(level, index)
            seen.setdefault((tier, tile), []).append(pos)
        done.clear()
    for positions in seen.values():
        assert positions == list(range(len(positions)))
        assert len(positions) <= tiles.FULL
    assert all(len(p) == tiles.FULL for (tier, _), p in seen.items() if tier == 0)


@pytest.mark.parametrize("n", [1, 2, 31, 32, 33, 63, 64, 1023, 1024, 1025, 2100])
def test_every_perfect_subtree_is_readable(n: int) -> None:
    ls = leaves(n)
    expected = merkle.nodes_from_leaves(ls)
    node = tiles.Reader(appended(ls))
    for level, index in perfect_subtrees(n):
        assert node(level, index) == expected(level, index)
    with pytest.raises(LogDamaged):
        node(0, n)


@settings(max_examples=40, deadline=None)
@given(st.integers(min_value=1, max_value=1500))
def test_appending_and_rebuilding_store_the_same_tiles(n: int) -> None:
    ls = leaves(n)
    db = appended(ls)
    stored = {
        divmod(k, 1 << 48): bytes(h) for k, h in db.execute("SELECT id, hashes FROM tree_tile")
    }
    assert stored == built(ls)
    for (tier, idx), data in stored.items():
        bottom = min(tiles.WIDTH, max(0, (n >> (tiles.HEIGHT * tier)) - tiles.WIDTH * idx))
        assert len(data) == tiles.HASH * tiles.hashes_in(bottom)


def test_proofs_from_tiles_match_the_rfc_and_read_few_tiles() -> None:
    n = 5000
    ls = leaves(n)
    db = appended(ls)
    expected = merkle.nodes_from_leaves(ls)
    root = merkle.root(n, expected)
    reads = 0

    class Counting(tiles.Reader):
        def tile(self, tier: int, tile: int) -> bytes:
            nonlocal reads
            before = len(self._tiles)
            data = super().tile(tier, tile)
            reads += len(self._tiles) != before
            return data

    for index in (0, 31, 32, 2047, 4999):
        reads = 0
        proof = merkle.inclusion_proof(index, n, Counting(db))
        assert proof == merkle.inclusion_proof(index, n, expected)
        merkle.verify_inclusion(index, n, ls[index], proof, root)
        assert reads <= 2 * (n.bit_length() // tiles.HEIGHT + 1)
    assert merkle.consistency_proof(777, n, Counting(db)) == merkle.consistency_proof(
        777, n, expected
    )
    assert merkle.root(n, tiles.Reader(db)) == root
