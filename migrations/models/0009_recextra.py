from tortoise import fields, migrations
from tortoise.migrations import operations as ops


class Migration(migrations.Migration):
    """A party-building activity may be the check-in of a volunteer posting (backend/recruitment/checkin.py)."""

    dependencies = [("models", "0008_transparency")]

    initial = False

    operations = [
        ops.AddField(
            model_name="Activity",
            name="posting_id",
            field=fields.BigIntField(null=True, db_index=True),
        ),
        # AddField leaves out the index db_index asks for (the name is the one the models generate).
        ops.RunSQL(
            'CREATE INDEX IF NOT EXISTS "idx_party_activ_posting_ad2ff0" ON "party_activities" ("posting_id")'
        ),
    ]
