"""The facts of the Claude Code API Service's own API document (seed 001), in one place.

The checks, the reference implementation and the profile's tests all read these tables; where
the document leaves something open, the assumption is stated next to the value.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass

#: Pricing (January 2026), $ per million tokens: (input, output).
PRICES: Mapping[str, tuple[float, float]] = {
    "haiku": (0.25, 1.25),
    "sonnet": (3.00, 15.00),
    "opus": (15.00, 75.00),
}
MODELS: tuple[str, ...] = tuple(PRICES)
DEFAULT_PROJECT = "default"
PERIODS: tuple[str, ...] = ("month", "week", "day")
DEFAULT_PERIOD = "month"

#: Routing thresholds, in the document's words: "Low budget (<1000 tokens)", "Large context
#: (>10k tokens)" (assumed: 10k = 10,000), "Simple prompts (<100 chars ...)".
LOW_BUDGET_TOKENS = 1000
LARGE_CONTEXT_TOKENS = 10_000
SHORT_PROMPT_CHARS = 100
#: "keywords: list, format, count, etc." / "analyze, architect, debug, etc.": the document names
#: three of each and leaves the rest open, so the profile judges only prompts that contain one of
#: these and none of the unnamed ones could change (assumed: case-insensitive word match).
SIMPLE_KEYWORDS: tuple[str, ...] = ("list", "format", "count")
COMPLEX_KEYWORDS: tuple[str, ...] = ("analyze", "architect", "debug")

#: How far a cost may be from the price table's exact value. The document does not say how
#: costs are rounded; the profile assumes they are not (a float computed from the table), and
#: allows only float noise: a rounded cost (e.g. to 4 decimals) is reported.
COST_TOLERANCE = 1e-9


def cost_of(model: str, input_tokens: int, output_tokens: int) -> float:
    """The price-table cost of a call, in dollars."""
    price_in, price_out = PRICES[model]
    return (input_tokens * price_in + output_tokens * price_out) / 1_000_000


def cost_matches(actual: float, expected: float) -> bool:
    return math.isclose(actual, expected, rel_tol=COST_TOLERANCE, abs_tol=COST_TOLERANCE)


def _words(text: str) -> set[str]:
    return {w.strip(".,;:!?()[]{}'\"").lower() for w in text.split()}


@dataclass(frozen=True)
class Route:
    """A routing decision: the model and the number of the document's rule (1-5)."""

    model: str
    rule: int


def route(prompt: str, context_size: int, remaining: int | None) -> Route:
    """The document's routing rules, in its order (``remaining`` None: no budget limit)."""
    if remaining is not None and remaining < LOW_BUDGET_TOKENS:
        return Route("haiku", 1)
    if context_size > LARGE_CONTEXT_TOKENS:
        return Route("opus", 2)
    words = _words(prompt)
    if len(prompt) < SHORT_PROMPT_CHARS and words & set(SIMPLE_KEYWORDS):
        return Route("haiku", 3)
    if words & set(COMPLEX_KEYWORDS):
        return Route("sonnet", 4)
    return Route("sonnet", 5)


ROOT_ENDPOINTS: Mapping[str, str] = {
    "chat": "/v1/chat/completions",
    "batch": "/v1/batch",
    "usage": "/v1/usage",
    "route": "/v1/route",
}


# The operations of the document, with the schemas of their request bodies and answers.
from conformance.profiles._model import Endpoint  # noqa: E402  (after the facts it does not use)

ENDPOINTS: tuple[Endpoint, ...] = (
    Endpoint(
        "chat",
        "POST",
        "/v1/chat/completions",
        "chat_completion_response.json",
        "chat_completion_request.json",
    ),
    Endpoint("batch", "POST", "/v1/batch", "batch_response.json", "batch_request.json"),
    Endpoint("usage", "GET", "/v1/usage", "usage_response.json", "usage_query.json"),
    Endpoint("route", "POST", "/v1/route", "route_response.json", "route_request.json"),
    Endpoint("health", "GET", "/health", "health_response.json"),
    Endpoint("root", "GET", "/", "root_response.json"),
)
ERROR_SCHEMA = "error.json"
