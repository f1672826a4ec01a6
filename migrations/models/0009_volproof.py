from tortoise import migrations
from tortoise.migrations import operations as ops
from orjson import loads
from tortoise.fields.base import OnDelete
from tortoise.fields.data import JSON_DUMPS
from tortoise import fields
from tortoise.indexes import Index

class Migration(migrations.Migration):
    dependencies = [('models', '0008_transparency')]

    initial = False

    operations = [
        ops.CreateModel(
            name='VolunteerProof',
            fields=[
                ('id', fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('user', fields.ForeignKeyField('models.User', source_field='user_id', db_constraint=True, to_field='id', related_name='volunteer_proofs', on_delete=OnDelete.CASCADE)),
                ('organization_id', fields.BigIntField(null=True)),
                ('content', fields.JSONField(encoder=JSON_DUMPS, decoder=loads)),
                ('digest', fields.CharField(max_length=43)),
                ('record_ids', fields.JSONField(default=list, encoder=JSON_DUMPS, decoder=loads)),
                ('kid', fields.CharField(max_length=16)),
                ('token', fields.CharField(max_length=255)),
                ('issued_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
                ('revoked_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('revoke_reason', fields.CharField(default='', max_length=200)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
            ],
            options={'table': 'recruitment_volunteer_proofs', 'app': 'models', 'indexes': [Index(fields=['user_id', 'id'])], 'pk_attr': 'id', 'table_description': 'A signed proof of the service records of one volunteer, as issued to them, until revoked.'},
            bases=['Model'],
        ),
    ]
