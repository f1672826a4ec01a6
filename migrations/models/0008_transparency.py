from tortoise import migrations
from tortoise.migrations import operations as ops
from tortoise import fields

class Migration(migrations.Migration):
    dependencies = [('models', '0007_recruitment')]

    initial = False

    operations = [
        ops.CreateModel(
            name='Checkpoint',
            fields=[
                ('id', fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('organization_id', fields.BigIntField()),
                ('size', fields.BigIntField()),
                ('root', fields.BinaryField()),
                ('note', fields.TextField(unique=False)),
                ('key_id', fields.CharField(max_length=8)),
                ('signed_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
            ],
            options={'table': 'translog_checkpoints', 'app': 'models', 'unique_together': (('organization_id', 'size'),), 'pk_attr': 'id', 'table_description': 'A signed checkpoint (C2SP signed note), kept for good.'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='Leaf',
            fields=[
                ('id', fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('organization_id', fields.BigIntField()),
                ('idx', fields.BigIntField()),
                ('data', fields.BinaryField()),
                ('hash', fields.BinaryField()),
                ('entry_id', fields.BigIntField(null=True, db_index=True)),
                ('appended_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
            ],
            options={'table': 'translog_leaves', 'app': 'models', 'unique_together': (('organization_id', 'idx'),), 'pk_attr': 'id', 'table_description': 'One leaf: the exact bytes hashed, their leaf hash, and the ledger entry it records (if any).'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='Log',
            fields=[
                ('organization_id', fields.BigIntField(primary_key=True, generated=False, unique=True, db_index=True)),
                ('next_index', fields.BigIntField(default=0)),
            ],
            options={'table': 'translog_logs', 'app': 'models', 'pk_attr': 'organization_id', 'table_description': 'The log of one organization: the next index to assign (origin ``<log name>/<credit code>``).'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='LogKey',
            fields=[
                ('id', fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('generation', fields.IntField(unique=True)),
                ('name', fields.CharField(max_length=200)),
                ('key_id', fields.CharField(max_length=8)),
                ('public_key', fields.CharField(max_length=64)),
                ('private_key_encrypted', fields.TextField(null=True, unique=False)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
                ('retired_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
            ],
            options={'table': 'translog_keys', 'app': 'models', 'pk_attr': 'id', 'table_description': 'An Ed25519 key that signs checkpoints. Retired keys stay published: what they signed verifies.'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='Node',
            fields=[
                ('id', fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('organization_id', fields.BigIntField()),
                ('level', fields.SmallIntField()),
                ('idx', fields.BigIntField()),
                ('hash', fields.BinaryField()),
            ],
            options={'table': 'translog_nodes', 'app': 'models', 'unique_together': (('organization_id', 'level', 'idx'),), 'pk_attr': 'id', 'table_description': 'The hash of a perfect subtree (level >= 1), written once when its last leaf is integrated.'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='Pending',
            fields=[
                ('organization_id', fields.BigIntField(primary_key=True, generated=False, unique=True, db_index=True)),
            ],
            options={'table': 'translog_pending', 'app': 'models', 'pk_attr': 'organization_id', 'table_description': 'A log with leaves appended but not yet covered by a checkpoint.'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='Tree',
            fields=[
                ('organization_id', fields.BigIntField(primary_key=True, generated=False, unique=True, db_index=True)),
                ('size', fields.BigIntField(default=0)),
                ('root', fields.BinaryField()),
                ('frontier', fields.BinaryField()),
            ],
            options={'table': 'translog_trees', 'app': 'models', 'pk_attr': 'organization_id', 'table_description': 'The integrated tree of a log: its size, root and frontier (root nodes, largest first).'},
            bases=['Model'],
        ),
    ]
