"""Reading what the upstream reference server received and sent, to judge a proxy by it.

The reference server journals every answer (exact status, headers and bytes) next to the request
as it arrived (method, path, query, headers without credentials, body), and serves that record
at ``GET /_reference/answers`` (``conformance.reference.answers``). The suite calls it directly,
never through the proxy, with the reference server's key. An answer is found by the request-id
when the proxy forwards the upstream's, else by a marker the test put in the request
(``metadata.user_id``, and a copy in the system prompt, ``marker_text``), which the server
finds anywhere in the received body: a proxy that drops ``metadata`` is then judged for it
(``checks.fidelity``) instead of being unjudgeable.
"""

from __future__ import annotations

import json
import uuid
from typing import Any

import httpx

from conformance.client import ssl_context
from conformance.exceptions import ConformanceToolError
from conformance.exchange import Exchange
from conformance.reference.wire import ANSWERS_PATH
from conformance.sse import parse_sse


class UpstreamLookupError(LookupError):
    """The upstream has no record of the proxy's answer; the message says why and what to check.

    Not a verdict on the proxy: it may answer a bad request itself (which is allowed), or a
    translating proxy may lose every marker. The suite cannot judge such a request.
    """


class UpstreamUnreadable(UpstreamLookupError, ConformanceToolError):
    """The upstream's record cannot be read at all: a setting to fix, not a verdict on the proxy."""


class UpstreamUnreachable(UpstreamUnreadable):
    """Nothing answers at the upstream URL."""


def new_marker() -> str:
    """A unique ``metadata.user_id`` for one request, so its upstream answer can be found."""
    return f"conformance-{uuid.uuid4().hex}"


def marker_text(marker: str) -> str:
    """The copy of ``marker`` a test puts in the system prompt: the upstream finds a request by
    it even when the proxy dropped ``metadata`` (only the reference server reads it, as text)."""
    return f"[[conformance:marker={marker}]]"


def entry_exchange(entry: dict[str, Any]) -> Exchange:
    """One ``/_reference/answers`` entry as an ``Exchange``: the answer the upstream sent, and
    (``request_json``, ``request_headers``, ``url``: path and query) the request it received;
    ``request_json`` is None when the body was not JSON or was recorded only in part."""
    headers = {str(k).lower(): str(v) for k, v in (entry.get("headers") or {}).items()}
    body = str(entry.get("body") or "").encode()
    stream = headers.get("content-type", "").startswith("text/event-stream")
    found = entry.get("received")
    received: dict[str, Any] = found if isinstance(found, dict) else {}
    request_json: Any = None
    if received.get("body") and not received.get("truncated"):
        try:
            request_json = json.loads(received["body"])
        except ValueError:
            request_json = None
    query = str(received.get("query") or "")
    return Exchange(
        method=str(entry["method"]),
        path=str(entry["path"]),
        status=int(entry["status"]),
        response_headers=headers,
        body=body,
        request_json=request_json,
        request_headers={
            str(k).lower(): str(v) for k, v in (received.get("headers") or {}).items()
        },
        url=str(entry["path"]) + (f"?{query}" if query else ""),
        events=parse_sse(body) if stream else None,
        source=f"upstream {entry.get('request_id')}",
    )


class UpstreamJournal:
    """A client of the upstream reference server's record of its answers."""

    def __init__(
        self,
        base_url: str,
        api_key: str,
        *,
        timeout: float = 10.0,
        http: httpx.Client | None = None,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.http = http or httpx.Client(timeout=timeout, verify=ssl_context())
        self._headers = {"x-api-key": api_key}

    def entries(
        self, *, request_id: str | None = None, marker: str | None = None
    ) -> list[Exchange]:
        """Every recorded answer with this request-id and/or marker, oldest first."""
        params = {k: v for k, v in (("request_id", request_id), ("marker", marker)) if v}
        try:
            response = self.http.get(
                self.base_url + ANSWERS_PATH, params=params, headers=self._headers
            )
        except httpx.HTTPError as exc:  # one line naming the URL, not httpcore's traceback
            raise UpstreamUnreachable(
                f"the upstream {self.base_url} (--anthropic-upstream-url) is unreachable: "
                f"{type(exc).__name__}: {exc or 'no detail'}; is `anthropic-conformance serve` "
                "running there?"
            ) from None
        if response.status_code != 200:
            raise UpstreamUnreadable(
                f"GET {self.base_url}{ANSWERS_PATH} answered {response.status_code}: "
                f"{response.text[:200]} (is --anthropic-upstream-url our reference server, and "
                "--anthropic-upstream-api-key one of its keys?)"
            )
        return [entry_exchange(e) for e in response.json().get("data", [])]

    def answer_for(self, proxy: Exchange, marker: str | None = None) -> Exchange:
        """What the upstream sent for the request the proxy answered with ``proxy``.

        By the proxy's request-id when the upstream knows it (the proxy forwarded it), else by
        ``marker``; the last match wins (a proxy may have retried).
        """
        if proxy.request_id:
            found = self.entries(request_id=proxy.request_id)
            if found:
                return found[-1]
        if marker:
            found = self.entries(marker=marker)
            if found:
                return found[-1]
        raise UpstreamLookupError(
            f"the upstream {self.base_url} has no record of the answer to {proxy.describe()}: "
            f"the proxy's request-id {proxy.request_id!r} is not one the upstream sent, and "
            f"no request it received carried the marker {marker!r} (metadata.user_id and "
            "the system prompt). The proxy answered itself, lost the marker, or does not "
            "forward to this upstream"
        )

    def close(self) -> None:
        self.http.close()
