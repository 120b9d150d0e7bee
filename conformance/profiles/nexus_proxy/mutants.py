"""The mutants of this profile: name -> the bug ``reference.py`` plants (``Profile.mutants``)."""

from __future__ import annotations

from collections.abc import Mapping

MUTANTS: Mapping[str, str] = {
    "stats-total-input-only": "/token-stats tokens.total counts input tokens only",
    "stats-tenant-sum-short": "/token-stats total_requests leaves out the last tenant",
    "stats-as-built": "/token-stats answers the as-built camelCase counters keyed by tenant",
    "stream-output-not-counted": "the output tokens of a streamed request are not counted",
    "tenant-other-header": "the tenant is read from the other mode's header (Host / MSL-Train-Id)",
    "tenant-names-swapped": "answers name tenants with the other mode's fields (by_train ...)",
    "request-total-input-only": "request details total_tokens counts input tokens only",
    "daily-totals-stale": "daily usage totals leave out the last day",
    "window-count-inference-only": "the current window's request count is inference requests only",
    "percentage-uncapped": "the usage percentage is not capped at 100 above the limit",
    "success-rate-count": "success_rate is the number of successful requests, not a percentage",
    "pages-floor": "total_pages rounds down",
    "page-offset-off-by-one": "page N starts at item N x per_page (skips a page)",
    "request-id-not-uuid": "request ids are req_<n>, not UUID v4",
    "chunks-reversed": "streaming chunks come in reverse order",
    "store-inference-only": "requests with fewer than two system blocks are not stored",
    "dashboard-as-built": "the dashboard answers camelCase with offset pagination",
    "health-healthy": 'GET /health says "healthy"',
    "error-as-built": "the proxy's own errors have no timestamp (as-built 401 envelope)",
    "dashboard-key-unchecked": "the dashboard API answers without a valid X-Dashboard-Key",
    "json-reserialized": "a JSON answer is re-serialized on the way (same data, other bytes)",
    "sse-reserialized": "SSE events are re-framed on the way (same data, other bytes)",
    "error-remapped": "upstream 429/5xx errors are handed back as 502 in the proxy's envelope",
}
