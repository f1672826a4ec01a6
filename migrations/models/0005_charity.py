from tortoise import migrations
from tortoise.migrations import operations as ops
from backend.charity.models import DisclosureKind, DonorDisplay, EntryKind, ProjectKind, ProjectStatus, UpdateStatus
from orjson import loads
from tortoise.fields.base import OnDelete
from tortoise.fields.data import JSON_DUMPS
from tortoise import fields
from tortoise.indexes import Index

class Migration(migrations.Migration):
    dependencies = [('models', '0004_registry')]

    initial = False

    operations = [
        ops.CreateModel(
            name='Disclosure',
            fields=[
                ('id', fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('organization', fields.ForeignKeyField('models.Organization', source_field='organization_id', db_constraint=True, to_field='id', related_name='charity_disclosures', on_delete=OnDelete.RESTRICT)),
                ('item_key', fields.CharField(max_length=96)),
                ('kind', fields.CharEnumField(description='ANNUAL_REPORT: annual_report\nMAJOR_CHANGE: major_change\nLEFTOVER_FUNDS: leftover_funds\nPROGRESS: progress', enum_type=DisclosureKind, max_length=16)),
                ('title', fields.CharField(max_length=200)),
                ('content', fields.TextField(unique=False)),
                ('url', fields.CharField(null=True, max_length=500)),
                ('author_id', fields.BigIntField(null=True)),
                ('published_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
            ],
            options={'table': 'charity_disclosures', 'app': 'models', 'unique_together': (('organization', 'item_key'),), 'pk_attr': 'id', 'table_description': 'A disclosure that fulfils one item of the Order 81 calendar (annual report, change, leftovers).'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='OverdueItem',
            fields=[
                ('id', fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('organization', fields.ForeignKeyField('models.Organization', source_field='organization_id', db_constraint=True, to_field='id', related_name='overdue_disclosures', on_delete=OnDelete.CASCADE)),
                ('item_key', fields.CharField(max_length=96)),
                ('kind', fields.CharEnumField(description='ANNUAL_REPORT: annual_report\nMAJOR_CHANGE: major_change\nLEFTOVER_FUNDS: leftover_funds\nPROGRESS: progress', enum_type=DisclosureKind, max_length=16)),
                ('label', fields.CharField(max_length=200)),
                ('due_on', fields.DateField()),
                ('detected_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
                ('resolved_on', fields.DateField(null=True)),
            ],
            options={'table': 'charity_overdue_items', 'app': 'models', 'unique_together': (('organization', 'item_key'),), 'pk_attr': 'id', 'table_description': 'A calendar item found overdue by the daily scan: feeds the credit rules until resolved.'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='Project',
            fields=[
                ('id', fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('organization', fields.ForeignKeyField('models.Organization', source_field='organization_id', db_constraint=True, to_field='id', related_name='fundraising_projects', on_delete=OnDelete.RESTRICT)),
                ('title', fields.CharField(max_length=200)),
                ('kind', fields.CharEnumField(description='PUBLIC_CAMPAIGN: public_campaign\nDIRECTED: directed\nNON_PUBLIC: non_public', enum_type=ProjectKind, max_length=16)),
                ('filing_number', fields.CharField(null=True, max_length=64)),
                ('plan', fields.JSONField(default=dict, encoder=JSON_DUMPS, decoder=loads)),
                ('target_fen', fields.BigIntField()),
                ('status', fields.CharEnumField(default=ProjectStatus.DRAFT, description='DRAFT: draft\nFUNDRAISING: fundraising\nEXECUTING: executing\nCLOSED: closed', enum_type=ProjectStatus, max_length=16)),
                ('started_on', fields.DateField(null=True)),
                ('closed_on', fields.DateField(null=True)),
                ('created_by_id', fields.BigIntField(null=True)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
                ('updated_at', fields.DatetimeField(auto_now=True, auto_now_add=False)),
            ],
            options={'table': 'charity_projects', 'app': 'models', 'indexes': [Index(fields=['organization_id', 'status'])], 'pk_attr': 'id', 'table_description': 'One fundraising project (募捐项目) of an organization, with its totals kept current.'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='CategoryTotal',
            fields=[
                ('id', fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('project', fields.ForeignKeyField('models.Project', source_field='project_id', db_constraint=True, to_field='id', related_name='category_totals', on_delete=OnDelete.CASCADE)),
                ('category', fields.CharField(max_length=32)),
                ('spent_fen', fields.BigIntField(default=0)),
            ],
            options={'table': 'charity_category_totals', 'app': 'models', 'unique_together': (('project', 'category'),), 'pk_attr': 'id', 'table_description': 'Spending of one project in one category (支出明细 by category, as disclosed).'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='LedgerEntry',
            fields=[
                ('id', fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('project', fields.ForeignKeyField('models.Project', source_field='project_id', db_constraint=True, to_field='id', related_name='entries', on_delete=OnDelete.RESTRICT)),
                ('organization_id', fields.BigIntField(db_index=True)),
                ('kind', fields.CharEnumField(description='DONATION: donation\nEXPENDITURE: expenditure\nCORRECTION: correction', enum_type=EntryKind, max_length=16)),
                ('amount_fen', fields.BigIntField()),
                ('received_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('channel', fields.CharField(null=True, max_length=32)),
                ('external_ref', fields.CharField(null=True, max_length=128)),
                ('donor_display', fields.CharEnumField(null=True, description='MASKED: masked\nANONYMOUS: anonymous\nFULL: full', enum_type=DonorDisplay, max_length=16)),
                ('donor_public', fields.CharField(null=True, max_length=64)),
                ('donor_name_encrypted', fields.TextField(null=True, unique=False)),
                ('receipt_code', fields.CharField(null=True, unique=True, max_length=20)),
                ('category', fields.CharField(null=True, max_length=32)),
                ('payee', fields.CharField(null=True, max_length=200)),
                ('paid_on', fields.DateField(null=True)),
                ('purpose', fields.TextField(null=True, unique=False)),
                ('receipt_sha256', fields.CharField(null=True, max_length=64)),
                ('receipt_url', fields.CharField(null=True, max_length=500)),
                ('advance', fields.BooleanField(default=False)),
                ('explanation', fields.TextField(null=True, unique=False)),
                ('reverses', fields.OneToOneField('models.LedgerEntry', source_field='reverses_id', null=True, db_constraint=True, to_field='id', related_name='reversal', on_delete=OnDelete.RESTRICT)),
                ('recorded_by_id', fields.BigIntField(null=True)),
                ('recorded_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
            ],
            options={'table': 'charity_ledger_entries', 'app': 'models', 'unique_together': (('channel', 'external_ref'),), 'indexes': [Index(fields=['project_id', 'id'])], 'pk_attr': 'id', 'table_description': 'A donation, an expenditure or a correction: written once, never changed.'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='MonthTotal',
            fields=[
                ('id', fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('project', fields.ForeignKeyField('models.Project', source_field='project_id', db_constraint=True, to_field='id', related_name='month_totals', on_delete=OnDelete.CASCADE)),
                ('month', fields.CharField(max_length=7)),
                ('slot', fields.SmallIntField()),
                ('raised_fen', fields.BigIntField(default=0)),
                ('spent_fen', fields.BigIntField(default=0)),
            ],
            options={'table': 'charity_month_totals', 'app': 'models', 'unique_together': (('project', 'month', 'slot'),), 'pk_attr': 'id', 'table_description': 'Income and spending of one project in one month (Beijing time), for the chart.'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='ProgressUpdate',
            fields=[
                ('id', fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('project', fields.ForeignKeyField('models.Project', source_field='project_id', db_constraint=True, to_field='id', related_name='updates', on_delete=OnDelete.CASCADE)),
                ('text', fields.TextField(unique=False)),
                ('image_urls', fields.JSONField(default=list, encoder=JSON_DUMPS, decoder=loads)),
                ('status', fields.CharEnumField(description='PUBLISHED: published\nHELD: held\nREJECTED: rejected', enum_type=UpdateStatus, max_length=16)),
                ('author_id', fields.BigIntField(null=True)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
                ('published_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
            ],
            options={'table': 'charity_progress_updates', 'app': 'models', 'indexes': [Index(fields=['project_id', 'status'])], 'pk_attr': 'id', 'table_description': 'A progress report of a project (text and images), public once the WeChat check passes.'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='ProjectTally',
            fields=[
                ('id', fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('project', fields.ForeignKeyField('models.Project', source_field='project_id', db_constraint=True, to_field='id', related_name='tallies', on_delete=OnDelete.CASCADE)),
                ('slot', fields.SmallIntField()),
                ('raised_fen', fields.BigIntField(default=0)),
                ('spent_fen', fields.BigIntField(default=0)),
                ('donation_count', fields.IntField(default=0)),
                ('entry_count', fields.IntField(default=0)),
            ],
            options={'table': 'charity_project_tallies', 'app': 'models', 'unique_together': (('project', 'slot'),), 'pk_attr': 'id', 'table_description': 'One slot of the kept totals of a project (totals.py): the slots add up to its totals.'},
            bases=['Model'],
        ),
    ]
