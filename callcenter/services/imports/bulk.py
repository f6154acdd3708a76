"""Bulk inserts inside the caller's transaction: COPY on PostgreSQL, executemany elsewhere.

SQLAlchemy's batched ``INSERT ... VALUES (...), (...)`` spends most of its time in psycopg's
client-side parsing of the huge statement; COPY streams rows instead and is several times faster.
Ids are taken from the table's sequence first, so callers still learn them.
"""

from __future__ import annotations

import enum

from sqlalchemy import Table, func, insert, select
from sqlalchemy.orm import Session


def _plain(value):
    return value.value if isinstance(value, enum.Enum) else value


def insert_rows(
    session: Session, table: Table, rows: list[dict], *, with_ids: bool = False
) -> list[int]:
    """Insert ``rows`` (all with the same keys); return their new ids when ``with_ids``."""
    if not rows:
        return []
    connection = session.connection()
    if connection.dialect.name != "postgresql":
        statement = insert(table)
        if with_ids:
            return list(session.execute(statement.returning(table.c.id), rows).scalars())
        session.execute(statement, rows)
        return []

    ids: list[int] = []
    if with_ids:
        sequence = func.pg_get_serial_sequence(table.name, "id")
        ids = list(
            session.scalars(
                select(func.nextval(sequence)).select_from(func.generate_series(1, len(rows)))
            )
        )
        rows = [{"id": new_id, **row} for new_id, row in zip(ids, rows, strict=True)]
    columns = list(rows[0])
    cursor = connection.connection.driver_connection.cursor()
    copy_sql = f"COPY {table.name} ({', '.join(columns)}) FROM STDIN"
    with cursor.copy(copy_sql) as copy:
        for row in rows:
            copy.write_row([_plain(row[c]) for c in columns])
    return ids
