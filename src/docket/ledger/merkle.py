"""RFC 9162 Merkle trees: hashing, proof generation and strict proof verification.

Standard library only, so the independent bundle verifier can use it unchanged. Proof
generation works over any source of *full-subtree* hashes (a callable ``node(level, index)``
for the perfect subtree covering leaves ``[index * 2**level, (index + 1) * 2**level)``), so a
store that keeps those hashes answers any proof with O(log n) reads.

Verification follows RFC 9162 §2.1.3.2 (inclusion) and §2.1.4.2 (consistency) step by step
and is strict: index below size, 32-byte hashes, exact proof length, no consistency proof from
an empty tree.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable, Sequence

HASH_SIZE = 32
EMPTY_ROOT = hashlib.sha256(b"").digest()

NodeSource = Callable[[int, int], bytes]


class ProofError(ValueError):
    """A proof, hash or size that does not verify. The message says which check failed."""


def leaf_hash(entry: bytes) -> bytes:
    return hashlib.sha256(b"\x00" + entry).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    return hashlib.sha256(b"\x01" + left + right).digest()


def _largest_power_of_two_below(n: int) -> int:
    """The k of RFC 9162 §2.1.1: the largest power of two strictly smaller than n (n > 1)."""
    return 1 << ((n - 1).bit_length() - 1)


def _is_power_of_two(n: int) -> bool:
    return n > 0 and n & (n - 1) == 0


def root_from_leaves(leaves: Sequence[bytes]) -> bytes:
    """MTH(D[n]) computed directly (for tests and small trees)."""
    n = len(leaves)
    if n == 0:
        return EMPTY_ROOT
    if n == 1:
        return leaves[0]
    k = _largest_power_of_two_below(n)
    return node_hash(root_from_leaves(leaves[:k]), root_from_leaves(leaves[k:]))


class CompactRange:
    """The right edge of a growing tree: O(log n) full-subtree hashes, enough for its root.

    ``push`` adds one leaf; ``completed`` collects (level, index, hash) of every perfect subtree
    the push closed, for a store that keeps them.
    """

    __slots__ = ("_stack", "size")

    def __init__(self, size: int = 0, hashes: Sequence[bytes] = ()) -> None:
        self.size = size
        # one entry per set bit of size, largest subtree first
        self._stack: list[bytes] = list(hashes)
        if len(self._stack) != bin(size).count("1"):
            raise ValueError("a compact range needs one hash per set bit of its size")

    @classmethod
    def from_nodes(cls, size: int, node: NodeSource) -> CompactRange:
        hashes = [node(level, start >> level) for start, level in subtree_decomposition(size)]
        return cls(size, hashes)

    def push(self, leaf: bytes, completed: list[tuple[int, int, bytes]] | None = None) -> None:
        index = self.size
        h = leaf
        level = 0
        while index & 1:
            h = node_hash(self._stack.pop(), h)
            level += 1
            index >>= 1
            if completed is not None:
                completed.append((level, index, h))
        self._stack.append(h)
        self.size += 1

    def root(self) -> bytes:
        if not self._stack:
            return EMPTY_ROOT
        h = self._stack[-1]
        for left in reversed(self._stack[:-1]):
            h = node_hash(left, h)
        return h


def subtree_decomposition(size: int) -> list[tuple[int, int]]:
    """(start, level) of the perfect subtrees that make up a tree of ``size`` leaves."""
    out: list[tuple[int, int]] = []
    start = 0
    for level in range(size.bit_length() - 1, -1, -1):
        if size >> level & 1:
            out.append((start, level))
            start += 1 << level
    return out


class _Tree:
    """MTH over ranges of a tree whose perfect subtrees come from ``node`` (memoised)."""

    def __init__(self, node: NodeSource) -> None:
        self._node = node
        self._memo: dict[tuple[int, int], bytes] = {}

    def mth(self, start: int, end: int) -> bytes:
        n = end - start
        if n == 0:
            return EMPTY_ROOT
        if _is_power_of_two(n) and start % n == 0:
            level = n.bit_length() - 1
            key = (level, start >> level)
            if key not in self._memo:
                self._memo[key] = self._node(*key)
            return self._memo[key]
        k = _largest_power_of_two_below(n)
        return node_hash(self.mth(start, start + k), self.mth(start + k, end))

    def path(self, m: int, start: int, end: int) -> list[bytes]:
        """PATH(m, D[start:end]) of RFC 6962 §2.1.1, leaf's sibling first."""
        n = end - start
        if n == 1:
            return []
        k = _largest_power_of_two_below(n)
        if m < k:
            return [*self.path(m, start, start + k), self.mth(start + k, end)]
        return [*self.path(m - k, start + k, end), self.mth(start, start + k)]

    def subproof(self, m: int, start: int, end: int, complete: bool) -> list[bytes]:
        """SUBPROOF(m, D[start:end], b) of RFC 6962 §2.1.2."""
        n = end - start
        if m == n:
            return [] if complete else [self.mth(start, end)]
        k = _largest_power_of_two_below(n)
        if m <= k:
            return [*self.subproof(m, start, start + k, complete), self.mth(start + k, end)]
        return [*self.subproof(m - k, start + k, end, False), self.mth(start, start + k)]


def root(size: int, node: NodeSource) -> bytes:
    return _Tree(node).mth(0, size)


def inclusion_proof(index: int, size: int, node: NodeSource) -> list[bytes]:
    if not 0 <= index < size:
        raise ProofError(f"index {index} is not below the tree size {size}")
    return _Tree(node).path(index, 0, size)


def consistency_proof(size1: int, size2: int, node: NodeSource) -> list[bytes]:
    if not 0 < size1 <= size2:
        raise ProofError(f"no consistency proof from size {size1} to size {size2}")
    if size1 == size2:
        return []
    return _Tree(node).subproof(size1, 0, size2, True)


def nodes_from_leaves(leaves: Sequence[bytes]) -> NodeSource:
    """A node source over an in-memory list of leaf hashes (tests, small trees)."""
    memo: dict[tuple[int, int], bytes] = {}

    def node(level: int, index: int) -> bytes:
        key = (level, index)
        if key not in memo:
            if level == 0:
                memo[key] = leaves[index]
            else:
                memo[key] = node_hash(node(level - 1, 2 * index), node(level - 1, 2 * index + 1))
        return memo[key]

    return node


# --- verification (RFC 9162 §2.1.3.2 and §2.1.4.2) -------------------------------------------


def _check_hash(value: bytes, what: str) -> None:
    if len(value) != HASH_SIZE:
        raise ProofError(f"{what} is {len(value)} bytes, not {HASH_SIZE}")


def _check_proof(proof: Iterable[bytes]) -> list[bytes]:
    hashes = list(proof)
    for i, h in enumerate(hashes):
        _check_hash(h, f"proof hash {i}")
    return hashes


def verify_inclusion(
    index: int, size: int, leaf: bytes, proof: Sequence[bytes], root_hash: bytes
) -> None:
    """Raise ProofError unless ``proof`` shows leaf ``index`` of a ``size`` tree under the root."""
    if not 0 <= index < size:
        raise ProofError(f"index {index} is not below the tree size {size}")
    _check_hash(leaf, "leaf hash")
    _check_hash(root_hash, "root hash")
    path = _check_proof(proof)
    fn, sn = index, size - 1
    r = leaf
    for p in path:
        if sn == 0:
            raise ProofError("the inclusion proof is longer than the tree allows")
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
        raise ProofError("the inclusion proof is shorter than the tree needs")
    if r != root_hash:
        raise ProofError("the inclusion proof does not lead to the root hash")


def verify_consistency(
    size1: int, size2: int, proof: Sequence[bytes], root1: bytes, root2: bytes
) -> None:
    """Raise ProofError unless the tree of ``size2`` is an append-only extension of ``size1``."""
    if size1 < 0 or size2 < size1:
        raise ProofError(f"size {size2} is smaller than size {size1}")
    if size1 == 0:
        raise ProofError("a consistency proof from an empty tree proves nothing")
    path = _check_proof(proof)
    if size1 == size2:
        if path:
            raise ProofError("the sizes are equal, so the proof must be empty")
        if root1 != root2:
            raise ProofError("the sizes are equal but the root hashes differ")
        return
    _check_hash(root1, "first root hash")
    _check_hash(root2, "second root hash")
    if not path:
        raise ProofError("the consistency proof is empty")
    if _is_power_of_two(size1):
        path = [root1, *path]
    fn, sn = size1 - 1, size2 - 1
    while fn & 1:
        fn >>= 1
        sn >>= 1
    fr = sr = path[0]
    for c in path[1:]:
        if sn == 0:
            raise ProofError("the consistency proof is longer than the trees allow")
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
        raise ProofError("the consistency proof is shorter than the trees need")
    if fr != root1:
        raise ProofError("the consistency proof does not lead to the first root hash")
    if sr != root2:
        raise ProofError("the consistency proof does not lead to the second root hash")
