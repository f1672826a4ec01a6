"""Public search of organizations: by name fragment, credit-code prefix, region, kind, status, credit state.

How a query runs (the index is described in search_index.py):

* A name fragment of two characters or more is two streams of organization ids, in this order:
  names that *start* with it (the postings of its first bigram marked as a name's start), then the
  names that contain it elsewhere (the postings of its rarest bigram). Each candidate is checked
  against the normalized name and the filters, and each stream stops after the page's last row
  plus one. One character: names that start with it, then a scan of the names.
* Something that looks like a credit code (a digit, then up to 17 digits and capital letters) is a
  prefix: a range on the unique index of the codes (codes hold only [0-9A-Z], whose order every
  collation agrees on, so the range is the prefix under any of them).
* No text: the filters alone, in registration order.

The total is exact when every stream ran out within the page; otherwise it is an estimate
(``total_exact`` false): on PostgreSQL the same conditions counted over a block sample of about
10,000 rows (TABLESAMPLE SYSTEM, the same sample each time), on SQLite an exact count.
"""

from __future__ import annotations

import hashlib
import re
import time
from dataclasses import dataclass, field
from typing import Any

import orjson
from tortoise import connections

from ..cache import Cache
from ..db import dialect
from . import search_index
from .regions import parse_region, subtree_prefix
from .schemas import OrgSearch

CODE_PREFIX = re.compile(r"[0-9][0-9A-Z]{0,17}")
MAX_DRIVER_PROBES = 8  # bigrams of a long fragment whose postings are counted to pick the rarest
PROBE_CAP = 20_000  # a bigram with more postings than this counts as this many
# The block sample behind an estimated total. Every new search pays for it once, and new searches are
# what an uncached search mostly is: 20,000 rows put the p99 of uncached searches at 36-47 ms over
# 1,000,000 organizations, 10,000 at 23-32 ms (bench/README.md, 2026-12-02). The price: a fragment
# matching 1 % of names is counted from ~100 sampled hits instead of ~200 (about 10 % error, not 7 %).
SAMPLE_ROWS = 10_000
ESTIMATE_CACHE_SECONDS = 300
_MASK = search_index.MAX_ORGANIZATION_ID


class _Sql:
    """A statement's parameters, numbered ($1 on PostgreSQL, ?1 on SQLite): built in any order."""

    def __init__(self) -> None:
        self.values: list[Any] = []
        self.mark = "$" if dialect() == "postgres" else "?"

    def __call__(self, value: Any) -> str:
        self.values.append(value)
        return f"{self.mark}{len(self.values)}"


def _like_escape(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


@dataclass
class _Filters:
    """The conditions on ``organizations o`` besides the text."""

    kind: str | None = None
    status: str | None = None
    credit_state: str | None = None
    region: str | None = None
    code_prefix: str | None = None
    extra: list[str] = field(default_factory=list)

    def sql(self, p: _Sql) -> str:
        clauses = []
        for column in ("kind", "status", "credit_state"):
            value = getattr(self, column)
            if value is not None:
                clauses.append(f"o.{column} = {p(str(value))}")
        if self.region is not None:
            prefix = subtree_prefix(self.region)
            if len(prefix) == 6:
                clauses.append(f"o.region_code = {p(prefix)}")
            elif prefix:
                pad = 6 - len(prefix)
                clauses.append(f"o.region_code BETWEEN {p(prefix + '0' * pad)} AND {p(prefix + '9' * pad)}")
        if self.code_prefix is not None:
            code = self.code_prefix
            clauses.append(f"o.credit_code BETWEEN {p(code)} AND {p(code + 'Z' * (18 - len(code)))}")
        return "".join(f" AND {c}" for c in clauses)


class _Counts:
    """Postings per gram, remembered for a few minutes: they only choose a plan, never an answer."""

    def __init__(self, ttl: float = 300.0, size: int = 50_000) -> None:
        self.ttl, self.size = ttl, size
        self.values: dict[int, tuple[float, int]] = {}

    def get(self, gram: int) -> int | None:
        found = self.values.get(gram)
        return found[1] if found and found[0] > time.monotonic() else None

    def put(self, gram: int, count: int) -> None:
        if len(self.values) >= self.size:
            self.values.clear()
        self.values[gram] = (time.monotonic() + self.ttl, count)


gram_counts = _Counts()
_table_rows: dict[str, tuple[float, float]] = {}


async def _rarest(bigrams: list[int]) -> int:
    """The bigram with the fewest postings (counted up to PROBE_CAP)."""
    unknown = [g for g in bigrams if gram_counts.get(g) is None]
    if unknown:
        p = _Sql()
        probes = []
        for value in unknown:
            low, high = search_index.key_range(value)
            probes.append(
                f"(SELECT count(*) FROM (SELECT 1 FROM org_name_grams WHERE key >= {p(low)} "
                f"AND key < {p(high)} LIMIT {PROBE_CAP}) AS t)"
            )
        _, rows = await connections.get("default").execute_query(f"SELECT {', '.join(probes)}", p.values)
        for value, count in zip(unknown, rows[0], strict=True):
            gram_counts.put(value, int(count))
    return min(bigrams, key=lambda g: (gram_counts.get(g) or 0, g))


# The public summary of each organization, read with the match itself (one round trip).
SUMMARY = (
    "o.credit_code, o.name, o.kind, o.status, o.credit_state, o.region_code, "
    "(SELECT a.name FROM authorities a WHERE a.id = o.authority_id) AS authority"
)
SUMMARY_FIELDS = ("credit_code", "name", "kind", "status", "credit_state", "region_code", "authority")


def _stream_by_gram(p: _Sql, low: int, high: int, where: str, limit: int) -> str:
    """Matches from one gram's postings, in key order, checked by ``where``."""
    # CROSS JOIN fixes SQLite's join order (the postings drive); PostgreSQL plans it as a join.
    return (
        f"SELECT {SUMMARY} FROM org_name_grams g CROSS JOIN org_search_names s CROSS JOIN organizations o "
        f"WHERE g.key >= {p(low)} AND g.key < {p(high)} AND s.organization_id = (g.key & {_MASK}) "
        f"AND o.id = s.organization_id{where} ORDER BY g.key LIMIT {p(limit)}"
    )


Summary = dict[str, Any]


async def _ids(query: str, values: list[Any]) -> list[Summary]:
    _, rows = await connections.get("default").execute_query(query, values)
    return [dict(zip(SUMMARY_FIELDS, row, strict=True)) for row in rows]


async def _starting(text: str, filters: _Filters, limit: int) -> list[Summary]:
    """Names that start with ``text``: the postings of the gram a name starts with."""
    p = _Sql()
    where = f" AND s.name_key LIKE {p(_like_escape(text) + '%')} ESCAPE '\\'" + filters.sql(p)
    if len(text) >= 2:
        low, high = search_index.key_range(search_index.gram(text[0], text[1], start=True))
    else:  # every gram a name starts with whose first character is ``text``
        first = search_index.gram(text, "", start=True)
        low, high = search_index.key_range(first)[0], search_index.key_range(first | 0xFFFF)[1]
    return await _ids(_stream_by_gram(p, low, high, where, limit), p.values)


async def _containing(text: str, filters: _Filters, limit: int) -> list[Summary]:
    """Names that contain ``text`` but do not start with it: the postings of its rarest bigram."""
    p = _Sql()
    escaped = _like_escape(text)
    where = (
        f" AND s.name_key LIKE {p('%' + escaped + '%')} ESCAPE '\\'"
        f" AND s.name_key NOT LIKE {p(escaped + '%')} ESCAPE '\\'" + filters.sql(p)
    )
    if len(text) == 1:  # no bigram to read: the names themselves, in organization order
        return await _ids(
            f"SELECT {SUMMARY} FROM org_search_names s "
            "JOIN organizations o ON o.id = s.organization_id "
            f"WHERE 1 = 1{where} ORDER BY s.organization_id LIMIT {p(limit)}",
            p.values,
        )
    low, high = search_index.key_range(await _rarest(_probed_bigrams(text)))
    return await _ids(_stream_by_gram(p, low, high, where, limit), p.values)


def _probed_bigrams(text: str) -> list[int]:
    """The bigrams of a fragment whose postings are counted to choose the rarest (at most 8, spread)."""
    bigrams = sorted({search_index.gram(text[i], text[i + 1]) for i in range(len(text) - 1)})
    step = max(1, len(bigrams) // MAX_DRIVER_PROBES)
    return bigrams[::step][:MAX_DRIVER_PROBES]


async def _streams(text: str, filters: _Filters, limit: int) -> tuple[list[Summary], bool, str, list[Any]]:
    """The first ``limit`` matches in rank order, whether that is all of them, and how to count them."""
    count = _Sql()
    if text:
        # Names that start with the text first; the others only when the page reaches past them
        # (a fragment that names a place, 深圳市南山区, starts a hundred thousand names and is found
        # elsewhere in none: looking for those would read every candidate).
        ranked = await _starting(text, filters, limit)
        complete = False
        if len(ranked) < limit:
            others = await _containing(text, filters, limit - len(ranked))
            ranked += others
            complete = len(ranked) < limit
        condition = f"s.name_key LIKE {count('%' + _like_escape(text) + '%')} ESCAPE '\\'"
        return ranked, complete, condition + filters.sql(count), count.values
    p = _Sql()
    # A credit-code prefix reads the codes' unique index in code order; other filters, registration order.
    order = "o.credit_code" if filters.code_prefix else "o.id"
    ranked = await _ids(
        f"SELECT {SUMMARY} FROM organizations o WHERE 1 = 1{filters.sql(p)} "
        f"ORDER BY {order} LIMIT {p(limit)}",
        p.values,
    )
    return ranked, len(ranked) < limit, f"1 = 1{filters.sql(count)}", count.values


async def _table_size(table: str) -> float:
    """PostgreSQL's own row estimate of a table, remembered for five minutes."""
    now = time.monotonic()
    cached = _table_rows.get(table)
    if cached and cached[0] > now:
        return cached[1]
    _, rows = await connections.get("default").execute_query(
        "SELECT reltuples FROM pg_class WHERE relname = $1", [table]
    )
    size = float(rows[0][0]) if rows else 0.0
    _table_rows[table] = (now + 300, size)
    return size


async def _count(*, text: str, condition: str, values: list[Any]) -> tuple[int, bool]:
    """How many match: estimated from a block sample on PostgreSQL, counted on SQLite."""
    by_name = bool(text)
    joined = "org_search_names s JOIN organizations o ON o.id = s.organization_id"
    table = joined if by_name else "organizations o"
    if dialect() != "postgres" and len(text) >= 2:
        # Exact, over the candidates of the rarest bigram rather than every name; CROSS JOIN keeps
        # SQLite's join order (postings first), which it would otherwise turn round.
        p = _Sql()
        p.values = list(values)
        low, high = search_index.key_range(await _rarest(_probed_bigrams(text)))
        _, rows = await connections.get("default").execute_query(
            "SELECT count(*) FROM org_name_grams g CROSS JOIN org_search_names s CROSS JOIN organizations o "
            f"WHERE g.key >= {p(low)} AND g.key < {p(high)} AND s.organization_id = (g.key & {_MASK}) "
            f"AND o.id = s.organization_id AND {condition}",
            p.values,
        )
        return int(rows[0][0]), True
    if dialect() != "postgres":
        _, rows = await connections.get("default").execute_query(
            f"SELECT count(*) FROM {table} WHERE {condition}",
            values,
        )
        return int(rows[0][0]), True
    sampled = "org_search_names" if by_name else "organizations"
    size = await _table_size(sampled)
    percent = 100.0 if size <= SAMPLE_ROWS else max(0.01, 100.0 * SAMPLE_ROWS / size)
    sample = f"{sampled} {'s' if by_name else 'o'} TABLESAMPLE SYSTEM ({percent:.4f}) REPEATABLE (7)"
    source = f"{sample} JOIN organizations o ON o.id = s.organization_id" if by_name else sample
    _, rows = await connections.get("default").execute_query(
        f"SELECT count(*) FROM {source} WHERE {condition}", values
    )
    # A table PostgreSQL has not measured yet (reltuples -1, or small) is read whole: exact.
    return round(int(rows[0][0]) * 100.0 / percent), percent >= 100.0


async def _estimate(
    text: str, filters: _Filters, condition: str, values: list[Any], *, cache: Cache | None, generation: bytes
) -> tuple[int, bool]:
    """The count of a search, shared between its pages through the cache until the next write."""
    if cache is None:
        return await _count(text=text, condition=condition, values=values)
    described = orjson.dumps(
        [text, filters.kind, filters.status, filters.credit_state, filters.region, filters.code_prefix]
    )
    key = cache.key(f"org:search-total:{generation.decode()}:{hashlib.sha256(described).hexdigest()[:32]}")
    found = await cache.read(key)
    cached = found[0] if found is not None else None
    if cached is not None:
        total, exact = cached.split(b"|")
        return int(total), exact == b"1"
    total, exact = await _count(text=text, condition=condition, values=values)
    value = f"{total}|{int(exact)}".encode()
    await cache.quietly(
        lambda: cache.client.set(key, value, ex=ESTIMATE_CACHE_SECONDS), context="search total"
    )
    return total, exact


async def find(params: OrgSearch, *, cache: Cache | None = None, generation: bytes = b"0") -> dict[str, Any]:
    """One page of organizations matching the search, prefix matches first, with a total.

    With ``cache``, a search's total is worked out once for all its pages, until the search
    ``generation`` (bumped by every write of an organization) changes.
    """
    raw = (params.q or "").strip()
    filters = _Filters(
        kind=params.kind,
        status=params.status,
        credit_state=params.credit_state,
        region=parse_region(params.region) if params.region else None,
    )
    text = search_index.normalize(raw)
    if CODE_PREFIX.fullmatch(raw.upper()) and len(raw) >= 2:
        filters.code_prefix, text = raw.upper(), ""
    offset = (params.page - 1) * params.page_size
    limit = offset + params.page_size + 1
    ranked, complete, condition, values = await _streams(text, filters, limit)
    if complete:
        total, exact = len(ranked), True
    else:
        total, exact = await _estimate(text, filters, condition, values, cache=cache, generation=generation)
        total = max(total, len(ranked))
    return {
        "items": ranked[offset : offset + params.page_size],
        "total": total,
        "total_exact": exact,
        "page": params.page,
        "page_size": params.page_size,
    }
