"""Routes of the messages family: POST /v1/messages (JSON and SSE) and count_tokens.

Validation mirrors the real API's messages (``field.path: reason``, pydantic style) closely
enough that the suite's error tests pass here and on the live API alike. Generation is delegated
to ``generator``; this module wraps the reply into a Message and, for streams, into the exact
event sequence the API sends, so folding the stream gives back the JSON message.
"""

from __future__ import annotations

import base64
import binascii
import copy
import json
import mimetypes
import re
from datetime import UTC, timedelta
from typing import Any

from starlette.requests import Request

from conformance import catalog
from conformance.reference import generator
from conformance.reference.admin import REFERENCE_NOW
from conformance.reference.auth import RequestContext, read_json
from conformance.reference.errors import ApiError, invalid
from conformance.reference.features import (
    caching,
    citations,
    code_execution,
    context,
    server_tools,
    structured,
    thinking,
)
from conformance.reference.files import STORE as FILE_STORE
from conformance.reference.files import StoredFile
from conformance.reference.routing import Answer, Event, JsonAnswer, RouteSpec, StreamAnswer

#: Top-level request fields each endpoint accepts (api-contract.md §2 and §4).
_COMMON_FIELDS = frozenset(
    {
        "model",
        "messages",
        "system",
        "tools",
        "tool_choice",
        "thinking",
        "cache_control",
        "output_config",
        "speed",
        "workspace_id",
        "user_profile_id",
        "mcp_servers",
        "context_management",
        "output_format",
    }
)
CREATE_FIELDS = _COMMON_FIELDS | frozenset(
    {
        "max_tokens",
        "stop_sequences",
        "stream",
        "metadata",
        "service_tier",
        "container",
        "inference_geo",
        "diagnostics",
        "temperature",
        "top_p",
        "top_k",
    }
)
COUNT_FIELDS = _COMMON_FIELDS
CONTEXT_MANAGEMENT_BETA = next(b.header for b in catalog.BETAS if b.feature == "context_management")

#: media_type -> magic prefixes its bytes must start with.
IMAGE_MAGIC: dict[str, tuple[bytes, ...]] = {
    "image/png": (b"\x89PNG\r\n\x1a\n",),
    "image/jpeg": (b"\xff\xd8\xff",),
    "image/gif": (b"GIF87a", b"GIF89a"),
    "image/webp": (b"RIFF",),
}
BLOCK_TYPES = (
    "text",
    "image",
    "document",
    "search_result",
    "tool_use",
    "tool_result",
    "thinking",
    "redacted_thinking",
    "server_tool_use",
    "web_search_tool_result",
    "web_fetch_tool_result",
    "code_execution_tool_result",
    "bash_code_execution_tool_result",
    "text_editor_code_execution_tool_result",
    "tool_search_tool_result",
    "container_upload",
    "mcp_tool_use",
    "mcp_tool_result",
)
TOOL_CHOICES = ("auto", "any", "tool", "none")
TOOL_NAME = re.compile(r"^[a-zA-Z0-9_-]{1,128}$")


# --- small typed checks ---------------------------------------------------------------------------


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _string(value: Any, path: str) -> str:
    if not isinstance(value, str):
        raise invalid(f"{path}: Input should be a valid string")
    return value


def _object(value: Any, path: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise invalid(f"{path}: Input should be a valid dictionary")
    return value


def _list(value: Any, path: str) -> list[Any]:
    if not isinstance(value, list):
        raise invalid(f"{path}: Input should be a valid list")
    return value


def _required(obj: dict[str, Any], key: str, path: str) -> Any:
    if key not in obj:
        raise invalid(f"{path}: Field required")
    return obj[key]


def _range(value: Any, path: str, low: float, high: float | None, integer: bool = False) -> None:
    if not (_is_int(value) if integer else _is_number(value)):
        kind = "integer" if integer else "number"
        raise invalid(f"{path}: Input should be a valid {kind}")
    if value < low:
        raise invalid(f"{path}: Input should be greater than or equal to {low:g}")
    if high is not None and value > high:
        raise invalid(f"{path}: Input should be less than or equal to {high:g}")


# --- content blocks -------------------------------------------------------------------------------


def _check_file_source(source: dict[str, Any], path: str, ctx: RequestContext) -> None:
    """A ``{"type": "file"}`` source: the Files beta is required where Files is a beta, and the
    file must exist. The real API's answer for an unknown id is not documented; 400
    invalid_request_error naming the file is our guess (the suite accepts 400 or 404)."""
    file_id = _string(
        _required(source, "file_id", f"{path}.source.file.file_id"), f"{path}.source.file.file_id"
    )
    missing = [b for b in catalog.betas_for(["files"], ctx.version) if b not in ctx.betas]
    if missing:
        raise invalid(
            f"{path}.source.file: file sources are a Files API beta under "
            f"anthropic-version {ctx.version}: send the header anthropic-beta: "
            f"{', '.join(missing)}"
        )
    if file_id not in ctx.state.store(FILE_STORE):
        raise invalid(f"{path}.source.file.file_id: File not found: {file_id}")


def _check_image_source(source: Any, path: str, ctx: RequestContext) -> None:
    source = _object(source, f"{path}.source")
    kind = source.get("type")
    if kind == "base64":
        media = source.get("media_type")
        if media not in IMAGE_MAGIC:
            allowed = ", ".join(f"'{m}'" for m in IMAGE_MAGIC)
            raise invalid(f"{path}.source.base64.media_type: Input should be {allowed}")
        data = _string(
            _required(source, "data", f"{path}.source.base64.data"), f"{path}.source.base64.data"
        )
        try:
            raw = base64.b64decode(data, validate=True)
        except (binascii.Error, ValueError) as exc:
            raise invalid(f"{path}.source.base64.data: The image data is not valid base64") from exc
        if not raw.startswith(IMAGE_MAGIC[str(media)]) or (
            media == "image/webp" and raw[8:12] != b"WEBP"
        ):
            raise invalid(
                f"{path}.source.base64.data: Image does not match the provided media type {media}"
            )
    elif kind == "url":
        _string(_required(source, "url", f"{path}.source.url.url"), f"{path}.source.url.url")
    elif kind == "file":
        _check_file_source(source, path, ctx)
    else:
        raise invalid(
            f"{path}.source.type: Input tag '{kind}' found using 'type' does not match "
            "any of the expected tags: 'base64', 'url', 'file'"
        )


def _check_block(block: Any, path: str, role: str, ctx: RequestContext) -> None:  # noqa: C901
    # (one flat branch per request block type reads as the grammar; a table would scatter it)
    block = _object(block, path)
    kind = block.get("type")
    if kind not in BLOCK_TYPES:
        tags = ", ".join(f"'{t}'" for t in BLOCK_TYPES)
        raise invalid(
            f"{path}.type: Input tag '{kind}' found using 'type' does not match any "
            f"of the expected tags: {tags}"
        )
    here = f"{path}.{kind}"
    if kind == "text":
        text = _string(_required(block, "text", f"{here}.text"), f"{here}.text")
        if not text and role == "user":
            raise invalid("messages: text content blocks must be non-empty")
        if ctx.version == catalog.VERSION_2026 and role == "user" and block.get("citations"):
            raise invalid(f"{here}.citations: citations are not allowed in user text blocks")
    elif kind == "image":
        _check_image_source(_required(block, "source", f"{here}.source"), here, ctx)
    elif kind == "document":
        if ctx.version == catalog.VERSION_2026 and role == "assistant":
            raise invalid(f"{path}: document blocks are not allowed in assistant messages")
        source = _object(_required(block, "source", f"{here}.source"), f"{here}.source")
        citations.check_document(block, here)
        if source.get("type") == "file":
            _check_file_source(source, here, ctx)
    elif kind == "search_result":
        citations.check_search_result(block, here)
    elif kind == "tool_use":
        _string(_required(block, "id", f"{here}.id"), f"{here}.id")
        _string(_required(block, "name", f"{here}.name"), f"{here}.name")
        _object(_required(block, "input", f"{here}.input"), f"{here}.input")
    elif kind == "tool_result":
        _string(_required(block, "tool_use_id", f"{here}.tool_use_id"), f"{here}.tool_use_id")
        content = block.get("content", "")
        if isinstance(content, list):
            for k, inner in enumerate(content):
                _check_block(inner, f"{here}.content.{k}", role, ctx)
        elif not isinstance(content, str):
            raise invalid(f"{here}.content: Input should be a valid string or list")
        if "is_error" in block and not isinstance(block["is_error"], bool):
            raise invalid(f"{here}.is_error: Input should be a valid boolean")
    elif kind == "thinking":
        _string(_required(block, "thinking", f"{here}.thinking"), f"{here}.thinking")
        _string(_required(block, "signature", f"{here}.signature"), f"{here}.signature")
        thinking.check_passed_back(block, path, ctx.config.seed)
    elif kind == "redacted_thinking":
        _string(_required(block, "data", f"{here}.data"), f"{here}.data")
        thinking.check_passed_back(block, path, ctx.config.seed)


def _check_messages(body: dict[str, Any], ctx: RequestContext) -> None:
    messages = _list(_required(body, "messages", "messages"), "messages")
    if not messages:
        raise invalid("messages: at least one message is required")
    for i, message in enumerate(messages):
        path = f"messages.{i}"
        message = _object(message, path)
        role = _required(message, "role", f"{path}.role")
        if role not in ("user", "assistant"):
            raise invalid(f"{path}.role: Input should be 'user' or 'assistant'")
        content = _required(message, "content", f"{path}.content")
        last_assistant = i == len(messages) - 1 and role == "assistant"
        if isinstance(content, str):
            if not content and not last_assistant:
                raise invalid(
                    f"{path}: all messages must have non-empty content except for "
                    "the optional final assistant message"
                )
        elif isinstance(content, list):
            if not content and not last_assistant:
                raise invalid(
                    f"{path}: all messages must have non-empty content except for "
                    "the optional final assistant message"
                )
            for j, block in enumerate(content):
                _check_block(block, f"{path}.content.{j}", role, ctx)
        else:
            raise invalid(f"{path}.content: Input should be a valid string or list")
        if last_assistant and _ends_with_whitespace(content):
            raise invalid("messages: final assistant content cannot end with trailing whitespace")
    _check_tool_pairing(messages)


def _ends_with_whitespace(content: Any) -> bool:
    """A prefill (final assistant text) the API refuses: its last text ends in whitespace."""
    if isinstance(content, list):
        content = content[-1].get("text") if content and content[-1].get("type") == "text" else ""
    return isinstance(content, str) and content != content.rstrip()


def _blocks_of(message: dict[str, Any], kind: str) -> list[dict[str, Any]]:
    content = message.get("content")
    if not isinstance(content, list):
        return []
    return [b for b in content if b.get("type") == kind]


def _check_tool_pairing(messages: list[dict[str, Any]]) -> None:
    """Every tool_use is answered in the next message; every tool_result answers the previous."""
    for i, message in enumerate(messages):
        if message["role"] == "assistant" and i + 1 < len(messages):
            asked = [b["id"] for b in _blocks_of(message, "tool_use")]
            answered = {b["tool_use_id"] for b in _blocks_of(messages[i + 1], "tool_result")}
            missing = [t for t in asked if t not in answered]
            if missing:
                raise invalid(
                    f"messages.{i + 1}: `tool_use` ids were found without `tool_result` blocks "
                    f"immediately after: {', '.join(missing)}. Each `tool_use` block must have "
                    "a corresponding `tool_result` block in the next message."
                )
        if message["role"] == "user":
            prev = messages[i - 1] if i > 0 and messages[i - 1]["role"] == "assistant" else {}
            asked_ids = {b["id"] for b in _blocks_of(prev, "tool_use")} if prev else set()
            content = message["content"] if isinstance(message["content"], list) else []
            for j, block in enumerate(content):
                if block.get("type") == "tool_result" and block["tool_use_id"] not in asked_ids:
                    raise invalid(
                        f"messages.{i}.content.{j}: unexpected `tool_use_id` found in "
                        f"`tool_result` blocks: {block['tool_use_id']}. Each `tool_result` block "
                        "must have a corresponding `tool_use` block in the previous message."
                    )


# --- other parameters -----------------------------------------------------------------------------


def _check_system(system: Any) -> None:
    if isinstance(system, str):
        return
    for i, block in enumerate(_list(system, "system")):
        block = _object(block, f"system.{i}")
        if block.get("type") != "text":
            raise invalid(f"system.{i}.type: Input should be 'text'")
        _string(_required(block, "text", f"system.{i}.text"), f"system.{i}.text")


def _check_tools(body: dict[str, Any]) -> list[str]:
    """Validates tools and tool_choice; returns the custom tool names."""
    names: list[str] = []
    for i, tool in enumerate(_list(body.get("tools", []), "tools")):
        tool = _object(tool, f"tools.{i}")
        kind = tool.get("type")
        if kind not in (None, "custom"):
            _string(kind, f"tools.{i}.type")  # a server tool (features.server_tools runs some)
            server_tools.check_tool(tool, f"tools.{i}")
            continue
        path = f"tools.{i}.custom"
        name = _string(_required(tool, "name", f"{path}.name"), f"{path}.name")
        if not TOOL_NAME.match(name):
            raise invalid(f"{path}.name: String should match pattern '{TOOL_NAME.pattern}'")
        if "description" in tool:
            _string(tool["description"], f"{path}.description")
        schema = _object(
            _required(tool, "input_schema", f"{path}.input_schema"), f"{path}.input_schema"
        )
        if schema.get("type") != "object":
            raise invalid(f"{path}.input_schema.type: Input should be 'object'")
        if "strict" in tool and not isinstance(tool["strict"], bool):
            raise invalid(f"{path}.strict: Input should be a valid boolean")
        if name in names:
            raise invalid("tools: Tool names must be unique.")
        names.append(name)
    if "tool_choice" in body:
        choice = _object(body["tool_choice"], "tool_choice")
        kind = choice.get("type")
        if kind not in TOOL_CHOICES:
            tags = ", ".join(f"'{t}'" for t in TOOL_CHOICES)
            raise invalid(
                f"tool_choice.type: Input tag '{kind}' found using 'type' does not "
                f"match any of the expected tags: {tags}"
            )
        parallel = choice.get("disable_parallel_tool_use")
        if parallel is not None and (kind == "none" or not isinstance(parallel, bool)):
            raise invalid(
                f"tool_choice.{kind}.disable_parallel_tool_use: "
                + (
                    "Extra inputs are not permitted"
                    if kind == "none"
                    else "Input should be a valid boolean"
                )
            )
        if kind != "none" and not body.get("tools"):
            raise invalid("tool_choice: tool_choice may only be specified while providing tools.")
        if kind == "tool":
            name = _string(
                _required(choice, "name", "tool_choice.tool.name"), "tool_choice.tool.name"
            )
            if name not in names:
                raise invalid(f"tool_choice.tool.name: Tool '{name}' not found in provided tools")
    return names


def _check_thinking(body: dict[str, Any], count: bool) -> None:
    thinking = _object(body["thinking"], "thinking")
    kind = thinking.get("type")
    if kind == "enabled":
        budget = _required(thinking, "budget_tokens", "thinking.enabled.budget_tokens")
        _range(budget, "thinking.enabled.budget_tokens", 1024, None, integer=True)
        if (body.get("tool_choice") or {}).get("type") in ("any", "tool"):
            raise invalid("Thinking may not be enabled when tool_choice forces tool use.")
    elif kind not in ("disabled", "adaptive"):
        raise invalid(
            f"thinking.type: Input tag '{kind}' found using 'type' does not match "
            "any of the expected tags: 'enabled', 'disabled', 'adaptive'"
        )


def _check_sampling(body: dict[str, Any], ctx: RequestContext) -> None:
    for name in sorted(catalog.REMOVED_PARAMETERS.get(ctx.version, frozenset())):
        if name in body:
            raise invalid(
                f"{name}: Extra inputs are not permitted "
                f"(removed in anthropic-version {ctx.version})"
            )
    if "temperature" in body:
        _range(body["temperature"], "temperature", 0, 1)
    if "top_p" in body:
        _range(body["top_p"], "top_p", 0, 1)
    if "top_k" in body:
        _range(body["top_k"], "top_k", 0, None, integer=True)


def _check_create_only(body: dict[str, Any]) -> None:
    max_tokens = _required(body, "max_tokens", "max_tokens")
    _range(max_tokens, "max_tokens", 1, None, integer=True)
    if "stop_sequences" in body:
        for i, seq in enumerate(_list(body["stop_sequences"], "stop_sequences")):
            _string(seq, f"stop_sequences.{i}")
    if "stream" in body and not isinstance(body["stream"], bool):
        raise invalid("stream: Input should be a valid boolean")
    if "metadata" in body:
        metadata = _object(body["metadata"], "metadata")
        for key, value in metadata.items():
            if key != "user_id":
                raise invalid(f"metadata.{key}: Extra inputs are not permitted")
            if value is not None:
                _string(value, "metadata.user_id")
    if "service_tier" in body and body["service_tier"] not in ("auto", "standard_only"):
        raise invalid("service_tier: Input should be 'auto' or 'standard_only'")


def validate_request(body: dict[str, Any], ctx: RequestContext, *, count: bool) -> catalog.Model:
    """Check a messages (or count_tokens) body like the API does; returns the model it names."""
    allowed = COUNT_FIELDS if count else CREATE_FIELDS
    removed = catalog.REMOVED_PARAMETERS.get(ctx.version, frozenset())
    for key in body:
        if key not in allowed and key not in removed:
            raise invalid(f"{key}: Extra inputs are not permitted")
    if "context_management" in body and CONTEXT_MANAGEMENT_BETA not in ctx.betas:
        # Beta-only: without its anthropic-beta the API does not know the field (this is what
        # the suite's header test relies on to see that a proxy forwards anthropic-beta).
        raise invalid("context_management: Extra inputs are not permitted")
    name = _string(_required(body, "model", "model"), "model")
    if not count:
        _check_create_only(body)
    _check_messages(body, ctx)
    if "system" in body:
        _check_system(body["system"])
    _check_sampling(body, ctx)
    _check_tools(body)
    if "speed" in body and body["speed"] not in ("standard", "fast"):
        raise invalid("speed: Input should be 'standard' or 'fast'")
    if "thinking" in body:
        _check_thinking(body, count)
        thinking.check_request(body, count)
    caching.validate(body)
    structured.check_request(body, ctx.betas)
    context.check_request(body)
    if not count:
        code_execution.check_request(
            body, ctx.state.store(code_execution.STORE), ctx.state.store(FILE_STORE)
        )
    model = catalog.find_model(name)
    if model is None:
        raise ApiError(404, f"model: {name}")
    if not count and body["max_tokens"] > model.max_tokens:
        raise invalid(
            f"max_tokens: {body['max_tokens']} > {model.max_tokens}, which is the "
            f"maximum allowed number of output tokens for {model.id}"
        )
    return model


# --- answers --------------------------------------------------------------------------------------


def build_message(
    body: dict[str, Any], model: catalog.Model, ctx: RequestContext
) -> dict[str, Any]:
    """The Message the reference model answers ``body`` with."""
    state = ctx.state
    body, applied_edits = context.apply(body, generator.count_input_tokens)
    message_id = state.make_id(catalog.ID_PREFIXES["message"] + "01", ctx.serial)
    tool_prefix = catalog.ID_PREFIXES["tool_use"] + "01"
    sandbox = _sandbox(ctx, message_id)
    reply = generator.generate(  # the model reads Files API documents' content
        citations.resolve_files(body, state.store(FILE_STORE)),
        ctx.config.seed,
        lambda index: state.make_id(tool_prefix, message_id, index),
        sandbox,
    )
    cached = caching.apply(body, model, state.store(caching.STORE))
    usage = {
        "input_tokens": cached.input_tokens,
        "cache_creation_input_tokens": cached.created,
        "cache_read_input_tokens": cached.read,
        "cache_creation": {
            "ephemeral_5m_input_tokens": cached.created_5m,
            "ephemeral_1h_input_tokens": cached.created_1h,
        },
        "output_tokens": reply.output_tokens,
        "service_tier": "standard",
        "inference_geo": "not_available",
    }
    if reply.server_tool_use is not None:
        usage["server_tool_use"] = reply.server_tool_use
    extra: dict[str, Any] = (
        {} if applied_edits is None else {"context_management": {"applied_edits": applied_edits}}
    )
    if sandbox.used is not None:  # code ran in a container (features.code_execution)
        extra["container"] = {"id": sandbox.used.id, "expires_at": sandbox.used.expires_at}
    return {
        "id": message_id,
        "type": "message",
        "role": "assistant",
        "model": model.id,
        "content": reply.content,
        "stop_reason": reply.stop_reason,
        "stop_sequence": reply.stop_sequence,
        "stop_details": reply.stop_details,
        "usage": usage,
        **extra,
    }


def _sandbox(ctx: RequestContext, message_id: str) -> code_execution.Sandbox:
    """The server state a code execution turn of this request runs against."""
    state, files = ctx.state, ctx.state.store(FILE_STORE)
    made = iter(range(1_000_000))
    now = ctx.config.now or REFERENCE_NOW  # the reference clock: re-recordings do not differ

    def add_file(filename: str, content: bytes) -> str:
        file_id = state.make_id(catalog.ID_PREFIXES["file"] + "011C", message_id, next(made))
        kind = mimetypes.guess_type(filename)[0] or "application/octet-stream"
        # files the code writes are the API's own: downloadable, unlike uploads
        files[file_id] = StoredFile(file_id, filename, kind, content, now.timestamp(), True)
        return file_id

    def read_file(file_id: str) -> tuple[str, bytes] | None:
        found = files.get(file_id)
        return None if found is None else (found.filename, found.content)

    return code_execution.Sandbox(
        containers=state.store(code_execution.STORE),
        add_file=add_file,
        read_file=read_file,
        new_container_id=lambda: state.make_id(
            catalog.ID_PREFIXES["container"] + "011C", message_id
        ),
        now=now,
    )


def _text_chunks(text: str, words: int = 3) -> list[str]:
    """Small pieces of ``text`` (a few words each) that join back to it exactly."""
    pieces = re.findall(r"\S+\s*|\s+", text)
    return ["".join(pieces[i : i + words]) for i in range(0, len(pieces), words)]


def _json_chunks(value: Any, size: int = 12) -> list[str]:
    """The tool input as input_json_delta pieces: ``""`` first, as the API does."""
    raw = json.dumps(value, ensure_ascii=False)
    return ["", *(raw[i : i + size] for i in range(0, len(raw), size))]


def stream_events(message: dict[str, Any]) -> list[Event]:
    """The SSE events that stream ``message``; ``sse.accumulate`` folds them back into it."""
    start = copy.deepcopy(message)
    start.update(content=[], stop_reason=None, stop_sequence=None)
    start.pop("stop_details", None)
    start.pop("container", None)  # recorded streams: the container comes on message_delta
    start["usage"]["output_tokens"] = min(1, message["usage"]["output_tokens"])
    events: list[Event] = [("message_start", {"type": "message_start", "message": start})]
    for index, block in enumerate(message["content"]):
        if block["type"] in ("tool_use", "server_tool_use"):
            empty = {**block, "input": {}}
            deltas = [
                {"type": "input_json_delta", "partial_json": p}
                for p in _json_chunks(block["input"])
            ]
        elif block["type"] in ("redacted_thinking", *server_tools.SERVER_BLOCKS[1:]):
            empty, deltas = dict(block), []  # the whole block in its start event
        elif block["type"] == "thinking":
            empty = {**block, "thinking": "", "signature": ""}
            deltas = [
                {"type": "thinking_delta", "thinking": p} for p in _text_chunks(block["thinking"])
            ]
            deltas.append({"type": "signature_delta", "signature": block["signature"]})
        else:
            empty = {**block, "text": ""}
            deltas = [{"type": "text_delta", "text": p} for p in _text_chunks(block["text"])]
            if block.get("citations"):  # recorded streams: citations: [] first, then deltas
                empty["citations"] = []
                deltas[:0] = [
                    {"type": "citations_delta", "citation": c} for c in block["citations"]
                ]
        events.append(
            (
                "content_block_start",
                {"type": "content_block_start", "index": index, "content_block": empty},
            )
        )
        if index == 0:
            events.append(("ping", {"type": "ping"}))
        events.extend(
            ("content_block_delta", {"type": "content_block_delta", "index": index, "delta": d})
            for d in deltas
        )
        events.append(("content_block_stop", {"type": "content_block_stop", "index": index}))
    if not message["content"]:
        events.append(("ping", {"type": "ping"}))
    usage = message["usage"]
    events.append(
        (
            "message_delta",
            {
                "type": "message_delta",
                "delta": {
                    "stop_reason": message["stop_reason"],
                    "stop_sequence": message["stop_sequence"],
                    "stop_details": message.get("stop_details"),
                    **({"container": message["container"]} if "container" in message else {}),
                },
                "usage": {
                    "input_tokens": usage["input_tokens"],
                    "cache_creation_input_tokens": usage["cache_creation_input_tokens"],
                    "cache_read_input_tokens": usage["cache_read_input_tokens"],
                    "output_tokens": usage["output_tokens"],
                    **(
                        {"server_tool_use": usage["server_tool_use"]}
                        if "server_tool_use" in usage
                        else {}
                    ),
                },
            },
        )
    )
    events.append(("message_stop", {"type": "message_stop"}))
    return events


#: The reference organization's rate limits (per minute), as the API states them in headers.
RATE_LIMITS = {"requests": 50, "tokens": 90_000, "input-tokens": 50_000, "output-tokens": 40_000}


def ratelimit_headers(ctx: RequestContext, input_tokens: int, output_tokens: int) -> dict[str, str]:
    """``anthropic-ratelimit-*`` headers as the real API sends them with a messages answer
    (api-contract.md §1): a limit, what remains (token counts rounded to the nearest thousand)
    and an RFC 3339 reset time, the start of the next minute of the reference clock."""
    now = ctx.config.now or REFERENCE_NOW
    reset = (now.replace(second=0, microsecond=0) + timedelta(minutes=1)).astimezone(UTC)
    used = {
        "requests": 1,
        "tokens": input_tokens + output_tokens,
        "input-tokens": input_tokens,
        "output-tokens": output_tokens,
    }
    headers: dict[str, str] = {}
    for kind, limit in RATE_LIMITS.items():
        left = max(0, limit - used[kind])
        if kind != "requests":
            left = round(left, -3)
        headers[f"anthropic-ratelimit-{kind}-limit"] = str(limit)
        headers[f"anthropic-ratelimit-{kind}-remaining"] = str(left)
        headers[f"anthropic-ratelimit-{kind}-reset"] = reset.strftime("%Y-%m-%dT%H:%M:%SZ")
    return headers


async def create_message(request: Request, ctx: RequestContext) -> Answer:
    body = await read_json(request)
    model = validate_request(body, ctx, count=False)
    message = build_message(body, model, ctx)
    usage = message["usage"]
    limits = ratelimit_headers(ctx, usage["input_tokens"], usage["output_tokens"])
    if body.get("stream"):
        return StreamAnswer(stream_events(message), headers=limits)
    return JsonAnswer(message, headers=limits)


async def count_tokens(request: Request, ctx: RequestContext) -> Answer:
    body = await read_json(request)
    validate_request(body, ctx, count=True)
    edited, applied = context.apply(body, generator.count_input_tokens)
    answer: dict[str, Any] = {"input_tokens": generator.count_input_tokens(edited)}
    if applied is not None:  # the beta answer: the count before the edits too
        answer["context_management"] = {"original_input_tokens": generator.count_input_tokens(body)}
    return JsonAnswer(answer)


ROUTES: list[RouteSpec] = [
    RouteSpec("messages.count_tokens", count_tokens),
    RouteSpec("messages.create", create_message),
]
