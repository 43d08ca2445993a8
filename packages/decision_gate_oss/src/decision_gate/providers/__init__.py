"""The built-in evidence providers: `time`, `env` and `json` (and `http`, with the server).

Their ids are reserved: a plugin cannot register a provider named like a
built-in. Each provider answers only from its inputs and its configuration;
`time` never reads a clock, it compares against the trigger's time.
"""

from __future__ import annotations

from typing import Final

BUILTIN_PROVIDER_IDS: Final = frozenset({"time", "env", "json", "http"})
