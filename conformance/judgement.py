"""A test's findings, collected as they come and judged once, at the test's end.

``api.expect`` used to raise at the first violated check, so one cause (a missing header) hid
every other finding of the answer and every assertion of the test after it: fix one, find the
next layer. A ``Judgement`` is the sink of one test instead (the ``api`` fixture's facade and
``admin_api`` share it): every check of every answer records its findings here and the test
goes on; the plugin then concludes (``conclude``) with all of them:

* ``error`` findings (or the test's own failed assertion) fail the test, listed together;
* ``warning`` findings are shown (a report section, a ``ConformanceWarning``), never fail;
* ``inconclusive`` findings, or an ``Inconclusive`` raised by the test (the upstream's record
  of an answer was not found, ...), skip it with the evidence when nothing failed.

Findings of checks registered with ``scope="run"`` (``request-id``, ``content-type``: what the
transport does to every answer) are kept apart in ``root``: the run reports each such deviation
once, as a root cause counted over the tests it hit, and fails the session, instead of failing
every test for the same header.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterable
from dataclasses import dataclass, field

import pytest

from conformance.checks import scope_of
from conformance.exchange import ConformanceError, ConformanceWarning, Finding, Inconclusive

__all__ = ["Judgement", "Stopped", "root_key"]


#: The attribute a test's own failure carries the recorded error findings in.
FINDINGS_ATTR = "conformance_findings"


class Stopped(ConformanceError):
    """``api.expect`` cannot go on (wrong status, an unusable body): its findings are already in
    the test's ``Judgement``, which adds them to the test's failure only once."""


def root_key(f: Finding) -> tuple[str, str]:
    """What makes two run-scope findings the same root cause: the check and its rule."""
    return f.check, f.rule or f.message


@dataclass
class Judgement:
    """The findings of one test (see the module docstring).

    ``immediate``: no plugin concludes (an ``Api`` built outside a suite test), so ``record``
    raises at once, as ``raise_for_findings`` does, run-scope findings included.
    ``inconclusive_errors``: exception types that mean "cannot judge" besides ``Inconclusive``
    (the plugin passes ``conformance.upstream.UpstreamLookupError``).
    """

    immediate: bool = False
    inconclusive_errors: tuple[type[BaseException], ...] = ()
    #: Subtypes of those that still fail (an unreachable upstream: a setting to fix).
    not_inconclusive: tuple[type[BaseException], ...] = ()
    findings: list[Finding] = field(default_factory=list)
    root: list[Finding] = field(default_factory=list)
    contexts: list[str] = field(default_factory=list)

    def record(self, findings: Iterable[Finding], context: str = "") -> None:
        """Keep ``findings`` (about the answer described by ``context``)."""
        found = list(findings)
        if self.immediate:
            from conformance.exchange import raise_for_findings

            raise_for_findings(found, context)
            return
        for f in found:
            if scope_of(f.check) == "run":
                if root_key(f) not in {root_key(r) for r in self.root}:
                    self.root.append(f)
            else:
                self.findings.append(f)
                if context and f.severity == "error" and context not in self.contexts:
                    self.contexts.append(context)

    def stop(self, findings: Iterable[Finding], context: str = "") -> Stopped:
        """The exception ``expect`` raises when the test cannot go on; ``findings`` are the
        answer-scope ones of that answer (already recorded)."""
        shown = [f for f in findings if scope_of(f.check) != "run"]
        return Stopped(shown, context)

    # --- the verdict -------------------------------------------------------------------------

    @property
    def errors(self) -> list[Finding]:
        return [f for f in self.findings if f.severity == "error"]

    @property
    def warnings(self) -> list[Finding]:
        return [f for f in self.findings if f.severity == "warning"]

    @property
    def inconclusive(self) -> list[Finding]:
        return [f for f in self.findings if f.severity == "inconclusive"]

    def _is_inconclusive(self, exc: BaseException) -> bool:
        if self.not_inconclusive and isinstance(exc, self.not_inconclusive):
            return False
        return isinstance(exc, (Inconclusive, *self.inconclusive_errors))

    def conclude(self, exc: BaseException | None) -> BaseException | None:
        """What the test's call phase ends with, given what it raised (``exc``, or None).

        Returns the exception to raise (None: the test passes): ``exc`` itself, with the
        recorded errors added to its message when it is the test's own failure (so its
        traceback still points into the test), a new ``ConformanceError`` when only recorded
        errors fail it, or a skip with the evidence when nothing failed but something could
        not be judged. Warnings are issued here, once, whatever the verdict.
        """
        __tracebackhide__ = True
        if self.warnings:
            lines = "\n".join("  - " + f.format() for f in self.warnings)
            warnings.warn(
                ConformanceWarning(f"{len(self.warnings)} warning(s)\n{lines}"), stacklevel=2
            )
        errors = self.errors
        if exc is None:
            if errors:
                return self._failure(errors)
            return self._skip(None) if self.inconclusive else None
        if isinstance(exc, pytest.skip.Exception):  # the test's own skip
            return self._failure(errors) if errors else exc
        if self._is_inconclusive(exc):
            if errors:
                failure = self._failure(errors)
                failure.__cause__ = exc  # the inconclusive evidence, shown above the failure
                return failure
            return self._skip(exc)
        if not errors or not isinstance(exc, Exception | pytest.fail.Exception):
            return exc  # nothing recorded to add, or an interrupt / exit
        if isinstance(exc, ConformanceError):  # Stopped, or the test's raise_for_findings
            merged = [*errors, *(f for f in exc.findings if f not in errors)]
            _set_message(exc, str(self._failure(merged)))
            exc.findings = [*merged, *self.warnings]
            return exc
        if isinstance(exc, AssertionError | pytest.fail.Exception):  # the test's own verdict
            _set_message(
                exc,
                f"{_message(exc)}\n\nand the answers broke the contract: {self._failure(errors)}",
            )
            # the findings travel with the failure, for whoever reads it (the mutation score)
            setattr(exc, FINDINGS_ATTR, list(errors))
            return exc
        # a KeyError or TypeError on a broken answer: the findings say why; its traceback
        # (into the test) is shown as the cause
        failure = self._failure(errors)
        failure.__cause__ = exc
        return failure

    def _skip(self, exc: BaseException | None) -> BaseException:
        evidence = [f.format() for f in self.inconclusive]
        if exc is not None:
            evidence.insert(0, f"{type(exc).__name__}: {exc}")
            evidence += [f.format() for f in getattr(exc, "findings", ())]
        return pytest.skip.Exception(
            "inconclusive: " + "; ".join(evidence), _use_item_location=True
        )

    def _failure(self, findings: list[Finding]) -> ConformanceError:
        where = "; ".join(self.contexts[:3]) + ("; ..." if len(self.contexts) > 3 else "")
        return ConformanceError([*findings, *self.warnings], where)


def _message(exc: BaseException) -> str:
    return str(getattr(exc, "msg", None) or exc)


def _set_message(exc: BaseException, text: str) -> None:
    """Rewrite what ``exc`` says, keeping the exception (and so its traceback into the test)."""
    if isinstance(exc, pytest.fail.Exception):
        exc.msg = text
    exc.args = (text,)
