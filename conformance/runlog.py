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
class TestCost:
    """What one test's answers billed (their ``usage``), at list price."""

    __test__ = False  # not a pytest test class, whatever its name

    input_tokens: int = 0
    output_tokens: int = 0
    cost_usd: float = 0.0
    #: Models it called that have no row in the price table (priced as the cheapest one).
    unpriced: tuple[str, ...] = ()

    def as_dict(self) -> dict[str, Any]:
        """Plain data, for ``user_properties`` (to an xdist controller) and the report."""
        return {
            "input_tokens": self.input_tokens,
            "output_tokens": self.output_tokens,
            "cost_usd": self.cost_usd,
            "unpriced": list(self.unpriced),
        }


@dataclass
class RunLog:
    """Collects exchanges per test, unknown fields (drift) and token usage."""

    exchanges: dict[str, list[Exchange]] = field(default_factory=dict)
    drift: Counter[tuple[str, str]] = field(default_factory=Counter)
    input_tokens: int = 0
    output_tokens: int = 0
    cost_usd: float = 0.0
    #: nodeid -> what its answers billed: read by the cost cap and the cost summary.
    costs: dict[str, TestCost] = field(default_factory=dict)
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
            model = str((exchange.request_json or {}).get("model", catalog.DEFAULT_MODEL))
            cost = catalog.cost_usd(model, inp, out) + catalog.cache_cost_usd(model, usage)
            self.cost_usd += cost
            test = self.costs.setdefault(self.current, TestCost())
            test.input_tokens += inp
            test.output_tokens += out
            test.cost_usd += cost
            if catalog.find_model(model) is None and model not in test.unpriced:
                test.unpriced += (model,)
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

    def cost_of(self, nodeid: str) -> TestCost | None:
        """What ``nodeid``'s answers billed, if any of them reported usage."""
        return self.costs.get(nodeid)

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
