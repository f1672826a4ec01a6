"""RFC 6962 hashing and proofs: the published vectors, and every size up to 40 against a recomputation."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

import gongxin_verify
from backend.translog import merkle

VECTORS = json.loads(Path(__file__).with_name("rfc6962_vectors.json").read_text())
LEAVES = [bytes.fromhex(x) for x in VECTORS["leaf_inputs_hex"]]
HASHES = [merkle.leaf_hash(leaf) for leaf in LEAVES]


def _stored(hashes: list[bytes]) -> dict[merkle.Node, bytes]:
    _, _, made = merkle.append(0, [], hashes)
    stored = {(0, i): h for i, h in enumerate(hashes)}
    stored.update({(level, index): h for level, index, h in made})
    return stored


STORED = _stored(HASHES)


def _root(size: int) -> bytes:
    return bytes.fromhex(VECTORS["root_by_size_hex"][str(size)])


@pytest.mark.parametrize("size", range(9))
def test_roots_reproduce_the_vectors(size: int) -> None:
    assert merkle.root_from_leaves(HASHES[:size]) == _root(size)
    assert gongxin_verify.root_of([LEAVES[i] for i in range(size)]) == _root(size)
    if size:
        # From the stored perfect subtrees alone, as checkpoints and proofs read them.
        assert merkle.fold([STORED[n] for n in merkle.root_nodes(size)]) == _root(size)


@pytest.mark.parametrize(
    "case", VECTORS["inclusion_proofs"], ids=lambda c: f"{c['leaf_index']}@{c['tree_size']}"
)
def test_inclusion_proofs_reproduce_the_vectors(case: dict) -> None:
    index, size = case["leaf_index"], case["tree_size"]
    proof = merkle.range_hashes(merkle.inclusion_ranges(index, size), STORED)
    assert [h.hex() for h in proof] == case["proof_hex"]
    merkle.verify_inclusion(index, size, HASHES[index], proof, _root(size))
    gongxin_verify.verify_inclusion(index, size, HASHES[index], proof, _root(size))


@pytest.mark.parametrize("case", VECTORS["consistency_proofs"], ids=lambda c: f"{c['first']}-{c['second']}")
def test_consistency_proofs_reproduce_the_vectors(case: dict) -> None:
    first, second = case["first"], case["second"]
    proof = merkle.range_hashes(merkle.consistency_ranges(first, second), STORED)
    assert [h.hex() for h in proof] == case["proof_hex"]
    merkle.verify_consistency(first, second, _root(first), _root(second), proof)
    gongxin_verify.verify_consistency(first, second, _root(first), _root(second), proof)


def test_every_proof_up_to_size_33_verifies_against_a_recomputed_root() -> None:
    hashes = [merkle.leaf_hash(i.to_bytes(2, "big")) for i in range(33)]
    stored = _stored(hashes)
    roots = {n: merkle.root_from_leaves(hashes[:n]) for n in range(1, 34)}
    for size in range(1, 34):  # powers of two and every size between
        for index in range(size):
            proof = merkle.range_hashes(merkle.inclusion_ranges(index, size), stored)
            gongxin_verify.verify_inclusion(index, size, hashes[index], proof, roots[size])
        for first in range(1, size + 1):
            proof = merkle.range_hashes(merkle.consistency_ranges(first, size), stored)
            gongxin_verify.verify_consistency(first, size, roots[first], roots[size], proof)


def test_a_proof_for_another_leaf_or_root_is_refused() -> None:
    proof = merkle.range_hashes(merkle.inclusion_ranges(5, 8), STORED)
    with pytest.raises(gongxin_verify.Mismatch):
        gongxin_verify.verify_inclusion(5, 8, HASHES[4], proof, _root(8))
    with pytest.raises(gongxin_verify.Mismatch):
        gongxin_verify.verify_inclusion(5, 8, HASHES[5], proof[:-1], _root(8))
    consistency = merkle.range_hashes(merkle.consistency_ranges(6, 8), STORED)
    with pytest.raises(gongxin_verify.Mismatch):
        gongxin_verify.verify_consistency(6, 8, _root(5), _root(8), consistency)
    with pytest.raises(merkle.ProofError):
        merkle.verify_consistency(6, 8, _root(6), _root(7), consistency)


# --- the server's own verifier (merkle.verify_*), not only the offline one (tests/MUTATION.md) -----

_HASHES_33 = [merkle.leaf_hash(i.to_bytes(2, "big")) for i in range(33)]
_STORED_33 = _stored(_HASHES_33)
_ROOTS_33 = {n: merkle.root_from_leaves(_HASHES_33[:n]) for n in range(0, 34)}


def _consistency(first: int, second: int) -> list[bytes]:
    return merkle.range_hashes(merkle.consistency_ranges(first, second), _STORED_33)


def test_the_server_verifies_every_honest_proof_up_to_size_33() -> None:
    for size in range(1, 34):
        for index in range(size):
            proof = merkle.range_hashes(merkle.inclusion_ranges(index, size), _STORED_33)
            merkle.verify_inclusion(index, size, _HASHES_33[index], proof, _ROOTS_33[size])
        for first in range(1, size + 1):
            merkle.verify_consistency(
                first, size, _ROOTS_33[first], _ROOTS_33[size], _consistency(first, size)
            )


def test_the_server_refuses_a_consistency_proof_to_any_other_root() -> None:
    other = merkle.leaf_hash(b"forged")
    for size in range(2, 34):
        for first in range(1, size):
            proof = _consistency(first, size)
            with pytest.raises(merkle.ProofError):
                merkle.verify_consistency(first, size, other, _ROOTS_33[size], proof)
            with pytest.raises(merkle.ProofError):
                merkle.verify_consistency(first, size, _ROOTS_33[first], other, proof)
            if proof:
                with pytest.raises(merkle.ProofError):
                    merkle.verify_consistency(
                        first, size, _ROOTS_33[first], _ROOTS_33[size], proof[:-1] or [other]
                    )
                with pytest.raises(merkle.ProofError):
                    merkle.verify_consistency(first, size, _ROOTS_33[first], _ROOTS_33[size], [*proof, other])


def test_two_trees_of_one_size_are_consistent_only_with_one_root_and_no_proof() -> None:
    merkle.verify_consistency(5, 5, _ROOTS_33[5], _ROOTS_33[5], [])
    with pytest.raises(merkle.ProofError, match="one root"):
        merkle.verify_consistency(5, 5, _ROOTS_33[5], _ROOTS_33[4], [])  # a fork at one size
    with pytest.raises(merkle.ProofError, match="one root"):
        merkle.verify_consistency(5, 5, _ROOTS_33[5], _ROOTS_33[5], [_HASHES_33[0]])


def test_no_consistency_from_an_empty_tree_or_backwards_or_without_a_proof() -> None:
    with pytest.raises(merkle.ProofError, match="no consistency proof"):
        merkle.verify_consistency(0, 5, _ROOTS_33[0], _ROOTS_33[5], _consistency(1, 5))
    with pytest.raises(merkle.ProofError, match="no consistency proof"):
        merkle.verify_consistency(6, 5, _ROOTS_33[6], _ROOTS_33[5], _consistency(5, 6))
    with pytest.raises(merkle.ProofError, match="empty consistency proof"):
        merkle.verify_consistency(3, 5, _ROOTS_33[3], _ROOTS_33[5], [])


def test_the_server_refuses_an_inclusion_proof_out_of_the_tree_or_of_the_wrong_length() -> None:
    proof = merkle.range_hashes(merkle.inclusion_ranges(4, 8), _STORED_33)
    for index in (8, 9, -1):
        with pytest.raises(merkle.ProofError, match="is not in a tree of size 8"):
            merkle.verify_inclusion(index, 8, _HASHES_33[4], proof, _ROOTS_33[8])
    with pytest.raises(merkle.ProofError, match="inclusion proof too long"):
        merkle.verify_inclusion(4, 8, _HASHES_33[4], [*proof, _HASHES_33[0]], _ROOTS_33[8])
    with pytest.raises(merkle.ProofError, match="inclusion proof too short"):
        merkle.verify_inclusion(4, 8, _HASHES_33[4], proof[:-1], _ROOTS_33[8])
    with pytest.raises(merkle.ProofError, match="does not lead to the root"):
        merkle.verify_inclusion(4, 8, _HASHES_33[5], proof, _ROOTS_33[8])


def test_leaf_and_node_hashes_carry_their_rfc6962_prefixes() -> None:
    import hashlib

    assert merkle.leaf_hash(b"") == hashlib.sha256(b"\x00").digest()
    assert merkle.leaf_hash(b"\x00").hex() == VECTORS_FIRST_LEAF_HASH
    assert merkle.node_hash(b"a" * 32, b"b" * 32) == hashlib.sha256(b"\x01" + b"a" * 32 + b"b" * 32).digest()


VECTORS_FIRST_LEAF_HASH = "96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7"


def test_no_proof_is_built_for_a_leaf_outside_the_tree_or_from_an_empty_tree() -> None:
    for index in (8, 9, -1):
        with pytest.raises(merkle.ProofError, match="is not in a tree of size 8"):
            merkle.inclusion_ranges(index, 8)
    for first, second in ((0, 5), (6, 5), (-1, 5)):
        with pytest.raises(merkle.ProofError, match="no consistency proof"):
            merkle.consistency_ranges(first, second)


class _Tiles(dict):
    """Nodes read back from tiles, as the service reads them (a Mapping of node to hash)."""

    def __init__(self, tiles: dict[merkle.Tile, bytes]) -> None:
        super().__init__()
        self.tiles = tiles

    def __missing__(self, node: merkle.Node) -> bytes:
        tile, offset = merkle.tile_of(node)
        value = merkle.node_in_tile(self.tiles.get(tile, b""), offset)
        if value is None:
            raise KeyError(node)
        return value


def test_tiles_hold_every_node_at_its_own_place_and_proofs_read_from_them_verify() -> None:
    # 65,541 leaves: three tile levels, partial tiles at each, sizes around 256 and 65,536.
    hashes = [merkle.leaf_hash(b"%d" % i) for i in range(65_541)]
    tiles: dict[merkle.Tile, bytes] = {}
    size, frontier = 0, []
    for batch in (1, 255, 1, 300, 65_000 - 557, 3_984):  # integrated in uneven batches
        new = hashes[size : size + batch]
        size_after, frontier, made = merkle.append(size, frontier, new)
        for tile, patches in merkle.tile_patches(
            [(0, size + i, h) for i, h in enumerate(new)] + made
        ).items():
            tiles[tile] = merkle.patch_tile(tiles.get(tile), patches)
        size = size_after
    assert size == len(hashes)
    _, _, made = merkle.append(0, [], hashes)
    stored = _Tiles(tiles)
    offsets = {merkle.tile_of((level, index)) for level, index, _ in made}
    assert len(offsets) == len(made)  # no two nodes share a place
    assert all(stored[(level, index)] == h for level, index, h in made)
    for n in (1, 255, 256, 257, 511, 512, 65_535, 65_536, 65_541):
        root = gongxin_verify.root_of_hashes(hashes[:n])
        assert merkle.fold([stored[node] for node in merkle.root_nodes(n)]) == root
        for index in {0, n // 3, n - 1}:
            proof = merkle.range_hashes(merkle.inclusion_ranges(index, n), stored)
            gongxin_verify.verify_inclusion(index, n, hashes[index], proof, root)
        for first in {1, 255, 256, 300, n // 2 or 1, n}:
            if first <= n:
                first_root = gongxin_verify.root_of_hashes(hashes[:first])
                proof = merkle.range_hashes(merkle.consistency_ranges(first, n), stored)
                gongxin_verify.verify_consistency(first, n, first_root, root, proof)
    with pytest.raises(KeyError):
        stored[(0, 65_541)]  # not written: zero bytes in its tile
