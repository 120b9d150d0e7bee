"""Checks of extended thinking: every thinking block is signed, and a streamed thinking block
ends with its ``signature_delta``.

Clients pass thinking blocks back in tool-use turns and the API verifies the signature, so a
thinking block without one (a proxy that drops ``signature_delta``, or rebuilds blocks from
text) breaks the next request. Both checks hold for every recorded real answer.
"""

from __future__ import annotations

from typing import Any

from conformance.checks._registry import check, streams, success
from conformance.checks.common import describe_type, finding
from conformance.checks.messages import final_message
from conformance.exchange import Exchange, Finding

THINKING_SIGNATURE = "thinking-signature"
SIGNATURE_DELTA = "signature-delta"

_SIGNATURE_RULE = "a thinking block carries a non-empty signature string"
_DELTA_RULE = (
    "a streamed thinking block gets thinking_delta pieces, then one signature_delta "
    "just before its content_block_stop"
)


@check(THINKING_SIGNATURE, endpoints=("messages.create",), applies=success)
def check_thinking_signature(exchange: Exchange) -> list[Finding]:
    """Every thinking block of the finished message has a non-empty signature."""
    final = final_message(exchange)
    if final is None:
        return []
    content = final.message.get("content")
    out: list[Finding] = []
    for i, block in enumerate(content if isinstance(content, list) else []):
        if not isinstance(block, dict) or block.get("type") != "thinking":
            continue
        sig = block.get("signature")
        if not isinstance(sig, str) or not sig:
            out.append(
                finding(
                    THINKING_SIGNATURE,
                    f"thinking block {i} has no signature (got "
                    f"{describe_type(sig) if sig != '' else 'an empty string'}); the API "
                    "refuses it when the client passes it back",
                    pointer=final.pointer("content", i, "signature"),
                    rule=_SIGNATURE_RULE,
                    value=sig,
                    request_id=exchange.request_id,
                )
            )
    return out


def _payload(data: Any) -> dict[str, Any]:
    return data if isinstance(data, dict) else {}


@check(SIGNATURE_DELTA, endpoints=("messages.create",), applies=success & streams)
def check_signature_delta(exchange: Exchange) -> list[Finding]:
    """In a stream, each thinking block's last delta is a signature_delta with a signature."""
    rid = exchange.request_id
    assert exchange.events is not None  # the guard: streams only
    open_thinking: dict[int, list[tuple[int, str]]] = {}  # index -> [(event, delta type)]
    out: list[Finding] = []
    for i, ev in enumerate(exchange.events):
        payload = _payload(ev.json)
        index = payload.get("index")
        if not isinstance(index, int):
            continue
        if ev.type == "content_block_start":
            if _payload(payload.get("content_block")).get("type") == "thinking":
                open_thinking[index] = []
        elif ev.type == "content_block_delta" and index in open_thinking:
            delta = _payload(payload.get("delta"))
            kind = str(delta.get("type"))
            open_thinking[index].append((i, kind))
            if kind == "signature_delta" and not (
                isinstance(delta.get("signature"), str) and delta["signature"]
            ):
                out.append(
                    finding(
                        SIGNATURE_DELTA,
                        f"the signature_delta of thinking block {index} carries no signature",
                        rule=_DELTA_RULE,
                        pointer=f"/events/{i}/delta/signature",
                        value=delta.get("signature"),
                        request_id=rid,
                    )
                )
        elif ev.type == "content_block_stop" and index in open_thinking:
            deltas = open_thinking.pop(index)
            kinds = [k for _, k in deltas]
            if "signature_delta" not in kinds:
                out.append(
                    finding(
                        SIGNATURE_DELTA,
                        f"thinking block {index} stopped without a "
                        "signature_delta, so the folded block has no signature",
                        pointer=f"/events/{i}",
                        rule=_DELTA_RULE,
                        value=kinds,
                        request_id=rid,
                    )
                )
            elif kinds[-1] != "signature_delta":
                at = deltas[-1][0]
                out.append(
                    finding(
                        SIGNATURE_DELTA,
                        f"thinking block {index}: {kinds[-1]} came after the signature_delta",
                        pointer=f"/events/{at}/delta",
                        rule=_DELTA_RULE,
                        value=kinds,
                        request_id=rid,
                    )
                )
    return out
