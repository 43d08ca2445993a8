"""What only the SQLite backend can show: a real file survives reopening, and a
file that cannot be opened is a typed `StorageError`."""

from __future__ import annotations

from pathlib import Path

import pytest

from platform_core.errors import StorageError
from platform_core.identity.api_key_sqlite import SqliteApiKeyStore
from platform_core.identity.api_keys import ApiKeyRegistry


async def test_keys_survive_reopening_the_file(tmp_path: Path) -> None:
    path = tmp_path / "keys.sqlite3"
    issued = await ApiKeyRegistry(await SqliteApiKeyStore.open(path)).issue("acme", "ci bot")
    reopened = ApiKeyRegistry(await SqliteApiKeyStore.open(path))
    assert (await reopened.authenticate(issued.token)).tenant_id == "acme"


async def test_a_directory_instead_of_a_file_is_a_storage_error(tmp_path: Path) -> None:
    with pytest.raises(StorageError):
        await SqliteApiKeyStore.open(tmp_path)


async def test_a_corrupt_file_is_a_storage_error(tmp_path: Path) -> None:
    path = tmp_path / "keys.sqlite3"
    path.write_bytes(b"this is not a database" * 100)
    with pytest.raises(StorageError):
        await SqliteApiKeyStore.open(path)
