"""Runpacks: the manifest, a streaming builder and a streaming verifier.

A runpack is a run exported as files: the scenario spec and the six run logs
as canonical JSON (one file each, in `LogKind` order), an optional verifier
report, and a manifest (canonical JSON) indexing every file with its SHA-256
plus a root hash over that index. Bytes and messages are the reference's
(spec core.md §6), so its runpacks verify here and ours verify there.

Streaming. The canonical JSON of a list is `[` + `,`.join(items) + `]`, so the
builder emits a log artifact record by record while hashing incrementally,
and the verifier hashes artifacts chunk by chunk and decodes the logs it
inspects item by item. Memory is bounded by the largest record, not by the
run's length (duplicate decisions are found through a fixed-size Bloom
filter and a second pass over the few trigger ids it flags).

Purity. Nothing here performs I/O: the builder hands byte chunks to its
caller, and the verifier reads through a `RunpackSource` whose
implementations (storage seams, `MemoryRunpackSource`) do the reading. The
verifier is a coroutine only so that an async source can be awaited; over a
source that never suspends it runs to completion without an event loop.

Verification does everything the reference does, with its messages, in its
order (§6.4). After those errors it adds checks the reference lacks; each is
sound for every runpack a builder writes, so the reference's own runpacks
still pass:
* `manifest is not canonical JSON` (only when verifying manifest bytes);
* `integrity.file_hashes lists {path} more than once`;
* `required artifact {path} is not listed in the manifest` (the seven export
  artifacts; the reference accepts a manifest whose index was emptied and
  whose root hash was recomputed);
* `manifest artifacts[] do not match integrity.file_hashes: ...` (same paths
  and hashes in the same order, `artifact_id == path`, the kind and content
  type each well-known path must have);
* `spec_hash does not match artifacts/scenario_spec.json`;
* `manifest {field} ... does not match ...`: `scenario_id` and `namespace_id`
  against the scenario spec, and `tenant_id`, `namespace_id`, `run_id`
  against every trigger event;
* `unknown namespace authority {name}` in the `security` block;
* `unlisted file {path}`: a file in the runpack that the manifest does not
  index (the manifest file itself excepted).
Not covered (no format-compatible way exists): `generated_at`, which no
artifact records, and a consistent rewrite of an artifact, its hashes and the
root hash, since v1 manifests carry no signature.
"""

from __future__ import annotations

import codecs
import contextlib
import enum
import hashlib
import json
from collections.abc import AsyncGenerator, Awaitable, Iterable, Iterator, Mapping
from typing import Any, Final, Protocol, TypeVar

import attrs
from cattrs.gen import make_dict_unstructure_fn, override

from decision_gate.core.anchors import anchor_problem
from decision_gate.core.canonical import HashDigest, canonical_json_bytes, hash_bytes
from decision_gate.core.errors import DecisionGateError, InvalidInput, RunpackError
from decision_gate.core.jsonvalue import JsonValue
from decision_gate.core.jsonvalue import loads as json_loads
from decision_gate.core.model import (
    CONVERTER,
    DecisionRecord,
    EvidenceAnchorPolicy,
    GateEvalRecord,
    NamespaceId,
    RunState,
    ScenarioSpec,
    TenantId,
    Timestamp,
    parse,
    to_json,
)
from decision_gate.core.runlog import LogKind

MANIFEST_VERSION: Final = "v1"
SUPPORTED_MANIFEST_VERSIONS: Final = frozenset({MANIFEST_VERSION})
HASH_ALGORITHM: Final = "sha256"
CONTENT_TYPE_JSON: Final = "application/json"
MAX_RUNPACK_ARTIFACT_BYTES: Final = 16 * 1024 * 1024
"""Per-artifact read limit of the verifier (the reference's)."""
DEFAULT_MANIFEST_NAME: Final = "manifest.json"
KNOWN_NAMESPACE_AUTHORITIES: Final = frozenset({"dg_registry", "assetcore_catalog"})

SCENARIO_SPEC_PATH: Final = "artifacts/scenario_spec.json"
TRIGGERS_PATH: Final = "artifacts/triggers.json"
GATE_EVALS_PATH: Final = "artifacts/gate_evals.json"
DECISIONS_PATH: Final = "artifacts/decisions.json"
PACKETS_PATH: Final = "artifacts/packets.json"
SUBMISSIONS_PATH: Final = "artifacts/submissions.json"
TOOL_CALLS_PATH: Final = "artifacts/tool_calls.json"
VERIFIER_REPORT_PATH: Final = "artifacts/verifier_report.json"


class ArtifactKind(enum.Enum):
    SCENARIO_SPEC = "scenario_spec"
    TRIGGER_LOG = "trigger_log"
    GATE_EVAL_LOG = "gate_eval_log"
    DECISION_LOG = "decision_log"
    PACKET_LOG = "packet_log"
    DISPATCH_LOG = "dispatch_log"
    EVIDENCE_LOG = "evidence_log"
    SUBMISSION_LOG = "submission_log"
    TOOL_TRANSCRIPT = "tool_transcript"
    VERIFIER_REPORT = "verifier_report"
    CUSTOM = "custom"


LOG_ARTIFACTS: Final[Mapping[LogKind, tuple[str, ArtifactKind]]] = {
    LogKind.TRIGGERS: (TRIGGERS_PATH, ArtifactKind.TRIGGER_LOG),
    LogKind.GATE_EVALS: (GATE_EVALS_PATH, ArtifactKind.GATE_EVAL_LOG),
    LogKind.DECISIONS: (DECISIONS_PATH, ArtifactKind.DECISION_LOG),
    LogKind.PACKETS: (PACKETS_PATH, ArtifactKind.PACKET_LOG),
    LogKind.SUBMISSIONS: (SUBMISSIONS_PATH, ArtifactKind.SUBMISSION_LOG),
    LogKind.TOOL_CALLS: (TOOL_CALLS_PATH, ArtifactKind.TOOL_TRANSCRIPT),
}

EXPORT_ARTIFACTS: Final[tuple[tuple[str, ArtifactKind], ...]] = (
    (SCENARIO_SPEC_PATH, ArtifactKind.SCENARIO_SPEC),
    *(LOG_ARTIFACTS[kind] for kind in LogKind),
)
"""The seven artifacts every export writes, in write (and manifest) order."""

WELL_KNOWN_KINDS: Final[Mapping[str, ArtifactKind]] = {
    **dict(EXPORT_ARTIFACTS),
    VERIFIER_REPORT_PATH: ArtifactKind.VERIFIER_REPORT,
}


class VerifierMode(enum.Enum):
    OFFLINE_STRICT = "offline_strict"
    OFFLINE_WITH_FETCH = "offline_with_fetch"


class VerificationStatus(enum.Enum):
    PASS = "pass"  # noqa: S105 - a status, not a password
    FAIL = "fail"


@attrs.frozen
class SecurityContext:
    """How the exporting server was secured; recorded, not enforced, by the verifier."""

    dev_permissive: bool
    namespace_authority: str


@attrs.frozen
class FileHashEntry:
    path: str
    hash: HashDigest


@attrs.frozen
class ArtifactRecord:
    artifact_id: str
    kind: ArtifactKind
    path: str
    content_type: str | None
    hash: HashDigest
    required: bool


@attrs.frozen
class RunpackIntegrity:
    file_hashes: tuple[FileHashEntry, ...]
    root_hash: HashDigest


@attrs.frozen
class RunpackManifest:
    manifest_version: str
    generated_at: Timestamp
    scenario_id: str
    tenant_id: TenantId
    namespace_id: NamespaceId
    run_id: str
    spec_hash: HashDigest
    hash_algorithm: str
    verifier_mode: VerifierMode
    integrity: RunpackIntegrity
    artifacts: tuple[ArtifactRecord, ...]
    anchor_policy: EvidenceAnchorPolicy | None = None
    security: SecurityContext | None = None


@attrs.frozen
class VerificationReport:
    status: VerificationStatus
    checked_files: int
    errors: tuple[str, ...]

    @property
    def passed(self) -> bool:
        return self.status is VerificationStatus.PASS


CONVERTER.register_unstructure_hook(
    RunpackManifest,
    make_dict_unstructure_fn(
        RunpackManifest,
        CONVERTER,
        anchor_policy=override(omit_if_default=True),
        security=override(omit_if_default=True),
    ),
)


class ArtifactReadError(RunpackError):
    """A runpack file could not be read; the text becomes part of a verifier message."""


class ArtifactTooLarge(ArtifactReadError):
    def __init__(self, path: str, actual: int, limit: int) -> None:
        self.path = path
        self.actual = actual
        self.limit = limit
        super().__init__(f"artifact too large: {path} ({actual} > {limit})")


class RunpackSource(Protocol):
    """Read access to one runpack, as the verifier needs it.

    `read_chunks` yields the file's bytes in order and raises `ArtifactReadError`
    (never another exception for an I/O problem) when the file is missing,
    unreadable, not a regular file, or longer than `max_bytes`. `list_files`
    names every non-directory entry below the runpack root as a relative
    `/`-separated path, so that the verifier can report unlisted files.
    """

    def read_chunks(self, path: str, max_bytes: int) -> AsyncGenerator[bytes, None]: ...

    async def list_files(self) -> list[str]: ...


# --------------------------------------------------------------------------- wire

_T = TypeVar("_T")


def manifest_to_json(manifest: RunpackManifest) -> Any:
    return to_json(manifest)


def manifest_bytes(manifest: RunpackManifest) -> bytes:
    """The manifest file: canonical JSON of the manifest's wire form."""
    return canonical_json_bytes(to_json(manifest))


def _parse_object(cls: type[_T], value: Any, what: str) -> _T:
    """`model.parse` for a value that must be a JSON object (anything else is InvalidInput)."""
    if not isinstance(value, dict):
        raise InvalidInput(f"invalid {what}: expected a JSON object")
    return parse(cls, value, what)


def parse_manifest(data: bytes) -> RunpackManifest:
    """Parse manifest bytes, or raise `RunpackError("invalid manifest: ...")`."""
    try:
        return _parse_object(RunpackManifest, json_loads(data), "manifest")
    except DecisionGateError as error:
        raise RunpackError(f"invalid manifest: {error}") from None


def report_bytes(report: VerificationReport) -> bytes:
    return canonical_json_bytes(to_json(report))


def root_hash_of(file_hashes: Iterable[FileHashEntry]) -> HashDigest:
    """sha256 of the canonical JSON of the file-hash list, in manifest order."""
    return hash_bytes(canonical_json_bytes([to_json(entry) for entry in file_hashes]))


# --------------------------------------------------------------------------- builder


class ArtifactWriter:
    """Emits one list artifact record by record, hashing as it goes.

    Concatenating every chunk returned by `item`/`item_canonical` and `finish`
    gives the canonical JSON of the list; `finish` records the artifact with
    its builder.
    """

    def __init__(self, builder: RunpackBuilder, path: str, kind: ArtifactKind) -> None:
        self.path = path
        self.kind = kind
        self._builder = builder
        self._sha = hashlib.sha256()
        self._count = 0
        self._finished = False

    def item(self, record: Any) -> bytes:
        """The chunk for one model record (converted with the model's wire form)."""
        return self.item_canonical(canonical_json_bytes(to_json(record)))

    def item_canonical(self, canonical: bytes) -> bytes:
        """The chunk for one record given as its canonical JSON (as stores keep it)."""
        if self._finished:
            raise RunpackError(f"artifact {self.path} is already finished")
        chunk = (b"," if self._count else b"[") + canonical
        self._count += 1
        self._sha.update(chunk)
        return chunk

    def finish(self) -> bytes:
        """The closing chunk; the artifact is now part of the manifest."""
        if self._finished:
            raise RunpackError(f"artifact {self.path} is already finished")
        chunk = b"]" if self._count else b"[]"
        self._sha.update(chunk)
        self._finished = True
        self._builder._record(
            self.path, self.kind, HashDigest(algorithm=HASH_ALGORITHM, value=self._sha.hexdigest())
        )
        return chunk


class RunpackBuilder:
    """Builds a runpack's artifacts and manifest in the reference's order (§6.3).

    Drive it in order: `scenario_spec()`, then `log(kind)` for each `LogKind`
    (feeding records and calling `finish()`), then `manifest()`. For an export
    with verification, verify that manifest, pass the report to
    `verifier_report()` and take `manifest()` again: it then lists eight files
    under a recomputed root hash while the report says seven were checked.
    """

    def __init__(
        self,
        *,
        spec_json: JsonValue,
        spec_hash: HashDigest,
        tenant_id: TenantId,
        namespace_id: NamespaceId,
        run_id: str,
        generated_at: Timestamp,
        anchor_policy: EvidenceAnchorPolicy | None = None,
        security: SecurityContext | None = None,
        verifier_mode: VerifierMode = VerifierMode.OFFLINE_STRICT,
    ) -> None:
        scenario_id = spec_json.get("scenario_id") if isinstance(spec_json, dict) else None
        if not isinstance(scenario_id, str):
            raise RunpackError("scenario spec must be an object with a string scenario_id")
        self._spec_bytes = canonical_json_bytes(spec_json)
        computed = hash_bytes(self._spec_bytes)
        if computed != spec_hash:
            raise RunpackError("hashing error: run state spec hash mismatch")
        self._scenario_id = scenario_id
        self._spec_hash = computed
        self._tenant_id = tenant_id
        self._namespace_id = namespace_id
        self._run_id = run_id
        self._generated_at = generated_at
        self._anchor_policy = anchor_policy if anchor_policy and anchor_policy.providers else None
        self._security = security
        self._verifier_mode = verifier_mode
        self._artifacts: list[ArtifactRecord] = []
        self._open: ArtifactWriter | None = None

    @classmethod
    def for_state(
        cls,
        spec_json: JsonValue,
        state: RunState,
        generated_at: Timestamp,
        *,
        anchor_policy: EvidenceAnchorPolicy | None = None,
        security: SecurityContext | None = None,
    ) -> RunpackBuilder:
        return cls(
            spec_json=spec_json,
            spec_hash=state.spec_hash,
            tenant_id=state.tenant_id,
            namespace_id=state.namespace_id,
            run_id=state.run_id,
            generated_at=generated_at,
            anchor_policy=anchor_policy,
            security=security,
        )

    def _expect_next(self, path: str) -> None:
        if self._open is not None:
            raise RunpackError(f"artifact {self._open.path} is not finished")
        position = len(self._artifacts)
        expected = EXPORT_ARTIFACTS[position][0] if position < len(EXPORT_ARTIFACTS) else None
        if path != expected:
            raise RunpackError(
                f"runpack artifact {path} written out of order (expected {expected})"
            )

    def _record(self, path: str, kind: ArtifactKind, digest: HashDigest) -> None:
        self._open = None
        self._artifacts.append(
            ArtifactRecord(
                artifact_id=path,
                kind=kind,
                path=path,
                content_type=CONTENT_TYPE_JSON,
                hash=digest,
                required=True,
            )
        )

    def scenario_spec(self) -> bytes:
        """The whole scenario-spec artifact (one object, not a stream)."""
        self._expect_next(SCENARIO_SPEC_PATH)
        self._record(SCENARIO_SPEC_PATH, ArtifactKind.SCENARIO_SPEC, self._spec_hash)
        return self._spec_bytes

    def log(self, kind: LogKind) -> ArtifactWriter:
        """A writer for the next log artifact; logs come in `LogKind` order."""
        path, artifact_kind = LOG_ARTIFACTS[kind]
        self._expect_next(path)
        self._open = ArtifactWriter(self, path, artifact_kind)
        return self._open

    def verifier_report(self, report: VerificationReport) -> bytes:
        """The report artifact's bytes; the manifest now lists it too."""
        if len(self._artifacts) != len(EXPORT_ARTIFACTS) or self._open is not None:
            raise RunpackError("the verifier report comes after the seven export artifacts")
        data = report_bytes(report)
        self._record(VERIFIER_REPORT_PATH, ArtifactKind.VERIFIER_REPORT, hash_bytes(data))
        return data

    def manifest(self) -> RunpackManifest:
        if self._open is not None or len(self._artifacts) < len(EXPORT_ARTIFACTS):
            raise RunpackError("runpack manifest requested before every artifact was written")
        file_hashes = tuple(FileHashEntry(path=a.path, hash=a.hash) for a in self._artifacts)
        integrity = RunpackIntegrity(file_hashes=file_hashes, root_hash=root_hash_of(file_hashes))
        return RunpackManifest(
            manifest_version=MANIFEST_VERSION,
            generated_at=self._generated_at,
            scenario_id=self._scenario_id,
            tenant_id=self._tenant_id,
            namespace_id=self._namespace_id,
            run_id=self._run_id,
            spec_hash=self._spec_hash,
            hash_algorithm=HASH_ALGORITHM,
            verifier_mode=self._verifier_mode,
            integrity=integrity,
            artifacts=tuple(self._artifacts),
            anchor_policy=self._anchor_policy,
            security=self._security,
        )


@attrs.frozen
class BuiltRunpack:
    """A runpack held in memory: every file by path, and what the build reported."""

    manifest: RunpackManifest
    files: Mapping[str, bytes]
    report: VerificationReport | None


def build_runpack_bytes(
    spec_json: JsonValue,
    state: RunState,
    generated_at: Timestamp,
    *,
    anchor_policy: EvidenceAnchorPolicy | None = None,
    security: SecurityContext | None = None,
    with_verification: bool = False,
    manifest_name: str = DEFAULT_MANIFEST_NAME,
) -> BuiltRunpack:
    """A whole runpack in memory, through the same builder and verifier as an export.

    `files` includes the manifest under `manifest_name`. Meant for tests and
    small offline exports; a server streams through `RunpackBuilder` instead.
    """
    builder = RunpackBuilder.for_state(
        spec_json, state, generated_at, anchor_policy=anchor_policy, security=security
    )
    files: dict[str, bytes] = {SCENARIO_SPEC_PATH: builder.scenario_spec()}
    for kind in LogKind:
        writer = builder.log(kind)
        chunks = [writer.item(record) for record in getattr(state, kind.value)]
        chunks.append(writer.finish())
        files[writer.path] = b"".join(chunks)
    manifest = builder.manifest()
    report = None
    if with_verification:
        report = run_to_completion(verify_runpack(manifest, MemoryRunpackSource(files)))
        files[VERIFIER_REPORT_PATH] = builder.verifier_report(report)
        manifest = builder.manifest()
    files[manifest_name] = manifest_bytes(manifest)
    return BuiltRunpack(manifest=manifest, files=files, report=report)


# --------------------------------------------------------------------------- sources


class MemoryRunpackSource:
    """A `RunpackSource` over files held in memory; it never suspends."""

    def __init__(self, files: Mapping[str, bytes], chunk_size: int = 64 * 1024) -> None:
        self._files = dict(files)
        self._chunk_size = chunk_size

    async def read_chunks(self, path: str, max_bytes: int) -> AsyncGenerator[bytes, None]:
        data = self._files.get(path)
        if data is None:
            raise ArtifactReadError(f"artifact not found: {path}")
        if len(data) > max_bytes:
            raise ArtifactTooLarge(path, len(data), max_bytes)
        for start in range(0, len(data), self._chunk_size):
            yield data[start : start + self._chunk_size]

    async def list_files(self) -> list[str]:
        return sorted(self._files)


def run_to_completion(awaitable: Awaitable[_T]) -> _T:
    """Run a coroutine that never suspends (e.g. over `MemoryRunpackSource`) without a loop."""
    coroutine = awaitable.__await__()
    try:
        coroutine.send(None)
    except StopIteration as done:
        return done.value  # type: ignore[no-any-return]
    raise RunpackError("runpack coroutine suspended; run it on an event loop")


# --------------------------------------------------------------------------- streaming JSON


class JsonArrayError(ValueError):
    """The bytes are not a JSON array."""


_WHITESPACE: Final = " \t\n\r"
_NUMBER_TERMINATORS: Final = ",]" + _WHITESPACE


def _is_number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _reject_constant(literal: str) -> None:
    raise JsonArrayError(f"non-finite number {literal}")


class JsonArrayItems:
    """Decodes a JSON array from byte chunks, one item at a time.

    `feed` and `close` return iterators that decode lazily, one item per step,
    so at most one decoded item is alive at a time; consume each fully before
    the next call. Only the undecoded tail is buffered: for a valid array that
    is at most one item plus one chunk. An item that does not decode yet is
    retried when more bytes arrive and reported as an error only at the end,
    so invalid input can be buffered up to the artifact limit (which the
    caller enforces).
    """

    def __init__(self) -> None:
        self._utf8 = codecs.getincrementaldecoder("utf-8")()
        self._decoder = json.JSONDecoder(parse_constant=_reject_constant)
        self._text = ""
        self._state = "open"  # open -> first -> (item <-> separator) -> done

    def _append(self, chunk: bytes, *, final: bool) -> None:
        try:
            self._text += self._utf8.decode(chunk, final=final)
        except UnicodeDecodeError:
            raise JsonArrayError("not valid UTF-8") from None

    def feed(self, chunk: bytes) -> Iterator[Any]:
        self._append(chunk, final=False)
        return self._drain(final=False)

    def close(self) -> Iterator[Any]:
        self._append(b"", final=True)
        return self._drain(final=True)

    def _drain(self, *, final: bool) -> Iterator[Any]:
        text = self._text
        pos = 0
        try:
            while True:
                while pos < len(text) and text[pos] in _WHITESPACE:
                    pos += 1
                if pos == len(text):
                    break
                char = text[pos]
                if self._state == "done":
                    raise JsonArrayError("trailing characters after the array")
                if self._state == "open":
                    if char != "[":
                        raise JsonArrayError("expected a JSON array")
                    self._state = "first"
                    pos += 1
                    continue
                if self._state == "separator":
                    if char not in ",]":
                        raise JsonArrayError("expected ',' or ']' after an array item")
                    self._state = "item" if char == "," else "done"
                    pos += 1
                    continue
                if self._state == "first" and char == "]":
                    self._state = "done"
                    pos += 1
                    continue
                try:
                    value, end = self._decoder.raw_decode(text, pos)
                except json.JSONDecodeError as error:
                    if final:
                        raise JsonArrayError(f"{error.msg} in array item") from None
                    break
                except RecursionError:
                    raise JsonArrayError("array item nested too deeply") from None
                if not final and (
                    end == len(text) or (_is_number(value) and text[end] not in _NUMBER_TERMINATORS)
                ):
                    break  # a number cut at a chunk boundary ("1" of "1.5") needs more text
                self._state = "separator"
                pos = end
                yield value
                del value
        finally:
            self._text = text[pos:]
        if final and self._state != "done":
            raise JsonArrayError("unexpected end of input (array not closed)")


_BLOOM_BITS: Final = 1 << 19
_BLOOM_HASHES: Final = 4


class _SeenOnce:
    """A Bloom filter of strings: fixed memory however many are added.

    `add` returns True when the string may have been added before (possibly a
    false positive, never a false negative), so exact answers need a second
    look at the few strings it flags.
    """

    def __init__(self) -> None:
        self._bits = bytearray(_BLOOM_BITS // 8)

    def add(self, text: str) -> bool:
        digest = hashlib.blake2b(text.encode("utf-8", "surrogatepass"), digest_size=16).digest()
        present = True
        for index in range(_BLOOM_HASHES):
            bit = int.from_bytes(digest[4 * index : 4 * index + 4], "little") % _BLOOM_BITS
            byte, mask = bit >> 3, 1 << (bit & 7)
            if not self._bits[byte] & mask:
                present = False
                self._bits[byte] |= mask
        return present


# --------------------------------------------------------------------------- verifier


class _ReadFailed(Exception):
    def __init__(self, error: ArtifactReadError) -> None:
        self.error = error


async def _hash_artifact(source: RunpackSource, path: str) -> HashDigest:
    sha = hashlib.sha256()
    size = 0
    async with contextlib.aclosing(source.read_chunks(path, MAX_RUNPACK_ARTIFACT_BYTES)) as chunks:
        async for chunk in chunks:
            size += len(chunk)
            if size > MAX_RUNPACK_ARTIFACT_BYTES:
                raise ArtifactTooLarge(path, size, MAX_RUNPACK_ARTIFACT_BYTES)
            sha.update(chunk)
    return HashDigest(algorithm=HASH_ALGORITHM, value=sha.hexdigest())


async def _array_items(source: RunpackSource, path: str) -> AsyncGenerator[Any, None]:
    """Items of a JSON array artifact; read errors are wrapped in `_ReadFailed`."""
    stream = JsonArrayItems()
    size = 0
    async with contextlib.aclosing(source.read_chunks(path, MAX_RUNPACK_ARTIFACT_BYTES)) as chunks:
        while True:
            try:
                chunk = await anext(chunks)
            except StopAsyncIteration:
                break
            except ArtifactReadError as error:
                raise _ReadFailed(error) from None
            size += len(chunk)
            if size > MAX_RUNPACK_ARTIFACT_BYTES:
                raise _ReadFailed(ArtifactTooLarge(path, size, MAX_RUNPACK_ARTIFACT_BYTES))
            for item in stream.feed(chunk):
                yield item
    for item in stream.close():
        yield item


async def _read_whole(source: RunpackSource, path: str) -> bytes:
    parts: list[bytes] = []
    size = 0
    async with contextlib.aclosing(source.read_chunks(path, MAX_RUNPACK_ARTIFACT_BYTES)) as chunks:
        async for chunk in chunks:
            size += len(chunk)
            if size > MAX_RUNPACK_ARTIFACT_BYTES:
                raise ArtifactTooLarge(path, size, MAX_RUNPACK_ARTIFACT_BYTES)
            parts.append(chunk)
    return b"".join(parts)


async def _decision_log_error(source: RunpackSource) -> str | None:
    """The reference's decision-log check: parse all, then the first duplicate trigger.

    Memory stays fixed however long the log: a Bloom filter flags trigger ids
    that may repeat, and only when it flags any is the log read a second time
    to find the first real duplicate among them.
    """
    seen = _SeenOnce()
    candidates: set[str] = set()
    try:
        async with contextlib.aclosing(_array_items(source, DECISIONS_PATH)) as items:
            async for item in items:
                decision = _parse_object(DecisionRecord, item, "decision record")
                if seen.add(decision.trigger_id):
                    candidates.add(decision.trigger_id)
    except _ReadFailed as failed:
        return f"decision log read failed: {failed.error}"
    except (JsonArrayError, DecisionGateError) as error:
        return f"invalid decision log: {error}"
    if not candidates:
        return None
    confirmed: set[str] = set()
    try:
        async with contextlib.aclosing(_array_items(source, DECISIONS_PATH)) as items:
            async for item in items:
                trigger_id = _parse_object(DecisionRecord, item, "decision record").trigger_id
                if trigger_id in candidates:
                    if trigger_id in confirmed:
                        return f"duplicate decision for trigger {trigger_id}"
                    confirmed.add(trigger_id)
    except _ReadFailed as failed:
        return f"decision log read failed: {failed.error}"
    except (JsonArrayError, DecisionGateError) as error:
        return f"invalid decision log: {error}"
    return None


def _record_anchor_errors(
    item: Any, providers: Mapping[str, str], policy: EvidenceAnchorPolicy
) -> list[str]:
    record = _parse_object(GateEvalRecord, item, "gate eval record")
    errors: list[str] = []
    where = f"(trigger {record.trigger_id}, stage {record.stage_id})"
    for evidence in record.evidence:
        if evidence.result.error is not None:
            continue
        provider_id = providers.get(evidence.condition_id)
        if provider_id is None:
            errors.append(f"condition {evidence.condition_id} missing from scenario spec {where}")
            continue
        requirement = policy.requirement_for(provider_id)
        if requirement is None:
            continue
        problem = anchor_problem(evidence.result.evidence_anchor, requirement)
        if problem is not None:
            errors.append(
                f"anchor invalid for condition {evidence.condition_id} {where}: {problem}"
            )
    return errors


async def _anchor_errors(source: RunpackSource, policy: EvidenceAnchorPolicy) -> list[str]:
    try:
        spec_data = await _read_whole(source, SCENARIO_SPEC_PATH)
    except ArtifactReadError as error:
        return [f"scenario spec read failed: {error}"]
    try:
        spec = _parse_object(ScenarioSpec, json_loads(spec_data), "scenario spec")
    except DecisionGateError as error:
        return [f"invalid scenario spec: {error}"]
    providers = {c.condition_id: c.query.provider_id for c in spec.conditions}
    errors: list[str] = []
    try:
        async with contextlib.aclosing(_array_items(source, GATE_EVALS_PATH)) as items:
            async for item in items:
                errors.extend(_record_anchor_errors(item, providers, policy))
    except _ReadFailed as failed:
        return [f"gate eval log read failed: {failed.error}"]
    except (JsonArrayError, DecisionGateError) as error:
        return [f"invalid gate eval log: {error}"]
    return errors


def _index_errors(manifest: RunpackManifest) -> list[str]:
    errors: list[str] = []
    listed: set[str] = set()
    for entry in manifest.integrity.file_hashes:
        if entry.path in listed:
            errors.append(f"integrity.file_hashes lists {entry.path} more than once")
        listed.add(entry.path)
    for path, _kind in EXPORT_ARTIFACTS:
        if path not in listed:
            errors.append(f"required artifact {path} is not listed in the manifest")
    mismatch = "manifest artifacts[] do not match integrity.file_hashes"
    if len(manifest.artifacts) != len(manifest.integrity.file_hashes):
        errors.append(
            f"{mismatch}: {len(manifest.artifacts)} artifacts, "
            f"{len(manifest.integrity.file_hashes)} file hashes"
        )
    for artifact, entry in zip(manifest.artifacts, manifest.integrity.file_hashes, strict=False):
        if artifact.path != entry.path:
            errors.append(f"{mismatch}: artifact {artifact.path} listed where {entry.path} is")
        elif artifact.hash != entry.hash:
            errors.append(f"{mismatch}: different hashes for {artifact.path}")
    for artifact in manifest.artifacts:
        if artifact.artifact_id != artifact.path:
            errors.append(f"artifact {artifact.path} has artifact_id {artifact.artifact_id}")
        expected_kind = WELL_KNOWN_KINDS.get(artifact.path)
        if expected_kind is not None:
            if artifact.kind is not expected_kind:
                errors.append(
                    f"artifact {artifact.path} has kind {artifact.kind.value}, "
                    f"expected {expected_kind.value}"
                )
            if artifact.content_type != CONTENT_TYPE_JSON:
                errors.append(
                    f"artifact {artifact.path} has content type {artifact.content_type}, "
                    f"expected {CONTENT_TYPE_JSON}"
                )
    if manifest.security is not None and (
        manifest.security.namespace_authority not in KNOWN_NAMESPACE_AUTHORITIES
    ):
        errors.append(f"unknown namespace authority {manifest.security.namespace_authority}")
    return errors


async def _identity_errors(manifest: RunpackManifest, source: RunpackSource) -> list[str]:
    """Manifest ids against the spec and each trigger event; read errors are reported elsewhere."""
    errors: list[str] = []
    try:
        spec = json_loads(await _read_whole(source, SCENARIO_SPEC_PATH))
    except (ArtifactReadError, DecisionGateError):
        spec = None
    if isinstance(spec, dict):
        for field in ("scenario_id", "namespace_id"):
            if spec.get(field) != getattr(manifest, field):
                errors.append(
                    f"manifest {field} {getattr(manifest, field)} does not match "
                    f"the scenario spec ({spec.get(field)})"
                )
    try:
        async with contextlib.aclosing(_array_items(source, TRIGGERS_PATH)) as items:
            async for item in items:
                problem = _trigger_identity_error(manifest, item)
                if problem is not None:
                    errors.append(problem)
                    break
    except (_ReadFailed, JsonArrayError):
        pass  # the hash check already reports a missing or altered trigger log
    return errors


def _trigger_identity_error(manifest: RunpackManifest, item: Any) -> str | None:
    event = item.get("event") if isinstance(item, dict) else None
    if not isinstance(event, dict):
        return None
    for field in ("tenant_id", "namespace_id", "run_id"):
        if event.get(field) != getattr(manifest, field):
            return (
                f"manifest {field} {getattr(manifest, field)} does not match "
                f"trigger {event.get('trigger_id')} ({event.get(field)})"
            )
    return None


async def verify_runpack(
    manifest: RunpackManifest,
    source: RunpackSource,
    *,
    manifest_path: str | None = None,
    check_unlisted: bool = True,
) -> VerificationReport:
    """Verify a runpack: the reference's checks (§6.4), then ours (module docstring).

    `manifest_path` is the manifest's own path within the source, which the
    unlisted-file check skips. Always returns a report; a tampered runpack is
    a `fail`, never an exception.
    """
    if manifest.manifest_version not in SUPPORTED_MANIFEST_VERSIONS:
        return VerificationReport(
            status=VerificationStatus.FAIL,
            checked_files=0,
            errors=(f"unsupported manifest version: {manifest.manifest_version}",),
        )
    errors: list[str] = []
    checked = 0
    if manifest.hash_algorithm != HASH_ALGORITHM:
        errors.append("hash algorithm mismatch")
    computed: dict[str, HashDigest] = {}
    for entry in manifest.integrity.file_hashes:
        try:
            digest = await _hash_artifact(source, entry.path)
        except ArtifactReadError as error:
            errors.append(f"artifact read failed for {entry.path}: {error}")
            continue
        checked += 1
        computed.setdefault(entry.path, digest)
        if digest != entry.hash:
            errors.append(f"hash mismatch for {entry.path}")
    if root_hash_of(manifest.integrity.file_hashes) != manifest.integrity.root_hash:
        errors.append("root hash mismatch")
    decision_error = await _decision_log_error(source)
    if decision_error is not None:
        errors.append(decision_error)
    if manifest.anchor_policy is not None and manifest.anchor_policy.providers:
        errors.extend(await _anchor_errors(source, manifest.anchor_policy))

    errors.extend(_index_errors(manifest))
    spec_digest = computed.get(SCENARIO_SPEC_PATH)
    if spec_digest is not None and spec_digest != manifest.spec_hash:
        errors.append(f"spec_hash does not match {SCENARIO_SPEC_PATH}")
    errors.extend(await _identity_errors(manifest, source))
    if check_unlisted:
        listed = {entry.path for entry in manifest.integrity.file_hashes}
        try:
            present = await source.list_files()
        except ArtifactReadError as error:
            errors.append(f"runpack listing failed: {error}")
            present = []
        errors.extend(
            f"unlisted file {path}"
            for path in sorted(present)
            if path not in listed and path != manifest_path
        )
    return VerificationReport(
        status=VerificationStatus.FAIL if errors else VerificationStatus.PASS,
        checked_files=checked,
        errors=tuple(errors),
    )


async def verify_runpack_bytes(
    manifest_data: bytes,
    source: RunpackSource,
    *,
    manifest_path: str | None = None,
    check_unlisted: bool = True,
) -> VerificationReport:
    """Verify from the manifest file's bytes; `RunpackError` if they are no manifest.

    Adds one check to `verify_runpack`: the file must be the canonical JSON of
    the manifest it parses to, as every builder writes it.
    """
    manifest = parse_manifest(manifest_data)
    report = await verify_runpack(
        manifest, source, manifest_path=manifest_path, check_unlisted=check_unlisted
    )
    if manifest.manifest_version not in SUPPORTED_MANIFEST_VERSIONS:
        return report
    if manifest_bytes(manifest) != manifest_data:
        return VerificationReport(
            status=VerificationStatus.FAIL,
            checked_files=report.checked_files,
            errors=(*report.errors, "manifest is not canonical JSON"),
        )
    return report
