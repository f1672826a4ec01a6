from tortoise import fields, migrations
from tortoise.migrations import operations as ops


class DropColumn(ops.RemoveField):
    """RemoveField as ``ALTER TABLE ... DROP COLUMN`` on every database.

    Tortoise 1.1 removes a field on SQLite by rebuilding the table, and the rebuilt party_checkins
    lost its UNIQUE (activity_id, user_id), the constraint exactly-once check-in rests on (seen with
    sqlite3 .schema; tests/test_migrations.py compares migrated and generated schemas). SQLite has
    DROP COLUMN since 3.35, PostgreSQL always had it. The migration state changes as RemoveField's.
    """

    async def database_forward(self, app_label, old_state, new_state, state_editor=None) -> None:
        if not state_editor:
            return
        model = old_state.apps.get_model(f"{app_label}.{self.model_name}")
        column = model._meta.fields_map[self.name].source_field or self.name
        await state_editor._run_sql(f'ALTER TABLE "{model._meta.db_table}" DROP COLUMN "{column}"')


class Migration(migrations.Migration):
    """Check-ins written in one statement: activities get a revision, check-ins lose their nonce.

    ``revision`` has a database default so that existing activities get 1 when it is added.
    """

    dependencies = [("models", "0001_initial")]

    initial = False

    operations = [
        ops.AddField(
            model_name="Activity",
            name="revision",
            field=fields.IntField(default=1, db_default=1),
        ),
        DropColumn(model_name="Checkin", name="nonce"),
    ]
