from tortoise import fields, migrations
from tortoise.migrations import operations as ops


class Migration(migrations.Migration):
    """A party-building activity may be the check-in of a volunteer posting (backend/recruitment/checkin.py)."""

    dependencies = [("models", "0010_logperf")]

    initial = False

    operations = [
        ops.AddField(
            model_name="Activity",
            name="posting_id",
            field=fields.BigIntField(null=True, db_index=True),
        ),
        # AddField leaves out the index db_index asks for (the name is the one the models generate).
        ops.CreateModel(
            name="ImageCheck",
            fields=[
                ("id", fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ("trace_id", fields.CharField(unique=True, max_length=64)),
                ("posting_id", fields.BigIntField(null=True, db_index=True)),
                ("url", fields.CharField(default="", max_length=1000)),
                ("position", fields.IntField(default=0)),
                ("suggest", fields.CharField(null=True, max_length=16)),
                ("label", fields.IntField(null=True)),
                ("checked_at", fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ("created_at", fields.DatetimeField(auto_now=False, auto_now_add=True)),
            ],
            options={
                "table": "recruitment_image_checks",
                "app": "models",
                "pk_attr": "id",
                "table_description": (
                    "The WeChat media check of one image of a posting, by its trace_id, and the verdict pushed back."
                ),
            },
            bases=["Model"],
        ),
        ops.RunSQL(
            'CREATE INDEX IF NOT EXISTS "idx_party_activ_posting_ad2ff0" ON "party_activities" ("posting_id")'
        ),
    ]
