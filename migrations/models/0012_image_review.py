from tortoise import fields, migrations
from tortoise.migrations import operations as ops


class Migration(migrations.Migration):
    """A platform admin decides on a posting image WeChat held for review (backend/recruitment/images.py)."""

    dependencies = [("models", "0011_recextra")]

    initial = False

    operations = [
        ops.AddField(model_name="ImageCheck", name="decision", field=fields.CharField(null=True, max_length=16)),
        ops.AddField(model_name="ImageCheck", name="decided_by_id", field=fields.BigIntField(null=True)),
        ops.AddField(
            model_name="ImageCheck",
            name="decided_at",
            field=fields.DatetimeField(null=True, auto_now=False, auto_now_add=False),
        ),
        ops.AddField(model_name="ImageCheck", name="decision_reason", field=fields.TextField(default="")),
    ]
