from tortoise import migrations
from tortoise.migrations import operations as ops
from backend.subscriptions.models import DeliveryStatus
from tortoise.fields.base import OnDelete
from tortoise import fields
from tortoise.indexes import Index

class Migration(migrations.Migration):
    dependencies = [('models', '0002_checkin_fast_path')]

    initial = False

    operations = [
        ops.CreateModel(
            name='Delivery',
            fields=[
                ('id', fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('event', fields.ForeignKeyField('models.OutboxEvent', source_field='event_id', db_constraint=True, to_field='id', related_name='deliveries', on_delete=OnDelete.CASCADE)),
                ('user', fields.ForeignKeyField('models.User', source_field='user_id', db_constraint=True, to_field='id', related_name='deliveries', on_delete=OnDelete.CASCADE)),
                ('kind', fields.CharField(max_length=64)),
                ('template_id', fields.CharField(default='', max_length=128)),
                ('status', fields.CharEnumField(default=DeliveryStatus.PENDING, description='PENDING: pending\nSENDING: sending\nSENT: sent\nSKIPPED: skipped\nFAILED: failed\nDEAD: dead', enum_type=DeliveryStatus, max_length=16)),
                ('reason', fields.CharField(null=True, max_length=64)),
                ('last_error', fields.TextField(null=True, unique=False)),
                ('attempts', fields.IntField(default=0)),
                ('retries', fields.IntField(default=0)),
                ('dead_letters', fields.IntField(default=0)),
                ('consent_spent', fields.BooleanField(default=False)),
                ('claim_token', fields.CharField(null=True, max_length=32)),
                ('claimed_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('next_attempt_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
                ('queued_until', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('msgid', fields.CharField(null=True, max_length=32)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
                ('finished_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
            ],
            options={'table': 'notification_deliveries', 'app': 'models', 'unique_together': (('event', 'user'),), 'indexes': [Index(fields=['status', 'next_attempt_at']), Index(fields=['template_id', 'status'])], 'pk_attr': 'id', 'table_description': 'One message for one (event, recipient), the pair being the idempotency key of the send.'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='SubscriptionConsent',
            fields=[
                ('id', fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('user', fields.ForeignKeyField('models.User', source_field='user_id', db_constraint=True, to_field='id', related_name='subscription_consents', on_delete=OnDelete.CASCADE)),
                ('template_id', fields.CharField(max_length=128)),
                ('remaining', fields.IntField(default=0)),
                ('updated_at', fields.DatetimeField(auto_now=True, auto_now_add=False)),
            ],
            options={'table': 'subscription_consents', 'app': 'models', 'unique_together': (('user', 'template_id'),), 'pk_attr': 'id', 'table_description': 'How many one-time consents a user has left for one template (each allows one message).'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='SubscriptionPreference',
            fields=[
                ('id', fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('user', fields.ForeignKeyField('models.User', source_field='user_id', db_constraint=True, to_field='id', related_name='subscription_preferences', on_delete=OnDelete.CASCADE)),
                ('event', fields.CharField(max_length=64)),
                ('enabled', fields.BooleanField(default=True)),
                ('updated_at', fields.DatetimeField(auto_now=True, auto_now_add=False)),
            ],
            options={'table': 'subscription_preferences', 'app': 'models', 'unique_together': (('user', 'event'),), 'pk_attr': 'id', 'table_description': 'Whether a user receives one kind of message (no row: yes).'},
            bases=['Model'],
        ),
    ]
