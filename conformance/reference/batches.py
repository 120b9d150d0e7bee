"""Routes of the Message Batches API: create, retrieve, list, cancel, delete, results (JSONL).

A batch is a record whose processing status is a function of time: ``in_progress`` until
``config.batch_seconds`` have passed since creation, then ``ended``; a cancel makes it
``canceling`` for a moment (at most ``CANCEL_SECONDS``), then ``ended`` with every request
counted as canceled.
Each request is validated and answered at creation with the messages route's own code, so an
invalid request yields an ``errored`` result holding exactly the error envelope ``/v1/messages``
would have answered.
"""

from __future__ import annotations

import dataclasses
import json
import re
import time
from dataclasses import dataclass, field
from typing import Any

from starlette.requests import Request

from conformance import catalog
from conformance.reference import messages
from conformance.reference.auth import RequestContext, read_json
from conformance.reference.errors import ApiError, error_body, invalid, not_found
from conformance.reference.files import rfc3339
from conformance.reference.paging import id_page
from conformance.reference.routing import Answer, JsonAnswer, RawAnswer, RouteSpec

STORE = "batch"
CUSTOM_ID = re.compile(r"^[a-zA-Z0-9_-]{1,64}$")
MAX_REQUESTS = 100_000
EXPIRY_SECONDS = 24 * 3600
RESULTS_MEDIA_TYPE = "application/binary"
#: A cancel ends a batch quickly (at most this long), however long processing would take.
CANCEL_SECONDS = 0.1


@dataclass
class StoredBatch:
    """One batch: its requests' outcomes (decided at creation) and its timeline."""

    id: str
    outcomes: list[dict[str, Any]]  # result lines, in request order
    created: float
    duration: float
    results_url: str
    cancel_initiated: float | None = None
    ended: float | None = None
    _canceled: bool = field(default=False, repr=False)

    def advance(self, now: float) -> None:
        """Move the batch along its timeline up to ``now``."""
        if self.ended is not None:
            return
        if self.cancel_initiated is not None:
            if now - self.cancel_initiated >= min(self.duration, CANCEL_SECONDS):
                self.ended, self._canceled = now, True
        elif now - self.created >= self.duration:
            self.ended = now

    @property
    def status(self) -> str:
        if self.ended is not None:
            return "ended"
        return "canceling" if self.cancel_initiated is not None else "in_progress"

    def results(self) -> list[dict[str, Any]]:
        """The result lines once ended (a canceled batch: every request canceled)."""
        if self._canceled:
            return [
                {"custom_id": o["custom_id"], "result": {"type": "canceled"}} for o in self.outcomes
            ]
        return self.outcomes

    def counts(self) -> dict[str, int]:
        counts = dict.fromkeys(("processing", "succeeded", "errored", "canceled", "expired"), 0)
        if self.ended is None:
            counts["processing"] = len(self.outcomes)
            return counts
        for line in self.results():
            counts[line["result"]["type"]] += 1
        return counts

    def body(self) -> dict[str, Any]:
        """The MessageBatch object (api-contract.md §5)."""
        ended = self.ended is not None
        return {
            "id": self.id,
            "type": "message_batch",
            "processing_status": self.status,
            "request_counts": self.counts(),
            "created_at": rfc3339(self.created),
            "expires_at": rfc3339(self.created + EXPIRY_SECONDS),
            "ended_at": rfc3339(self.ended) if self.ended is not None else None,
            "archived_at": None,
            "cancel_initiated_at": (
                rfc3339(self.cancel_initiated) if self.cancel_initiated is not None else None
            ),
            "results_url": self.results_url if ended else None,
        }


def _batches(ctx: RequestContext) -> dict[str, StoredBatch]:
    return ctx.state.store(STORE)


def _get(ctx: RequestContext, request: Request) -> StoredBatch:
    batch_id = str(request.path_params["batch_id"])
    found = _batches(ctx).get(batch_id)
    if found is None:
        raise not_found(f"message_batch not found: {batch_id}")
    found.advance(time.time())
    return found


def _outcome(custom_id: str, params: Any, ctx: RequestContext, index: int) -> dict[str, Any]:
    """The result line of one request, answered as ``POST /v1/messages`` would answer it."""
    # A serial of its own (negative: never a real request's) so every message id is distinct.
    sub = dataclasses.replace(ctx, serial=-(ctx.serial * MAX_REQUESTS + index + 1))
    try:
        if not isinstance(params, dict):
            raise invalid("params: Input should be a valid dictionary")
        if params.get("stream"):
            raise invalid("stream: streaming is not supported in batches")
        model = messages.validate_request(params, sub, count=False)
        message = messages.build_message(params, model, sub)
    except ApiError as exc:
        request_id = sub.state.make_id(
            catalog.ID_PREFIXES["request"] + "011C", sub.serial, length=20
        )
        envelope = error_body(exc.status, exc.message, request_id, exc.error_type)
        return {"custom_id": custom_id, "result": {"type": "errored", "error": envelope}}
    return {"custom_id": custom_id, "result": {"type": "succeeded", "message": message}}


async def create(request: Request, ctx: RequestContext) -> Answer:
    body = await read_json(request)
    for key in body:
        if key not in ("requests", "workspace_id", "user_profile_id"):
            raise invalid(f"{key}: Extra inputs are not permitted")
    requests = body.get("requests")
    if not isinstance(requests, list) or not requests:
        raise invalid("requests: a non-empty list of {custom_id, params} is required")
    if len(requests) > MAX_REQUESTS:
        raise invalid(f"requests: at most {MAX_REQUESTS} requests per batch")
    seen: set[str] = set()
    for i, item in enumerate(requests):
        if not isinstance(item, dict):
            raise invalid(f"requests.{i}: Input should be a valid dictionary")
        custom_id = item.get("custom_id")
        if not isinstance(custom_id, str) or not CUSTOM_ID.match(custom_id):
            raise invalid(
                f"requests.{i}.custom_id: String should match pattern '{CUSTOM_ID.pattern}'"
            )
        if custom_id in seen:
            raise invalid(
                f"requests.{i}.custom_id: custom_id values must be unique "
                f"within a batch ({custom_id!r} repeats)"
            )
        seen.add(custom_id)
        if "params" not in item:
            raise invalid(f"requests.{i}.params: Field required")
    batch_id = ctx.state.make_id(catalog.ID_PREFIXES["batch"] + "01", ctx.serial, length=24)
    base = str(request.base_url).rstrip("/")
    results_url = base + catalog.endpoint("batches.results").url_path(batch_id=batch_id)
    outcomes = [
        _outcome(item["custom_id"], item["params"], ctx, i) for i, item in enumerate(requests)
    ]
    batch = StoredBatch(batch_id, outcomes, time.time(), ctx.config.batch_seconds, results_url)
    _batches(ctx)[batch_id] = batch
    return JsonAnswer(batch.body())


async def retrieve(request: Request, ctx: RequestContext) -> Answer:
    return JsonAnswer(_get(ctx, request).body())


async def list_batches(request: Request, ctx: RequestContext) -> Answer:
    now = time.time()
    batches = sorted(_batches(ctx).values(), key=lambda b: b.created, reverse=True)
    for b in batches:
        b.advance(now)
    items = [b.body() for b in batches]
    return JsonAnswer(id_page(items, request.query_params, kind="message_batch"))


async def cancel(request: Request, ctx: RequestContext) -> Answer:
    batch = _get(ctx, request)
    if batch.status == "in_progress":
        batch.cancel_initiated = time.time()
    return JsonAnswer(batch.body())  # canceling (or unchanged once it is no longer in progress)


async def delete(request: Request, ctx: RequestContext) -> Answer:
    batch = _get(ctx, request)
    if batch.status != "ended":
        raise invalid(
            f"Batch {batch.id} cannot be deleted while it is processing "
            f"({batch.status}); cancel it first and wait until it has ended"
        )
    del _batches(ctx)[batch.id]
    return JsonAnswer({"id": batch.id, "type": "message_batch_deleted"})


async def results(request: Request, ctx: RequestContext) -> Answer:
    batch = _get(ctx, request)
    if batch.status != "ended":
        raise invalid(
            f"Batch {batch.id} has not ended yet ({batch.status}): results are "
            "available once processing_status is 'ended'"
        )
    # Line order is not guaranteed by the API: reversed here, so no client may rely on it.
    lines = [
        json.dumps(line, ensure_ascii=False, separators=(",", ":"))
        for line in reversed(batch.results())
    ]
    return RawAnswer(("\n".join(lines) + "\n").encode(), RESULTS_MEDIA_TYPE)


ROUTES: list[RouteSpec] = [
    RouteSpec("batches.create", create),
    RouteSpec("batches.list", list_batches),
    RouteSpec("batches.retrieve", retrieve),
    RouteSpec("batches.cancel", cancel),
    RouteSpec("batches.delete", delete),
    RouteSpec("batches.results", results),
]
