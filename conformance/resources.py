"""The resource ledger: everything a run creates is registered, then deleted, whatever happens.

How to remove a kind of resource is data (``DELETIONS``: a few API calls, each with the statuses
that count as success and an optional condition or poll), and so is how ``cleanup`` finds the
leftovers of crashed runs (``LISTINGS``). Every resource the suite creates carries the run marker
``conformance-<yyyymmdd>-<hex>``: a file's name starts with it, every custom_id of a batch
starts with it. Batches have no name or metadata in the API, so ``cleanup`` recognises a suite
batch by reading its results: it is the suite's only if *every* custom_id carries the marker, and
a batch still in progress (results not readable yet) is never touched; the per-test and
per-session ledgers handle those. A resource without the marker is never touched.

Teardown never raises: a failure becomes a ``TeardownFailure`` (which resource, which
request-id) that the plugin reports next to the test's result, never instead of it.
"""

from __future__ import annotations

import logging
import secrets
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

from tenacity import Retrying, retry_if_result, stop_after_delay, wait_exponential

from conformance import catalog
from conformance.checks.batches import result_lines
from conformance.client import ApiClient
from conformance.exchange import Exchange

log = logging.getLogger("conformance.resources")

RUN_MARKER_PREFIX = "conformance-"
#: The run id while recording or replaying cassettes: request bodies (file names, custom_ids)
#: must be the same on every run for a recorded request to match.
CASSETTE_RUN_ID = f"{RUN_MARKER_PREFIX}00000000-000000"
#: Seconds teardown waits for a canceled batch to end before it can be deleted.
BATCH_END_DEADLINE = 120.0
MAX_PAGES = 100


def new_run_id() -> str:
    """A fresh run marker, e.g. ``conformance-20261124-a1b2c3`` (UTC date + 6 hex digits)."""
    return f"{RUN_MARKER_PREFIX}{time.strftime('%Y%m%d', time.gmtime())}-{secrets.token_hex(3)}"


@dataclass(frozen=True)
class Resource:
    """Something the suite created: its kind (a key of ``DELETIONS``), id and optional parent."""

    kind: str
    id: str
    parent: str | None = None
    label: str = ""

    def describe(self) -> str:
        where = f" in {self.parent}" if self.parent else ""
        return f"{self.kind} {self.id}{where}" + (f" ({self.label})" if self.label else "")


#: Path parameters of a step: a function of the resource, or (path param, Resource attribute)
#: pairs such as ``(("workspace_id", "parent"), ("user_id", "id"))``.
PathParams = Callable[[Resource], dict[str, str]] | tuple[tuple[str, str], ...]


@dataclass(frozen=True)
class Step:
    """One call of a deletion.

    ``when(client, resource)`` false skips the step (e.g. cancel only a batch in progress);
    ``until(json)`` repeats the call with backoff until it holds or ``deadline`` seconds pass.
    An answer of 404 means the resource is already gone: success, and the remaining steps are
    skipped.
    """

    endpoint: str
    path_params: PathParams
    ok_statuses: frozenset[int] = frozenset({200})
    when: Callable[[ApiClient, Resource], bool] | None = None
    until: Callable[[Any], bool] | None = None
    deadline: float = 60.0

    def params(self, resource: Resource) -> dict[str, str]:
        if callable(self.path_params):
            return self.path_params(resource)
        return {name: str(getattr(resource, attr)) for name, attr in self.path_params}


@dataclass(frozen=True)
class Deletion:
    """How to remove one kind: its steps, and the features whose beta headers they need."""

    kind: str
    steps: tuple[Step, ...]
    features: tuple[str, ...] = ()


@dataclass(frozen=True)
class Listing:
    """How ``cleanup`` finds leftovers of one kind.

    ``marked(item)`` says the item carries ``RUN_MARKER_PREFIX``; ``markers(item)`` are the
    strings that carry it (all must start with the run prefix ``cleanup`` is given);
    ``enrich(client, item)`` may fetch more (None: cannot be judged, never touched).
    """

    kind: str
    endpoint: str
    marked: Callable[[dict[str, Any]], bool]
    markers: Callable[[dict[str, Any]], Sequence[str]] | None = None
    enrich: Callable[[ApiClient, dict[str, Any]], dict[str, Any] | None] | None = None
    features: tuple[str, ...] = ()
    id_key: str = "id"


@dataclass(frozen=True)
class TeardownFailure:
    """A resource teardown could not remove, and the answer that said so."""

    resource: Resource
    status: int | None
    request_id: str | None
    message: str

    def format(self) -> str:
        status = f"HTTP {self.status}" if self.status is not None else "no answer"
        rid = f", request-id {self.request_id}" if self.request_id else ""
        return f"could not delete {self.resource.describe()}: {status}{rid}: {self.message}"


# --- the tables -----------------------------------------------------------------------------------

_BY_ID: tuple[tuple[str, str], ...] = (("batch_id", "id"),)
_FILE_BY_ID: tuple[tuple[str, str], ...] = (("file_id", "id"),)


def _headers(client: ApiClient, features: Sequence[str]) -> dict[str, str]:
    betas = catalog.betas_for([*client.features, *features], client.target.api_version)
    return {"anthropic-beta": ",".join(dict.fromkeys(betas))} if betas else {}


def _batch_in_progress(client: ApiClient, resource: Resource) -> bool:
    path = catalog.endpoint("batches.retrieve").url_path(batch_id=resource.id)
    ex = client.get(path)
    return ex.status == 200 and isinstance(ex.json, dict) and \
        ex.json.get("processing_status") == "in_progress"


def _ended(body: Any) -> bool:
    return isinstance(body, dict) and body.get("processing_status") == "ended"


DELETIONS: dict[str, Deletion] = {
    "file": Deletion("file", (Step("files.delete", _FILE_BY_ID),), features=("files",)),
    "batch": Deletion("batch", (
        Step("batches.cancel", _BY_ID, when=_batch_in_progress),
        Step("batches.retrieve", _BY_ID, until=_ended, deadline=BATCH_END_DEADLINE),
        Step("batches.delete", _BY_ID),
    )),
    # Admin kinds: remove them with a client holding the admin key (plugin fixture admin_api).
    "invite": Deletion("invite", (Step("admin.invites.delete", (("invite_id", "id"),)),)),
    "workspace": Deletion("workspace", (
        Step("admin.workspaces.archive", (("workspace_id", "id"),)),)),
    "workspace_member": Deletion("workspace_member", (
        Step("admin.workspace_members.delete", (("workspace_id", "parent"), ("user_id", "id"))),
    )),
}


def _file_marked(item: dict[str, Any]) -> bool:
    return str(item.get("filename", "")).startswith(RUN_MARKER_PREFIX)


def _batch_custom_ids(client: ApiClient, item: dict[str, Any]) -> dict[str, Any] | None:
    """The batch with ``_custom_ids`` read from its results; None while they are not readable."""
    if item.get("processing_status") != "ended" or not item.get("id"):
        return None
    path = catalog.endpoint("batches.results").url_path(batch_id=str(item["id"]))
    ex = client.get(path, headers={"accept": "application/binary"})
    if ex.status != 200:
        return None
    ids = [line.get("custom_id") for line in result_lines(ex.body) if isinstance(line, dict)]
    return {**item, "_custom_ids": [str(i) for i in ids]}


def _batch_marked(item: dict[str, Any]) -> bool:
    ids = item.get("_custom_ids") or []
    return bool(ids) and all(str(i).startswith(RUN_MARKER_PREFIX) for i in ids)


LISTINGS: dict[str, Listing] = {
    "file": Listing("file", "files.list", _file_marked,
                    markers=lambda item: [str(item.get("filename", ""))], features=("files",)),
    "batch": Listing("batch", "batches.list", _batch_marked,
                     markers=lambda item: [str(i) for i in item.get("_custom_ids") or []],
                     enrich=_batch_custom_ids),
}

#: Leftovers of the Admin API kinds; listed with an admin client only (a normal key gets 403).
#: Members need no listing: archiving a marked workspace takes its memberships with it.
ADMIN_LISTINGS: dict[str, Listing] = {
    "invite": Listing("invite", "admin.invites.list",
                      lambda item: item.get("status") == "pending"
                      and str(item.get("email", "")).startswith(RUN_MARKER_PREFIX),
                      markers=lambda item: [str(item.get("email", ""))]),
    "workspace": Listing("workspace", "admin.workspaces.list",
                         lambda item: item.get("archived_at") is None
                         and str(item.get("name", "")).startswith(RUN_MARKER_PREFIX),
                         markers=lambda item: [str(item.get("name", ""))]),
}


# --- removing one resource ------------------------------------------------------------------------


def _call(client: ApiClient, step: Step, resource: Resource, headers: dict[str, str]) -> Exchange:
    ep = catalog.endpoint(step.endpoint)
    return client.request(ep.method, ep.url_path(**step.params(resource)), headers=headers)


def _failure(resource: Resource, ex: Exchange | None, message: str) -> TeardownFailure:
    return TeardownFailure(resource, ex.status if ex else None, ex.request_id if ex else None,
                           message)


def _describe_error(ex: Exchange) -> str:
    body = ex.json
    if isinstance(body, dict) and isinstance(body.get("error"), dict):
        return f"{body['error'].get('type')}: {body['error'].get('message')}"
    return ex.body[:200].decode("utf-8", "replace")


def remove(client: ApiClient, resource: Resource) -> TeardownFailure | None:
    """Run the deletion of ``resource``; None on success (already gone counts). Never raises."""
    deletion = DELETIONS.get(resource.kind)
    if deletion is None:
        return _failure(resource, None, f"no deletion known for kind {resource.kind!r} "
                        f"(known: {', '.join(sorted(DELETIONS))})")
    headers = _headers(client, deletion.features)
    ex: Exchange | None = None
    try:
        for step in deletion.steps:
            if step.when is not None and not step.when(client, resource):
                continue
            if step.until is None:
                ex = _call(client, step, resource, headers)
            else:
                ex = _poll(client, step, resource, headers)
            if ex.status == 404:
                return None  # already gone: nothing left to do
            if ex.status not in step.ok_statuses:
                return _failure(resource, ex, f"{step.endpoint}: {_describe_error(ex)}")
            if step.until is not None and not step.until(ex.json):
                return _failure(resource, ex, f"{step.endpoint}: still not done after "
                                f"{step.deadline:g}s")
    except Exception as exc:  # teardown reports, it never raises
        return _failure(resource, ex, f"{type(exc).__name__}: {exc}")
    return None


def _poll(client: ApiClient, step: Step, resource: Resource, headers: dict[str, str]
          ) -> Exchange:
    def unfinished(ex: Exchange) -> bool:
        return ex.status in step.ok_statuses and step.until is not None \
            and not step.until(ex.json)

    retrying = Retrying(retry=retry_if_result(unfinished), stop=stop_after_delay(step.deadline),
                        wait=wait_exponential(multiplier=0.1, max=10), retry_error_callback=lambda
                        state: state.outcome.result() if state.outcome else None)
    result: Exchange = retrying(_call, client, step, resource, headers)
    return result


# --- the ledger -------------------------------------------------------------------------------


@dataclass
class ResourceLedger:
    """Resources in creation order; ``teardown`` removes them newest first.

    A test's ledger reports to the session's (``parent``): what a test's teardown could not run
    (an interrupted run) or could not remove is still removed when the session ends.
    """

    parent: ResourceLedger | None = None
    _items: list[Resource] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def register(self, kind: str, id: str, *, parent: str | None = None, label: str = ""
                 ) -> Resource:
        """Record a resource the moment it exists (call right after the create answered)."""
        resource = Resource(kind, id, parent, label)
        with self._lock:
            self._items.append(resource)
        if self.parent is not None:
            self.parent._add(resource)
        return resource

    def _add(self, resource: Resource) -> None:
        with self._lock:
            self._items.append(resource)

    def discard(self, resource: Resource) -> None:
        """Forget ``resource`` (it was removed some other way)."""
        with self._lock:
            if resource in self._items:
                self._items.remove(resource)
        if self.parent is not None:
            self.parent.discard(resource)

    @property
    def resources(self) -> list[Resource]:
        with self._lock:
            return list(self._items)

    def __len__(self) -> int:
        return len(self.resources)

    def __iter__(self) -> Iterator[Resource]:
        return iter(self.resources)

    def teardown(self, client: ApiClient) -> list[TeardownFailure]:
        """Remove every resource, newest first; never raises. Returns what could not be."""
        failures: list[TeardownFailure] = []
        while True:
            with self._lock:
                if not self._items:
                    break
                resource = self._items.pop()
            failure = remove(client, resource)
            if failure is None:
                if self.parent is not None:
                    self.parent.discard(resource)
            else:
                log.warning("%s", failure.format())
                failures.append(failure)
        return failures


# --- cleanup of crashed runs ----------------------------------------------------------------------


def _walk(client: ApiClient, listing: Listing) -> Iterator[dict[str, Any]]:
    ep = catalog.endpoint(listing.endpoint)
    headers = _headers(client, listing.features)
    params: dict[str, Any] = {"limit": 100}
    for _ in range(MAX_PAGES):
        ex = client.request(ep.method, ep.path, params=params, headers=headers)
        page = ex.json
        if ex.status != 200 or not isinstance(page, dict):
            raise RuntimeError(f"cannot list {listing.kind}s: {ex.describe()}: "
                               f"{_describe_error(ex)}")
        data = [item for item in page.get("data") or [] if isinstance(item, dict)]
        yield from data
        if page.get("next_page"):
            params = {"limit": 100, "page": page["next_page"]}
        elif page.get("has_more") and page.get("last_id"):
            params = {"limit": 100, "after_id": page["last_id"]}
        else:
            return


def find_leftovers(client: ApiClient, run_marker_prefix: str = RUN_MARKER_PREFIX,
                   listings: dict[str, Listing] | None = None) -> list[Resource]:
    """Every listed resource that carries ``run_marker_prefix`` (read-only).

    ``listings`` defaults to ``LISTINGS``; pass ``ADMIN_LISTINGS`` with an admin-key client.
    """
    if not run_marker_prefix.startswith(RUN_MARKER_PREFIX):
        raise ValueError(f"a run marker starts with {RUN_MARKER_PREFIX!r}, got "
                         f"{run_marker_prefix!r}: cleanup never touches other resources")
    found: list[Resource] = []
    for kind, listing in (LISTINGS if listings is None else listings).items():
        for item in _walk(client, listing):
            judged = listing.enrich(client, item) if listing.enrich else item
            if judged is None or not listing.marked(judged):
                continue
            markers = list(listing.markers(judged)) if listing.markers else []
            if listing.markers and not (markers and all(m.startswith(run_marker_prefix)
                                                        for m in markers)):
                continue
            label = markers[0] if markers else ""
            found.append(Resource(kind, str(judged[listing.id_key]), label=label))
    return found


def cleanup(client: ApiClient, run_marker_prefix: str = RUN_MARKER_PREFIX, *, dry_run: bool,
            failures: list[TeardownFailure] | None = None,
            listings: dict[str, Listing] | None = None) -> list[Resource]:
    """Find (and unless ``dry_run``, delete) leftovers carrying ``run_marker_prefix``.

    Returns the resources found; ``failures`` (when given) collects the ones not removed.
    """
    found = find_leftovers(client, run_marker_prefix, listings)
    if not dry_run:
        for resource in found:
            failure = remove(client, resource)
            if failure is not None and failures is not None:
                failures.append(failure)
    return found


# --- the `cleanup` command ---------------------------------------------------------------------


def add_arguments(parser: Any) -> None:
    """Options of ``anthropic-conformance cleanup``: the suite's own flags, plus the marker."""
    from conformance.settings import OPTIONS

    parser.add_argument("--dry-run", action="store_true",
                        help="list what would be deleted, delete nothing")
    parser.add_argument("--run", default=RUN_MARKER_PREFIX, metavar="MARKER",
                        help="only resources of this run marker (default: every suite run, "
                        f"{RUN_MARKER_PREFIX!r})")
    for opt in OPTIONS:
        if opt.field in ("base_url", "api_key", "api_version", "auth", "max_retries",
                         "retry_deadline", "timeout"):
            parser.add_argument(opt.flag, dest=f"opt_{opt.field}", default=None,
                                help=f"{opt.help} Env: {opt.env}.")


def command(args: Any) -> int:
    """Delete (or list) marked leftovers on the target the suite's settings point at."""
    import sys

    from conformance.client import RetryPolicy, Target, TargetUnreachable
    from conformance.settings import ConfigError, TargetKind, load_settings

    try:
        settings = load_settings(option=lambda o: getattr(args, f"opt_{o.field}", None))
    except ConfigError as exc:
        print(f"anthropic-conformance cleanup: {exc}", file=sys.stderr)
        return 2
    if settings.target_kind is not TargetKind.LIVE or settings.api_key is None:
        print("anthropic-conformance cleanup: no live target (set ANTHROPIC_BASE_URL and/or "
              "ANTHROPIC_API_KEY); the embedded reference server keeps nothing between runs",
              file=sys.stderr)
        return 2
    target = Target.from_settings(settings, settings.live_url,
                                  settings.api_key.get_secret_value())
    client = ApiClient(target, features=catalog.FEATURE_NAMES,
                       retry=RetryPolicy(settings.max_retries, settings.retry_deadline),
                       timeout=settings.timeout)
    failures: list[TeardownFailure] = []
    try:
        found = cleanup(client, args.run, dry_run=args.dry_run, failures=failures)
    except (ValueError, RuntimeError, TargetUnreachable) as exc:
        print(f"anthropic-conformance cleanup: {exc}", file=sys.stderr)
        return 2
    finally:
        client.close()
    failed = {f.resource for f in failures}
    verb = "would delete" if args.dry_run else "deleted"
    for resource in found:
        print(f"{'FAILED' if resource in failed else verb} {resource.describe()}")
    for failure in failures:
        print(failure.format(), file=sys.stderr)
    print(f"{len(found)} marked resource(s) {verb if not failures else 'found'} on "
          f"{settings.live_url} (marker {args.run!r})")
    return 1 if failures else 0
