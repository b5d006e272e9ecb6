"""RFC 9162 conformance: the transparency-dev vectors in ../shared, the RFC 6962 hasher
vectors, and exhaustive small trees with every single-bit flip, truncation and extension."""

from __future__ import annotations

import base64
import hashlib
import json
from pathlib import Path

import pytest

from docket.ledger import merkle
from docket.ledger.merkle import ProofError
from tests.conftest import SHARED

VECTORS = SHARED / "vectors"
needs_shared = pytest.mark.skipif(not VECTORS.exists(), reason="../shared is not present")


def b64(value: str | None) -> bytes:
    return base64.b64decode(value) if value else b""


def vector_id(path: Path) -> str:
    return str(path.relative_to(VECTORS))


def vector_files(kind: str) -> list[Path]:
    return sorted((VECTORS / "merkle" / kind).rglob("*.json")) if VECTORS.exists() else []


@needs_shared
@pytest.mark.parametrize("path", vector_files("inclusion"), ids=vector_id)
def test_inclusion_vectors(path: Path) -> None:
    v = json.loads(path.read_text())
    proof = [b64(h) for h in v["proof"] or []]
    args = (v["leafIdx"], v["treeSize"], b64(v["leafHash"]), proof, b64(v["root"]))
    if v["wantErr"]:
        with pytest.raises(ProofError):
            merkle.verify_inclusion(*args)
    else:
        merkle.verify_inclusion(*args)


@needs_shared
@pytest.mark.parametrize("path", vector_files("consistency"), ids=vector_id)
def test_consistency_vectors(path: Path) -> None:
    v = json.loads(path.read_text())
    proof = [b64(h) for h in v["proof"] or []]
    args = (v["size1"], v["size2"], proof, b64(v["root1"]), b64(v["root2"]))
    if v["wantErr"]:
        with pytest.raises(ProofError):
            merkle.verify_consistency(*args)
    else:
        merkle.verify_consistency(*args)


def test_vector_counts() -> None:
    if not VECTORS.exists():
        pytest.skip("../shared is not present")
    assert len(vector_files("inclusion")) + len(vector_files("consistency")) > 150


@needs_shared
def test_rfc6962_hasher_vectors() -> None:
    v = json.loads((VECTORS / "rfc6962-hasher.json").read_text())
    assert merkle.EMPTY_ROOT.hex() == v["empty_tree"]
    for case in v["leaf"]:
        assert merkle.leaf_hash(case["input"].encode()).hex() == case["hash"]
    for case in v["node"]:
        assert merkle.node_hash(case["left"].encode(), case["right"].encode()).hex() == case["hash"]


def leaves(n: int) -> list[bytes]:
    return [merkle.leaf_hash(f"entry {i}".encode()) for i in range(n)]


def mutations(proof: list[bytes]) -> list[list[bytes]]:
    """Every single-bit flip, every truncation and two extensions of a proof."""
    out: list[list[bytes]] = []
    for i, h in enumerate(proof):
        for bit in range(256):
            flipped = bytearray(h)
            flipped[bit // 8] ^= 1 << (bit % 8)
            out.append([*proof[:i], bytes(flipped), *proof[i + 1 :]])
    for cut in range(len(proof)):
        out.append(proof[:cut])
    out.append([*proof, hashlib.sha256(b"extra").digest()])
    out.append([hashlib.sha256(b"extra").digest(), *proof])
    return out


def test_roots_match_the_recursive_definition() -> None:
    for n in range(0, 70):
        ls = leaves(n)
        compact = merkle.CompactRange()
        for leaf in ls:
            compact.push(leaf)
        expected = merkle.root_from_leaves(ls)
        assert compact.root() == expected
        assert merkle.root(n, merkle.nodes_from_leaves(ls)) == expected
        assert merkle.CompactRange.from_nodes(n, merkle.nodes_from_leaves(ls)).root() == expected


def test_exhaustive_inclusion_up_to_64() -> None:
    for size in range(1, 65):
        ls = leaves(size)
        node = merkle.nodes_from_leaves(ls)
        root = merkle.root(size, node)
        for index in range(size):
            proof = merkle.inclusion_proof(index, size, node)
            merkle.verify_inclusion(index, size, ls[index], proof, root)
            for wrong_index in {index ^ 1, index + 1, size} - {index}:
                if wrong_index < size and merkle.inclusion_proof(wrong_index, size, node) == proof:
                    continue
                with pytest.raises(ProofError):
                    merkle.verify_inclusion(wrong_index, size, ls[index], proof, root)
            if size <= 24:  # every bit of every proof: ~400k checks in all
                for bad in mutations(proof):
                    with pytest.raises(ProofError):
                        merkle.verify_inclusion(index, size, ls[index], bad, root)


def test_exhaustive_consistency_up_to_64() -> None:
    for size2 in range(1, 65):
        ls = leaves(size2)
        node = merkle.nodes_from_leaves(ls)
        root2 = merkle.root(size2, node)
        for size1 in range(1, size2 + 1):
            root1 = merkle.root(size1, node)
            proof = merkle.consistency_proof(size1, size2, node)
            merkle.verify_consistency(size1, size2, proof, root1, root2)
            if size1 < size2:
                with pytest.raises(ProofError):
                    merkle.verify_consistency(size1, size2, proof, root2, root1)
            if size2 <= 24:
                for bad in mutations(proof):
                    with pytest.raises(ProofError):
                        merkle.verify_consistency(size1, size2, bad, root1, root2)


def test_strict_inputs() -> None:
    ls = leaves(5)
    node = merkle.nodes_from_leaves(ls)
    root = merkle.root(5, node)
    proof = merkle.inclusion_proof(2, 5, node)
    with pytest.raises(ProofError):
        merkle.verify_inclusion(5, 5, ls[2], proof, root)
    with pytest.raises(ProofError):
        merkle.verify_inclusion(-1, 5, ls[2], proof, root)
    with pytest.raises(ProofError):
        merkle.verify_inclusion(2, 5, ls[2][:31], proof, root)
    with pytest.raises(ProofError):
        merkle.verify_inclusion(2, 5, ls[2], [p + b"\x00" for p in proof], root)
    with pytest.raises(ProofError):
        merkle.consistency_proof(0, 5, node)
    with pytest.raises(ProofError):
        merkle.verify_consistency(0, 5, [], merkle.EMPTY_ROOT, root)
    with pytest.raises(ProofError):
        merkle.inclusion_proof(5, 5, node)


def test_root_does_not_commit_to_size() -> None:
    """The pitfall of security.md §1.5: callers must take the size from a signed checkpoint."""
    ls = leaves(4)
    node = merkle.nodes_from_leaves(ls)
    proof = merkle.inclusion_proof(0, 3, node)
    merkle.verify_inclusion(0, 3, ls[0], proof, merkle.root(3, node))


def test_proofs_read_logarithmically_many_nodes() -> None:
    ls = leaves(1000)
    inner = merkle.nodes_from_leaves(ls)
    reads: list[tuple[int, int]] = []

    def counting(level: int, index: int) -> bytes:
        reads.append((level, index))
        return inner(level, index)

    for index in (0, 511, 512, 999):
        reads.clear()
        merkle.inclusion_proof(index, 1000, counting)
        assert len(reads) <= 2 * 10
    reads.clear()
    merkle.consistency_proof(333, 1000, counting)
    assert len(reads) <= 2 * 10
