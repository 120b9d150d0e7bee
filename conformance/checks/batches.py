"""Checks of the Message Batches endpoints: what the MessageBatch schema cannot say.

``request_counts`` must add up (to the number of requests sent, when the exchange shows them),
timestamps must be ordered and agree with ``processing_status`` and results must name every
``custom_id`` exactly once. Functions ending in ``_findings`` take plain values so the suite can
apply them across several exchanges (a results file against the batch that produced it). Pages
of batches get the generic ``checks.pagination`` checks, deletes ``pagination.check_deleted``.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterable, Iterator
from typing import Any

from conformance.checks._registry import check, json_body, on_demand, success
from conformance.checks.common import finding, is_count
from conformance.exchange import Exchange, Finding
from conformance.timestamps import parse_rfc3339

REQUEST_COUNTS = "batch-request-counts"
BATCH_TIMELINE = "batch-timeline"
RESULTS_COVERAGE = "batch-results-coverage"

COUNT_KEYS = ("processing", "succeeded", "errored", "canceled", "expired")
_TIMESTAMPS = ("created_at", "cancel_initiated_at", "ended_at", "archived_at", "expires_at")
#: Endpoints answering one MessageBatch, or (batches.list) a page of them.
_BATCH_ENDPOINTS = ("batches.create", "batches.retrieve", "batches.cancel", "batches.list")


def _batches(exchange: Exchange) -> Iterator[tuple[Any, str]]:
    """``(batch, pointer)`` for the batch an answer carries, or for each batch of a page."""
    body = exchange.json
    if isinstance(body, dict) and isinstance(body.get("data"), list):
        for i, batch in enumerate(body["data"]):
            yield batch, f"/data/{i}"
    else:
        yield body, ""


# --- batch-request-counts -------------------------------------------------------------------------


@on_demand(REQUEST_COUNTS)
def request_counts_findings(
    batch: Any,
    expected_total: int | None = None,
    *,
    pointer: str = "",
    request_id: str | None = None,
) -> list[Finding]:
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
        out.append(
            finding(
                REQUEST_COUNTS,
                f"request_counts add up to {total} ({shown}) but "
                f"the batch has {expected_total} request(s)",
                pointer=at,
                rule="sum of request_counts == number of requests in the batch",
                value=counts,
                request_id=request_id,
            )
        )
    if batch.get("processing_status") == "ended" and counts["processing"]:
        out.append(
            finding(
                REQUEST_COUNTS,
                f"the batch has ended but request_counts.processing is {counts['processing']}",
                pointer=at + "/processing",
                rule="processing == 0 once processing_status is 'ended'",
                value=counts["processing"],
                request_id=request_id,
            )
        )
    return out


# --- batch-timeline -------------------------------------------------------------------------------


@on_demand(BATCH_TIMELINE)
def timeline_findings(
    batch: Any, *, pointer: str = "", request_id: str | None = None
) -> list[Finding]:
    """Timestamps are ordered (created <= cancel_initiated <= ended < expires) and agree with
    the status: ``ended_at`` and ``results_url`` are set exactly when the batch has ended."""
    if not isinstance(batch, dict):
        return []
    out: list[Finding] = []

    def bad(message: str, key: str, rule: str) -> None:
        out.append(
            finding(
                BATCH_TIMELINE,
                message,
                pointer=f"{pointer}/{key}",
                rule=rule,
                value=batch.get(key),
                request_id=request_id,
            )
        )

    times = {k: parse_rfc3339(batch.get(k)) for k in _TIMESTAMPS}
    created = times["created_at"]
    if created is not None:
        for key in ("cancel_initiated_at", "ended_at", "archived_at"):
            t = times[key]
            if t is not None and t < created:
                bad(
                    f"{key} {batch[key]} is before created_at {batch['created_at']}",
                    key,
                    f"created_at <= {key}",
                )
        expires = times["expires_at"]
        if expires is not None and expires <= created:
            bad(
                f"expires_at {batch['expires_at']} is not after created_at",
                "expires_at",
                "expires_at > created_at",
            )
    cancel, ended = times["cancel_initiated_at"], times["ended_at"]
    if cancel is not None and ended is not None and ended < cancel:
        bad(
            f"ended_at {batch['ended_at']} is before cancel_initiated_at",
            "ended_at",
            "cancel_initiated_at <= ended_at",
        )
    status = batch.get("processing_status")
    is_ended = status == "ended"
    if status in ("in_progress", "canceling", "ended"):
        if is_ended != (batch.get("ended_at") is not None):
            bad(
                f"processing_status is {status!r} but ended_at is {batch.get('ended_at')!r}",
                "ended_at",
                "ended_at is set exactly when processing_status is 'ended'",
            )
        if is_ended != (batch.get("results_url") is not None):
            bad(
                f"processing_status is {status!r} but results_url is {batch.get('results_url')!r}",
                "results_url",
                "results_url is set exactly when processing_status is 'ended'",
            )
        if status == "canceling" and batch.get("cancel_initiated_at") is None:
            bad(
                "processing_status is 'canceling' but cancel_initiated_at is null",
                "cancel_initiated_at",
                "a canceling batch has cancel_initiated_at",
            )
    return out


@check(REQUEST_COUNTS, endpoints=_BATCH_ENDPOINTS, applies=success & json_body)
def check_request_counts(exchange: Exchange) -> list[Finding]:
    """The request_counts of a MessageBatch answer, or of each batch on a page.

    On create the request shows the batch size, so the counts must add up to it.
    """
    req = exchange.request_json
    sent = req.get("requests") if isinstance(req, dict) else None
    total = len(sent) if isinstance(sent, list) else None
    out: list[Finding] = []
    for batch, pointer in _batches(exchange):
        out += request_counts_findings(
            batch, total if not pointer else None, pointer=pointer, request_id=exchange.request_id
        )
    return out


@check(BATCH_TIMELINE, endpoints=_BATCH_ENDPOINTS, applies=success & json_body)
def check_timeline(exchange: Exchange) -> list[Finding]:
    """The timeline of a MessageBatch answer, or of each batch on a page."""
    return [
        f
        for batch, pointer in _batches(exchange)
        for f in timeline_findings(batch, pointer=pointer, request_id=exchange.request_id)
    ]


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


@on_demand(RESULTS_COVERAGE)
def results_coverage_findings(
    lines: Iterable[Any], custom_ids: Iterable[str] | None = None, *, request_id: str | None = None
) -> list[Finding]:
    """Every custom_id comes back exactly once (line order is free), and no stranger appears.

    ``custom_ids`` are the ids sent (None: only duplicates can be judged).
    """
    got = [line.get("custom_id") if isinstance(line, dict) else None for line in lines]
    seen = Counter(got)
    out: list[Finding] = []
    for i, cid in enumerate(got):
        if seen[cid] > 1 and got.index(cid) != i:
            out.append(
                finding(
                    RESULTS_COVERAGE,
                    f"custom_id {cid!r} appears {seen[cid]} times in the results",
                    pointer=f"/lines/{i}/custom_id",
                    rule="each custom_id appears exactly once",
                    value=cid,
                    request_id=request_id,
                )
            )
    if custom_ids is not None:
        wanted = list(custom_ids)
        for cid in wanted:
            if cid not in seen:
                out.append(
                    finding(
                        RESULTS_COVERAGE,
                        f"custom_id {cid!r} was sent but has no result line",
                        pointer="/lines",
                        rule="every request of the batch has a result line",
                        value=cid,
                        request_id=request_id,
                    )
                )
        for i, cid in enumerate(got):
            if cid not in wanted:
                out.append(
                    finding(
                        RESULTS_COVERAGE,
                        f"result line for custom_id {cid!r}, which the batch did not contain",
                        pointer=f"/lines/{i}/custom_id",
                        rule="results name only the batch's custom_ids",
                        value=cid,
                        request_id=request_id,
                    )
                )
    return out


@check(RESULTS_COVERAGE, endpoints="batches.results", applies=success)
def check_results(exchange: Exchange) -> list[Finding]:
    """A results file never names a custom_id twice."""
    return results_coverage_findings(result_lines(exchange.body), request_id=exchange.request_id)
