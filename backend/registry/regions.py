"""GB/T 2260 region codes: the one parser, and the arithmetic of the region tree.

Every route and service that takes a region code from outside (statistics, compliance by region,
search's region filter, authority creation, granting an officer) parses it with ``parse_region``
first and uses the parsed value for both the permission check and the query. A code is exactly six
ASCII digits; anything else (``44030000``, ``4403000000``, full-width digits, blanks) is refused
with ``region.invalid`` rather than read by its first digits, which once let a city officer
refused on ``440000`` read the whole province as ``44030000``. The arithmetic below refuses such
codes too, so a caller that forgot to parse fails loudly instead of widening a query.

Jurisdiction works on the codes themselves, not only on a table: real credit codes carry abolished
regions, the national code ``100000`` and municipal districts with no xx0100 parent in the lists.
Province ``XX0000`` contains every ``XX....``; city ``XXXX00`` contains every ``XXXX..``; a county
contains only itself; ``100000`` (national) contains everything.
"""

from __future__ import annotations

from typing import Annotated

from pydantic import AfterValidator, WithJsonSchema
from tortoise.expressions import Q

from ..errors import Unprocessable

NATIONAL = "100000"


class InvalidRegionCode(Unprocessable):
    code = "region.invalid"
    message = "行政区划代码应为 6 位数字，如 440300 / A region code is exactly six digits, e.g. 440300"


def is_region_code(text: object) -> bool:
    """True for exactly six ASCII digits."""
    return isinstance(text, str) and len(text) == 6 and text.isascii() and text.isdigit()


def parse_region(text: object) -> str:
    """The region code ``text`` names, or InvalidRegionCode (422 ``region.invalid``)."""
    if not is_region_code(text):
        shown = text[:32] if isinstance(text, str) else None
        raise InvalidRegionCode(details={"region_code": shown})
    assert isinstance(text, str)
    return text


# A region code in a request schema (body or query), parsed by ``parse_region``. Its InvalidRegionCode
# is not a ValueError, so pydantic lets it through unchanged: a schema field answers the same 422
# ``region.invalid`` as a path parameter does. The JSON schema states the ASCII-digit pattern (the
# ``\d`` of a pydantic pattern would also accept full-width and Arabic-Indic digits).
RegionCode = Annotated[
    str,
    AfterValidator(parse_region),
    WithJsonSchema(
        {
            "type": "string",
            "pattern": "^[0-9]{6}$",
            "description": "GB/T 2260 region code",
            "examples": ["440300"],
        }
    ),
]


def region_level(code: str) -> str:
    """national, province, city or county."""
    parse_region(code)
    if code == NATIONAL:
        return "national"
    if code.endswith("0000"):
        return "province"
    if code.endswith("00"):
        return "city"
    return "county"


def subtree_prefix(code: str) -> str:
    """The code prefix every region of the subtree shares ("" for national)."""
    level = region_level(code)
    if level == "national":
        return ""
    if level == "province":
        return code[:2]
    if level == "city":
        return code[:4]
    return code


def region_within(code: str, ancestor: str) -> bool:
    """True when ``code`` lies in ``ancestor``'s subtree (a region is within itself)."""
    parse_region(code)
    return code.startswith(subtree_prefix(ancestor))


def parent_region(code: str) -> str | None:
    """The next region up by code arithmetic: county -> city -> province -> national."""
    level = region_level(code)
    if level == "national":
        return None
    if level == "province":
        return NATIONAL
    if level == "city":
        return code[:2] + "0000"
    return code[:4] + "00"


def subtree_filter(region_codes: list[str], field: str) -> Q:
    """Rows whose ``field`` (a region code column) lies in any of the given subtrees.

    A range on the column rather than LIKE 'prefix%': PostgreSQL answers a range from the column's
    btree index under any collation (codes are ASCII digits, whose order every collation agrees
    on), while LIKE uses an index only under the C collation.
    """
    if not region_codes:
        return Q(**{field: "__none__"})
    clauses = []
    for code in region_codes:
        prefix = subtree_prefix(code)
        if not prefix:
            return Q()
        if len(prefix) == 6:
            clauses.append(Q(**{field: prefix}))
        else:
            pad = 6 - len(prefix)
            clauses.append(Q(**{f"{field}__gte": prefix + "0" * pad, f"{field}__lte": prefix + "9" * pad}))
    query = clauses[0]
    for clause in clauses[1:]:
        query |= clause
    return query
