"""IVR prompts, flows and outcomes (issue 6)

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-29 20:30:00

"""
from alembic import op
import sqlalchemy as sa
from sqlalchemy import Text
from sqlalchemy.dialects import postgresql

import callcenter.models.base  # noqa: F401  (custom column types)


# revision identifiers, used by Alembic.
revision = '0004'
down_revision = '0003'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('ivr_campaign_settings',
    sa.Column('campaign_id', sa.Integer(), nullable=False),
    sa.Column('flow', sa.Enum('reminder', 'questionnaire', 'medication', name='ivrflow', native_enum=False), nullable=False),
    sa.Column('clinic_name', sa.String(length=200), nullable=False),
    sa.Column('transfer_wait_seconds', sa.Integer(), nullable=False),
    sa.Column('callback_campaign_id', sa.Integer(), nullable=True),
    sa.ForeignKeyConstraint(['callback_campaign_id'], ['campaigns.id'], name=op.f('fk_ivr_campaign_settings_callback_campaign_id_campaigns'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['campaign_id'], ['campaigns.id'], name=op.f('fk_ivr_campaign_settings_campaign_id_campaigns'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('campaign_id', name=op.f('pk_ivr_campaign_settings'))
    )
    op.create_table('ivr_prompts',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('campaign_id', sa.Integer(), nullable=False),
    sa.Column('language', sa.String(length=8), nullable=False),
    sa.Column('key', sa.String(length=64), nullable=False),
    sa.Column('text', sa.Text(), nullable=True),
    sa.Column('audio_key', sa.String(length=300), nullable=True),
    sa.Column('audio_sha256', sa.String(length=64), nullable=True),
    sa.Column('updated_at', callcenter.models.base.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['campaign_id'], ['campaigns.id'], name=op.f('fk_ivr_prompts_campaign_id_campaigns'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_ivr_prompts')),
    sa.UniqueConstraint('campaign_id', 'language', 'key', name='uq_ivr_prompts_campaign_lang_key')
    )
    op.create_table('ivr_appointments',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('task_id', sa.Integer(), nullable=False),
    sa.Column('starts_at', callcenter.models.base.UTCDateTime(timezone=True), nullable=False),
    sa.Column('place', sa.String(length=200), nullable=False),
    sa.ForeignKeyConstraint(['task_id'], ['followup_tasks.id'], name=op.f('fk_ivr_appointments_task_id_followup_tasks'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_ivr_appointments')),
    sa.UniqueConstraint('task_id', name=op.f('uq_ivr_appointments_task_id'))
    )
    op.create_table('ivr_calls',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('call_attempt_id', sa.String(length=36), nullable=False),
    sa.Column('task_id', sa.Integer(), nullable=True),
    sa.Column('campaign_id', sa.Integer(), nullable=True),
    sa.Column('patient_id', sa.Integer(), nullable=True),
    sa.Column('flow', sa.Enum('reminder', 'questionnaire', 'medication', name='ivrflow', native_enum=False), nullable=False),
    sa.Column('language', sa.String(length=8), nullable=False),
    sa.Column('outcome', sa.Enum('reached', 'confirmed', 'change_requested', 'transferred', 'callback_scheduled', 'answered', 'no_input', 'wrong_input', 'hung_up_early', 'opted_out', 'failed', name='ivroutcome', native_enum=False), nullable=False),
    sa.Column('step', sa.String(length=64), nullable=False),
    sa.Column('keypad_trail', sa.JSON().with_variant(postgresql.JSONB(astext_type=Text()), 'postgresql'), nullable=False),
    sa.Column('detail', sa.Text(), nullable=False),
    sa.Column('callback_task_id', sa.Integer(), nullable=True),
    sa.Column('started_at', callcenter.models.base.UTCDateTime(timezone=True), nullable=False),
    sa.Column('ended_at', callcenter.models.base.UTCDateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['call_attempt_id'], ['call_attempts.id'], name=op.f('fk_ivr_calls_call_attempt_id_call_attempts'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['callback_task_id'], ['followup_tasks.id'], name=op.f('fk_ivr_calls_callback_task_id_followup_tasks'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['campaign_id'], ['campaigns.id'], name=op.f('fk_ivr_calls_campaign_id_campaigns'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['patient_id'], ['patients.id'], name=op.f('fk_ivr_calls_patient_id_patients'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['task_id'], ['followup_tasks.id'], name=op.f('fk_ivr_calls_task_id_followup_tasks'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_ivr_calls')),
    sa.UniqueConstraint('call_attempt_id', name=op.f('uq_ivr_calls_call_attempt_id'))
    )
    op.create_index(op.f('ix_ivr_calls_campaign_id'), 'ivr_calls', ['campaign_id'], unique=False)
    op.create_index(op.f('ix_ivr_calls_patient_id'), 'ivr_calls', ['patient_id'], unique=False)
    op.create_index(op.f('ix_ivr_calls_task_id'), 'ivr_calls', ['task_id'], unique=False)
    op.create_table('ivr_questionnaire_responses',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('ivr_call_id', sa.Integer(), nullable=False),
    sa.Column('patient_id', sa.Integer(), nullable=False),
    sa.Column('campaign_id', sa.Integer(), nullable=True),
    sa.Column('answers', sa.JSON().with_variant(postgresql.JSONB(astext_type=Text()), 'postgresql'), nullable=False),
    sa.Column('complete', sa.Boolean(), nullable=False),
    sa.Column('created_at', callcenter.models.base.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['campaign_id'], ['campaigns.id'], name=op.f('fk_ivr_questionnaire_responses_campaign_id_campaigns'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['ivr_call_id'], ['ivr_calls.id'], name=op.f('fk_ivr_questionnaire_responses_ivr_call_id_ivr_calls'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['patient_id'], ['patients.id'], name=op.f('fk_ivr_questionnaire_responses_patient_id_patients'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_ivr_questionnaire_responses')),
    sa.UniqueConstraint('ivr_call_id', name=op.f('uq_ivr_questionnaire_responses_ivr_call_id'))
    )
    op.create_index(op.f('ix_ivr_questionnaire_responses_patient_id'), 'ivr_questionnaire_responses', ['patient_id'], unique=False)


def downgrade():
    op.drop_index(op.f('ix_ivr_questionnaire_responses_patient_id'), table_name='ivr_questionnaire_responses')
    op.drop_table('ivr_questionnaire_responses')
    op.drop_index(op.f('ix_ivr_calls_task_id'), table_name='ivr_calls')
    op.drop_index(op.f('ix_ivr_calls_patient_id'), table_name='ivr_calls')
    op.drop_index(op.f('ix_ivr_calls_campaign_id'), table_name='ivr_calls')
    op.drop_table('ivr_calls')
    op.drop_table('ivr_appointments')
    op.drop_table('ivr_prompts')
    op.drop_table('ivr_campaign_settings')
