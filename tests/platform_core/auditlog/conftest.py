"""Shared pieces for the audit log tests: a signer, a controllable clock, and
one real store per backend (memory, a JSON-lines directory, a SQLite file, a
fresh PostgreSQL database)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from platform_core.auditlog import (
    AuditLog,
    AuditStore,
    Checkpoint,
    CheckpointSigner,
    JsonlAuditStore,
    MemoryAuditStore,
    PostgresAuditStore,
    SqliteAuditStore,
)

T0 = datetime(2026, 1, 1, tzinfo=UTC)


class SteppingClock:
    """Advances one second per reading; tests can also jump it."""

    def __init__(self, start: datetime = T0) -> None:
        self.moment = start

    def __call__(self) -> datetime:
        self.moment += timedelta(seconds=1)
        return self.moment

    def jump(self, delta: timedelta) -> None:
        self.moment += delta


MakeLog = Callable[..., Awaitable[AuditLog]]


@pytest.fixture
def signer() -> CheckpointSigner:
    return CheckpointSigner.generate()


@pytest.fixture
def clock() -> SteppingClock:
    return SteppingClock()


@pytest.fixture(params=["memory", "jsonl", "sqlite", "postgres"])
async def store(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[AuditStore]:
    opened: AuditStore
    if request.param == "memory":
        opened = MemoryAuditStore()
    elif request.param == "jsonl":
        opened = await JsonlAuditStore.open(tmp_path / "audit")
    elif request.param == "sqlite":
        opened = await SqliteAuditStore.open(tmp_path / "audit.db")
    else:
        opened = await PostgresAuditStore.open(request.getfixturevalue("postgres_dsn"))
    try:
        yield opened
    finally:
        await opened.close()


@pytest.fixture
def make_log(signer: CheckpointSigner, clock: SteppingClock) -> MakeLog:
    async def make(
        store: AuditStore,
        *,
        resume_from: Checkpoint | None = None,
        anchors: tuple[Checkpoint, ...] = (),
    ) -> AuditLog:
        return await AuditLog.open(
            store,
            verifier=signer.verifier(),
            signer=signer,
            clock=clock,
            resume_from=resume_from,
            anchors=anchors,
        )

    return make
