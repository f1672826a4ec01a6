from tortoise import migrations
from tortoise.migrations import operations as ops
from backend.recruitment.models import Admission, MemberStatus, PostingKind, PostingStatus, SignupStatus
from orjson import loads
from tortoise.fields.base import OnDelete
from tortoise.fields.data import JSON_DUMPS
from tortoise import fields
from tortoise.indexes import Index

class Migration(migrations.Migration):
    dependencies = [('models', '0006_cache_versions')]

    initial = False

    operations = [
        ops.CreateModel(
            name='Member',
            fields=[
                ('id', fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('organization', fields.ForeignKeyField('models.Organization', source_field='organization_id', db_constraint=True, to_field='id', related_name='members', on_delete=OnDelete.RESTRICT)),
                ('user', fields.ForeignKeyField('models.User', source_field='user_id', db_constraint=True, to_field='id', related_name='memberships', on_delete=OnDelete.CASCADE)),
                ('member_no', fields.IntField()),
                ('joined_on', fields.DateField()),
                ('status', fields.CharEnumField(default=MemberStatus.ACTIVE, description='ACTIVE: active\nLEFT: left', enum_type=MemberStatus, max_length=16)),
                ('left_on', fields.DateField(null=True)),
                ('signup_id', fields.BigIntField(null=True)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
                ('updated_at', fields.DatetimeField(auto_now=True, auto_now_add=False)),
            ],
            options={'table': 'recruitment_members', 'app': 'models', 'unique_together': (('organization', 'user'), ('organization', 'member_no')), 'pk_attr': 'id', 'table_description': 'A member of an organization (会员), made by an approved sign-up to a membership posting.'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='MemberCounter',
            fields=[
                ('organization_id', fields.BigIntField(primary_key=True, generated=False, unique=True, db_index=True)),
                ('last_no', fields.IntField(default=0)),
            ],
            options={'table': 'recruitment_member_counters', 'app': 'models', 'pk_attr': 'organization_id', 'table_description': 'The last member number an organization gave: one conditional upsert hands out the next.'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='Posting',
            fields=[
                ('id', fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('organization', fields.ForeignKeyField('models.Organization', source_field='organization_id', db_constraint=True, to_field='id', related_name='postings', on_delete=OnDelete.RESTRICT)),
                ('kind', fields.CharEnumField(description='MEMBERSHIP: membership\nACTIVITY: activity\nVOLUNTEER: volunteer', enum_type=PostingKind, max_length=16)),
                ('title', fields.CharField(max_length=100)),
                ('body', fields.TextField(unique=False)),
                ('images', fields.JSONField(default=list, encoder=JSON_DUMPS, decoder=loads)),
                ('starts_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
                ('ends_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
                ('place', fields.CharField(max_length=200)),
                ('latitude', fields.FloatField(null=True)),
                ('longitude', fields.FloatField(null=True)),
                ('capacity', fields.IntField(null=True)),
                ('signup_deadline', fields.DatetimeField(auto_now=False, auto_now_add=False)),
                ('admission', fields.CharEnumField(description='FIRST_COME: first_come\nAPPROVAL: approval', enum_type=Admission, max_length=16)),
                ('questions', fields.JSONField(default=list, encoder=JSON_DUMPS, decoder=loads)),
                ('status', fields.CharEnumField(default=PostingStatus.DRAFT, description='DRAFT: draft\nIN_REVIEW: in_review\nOPEN: open\nCLOSED: closed\nCANCELLED: cancelled\nREJECTED: rejected', enum_type=PostingStatus, max_length=16)),
                ('status_reason', fields.TextField(default='', unique=False)),
                ('confirmed_count', fields.IntField(default=0)),
                ('waitlist_count', fields.IntField(default=0)),
                ('created_by_id', fields.BigIntField(null=True)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
                ('published_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('updated_at', fields.DatetimeField(auto_now=True, auto_now_add=False)),
            ],
            options={'table': 'recruitment_postings', 'app': 'models', 'indexes': [Index(fields=['status', 'id']), Index(fields=['organization_id', 'id'])], 'pk_attr': 'id', 'table_description': 'One posting: text, time, place, questions and capacity fixed at creation, status and counters kept.'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='Signup',
            fields=[
                ('id', fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('posting', fields.ForeignKeyField('models.Posting', source_field='posting_id', db_constraint=True, to_field='id', related_name='signups', on_delete=OnDelete.CASCADE)),
                ('user', fields.ForeignKeyField('models.User', source_field='user_id', db_constraint=True, to_field='id', related_name='signups', on_delete=OnDelete.CASCADE)),
                ('active_user_id', fields.BigIntField(null=True)),
                ('status', fields.CharEnumField(description='CONFIRMED: confirmed\nWAITLISTED: waitlisted\nPENDING: pending\nREJECTED: rejected\nCANCELLED: cancelled', enum_type=SignupStatus, max_length=16)),
                ('waitlist_position', fields.IntField(null=True)),
                ('answers', fields.JSONField(default=dict, encoder=JSON_DUMPS, decoder=loads)),
                ('decision_reason', fields.TextField(default='', unique=False)),
                ('decided_by_id', fields.BigIntField(null=True)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
                ('updated_at', fields.DatetimeField(auto_now=True, auto_now_add=False)),
            ],
            options={'table': 'recruitment_signups', 'app': 'models', 'unique_together': (('posting', 'active_user_id'),), 'indexes': [Index(fields=['posting_id', 'status', 'waitlist_position']), Index(fields=['user_id', 'id'])], 'pk_attr': 'id', 'table_description': 'The sign-up of one person to one posting, with its status and waitlist position.'},
            bases=['Model'],
        ),
    ]
