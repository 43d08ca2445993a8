"""The audit log: append, checkpoint, verify, retain, and hold.

`AuditLog.open` re-verifies the chain before it hands out a log, from the
latest signed truncation checkpoint (or from a trusted checkpoint the caller
kept), against every signed checkpoint the store or the caller holds. A log
that does not verify is never opened for appending: `ChainBroken` names the
first bad sequence number instead.

Retention removes only a prefix of the chain, never past a record a legal
hold covers nor past the record that placed an active hold, and only after
re-verifying what it removes; it leaves a signed truncation checkpoint so the
rest still verifies, and records that it ran. Placing or releasing a hold is
itself an audit record, committed with the hold change.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Sequence
from datetime import UTC, datetime

import attrs

from platform_core.auditlog.chain import (
    AuditRecord,
    ChainBroken,
    ChainTip,
    ChainVerifier,
    MalformedRecord,
    VerificationReport,
    rfc3339,
    seal,
    to_micros,
)
from platform_core.auditlog.checkpoints import (
    Checkpoint,
    CheckpointKind,
    CheckpointSigner,
    CheckpointVerifier,
)
from platform_core.auditlog.events import Action, AuditEvent
from platform_core.auditlog.holds import LegalHold
from platform_core.auditlog.store import (
    AuditStore,
    PlaceHold,
    ReleaseHold,
    latest_truncation,
)
from platform_core.errors import IntegrityError, InvalidInput, PlatformError

__all__ = ["AuditLog", "PruneOutcome", "utc_now"]

Clock = Callable[[], datetime]


def utc_now() -> datetime:
    return datetime.now(UTC)


@attrs.frozen
class PruneOutcome:
    """What retention did: the truncation checkpoint, or None if nothing could go."""

    truncation: Checkpoint | None
    removed_through: int
    held_back_by: tuple[str, ...]


class AuditLog:
    """One verified chain over a store. Build it with `await AuditLog.open(...)`."""

    def __init__(
        self,
        store: AuditStore,
        *,
        log_id: str,
        verifier: CheckpointVerifier,
        signer: CheckpointSigner | None,
        clock: Clock,
    ) -> None:
        self.store = store
        self.log_id = log_id
        self._verifier = verifier
        self._signer = signer
        self._clock = clock

    @classmethod
    async def open(
        cls,
        store: AuditStore,
        *,
        verifier: CheckpointVerifier,
        signer: CheckpointSigner | None = None,
        log_id: str = "audit",
        resume_from: Checkpoint | None = None,
        anchors: Sequence[Checkpoint] = (),
        clock: Clock = utc_now,
    ) -> AuditLog:
        """Verify the stored chain and return a log ready to append to.

        `resume_from` skips re-hashing what a previous verification already
        vouched for; `anchors` are checkpoints published outside the store.
        """
        if not log_id or len(log_id) > 128:
            raise InvalidInput("log_id must be 1..128 characters")
        log = cls(store, log_id=log_id, verifier=verifier, signer=signer, clock=clock)
        report = await log.verify(anchors=anchors, resume_from=resume_from)
        if not report.ok:
            raise ChainBroken(report)
        return log

    def now(self) -> datetime:
        """The log's clock; every record and checkpoint is stamped by it."""
        moment = self._clock()
        if moment.tzinfo is None:
            raise InvalidInput("the audit clock must return timezone-aware datetimes")
        return moment

    async def append(self, event: AuditEvent) -> AuditRecord:
        records = await self.append_many([event])
        return records[0]

    async def append_many(self, events: Sequence[AuditEvent]) -> Sequence[AuditRecord]:
        """Append events as consecutive records in one atomic step."""
        if not events:
            raise InvalidInput("append_many needs at least one event")
        for event in events:
            if not isinstance(event, AuditEvent):
                raise InvalidInput("only AuditEvent values can be appended")
        return await self.store.append(self._sealer(events))

    def _sealer(self, events: Sequence[AuditEvent]) -> Callable[[ChainTip], list[AuditRecord]]:
        def sealer(tip: ChainTip) -> list[AuditRecord]:
            moment = self.now()
            records = []
            for event in events:
                record = seal(tip, moment, event)
                records.append(record)
                tip = ChainTip(record.seq, record.record_hash)
            return records

        return sealer

    def records(self, after_seq: int = 0) -> AsyncIterator[AuditRecord | MalformedRecord]:
        return self.store.scan(after_seq)

    def _require_signer(self) -> CheckpointSigner:
        if self._signer is None:
            raise PlatformError("this audit log was opened without a checkpoint signer")
        return self._signer

    async def checkpoint(self) -> Checkpoint:
        """Sign the current head; publish the result somewhere the log cannot reach."""
        signer = self._require_signer()
        report = await self.verify()
        if not report.ok:
            raise ChainBroken(report)
        checkpoint = signer.sign(self.log_id, CheckpointKind.PERIODIC, report.tip, self.now())
        await self.store.add_checkpoint(checkpoint)
        return checkpoint

    async def _trusted(self, extra: Sequence[Checkpoint]) -> list[Checkpoint]:
        stored = list(await self.store.checkpoints())
        for checkpoint in [*stored, *extra]:
            self._verifier.verify(checkpoint, log_id=self.log_id)
        return [*stored, *extra]

    async def _walk_plan(
        self, anchors: Sequence[Checkpoint], resume_from: Checkpoint | None
    ) -> tuple[ChainVerifier, int] | VerificationReport:
        """Where a walk starts, what it is checked against, or why it cannot start."""
        stored = list(await self.store.checkpoints())
        trusted = [*stored, *anchors, *([resume_from] if resume_from else [])]
        for checkpoint in trusted:
            try:
                self._verifier.verify(checkpoint, log_id=self.log_id)
            except IntegrityError as error:
                return VerificationReport(checkpoint.seq, str(error), 0, ChainTip.genesis())
        truncation = latest_truncation(trusted)
        start = truncation.tip if truncation is not None else ChainTip.genesis()
        scan_after = 0
        if resume_from is not None and resume_from.seq > start.seq:
            start = resume_from.tip
            scan_after = resume_from.seq - 1
        by_seq: dict[int, bytes] = {}
        for checkpoint in trusted:
            if checkpoint.seq < start.seq:
                continue
            known = by_seq.setdefault(checkpoint.seq, checkpoint.head)
            if known != checkpoint.head or (
                checkpoint.seq == start.seq and checkpoint.head != start.head
            ):
                return VerificationReport(
                    checkpoint.seq, "signed checkpoints disagree about this record", 0, start
                )
        return ChainVerifier(start, by_seq), scan_after

    async def chain_verifier(self) -> ChainVerifier:
        """A verifier primed with the stored truncation point and signed
        checkpoints, for callers that walk `records()` themselves (exports)."""
        plan = await self._walk_plan((), None)
        if isinstance(plan, VerificationReport):
            raise ChainBroken(plan)
        return plan[0]

    async def verify(
        self, *, anchors: Sequence[Checkpoint] = (), resume_from: Checkpoint | None = None
    ) -> VerificationReport:
        """Walk the stored chain; never raises for tampering, reports it.

        Damage outside any record (an unreadable stored checkpoint or hold) is
        reported with `first_bad_seq` 0.
        """
        try:
            return await self._verify(anchors, resume_from)
        except IntegrityError as error:
            return VerificationReport(0, str(error), 0, ChainTip.genesis())

    async def _verify(
        self, anchors: Sequence[Checkpoint], resume_from: Checkpoint | None
    ) -> VerificationReport:
        plan = await self._walk_plan(anchors, resume_from)
        if isinstance(plan, VerificationReport):
            return plan
        verifier, scan_after = plan
        records = self.store.scan(scan_after)
        if scan_after:
            start = verifier.tip
            first = await anext(records, None)
            if not (
                isinstance(first, AuditRecord)
                and first.seq == start.seq
                and first.record_hash == start.head
                and first.computed_hash() == start.head
            ):
                return VerificationReport(
                    start.seq, "record differs from the checkpoint verification resumed from",
                    0, start,
                )
        async for record in records:
            if not verifier.feed(record):
                break
        return verifier.report()

    async def holds(self) -> Sequence[LegalHold]:
        return await self.store.holds()

    async def place_hold(
        self,
        hold_id: str,
        *,
        reason: str,
        actor: str,
        tenant: str | None = None,
        start: datetime | None = None,
        end: datetime | None = None,
    ) -> LegalHold:
        """Freeze matching records against retention; the placement is audited."""
        draft = LegalHold(hold_id, reason, 0, tenant, start, end)
        event = AuditEvent(
            "audit.legal_hold.placed",
            action=Action.CREATE,
            actor=actor,
            tenant=tenant,
            details=draft.scope_json(),
        )
        records = await self.store.append(
            self._sealer([event]),
            PlaceHold(lambda record: attrs.evolve(draft, placed_seq=record.seq)),
        )
        return attrs.evolve(draft, placed_seq=records[-1].seq)

    async def release_hold(self, hold_id: str, *, actor: str, reason: str) -> AuditRecord:
        """Lift a hold; the release is audited in the same transaction."""
        event = AuditEvent(
            "audit.legal_hold.released",
            action=Action.DELETE,
            actor=actor,
            details={"hold_id": hold_id, "reason": reason},
        )
        records = await self.store.append(self._sealer([event]), ReleaseHold(hold_id))
        return records[-1]

    async def prune(self, older_than: datetime, *, actor: str) -> PruneOutcome:
        """Remove the verified prefix of records older than `older_than`.

        The prune and its truncation checkpoint commit together; the
        `audit.retention.pruned` record follows in its own append, so a crash
        between the two leaves the signed checkpoint as the evidence.
        """
        signer = self._require_signer()
        cutoff_us = to_micros(older_than)
        trusted = await self._trusted(())
        anchors = {c.seq: c.head for c in trusted}
        held_back: list[str] = []

        def plan(
            start: ChainTip,
            holds: Sequence[LegalHold],
            candidates: Sequence[AuditRecord | MalformedRecord],
        ) -> Checkpoint | None:
            verifier = ChainVerifier(start, {s: h for s, h in anchors.items() if s > start.seq})
            placed_at = min((hold.placed_seq for hold in holds), default=None)
            last: AuditRecord | None = None
            for record in candidates:
                if record.seq != (start.seq if last is None else last.seq) + 1:
                    break
                if not verifier.feed(record):
                    raise ChainBroken(verifier.report())
                assert isinstance(record, AuditRecord)
                covering = [hold.hold_id for hold in holds if hold.covers(record)]
                if placed_at is not None and record.seq >= placed_at:
                    covering = covering or [h.hold_id for h in holds if h.placed_seq == placed_at]
                if covering:
                    held_back.extend(covering)
                    break
                last = record
            if last is None:
                return None
            return signer.sign(
                self.log_id, CheckpointKind.TRUNCATION, ChainTip(last.seq, last.record_hash),
                self.now(),
            )

        truncation = await self.store.prune(cutoff_us, plan)
        if truncation is None:
            return PruneOutcome(None, 0, tuple(sorted(set(held_back))))
        await self.append(
            AuditEvent(
                "audit.retention.pruned",
                action=Action.DELETE,
                actor=actor,
                details={
                    "through_seq": truncation.seq,
                    "older_than": rfc3339(older_than),
                    "held_back_by": sorted(set(held_back)),
                },
            )
        )
        return PruneOutcome(truncation, truncation.seq, tuple(sorted(set(held_back))))
