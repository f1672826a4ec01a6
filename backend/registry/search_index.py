"""The name search index: every character bigram of every organization's name, kept in step with writes.

Why bigrams: most searches are a Chinese fragment of two or three characters (志愿, 养老服务), which a
trigram index (pg_trgm) cannot narrow down, and LIKE '%...%' reads every name. A fragment of n >= 2
characters occurs in a name only if each of its n-1 bigrams does, so the postings of its rarest
bigram are a short list of candidates, which the search then checks against the name itself.

Layout. Names are compared as their *key*: NFKC (full-width letters and brackets become plain
ones), case folded, without whitespace or invisible characters. Each bigram of the key is a 33-bit
*gram* (the two characters' code points, 16 bits each, characters beyond the BMP folded to 0xFFFF:
a collision only adds candidates, which the check removes) plus one bit set for the bigram the key
starts with, stored a second time so that prefix matches have postings of their own. A posting is
one integer, ``gram << 30 | organization id``: the primary key's btree keeps the postings of a gram
together and in organization order, so "the first 20 candidates of 志愿" is one range scan on either
database, and no other index is needed. Organization ids must stay below 2**30 (a billion).

``org_search_names`` holds the key each organization was indexed under: ``sync`` diffs against it,
so it is idempotent and needs no "before" from its callers. Every write that changes a name calls
it in its own transaction (create, update, import); ``gongxin migrate`` indexes whatever is missing.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Sequence

from tortoise import connections

from .models import Organization, OrganizationSearchName

ID_BITS = 30
MAX_ORGANIZATION_ID = (1 << ID_BITS) - 1
START = 1 << 32  # the bit that marks the bigram a name starts with
BATCH = 500
_INVISIBLE_OR_SPACE = re.compile(r"[\s\u00ad\u200b-\u200f\u202a-\u202e\u2060-\u2064\ufeff]+")


def normalize(text: str) -> str:
    """The comparison key of a name or a query."""
    return _INVISIBLE_OR_SPACE.sub("", unicodedata.normalize("NFKC", text)).casefold()


def _char(c: str) -> int:
    return min(ord(c), 0xFFFF)


def gram(first: str, second: str, *, start: bool = False) -> int:
    """The 33-bit gram of two characters (``second`` may be "" for a one-character name)."""
    value = _char(first) << 16 | (_char(second) if second else 0)
    return value | START if start else value


def grams(key: str) -> set[int]:
    """Every gram of a name key: its bigrams, and its first bigram again marked as the start."""
    if not key:
        return set()
    found = {gram(key[i], key[i + 1]) for i in range(len(key) - 1)}
    found.add(gram(key[0], key[1] if len(key) > 1 else "", start=True))
    return found


def key_range(value: int) -> tuple[int, int]:
    """The postings of a gram: ``low <= key < high``."""
    return value << ID_BITS, (value + 1) << ID_BITS


def postings(name_key: str, organization_id: int) -> set[int]:
    """The posting keys of one organization's name key."""
    if not 0 < organization_id <= MAX_ORGANIZATION_ID:
        raise ValueError(f"organization id {organization_id} does not fit the search index")
    return {g << ID_BITS | organization_id for g in grams(name_key)}


def organization_of(posting: int) -> int:
    return posting & MAX_ORGANIZATION_ID


def _marks(count: int, start: int = 1) -> str:
    """Placeholders for ``count`` values: $1, $2 ... on PostgreSQL, ? on SQLite."""
    from ..db import dialect

    if dialect() == "postgres":
        return ", ".join(f"${i}" for i in range(start, start + count))
    return ", ".join("?" * count)


async def _write_postings(*, add: Sequence[int], remove: Sequence[int]) -> None:
    connection = connections.get("default")  # the caller's transaction, when it has one
    for start in range(0, len(remove), BATCH):
        chunk = list(remove[start : start + BATCH])
        await connection.execute_query(
            f"DELETE FROM org_name_grams WHERE key IN ({_marks(len(chunk))})",
            chunk,
        )
    for start in range(0, len(add), BATCH):
        chunk = list(add[start : start + BATCH])
        values = ", ".join(f"({mark})" for mark in _marks(len(chunk)).split(", "))
        await connection.execute_query(
            f"INSERT INTO org_name_grams (key) VALUES {values} ON CONFLICT DO NOTHING",
            chunk,
        )


async def sync(*, organization_ids: Iterable[int] = (), credit_codes: Iterable[str] = ()) -> int:
    """Bring the index in step with the current names of these organizations; returns how many changed.

    Call it inside the write's transaction, after the write: the index then changes with the name or
    not at all.
    """
    ids = set(organization_ids)
    codes = list(dict.fromkeys(credit_codes))
    for start in range(0, len(codes), BATCH):
        some = codes[start : start + BATCH]
        ids.update(row["id"] for row in await Organization.filter(credit_code__in=some).values("id"))
    changed = 0
    ordered = sorted(ids)
    for start in range(0, len(ordered), BATCH):
        batch = ordered[start : start + BATCH]
        names = dict(await Organization.filter(id__in=batch).values_list("id", "name"))
        indexed = dict(
            await OrganizationSearchName.filter(organization_id__in=batch).values_list(
                "organization_id", "name_key"
            )
        )
        add: list[int] = []
        remove: list[int] = []
        fresh: list[OrganizationSearchName] = []
        for organization_id in batch:
            old = indexed.get(organization_id)
            new = normalize(names[organization_id]) if organization_id in names else None
            if old == new:
                continue
            changed += 1
            old_postings = postings(old, organization_id) if old is not None else set()
            new_postings = postings(new, organization_id) if new is not None else set()
            remove.extend(sorted(old_postings - new_postings))
            add.extend(sorted(new_postings - old_postings))
            if old is not None and new is not None:
                await OrganizationSearchName.filter(organization_id=organization_id).update(name_key=new)
            elif new is not None:
                fresh.append(OrganizationSearchName(organization_id=organization_id, name_key=new))
            else:
                await OrganizationSearchName.filter(organization_id=organization_id).delete()
        if fresh:
            await OrganizationSearchName.bulk_create(fresh, batch_size=BATCH)
        await _write_postings(add=add, remove=remove)
    return changed


async def index_missing() -> int:
    """Index every organization the index does not know yet (after an upgrade); returns how many."""
    known = {row[0] for row in await OrganizationSearchName.all().values_list("organization_id", "name_key")}
    missing = [row[0] for row in await Organization.all().values_list("id", "name") if row[0] not in known]
    return await sync(organization_ids=missing) if missing else 0
