"""The resource ledger: everything a run creates is registered, then deleted, whatever happens.

How to remove a kind of resource is data (``DELETIONS``: a few API calls, each with the statuses
that count as success and an optional condition or poll), and so is how ``cleanup`` finds the
leftovers of crashed runs (``LISTINGS``). Every resource the suite creates carries the run marker
``conformance-<yyyymmdd>-<hex>``: a file's name starts with it, every custom_id of a batch
starts with it. Batches have no name or metadata in the API, so ``cleanup`` recognises a suite
batch by reading its results: it is the suite's only if *every* custom_id carries the marker, and
a batch still in progress (results not readable yet) is never touched; the per-test and
per-session ledgers handle those. A resource without the marker is never touched.

Which key removes or lists a kind is data too: a row with ``admin=True`` (invites, workspaces,
members) needs the admin key. Teardown and cleanup take ``Clients``, a small mapping from
credential (``API_KEY``, ``ADMIN_KEY``) to a client; a kind whose credential has no client is
skipped and said so, never attempted with the wrong key.

Teardown never raises: a failure becomes a ``TeardownFailure`` (which resource, which
request-id) that the plugin reports next to the test's result, never instead of it.
"""

from __future__ import annotations

import dataclasses
import logging
import secrets
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from conformance import catalog
from conformance.checks.batches import result_lines
from conformance.client import ApiClient, Uncertain, after_effect
from conformance.exchange import Exchange
from conformance.target import ADMIN_KEY as ADMIN_KEY  # the credentials, re-exported
from conformance.target import API_KEY as API_KEY

log = logging.getLogger("conformance.resources")

RUN_MARKER_PREFIX = "conformance-"
#: The run id while recording or replaying cassettes: request bodies (file names, custom_ids)
#: must be the same on every run for a recorded request to match.
CASSETTE_RUN_ID = f"{RUN_MARKER_PREFIX}00000000-000000"
#: Seconds teardown waits for a canceled batch to end before it can be deleted (at most: the
#: run's ``TeardownBudget`` may have less left).
BATCH_END_DEADLINE = 120.0
#: Seconds of teardown polling a whole run may spend (``--anthropic-teardown-deadline``).
TEARDOWN_DEADLINE = 60.0
MAX_PAGES = 100

#: One client per credential (``API_KEY``, ``ADMIN_KEY`` of conformance.target: the key of
#: ``Clients`` a row's ``admin`` flag selects); a missing credential means its kinds are skipped.
Clients = Mapping[str, ApiClient]


def as_clients(clients: ApiClient | Clients) -> Clients:
    """A bare client holds the normal API key (it never stands in for the admin key)."""
    return {API_KEY: clients} if isinstance(clients, ApiClient) else clients


def key_env(credential: str) -> str:
    """The environment variable that supplies ``credential`` (read from the OPTIONS table)."""
    from conformance.settings import OPTIONS

    field_name = "admin_api_key" if credential == ADMIN_KEY else "api_key"
    return next(o.env for o in OPTIONS if o.field == field_name and o.env)


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
    ``until(json)`` repeats the call with backoff until it holds, while ``pending(json)`` holds
    (an answer that is neither done nor pending, such as an error sent as 200, stops at once),
    for at most ``deadline`` seconds and what is left of the run's ``TeardownBudget``.
    An answer of 404 means the resource is already gone: success, and the remaining steps are
    skipped.
    """

    endpoint: str
    path_params: PathParams
    ok_statuses: frozenset[int] = frozenset({200})
    when: Callable[[ApiClient, Resource], bool] | None = None
    until: Callable[[Any], bool] | None = None
    deadline: float = 60.0
    pending: Callable[[Any], bool] | None = None

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
    admin: bool = False

    @property
    def credential(self) -> str:
        return ADMIN_KEY if self.admin else API_KEY


@dataclass(frozen=True)
class Listing:
    """How ``cleanup`` finds leftovers of one kind.

    ``marked(item)`` says the item carries ``RUN_MARKER_PREFIX``; ``markers(item)`` are the
    strings that carry it (all must start with the run prefix ``cleanup`` is given);
    ``enrich(client, item)`` may fetch more (None: cannot be judged, never touched).
    ``parent`` names a kind found earlier whose resources hold these (workspace members): the
    listing is walked once per found parent, with path parameter ``parent_param`` = its id,
    and an item counts as marked when its parent is.
    """

    kind: str
    endpoint: str
    marked: Callable[[dict[str, Any]], bool]
    markers: Callable[[dict[str, Any]], Sequence[str]] | None = None
    enrich: Callable[[ApiClient, dict[str, Any]], dict[str, Any] | None] | None = None
    features: tuple[str, ...] = ()
    id_key: str = "id"
    admin: bool = False
    parent: str | None = None
    parent_param: str = ""

    @property
    def credential(self) -> str:
        return ADMIN_KEY if self.admin else API_KEY


@dataclass(frozen=True)
class TeardownFailure:
    """A resource teardown could not remove, and the answer that said so.

    ``timed_out``: polling ran out of time (the step's or the run's teardown deadline); the
    session's safety net does not try such a resource again.
    """

    resource: Resource
    status: int | None
    request_id: str | None
    message: str
    timed_out: bool = False

    def format(self) -> str:
        status = f"HTTP {self.status}" if self.status is not None else "no answer"
        rid = f", request-id {self.request_id}" if self.request_id else ""
        return f"could not delete {self.resource.describe()}: {status}{rid}: {self.message}"

    def to_json(self) -> dict[str, Any]:
        """Plain data (for an xdist worker's ``workeroutput``); ``from_json`` reads it back."""
        r = self.resource
        return {
            "kind": r.kind,
            "id": r.id,
            "parent": r.parent,
            "label": r.label,
            "status": self.status,
            "request_id": self.request_id,
            "message": self.message,
            "timed_out": self.timed_out,
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> TeardownFailure:
        resource = Resource(
            str(data["kind"]), str(data["id"]), data.get("parent"), str(data.get("label") or "")
        )
        return cls(
            resource,
            data.get("status"),
            data.get("request_id"),
            str(data.get("message", "")),
            bool(data.get("timed_out")),
        )


@dataclass
class TeardownBudget:
    """The seconds of teardown polling one run may spend, shared by every ledger of the run
    (each test's and the session's safety net) and by ``cleanup``: a target whose batches never
    end costs the run this much once, not a deadline per batch and again at session end.

    ``clock`` and ``sleep`` are injectable so tests count polls instead of waiting.
    """

    seconds: float = TEARDOWN_DEADLINE
    clock: Callable[[], float] = time.monotonic
    sleep: Callable[[float], None] = time.sleep
    spent: float = 0.0
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def remaining(self) -> float:
        with self._lock:
            return max(0.0, self.seconds - self.spent)

    def charge(self, seconds: float) -> None:
        with self._lock:
            self.spent += max(0.0, seconds)


# --- the tables -----------------------------------------------------------------------------------

_BY_ID: tuple[tuple[str, str], ...] = (("batch_id", "id"),)
_FILE_BY_ID: tuple[tuple[str, str], ...] = (("file_id", "id"),)


def _headers(client: ApiClient, features: Sequence[str]) -> dict[str, str]:
    betas = catalog.betas_for([*client.features, *features], client.target.api_version)
    return {"anthropic-beta": ",".join(dict.fromkeys(betas))} if betas else {}


def _batch_in_progress(client: ApiClient, resource: Resource) -> bool:
    path = catalog.endpoint("batches.retrieve").url_path(batch_id=resource.id)
    ex = client.get(path)
    return (
        ex.status == 200
        and isinstance(ex.json, dict)
        and ex.json.get("processing_status") == "in_progress"
    )


def _ended(body: Any) -> bool:
    return isinstance(body, dict) and body.get("processing_status") == "ended"


def _ending(body: Any) -> bool:
    """A batch that may still end by itself (anything else will not, however long we poll)."""
    return isinstance(body, dict) and body.get("processing_status") in ("in_progress", "canceling")


DELETIONS: dict[str, Deletion] = {
    "file": Deletion("file", (Step("files.delete", _FILE_BY_ID),), features=("files",)),
    "batch": Deletion(
        "batch",
        (
            Step("batches.cancel", _BY_ID, when=_batch_in_progress),
            Step(
                "batches.retrieve",
                _BY_ID,
                until=_ended,
                deadline=BATCH_END_DEADLINE,
                pending=_ending,
            ),
            Step("batches.delete", _BY_ID),
        ),
    ),
    # Admin kinds: removed with the admin key only (a workspace cannot be deleted: archived).
    "invite": Deletion(
        "invite", (Step("admin.invites.delete", (("invite_id", "id"),)),), admin=True
    ),
    "workspace": Deletion(
        "workspace", (Step("admin.workspaces.archive", (("workspace_id", "id"),)),), admin=True
    ),
    "workspace_member": Deletion(
        "workspace_member",
        (Step("admin.workspace_members.delete", (("workspace_id", "parent"), ("user_id", "id"))),),
        admin=True,
    ),
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


#: In discovery order: a parent kind before the kinds it holds. ``cleanup`` deletes in reverse
#: (members before their workspace), like a ledger's teardown. Admin kinds are listed with the
#: admin key only (a normal key gets 403).
LISTINGS: dict[str, Listing] = {
    "file": Listing(
        "file",
        "files.list",
        _file_marked,
        markers=lambda item: [str(item.get("filename", ""))],
        features=("files",),
    ),
    "batch": Listing(
        "batch",
        "batches.list",
        _batch_marked,
        markers=lambda item: [str(i) for i in item.get("_custom_ids") or []],
        enrich=_batch_custom_ids,
    ),
    "invite": Listing(
        "invite",
        "admin.invites.list",
        lambda item: (
            item.get("status") == "pending"
            and str(item.get("email", "")).startswith(RUN_MARKER_PREFIX)
        ),
        markers=lambda item: [str(item.get("email", ""))],
        admin=True,
    ),
    "workspace": Listing(
        "workspace",
        "admin.workspaces.list",
        lambda item: (
            item.get("archived_at") is None
            and str(item.get("name", "")).startswith(RUN_MARKER_PREFIX)
        ),
        markers=lambda item: [str(item.get("name", ""))],
        admin=True,
    ),
    # Memberships in a marked workspace: removed before the workspace is archived.
    "workspace_member": Listing(
        "workspace_member",
        "admin.workspace_members.list",
        lambda item: True,
        id_key="user_id",
        admin=True,
        parent="workspace",
        parent_param="workspace_id",
    ),
}

#: The admin kinds alone (all need an admin-key client).
ADMIN_LISTINGS: dict[str, Listing] = {k: v for k, v in LISTINGS.items() if v.admin}


# --- removing one resource ------------------------------------------------------------------------


def _call(client: ApiClient, step: Step, resource: Resource, headers: dict[str, str]) -> Exchange:
    ep = catalog.endpoint(step.endpoint)
    return client.request(ep.method, ep.url_path(**step.params(resource)), headers=headers)


def _failure(resource: Resource, ex: Exchange | None, message: str) -> TeardownFailure:
    return TeardownFailure(
        resource, ex.status if ex else None, ex.request_id if ex else None, message
    )


def _describe_error(ex: Exchange) -> str:
    body = ex.json
    if isinstance(body, dict) and isinstance(body.get("error"), dict):
        return f"{body['error'].get('type')}: {body['error'].get('message')}"
    return ex.body[:200].decode("utf-8", "replace")


def remove(
    clients: ApiClient | Clients, resource: Resource, budget: TeardownBudget | None = None
) -> TeardownFailure | None:
    """Run the deletion of ``resource`` with the client of its credential; None on success
    (already gone counts). Polling spends ``budget`` (the run's; a fresh one when None).
    Never raises."""
    deletion = DELETIONS.get(resource.kind)
    if deletion is None:
        return _failure(
            resource,
            None,
            f"no deletion known for kind {resource.kind!r} (known: {', '.join(sorted(DELETIONS))})",
        )
    client = as_clients(clients).get(deletion.credential)
    if client is None:
        return _failure(
            resource,
            None,
            f"needs the {deletion.credential} key: set {key_env(deletion.credential)}",
        )
    budget = budget if budget is not None else TeardownBudget()
    headers = _headers(client, deletion.features)
    ex: Exchange | None = None
    try:
        for step in deletion.steps:
            if step.when is not None and not step.when(client, resource):
                continue
            if step.until is None:
                ex = _call(client, step, resource, headers)
            else:
                ex, waited = _poll(client, step, resource, headers, budget)
            if ex.status == 404:
                return None  # already gone: nothing left to do
            if ex.status not in step.ok_statuses:
                if after_effect(ex) is not None:
                    continue  # a retry refused because its first try did this step
                return _failure(resource, ex, f"{step.endpoint}: {_describe_error(ex)}")
            if step.until is not None and not step.until(ex.json):
                if step.pending is not None and not step.pending(ex.json):
                    return _failure(
                        resource,
                        ex,
                        f"{step.endpoint}: answered something that "
                        f"will not end by waiting: {_describe_error(ex)}",
                    )
                failure = _failure(
                    resource,
                    ex,
                    f"{step.endpoint}: still not done after "
                    f"{waited:.1f}s of polling (the step allows "
                    f"{step.deadline:g}s, the run's teardown deadline "
                    f"{budget.seconds:g}s: --anthropic-teardown-deadline)",
                )
                return dataclasses.replace(failure, timed_out=True)
    except Exception as exc:  # teardown reports, it never raises
        return _failure(resource, ex, f"{type(exc).__name__}: {exc}")
    return None


def _poll(
    client: ApiClient,
    step: Step,
    resource: Resource,
    headers: dict[str, str],
    budget: TeardownBudget,
) -> tuple[Exchange, float]:
    """Call ``step`` until its ``until`` holds (or it stops being ``pending``), with backoff,
    within the step's deadline and what is left of ``budget``: at least one call, even when
    the budget is spent. Returns the last answer and the seconds spent."""
    start = budget.clock()
    left_at_start = budget.remaining()
    wait = 0.1
    try:
        while True:
            ex = _call(client, step, resource, headers)
            body = ex.json
            if (
                ex.status not in step.ok_statuses
                or step.until is None
                or step.until(body)
                or (step.pending is not None and not step.pending(body))
            ):
                return ex, budget.clock() - start
            elapsed = budget.clock() - start
            left = min(step.deadline, left_at_start) - elapsed
            if left <= 0:
                return ex, elapsed
            budget.sleep(min(wait, left))
            wait = min(wait * 2, 10.0)
    finally:
        budget.charge(budget.clock() - start)


# --- the ledger -------------------------------------------------------------------------------


@dataclass
class ResourceLedger:
    """Resources in creation order; ``teardown`` removes them newest first.

    A test's ledger reports to the session's (``parent``): what a test's teardown could not run
    (an interrupted run) or could not remove is still removed when the session ends, except
    what timed out (``given_up``: trying again would only spend the deadline twice). Every
    ledger of a run polls on one ``TeardownBudget``: the root's ``budget``.
    """

    parent: ResourceLedger | None = None
    budget: TeardownBudget | None = None
    _items: list[Resource] = field(default_factory=list)
    _given_up: dict[Resource, TeardownFailure] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def run_budget(self) -> TeardownBudget:
        """The budget this ledger polls on: its own, else its parent's (made on first use)."""
        if self.budget is None:
            self.budget = self.parent.run_budget if self.parent is not None else TeardownBudget()
        return self.budget

    def register(
        self, kind: str, id: str, *, parent: str | None = None, label: str = ""
    ) -> Resource:
        """Record a resource the moment it exists (call right after the create answered,
        before judging the answer: a nonconforming answer still created it)."""
        resource = Resource(kind, id, parent, label)
        with self._lock:
            self._items.append(resource)
        if self.parent is not None:
            self.parent._add(resource)
        return resource

    def register_created(
        self,
        kind: str,
        ex: Exchange,
        *,
        id_key: str = "id",
        parent: str | None = None,
        label: str = "",
    ) -> Resource | None:
        """Register what a create answer says it made: a 200 whose JSON has a string
        ``id_key``; call it before ``api.expect(ex)`` so a failing check cannot leak it."""
        body = ex.json
        if ex.status != 200 or not isinstance(body, dict) or not isinstance(body.get(id_key), str):
            return None
        return self.register(kind, body[id_key], parent=parent, label=label)

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

    def give_up(self, failure: TeardownFailure) -> None:
        """Stop trying to remove ``failure.resource`` (it timed out): it is a leftover."""
        with self._lock:
            if failure.resource in self._items:
                self._items.remove(failure.resource)
            self._given_up[failure.resource] = failure
        if self.parent is not None:
            self.parent.give_up(failure)

    @property
    def given_up(self) -> list[TeardownFailure]:
        """What this ledger (or a child) stopped trying to remove, in the order it gave up."""
        with self._lock:
            return list(self._given_up.values())

    @property
    def resources(self) -> list[Resource]:
        with self._lock:
            return list(self._items)

    def __len__(self) -> int:
        return len(self.resources)

    def __iter__(self) -> Iterator[Resource]:
        return iter(self.resources)

    def teardown(self, clients: ApiClient | Clients) -> list[TeardownFailure]:
        """Remove every resource, newest first, each with the client of its kind's credential;
        never raises. Returns what could not be removed."""
        failures: list[TeardownFailure] = []
        budget = self.run_budget
        while True:
            with self._lock:
                if not self._items:
                    break
                resource = self._items.pop()
            failure = remove(clients, resource, budget)
            if failure is None:
                if self.parent is not None:
                    self.parent.discard(resource)
            else:
                log.warning("%s", failure.format())
                failures.append(failure)
                if failure.timed_out:
                    self.give_up(failure)
        return failures


# --- reconciling a retry that met its own first try -----------------------------------------------


@dataclass(frozen=True)
class Reconciliation:
    """How to find what the lost first try of a create made, by what the suite stamped on the
    request: ``stamp(call)`` reads it from the request (None: nothing to look for), the
    listing ``listing`` (a key of ``LISTINGS``) is walked, and every item for which
    ``match(item, stamp)`` holds is the first try's work (or the retry's, already registered)."""

    kind: str
    listing: str
    stamp: Callable[[Uncertain], Any]
    match: Callable[[dict[str, Any], Any], bool]
    #: The path parameter the listing needs, read from the create's path (members: the
    #: workspace), and which segment of that path holds it.
    parent_segment: int | None = None


def _json_field(name: str) -> Callable[[Uncertain], Any]:
    def stamp(call: Uncertain) -> Any:
        return call.json.get(name) if isinstance(call.json, dict) else None

    return stamp


def _custom_ids(call: Uncertain) -> frozenset[str] | None:
    requests = call.json.get("requests") if isinstance(call.json, dict) else None
    if not isinstance(requests, list):
        return None
    ids = frozenset(str(r.get("custom_id")) for r in requests if isinstance(r, dict))
    return ids or None


#: Create endpoint -> how to find what its lost first try made.
RECONCILIATIONS: dict[str, Reconciliation] = {
    "files.upload": Reconciliation(
        "file", "file", lambda call: call.filename, lambda item, name: item.get("filename") == name
    ),
    "batches.create": Reconciliation(
        "batch",
        "batch",
        _custom_ids,
        lambda item, ids: frozenset(item.get("_custom_ids") or ()) == ids,
    ),
    "admin.invites.create": Reconciliation(
        "invite",
        "invite",
        _json_field("email"),
        lambda item, email: item.get("email") == email and item.get("status") == "pending",
    ),
    "admin.workspaces.create": Reconciliation(
        "workspace",
        "workspace",
        _json_field("name"),
        lambda item, name: item.get("name") == name and item.get("archived_at") is None,
    ),
    "admin.workspace_members.create": Reconciliation(
        "workspace_member",
        "workspace_member",
        _json_field("user_id"),
        lambda item, user: item.get("user_id") == user,
        parent_segment=3,  # v1/organizations/workspaces/{workspace_id}/members
    ),
}
#: Batches listed when looking for a lost first try's batch: it was made moments ago, and
#: a batch list is newest first.
_RECENT_BATCHES = 100


def reconcile(
    ledger: ResourceLedger, clients: ApiClient | Clients, budget: TeardownBudget | None = None
) -> list[TeardownFailure]:
    """Register in ``ledger`` what the lost first tries of the clients' uncertain creates
    (``ApiClient.uncertain``) made, found by the request's stamp (a file name, the batch's
    custom_ids, an invite's email, a workspace's name, a member's user id) and not registered
    yet; teardown then removes them with the rest. A batch still in progress is polled (on the
    run's teardown budget) until its results tell whose it is. Never raises: what cannot be
    looked for is returned as a failure naming the stamp, so the run's end announces it."""
    by_credential = as_clients(clients)
    failures: list[TeardownFailure] = []
    seen: set[int] = set()
    for client in by_credential.values():
        if id(client) in seen:
            continue
        seen.add(id(client))
        calls, client.uncertain = list(client.uncertain), []
        for call in calls:
            failure = _reconcile_one(ledger, by_credential, call, budget or ledger.run_budget)
            if failure is not None:
                log.warning("%s", failure.format())
                failures.append(failure)
    return failures


def _reconcile_one(
    ledger: ResourceLedger, clients: Clients, call: Uncertain, budget: TeardownBudget
) -> TeardownFailure | None:
    found = catalog.match_endpoint(call.method, call.path)
    how = RECONCILIATIONS.get(found.name) if found else None
    stamp = how.stamp(call) if how else None
    if how is None or stamp is None:
        return None  # a delete, a cancel, an update: nothing new can exist
    listing = LISTINGS[how.listing]
    label = stamp if isinstance(stamp, str) else ",".join(sorted(stamp))[:80]
    client = clients.get(listing.credential)
    unknown = Resource(how.kind, "(the lost first try's, id unknown)", label=label)
    if client is None:
        return _failure(unknown, None, f"needs the {listing.credential} key to look for it")
    parent = None
    if how.parent_segment is not None:
        parent = call.path.strip("/").split("/")[how.parent_segment]
    mine = [*ledger.resources, *(ledger.parent.resources if ledger.parent else ())]
    known = {(r.kind, r.id, r.parent) for r in mine}
    try:
        items = _candidates(client, listing, parent)
        for item in items:
            if (how.kind, str(item.get(listing.id_key)), parent) in known:
                continue  # another test's (or this one's) registered resource: not a duplicate
            if how.kind == "batch":
                item = _settled_batch(client, item, budget) or item
            if not how.match(item, stamp):
                continue
            rid = str(item.get(listing.id_key))
            if (how.kind, rid, parent) not in known and rid != call.answered_id:
                ledger.register(how.kind, rid, parent=parent, label=label)
                log.warning(
                    "%s %s: its first try made %s %s too (answer lost); registered for teardown",
                    call.method,
                    call.path,
                    how.kind,
                    rid,
                )
    except Exception as exc:  # teardown reports, it never raises
        return _failure(unknown, None, f"could not look for it: {type(exc).__name__}: {exc}")
    return None


def _candidates(client: ApiClient, listing: Listing, parent: str | None) -> list[dict[str, Any]]:
    if listing.kind == "batch":
        ep = catalog.endpoint(listing.endpoint)
        ex = client.get(ep.path, params={"limit": _RECENT_BATCHES})
        page = ex.json
        if ex.status != 200 or not isinstance(page, dict):
            raise RuntimeError(f"cannot list batches: {ex.describe()}: {_describe_error(ex)}")
        return [i for i in page.get("data") or [] if isinstance(i, dict)]
    params = {listing.parent_param: parent} if listing.parent and parent else None
    return list(_walk(client, listing, params))


def _settled_batch(
    client: ApiClient, item: dict[str, Any], budget: TeardownBudget
) -> dict[str, Any] | None:
    """The batch with its results' custom_ids, waiting (on ``budget``) for it to end first."""
    if item.get("processing_status") in ("in_progress", "canceling"):
        step = DELETIONS["batch"].steps[1]  # batches.retrieve until ended
        resource = Resource("batch", str(item.get("id")))
        ex, _ = _poll(client, step, resource, {}, budget)
        if ex.status != 200 or not isinstance(ex.json, dict):
            return None
        item = ex.json
    return _batch_custom_ids(client, item)


# --- cleanup of crashed runs ----------------------------------------------------------------------


def _walk(
    client: ApiClient, listing: Listing, path_params: dict[str, str] | None = None
) -> Iterator[dict[str, Any]]:
    ep = catalog.endpoint(listing.endpoint)
    path = ep.url_path(**path_params) if path_params else ep.path
    headers = _headers(client, listing.features)
    params: dict[str, Any] = {"limit": 100}
    for _ in range(MAX_PAGES):
        ex = client.request(ep.method, path, params=params, headers=headers)
        page = ex.json
        if ex.status != 200 or not isinstance(page, dict):
            raise RuntimeError(
                f"cannot list {listing.kind}s: {ex.describe()}: {_describe_error(ex)}"
            )
        data = [item for item in page.get("data") or [] if isinstance(item, dict)]
        yield from data
        if page.get("next_page"):
            params = {"limit": 100, "page": page["next_page"]}
        elif page.get("has_more") and page.get("last_id"):
            params = {"limit": 100, "after_id": page["last_id"]}
        else:
            return


def find_leftovers(
    clients: ApiClient | Clients,
    run_marker_prefix: str = RUN_MARKER_PREFIX,
    listings: Mapping[str, Listing] | None = None,
    skipped: list[str] | None = None,
) -> list[Resource]:
    """Every listed resource that carries ``run_marker_prefix`` (read-only), in discovery order.

    ``listings`` defaults to ``LISTINGS``; each is walked with the client of its credential, and
    a kind without one is appended to ``skipped`` (when given) instead.
    """
    if not run_marker_prefix.startswith(RUN_MARKER_PREFIX):
        raise ValueError(
            f"a run marker starts with {RUN_MARKER_PREFIX!r}, got "
            f"{run_marker_prefix!r}: cleanup never touches other resources"
        )
    by_credential = as_clients(clients)
    found: list[Resource] = []
    for kind, listing in (LISTINGS if listings is None else listings).items():
        client = by_credential.get(listing.credential)
        if client is None:
            if skipped is not None:
                skipped.append(kind)
            continue
        if listing.parent is not None:
            found += _children(client, listing, [r for r in found if r.kind == listing.parent])
            continue
        for item in _walk(client, listing):
            judged = listing.enrich(client, item) if listing.enrich else item
            if judged is None or not listing.marked(judged):
                continue
            markers = list(listing.markers(judged)) if listing.markers else []
            if listing.markers and not (
                markers and all(m.startswith(run_marker_prefix) for m in markers)
            ):
                continue
            label = markers[0] if markers else ""
            found.append(Resource(kind, str(judged[listing.id_key]), label=label))
    return found


def _children(client: ApiClient, listing: Listing, parents: Sequence[Resource]) -> list[Resource]:
    """The items of ``listing`` inside each (already judged, marked) parent."""
    out: list[Resource] = []
    for parent in parents:
        for item in _walk(client, listing, {listing.parent_param: parent.id}):
            if listing.marked(item) and item.get(listing.id_key):
                out.append(
                    Resource(
                        listing.kind,
                        str(item[listing.id_key]),
                        parent=parent.id,
                        label=parent.label,
                    )
                )
    return out


def cleanup(
    clients: ApiClient | Clients,
    run_marker_prefix: str = RUN_MARKER_PREFIX,
    *,
    dry_run: bool,
    failures: list[TeardownFailure] | None = None,
    listings: Mapping[str, Listing] | None = None,
    skipped: list[str] | None = None,
) -> list[Resource]:
    """Find (and unless ``dry_run``, delete) leftovers carrying ``run_marker_prefix``.

    Deletes in reverse discovery order (members before their workspace). Returns the resources
    found; ``failures`` collects the ones not removed, ``skipped`` the kinds no client could
    list (both when given).
    """
    found = find_leftovers(clients, run_marker_prefix, listings, skipped)
    if not dry_run:
        budget = TeardownBudget()  # one deadline for the whole pass, as for a run
        for resource in reversed(found):
            failure = remove(clients, resource, budget)
            if failure is not None and failures is not None:
                failures.append(failure)
    return found


def skipped_message(skipped: Sequence[str]) -> str:
    """One line per missing credential, e.g. ``admin kinds skipped (invite, workspace): set
    ANTHROPIC_ADMIN_API_KEY``."""
    lines = []
    for credential in (API_KEY, ADMIN_KEY):
        kinds = [
            k
            for k in skipped
            if (LISTINGS[k].credential if k in LISTINGS else API_KEY) == credential
        ]
        if kinds:
            lines.append(
                f"{credential} kinds skipped ({', '.join(kinds)}): set {key_env(credential)}"
            )
    return "\n".join(lines)


# --- the `cleanup` command ---------------------------------------------------------------------


def command(args: Any) -> int:
    """Delete (or list) marked leftovers on the target the suite's settings point at: the
    normal kinds with the API key, the admin kinds with the admin key, in one pass."""
    import sys

    from conformance.client import TargetUnreachable
    from conformance.settings import ConfigError, load_settings
    from conformance.target import resolve

    try:
        settings = load_settings(option=lambda o: getattr(args, f"opt_{o.field}", None))
    except ConfigError as exc:
        print(f"anthropic-conformance cleanup: {exc}", file=sys.stderr)
        return 2
    target = resolve(settings)
    clients = target.clients(features=catalog.FEATURE_NAMES) if target.keeps_resources else {}
    if not clients:
        print(
            f"anthropic-conformance cleanup: no live target (set ANTHROPIC_BASE_URL and "
            f"{key_env(API_KEY)} and/or {key_env(ADMIN_KEY)}); the embedded reference server "
            "keeps nothing between runs",
            file=sys.stderr,
        )
        return 2
    failures: list[TeardownFailure] = []
    skipped: list[str] = []
    try:
        found = cleanup(clients, args.run, dry_run=args.dry_run, failures=failures, skipped=skipped)
    except (ValueError, RuntimeError, TargetUnreachable) as exc:
        print(f"anthropic-conformance cleanup: {exc}", file=sys.stderr)
        return 2
    finally:
        for client in clients.values():
            client.close()
    failed = {f.resource for f in failures}
    verb = "would delete" if args.dry_run else "deleted"
    for resource in found:
        print(f"{'FAILED' if resource in failed else verb} {resource.describe()}")
    for failure in failures:
        print(failure.format(), file=sys.stderr)
    if skipped:
        print(skipped_message(skipped))
    if not found and not failures:
        print(
            f"nothing to {'delete' if args.dry_run else 'clean up'}: no resource carries the "
            f"marker {args.run!r} on {target.base_url}"
        )
    else:
        count = f"{len(found)} marked resource{'' if len(found) == 1 else 's'}"
        done = "found" if failures else ("to delete (dry run)" if args.dry_run else "deleted")
        print(f"{count} {done} on {target.base_url} (marker {args.run!r})")
    return 1 if failures else 0
