"""The rules a posting's sign-ups keep whatever happened: checked against the rows themselves."""

from __future__ import annotations

from collections import Counter

from backend.recruitment.models import ACTIVE_SIGNUP, Posting, Signup, SignupStatus


async def assert_invariants(posting_id: int, *, first_come: bool = True) -> dict[str, int]:
    """Capacity, counters, positions 1..n in sign-up order, one active sign-up per person."""
    posting = await Posting.get(id=posting_id)
    rows = await Signup.filter(posting_id=posting_id).order_by("id")
    confirmed = [s for s in rows if s.status == SignupStatus.CONFIRMED]
    waitlisted = [s for s in rows if s.status == SignupStatus.WAITLISTED]
    if posting.capacity is not None:
        assert len(confirmed) <= posting.capacity, (len(confirmed), posting.capacity)
    assert posting.confirmed_count == len(confirmed)
    assert posting.waitlist_count == len(waitlisted)
    positions = [s.waitlist_position for s in waitlisted]
    assert sorted(positions) == list(range(1, len(waitlisted) + 1)), positions  # type: ignore[type-var]
    if first_come:
        # Whoever signed up first is ahead: positions ascend with the order of the rows.
        assert positions == sorted(positions), positions  # type: ignore[type-var]
    assert all(s.waitlist_position is None for s in rows if s.status != SignupStatus.WAITLISTED)
    active = Counter(s.user_id for s in rows if s.status in ACTIVE_SIGNUP)
    assert all(n == 1 for n in active.values()), active.most_common(3)
    assert all((s.active_user_id == s.user_id) == (s.status in ACTIVE_SIGNUP) for s in rows)
    return {"confirmed": len(confirmed), "waitlisted": len(waitlisted), "rows": len(rows)}
