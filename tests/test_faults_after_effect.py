"""Faults after the effect (issue 14): a gateway that forwarded a create, then lost its answer.

The loopback fault proxy (``faults.FaultProxy``) sits in front of a reference server and
injects one fault at a chosen moment (``script``): the upstream did the work, the client sees a
5xx or a dropped connection and retries. These tests read the upstream's inventory: what the
first try made is found through the run marker and removed, a delete retried after it took
effect is done, and a lost connection after the retries is "could not judge", never a failure.
"""

from __future__ import annotations

import dataclasses
import json
import socket
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from conformance import capabilities, catalog
from conformance.api import Api
from conformance.client import (
    AnswerLost,
    ApiClient,
    ConnectionLost,
    RetryPolicy,
    StillTransient,
    TargetUnreachable,
)
from conformance.exchange import Exchange, Inconclusive
from conformance.judgement import Judgement
from conformance.reference import (
    DEFAULT_ADMIN_API_KEY,
    DEFAULT_API_KEY,
    EmbeddedServer,
    ReferenceConfig,
    faults,
)
from conformance.resources import API_KEY, ResourceLedger, reconcile
from conformance.target import ADMIN_KEY, Target, TargetKind
from tests.suite_args import SUITE

#: Retries that never wait: the tests count attempts and read inventories, never the clock.
NO_WAIT = RetryPolicy(max_retries=2, base=0.001, cap=0.001, max_retry_after=0, sleep=lambda _: None)
RUN = "conformance-20261201-abcdef"


@dataclasses.dataclass
class Rig:
    """A reference server (``upstream``) behind a fault proxy (``app``, served at ``url``)."""

    upstream: EmbeddedServer
    app: faults.FaultProxy
    url: str


@pytest.fixture
def proxied() -> Iterator[Callable[..., Rig]]:
    """Makes a ``Rig``: the proxy's first faults are ``script``, then ``rate`` at random."""
    started: list[EmbeddedServer] = []

    def make(*script: str | None, rate: float = 0.0, seed: str = "x") -> Rig:
        upstream = EmbeddedServer(ReferenceConfig()).start()
        app = faults.FaultProxy(upstream.url, rate, seed, script=script)
        proxy = EmbeddedServer(app=app).start()
        started.extend([proxy, upstream])
        return Rig(upstream, app, proxy.url)

    yield make
    for server in started:
        server.stop()


def facade(api: ApiClient) -> Api:
    return Api(api, catalog.DEFAULT_MODEL)


def client(url: str, key: str = DEFAULT_API_KEY, policy: RetryPolicy = NO_WAIT) -> ApiClient:
    target = Target(TargetKind.PROXY, url, key, "2023-06-01", "x-api-key")
    return ApiClient(target, retry=policy, features=("files",))


def upload(api: ApiClient, name: str) -> Exchange:
    headers = {"anthropic-beta": ",".join(catalog.betas_for(["files"], "2023-06-01"))}
    return api.post("/v1/files", files={"file": (name, b"hello", "text/plain")}, headers=headers)


def test_an_upload_whose_answer_was_lost_leaves_no_duplicate(
    proxied: Callable[..., Rig],
) -> None:
    rig = proxied("500-after")
    upstream, api = rig.upstream, client(rig.url)
    ex = upload(api, f"{RUN}-note.txt")
    assert ex.status == 200 and ex.faults == ("500 api_error",)
    assert len(upstream.inventory()["file"]) == 2  # the first try's file, and the retry's
    ledger = ResourceLedger()
    ledger.register("file", ex.json["id"], label=f"{RUN}-note.txt")
    assert reconcile(ledger, api) == [] and len(ledger) == 2 and api.uncertain == []
    assert ledger.teardown(api) == []
    assert upstream.inventory() == {}


def test_a_duplicate_batch_is_found_by_its_custom_ids_once_it_ended(
    proxied: Callable[..., Rig],
) -> None:
    """A batch has no name: the lost first try's batch is recognised by its results (every
    custom_id of the request), awaited until it ended; another test's batch is left alone."""
    rig = proxied()
    upstream, api = rig.upstream, client(rig.url)

    def batch(tag: str) -> Exchange:
        params = {"model": catalog.DEFAULT_MODEL, "max_tokens": 8}
        requests = [
            {"custom_id": f"{RUN}-{tag}-ok0", "params": {**params, "messages": [msg]}}
            for msg in [{"role": "user", "content": "hi"}]
        ]
        return api.post("/v1/messages/batches", json={"requests": requests})

    other = batch("other").json["id"]  # someone else's: never taken for the duplicate
    rig.app.script.append("500-after")
    ex = batch("mine")
    assert ex.status == 200 and ex.faults == ("500 api_error",)
    assert len(upstream.inventory()["batch"]) == 3
    ledger = ResourceLedger()
    ledger.register("batch", ex.json["id"])
    assert reconcile(ledger, api) == []
    assert len(ledger) == 2 and other not in {r.id for r in ledger}
    assert ledger.teardown(api) == []
    assert upstream.inventory() == {"batch": [other]}


def test_a_create_never_answered_is_found_and_removed(proxied: Callable[..., Rig]) -> None:
    """Every try took effect and every answer was lost: three files, none named to the test."""
    rig = proxied("reset-after", "cut", "502-html")
    upstream, api = rig.upstream, client(rig.url)
    with pytest.raises(StillTransient):  # the last try's 502 page: could not judge
        upload(api, f"{RUN}-lost.txt")
    assert len(upstream.inventory()["file"]) == 3
    ledger = ResourceLedger()
    assert reconcile(ledger, api) == [] and len(ledger) == 3
    assert ledger.teardown(api) == [] and upstream.inventory() == {}


def test_a_retry_refused_as_already_done_is_inconclusive_and_reconciled(
    proxied: Callable[..., Rig],
) -> None:
    """The member add took effect; its retry gets 400 "already a member": could not judge,
    and the membership is still removed."""
    rig = proxied()
    upstream, admin = rig.upstream, client(rig.url, DEFAULT_ADMIN_API_KEY)
    ws = admin.post("/v1/organizations/workspaces", json={"name": f"{RUN} ws"}).json
    users = admin.get("/v1/organizations/users", params={"limit": 100}).json["data"]
    uid = next(u["id"] for u in users if u["role"] in ("user", "developer"))
    ledger = ResourceLedger()
    ledger.register("workspace", ws["id"], label=f"{RUN} ws")
    rig.app.script.append("reset-after")
    ex = admin.post(
        f"/v1/organizations/workspaces/{ws['id']}/members",
        json={"user_id": uid, "workspace_role": "workspace_user"},
    )
    assert ex.status == 400 and "already a member" in ex.body.decode()
    with pytest.raises(AnswerLost, match="may have done it already") as lost:
        facade(admin).expect(ex)  # a test expecting the 200: could not judge
    assert isinstance(lost.value, Inconclusive) and lost.value.exchange is ex
    assert reconcile(ledger, {API_KEY: admin, ADMIN_KEY: admin}) == []
    assert [r.kind for r in ledger] == ["workspace", "workspace_member"]
    assert ledger.teardown({API_KEY: admin, ADMIN_KEY: admin}) == []
    assert upstream.inventory() == {}


def test_a_delete_retried_after_it_took_effect_is_done(proxied: Callable[..., Rig]) -> None:
    rig = proxied()
    upstream, api = rig.upstream, client(rig.url)
    made = upload(api, f"{RUN}-gone.txt").json["id"]
    rig.app.script.append("500-after")
    gone = api.delete(f"/v1/files/{made}")
    assert gone.status == 404 and upstream.inventory() == {}
    with pytest.raises(AnswerLost):  # a test expecting the 200: could not judge
        facade(api).expect(gone)
    # ... and teardown meeting the same takes the 404 for done, not for a failure
    second = upload(api, f"{RUN}-gone2.txt").json["id"]
    ledger = ResourceLedger()
    ledger.register("file", second)
    rig.app.script.append("reset-after")
    assert ledger.teardown(api) == [] and upstream.inventory() == {}


def test_the_proxys_own_429_looks_like_the_apis(proxied: Callable[..., Rig]) -> None:
    """A random 429 of the proxy may be the answer ``test_retry_after_on_429`` judges."""
    api = client(proxied("429").url, policy=RetryPolicy(max_retries=0))
    ex = api.get("/v1/models")
    assert ex.status == 429 and ex.json["error"]["type"] == "rate_limit_error"
    assert ex.response_headers["retry-after"] == faults.RETRY_AFTER and ex.request_id


def test_a_404_asked_for_is_still_judged_after_a_fault(proxied: Callable[..., Rig]) -> None:
    """A delete of what never existed, retried after a fault: the 404 is the answer the test
    wanted, and it is judged (the envelope checked), not waved through as "could not judge"."""
    api = client(proxied("500").url)
    ex = api.delete("/v1/files/file_011CConformanceNoSuchFile")
    assert ex.status == 404 and ex.faults == ("500 api_error",)
    assert facade(api).expect_error(ex, 404)["error"]["type"] == "not_found_error"


def test_a_lost_connection_after_the_retries_is_inconclusive(
    proxied: Callable[..., Rig],
) -> None:
    api = client(proxied("reset-before", "reset-after", "cut").url)
    body = {
        "model": "claude-haiku-4-5",
        "max_tokens": 8,
        "messages": [{"role": "user", "content": "hi"}],
    }
    with pytest.raises(ConnectionLost, match="connection was lost on every one of 3") as lost:
        api.post("/v1/messages", json=body)
    assert isinstance(lost.value, Inconclusive) and isinstance(lost.value, TargetUnreachable)


@pytest.mark.parametrize("kind", [faults.PLAIN_503, "reset-before"])
def test_a_probe_that_meets_only_faults_does_not_stop_the_run(
    proxied: Callable[..., Rig], kind: str
) -> None:
    """The first capability probe meets a fault on every try (a 503 page, a reset): its family
    counts as served, the other probes are still sent, and the run is not stopped as if the
    target were down."""
    rig = proxied(kind, kind, kind)
    target = Target(TargetKind.PROXY, rig.url, DEFAULT_API_KEY, "2023-06-01", "x-api-key")
    caps = capabilities.probe_target(target, retry=NO_WAIT)
    assert not caps.fatal, caps.fatal
    assert len(caps.by_name) == len(capabilities.PROBES)
    assert all(c.supported for c in caps.by_name.values()), caps.as_dict()
    # every probe after the first was sent and answered
    assert [c.unreached for c in caps.by_name.values()][1:] == [False] * (len(caps.by_name) - 1)


def test_a_test_that_lost_its_connection_is_skipped_as_inconclusive_not_failed() -> None:
    """What the plugin concludes for a test (``test_retry_after_on_429`` with retries off and
    a reset): a skip with the evidence; a dead target still fails."""
    lost = Judgement().conclude(ConnectionLost("POST x: the connection was lost"))
    assert isinstance(lost, pytest.skip.Exception) and "connection was lost" in str(lost)
    dead = TargetUnreachable("GET x: no answer after 3 attempt(s)")
    assert Judgement().conclude(dead) is dead


def test_a_target_down_from_the_start_is_still_unreachable() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        url = f"http://127.0.0.1:{sock.getsockname()[1]}"
    with pytest.raises(TargetUnreachable, match="Is the target running") as caught:
        client(url).get("/v1/models")
    assert not isinstance(caught.value, Inconclusive)


def test_a_status_kept_final_is_handed_back_while_faults_on_the_way_are_retried(
    proxied: Callable[..., Rig],
) -> None:
    """``test_retry_after_on_429``'s policy: the forced 429 comes back, a 500 before it is
    retried (with no retry at all, the 500 would be judged as the 429 turned into a 500)."""
    rig = proxied("500", "reset-before")
    policy = dataclasses.replace(NO_WAIT, final=frozenset({429}))
    api = client(rig.url, policy=policy)
    body = {
        "model": "claude-haiku-4-5",
        "max_tokens": 8,
        "messages": [{"role": "user", "content": "hi"}],
    }
    ex = api.post("/v1/messages", json=body, headers={"x-conformance-force-status": "429"})
    assert ex.status == 429 and ex.retries == 2 and "retry-after" in ex.response_headers


def test_the_suite_passes_through_30_percent_faults_and_leaves_nothing(
    pytester: pytest.Pytester, proxied: Callable[..., Rig]
) -> None:
    """The whole suite through a proxy failing 30% of requests with every kind of fault, before
    and after forwarding, from a fixed seed: no failure, nothing left upstream, and the report
    names the tests that needed retries."""
    rig = proxied(rate=0.3, seed="project-test")
    result = pytester.runpytest(
        *SUITE,
        f"--anthropic-base-url={rig.url}",
        f"--anthropic-api-key={DEFAULT_API_KEY}",
        f"--anthropic-admin-api-key={DEFAULT_ADMIN_API_KEY}",
        "--anthropic-features=all,admin_write",
        "--anthropic-max-retries=6",
        "--anthropic-retry-backoff=0.01",
        "--anthropic-report-dir=report",
        "--junitxml=junit.xml",
        "-p",
        "no:randomly",
    )
    text = result.stdout.str()
    outcomes = result.parseoutcomes()
    assert result.ret == 0 and "failed" not in outcomes and "error" not in outcomes, text
    assert "LEFTOVERS" not in text and "teardown failures" not in text, text
    assert rig.upstream.inventory() == {}
    assert set(rig.app.injected) == set(faults.PROXY_FAULTS), rig.app.injected  # every kind was met
    report = json.loads(Path(pytester.path, "report", "report.json").read_text())
    flaky = [t["nodeid"] for t in report["tests"] if t.get("retried")]
    assert flaky and "anthropic flaky: passed after retries" in text
    assert "call(s) needed retries" in text
    assert "### Retried" in Path(pytester.path, "report", "report.md").read_text()
    assert 'name="anthropic_retried"' in Path(pytester.path, "junit.xml").read_text()


ASYNC_UPLOAD = """
import pytest

from conformance import catalog


@pytest.mark.asyncio
async def test_upload(anthropic_async_client, resource_ledger, conformance_run_id):
    headers = {"anthropic-beta": ",".join(catalog.betas_for(["files"], "2023-06-01"))}
    name = f"{conformance_run_id}-async.txt"
    ex = await anthropic_async_client.post(
        "/v1/files", files={"file": (name, b"hello", "text/plain")}, headers=headers
    )
    assert ex.status == 200 and ex.faults == ("500 api_error",)
    resource_ledger.register("file", ex.json["id"], label=name)
"""


def test_an_async_upload_whose_answer_was_lost_leaves_no_duplicate(
    pytester: pytest.Pytester, proxied: Callable[..., Rig]
) -> None:
    """The asyncio client's retried create is reconciled like the sync client's: the lost
    first try's file is found by the run marker and removed at the test's teardown."""
    rig = proxied("500-after")
    pytester.makepyfile(test_async_upload=ASYNC_UPLOAD)
    result = pytester.runpytest(
        f"--anthropic-base-url={rig.url}",
        f"--anthropic-api-key={DEFAULT_API_KEY}",
        "--anthropic-retry-backoff=0.01",
        "--anthropic-report-dir=none",
        "-p",
        "no:cacheprovider",
    )
    result.assert_outcomes(passed=1)
    assert "LEFTOVERS" not in result.stdout.str(), result.stdout.str()
    assert rig.app.injected == {"500-after": 1}
    assert rig.upstream.inventory() == {}
