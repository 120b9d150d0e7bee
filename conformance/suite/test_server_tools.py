"""Server tools: web search, run by the API within the turn.

A search costs money on a live target ($10 per 1,000 searches, and its results are billed as
input tokens), so the searching tests run there only with ``server_tools_live``; the reference
server and cassette replay run them under ``server_tools``. ``api.expect`` runs the
``server-tool-results`` check (every server_tool_use answered in the message, cited urls among
the results, searches counted in usage) and ``citation-location``.
Not covered: web fetch, code execution and the other server tools.
"""

from __future__ import annotations

from typing import Any

import pytest

from conformance import catalog
from conformance.api import Api
from conformance.settings import Settings
from conformance.suite._data import blocks
from conformance.suite._live import require_live_toggle
from conformance.target import RunTarget

pytestmark = pytest.mark.feature("server_tools")

WEB_SEARCH = {"type": "web_search_20250305", "name": "web_search", "max_uses": 1}
PROMPT = "Search the web: who won the most recent Tour de France? Answer in one sentence."


@pytest.mark.parametrize("stream", [False, True], ids=["json", "stream"])
def test_web_search(
    api: Api, conformance_target: RunTarget, conformance_settings: Settings, stream: bool
) -> None:
    require_live_toggle(conformance_target, conformance_settings, "server_tools_live")
    ex = api.create_message(PROMPT, max_tokens=400, tools=[WEB_SEARCH], stream=stream)
    message = api.expect(ex)
    calls = blocks(message, "server_tool_use")
    assert calls and calls[0]["name"] == "web_search", f"no web search: {message['content']}"
    assert calls[0]["id"].startswith(catalog.ID_PREFIXES["server_tool_use"]), calls[0]
    assert isinstance(calls[0]["input"].get("query"), str), calls[0]
    results = [
        b for b in blocks(message, "web_search_tool_result") if b["tool_use_id"] == calls[0]["id"]
    ]
    assert results, f"no web_search_tool_result for {calls[0]['id']}"
    found: Any = results[0]["content"]
    assert isinstance(found, list) and found, f"the search failed or found nothing: {found}"
    for result in found:
        assert result["type"] == "web_search_result" and result["url"], result
        assert isinstance(result["encrypted_content"], str), result
    assert message["usage"]["server_tool_use"]["web_search_requests"] >= 1, message["usage"]
    cites = [c for b in blocks(message, "text") for c in b.get("citations") or []]
    assert all(c["type"] == "web_search_result_location" for c in cites), cites
    if stream:
        starts = [
            e.json["content_block"]["type"]
            for e in ex.events or []
            if e.type == "content_block_start"
        ]
        assert "web_search_tool_result" in starts, starts


@pytest.mark.feature("errors")
def test_allowed_and_blocked_domains_rejected(api: Api) -> None:
    """The docs: allowed_domains and blocked_domains cannot be used in the same request."""
    tool = {**WEB_SEARCH, "allowed_domains": ["example.com"], "blocked_domains": ["example.org"]}
    api.expect_error(api.create_message(PROMPT, max_tokens=16, tools=[tool]), 400)
