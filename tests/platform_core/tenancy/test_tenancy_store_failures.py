"""A store that cannot be reached fails with a typed StorageError that leaks no secret."""

from __future__ import annotations

from pathlib import Path

import pytest

from platform_core.errors import StorageError
from platform_core.tenancy import PostgresTenancyStore, SqliteTenancyStore, TenantCatalog


async def test_an_unreachable_postgres_is_a_storage_error_without_the_password() -> None:
    with pytest.raises(StorageError) as raised:
        await PostgresTenancyStore.open(
            "postgresql://admin:hunter2@127.0.0.1:1/nowhere", max_size=1, timeout=0.5
        )
    assert "hunter2" not in str(raised.value)


async def test_an_unopenable_sqlite_file_is_a_storage_error(tmp_path: Path) -> None:
    catalog = TenantCatalog(SqliteTenancyStore(tmp_path / "missing-dir" / "tenancy.sqlite3"))
    with pytest.raises(StorageError):
        await catalog.create_tenant("acme")
