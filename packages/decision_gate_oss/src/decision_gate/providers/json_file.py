"""The `json` provider: a value read from a JSON or YAML file under one root.

Every query resolves its `file` param against the configured root and refuses
anything that ends up outside it (absolute paths, `..`, symlinks pointing out),
reads at most `max_bytes + 1` bytes, parses JSON with the reference's number
model (or YAML, when allowed, without YAML's implicit timestamps, so a date
stays the string it was written as), and selects with an optional JSONPath.
Failures are results carrying a structured error (codes as the reference's),
never exceptions: the error itself is evidence of why the gate cannot pass.
"""

from __future__ import annotations

import asyncio
import math
import os
import re
from collections.abc import Collection
from pathlib import Path
from typing import Any, Final

import yaml
from jsonpath_ng.exceptions import JsonPathLexerError, JsonPathParserError
from jsonpath_ng.ext.parser import parse as parse_jsonpath

from decision_gate.core.canonical import canonical_json_bytes
from decision_gate.core.errors import InvalidInput
from decision_gate.core.evidence import JsonEvidence
from decision_gate.core.jsonvalue import JsonDecodeError, JsonValue, loads
from decision_gate.core.model import (
    I64_MIN,
    U64_MAX,
    EvidenceAnchor,
    EvidenceContext,
    EvidenceProviderError,
    EvidenceQuery,
    EvidenceRef,
    EvidenceResult,
)
from decision_gate.seams.evidence_provider import EvidenceProviderFailure

CHECKS: Final = ("path",)
_ROOT_ID: Final = re.compile(r"^[a-z0-9][a-z0-9_-]{0,63}$")


class _Refusal(Exception):
    def __init__(self, code: str, message: str, details: JsonValue = None) -> None:
        super().__init__(message)
        self.error = EvidenceProviderError(code=code, message=message, details=details)


class _JsonYamlLoader(yaml.SafeLoader):
    """SafeLoader minus implicit timestamps: YAML dates stay strings, as in JSON."""


_JsonYamlLoader.yaml_implicit_resolvers = {
    first: [(tag, regexp) for tag, regexp in resolvers if tag != "tag:yaml.org,2002:timestamp"]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}


class JsonFileProvider:
    provider_id: Final = "json"

    def __init__(
        self,
        *,
        root: str | Path,
        root_id: str,
        max_bytes: int = 1024 * 1024,
        allow_yaml: bool = True,
    ) -> None:
        if not _ROOT_ID.match(root_id):
            raise InvalidInput(
                "json provider root_id must be 1-64 characters: lowercase ascii, digits, - or _"
            )
        if max_bytes < 0:
            raise InvalidInput("json provider max_bytes must not be negative")
        resolved = Path(os.path.realpath(root))
        if not resolved.is_dir():
            raise InvalidInput(f"json provider root is not a directory: {root}")
        self.root = resolved
        self.root_id = root_id
        self.max_bytes = max_bytes
        self.allow_yaml = allow_yaml

    @property
    def checks(self) -> Collection[str]:
        return CHECKS

    async def query(self, query: EvidenceQuery, context: EvidenceContext) -> EvidenceResult:
        if query.check_id != "path":
            raise EvidenceProviderFailure("unsupported json check")
        return await asyncio.to_thread(self.answer, query.params)

    def answer(self, params: JsonValue) -> EvidenceResult:
        """The evidence for one `path` query (blocking file I/O)."""
        reference: EvidenceRef | None = None
        anchor: EvidenceAnchor | None = None
        try:
            file, jsonpath = _params(params)
            absolute, relative = self._resolve(file)
            reference = EvidenceRef(uri=f"dg+file://{self.root_id}/{relative}")
            anchor = EvidenceAnchor(
                anchor_type="file_path_rooted",
                anchor_value=canonical_json_bytes(
                    {"path": relative, "root_id": self.root_id}
                ).decode(),
            )
            content = self._read(absolute, relative)
            document, content_type = self._parse(absolute, relative, content)
            value = document if jsonpath is None else _select(document, jsonpath)
        except _Refusal as refusal:
            return EvidenceResult(
                error=refusal.error, evidence_ref=reference, evidence_anchor=anchor
            )
        return EvidenceResult(
            value=JsonEvidence(value),
            evidence_ref=reference,
            evidence_anchor=anchor,
            content_type=content_type,
        )

    def _resolve(self, file: str) -> tuple[Path, str]:
        if not file:
            raise _Refusal("path_missing", "json file path is empty")
        if os.path.isabs(file):
            raise _Refusal(
                "absolute_path_forbidden",
                "json file path must be relative to the configured root",
                {"file": file},
            )
        if "\x00" in file:
            raise _Refusal(
                "path_invalid", "json file path contains invalid components", {"file": file}
            )
        joined = self.root / file
        if not os.path.exists(joined):
            raise _Refusal("file_not_found", "unable to resolve json file", {"file": file})
        resolved = Path(os.path.realpath(joined))
        if resolved != self.root and self.root not in resolved.parents:
            raise _Refusal("path_outside_root", "json file path escapes root", {"file": file})
        relative = resolved.relative_to(self.root).as_posix()
        if relative in ("", "."):
            raise _Refusal("path_invalid", "json file path resolves to empty path", {"file": file})
        return resolved, relative

    def _read(self, absolute: Path, relative: str) -> bytes:
        try:
            descriptor = os.open(absolute, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC)
        except FileNotFoundError:
            raise _Refusal(
                "file_not_found", "unable to open json file", {"file": relative}
            ) from None
        except OSError:
            raise _Refusal(
                "file_open_failed", "unable to open json file", {"file": relative}
            ) from None
        try:
            with os.fdopen(descriptor, "rb") as handle:
                content = handle.read(self.max_bytes + 1)
        except OSError:
            raise _Refusal(
                "file_read_failed", "unable to read json file", {"file": relative}
            ) from None
        if len(content) > self.max_bytes:
            raise _Refusal(
                "size_limit_exceeded",
                "json file exceeds size limit",
                {"file": relative, "max_bytes": self.max_bytes, "actual_bytes": len(content)},
            )
        return content

    def _parse(self, absolute: Path, relative: str, content: bytes) -> tuple[JsonValue, str]:
        if absolute.suffix.lower() in (".yaml", ".yml"):
            if not self.allow_yaml:
                raise _Refusal("yaml_disabled", "yaml parsing is disabled", {"file": relative})
            try:
                return _json_of_yaml(yaml.load(content, Loader=_JsonYamlLoader)), "application/yaml"  # noqa: S506 - a SafeLoader subclass
            except (yaml.YAMLError, ValueError, TypeError, RecursionError):
                raise _Refusal("invalid_yaml", "invalid yaml", {"file": relative}) from None
        try:
            return loads(content), "application/json"
        except JsonDecodeError:
            raise _Refusal("invalid_json", "invalid json", {"file": relative}) from None


def _params(params: JsonValue) -> tuple[str, str | None]:
    if params is None:
        raise _Refusal("params_missing", "json check requires params")
    if not isinstance(params, dict):
        raise _Refusal("params_invalid", "json params must be an object")
    if "file" not in params:
        raise _Refusal("params_missing", "missing file param")
    file = params["file"]
    if not isinstance(file, str):
        raise _Refusal("params_invalid", "file param must be a string")
    jsonpath = params.get("jsonpath")
    if jsonpath is not None and not isinstance(jsonpath, str):
        raise _Refusal("params_invalid", "jsonpath param must be a string")
    return file, jsonpath


def _select(document: JsonValue, path: str) -> JsonValue:
    try:
        expression = parse_jsonpath(path)
        matches = [match.value for match in expression.find(document)]
    except (JsonPathLexerError, JsonPathParserError):
        raise _Refusal("invalid_jsonpath", "invalid jsonpath", {"jsonpath": path}) from None
    except Exception:  # noqa: BLE001 - jsonpath-ng raises plain exceptions for some bad paths
        raise _Refusal("invalid_jsonpath", "invalid jsonpath", {"jsonpath": path}) from None
    if not matches:
        raise _Refusal("jsonpath_not_found", f"jsonpath not found: {path}", {"jsonpath": path})
    return matches[0] if len(matches) == 1 else matches


def _json_of_yaml(value: Any) -> JsonValue:
    """YAML data as JSON data, rejecting what JSON cannot hold."""
    if value is None or isinstance(value, bool | str):
        return value
    if isinstance(value, int):
        return value if I64_MIN <= value <= U64_MAX else float(value)
    if isinstance(value, float):
        if not math.isfinite(value):
            raise ValueError("non-finite number")
        return value
    if isinstance(value, list):
        return [_json_of_yaml(item) for item in value]
    if isinstance(value, dict):
        if not all(isinstance(key, str) for key in value):
            raise ValueError("object keys must be strings")
        return {key: _json_of_yaml(item) for key, item in value.items()}
    raise TypeError(f"{type(value).__name__} is not JSON")
