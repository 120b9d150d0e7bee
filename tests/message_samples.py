"""A /v1/messages answer as a check sees it, built in one place for the tests of the checks.

The tests of a Messages check need a faithful answer and a broken one that differ in exactly the
field under test; the rest (id, role, model, stop fields, usage) is the same small message.
"""

from __future__ import annotations

import json
from typing import Any

from conformance import catalog
from conformance.exchange import Exchange


def message_exchange(content: list[Any], request: Any = None, **fields: Any) -> Exchange:
    """A 200 JSON answer holding ``content``; ``fields`` replace or add top-level keys."""
    body = {
        "id": "msg_01x",
        "type": "message",
        "role": "assistant",
        "model": catalog.DEFAULT_MODEL,
        "content": content,
        "stop_reason": "end_turn",
        "stop_sequence": None,
        "usage": {"input_tokens": 1, "output_tokens": 1},
        **fields,
    }
    return Exchange(
        "POST",
        "/v1/messages",
        200,
        {"content-type": "application/json"},
        json.dumps(body).encode(),
        request_json=request or {},
    )


__all__ = ["message_exchange"]
