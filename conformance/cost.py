"""What a run spends: the ``--anthropic-max-cost`` cap and the cost summary's lines.

Both read the tokens the answers' ``usage`` reports, priced from the one price table
(``catalog.cost_usd``, ``catalog.cache_cost_usd``; ``RunLog`` does the pricing). They apply
whenever usage is present, whatever the target: the embedded reference server reports usage like
the real API, so the cap can be tested offline; only the summary's wording (``billed``) depends on
whether the target bills tokens.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from conformance import catalog
from conformance.runlog import RunLog

__all__ = ["MOST_EXPENSIVE", "Budget", "StoppedAt", "summary_lines", "unpriced_line"]

#: How many of the most expensive tests the summary names.
MOST_EXPENSIVE = 5


def _dollars(value: float) -> str:
    """Four decimals, six below a hundredth of a cent (the embedded server's tiny answers)."""
    return f"${value:.4f}" if value >= 0.0001 or value == 0 else f"${value:.6f}"


@dataclass(frozen=True)
class StoppedAt:
    """Where a run hit its cost cap: the test not started, what was spent, the cap."""

    test: str
    spent_usd: float
    cap_usd: float
    estimate_usd: float
    message: str

    def as_dict(self) -> dict[str, Any]:
        return {
            "test": self.test,
            "spent_usd": round(self.spent_usd, 6),
            "cap_usd": self.cap_usd,
            "estimate_usd": round(self.estimate_usd, 6),
            "message": self.message,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> StoppedAt:
        return cls(
            str(data["test"]),
            float(data["spent_usd"]),
            float(data["cap_usd"]),
            float(data.get("estimate_usd", 0.0)),
            str(data.get("message", "")),
        )


@dataclass(frozen=True)
class Budget:
    """The run's cap, in US dollars at list price.

    Under xdist each of the ``workers`` gets an equal share: a worker cannot see what the others
    spent before its next test, and a share never lets the run as a whole exceed the cap.
    """

    cap_usd: float
    workers: int = 1

    @property
    def share_usd(self) -> float:
        return self.cap_usd / max(self.workers, 1)

    def check(self, log: RunLog, nodeid: str) -> StoppedAt | None:
        """Whether ``nodeid`` may start: not when the amount spent plus an estimate of the
        next test (the most expensive test so far: a test's cost is not known before it runs)
        would exceed the cap."""
        spent = log.cost_usd
        estimate = max((c.cost_usd for c in log.costs.values()), default=0.0)
        if spent + estimate <= self.share_usd and spent < self.share_usd:
            return None
        share = (
            f" (this worker's share of {self.workers} workers: {_dollars(self.share_usd)})"
            if self.workers > 1
            else ""
        )
        message = (
            f"anthropic-conformance: cost cap reached: {_dollars(spent)} spent at list price, "
            f"--anthropic-max-cost {_dollars(self.cap_usd)}{share}; the next test could cost "
            f"about {_dollars(estimate)} (the most expensive so far): stopped before {nodeid}"
        )
        return StoppedAt(nodeid, spent, self.cap_usd, estimate, message)


def summary_lines(
    costs: Mapping[str, Mapping[str, Any]],
    total_usd: float,
    input_tokens: int,
    output_tokens: int,
    *,
    billed: bool,
    top: int = MOST_EXPENSIVE,
) -> list[str]:
    """The run's total and its most expensive tests (``costs``: nodeid -> a ``TestCost`` as
    plain data). ``billed`` is false for a target that does not bill tokens: the figures are
    then what the real API would have charged."""
    how = "at list price" if billed else "at list price if the real API had answered"
    lines = [
        f"anthropic-conformance: {input_tokens} input + {output_tokens} output tokens, "
        f"about {_dollars(total_usd)} {how}"
    ]
    ranked = sorted(costs.items(), key=lambda kv: -float(kv[1].get("cost_usd", 0.0)))
    ranked = [(n, c) for n, c in ranked if float(c.get("cost_usd", 0.0)) > 0][:top]
    if ranked:
        lines.append(f"most expensive test(s), of {len(costs)} that reported usage:")
        lines += [
            f"  {_dollars(float(c['cost_usd']))}  {int(c.get('input_tokens', 0))} in + "
            f"{int(c.get('output_tokens', 0))} out  {nodeid}"
            for nodeid, c in ranked
        ]
    unpriced = unpriced_line(m for c in costs.values() for m in c.get("unpriced", ()))
    if unpriced:
        lines.append(unpriced)
    return lines


def unpriced_line(models: Iterable[str]) -> str:
    """The models without a price row, said once: their cost is a guess."""
    names = sorted(set(models))
    if not names:
        return ""
    return (
        f"anthropic-conformance: no list price known for {', '.join(names)} (not in the price "
        f"table, conformance/catalog.py): priced as {catalog.CHEAPEST_MODEL.id}, the cheapest "
        "model; what the real API charges for it is unknown"
    )
