from tortoise import migrations
from tortoise.migrations import operations as ops
from tortoise import fields

class Migration(migrations.Migration):
    dependencies = [('models', '0003_notify')]

    initial = False

    operations = [
        ops.CreateModel(
            name='OrganizationNameGram',
            fields=[
                ('key', fields.BigIntField(primary_key=True, generated=False, unique=True, db_index=True)),
            ],
            options={'table': 'org_name_grams', 'app': 'models', 'pk_attr': 'key', 'table_description': 'One posting of the name search index: a character bigram and an organization, as one integer.'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='OrganizationSearchName',
            fields=[
                ('organization_id', fields.BigIntField(primary_key=True, generated=False, unique=True, db_index=True)),
                ('name_key', fields.TextField(unique=False)),
            ],
            options={'table': 'org_search_names', 'app': 'models', 'pk_attr': 'organization_id', 'table_description': 'The name of an organization as the search index holds it (normalized), to diff a rename against.'},
            bases=['Model'],
        ),
    ]
