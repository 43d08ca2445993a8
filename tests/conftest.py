"""Fixtures every test folder shares.

PostgreSQL is the real server on 127.0.0.1:5432 (user postgres, trust auth).
Each test that asks for `postgres_dsn` gets a database of its own, created
before and dropped after, so tests never see each other's rows and can run in
parallel under xdist.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator

import psycopg
import pytest

POSTGRES_ADMIN_DSN = os.environ.get(
    "DG_TEST_POSTGRES_DSN", "postgresql://postgres@127.0.0.1:5432/postgres"
)


def _database_dsn(name: str) -> str:
    base, _, _ = POSTGRES_ADMIN_DSN.rpartition("/")
    return f"{base}/{name}"


@pytest.fixture
def postgres_dsn() -> Iterator[str]:
    """A freshly created, empty PostgreSQL database; dropped after the test."""
    name = f"dg_test_{uuid.uuid4().hex[:16]}"
    with psycopg.connect(POSTGRES_ADMIN_DSN, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    try:
        yield _database_dsn(name)
    finally:
        with psycopg.connect(POSTGRES_ADMIN_DSN, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
