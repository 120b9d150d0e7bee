"""The default profile: the Anthropic API itself, run by the core plugin exactly as before.

This is a description only (for ``anthropic-conformance profiles`` and the runner): its options
are the core ``conformance.settings.OPTIONS``, its checks ``conformance.checks``, its toggles
``catalog.FEATURES``, its probes ``conformance.capabilities.PROBES``, its reference
implementation ``conformance.reference``.
"""

from __future__ import annotations

from pathlib import Path

from conformance import catalog
from conformance.profiles._model import Endpoint, Probe, Profile, Toggle

_PACKAGE = Path(__file__).resolve().parent.parent

PROFILE = Profile(
    name="anthropic",
    description="the Anthropic HTTP API: Messages (JSON, SSE), count_tokens, Models, Message "
    "Batches, Files, prompt tools, Admin API (the default)",
    prefix="anthropic",
    suite_dir=_PACKAGE / "suite",
    checks=("conformance.checks",),
    endpoints=tuple(Endpoint(e.name, e.method, e.path, e.schema) for e in catalog.ENDPOINTS),
    probes=(Probe("POST", "/v1/messages"),),
    toggles=tuple(Toggle(f.name, f.description, f.default) for f in catalog.FEATURES),
    reference_description="conformance.reference (the embedded reference server; "
    "`anthropic-conformance serve`)",
    native=True,
)
