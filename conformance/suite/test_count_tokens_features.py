"""count_tokens across today's features: tools, images, documents (text and PDF), thinking and a
system prompt each add tokens, and count_tokens agrees with what the same request is billed.

Two tests per feature. ``test_feature_adds_tokens`` counts the request with the feature and
without it (count_tokens is free, so it runs everywhere). ``test_count_agrees_with_the_bill``
sends the request with the feature to count_tokens and to /v1/messages and compares the count
with ``usage.input_tokens`` through the ``count-tokens-agrees`` check, whose tolerance
(``checks.count_tokens.TOLERANCE``) says why a count may drift: the real tokenizer is unknown
here, and the API calls count_tokens an estimate. The billed calls use ``max_tokens: 1``; the PDF
and thinking ones cost more on a live target (a PDF page is billed as text plus an image, and a
call with thinking may think its whole budget), so there they run only with ``documents_live``
and ``thinking_live``.
"""

from __future__ import annotations

import base64
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest

from conformance.api import Api
from conformance.checks.count_tokens import count_agreement_findings
from conformance.exchange import raise_for_findings
from conformance.settings import Settings
from conformance.suite._data import WEATHER_TOOL, image_block, input_tokens, pdf, png
from conformance.suite._live import require_live_toggle
from conformance.target import RunTarget

pytestmark = pytest.mark.feature("count_tokens")

PROMPT = "Reply with exactly: ok"
#: Long enough that leaving it out is more than the check's tolerance.
SYSTEM = (
    "You are a careful assistant for a lighthouse museum. Answer in one short line, never "
    "use markdown, and say plainly when you do not know something."
)
DOCUMENT_TEXT = (
    "The lighthouse on Kestrel Point was built in 1871. Its lamp is visible for eighteen "
    "nautical miles. The keeper's cottage is now a small museum with a shop and a cafe."
)
PDF_PAGES = ["The lighthouse on Kestrel Point was built in 1871 by the harbour board."]
THINKING_BUDGET = 1024


@dataclass(frozen=True)
class Feature:
    """What a feature adds to the base request: top-level fields, or blocks before the prompt."""

    fields: Callable[[], dict[str, Any]] = dict
    blocks: Callable[[], list[dict[str, Any]]] = list
    #: The billed call's max_tokens (thinking needs more than its budget).
    max_tokens: int = 1
    #: The toggle the billed call needs on a live target ("" = none: it costs little).
    live_toggle: str = ""


def _pdf_block() -> dict[str, Any]:
    data = base64.b64encode(pdf(PDF_PAGES)).decode()
    return {
        "type": "document",
        "source": {"type": "base64", "media_type": "application/pdf", "data": data},
    }


#: A tool whose description and schema outweigh the check's tolerance: every request with tools
#: also bills the tool-use system prompt (hundreds of tokens), so a counter that drops the
#: schemas of a small tool would stay within 10% of the bill and go unseen.
COUNTED_TOOL: dict[str, Any] = {
    **WEATHER_TOOL,
    "description": "Get the current weather for a city: the temperature in degrees Celsius, "
    "the sky, the wind speed and its direction, and the chance of rain in the next hour.",
    "input_schema": {
        "type": "object",
        "properties": {
            "location": {"type": "string", "description": "City name, such as Paris"},
            "unit": {
                "type": "string",
                "enum": ["celsius", "fahrenheit"],
                "description": "Temperature unit",
            },
        },
        "required": ["location"],
    },
}

FEATURES: dict[str, Feature] = {
    "system": Feature(fields=lambda: {"system": [{"type": "text", "text": SYSTEM}]}),
    "tools": Feature(fields=lambda: {"tools": [COUNTED_TOOL]}),
    "image": Feature(blocks=lambda: [image_block(png(200, 200))]),
    "text_document": Feature(
        blocks=lambda: [
            {
                "type": "document",
                "source": {"type": "text", "media_type": "text/plain", "data": DOCUMENT_TEXT},
            }
        ]
    ),
    "pdf_document": Feature(blocks=lambda: [_pdf_block()], live_toggle="documents_live"),
    "thinking": Feature(
        fields=lambda: {"thinking": {"type": "enabled", "budget_tokens": THINKING_BUDGET}},
        max_tokens=THINKING_BUDGET + 16,
        live_toggle="thinking_live",
    ),
}

#: The feature toggles each feature's tests need besides count_tokens.
_MARKS = {
    "tools": "tools",
    "image": "vision",
    "text_document": "documents",
    "pdf_document": "documents",
    "thinking": "thinking",
}
PARAMS = [
    pytest.param(name, marks=[pytest.mark.feature(_MARKS[name])] if name in _MARKS else [], id=name)
    for name in FEATURES
]


def request_body(model: str, feature: Feature | None) -> dict[str, Any]:
    """The base request (one user turn of text blocks), with ``feature`` added when given."""
    content: list[dict[str, Any]] = [{"type": "text", "text": PROMPT}]
    fields: dict[str, Any] = {}
    if feature is not None:
        content = [*feature.blocks(), *content]
        fields = feature.fields()
    return {
        "model": model,
        "max_tokens": feature.max_tokens if feature is not None else 1,
        "messages": [{"role": "user", "content": content}],
        **fields,
    }


def _counted(api: Api, body: dict[str, Any]) -> tuple[int, str | None]:
    request = {k: v for k, v in body.items() if k != "max_tokens"}
    ex = api.call("messages.count_tokens", request)
    answer = api.expect(ex)
    return int(answer["input_tokens"]), ex.request_id


@pytest.mark.parametrize("name", PARAMS)
def test_feature_adds_tokens(api: Api, name: str) -> None:
    without, _ = _counted(api, request_body(api.model, None))
    with_it, rid = _counted(api, request_body(api.model, FEATURES[name]))
    assert with_it > without, (
        f"count_tokens of a request with {name} is {with_it}, without it {without}: "
        f"the {name} was not counted (request-id {rid})"
    )


@pytest.mark.parametrize("name", PARAMS)
def test_count_agrees_with_the_bill(
    api: Api, conformance_target: RunTarget, conformance_settings: Settings, name: str
) -> None:
    feature = FEATURES[name]
    if feature.live_toggle:
        require_live_toggle(conformance_target, conformance_settings, feature.live_toggle)
    body = request_body(api.model, feature)
    counted, _ = _counted(api, body)
    ex = api.call("messages.create", body)
    billed = input_tokens(api.expect(ex))
    raise_for_findings(
        count_agreement_findings(counted, billed, feature=name, request_id=ex.request_id),
        f"count_tokens and the bill of a request with {name}",
    )
