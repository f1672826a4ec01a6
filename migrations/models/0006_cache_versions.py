from tortoise import migrations
from tortoise.migrations import operations as ops
from tortoise import fields

class Migration(migrations.Migration):
    dependencies = [('models', '0005_charity')]

    initial = False

    operations = [
        ops.CreateModel(
            name='CacheVersion',
            fields=[
                ('name', fields.CharField(primary_key=True, unique=True, db_index=True, max_length=96)),
                ('version', fields.BigIntField(default=0)),
                ('changed_at', fields.FloatField(db_index=True)),
            ],
            options={'table': 'cache_versions', 'app': 'models', 'pk_attr': 'name', 'table_description': 'The version of one cached thing (``user:<id>``, ``org:<credit code>``), bumped by each change.'},
            bases=['Model'],
        ),
    ]
