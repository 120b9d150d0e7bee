"""Checks of the experimental prompt tools (generate, improve, templatize).

What the schemas cannot say: templatize placeholders look like ``{{UPPER_CASE}}`` and match
``variable_values`` both ways. The token counts of their usage are judged by
``admin.check_token_counts``, registered for these endpoints too.
"""

from __future__ import annotations

import re
from typing import Any

from conformance.checks._registry import check, json_body, on_demand, success
from conformance.checks.common import escape, finding
from conformance.exchange import Exchange, Finding

PLACEHOLDERS = "placeholders"

PLACEHOLDER = re.compile(r"\{\{\s*([^{}]*?)\s*\}\}")
VARIABLE_NAME = re.compile(r"^[A-Z][A-Z0-9_]*$")


@on_demand(PLACEHOLDERS)
def placeholder_findings(body: Any, *, request_id: str | None = None) -> list[Finding]:
    """Templatize placeholders are ``{{UPPER_CASE}}`` and match ``variable_values`` both ways."""
    if not isinstance(body, dict):
        return []
    out: list[Finding] = []
    used: set[str] = set()
    texts: list[tuple[str, str]] = []
    if isinstance(body.get("system"), str):
        texts.append(("/system", body["system"]))
    for i, message in enumerate(body.get("messages") or []):
        for j, block in enumerate(
            (message or {}).get("content") or [] if isinstance(message, dict) else []
        ):
            if isinstance(block, dict) and isinstance(block.get("text"), str):
                texts.append((f"/messages/{i}/content/{j}/text", block["text"]))
    for at, text in texts:
        for name in PLACEHOLDER.findall(text):
            used.add(name)
            if not VARIABLE_NAME.match(name):
                out.append(
                    finding(
                        PLACEHOLDERS,
                        f"placeholder {{{{{name}}}}} is not {{{{UPPER_CASE}}}}",
                        pointer=at,
                        rule="placeholders look like {{UPPER_CASE}}",
                        value=name,
                        request_id=request_id,
                    )
                )
    values = body.get("variable_values")
    if isinstance(values, dict):
        for name, value in values.items():
            if not VARIABLE_NAME.match(str(name)):
                out.append(
                    finding(
                        PLACEHOLDERS,
                        f"variable {name!r} is not UPPER_CASE",
                        pointer=f"/variable_values/{escape(name)}",
                        rule="variable names are UPPER_CASE",
                        value=name,
                        request_id=request_id,
                    )
                )
            elif name not in used:
                out.append(
                    finding(
                        PLACEHOLDERS,
                        f"variable {name!r} has a value but no "
                        f"{{{{{name}}}}} placeholder in the prompt",
                        pointer=f"/variable_values/{escape(name)}",
                        rule="every variable appears as a placeholder",
                        value=value,
                        request_id=request_id,
                    )
                )
    return out


@check(PLACEHOLDERS, endpoints="prompt_tools.templatize", applies=success & json_body)
def check_placeholders(exchange: Exchange) -> list[Finding]:
    """``placeholder_findings`` on a templatize answer."""
    return placeholder_findings(exchange.json, request_id=exchange.request_id)
