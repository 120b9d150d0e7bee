"""What a run has seen: each test's exchanges, the drift found, the tokens spent.

The plugin prints it (report sections, terminal summary); later the report renders it.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from conformance import catalog
from conformance.exchange import Exchange


@dataclass
class RunLog:
    """Collects exchanges per test, unknown fields (drift) and token usage."""

    exchanges: dict[str, list[Exchange]] = field(default_factory=dict)
    drift: Counter[tuple[str, str]] = field(default_factory=Counter)
    input_tokens: int = 0
    output_tokens: int = 0
    cost_usd: float = 0.0
    current: str = ""
    #: Answers the target gave, and answers a cassette played back (the target not asked).
    answers_from_target: int = 0
    answers_from_cassettes: int = 0
    _plays_seen: int = 0  # cassette plays counted so far (plays of earlier runs excluded)

    def record(self, exchange: Exchange) -> None:
        # late: the cassettes package imports the validation layer
        from conformance.cassettes import plays

        played = plays()
        exchange.replayed = exchange.replayed or played > self._plays_seen
        self._plays_seen = played
        if exchange.replayed:
            self.answers_from_cassettes += 1
        else:
            self.answers_from_target += 1
        exchange.source = exchange.source or self.current
        self.exchanges.setdefault(self.current, []).append(exchange)
        usage = _usage_of(exchange)
        if usage:
            inp, out = int(usage.get("input_tokens") or 0), int(usage.get("output_tokens") or 0)
            self.input_tokens += inp
            self.output_tokens += out
            model = (exchange.request_json or {}).get("model", catalog.DEFAULT_MODEL)
            self.cost_usd += catalog.cost_usd(str(model), inp, out)
            self.cost_usd += catalog.cache_cost_usd(str(model), usage)
        # late: lint imports the validation layer
        from conformance.cassettes.lint import header_drift

        for kind, name in header_drift(exchange):
            self.drift[(_where(exchange), f"{kind} {name}")] += 1

    def __post_init__(self) -> None:
        from conformance.cassettes import plays  # late: see record

        self._plays_seen = plays()  # an earlier run in this process played those

    def record_drift(self, exchange: Exchange, unknown: list[str]) -> None:
        endpoint = exchange.endpoint
        where = endpoint.name if endpoint else f"{exchange.method} {exchange.path}"
        for pointer in unknown:
            self.drift[(where, pointer)] += 1

    def for_test(self, nodeid: str) -> list[Exchange]:
        return self.exchanges.get(nodeid, [])

    def describe_test(self, nodeid: str) -> str:
        """One line per call: method, path, status, request-id, retries."""
        lines = []
        for ex in self.for_test(nodeid):
            retry = (
                f" — needed {ex.retries} retr{'y' if ex.retries == 1 else 'ies'}"
                if ex.retries
                else ""
            )
            lines.append(f"{ex.describe()} in {ex.elapsed:.2f}s{retry}")
        return "\n".join(lines)


def _where(exchange: Exchange) -> str:
    endpoint = exchange.endpoint
    return endpoint.name if endpoint else f"{exchange.method} {exchange.path}"


def _usage_of(exchange: Exchange) -> dict[str, Any] | None:
    """The final usage of a messages answer (JSON or stream), if it has one."""
    if exchange.endpoint is None or exchange.endpoint.name != "messages.create":
        return None
    if exchange.events is not None:
        usage: dict[str, Any] = {}
        for ev in exchange.events:
            data = ev.json if isinstance(ev.json, dict) else {}
            if ev.type == "message_start":
                usage.update((data.get("message") or {}).get("usage") or {})
            elif ev.type == "message_delta":
                usage.update({k: v for k, v in (data.get("usage") or {}).items() if v is not None})
        return usage or None
    body = exchange.json
    if isinstance(body, dict) and isinstance(body.get("usage"), dict):
        return dict(body["usage"])
    return None
