"""Routes of the experimental prompt tools: generate, improve and templatize a prompt.

A closed research preview behind ``anthropic-beta: prompt-tools-2025-04-02`` (the header comes from
``catalog.BETAS``). Answers are deterministic rewrites of the input, shaped like the real ones:
``{messages, system, usage: [{input_tokens, output_tokens}]}``; templatize adds
``variable_values`` and puts ``{{UPPER_CASE}}`` placeholders where the values were.
"""

from __future__ import annotations

import re
from typing import Any

from starlette.requests import Request

from conformance import catalog
from conformance.reference.auth import RequestContext, read_json
from conformance.reference.errors import invalid
from conformance.reference.routing import Answer, JsonAnswer, RouteSpec

BETA = next(b.header for b in catalog.BETAS if b.feature == "prompt_tools")
#: Values templatize turns into variables: double-quoted text, then numbers.
QUOTED = re.compile(r'"([^"\n]{1,200})"')
NUMBER = re.compile(r"(?<![\w.{])\d+(?:\.\d+)?(?![\w.}])")


def _tokens(*texts: str) -> int:
    """A rough token count (4 characters a token), enough for a plausible usage entry."""
    return max(1, sum(len(t) for t in texts) // 4)


def _require_beta(ctx: RequestContext) -> None:
    if BETA not in ctx.betas:
        raise invalid(
            f"the prompt tools are a closed research preview: send the header "
            f"anthropic-beta: {BETA}"
        )


def _text_messages(body: dict[str, Any]) -> list[dict[str, Any]]:
    """The input messages as ``[{role, content: [text blocks]}]``; 400 unless text-only."""
    raw = body.get("messages")
    if not isinstance(raw, list) or not raw:
        raise invalid("messages: Field required (a non-empty list)")
    out = []
    for i, message in enumerate(raw):
        if not isinstance(message, dict) or message.get("role") not in ("user", "assistant"):
            raise invalid(f"messages.{i}.role: Input should be 'user' or 'assistant'")
        content = message.get("content")
        if isinstance(content, str):
            content = [{"type": "text", "text": content}]
        if not isinstance(content, list) or not all(
            isinstance(b, dict) and b.get("type") == "text" and isinstance(b.get("text"), str)
            for b in content
        ):
            raise invalid(f"messages.{i}.content: the prompt tools accept text content only")
        out.append(
            {
                "role": message["role"],
                "content": [{"type": "text", "text": b["text"]} for b in content],
            }
        )
    return out


def _system(body: dict[str, Any]) -> str:
    system = body.get("system", "")
    if system is None:
        return ""
    if not isinstance(system, str):
        raise invalid("system: Input should be a valid string")
    return system


def _target_model(body: dict[str, Any]) -> None:
    target = body.get("target_model")
    if target is not None and not isinstance(target, str):
        raise invalid("target_model: Input should be a valid string")


def _answer(
    messages: list[dict[str, Any]], system: str, input_text: str, **extra: Any
) -> JsonAnswer:
    output = " ".join(b["text"] for m in messages for b in m["content"]) + system
    usage = [{"input_tokens": _tokens(input_text), "output_tokens": _tokens(output)}]
    return JsonAnswer({"messages": messages, "system": system, "usage": usage, **extra})


async def generate_prompt(request: Request, ctx: RequestContext) -> Answer:
    _require_beta(ctx)
    body = await read_json(request)
    task = body.get("task")
    if not isinstance(task, str) or not task.strip():
        raise invalid("task: Field required (a non-empty string)")
    _target_model(body)
    text = (
        f"You will be helping with the following task: {task.strip()}\n\n"
        "Here is the input to work on:\n<input>\n{{INPUT}}\n</input>\n\n"
        "Think about the task step by step, then write your answer inside <answer> tags."
    )
    return _answer([{"role": "user", "content": [{"type": "text", "text": text}]}], "", task)


async def improve_prompt(request: Request, ctx: RequestContext) -> Answer:
    _require_beta(ctx)
    body = await read_json(request)
    messages = _text_messages(body)
    system = _system(body)
    feedback = body.get("feedback")
    if feedback is not None and not isinstance(feedback, str):
        raise invalid("feedback: Input should be a valid string")
    _target_model(body)
    improved = []
    for m in messages:
        blocks = [
            {
                "type": "text",
                "text": (
                    "<instructions>\n" + b["text"].strip() + "\n</instructions>\n\n"
                    "Before answering, think it through inside <thinking> tags."
                    if m["role"] == "user"
                    else b["text"]
                ),
            }
            for b in m["content"]
        ]
        improved.append({"role": m["role"], "content": blocks})
    improved.append({"role": "assistant", "content": [{"type": "text", "text": "<thinking>"}]})
    better_system = (system.strip() + "\n" if system.strip() else "") + (
        "You are a careful expert. " + (feedback.strip() if feedback else "")
    ).strip()
    source = system + " ".join(b["text"] for m in messages for b in m["content"])
    return _answer(improved, better_system, source)


def templatize(
    messages: list[dict[str, Any]], system: str
) -> tuple[list[dict[str, Any]], str, dict[str, str]]:
    """Quoted values and numbers become ``{{NAME}}`` variables; the same value, the same name.

    With no such value in the user turns, the last user turn as a whole becomes
    ``{{USER_INPUT}}``, so the answer always has at least one variable.
    """
    values: dict[str, str] = {}
    names: dict[str, str] = {}

    def name_for(value: str, kind: str) -> str:
        if value not in names:
            names[value] = f"{kind}_{sum(1 for n in names.values() if n.startswith(kind)) + 1}"
            values[names[value]] = value
        return "{{" + names[value] + "}}"

    def rewrite(text: str) -> str:
        text = QUOTED.sub(lambda m: '"' + name_for(m.group(1), "QUOTED_TEXT") + '"', text)
        return NUMBER.sub(lambda m: name_for(m.group(0), "NUMBER"), text)

    out = [
        {
            "role": m["role"],
            "content": [
                {"type": "text", "text": rewrite(b["text"]) if m["role"] == "user" else b["text"]}
                for b in m["content"]
            ],
        }
        for m in messages
    ]
    if not values:
        for m in reversed(out):
            if m["role"] == "user":
                values["USER_INPUT"] = "\n".join(b["text"] for b in m["content"])
                m["content"] = [{"type": "text", "text": "{{USER_INPUT}}"}]
                break
    return out, system, values


async def templatize_prompt(request: Request, ctx: RequestContext) -> Answer:
    _require_beta(ctx)
    body = await read_json(request)
    messages = _text_messages(body)
    system = _system(body)
    templated, new_system, values = templatize(messages, system)
    source = system + " ".join(b["text"] for m in messages for b in m["content"])
    return _answer(templated, new_system, source, variable_values=values)


ROUTES: list[RouteSpec] = [
    RouteSpec("prompt_tools.generate", generate_prompt),
    RouteSpec("prompt_tools.improve", improve_prompt),
    RouteSpec("prompt_tools.templatize", templatize_prompt),
]
