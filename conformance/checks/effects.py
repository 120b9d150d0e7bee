"""Checks that the request had its effect: what an answer must show of what was asked.

A proxy can answer with a perfectly shaped message that ignores part of the request: it routes
to another model, drops ``tool_choice``, empties a tool's input, or turns a precise 400 into
"Bad Request". No schema sees that; these checks compare the answer with the request the suite
sent (``Exchange.request_json``):

* ``model-echo``: the message names the requested model (or the dated id its alias resolves to);
* ``tool-choice``: a forced tool (``any`` / ``tool``) is called, ``none`` calls no tool;
* ``tool-input-schema``: the input of a ``strict`` tool validates against its ``input_schema``
  (the API guarantees it only for strict tools: recorded real answers hold non-strict inputs that
  fail their schema, so those are left to the suite's own tests, whose tool is trivial);
* ``error-message``: a 400 says what was wrong, not only an HTTP reason phrase.
"""

from __future__ import annotations

from typing import Any

import jsonschema

from conformance import catalog
from conformance.checks._registry import check, errors, json_body, success
from conformance.checks.common import finding
from conformance.checks.messages import final_message
from conformance.exchange import Exchange, Finding

MODEL_ECHO = "model-echo"
TOOL_CHOICE = "tool-choice"
TOOL_INPUT_SCHEMA = "tool-input-schema"
ERROR_MESSAGE = "error-message"

_MESSAGES = ("messages.create",)
#: Stop reasons with which a forced tool call may be missing: the output was cut or refused.
_CUT_SHORT = frozenset({"max_tokens", "refusal", "pause_turn", "model_context_window_exceeded"})
#: Messages that say nothing about the request: HTTP reason phrases and catch-all words.
GENERIC_MESSAGES = frozenset(
    {
        "bad request",
        "invalid request",
        "error",
        "an error occurred",
        "unknown error",
        "something went wrong",
        "internal server error",
        "internal error",
        "request failed",
        "unprocessable entity",
        "unprocessable content",
        "invalid_request_error",
        "invalid input",
        "validation error",
        "request entity too large",
        "payload too large",
    }
)
#: Statuses whose answer tells a client what to fix in its request.
_SPECIFIC_STATUSES = frozenset({400, 413, 422})


def _request(exchange: Exchange) -> dict[str, Any]:
    req = exchange.request_json
    return req if isinstance(req, dict) else {}


def _tool_uses(message: dict[str, Any]) -> list[tuple[int, dict[str, Any]]]:
    content = message.get("content")
    return [
        (i, b)
        for i, b in enumerate(content if isinstance(content, list) else [])
        if isinstance(b, dict) and b.get("type") == "tool_use"
    ]


def same_model(requested: str, answered: str) -> bool:
    """Whether ``answered`` is what a request for ``requested`` should be answered by: the same
    id, the model the catalog resolves both names to, or the dated snapshot of an alias the
    catalog does not know yet (``claude-x-5`` -> ``claude-x-5-20260101``)."""
    stem = requested.removesuffix("-latest")  # claude-3-opus-latest -> claude-3-opus-20240229
    if answered == requested or answered.startswith(stem + "-"):
        return True
    want, got = catalog.find_model(requested), catalog.find_model(answered)
    return want is not None and got is not None and want.id == got.id


@check(MODEL_ECHO, endpoints=_MESSAGES, applies=success)
def check_model_echo(exchange: Exchange) -> list[Finding]:
    """The message names the model that was asked for: a gateway that routes to another model
    answers with a valid message of the wrong model."""
    final = final_message(exchange)
    requested = _request(exchange).get("model")
    if final is None or not isinstance(requested, str):
        return []
    answered = final.message.get("model")
    if not isinstance(answered, str) or same_model(requested, answered):
        return []
    pointer = "/events/0/message/model" if exchange.events is not None else "/model"
    return [
        finding(
            MODEL_ECHO,
            f"the request asked for model {requested!r} but the answer is from {answered!r}",
            pointer=pointer,
            rule="model is the requested model or the id its alias resolves to",
            value=answered,
            request_id=exchange.request_id,
        )
    ]


@check(TOOL_CHOICE, endpoints=_MESSAGES, applies=success)
def check_tool_choice(exchange: Exchange) -> list[Finding]:
    """``tool_choice`` had its effect: ``any`` calls a tool, ``tool`` calls the named one,
    ``none`` calls none (unless the answer was cut short: max_tokens, a refusal)."""
    final = final_message(exchange)
    choice = _request(exchange).get("tool_choice")
    if final is None or not isinstance(choice, dict):
        return []
    kind, message = choice.get("type"), final.message
    calls = _tool_uses(message)
    names = [b.get("name") for _, b in calls]
    rid = exchange.request_id
    if kind == "none" and calls:
        index = calls[0][0]
        return [
            finding(
                TOOL_CHOICE,
                f'tool_choice is "none" but the answer calls {names[0]!r}',
                pointer=final.pointer("content", index),
                rule='tool_choice "none" calls no tool',
                value=names,
                request_id=rid,
            )
        ]
    if kind not in ("any", "tool") or message.get("stop_reason") in _CUT_SHORT:
        return []
    wanted = choice.get("name") if kind == "tool" else None
    if not calls or (wanted is not None and wanted not in names):
        what = f"tool {wanted!r}" if wanted is not None else "a tool"
        got = f"calls {names}" if calls else "calls no tool"
        return [
            finding(
                TOOL_CHOICE,
                f"tool_choice {kind!r} forces {what}, but the answer {got} "
                f"(stop_reason {message.get('stop_reason')!r})",
                pointer=final.pointer("content"),
                rule=f'tool_choice "{kind}" makes the model call {what}',
                value=names,
                request_id=rid,
            )
        ]
    return []


def _schema_errors(schema: Any, value: Any) -> list[str]:
    """Why ``value`` fails the JSON Schema ``schema`` (nothing when the schema is unusable)."""
    if not isinstance(schema, dict):
        return []
    try:
        validator_class = jsonschema.validators.validator_for(schema)
        validator_class.check_schema(schema)
    except jsonschema.SchemaError:
        return []  # the request's schema is the client's problem; the API judged it
    found = sorted(validator_class(schema).iter_errors(value), key=lambda e: list(e.path))
    return [f"/{'/'.join(str(p) for p in e.path)}: {e.message}" for e in found]


@check(TOOL_INPUT_SCHEMA, endpoints=_MESSAGES, applies=success)
def check_tool_input_schema(exchange: Exchange) -> list[Finding]:
    """The input of a ``strict: true`` tool validates against its ``input_schema``.

    Only strict tools: the API guarantees nothing else, and recorded real answers hold
    non-strict inputs that fail their schema (a property under another name).
    """
    final = final_message(exchange)
    tools = _request(exchange).get("tools")
    if final is None or not isinstance(tools, list):
        return []
    by_name = {t.get("name"): t for t in tools if isinstance(t, dict)}
    out: list[Finding] = []
    for index, block in _tool_uses(final.message):
        tool = by_name.get(block.get("name"))
        if (
            tool is None
            or tool.get("strict") is not True
            or not isinstance(block.get("input"), dict)
        ):
            continue  # not guaranteed, or a non-object input (the schema reports that)
        problems = _schema_errors(tool.get("input_schema"), block["input"])
        if problems:
            out.append(
                finding(
                    TOOL_INPUT_SCHEMA,
                    f"the input of tool {block.get('name')!r} does not match its "
                    f"input_schema: {'; '.join(problems[:3])}",
                    pointer=final.pointer("content", index, "input"),
                    rule="a tool_use input validates against the tool's input_schema",
                    value=block["input"],
                    request_id=exchange.request_id,
                )
            )
    return out


@check(ERROR_MESSAGE, applies=errors & json_body)
def check_error_message(exchange: Exchange) -> list[Finding]:
    """A 400 (or 413, 422) says what is wrong with the request, not only "Bad Request": a
    gateway that replaces the API's message leaves the client nothing to fix."""
    if exchange.status not in _SPECIFIC_STATUSES:
        return []
    err = exchange.json.get("error")
    message = err.get("message") if isinstance(err, dict) else None
    if not isinstance(message, str) or not message.strip():
        return []  # error-envelope reports a missing or empty message
    if message.strip().rstrip(".!").lower() not in GENERIC_MESSAGES:
        return []
    return [
        finding(
            ERROR_MESSAGE,
            f"the HTTP {exchange.status} error says only {message!r}, "
            "which names no field and no reason",
            pointer="/error/message",
            rule="an invalid-request error message says what is wrong",
            value=message,
            request_id=exchange.request_id,
        )
    ]
