"""Web fetch (``web_fetch_20250910`` and its later dated types): the "API" fetches a page.

Shapes follow api-contract.md §2 and a recorded real answer (pydantic-ai's web fetch cassette):
a ``server_tool_use`` ``{name: "web_fetch", input: {url}}``, then a ``web_fetch_tool_result``
whose ``content`` is ``{type: web_fetch_result, url, retrieved_at, content: <a document block
with a text source>}``, streamed whole in its ``content_block_start``;
``usage.server_tool_use.web_fetch_requests`` counts the fetches. With the tool's ``citations:
{enabled: true}`` the fetched document says so and the answer quotes it with ``char_location``
citations (the docs' example; which ``document_index`` the real API gives a fetched document is
not recorded: here, the request's documents come first, then the message's fetched ones).

The reference web is fictitious: any ``http(s)`` URL of the last user text "fetches" a
deterministic page about that URL; it is never requested. A URL outside ``allowed_domains`` or
inside ``blocked_domains`` gives the ``url_not_allowed`` error result, a fetch past ``max_uses``
the ``max_uses_exceeded`` one (the SDK's error codes). Not modelled: ``max_content_tokens``,
PDFs, ``url_not_in_prior_context`` (the real API fetches only URLs the conversation holds; a URL
the user wrote always qualifies).
"""

from __future__ import annotations

import hashlib
import re
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit

from conformance.reference.errors import invalid

WEB_FETCH = "web_fetch"
_URL = re.compile(r"https?://[^\s<>\"'`)\]]+")


def tool(body: dict[str, Any]) -> dict[str, Any] | None:
    return next(
        (
            t
            for t in body.get("tools") or []
            if isinstance(t, dict) and str(t.get("type", "")).startswith("web_fetch_")
        ),
        None,
    )


def check_tool(t: dict[str, Any], path: str) -> None:
    """A web fetch tool: named ``web_fetch``, not both domain lists (as for web search)."""
    if not str(t.get("type", "")).startswith("web_fetch_"):
        return
    if t.get("name") != WEB_FETCH:
        raise invalid(f"{path}.name: Input should be '{WEB_FETCH}'")
    if t.get("allowed_domains") and t.get("blocked_domains"):
        raise invalid(f"{path}: allowed_domains and blocked_domains cannot be used together")


def urls(text: str) -> list[str]:
    """The URLs of the user's text, in order, without trailing punctuation."""
    return [u.rstrip(".,;:!?") for u in _URL.findall(text)]


def _domain_ok(t: dict[str, Any], url: str) -> bool:
    host = (urlsplit(url).hostname or "").lower()

    def under(domains: Any) -> bool:
        return any(
            host == str(d).lower() or host.endswith("." + str(d).lower()) for d in domains or []
        )

    if t.get("allowed_domains"):
        return under(t["allowed_domains"])
    return not under(t.get("blocked_domains"))


def page(url: str) -> tuple[str, str]:
    """The (title, text) of the reference web's page at ``url``."""
    digest = hashlib.sha256(url.encode()).hexdigest()[:8]
    title = f"Reference page {digest}"
    text = (
        f"This page lives at {url}.\n"
        f"Its reference code is {digest}, derived from the address alone.\n"
        "The reference server made it up; nothing was downloaded."
    )
    return title, text


def result(
    t: dict[str, Any], url: str, server_id: str, now: datetime, over_limit: bool
) -> dict[str, Any]:
    """The ``web_fetch_tool_result`` block of one fetch."""
    if over_limit or not _domain_ok(t, url):
        code = "max_uses_exceeded" if over_limit else "url_not_allowed"
        return {
            "type": "web_fetch_tool_result",
            "tool_use_id": server_id,
            "content": {"type": "web_fetch_tool_result_error", "error_code": code},
        }
    title, text = page(url)
    document: dict[str, Any] = {
        "type": "document",
        "source": {"type": "text", "media_type": "text/plain", "data": text},
        "title": title,
    }
    if cites(t):
        document["citations"] = {"enabled": True}
    return {
        "type": "web_fetch_tool_result",
        "tool_use_id": server_id,
        "content": {
            "type": "web_fetch_result",
            "url": url,
            "retrieved_at": now.strftime("%Y-%m-%dT%H:%M:%S.%f+00:00"),
            "content": document,
        },
    }


def cites(t: dict[str, Any]) -> bool:
    return bool((t.get("citations") or {}).get("enabled"))


def quote(fetched: dict[str, Any], document_index: int) -> dict[str, Any]:
    """A text block quoting the second line of a fetched page, with its citation when the
    tool enables citations (the caller decides)."""
    document = fetched["content"]["content"]
    data = document["source"]["data"]
    line = data.split("\n")[1]
    start = data.index(line)
    return {
        "type": "text",
        "text": line,
        "citations": [
            {
                "type": "char_location",
                "cited_text": line,
                "document_index": document_index,
                "document_title": document["title"],
                "start_char_index": start,
                "end_char_index": start + len(line),
                "file_id": None,
            }
        ],
    }
