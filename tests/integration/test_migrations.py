"""Migrations build an empty SQLite and PostgreSQL database, agree with the models, one head."""

from __future__ import annotations

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from flask_migrate import downgrade, upgrade
from sqlalchemy import inspect, text

from callcenter.extensions import db
from callcenter.models.call import TRANSCRIPT_SEARCH_OBJECTS
from callcenter.models.patient import HAND_MADE_INDEXES


def include_object(obj, name, type_, reflected, compare_to):
    if name in TRANSCRIPT_SEARCH_OBJECTS:
        return False
    return not (type_ == "index" and name in HAND_MADE_INDEXES)


both_databases = pytest.mark.parametrize("db_kind", ["postgresql", "sqlite"], indirect=True)


def test_there_is_exactly_one_head(app):
    script = ScriptDirectory.from_config(app.extensions["migrate"].migrate.get_config())
    assert len(script.get_heads()) == 1


@both_databases
# SQLite cannot reflect the expression index on lower(name); the PostgreSQL run compares it.
@pytest.mark.filterwarnings("ignore:Skipped unsupported reflection of expression-based index")
@pytest.mark.filterwarnings(
    "ignore:autogenerate skipping metadata-specified expression-based index"
)
def test_models_and_migrations_agree(app):
    with db.engine.connect() as connection:
        context = MigrationContext.configure(
            connection, opts={"compare_type": True, "include_object": include_object}
        )
        diff = compare_metadata(context, db.metadata)
    assert diff == []


def test_name_index_serves_prefix_search_and_order_on_postgresql(app, users):
    """The hand-made index (left out of the comparison above) exists and is used."""
    from tests import factories

    definition = db.session.scalar(
        text("SELECT indexdef FROM pg_indexes WHERE indexname = 'ix_patients_name_key'")
    )
    assert 'COLLATE "C"' in definition
    for i in range(30):
        factories.patient(f"Mary {i:02d}", phone=f"+86139000{i:05d}")
    db.session.execute(text("SET enable_seqscan = off"))  # tiny table: force the choice
    plan = (
        db.session.execute(
            text(
                "EXPLAIN SELECT id FROM patients WHERE lower(name) COLLATE \"C\" LIKE 'mary%' "
                'ORDER BY lower(name) COLLATE "C", id LIMIT 20'
            )
        )
        .scalars()
        .all()
    )
    assert any("ix_patients_name_key" in line for line in plan), plan
    assert not any("Sort" in line for line in plan), plan


@both_databases
def test_every_model_table_exists_after_upgrade(app):
    tables = set(inspect(db.engine).get_table_names())
    assert set(db.metadata.tables) <= tables


@pytest.mark.filterwarnings("ignore:Skipped unsupported reflection of expression-based index")
def test_sqlite_downgrades_to_empty_and_upgrades_again(app, db_kind):
    """Run on a fresh SQLite file, so the shared PostgreSQL test database is left alone."""
    from callcenter import create_app

    fresh = create_app(
        {"APP_ENV": "test", "DATABASE_URL": "sqlite://", "SECRET_KEY": "x", "TESTING": True}
    )
    with fresh.app_context():
        upgrade()
        assert "patients" in inspect(db.engine).get_table_names()
        downgrade(revision="base")
        assert inspect(db.engine).get_table_names() == ["alembic_version"]
        upgrade()
        assert "audit_entries" in inspect(db.engine).get_table_names()
