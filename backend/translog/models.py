"""The transparency log's tables: one append-only RFC 6962 log per organization.

``Log`` holds the organization's sequence (``next_index``): an append increments it and inserts its
``Leaf`` in the appending transaction, so indexes are gapless and never shared (the row stays locked
until the commit; a rollback gives the index back). ``Pending`` marks a log with leaves not yet in a
checkpoint. The integrator (``integrate.py``) then computes the new perfect subtrees (``Tile``) from
the tree's frontier (``Tree``) and signs a ``Checkpoint`` with the active ``LogKey``.
"""

from __future__ import annotations

from tortoise import fields
from tortoise.models import Model


class LogKey(Model):
    """An Ed25519 key that signs checkpoints. Retired keys stay published: what they signed verifies."""

    id = fields.BigIntField(primary_key=True)
    # The newest generation signs; two processes creating one at once collide on this key.
    generation = fields.IntField(unique=True)
    name = fields.CharField(max_length=200)
    key_id = fields.CharField(max_length=8)  # hex of the 4-byte note key id
    public_key = fields.CharField(max_length=64)  # base64 of the raw 32 bytes
    private_key_encrypted = fields.TextField(null=True)  # DATA_ENCRYPTION_KEY
    created_at = fields.DatetimeField(auto_now_add=True)
    retired_at = fields.DatetimeField(null=True)

    class Meta:
        table = "translog_keys"


class Log(Model):
    """The log of one organization: the next index to assign (origin ``<log name>/<credit code>``)."""

    organization_id = fields.BigIntField(primary_key=True, generated=False)
    next_index = fields.BigIntField(default=0)

    class Meta:
        table = "translog_logs"


class Leaf(Model):
    """One leaf: the exact bytes hashed, their leaf hash, and the ledger entry it records (if any)."""

    id = fields.BigIntField(primary_key=True)
    organization_id = fields.BigIntField()
    idx = fields.BigIntField()
    data = fields.BinaryField()
    hash = fields.BinaryField()
    entry_id = fields.BigIntField(null=True, db_index=True)
    appended_at = fields.DatetimeField()

    class Meta:
        table = "translog_leaves"
        unique_together = (("organization_id", "idx"),)


class Node(Model):
    """The hash of a perfect subtree (level >= 1), as written before tiles (0009): no longer read."""

    id = fields.BigIntField(primary_key=True)
    organization_id = fields.BigIntField()
    level = fields.SmallIntField()
    idx = fields.BigIntField()
    hash = fields.BinaryField()

    class Meta:
        table = "translog_nodes"
        unique_together = (("organization_id", "level", "idx"),)


class Tile(Model):
    """Perfect subtree hashes of eight levels under one subtree (merkle.tile_of), written as they complete."""

    id = fields.BigIntField(primary_key=True)
    organization_id = fields.BigIntField()
    level = fields.SmallIntField()  # the tile level: node levels 8 * level to 8 * level + 7
    idx = fields.BigIntField()
    hashes = fields.BinaryField()  # 511 hashes at fixed offsets, zero bytes where not written yet

    class Meta:
        table = "translog_tiles"
        unique_together = (("organization_id", "level", "idx"),)


class Tree(Model):
    """The integrated tree of a log: its size, root and frontier (root nodes, largest first)."""

    organization_id = fields.BigIntField(primary_key=True, generated=False)
    size = fields.BigIntField(default=0)
    root = fields.BinaryField()
    frontier = fields.BinaryField()

    class Meta:
        table = "translog_trees"


class Checkpoint(Model):
    """A signed checkpoint (C2SP signed note), kept for good."""

    id = fields.BigIntField(primary_key=True)
    organization_id = fields.BigIntField()
    size = fields.BigIntField()
    root = fields.BinaryField()
    note = fields.TextField()
    key_id = fields.CharField(max_length=8)
    signed_at = fields.DatetimeField()

    class Meta:
        table = "translog_checkpoints"
        unique_together = (("organization_id", "size"),)


class Pending(Model):
    """A log with leaves appended but not yet covered by a checkpoint."""

    organization_id = fields.BigIntField(primary_key=True, generated=False)

    class Meta:
        table = "translog_pending"
