"""The facade conformance tests hold: call an endpoint by name, then ``expect`` a conformant answer.

Tests name endpoints (``"messages.create"``) rather than paths, so paths live only in the catalog;
``expect`` runs the schemas and the semantic checks and records every finding in the test's
``Judgement`` (``conformance.judgement``), which fails the test at its end with all of them; it
raises at once only when the test cannot go on (not the expected status, an unusable body).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from conformance import catalog
from conformance.checks.common import ERROR_TYPE, STATUS
from conformance.checks.messages import STREAM_ACCUMULATES
from conformance.client import ApiClient, AsyncApiClient, Headers, after_effect
from conformance.exchange import Exchange, Finding, shorten
from conformance.judgement import Judgement
from conformance.runlog import RunLog
from conformance.sse import AccumulationError, accumulate
from conformance.validation import validate_exchange

#: A bound on pages walked, so a cursor loop on a broken target cannot hang the run.
MAX_PAGES = 50


class _Expect:
    """What sync and async facades share: building requests and judging answers."""

    def __init__(
        self,
        model: str,
        api_version: str,
        runlog: RunLog | None,
        judgement: Judgement | None = None,
    ) -> None:
        self.model = model
        self.api_version = api_version
        self.runlog = runlog or RunLog()
        #: The test's sink of findings; without one (outside a suite test) ``expect`` raises at
        #: the first error, as there is nobody to conclude at the end.
        self.judgement = judgement or Judgement(immediate=True)

    def message_body(self, prompt: str | None = None, **body: Any) -> dict[str, Any]:
        """A messages request with the run's model and a small ``max_tokens`` by default."""
        request: dict[str, Any] = {"model": self.model, "max_tokens": 32}
        if prompt is not None:
            request["messages"] = [{"role": "user", "content": prompt}]
        request.update(body)
        return request

    def expect(self, exchange: Exchange, status: int = 200) -> Any:
        """Judge ``exchange`` (schemas, checks, ``status``) and return its JSON (or the message a
        stream folds into).

        Every finding goes to the test's ``Judgement``; the test fails at its end with all of
        them (warnings and inconclusive findings do not fail it). Unknown fields are drift, not
        findings. Raises at once only when the test cannot go on: the status is not ``status``,
        or the body is unusable (a JSON answer that is not a JSON object, a stream that does not
        fold into a message).
        """
        __tracebackhide__ = True  # failures point at the test, not the facade
        validation = validate_exchange(exchange)
        self.runlog.record_drift(exchange, validation.unknown)
        findings = list(validation.findings)
        context = exchange.describe()
        if exchange.status != status:
            lost = after_effect(exchange)  # a retry that met its own first try's work
            if lost is not None:
                raise lost
            detail = exchange.json if exchange.json is not None else exchange.body[:300]
            findings.insert(
                0,
                Finding(
                    STATUS,
                    f"expected HTTP {status}, got {exchange.status}",
                    rule=f"status == {status}",
                    value=shorten(detail, 300),
                    request_id=exchange.request_id,
                ),
            )
            self.judgement.record(findings, context)
            raise self.judgement.stop(findings, context)
        if exchange.events is not None:
            try:
                folded = accumulate(exchange.events)
            except AccumulationError as exc:
                if not any(f.check == STREAM_ACCUMULATES for f in findings):
                    findings.append(
                        Finding(STREAM_ACCUMULATES, str(exc), request_id=exchange.request_id)
                    )
                self.judgement.record(findings, context)
                raise self.judgement.stop(findings, context) from None
            self.judgement.record(findings, context)
            return folded
        self.judgement.record(findings, context)
        endpoint = exchange.endpoint
        if (
            status < 400
            and endpoint is not None
            and endpoint.body == "json"
            and exchange.body
            and not isinstance(exchange.json, dict)
        ):
            # the body is already a finding above (json-body or schema); nothing to go on with
            raise self.judgement.stop(findings, context)
        return exchange.json

    def expect_error(self, exchange: Exchange, status: int, error_type: str | None = None) -> Any:
        """Judge ``exchange`` as an error envelope with ``status`` and the matching type; return
        its JSON. A body that is not a JSON object stops the test (nothing to read from)."""
        __tracebackhide__ = True  # failures point at the test, not the facade
        body = self.expect(exchange, status)
        if not isinstance(body, dict):
            raise self.judgement.stop(
                [f for f in self.judgement.findings if f.request_id == exchange.request_id]
                or [
                    Finding(
                        ERROR_TYPE,
                        "the error body is not a JSON object",
                        value=shorten(exchange.body[:300]),
                        request_id=exchange.request_id,
                    )
                ],
                exchange.describe(),
            )
        wanted = error_type or catalog.ERROR_TYPES.get(status)
        got = (body.get("error") or {}).get("type") if isinstance(body.get("error"), dict) else None
        if wanted and got != wanted:
            self.judgement.record(
                [
                    Finding(
                        ERROR_TYPE,
                        f"expected error.type {wanted!r} for this request, got {got!r}",
                        pointer="/error/type",
                        rule=f"error.type == {wanted!r}",
                        value=shorten(body),
                        request_id=exchange.request_id,
                    )
                ],
                exchange.describe(),
            )
        return body


def _path(endpoint: str, path_params: Mapping[str, str]) -> str:
    return catalog.endpoint(endpoint).url_path(**path_params)


class Api(_Expect):
    """Synchronous facade over ``ApiClient``."""

    def __init__(
        self,
        client: ApiClient,
        model: str,
        runlog: RunLog | None = None,
        judgement: Judgement | None = None,
    ) -> None:
        super().__init__(model, client.target.api_version, runlog, judgement)
        self.client = client

    def call(
        self,
        endpoint: str,
        json: Any = None,
        *,
        params: Mapping[str, Any] | None = None,
        headers: Headers | None = None,
        files: Any = None,
        data: Mapping[str, str] | None = None,
        **path_params: str,
    ) -> Exchange:
        """Call ``endpoint``; ``files``/``data`` send a multipart form (httpx's shapes)."""
        __tracebackhide__ = True  # failures point at the test, not the facade
        ep = catalog.endpoint(endpoint)
        return self.client.request(
            ep.method,
            _path(endpoint, path_params),
            json=json,
            params=params,
            headers=headers,
            files=files,
            data=data,
        )

    def create_message(self, prompt: str | None = None, **body: Any) -> Exchange:
        __tracebackhide__ = True  # failures point at the test, not the facade
        return self.call("messages.create", self.message_body(prompt, **body))

    def walk(
        self,
        endpoint: str,
        *,
        limit: int,
        until: Callable[[list[dict[str, Any]]], bool] | None = None,
        max_pages: int = MAX_PAGES,
        path_params: Mapping[str, str] | None = None,
    ) -> list[Exchange]:
        """Follow a list endpoint's cursors, ``expect``-ing each page; return every page.

        Works for both pagination styles: ID cursors (``has_more`` + ``after_id``) and page
        tokens (``next_page``). ``until(items so far)`` stops early; ``max_pages`` bounds a
        target whose cursors loop, so the walk cannot hang the run.
        """
        __tracebackhide__ = True  # failures point at the test, not the facade
        pages: list[Exchange] = []
        params: dict[str, Any] = {"limit": limit}
        items: list[dict[str, Any]] = []
        for _ in range(max_pages):
            ex = self.client.request(
                catalog.endpoint(endpoint).method, _path(endpoint, path_params or {}), params=params
            )
            page = self.expect(ex)
            pages.append(ex)
            items += page.get("data") or []
            if until is not None and until(items):
                break
            following = next_page_params(page, limit)
            if following is None:
                break
            params = following
        return pages


def next_page_params(page: Mapping[str, Any], limit: int) -> dict[str, Any] | None:
    """The query of the page after ``page``, or None on the last page. Both pagination styles:
    page tokens (``next_page``, the Admin reports) and ID cursors (``has_more`` + ``last_id``)."""
    if "next_page" in page and "has_more" not in page:
        return {"limit": limit, "page": page["next_page"]} if page["next_page"] else None
    if page.get("has_more"):
        return {"limit": limit, "after_id": page["last_id"]}
    return None


class AsyncApi(_Expect):
    """The asyncio twin of ``Api``."""

    def __init__(
        self,
        client: AsyncApiClient,
        model: str,
        runlog: RunLog | None = None,
        judgement: Judgement | None = None,
    ) -> None:
        super().__init__(model, client.target.api_version, runlog, judgement)
        self.client = client

    async def call(
        self,
        endpoint: str,
        json: Any = None,
        *,
        params: Mapping[str, Any] | None = None,
        headers: Headers | None = None,
        files: Any = None,
        data: Mapping[str, str] | None = None,
        **path_params: str,
    ) -> Exchange:
        __tracebackhide__ = True  # failures point at the test, not the facade
        ep = catalog.endpoint(endpoint)
        return await self.client.request(
            ep.method,
            _path(endpoint, path_params),
            json=json,
            params=params,
            headers=headers,
            files=files,
            data=data,
        )

    async def create_message(self, prompt: str | None = None, **body: Any) -> Exchange:
        __tracebackhide__ = True  # failures point at the test, not the facade
        return await self.call("messages.create", self.message_body(prompt, **body))
