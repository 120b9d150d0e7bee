"""Checks of the Message Batches endpoints: what the MessageBatch schema cannot say.

``request_counts`` must add up (to the number of requests sent, when the exchange shows them),
timestamps must be ordered and agree with ``processing_status``, results must name every
``custom_id`` exactly once, and a delete must answer ``{id, type: <kind>_deleted}`` for the id
it was asked to delete. Functions ending in ``_findings`` take plain values so the suite can
apply them across several exchanges (a results file against the batch that produced it).
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Callable, Iterable
from datetime import datetime
from typing import Any

from conformance.checks.common import finding, is_count
from conformance.checks.models import page_cursor_findings, query_params
from conformance.exchange import Exchange, Finding

REQUEST_COUNTS = "batch-request-counts"
BATCH_TIMELINE = "batch-timeline"
RESULTS_COVERAGE = "batch-results-coverage"
DELETED_SHAPE = "deleted-shape"

COUNT_KEYS = ("processing", "succeeded", "errored", "canceled", "expired")
_TIMESTAMPS = ("created_at", "cancel_initiated_at", "ended_at", "archived_at", "expires_at")


def _parse_time(value: Any) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00").replace("z", "+00:00"))
    except ValueError:
        return None


# --- batch-request-counts -------------------------------------------------------------------------


def request_counts_findings(batch: Any, expected_total: int | None = None, *, pointer: str = "",
                            request_id: str | None = None) -> list[Finding]:
    """``request_counts`` are counts that add up to the batch size and fit the status.

    An ended batch has nothing left processing; a batch still in progress has nothing expired.
    ``expected_total`` is the number of requests sent (None: unknown, only the status rules).
    """
    if not isinstance(batch, dict) or not isinstance(batch.get("request_counts"), dict):
        return []  # the schema reports a missing or mistyped request_counts
    counts = batch["request_counts"]
    at = pointer + "/request_counts"
    if not all(is_count(counts.get(k)) for k in COUNT_KEYS):
        return []  # the schema reports each one
    out: list[Finding] = []
    total = sum(counts[k] for k in COUNT_KEYS)
    if expected_total is not None and total != expected_total:
        shown = " + ".join(f"{k} {counts[k]}" for k in COUNT_KEYS)
        out.append(finding(REQUEST_COUNTS, f"request_counts add up to {total} ({shown}) but "
                           f"the batch has {expected_total} request(s)", pointer=at,
                           rule="sum of request_counts == number of requests in the batch",
                           value=counts, request_id=request_id))
    if batch.get("processing_status") == "ended" and counts["processing"]:
        out.append(finding(REQUEST_COUNTS, f"the batch has ended but request_counts.processing "
                           f"is {counts['processing']}", pointer=at + "/processing",
                           rule="processing == 0 once processing_status is 'ended'",
                           value=counts["processing"], request_id=request_id))
    return out


# --- batch-timeline -------------------------------------------------------------------------------


def timeline_findings(batch: Any, *, pointer: str = "", request_id: str | None = None
                      ) -> list[Finding]:
    """Timestamps are ordered (created <= cancel_initiated <= ended < expires) and agree with
    the status: ``ended_at`` and ``results_url`` are set exactly when the batch has ended."""
    if not isinstance(batch, dict):
        return []
    out: list[Finding] = []

    def bad(message: str, key: str, rule: str) -> None:
        out.append(finding(BATCH_TIMELINE, message, pointer=f"{pointer}/{key}", rule=rule,
                           value=batch.get(key), request_id=request_id))

    times = {k: _parse_time(batch.get(k)) for k in _TIMESTAMPS}
    created = times["created_at"]
    if created is not None:
        for key in ("cancel_initiated_at", "ended_at", "archived_at"):
            t = times[key]
            if t is not None and t < created:
                bad(f"{key} {batch[key]} is before created_at {batch['created_at']}", key,
                    f"created_at <= {key}")
        expires = times["expires_at"]
        if expires is not None and expires <= created:
            bad(f"expires_at {batch['expires_at']} is not after created_at", "expires_at",
                "expires_at > created_at")
    cancel, ended = times["cancel_initiated_at"], times["ended_at"]
    if cancel is not None and ended is not None and ended < cancel:
        bad(f"ended_at {batch['ended_at']} is before cancel_initiated_at", "ended_at",
            "cancel_initiated_at <= ended_at")
    status = batch.get("processing_status")
    is_ended = status == "ended"
    if status in ("in_progress", "canceling", "ended"):
        if is_ended != (batch.get("ended_at") is not None):
            bad(f"processing_status is {status!r} but ended_at is {batch.get('ended_at')!r}",
                "ended_at", "ended_at is set exactly when processing_status is 'ended'")
        if is_ended != (batch.get("results_url") is not None):
            bad(f"processing_status is {status!r} but results_url is "
                f"{batch.get('results_url')!r}", "results_url",
                "results_url is set exactly when processing_status is 'ended'")
        if status == "canceling" and batch.get("cancel_initiated_at") is None:
            bad("processing_status is 'canceling' but cancel_initiated_at is null",
                "cancel_initiated_at", "a canceling batch has cancel_initiated_at")
    return out


def _batch_findings(batch: Any, total: int | None, pointer: str, rid: str | None
                    ) -> list[Finding]:
    return (request_counts_findings(batch, total, pointer=pointer, request_id=rid)
            + timeline_findings(batch, pointer=pointer, request_id=rid))


def check_batch(exchange: Exchange) -> list[Finding]:
    """One MessageBatch answer (create, retrieve, cancel): counts and timeline.

    On create the request shows the batch size, so the counts must add up to it.
    """
    if exchange.status >= 400:
        return []
    req = exchange.request_json
    sent = req.get("requests") if isinstance(req, dict) else None
    total = len(sent) if isinstance(sent, list) else None
    return _batch_findings(exchange.json, total, "", exchange.request_id)


def check_batch_page(exchange: Exchange) -> list[Finding]:
    """A page of batches: ID cursors, and every batch on it."""
    page = exchange.json
    if exchange.status >= 400 or not isinstance(page, dict):
        return []
    rid = exchange.request_id
    out = page_cursor_findings(page, query_params(exchange), request_id=rid)
    for i, batch in enumerate(page.get("data") or []):
        out += _batch_findings(batch, None, f"/data/{i}", rid)
    return out


# --- batch-results-coverage -----------------------------------------------------------------------


def result_lines(body: bytes) -> list[Any]:
    """The JSON objects of a JSONL body (lines that are not JSON become None)."""
    out: list[Any] = []
    for line in body.splitlines():
        if line.strip():
            try:
                out.append(json.loads(line))
            except (ValueError, UnicodeDecodeError):
                out.append(None)
    return out


def results_coverage_findings(lines: Iterable[Any], custom_ids: Iterable[str] | None = None, *,
                              request_id: str | None = None) -> list[Finding]:
    """Every custom_id comes back exactly once (line order is free), and no stranger appears.

    ``custom_ids`` are the ids sent (None: only duplicates can be judged).
    """
    got = [line.get("custom_id") if isinstance(line, dict) else None for line in lines]
    seen = Counter(got)
    out: list[Finding] = []
    for i, cid in enumerate(got):
        if seen[cid] > 1 and got.index(cid) != i:
            out.append(finding(RESULTS_COVERAGE, f"custom_id {cid!r} appears {seen[cid]} times "
                               "in the results", pointer=f"/lines/{i}/custom_id",
                               rule="each custom_id appears exactly once", value=cid,
                               request_id=request_id))
    if custom_ids is not None:
        wanted = list(custom_ids)
        for cid in wanted:
            if cid not in seen:
                out.append(finding(RESULTS_COVERAGE, f"custom_id {cid!r} was sent but has no "
                                   "result line", pointer="/lines",
                                   rule="every request of the batch has a result line",
                                   value=cid, request_id=request_id))
        for i, cid in enumerate(got):
            if cid not in wanted:
                out.append(finding(RESULTS_COVERAGE, f"result line for custom_id {cid!r}, "
                                   "which the batch did not contain",
                                   pointer=f"/lines/{i}/custom_id",
                                   rule="results name only the batch's custom_ids", value=cid,
                                   request_id=request_id))
    return out


def check_results(exchange: Exchange) -> list[Finding]:
    """A results file never names a custom_id twice."""
    if exchange.status >= 400:
        return []
    return results_coverage_findings(result_lines(exchange.body), request_id=exchange.request_id)


# --- deleted-shape --------------------------------------------------------------------------------


def deleted_findings(body: Any, kind: str, resource_id: str | None, *,
                     type_optional: bool = False, request_id: str | None = None,
                     status: int = 200) -> list[Finding]:
    """A delete answers 200 ``{id: <the deleted id>, type: "<kind>_deleted"}``, not a 204."""
    wanted = f"{kind}_deleted"
    rule = f'DELETE answers 200 with {{"id": ..., "type": "{wanted}"}}'
    if status == 204 or not isinstance(body, dict):
        return [finding(DELETED_SHAPE, f"the delete answered HTTP {status} with "
                        f"{'no body' if body is None else 'a non-object body'}; the API answers "
                        f"200 with {{id, type: {wanted!r}}}", rule=rule, value=body,
                        request_id=request_id)]
    out: list[Finding] = []
    if body.get("type") != wanted and not (type_optional and "type" not in body):
        out.append(finding(DELETED_SHAPE, f"type should be {wanted!r}, got {body.get('type')!r}",
                           pointer="/type", rule=rule, value=body.get("type"),
                           request_id=request_id))
    if resource_id is not None and body.get("id") != resource_id:
        out.append(finding(DELETED_SHAPE, f"id should be the deleted {kind} {resource_id!r}, got "
                           f"{body.get('id')!r}", pointer="/id",
                           rule="the answer names the id that was deleted", value=body.get("id"),
                           request_id=request_id))
    return out


def deleted_check(kind: str, type_optional: bool = False
                  ) -> Callable[[Exchange], list[Finding]]:
    """The check of one DELETE endpoint whose answer is ``{id, type: <kind>_deleted}``."""

    def check(exchange: Exchange) -> list[Finding]:
        if exchange.status >= 400:
            return []
        resource_id = exchange.path.rstrip("/").rsplit("/", 1)[-1] or None
        return deleted_findings(exchange.json, kind, resource_id, type_optional=type_optional,
                                request_id=exchange.request_id, status=exchange.status)

    check.__name__ = f"check_{kind}_deleted"
    check.__doc__ = f"DELETE of a {kind}: 200 {{id, type: {kind}_deleted}} naming the path's id."
    return check


check_batch_deleted = deleted_check("message_batch")
