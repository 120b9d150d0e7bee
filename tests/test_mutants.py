"""Mutants and the mutation score.

Two layers. Each mutant changes the reference server's answer the way its description says (a
probe request and a predicate per mutant, checked against the mutant app AND the faithful app, so
a predicate that is always true fails). Then the shipped suite, run against each mutant, fails
somewhere (killed) while it passes against the faithful server: one mutation score per session.
"""

from __future__ import annotations

import asyncio
import base64
import json
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette

import conformance.suite
from conformance import catalog, checks, cli, mutation, profiles
from conformance.checks.effects import same_model
from conformance.mutation import FAITHFUL, Failure, Outcome, Score
from conformance.reference import (
    DEFAULT_ADMIN_API_KEY,
    DEFAULT_API_KEY,
    MUTANTS,
    ReferenceConfig,
    create_app,
)
from conformance.reference.generator import count_input_tokens
from conformance.reference.wire import FORCE_STATUS_HEADER
from conformance.sse import parse_sse
from conformance.suite._data import pdf

README = Path(__file__).resolve().parent.parent / "README.md"
SUITE = Path(conformance.suite.__file__).resolve().parent
MODEL = catalog.DEFAULT_MODEL
TOOL = {
    "name": "get_weather",
    "description": "Weather of a city",
    "input_schema": {
        "type": "object",
        "properties": {"location": {"type": "string"}},
        "required": ["location"],
    },
}


@dataclass(frozen=True)
class Probe:
    """A request to send, and what must hold of the answer when the mutant is on (only then)."""

    method: str
    path: str
    body: Any = None
    headers: dict[str, str] | None = None
    key: bool = True


def _message(prompt: str = "Reply with exactly: hello", **extra: Any) -> dict[str, Any]:
    return {
        "model": MODEL,
        "max_tokens": 32,
        "messages": [{"role": "user", "content": prompt}],
        **extra,
    }


MSG = Probe("POST", "/v1/messages", _message())
STREAM = Probe("POST", "/v1/messages", _message(stream=True))
STOP = Probe(
    "POST",
    "/v1/messages",
    _message("Reply with exactly: one two three four five", stop_sequences=["four"]),
)
TOOL_CALL = _message(
    "Weather in Paris?",
    max_tokens=128,
    tools=[TOOL],
    tool_choice={"type": "tool", "name": "get_weather"},
)
TOOL_JSON = Probe("POST", "/v1/messages", TOOL_CALL)
TOOL_STREAM = Probe("POST", "/v1/messages", {**TOOL_CALL, "stream": True})
COUNT = Probe(
    "POST",
    "/v1/messages/count_tokens",
    {"model": MODEL, "messages": [{"role": "user", "content": "hello"}]},
)
PAGE = Probe("GET", "/v1/models?limit=3")
ALL_MODELS = Probe("GET", "/v1/models?limit=1000")
ALIAS = Probe("GET", "/v1/models/claude-haiku-4-5")
BAD_BODY = Probe("POST", "/v1/messages", {})
NO_KEY = Probe("POST", "/v1/messages", _message(), key=False)
UNKNOWN_MODEL = Probe("POST", "/v1/messages", {**_message(), "model": "claude-does-not-exist"})
BAD_VERSION = Probe("POST", "/v1/messages", _message(), headers={"anthropic-version": "1999-01-01"})
FORCED_429 = Probe("POST", "/v1/messages", _message(), headers={FORCE_STATUS_HEADER: "429"})
# Request-side mutants show only in the answer's values: billed tokens, the tool not called.
SYSTEM = _message(system="You are terse.")
HISTORY = {
    **_message(),
    "messages": [
        {"role": "user", "content": "Remember the word: kestrel."},
        {"role": "assistant", "content": "Noted."},
        {"role": "user", "content": "Reply with exactly: kestrel"},
    ],
}
PNG = "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAIAAACQd1PeAAAADElEQVR4nGP4z8AAAAMBAQDJ/pLvAAAAAElFTkSuQmCC"
IMAGE = {
    **_message(),
    "messages": [
        {
            "role": "user",
            "content": [
                {
                    "type": "image",
                    "source": {"type": "base64", "media_type": "image/png", "data": PNG},
                },
                {"type": "text", "text": "Reply with exactly: seen"},
            ],
        }
    ],
}
DOCUMENT = {
    **_message(),
    "messages": [
        {
            "role": "user",
            "content": [
                {
                    "type": "document",
                    "source": {
                        "type": "text",
                        "media_type": "text/plain",
                        "data": "A short document for the conformance suite.",
                    },
                },
                {"type": "text", "text": "Reply with exactly: read"},
            ],
        }
    ],
}
NO_TOOL = _message(
    "Do not use any tool.\nReply with exactly: none",
    max_tokens=128,
    tools=[TOOL],
    tool_choice={"type": "any"},
)
COUNT_ALL = {
    "model": MODEL,
    "system": "You count.",
    "tools": [TOOL],
    "messages": [{"role": "user", "content": "hello"}],
}
LONG_STREAM = Probe(
    "POST", "/v1/messages", _message("Reply with exactly: one two three four five", stream=True)
)

THINKING = {"type": "enabled", "budget_tokens": 1024}
THINK = Probe("POST", "/v1/messages", _message(max_tokens=2048, thinking=THINKING))
THINK_STREAM = Probe(
    "POST", "/v1/messages", _message(max_tokens=2048, thinking=THINKING, stream=True)
)
PARALLEL = Probe(
    "POST",
    "/v1/messages",
    _message(
        "Call get_weather and get_time for Paris.",
        max_tokens=256,
        tools=[TOOL, {**TOOL, "name": "get_time"}],
    ),
)
CITED = Probe(
    "POST",
    "/v1/messages",
    {
        **_message(),
        "messages": [
            {
                "role": "user",
                "content": [
                    {
                        "type": "document",
                        "source": {
                            "type": "text",
                            "media_type": "text/plain",
                            "data": "The sky is blue. Grass is green.",
                        },
                        "citations": {"enabled": True},
                    },
                    {"type": "text", "text": "What colour is the sky?"},
                ],
            }
        ],
    },
)
#: A prefix above the minimum cacheable length: the second of two such requests reads the cache.
CACHED = Probe(
    "POST",
    "/v1/messages",
    _message(
        system=[
            {
                "type": "text",
                "text": "w " * (catalog.min_cacheable_tokens(MODEL) + 50),
                "cache_control": {"type": "ephemeral"},
            }
        ]
    ),
)

CITED_STREAM = Probe("POST", "/v1/messages", {**CITED.body, "stream": True})
PDF_CITED = Probe(
    "POST",
    "/v1/messages",
    {
        **_message(),
        "messages": [
            {
                "role": "user",
                "content": [
                    {
                        "type": "document",
                        "source": {
                            "type": "base64",
                            "media_type": "application/pdf",
                            "data": base64.b64encode(pdf(["The sky is blue."])).decode(),
                        },
                        "citations": {"enabled": True},
                    },
                    {"type": "text", "text": "What colour is the sky?"},
                ],
            }
        ],
    },
)
PDF_CITED_STREAM = Probe("POST", "/v1/messages", {**PDF_CITED.body, "stream": True})
REFUSED = Probe("POST", "/v1/messages", _message(catalog.STOP_TRIGGERS["refusal"]))
REFUSED_STREAM = Probe("POST", "/v1/messages", {**REFUSED.body, "stream": True})
SEARCHED = Probe(
    "POST",
    "/v1/messages",
    _message(
        "Weather in Paris?",
        max_tokens=200,
        tools=[{"type": "web_search_20250305", "name": "web_search"}],
    ),
)
SEARCHED_STREAM = Probe("POST", "/v1/messages", {**SEARCHED.body, "stream": True})
FETCHED = Probe(
    "POST",
    "/v1/messages",
    _message(
        "Fetch https://example.com/ please.",
        max_tokens=200,
        tools=[{"type": "web_fetch_20250910", "name": "web_fetch"}],
    ),
)
FETCHED_STREAM = Probe("POST", "/v1/messages", {**FETCHED.body, "stream": True})
SEARCHED_TWICE = Probe(
    "POST",
    "/v1/messages",
    _message(
        "Search: who won in 2019? Who won in 2020?",
        max_tokens=300,
        tools=[{"type": "web_search_20250305", "name": "web_search", "max_uses": 1}],
    ),
)
SEARCHED_TWICE_STREAM = Probe("POST", "/v1/messages", {**SEARCHED_TWICE.body, "stream": True})
STRUCTURED = Probe(
    "POST",
    "/v1/messages",
    _message(
        "A dog called Rex, as JSON",
        output_config={
            "format": {
                "type": "json_schema",
                "schema": {
                    "type": "object",
                    "properties": {"name": {"type": "string"}},
                    "required": ["name"],
                },
            }
        },
    ),
)
STRUCTURED_STREAM = Probe("POST", "/v1/messages", {**STRUCTURED.body, "stream": True})
CACHED_STREAM = Probe("POST", "/v1/messages", {**CACHED.body, "stream": True})

Answer = httpx.Response
Check = Callable[[Answer], bool]


def names(r: Answer) -> list[str]:
    return [e.event for e in parse_sse(r.content)]


def events(r: Answer, name: str) -> list[dict[str, Any]]:
    return [e.json for e in parse_sse(r.content) if e.event == name]


def tool_block(r: Answer) -> dict[str, Any]:
    return next(b for b in r.json()["content"] if b["type"] == "tool_use")


def joined_tool_json(r: Answer) -> str:
    return "".join(
        e["delta"]["partial_json"]
        for e in events(r, "content_block_delta")
        if e["delta"]["type"] == "input_json_delta"
    )


def billed_as(body: dict[str, Any]) -> Check:
    """The answer bills exactly what ``body`` would be billed: the part the mutant drops."""
    wanted = count_input_tokens(body)
    return lambda r: r.json()["usage"]["input_tokens"] == wanted


def without(body: dict[str, Any], *keys: str) -> dict[str, Any]:
    return {k: v for k, v in body.items() if k not in keys}


def without_blocks(body: dict[str, Any], kind: str) -> dict[str, Any]:
    content = [b for b in body["messages"][0]["content"] if b["type"] != kind]
    return {**body, "messages": [{"role": "user", "content": content}]}


def counted(body: dict[str, Any]) -> dict[str, Any]:
    """A messages body as a count_tokens body: no max_tokens."""
    return {k: v for k, v in body.items() if k != "max_tokens"}


def counted_as(body: dict[str, Any]) -> Check:
    """The count_tokens answer counts exactly what ``body`` holds: the part the mutant drops."""
    wanted = count_input_tokens(body)
    return lambda r: r.json()["input_tokens"] == wanted


SYSTEM_BLOCKS = _message(system=[{"type": "text", "text": "You are terse and exact."}])


def text_deltas(r: Answer) -> str:
    return "".join(
        e["delta"]["text"]
        for e in events(r, "content_block_delta")
        if e["delta"]["type"] == "text_delta"
    )


def not_json(text: str) -> bool:
    try:
        json.loads(text)
    except ValueError:
        return True
    return False


#: mutant name -> (probe, what the mutant's answer shows and the faithful answer does not).
EXPECTED: dict[str, tuple[Probe, Check]] = {
    "usage-missing": (MSG, lambda r: "usage" not in r.json()),
    "stop-reason-null": (MSG, lambda r: r.json()["stop_reason"] is None),
    "wrong-id-prefix": (MSG, lambda r: r.json()["id"].startswith("chatcmpl-")),
    "stop-reason-openai": (MSG, lambda r: r.json()["stop_reason"] == "stop"),
    "stop-sequence-dropped": (
        STOP,
        lambda r: r.json()["stop_reason"] == "stop_sequence" and r.json()["stop_sequence"] is None,
    ),
    "output-tokens-string": (MSG, lambda r: isinstance(r.json()["usage"]["output_tokens"], str)),
    "content-not-blocks": (MSG, lambda r: isinstance(r.json()["content"], str)),
    "request-id-missing": (MSG, lambda r: "request-id" not in r.headers),
    "request-id-foreign": (MSG, lambda r: not r.headers["request-id"].startswith("req_")),
    "content-type-wrong": (MSG, lambda r: r.headers["content-type"].startswith("text/plain")),
    "sse-reordered": (
        STREAM,
        lambda r: (
            names(r).index("message_delta")
            < max(i for i, n in enumerate(names(r)) if n == "content_block_stop")
        ),
    ),
    "sse-no-message-stop": (STREAM, lambda r: "message_stop" not in names(r)),
    "sse-no-block-stop": (STREAM, lambda r: "content_block_stop" not in names(r)),
    "sse-index-shifted": (STREAM, lambda r: events(r, "content_block_start")[0]["index"] == 1),
    "sse-event-names-generic": (STREAM, lambda r: set(names(r)) == {"message"}),
    "sse-data-truncated": (
        STREAM,
        lambda r: any(
            e.json is None for e in parse_sse(r.content) if e.event == "content_block_delta"
        ),
    ),
    "sse-done-sentinel": (STREAM, lambda r: parse_sse(r.content)[-1].data == "[DONE]"),
    "sse-usage-zeroed": (
        STREAM,
        lambda r: events(r, "message_delta")[-1]["usage"]["output_tokens"] == 0,
    ),
    "sse-content-type-json": (STREAM, lambda r: r.headers["content-type"] == "application/json"),
    "input-json-broken": (TOOL_STREAM, lambda r: not_json(joined_tool_json(r))),
    "tool-input-string": (TOOL_JSON, lambda r: isinstance(tool_block(r)["input"], str)),
    "tool-id-prefix": (TOOL_JSON, lambda r: tool_block(r)["id"].startswith("call_")),
    "tool-stop-end-turn": (TOOL_JSON, lambda r: r.json()["stop_reason"] == "end_turn"),
    "count-tokens-string": (COUNT, lambda r: isinstance(r.json()["input_tokens"], str)),
    "count-tokens-missing": (
        COUNT,
        lambda r: r.status_code == 404 and r.json()["error"]["type"] == "not_found_error",
    ),
    "models-pagination-broken": (PAGE, lambda r: r.json()["last_id"] != r.json()["data"][-1]["id"]),
    "models-first-id-wrong": (PAGE, lambda r: r.json()["first_id"] != r.json()["data"][0]["id"]),
    "models-has-more-stuck": (ALL_MODELS, lambda r: r.json()["has_more"] is True),
    "models-page-twice": (PAGE, lambda r: len(r.json()["data"]) == 6),
    "model-alias-unresolved": (ALIAS, lambda r: not r.json()["id"].startswith("claude-haiku")),
    "model-created-epoch": (ALIAS, lambda r: isinstance(r.json()["created_at"], int)),
    "error-envelope-foreign": (
        BAD_BODY,
        lambda r: "type" not in r.json() and "code" in r.json()["error"],
    ),
    "error-type-missing": (BAD_BODY, lambda r: r.status_code == 400 and "type" not in r.json()),
    "error-type-flattened": (
        NO_KEY,
        lambda r: r.status_code == 401 and r.json()["error"]["type"] == "invalid_request_error",
    ),
    "not-found-as-500": (
        UNKNOWN_MODEL,
        lambda r: r.status_code == 500 and r.json()["error"]["type"] == "api_error",
    ),
    "auth-error-403": (
        NO_KEY,
        lambda r: r.status_code == 403 and r.json()["error"]["type"] == "permission_error",
    ),
    "error-as-200": (BAD_BODY, lambda r: r.status_code == 200 and r.json()["type"] == "error"),
    "version-not-enforced": (
        BAD_VERSION,
        lambda r: r.status_code == 200 and r.json()["type"] == "message",
    ),
    # today's Messages features
    "cache-usage-dropped": (MSG, lambda r: "cache_read_input_tokens" not in r.json()["usage"]),
    "signature-delta-dropped": (
        THINK_STREAM,
        lambda r: (
            not any(
                e["delta"]["type"] == "signature_delta" for e in events(r, "content_block_delta")
            )
        ),
    ),
    "thinking-dropped": (THINK, lambda r: r.json()["content"][0]["type"] != "thinking"),
    "parallel-tools-merged": (
        PARALLEL,
        lambda r: [b["type"] for b in r.json()["content"]].count("tool_use") == 1,
    ),
    "citation-offsets-shifted": (
        CITED,
        lambda r: r.json()["content"][1]["citations"][0]["start_char_index"] == 1,
    ),
    "system-dropped": (Probe("POST", "/v1/messages", SYSTEM), billed_as(without(SYSTEM, "system"))),
    "history-truncated": (
        Probe("POST", "/v1/messages", HISTORY),
        billed_as({**HISTORY, "messages": HISTORY["messages"][-1:]}),
    ),
    "model-rewritten": (MSG, lambda r: not same_model(MODEL, r.json()["model"])),
    "tool-choice-dropped": (
        Probe("POST", "/v1/messages", NO_TOOL),
        lambda r: not any(b["type"] == "tool_use" for b in r.json()["content"]),
    ),
    "tool-input-emptied": (TOOL_JSON, lambda r: tool_block(r)["input"] == {"location": ""}),
    "images-dropped": (
        Probe("POST", "/v1/messages", IMAGE),
        billed_as(without_blocks(IMAGE, "image")),
    ),
    "documents-dropped": (
        Probe("POST", "/v1/messages", DOCUMENT),
        billed_as(without_blocks(DOCUMENT, "document")),
    ),
    "count-tokens-messages-only": (
        Probe("POST", "/v1/messages/count_tokens", COUNT_ALL),
        lambda r: (
            r.json()["input_tokens"] == count_input_tokens(without(COUNT_ALL, "system", "tools"))
        ),
    ),
    "sse-delta-duplicated": (STREAM, lambda r: text_deltas(r) == "hellohello"),
    "sse-text-truncated": (
        LONG_STREAM,
        lambda r: (
            text_deltas(r) != "one two three four five"
            and "one two three four five".startswith(text_deltas(r))
        ),
    ),
    "sse-input-tokens-estimated": (
        STREAM,
        lambda r: (
            events(r, "message_start")[0]["message"]["usage"]["input_tokens"]
            != count_input_tokens(_message())
        ),
    ),
    "rate-limit-as-500": (
        FORCED_429,
        lambda r: r.status_code == 500 and r.json()["error"]["type"] == "api_error",
    ),
    "error-message-generic": (BAD_BODY, lambda r: r.json()["error"]["message"] == "Bad Request"),
    "citation-pages-zero-based": (
        PDF_CITED,
        lambda r: r.json()["content"][1]["citations"][0]["start_page_number"] == 0,
    ),
    "newer-stops-as-end-turn": (REFUSED, lambda r: r.json()["stop_reason"] == "end_turn"),
    "usage-service-tier-dropped": (MSG, lambda r: "service_tier" not in r.json()["usage"]),
    "server-tool-usage-dropped": (SEARCHED, lambda r: "server_tool_use" not in r.json()["usage"]),
    "web-fetch-uncounted": (
        FETCHED,
        lambda r: r.json()["usage"]["server_tool_use"]["web_fetch_requests"] == 0,
    ),
    "search-error-as-no-results": (
        SEARCHED_TWICE,
        lambda r: r.json()["content"][3]["content"] == [],
    ),
    "structured-json-fenced": (
        STRUCTURED,
        lambda r: r.json()["content"][0]["text"].startswith("```json"),
    ),
    # count_tokens across features: each probe counts a request holding the feature
    "count-tokens-images-dropped": (
        Probe("POST", "/v1/messages/count_tokens", counted(IMAGE)),
        counted_as(without_blocks(counted(IMAGE), "image")),
    ),
    "count-tokens-documents-dropped": (
        Probe("POST", "/v1/messages/count_tokens", counted(DOCUMENT)),
        counted_as(without_blocks(counted(DOCUMENT), "document")),
    ),
    "count-tokens-thinking-dropped": (
        Probe("POST", "/v1/messages/count_tokens", counted(_message(thinking=THINKING))),
        counted_as(counted(_message())),
    ),
    "count-tokens-system-blocks-dropped": (
        Probe("POST", "/v1/messages/count_tokens", counted(SYSTEM_BLOCKS)),
        counted_as(counted(_message())),
    ),
    "count-tokens-tool-schemas-dropped": (
        Probe("POST", "/v1/messages/count_tokens", counted(TOOL_CALL)),
        counted_as(
            {
                **counted(TOOL_CALL),
                "tools": [{"name": TOOL["name"], "input_schema": {"type": "object"}}],
            }
        ),
    ),
}


def send(app: Starlette, probe: Probe) -> Answer:
    headers = {"anthropic-version": catalog.DEFAULT_API_VERSION, **(probe.headers or {})}
    if probe.key:
        headers["x-api-key"] = DEFAULT_API_KEY

    async def go() -> Answer:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://reference") as c:
            return await c.request(probe.method, probe.path, json=probe.body, headers=headers)

    return asyncio.run(go())


# --- the mutants themselves -----------------------------------------------------------------------


def test_enough_mutants_covering_every_family() -> None:
    assert len(MUTANTS) >= 25
    families = {m.family for m in MUTANTS.values()}
    assert {"messages", "count_tokens", "models", "common"} <= families
    assert {m.feature for m in MUTANTS.values()} >= {
        "messages",
        "streaming",
        "tools",
        "errors",
        "count_tokens",
        "models",
    }


@pytest.mark.parametrize("mutant", MUTANTS.values(), ids=lambda m: m.name)
def test_mutant_is_well_formed(mutant: Any) -> None:
    assert mutant.description and mutant.family
    assert any((mutant.json, mutant.sse, mutant.headers, mutant.wire, mutant.raw, mutant.request))
    assert all(catalog.find_feature(f) for f in mutant.features), mutant.features


def _suite_test_exists(name: str) -> bool:
    module, _, function = name.partition("::")
    path = SUITE / module
    return path.is_file() and f"def {function}(" in path.read_text()


@pytest.mark.parametrize("mutant", MUTANTS.values(), ids=lambda m: m.name)
def test_mutant_declares_what_catches_it(mutant: Any) -> None:
    """``caught_by`` names registered checks or suite tests that exist: a typo there would make
    the score's "caught as declared" assertion meaningless."""
    assert mutant.caught_by, f"{mutant.name}: declare caught_by (checks or suite tests)"
    unknown = [
        n for n in mutant.caught_by if checks.lookup(n) is None and not _suite_test_exists(n)
    ]
    assert not unknown, f"{mutant.name}: no check or suite test named {unknown}"


def test_every_mutant_has_a_probe() -> None:
    assert set(EXPECTED) <= set(MUTANTS), "a probe for a mutant that no longer exists"
    missing = [name for name in MUTANTS if name not in EXPECTED and name not in FAMILY_PROBES]
    assert not missing, f"mutants without a unit test: {missing}"


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_mutant_changes_the_answer(name: str) -> None:
    probe, shows = EXPECTED[name]
    assert shows(send(create_app(ReferenceConfig(mutants=(name,))), probe)), (
        f"{name}: the answer does not show '{MUTANTS[name].description}'"
    )
    assert not shows(send(create_app(), probe)), f"{name}: the faithful answer shows it too"


def _tool_start(r: Answer) -> dict[str, Any]:
    return next(
        e["content_block"]
        for e in events(r, "content_block_start")
        if e["content_block"]["type"] == "tool_use"
    )


#: The streamed half of the mutants that break a JSON answer and a stream alike.
STREAMED: dict[str, tuple[Probe, Check]] = {
    "usage-missing": (
        STREAM,
        lambda r: (
            "usage" not in events(r, "message_start")[0]["message"]
            and all("usage" not in e for e in events(r, "message_delta"))
        ),
    ),
    "wrong-id-prefix": (
        STREAM,
        lambda r: events(r, "message_start")[0]["message"]["id"].startswith("chatcmpl-"),
    ),
    "stop-reason-openai": (
        STREAM,
        lambda r: events(r, "message_delta")[-1]["delta"]["stop_reason"] == "stop",
    ),
    "tool-id-prefix": (TOOL_STREAM, lambda r: _tool_start(r)["id"].startswith("call_")),
    "tool-stop-end-turn": (
        TOOL_STREAM,
        lambda r: events(r, "message_delta")[-1]["delta"]["stop_reason"] == "end_turn",
    ),
    "cache-usage-dropped": (
        STREAM,
        lambda r: (
            "cache_read_input_tokens" not in events(r, "message_start")[0]["message"]["usage"]
        ),
    ),
    "citation-offsets-shifted": (
        CITED_STREAM,
        lambda r: (
            [
                e["delta"]["citation"]["start_char_index"]
                for e in events(r, "content_block_delta")
                if e["delta"]["type"] == "citations_delta"
            ][:1]
            == [1]
        ),
    ),
    "cache-read-as-input": (
        CACHED_STREAM,
        lambda r: events(r, "message_start")[0]["message"]["usage"]["cache_read_input_tokens"] == 0,
    ),
    "tool-input-emptied": (
        TOOL_STREAM,
        lambda r: json.loads(joined_tool_json(r)) == {"location": ""},
    ),
    "citation-pages-zero-based": (
        PDF_CITED_STREAM,
        lambda r: (
            [
                e["delta"]["citation"]["start_page_number"]
                for e in events(r, "content_block_delta")
                if e["delta"]["type"] == "citations_delta"
            ]
            == [0]
        ),
    ),
    "newer-stops-as-end-turn": (
        REFUSED_STREAM,
        lambda r: events(r, "message_delta")[-1]["delta"]["stop_reason"] == "end_turn",
    ),
    "usage-service-tier-dropped": (
        STREAM,
        lambda r: "service_tier" not in events(r, "message_start")[0]["message"]["usage"],
    ),
    "server-tool-usage-dropped": (
        SEARCHED_STREAM,
        lambda r: all("server_tool_use" not in e["usage"] for e in events(r, "message_delta")),
    ),
    "web-fetch-uncounted": (
        FETCHED_STREAM,
        lambda r: (
            events(r, "message_delta")[-1]["usage"]["server_tool_use"]["web_fetch_requests"] == 0
        ),
    ),
    "search-error-as-no-results": (
        SEARCHED_TWICE_STREAM,
        lambda r: events(r, "content_block_start")[3]["content_block"]["content"] == [],
    ),
    "structured-json-fenced": (
        STRUCTURED_STREAM,
        lambda r: "".join(e["delta"]["text"] for e in events(r, "content_block_delta")).startswith(
            "```json"
        ),
    ),
}


def test_every_two_sided_mutant_has_a_streamed_probe() -> None:
    both = {m.name for m in MUTANTS.values() if m.json is not None and m.sse is not None}
    assert both == set(STREAMED)


@pytest.mark.parametrize("name", sorted(STREAMED))
def test_mutant_changes_the_stream_too(name: str) -> None:
    probe, shows = STREAMED[name]
    # a probe whose answer depends on an earlier request (a cache read) is sent twice
    times = 2 if probe is CACHED_STREAM else 1
    mutant, faithful = create_app(ReferenceConfig(mutants=(name,))), create_app()
    for _ in range(times - 1):
        send(mutant, probe), send(faithful, probe)
    assert shows(send(mutant, probe)), (
        f"{name}: the stream does not show '{MUTANTS[name].description}'"
    )
    assert not shows(send(faithful, probe)), f"{name}: the faithful stream shows it too"


# --- mutants of the stateful families: a short flow per probe ------------------------------------

Flow = Callable[[httpx.AsyncClient], Awaitable[Answer]]
FILES_BETA = {"anthropic-beta": "files-api-2025-04-14"}
BATCH = {"requests": [{"custom_id": "first", "params": _message()}]}


async def _batch(client: httpx.AsyncClient) -> str:
    created = await client.post("/v1/messages/batches", json=BATCH)
    return str(created.json()["id"])


async def batch_created(client: httpx.AsyncClient) -> Answer:
    return await client.post("/v1/messages/batches", json=BATCH)


async def batch_ended(client: httpx.AsyncClient) -> Answer:
    return await client.get(f"/v1/messages/batches/{await _batch(client)}")


async def batch_results(client: httpx.AsyncClient) -> Answer:
    return await client.get(f"/v1/messages/batches/{await _batch(client)}/results")


async def file_upload(client: httpx.AsyncClient) -> Answer:
    return await client.post(
        "/v1/files",
        headers=FILES_BETA,
        files={"file": ("notes.txt", b"hello, conformance", "text/plain")},
    )


CODE_TOOLS = [{"type": "code_execution_20250825", "name": "code_execution"}]


async def _run(client: httpx.AsyncClient, command: str, **extra: Any) -> Answer:
    body = _message(f"Run `{command}`.", max_tokens=300, tools=CODE_TOOLS, **extra)
    return await client.post("/v1/messages", json=body)


async def container_reused(client: httpx.AsyncClient) -> Answer:
    first = await _run(client, "echo kept > /tmp/k.txt")
    return await _run(client, "cat /tmp/k.txt", container=first.json()["container"]["id"])


async def code_output_download(client: httpx.AsyncClient) -> Answer:
    wrote = await _run(client, "printf '%s' written > /tmp/w.txt")
    file_id = wrote.json()["content"][1]["content"]["content"][0]["file_id"]
    return await client.get(f"/v1/files/{file_id}/content", headers=FILES_BETA)


async def file_delete(client: httpx.AsyncClient) -> Answer:
    file_id = (await file_upload(client)).json()["id"]
    return await client.delete(f"/v1/files/{file_id}", headers=FILES_BETA)


ADMIN = {"x-api-key": DEFAULT_ADMIN_API_KEY}


async def users_list(client: httpx.AsyncClient) -> Answer:
    return await client.get("/v1/organizations/users", params={"limit": 1000}, headers=ADMIN)


async def api_keys_list(client: httpx.AsyncClient) -> Answer:
    return await client.get("/v1/organizations/api_keys", headers=ADMIN)


async def cost_report(client: httpx.AsyncClient) -> Answer:
    return await client.get(
        "/v1/organizations/cost_report",
        headers=ADMIN,
        params={"starting_at": "2026-02-27T00:00:00Z", "ending_at": "2026-03-02T00:00:00Z"},
    )


def cost_amounts(r: Answer) -> list[Any]:
    return [row["amount"] for bucket in r.json()["data"] for row in bucket["results"]]


async def cache_read(client: httpx.AsyncClient) -> Answer:
    await client.post("/v1/messages", json=CACHED.body)
    return await client.post("/v1/messages", json=CACHED.body)


#: Mutants of the batches, files and admin families: a flow instead of one request.
FAMILY_PROBES: dict[str, tuple[Flow, Check]] = {
    "cache-read-as-input": (
        cache_read,
        lambda r: r.json()["usage"]["cache_read_input_tokens"] == 0,
    ),
    "batch-counts-stale": (
        batch_ended,
        lambda r: (
            r.json()["processing_status"] == "ended"
            and r.json()["request_counts"]["processing"] == 1
        ),
    ),
    "batch-id-prefix": (batch_created, lambda r: r.json()["id"].startswith("batch_")),
    "batch-results-no-custom-id": (
        batch_results,
        lambda r: all("custom_id" not in json.loads(line) for line in r.text.splitlines()),
    ),
    "file-size-wrong": (
        file_upload,
        lambda r: r.json()["size_bytes"] != len(b"hello, conformance"),
    ),
    "file-id-prefix": (file_upload, lambda r: r.json()["id"].startswith("file-")),
    "file-delete-wrong-type": (file_delete, lambda r: r.json()["type"] == "file"),
    "file-delete-204": (file_delete, lambda r: r.status_code == 204 and r.content == b""),
    "file-mime-octet-stream": (
        file_upload,
        lambda r: r.json()["mime_type"] == "application/octet-stream",
    ),
    "admin-has-more-stuck": (users_list, lambda r: r.json()["has_more"] is True),
    "api-key-secret-leaked": (
        api_keys_list,
        lambda r: bool(r.json()["data"]) and all("key" in k for k in r.json()["data"]),
    ),
    "cost-amount-number": (
        cost_report,
        lambda r: bool(cost_amounts(r)) and all(isinstance(a, float) for a in cost_amounts(r)),
    ),
    "container-dropped": (
        container_reused,
        lambda r: r.json()["content"][1]["content"]["return_code"] == 1,
    ),
    "code-output-file-newline": (code_output_download, lambda r: r.content == b"written\n"),
}


def run_flow(app: Starlette, flow: Flow) -> Answer:
    headers = {"anthropic-version": catalog.DEFAULT_API_VERSION, "x-api-key": DEFAULT_API_KEY}

    async def go() -> Answer:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(
            transport=transport, base_url="http://reference", headers=headers
        ) as client:
            return await flow(client)

    return asyncio.run(go())


def flow_app(*mutants: str) -> Starlette:
    return create_app(ReferenceConfig(mutants=mutants, batch_seconds=0.0))


@pytest.mark.parametrize("name", sorted(FAMILY_PROBES))
def test_family_mutant_changes_the_answer(name: str) -> None:
    flow, shows = FAMILY_PROBES[name]
    assert shows(run_flow(flow_app(name), flow)), (
        f"{name}: the answer does not show '{MUTANTS[name].description}'"
    )
    assert not shows(run_flow(flow_app(), flow)), f"{name}: the faithful answer shows it too"


# --- the runner's pieces --------------------------------------------------------------------------


def outcome(name: str, code: int, failures: int = 0, error: str | None = None) -> Outcome:
    fails = [
        Failure(f"test_x.py::test_{i}", "[sse-grammar] /events: broken", ("streaming",))
        for i in range(failures)
    ]
    return Outcome(name, ("streaming",), code, 3, fails, 0.1, error)


def test_outcome_verdicts_and_json_round_trip() -> None:
    assert outcome("sse-reordered", 1, 1).verdict == "killed"
    assert outcome("sse-reordered", 0).verdict == "survived"
    assert outcome("sse-reordered", 1, 0).verdict == "survived"  # exit 1 with no failed test
    assert outcome("sse-reordered", 4, error="usage").verdict == "error"
    assert outcome(FAITHFUL, 0).verdict == "passed" and outcome(FAITHFUL, 1, 1).verdict == "failed"
    original = outcome("sse-reordered", 1, 2)
    assert Outcome.from_json(json.loads(json.dumps(original.to_json()))) == original


def test_score_is_ok_only_when_all_killed_and_faithful_passes() -> None:
    good = Score(outcome(FAITHFUL, 0), [outcome("a", 1, 1), outcome("b", 1, 2)])
    assert good.ok and good.summary == "Mutation score: 2/2 killed"
    survivor = Score(outcome(FAITHFUL, 0), [outcome("a", 1, 1), outcome("b", 0)])
    assert not survivor.ok and survivor.survivors == ["b"]
    assert "b  SURVIVED" in mutation.format_text(survivor)
    broken_control = Score(outcome(FAITHFUL, 1, 1), [outcome("a", 1, 1)])
    assert not broken_control.ok
    assert "faithful server FAILED" in mutation.format_text(broken_control)


def test_buckets_spread_runs_and_keep_every_one() -> None:
    runs = [FAITHFUL, *MUTANTS]
    buckets = mutation._buckets(runs, 3)
    assert len(buckets) == 3 and buckets[0][0] == FAITHFUL
    assert sorted(n for b in buckets for n in b) == sorted(runs)
    assert mutation._buckets(["a"], 8) == [["a"]]


def test_run_args_restrict_to_the_mutants_features() -> None:
    args = mutation.pytest_args("input-json-broken", "2026-10-21")
    assert "--anthropic-features=tools,streaming" in args and "-x" in args
    assert "--anthropic-version=2026-10-21" in args and "--anthropic-max-retries=0" in args
    control = mutation.pytest_args(FAITHFUL)
    default = [f.name for f in catalog.FEATURES if f.default]
    assert f"--anthropic-features={','.join(default)}" in control


def test_unknown_mutant_is_refused(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["mutation-score", "--mutant", "no-such-bug"]) == 2
    assert "no-such-bug" in capsys.readouterr().err


def test_readme_lists_every_mutant() -> None:
    text = README.read_text()
    assert mutation.markdown_table() in text, (
        "README's mutant table is stale: paste conformance.mutation.markdown_table()"
    )
    assert mutation.markdown_profile_table() in text, (
        "README's profile mutant table is stale: paste "
        "conformance.mutation.markdown_profile_table()"
    )


def test_failure_matches_only_what_it_names() -> None:
    schema = Failure(
        "test_messages.py::test_basic_message[x]",
        "r",
        ("messages",),
        ("schema:message.json", "final-usage"),
    )
    assert schema.function == "test_messages.py::test_basic_message"
    assert schema.matches(["schema"]) and schema.matches(["final-usage"])
    assert schema.matches(["test_messages.py::test_basic_message"])
    assert not schema.matches(["stop-fields", "test_messages.py::test_multi_turn"])
    asserted = Failure("test_streaming.py::test_streaming_text", "AssertionError: x")
    assert not asserted.matches(["sse-grammar"])


def test_a_kill_by_something_undeclared_is_not_caught_as_declared() -> None:
    declared = MUTANTS["sse-reordered"].caught_by
    right = Outcome(
        "sse-reordered",
        ("streaming",),
        1,
        0,
        [Failure("test_streaming.py::test_streaming_text", "r", ("streaming",), declared)],
    )
    wrong = Outcome(
        "sse-reordered",
        ("streaming",),
        1,
        0,
        [Failure("test_streaming.py::test_streaming_text", "r", ("streaming",), ("content-type",))],
    )
    assert right.caught_as_declared and not wrong.caught_as_declared
    assert "not what it declares" in mutation.format_text(Score(outcome(FAITHFUL, 0), [wrong]))


# --- the score itself: once per session, in parallel ----------------------------------------------


@pytest.fixture(scope="module")
def score() -> Iterator[Score]:
    yield mutation.mutation_score()


def test_faithful_server_passes_the_suite(score: Score) -> None:
    f = score.faithful
    assert f is not None and f.clean, mutation.format_text(score)
    assert f.passed >= 25 and not f.failures
    assert all(c.clean and c.passed for c in score.profile_controls), mutation.format_text(score)


def _scored_profiles() -> dict[str, int]:
    """Each registered profile with mutants of its reference, and how many."""
    return {
        p.name: len(MUTANTS) if p.native else len(p.mutants)
        for p in profiles.available().values()
        if p.native or (p.reference is not None and p.mutants)
    }


def test_every_mutant_is_killed(score: Score) -> None:
    """The reference server's mutants and every profile's, each counted under its profile."""
    expected = _scored_profiles()
    assert "claude-code-api-service" in expected
    assert score.groups == {name: (n, n) for name, n in expected.items()}
    assert not score.survivors, mutation.format_text(score)
    assert score.ok
    assert {c.profile for c in score.profile_controls} == set(expected) - {"anthropic"}


def test_each_mutant_is_caught_by_what_it_declares(score: Score) -> None:
    """Each run enables only the mutant's features, so *some* test of the feature fails by
    construction; what can fail is whether the check or test the mutant names is the one that
    noticed (a bug meant for the system-prompt test, caught only by a schema, is a gap)."""
    wrong = [
        (o.name, o.failures[0].test, o.failures[0].checks, MUTANTS[o.name].caught_by)
        for o in score.mutants
        if o.profile == "anthropic" and o.killed and not o.caught_as_declared
    ]
    assert not wrong, wrong


def test_readme_states_the_real_score(score: Score) -> None:
    """README's score sentence is the one this session's score renders, not a hand-written
    claim: a survivor or a failing control makes it stale."""
    line = mutation.score_line(score)
    assert line in README.read_text(), f"README should say: {line}"


def test_cli_prints_the_score_and_exits_by_it(
    score: Score, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    seen: list[Any] = []

    def fake(names: Any, *, jobs: Any, api_version: Any, profiles: Any) -> Score:
        seen.append((names, jobs, api_version))
        return score

    monkeypatch.setattr(mutation, "mutation_score", fake)
    assert cli.main(["mutation-score", "--format", "json", "--jobs", "2"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert seen == [(None, 2, None)]
    total = sum(_scored_profiles().values())
    assert data["score"] == {"killed": total, "total": total, "ok": True}
    assert data["faithful"]["verdict"] == "passed"
    verdicts = {m["name"]: m["verdict"] for m in data["mutants"]}
    assert {n: v for n, v in verdicts.items() if ":" not in n} == dict.fromkeys(MUTANTS, "killed")
    assert verdicts["claude-code-api-service:cost-rounded"] == "killed"
    assert {c["name"]: c["verdict"] for c in data["controls"]}[
        "claude-code-api-service:faithful"
    ] == "passed"
    assert cli.main(["mutation-score", "--mutant", "sse-reordered"]) == 0
    text = capsys.readouterr().out
    assert seen[-1][0] == ["sse-reordered"]
    assert "sse-reordered" in text and "killed" in text and score.summary in text

    survivor = Score(score.faithful, [outcome("sse-reordered", 0)])
    monkeypatch.setattr(mutation, "mutation_score", lambda *a, **k: survivor)
    assert cli.main(["mutation-score"]) == 1
    assert "SURVIVED" in capsys.readouterr().out
