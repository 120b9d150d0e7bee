"""Message Batches: create, retrieve, list, cancel, results (JSONL), delete, unknown ids.

Every batch is registered in the resource ledger as soon as the API has answered its create, and
every custom_id starts with the run marker. The full lifecycle (a batch processed to ``ended``)
takes seconds on the reference server and up to hours on the real API: on a live target it runs
only with the ``batches_slow`` toggle, polling with exponential backoff up to
``--anthropic-batch-deadline`` seconds.
"""

from __future__ import annotations

import time
from typing import Any

import pytest
from tenacity import RetryError, Retrying, retry_if_result, stop_after_delay, wait_exponential

from conformance import catalog
from conformance.api import Api
from conformance.checks.batches import (
    request_counts_findings,
    result_lines,
    results_coverage_findings,
    timeline_findings,
)
from conformance.exchange import Finding, raise_for_findings
from conformance.resources import ResourceLedger
from conformance.settings import Settings
from conformance.suite._polling import LISTED_DEADLINE, walk_until_listed
from conformance.target import RunTarget

pytestmark = pytest.mark.feature("batches")

UNKNOWN_BATCH = catalog.ID_PREFIXES["batch"] + "01ConformanceNoSuchBatch00"
BAD_MODEL = "claude-conformance-no-such-model"


def batch_requests(
    api: Api, run_id: str, tag: str, ok: int = 2, bad: int = 1
) -> list[dict[str, Any]]:
    """``ok`` small valid requests and ``bad`` ones naming an unknown model (errored result)."""
    out = [
        {
            "custom_id": f"{run_id}-{tag}-ok{i}",
            "params": api.message_body(f"Reply with exactly: batch item {i}", max_tokens=16),
        }
        for i in range(ok)
    ]
    out += [
        {
            "custom_id": f"{run_id}-{tag}-bad{i}",
            "params": api.message_body("Reply with exactly: never", model=BAD_MODEL, max_tokens=16),
        }
        for i in range(bad)
    ]
    return out


def create_batch(
    api: Api, ledger: ResourceLedger, requests: list[dict[str, Any]]
) -> dict[str, Any]:
    """Create a batch and register it before judging the answer (it exists either way)."""
    ex = api.call("batches.create", {"requests": requests})
    body = ex.json
    if ex.status == 200 and isinstance(body, dict) and isinstance(body.get("id"), str):
        ledger.register("batch", body["id"], label=requests[0]["custom_id"])
    batch: dict[str, Any] = api.expect(ex)
    return batch


def _no_wait(seconds: float) -> None:
    """``sleep`` of a replay's polls."""


def wait_until_ended(
    api: Api, batch_id: str, deadline: float, target: RunTarget | None = None
) -> dict[str, Any]:
    """Poll with exponential backoff until processing_status is ``ended`` or ``deadline``
    (a replay's polls answer what was recorded at once: no wait between them)."""

    def fetch() -> dict[str, Any]:
        batch: dict[str, Any] = api.expect(api.call("batches.retrieve", batch_id=batch_id))
        raise_for_findings(timeline_findings(batch), f"batch {batch_id}")
        return batch

    retrying = Retrying(
        retry=retry_if_result(lambda b: b["processing_status"] != "ended"),
        wait=wait_exponential(multiplier=0.1, max=30),
        stop=stop_after_delay(deadline),
        sleep=_no_wait if target is not None and target.offline else time.sleep,
    )
    try:
        return retrying(fetch)
    except RetryError as exc:
        last = exc.last_attempt.result()
        pytest.fail(
            f"batch {batch_id} is still {last['processing_status']!r} after "
            f"{deadline:g}s; raise --anthropic-batch-deadline "
            "(ANTHROPIC_CONFORMANCE_BATCH_DEADLINE)"
        )


def fetch_results(api: Api, batch: dict[str, Any]) -> list[dict[str, Any]]:
    """The results of an ended batch; every line is validated against the schema."""
    path = catalog.endpoint("batches.results").url_path(batch_id=batch["id"])
    assert str(batch["results_url"]).endswith(path), (
        f"results_url {batch['results_url']!r} should end with {path}"
    )
    ex = api.call("batches.results", batch_id=batch["id"], headers={"accept": "application/binary"})
    api.expect(ex)
    return [line for line in result_lines(ex.body) if isinstance(line, dict)]


def test_batch_create_and_retrieve(
    api: Api, resource_ledger: ResourceLedger, conformance_run_id: str
) -> None:
    requests = batch_requests(api, conformance_run_id, "get")
    created = create_batch(api, resource_ledger, requests)
    assert created["processing_status"] in ("in_progress", "ended")
    got = api.expect(api.call("batches.retrieve", batch_id=created["id"]))
    assert got["id"] == created["id"]
    assert got["created_at"] == created["created_at"]
    raise_for_findings(request_counts_findings(got, len(requests)), "retrieved batch")


def test_batch_list_pagination(
    api: Api, resource_ledger: ResourceLedger, conformance_run_id: str
) -> None:
    mine = {
        create_batch(
            api, resource_ledger, batch_requests(api, conformance_run_id, f"list{i}", 1, 0)
        )["id"]
        for i in range(2)
    }
    # a batch just created may be listed late: walked again, bounded (suite/_polling.py)
    pages, _ = walk_until_listed(api, "batches.list", mine, limit=1)
    assert all(len(p.json["data"]) <= 1 for p in pages)
    seen = [b["id"] for p in pages for b in p.json["data"]]
    assert len(seen) == len(set(seen)), f"a batch came back twice while paging: {seen}"
    assert mine <= set(seen), (
        f"created batches {sorted(mine - set(seen))} not listed after {LISTED_DEADLINE:g}s"
    )


def test_batch_cancel(
    api: Api,
    resource_ledger: ResourceLedger,
    conformance_run_id: str,
    conformance_settings: Settings,
    conformance_target: RunTarget,
) -> None:
    requests = batch_requests(api, conformance_run_id, "cancel")
    created = create_batch(api, resource_ledger, requests)
    cancel = api.call("batches.cancel", batch_id=created["id"])
    canceled = api.expect(cancel)
    assert canceled["processing_status"] in ("canceling", "ended")
    raced = cancel_race(canceled, cancel.request_id)
    if raced is None:
        assert canceled["cancel_initiated_at"] is not None, "a cancel sets cancel_initiated_at"
    else:  # what a cancel does cannot be seen; what an ended batch is still can
        api.judgement.record([raced], f"canceling batch {created['id']}")
    ended = wait_until_ended(
        api, created["id"], conformance_settings.batch_deadline, conformance_target
    )
    raise_for_findings(request_counts_findings(ended, len(requests)), "canceled batch")
    if raced is None:
        assert ended["request_counts"]["canceled"] >= 1, (
            f"a batch canceled at once shows canceled requests: {ended['request_counts']}"
        )
    lines = fetch_results(api, ended)
    raise_for_findings(
        results_coverage_findings(lines, [r["custom_id"] for r in requests]),
        "results of the canceled batch",
    )
    deleted = api.expect(api.call("batches.delete", batch_id=created["id"]))
    assert (
        deleted == {"id": created["id"], "type": "message_batch_deleted"}
        or deleted["id"] == created["id"]
    )
    api.expect_error(api.call("batches.retrieve", batch_id=created["id"]), 404)


def cancel_race(canceled: dict[str, Any], request_id: str | None) -> Finding | None:
    """An inconclusive finding when the batch had ended before the cancel reached it (a race
    with the target's processing, not a violation: nothing was left to cancel, so no
    ``cancel_initiated_at``), with the evidence; None when the cancel can be judged."""
    if canceled["processing_status"] != "ended" or canceled.get("cancel_initiated_at"):
        return None
    return Finding(
        "batch-cancel-race",
        "could not judge the cancel: the batch had ended before the cancel arrived "
        f"(processing_status {canceled['processing_status']!r}, ended_at "
        f"{canceled.get('ended_at')!r}, request_counts {canceled.get('request_counts')})",
        pointer="/cancel_initiated_at",
        request_id=request_id,
        severity="inconclusive",
    )


def test_batch_lifecycle(
    api: Api,
    resource_ledger: ResourceLedger,
    conformance_run_id: str,
    conformance_settings: Settings,
    conformance_target: RunTarget,
) -> None:
    settings = conformance_settings
    if not conformance_target.batches_end_quickly and not settings.enabled("batches_slow"):
        pytest.skip(
            "a live batch can take hours to end: add batches_slow to "
            f"{catalog.FEATURES_ENV} (deadline --anthropic-batch-deadline, "
            f"now {settings.batch_deadline:g}s)"
        )
    requests = batch_requests(api, conformance_run_id, "life")
    created = create_batch(api, resource_ledger, requests)
    ended = wait_until_ended(api, created["id"], settings.batch_deadline, conformance_target)
    counts = ended["request_counts"]
    raise_for_findings(request_counts_findings(ended, len(requests)), "ended batch")
    assert (counts["succeeded"], counts["errored"]) == (2, 1), (
        f"2 valid requests succeed and the one naming {BAD_MODEL} errors: {counts}"
    )
    assert created["created_at"] <= ended["ended_at"]
    lines = fetch_results(api, ended)
    raise_for_findings(
        results_coverage_findings(lines, [r["custom_id"] for r in requests]), "batch results"
    )
    by_id = {line["custom_id"]: line["result"] for line in lines}
    for request in requests:
        result = by_id[request["custom_id"]]
        if "-bad" in request["custom_id"]:
            assert result["type"] == "errored", result
            assert result["error"]["type"] == "error"
        else:
            assert result["type"] == "succeeded", result
            assert result["message"]["type"] == "message"
    api.expect(api.call("batches.delete", batch_id=created["id"]))
    api.expect_error(api.call("batches.retrieve", batch_id=created["id"]), 404)


@pytest.mark.feature("errors")
def test_unknown_batch_not_found(api: Api) -> None:
    api.expect_error(api.call("batches.retrieve", batch_id=UNKNOWN_BATCH), 404)
    api.expect_error(api.call("batches.cancel", batch_id=UNKNOWN_BATCH), 404)
    api.expect_error(api.call("batches.delete", batch_id=UNKNOWN_BATCH), 404)
