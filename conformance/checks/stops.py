"""Checks of stop reasons: ``stop_details`` goes with a refusal.

``stop_details`` is ``null`` or ``{type: "refusal", category?, explanation?}`` (api-contract.md
§2): the structured reason of a ``refusal`` stop. Details on any other stop reason mean the stop
reason was rewritten on the way (a proxy that maps stop reasons it does not know to
``end_turn``), and a client that branches on ``stop_reason == "refusal"`` misses the refusal.
Whether every refusal carries details is not documented (older answers have no such field), so a
refusal without them is not a finding.
"""

from __future__ import annotations

from conformance.checks._registry import check, success
from conformance.checks.common import finding
from conformance.checks.messages import final_message
from conformance.exchange import Exchange, Finding

STOP_DETAILS = "stop-details"
_RULE = 'stop_details is null unless stop_reason is "refusal", and then has type "refusal"'


@check(STOP_DETAILS, endpoints=("messages.create",), applies=success)
def check_stop_details(exchange: Exchange) -> list[Finding]:
    """Non-null stop_details only on a refusal, with type refusal."""
    final = final_message(exchange)
    if final is None:
        return []
    details, reason = final.message.get("stop_details"), final.message.get("stop_reason")
    if details is None:
        return []
    if reason != "refusal":
        return [
            finding(
                STOP_DETAILS,
                f"stop_details {details!r} on stop_reason {reason!r}: only a refusal has details",
                pointer=final.pointer("stop_reason"),
                rule=_RULE,
                value=reason,
                request_id=exchange.request_id,
            )
        ]
    if not isinstance(details, dict) or details.get("type") != "refusal":
        return [
            finding(
                STOP_DETAILS,
                f"a refusal's stop_details is {details!r}, not of type refusal",
                pointer=final.pointer("stop_details"),
                rule=_RULE,
                value=details,
                request_id=exchange.request_id,
            )
        ]
    return []
