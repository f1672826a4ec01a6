"""The public profile of an organization, and its cache shared by every server process.

Cache protocol (one Redis round trip on a hit, a change visible everywhere at once):

- ``org:gen:<code>`` is a counter that every write to the organization's record increments after
  its transaction commits (``invalidate``).
- ``org:view:<code>`` holds ``b"<gen>|<meta json>\n<organization json>"``: the view and the
  generation it was built at (orjson never writes a raw newline, so the split is safe, and the
  organization part is served as it is, without parsing).
- A reader fetches both with one MGET; the view is used only when its generation equals the
  counter. A reader that built a view from data read before a concurrent write stores it under the
  old generation, so the next reader rebuilds instead of trusting it.
- Durable half: each write also records ``org:<code>`` in the database inside its transaction
  (``record_change``, backend/invalidation.py), and a view is used only if it was built after every
  change its reader knows of (the version stamped in it). A change then holds everywhere within
  half a second even when the bump above is lost (Redis failing after the commit).
- Redis away: the view is read from the database, at most ``FALLBACK_CONCURRENCY`` at once per
  process (``Cache.fallback``), and nothing is stored until Redis answers again.
- On top, each process keeps what it read for ``LOCAL_TTL_SECONDS`` (half a second): a hot code
  scanned by hundreds of people costs no Redis round trip, and a change still shows everywhere
  within the second the registry promises. This is a performance layer only: losing it changes
  nothing but speed, and the process that makes a change drops its own copy at once.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable, Hashable
from datetime import date
from typing import Any, Generic, TypeVar

import orjson

from ..batching import SingleFlight
from ..cache import Cache
from ..errors import NotFound
from ..invalidation import record, versions
from . import labels
from .models import (
    CreditList,
    EvaluationGrade,
    Organization,
    QrCodeVersion,
    Qualification,
    QualificationKind,
)

VIEW_TTL_SECONDS = 3600
LOCAL_TTL_SECONDS = 0.5
LOCAL_MAX_ENTRIES = 10_000

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")


class LocalCopies(Generic[K, V]):
    """This process's copies of what it read, each kept for ``LOCAL_TTL_SECONDS``.

    Bounded crudely but safely: at ``LOCAL_MAX_ENTRIES`` every copy is dropped (they live half a
    second anyway).

    On a miss, ``get_or_load`` loads once for every request that misses the same key meanwhile
    (``SingleFlight``): a hot key's copy expires for all the requests in flight at the same moment,
    and each of them would otherwise do the same work at once. A change (``pop``, ``clear``) makes
    the requests after it load afresh rather than join a load that may predate it, and a value whose
    load began before a change is handed to its callers but not kept.
    """

    def __init__(self) -> None:
        self.entries: dict[K, tuple[float, V]] = {}  # key -> (monotonic expiry, value)
        # Bumped by every pop and clear (a change): a value read before one is not kept after it.
        self.changes = 0
        self._loading: SingleFlight[K, V | None] = SingleFlight()

    def get(self, key: K) -> V | None:
        entry = self.entries.get(key)
        return entry[1] if entry is not None and entry[0] > time.monotonic() else None

    async def get_or_load(self, key: K, load: Callable[[], Awaitable[V | None]]) -> V | None:
        """The copy of ``key``, or what ``load()`` returns (kept unless None)."""
        value = self.get(key)
        if value is not None:
            return value
        return await self._loading(key, lambda: self._load(key, load))

    async def _load(self, key: K, load: Callable[[], Awaitable[V | None]]) -> V | None:
        read_at = self.changes
        value = await load()
        if value is not None:
            self.put(key, value, read_at=read_at)
        return value

    def put(self, key: K, value: V, *, read_at: int | None = None) -> None:
        """Keep ``value``; unless ``read_at`` (``changes`` when it began to be read) is given and a
        change came since: then it may predate the change, and it is only returned, not kept."""
        if read_at is not None and read_at != self.changes:
            return
        if len(self.entries) >= LOCAL_MAX_ENTRIES:
            self.entries.clear()
        self.entries[key] = (time.monotonic() + LOCAL_TTL_SECONDS, value)

    def pop(self, key: K) -> None:
        self.changes += 1
        self._loading.forget()
        self.entries.pop(key, None)

    def clear(self) -> None:
        self.changes += 1
        self._loading.forget()
        self.entries.clear()


# credit code -> (organization JSON, meta)
_local: LocalCopies[str, tuple[bytes, dict[str, Any]]] = LocalCopies()
# (scanned URL, Unix second) -> verification answer: the answer of the same scan within the same
# second (its checked_at has second precision) and the same half second.
local_answers: LocalCopies[tuple[str, int], bytes] = LocalCopies()


class OrganizationNotFound(NotFound):
    code = "organization.not_found"
    message = "未找到该社会组织 / No organization with this credit code"


def _iso(value: date | None) -> str | None:
    return value.isoformat() if value else None


async def build_view(organization: Organization, *, today: date) -> dict[str, Any]:
    """The organization's public record plus what verification needs, from the database."""
    org = organization
    await org.fetch_related("authority")
    listings = await org.listings.all().order_by("-listed_on", "-id")  # type: ignore[attr-defined]
    reports = await org.annual_reports.all().order_by("-year")  # type: ignore[attr-defined]
    licences = await org.licences.all().order_by("-decided_on", "-id")  # type: ignore[attr-defined]
    penalties = await org.penalties.all().order_by("-decided_on", "-id")  # type: ignore[attr-defined]
    grade = await EvaluationGrade.filter(organization=org).order_by("-valid_from", "-id").first()
    quals = await Qualification.filter(organization=org, revoked_on__isnull=True).order_by("-granted_on")
    charity = next((q for q in quals if q.kind == QualificationKind.CHARITY), None)
    fundraising = next((q for q in quals if q.kind == QualificationKind.PUBLIC_FUNDRAISING), None)
    qr = await QrCodeVersion.filter(organization=org, revoked_at__isnull=True).order_by("-version").first()

    current = [item for item in listings if item.removed_on is None]
    organization_view = {
        "credit_code": org.credit_code,
        "name": org.name,
        "kind": org.kind,
        "kind_label": labels.kind_label(org.kind),
        "status": org.status,
        "status_label": labels.STATUS[org.status],
        "legal_representative": org.legal_representative,
        "address": org.address,
        "business_scope": org.business_scope,
        "supervising_unit": org.supervising_unit,
        "registered_on": _iso(org.registered_on),
        "authority": {"name": org.authority.name, "region_code": org.authority.region_code},
        "registered_capital_fen": org.registered_capital_fen,
        "check_digit_exception": org.check_digit_exception,
        "check_digit_exception_reason": org.check_digit_exception_reason,
        "credit": {
            "state": org.credit_state,
            "state_label": labels.CREDIT_STATE[org.credit_state],
            "listings": [
                {
                    "list": item.list,
                    "list_label": labels.CREDIT_LIST[item.list],
                    "reason": item.reason,
                    "listed_on": _iso(item.listed_on),
                    "removed_on": _iso(item.removed_on),
                    "removal_reason": item.removal_reason,
                    "decision_number": item.decision_number,
                }
                for item in listings
            ],
        },
        "annual_reports": [
            {"year": r.year, "result": r.result, "result_label": labels.ANNUAL_RESULT[r.result]}
            for r in reports
        ],
        "evaluation": (
            {
                "grade": grade.grade,
                "label": f"{grade.grade}A",
                "valid_from": _iso(grade.valid_from),
                "valid_until": _iso(grade.valid_until),
                "expired": grade.valid_until < today,
            }
            if grade
            else None
        ),
        "charity": {
            "recognized": charity is not None,
            "recognized_on": _iso(charity.granted_on) if charity else None,
        },
        "public_fundraising": {
            "qualified": fundraising is not None,
            "granted_on": _iso(fundraising.granted_on) if fundraising else None,
            "valid_until": _iso(fundraising.valid_until) if fundraising else None,
            "expired": bool(fundraising and fundraising.valid_until and fundraising.valid_until < today),
        },
        "licences": [
            {
                "kind": lic.kind,
                "kind_label": labels.LICENCE[lic.kind],
                "decision_number": lic.decision_number,
                "decided_on": _iso(lic.decided_on),
            }
            for lic in licences
        ],
        "penalties": [
            {
                "kind": p.kind,
                "kind_label": labels.PENALTY[p.kind],
                "decision_number": p.decision_number,
                "decided_on": _iso(p.decided_on),
                "amount_fen": p.amount_fen,
                "reason": p.reason,
            }
            for p in penalties
        ],
    }
    return {
        "organization": organization_view,
        # What the verdict needs and the public view does not show.
        "meta": {
            "status": org.status,
            "check_digit_exception": org.check_digit_exception,
            "qr_version": qr.version if qr else None,
            "current_listings": [
                {"list": item.list, "reason": item.reason} for item in current if item.list in set(CreditList)
            ],
            "latest_annual_result": reports[0].result if reports else None,
            "fundraising_valid_until": _iso(fundraising.valid_until) if fundraising else None,
        },
    }


def _gen_key(code: str) -> str:
    return f"org:gen:{code}"


def _view_key(code: str) -> str:
    return f"org:view:{code}"


async def get_view_bytes(
    *, cache: Cache, credit_code: str, today: date
) -> tuple[bytes, dict[str, Any]] | None:
    """The cached view as (organization JSON bytes, meta), building it on a miss; None if unknown."""
    return await _local.get_or_load(
        credit_code, lambda: _shared_view(cache=cache, credit_code=credit_code, today=today)
    )


def _name(code: str) -> str:
    return f"org:{code}"


async def _shared_view(*, cache: Cache, credit_code: str, today: date) -> tuple[bytes, dict[str, Any]] | None:
    name = _name(credit_code)
    trusted = versions.recent() or await versions.fresh()
    stamp = versions.stamp(name)  # before the database is read: the view is at least this new
    # Through the coalesced MGET: when a hot code's half-second local copy expires, every request
    # in flight misses together, and they share one round trip.
    values = await cache.read(cache.key(_gen_key(credit_code)), cache.key(_view_key(credit_code)))
    if values is None:  # Redis is away: the database answers, a bounded number of reads at a time
        async with cache.fallback():
            return await _build(credit_code, today=today)
    gen_raw, cached = values
    gen = gen_raw or b"0"
    if cached is not None and trusted:
        built_at, _, rest = cached.partition(b"|")
        built_stamp, _, payload = rest.partition(b"|")
        if built_at == gen and built_stamp.isdigit() and versions.trusts(name, int(built_stamp)):
            meta, _, organization = payload.partition(b"\n")
            return organization, orjson.loads(meta)
    found = await _build(credit_code, today=today)
    if found is not None:
        organization, meta_dict = found
        value = b"%s|%d|%s\n%s" % (gen, stamp, orjson.dumps(meta_dict), organization)
        key = cache.key(_view_key(credit_code))
        await cache.quietly(
            lambda: cache.client.set(key, value, ex=VIEW_TTL_SECONDS), context="profile store"
        )
    return found


async def _build(credit_code: str, *, today: date) -> tuple[bytes, dict[str, Any]] | None:
    org = await Organization.get_or_none(credit_code=credit_code)
    if org is None:
        return None
    view = await build_view(org, today=today)
    return orjson.dumps(view["organization"]), view["meta"]


async def record_change(*credit_codes: str) -> None:
    """Inside the transaction of a change to organizations' records: the durable half of ``invalidate``
    (backend/invalidation.py), which holds even if Redis or this process fails after the commit."""
    await record(*(_name(code) for code in credit_codes))


async def invalidate(*, cache: Cache, credit_code: str) -> None:
    """Make every process rebuild the view on its next read. Call after the write commits.

    At once where Redis takes the bump; within half a second through the change the transaction
    recorded (``record_change``) where it does not. A failing Redis is logged, not raised: the
    change is committed, and the client must not be told otherwise.
    """
    _local.pop(credit_code)
    local_answers.clear()
    versions.expire()

    async def bump() -> None:
        pipe = cache.client.pipeline(transaction=False)
        pipe.incr(cache.key(_gen_key(credit_code)))
        pipe.incr(cache.key("org:search-gen"))
        await pipe.execute()

    await cache.quietly(bump, context="profile invalidation")


def _forget_local(credit_code: str) -> None:
    """A change another process made (learnt by polling): drop this process's copies at once."""
    _local.pop(credit_code)
    local_answers.clear()


versions.on_change("org:", _forget_local)


async def invalidate_search(*, cache: Cache) -> None:
    """Make every process recompute search pages (organizations were added). After the commit."""
    await cache.client.incr(cache.key("org:search-gen"))


async def get_profile_bytes(*, cache: Cache, credit_code: str, today: date) -> bytes:
    """The public profile as JSON bytes, or OrganizationNotFound."""
    if len(credit_code) != 18 or not credit_code.isalnum() or not credit_code.isascii():
        raise OrganizationNotFound(details={"credit_code": credit_code[:64]})
    found = await get_view_bytes(cache=cache, credit_code=credit_code, today=today)
    if found is None:
        raise OrganizationNotFound(details={"credit_code": credit_code})
    return found[0]
