"""count_tokens against the bill: what count_tokens says a request holds, and what the same
request sent to /v1/messages is billed (``usage.input_tokens``).

``count_agreement_findings`` is on demand: no single answer holds both numbers, so the suite
calls it with a count and a bill it got for the same request (``test_count_tokens_features.py``,
once per feature: tools, images, documents, thinking, system).

The tolerance is one rule, ``TOLERANCE``. The real tokenizer is unknown here: this project
cannot run it, the docs publish no formula for most features (how many tokens the tool-use or
thinking system prompt adds, how a PDF page is rendered), and they call count_tokens "an
estimate" whose figure "may differ by a small amount" from what creating the message uses. So
the check allows a small drift, relative for big prompts (a PDF page billed as text plus an
image), with a floor for tiny ones; the floor stays below what any single feature of the suite's
requests adds, so a count that leaves a whole feature out (the images, a system prompt given as
blocks) is still caught.
"""

from __future__ import annotations

from dataclasses import dataclass

from conformance.checks._registry import on_demand
from conformance.checks.common import finding, is_count
from conformance.exchange import Finding

COUNT_AGREES = "count-tokens-agrees"


@dataclass(frozen=True)
class Tolerance:
    """How far count_tokens may be from the bill: ``share`` of the bill, at least ``floor``."""

    share: float
    floor: int

    def allowed(self, billed: int) -> float:
        return max(float(self.floor), self.share * billed)


#: count_tokens is documented as an estimate of the billed input tokens (see the module's doc):
#: 10% of the bill, at least 8 tokens.
TOLERANCE = Tolerance(share=0.10, floor=8)


@on_demand(
    COUNT_AGREES,
    fix="count every part of the request count_tokens is given (tools, images, documents, "
    "thinking, system) as /v1/messages bills it",
)
def count_agreement_findings(
    counted: object,
    billed: object,
    *,
    feature: str = "",
    request_id: str | None = None,
    tolerance: Tolerance = TOLERANCE,
) -> list[Finding]:
    """count_tokens of a request (``counted``) agrees with the ``input_tokens`` the same request
    was billed (``billed``) within ``tolerance``; ``feature`` names what the request holds."""
    what = f"a request with {feature}" if feature else "a request"
    if not is_count(counted) or not is_count(billed):
        return [
            finding(
                COUNT_AGREES,
                f"{what}: count_tokens said {counted!r}, the bill said {billed!r}: "
                "both must be token counts",
                pointer="/input_tokens",
                rule="input_tokens is a non-negative integer in both answers",
                value={"counted": counted, "billed": billed},
                request_id=request_id,
            )
        ]
    assert isinstance(counted, int) and isinstance(billed, int)  # is_count says so
    drift = billed - counted
    allowed = tolerance.allowed(billed)
    if abs(drift) <= allowed:
        return []
    return [
        finding(
            COUNT_AGREES,
            f"{what}: count_tokens said {counted} input tokens, the same request was billed "
            f"{billed} (drift {drift:+d}, allowed ±{allowed:.0f})",
            pointer="/input_tokens",
            rule=(
                f"count_tokens is within {tolerance.share:.0%} (at least {tolerance.floor} "
                "tokens) of the billed usage.input_tokens of the same request"
            ),
            value={"counted": counted, "billed": billed},
            request_id=request_id,
        )
    ]
