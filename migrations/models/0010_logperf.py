"""Tiles: the transparency log's perfect subtree hashes stored eight levels to a row (merkle.tile_of).

The nodes already stored (``translog_nodes``, and the leaf hashes for level 0) are copied into tiles
here, so every checkpoint signed before stays provable; ``translog_nodes`` is kept, no longer read.
"""

from tortoise import fields, migrations
from tortoise.migrations import operations as ops


async def copy_nodes_into_tiles(apps, schema_editor) -> None:
    from backend.translog import merkle

    client = schema_editor.client
    postgres = client.capabilities.dialect == "postgres"

    def q(sql: str) -> str:
        return (
            sql
            if postgres
            else sql.replace("$1", "?").replace("$2", "?").replace("$3", "?").replace("$4", "?")
        )

    _, trees = await client.execute_query("SELECT organization_id, size FROM translog_trees")
    for tree in trees:
        org, size = int(tree["organization_id"]), int(tree["size"])
        _, leaves = await client.execute_query(
            q("SELECT idx, hash FROM translog_leaves WHERE organization_id = $1 AND idx < $2"), [org, size]
        )
        _, nodes = await client.execute_query(
            q("SELECT level, idx, hash FROM translog_nodes WHERE organization_id = $1"), [org]
        )
        stored = [(0, int(r["idx"]), bytes(r["hash"])) for r in leaves]
        stored += [(int(r["level"]), int(r["idx"]), bytes(r["hash"])) for r in nodes]
        rows = [
            [org, level, index, merkle.patch_tile(None, patches)]
            for (level, index), patches in merkle.tile_patches(stored).items()
        ]
        if rows:
            await client.execute_many(
                q("INSERT INTO translog_tiles (organization_id, level, idx, hashes) VALUES ($1, $2, $3, $4)"),
                rows,
            )


class Migration(migrations.Migration):
    dependencies = [("models", "0009_volproof")]

    initial = False

    operations = [
        ops.CreateModel(
            name="Tile",
            fields=[
                ("id", fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ("organization_id", fields.BigIntField()),
                ("level", fields.SmallIntField()),
                ("idx", fields.BigIntField()),
                ("hashes", fields.BinaryField()),
            ],
            options={
                "table": "translog_tiles",
                "app": "models",
                "unique_together": (("organization_id", "level", "idx"),),
                "pk_attr": "id",
                "table_description": "Perfect subtree hashes of eight levels under one subtree (merkle.tile_of), written as they complete.",
            },
            bases=["Model"],
        ),
        ops.RunPython(copy_nodes_into_tiles, ops.RunPython.noop),
    ]
