"""A hot code's verification answer and a hot profile's view: worked out once (per second, per half
second) and process, however many requests miss them together."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

from backend.registry import profiles, qr

URL = "https://gongxin.example/q/abc"
NOW = datetime(2026, 11, 29, 3, 0, 0, 250_000, tzinfo=UTC)


async def test_the_requests_that_miss_together_share_one_answer(monkeypatch):
    profiles.local_answers.clear()
    worked_out: list[datetime] = []
    release = asyncio.Event()

    async def answer(*, url, public_base_url, cache, keyring, now):
        worked_out.append(now)
        await release.wait()  # as the view's Redis read would
        return b'{"verdict":"good_standing","checked_at":"%s"}' % now.isoformat(timespec="seconds").encode()

    monkeypatch.setattr(qr, "_answer", answer)

    def scan(now: datetime) -> asyncio.Future[bytes]:
        return asyncio.ensure_future(
            qr.verify(
                url=URL,
                public_base_url="https://gongxin.example",
                cache=None,  # type: ignore[arg-type]  # the stand-in answer needs neither
                keyring=None,  # type: ignore[arg-type]
                now=now,
            )
        )

    same_second = [scan(NOW.replace(microsecond=us)) for us in range(0, 1_000_000, 20_000)]
    await asyncio.sleep(0)
    next_second = scan(NOW.replace(second=1))
    await asyncio.sleep(0)
    release.set()
    answers = await asyncio.gather(*same_second)
    assert len(worked_out) == 2  # one per second, not one per request
    assert set(answers) == {b'{"verdict":"good_standing","checked_at":"2026-11-29T03:00:00+00:00"}'}
    assert b"03:00:01" in await next_second
    # Remembered: a later scan in the same second works nothing out.
    assert await scan(NOW) == answers[0]
    assert len(worked_out) == 2
    profiles.local_answers.clear()


async def test_the_requests_that_miss_a_profile_s_local_copy_together_share_one_read(monkeypatch):
    profiles._local.clear()
    reads: list[str] = []
    release = asyncio.Event()

    async def shared_view(*, cache, credit_code, today):
        reads.append(credit_code)
        await release.wait()  # the MGET on its way
        return b'{"credit_code":"%s"}' % credit_code.encode(), {"qr_version": 1}

    monkeypatch.setattr(profiles, "_shared_view", shared_view)
    today = NOW.date()
    asks = [
        asyncio.ensure_future(profiles.get_view_bytes(cache=None, credit_code=code, today=today))  # type: ignore[arg-type]
        for code in ["51440300MJL0000103"] * 30 + ["51440300MJL000011X"] * 5
    ]
    await asyncio.sleep(0)
    release.set()
    views = await asyncio.gather(*asks)
    assert sorted(reads) == ["51440300MJL0000103", "51440300MJL000011X"]
    assert {view[0] for view in views[:30]} == {b'{"credit_code":"51440300MJL0000103"}'}
    # and kept for half a second
    assert (
        await profiles.get_view_bytes(cache=None, credit_code="51440300MJL0000103", today=today) == views[0]
    )  # type: ignore[arg-type]
    assert len(reads) == 2
    profiles._local.clear()


async def test_a_scan_after_a_change_does_not_join_an_answer_begun_before_it(monkeypatch, cache):
    """Revoking a code invalidates the organization: a scan from then on must not be handed an answer
    that was being worked out from the data before the revocation."""
    profiles.local_answers.clear()
    release_old = asyncio.Event()
    verdicts = iter([b"good_standing", b"not_genuine"])

    async def answer(*, url, public_base_url, cache, keyring, now):
        verdict = next(verdicts)
        if verdict == b"good_standing":
            await release_old.wait()  # read before the revocation, still on its way
        return verdict

    monkeypatch.setattr(qr, "_answer", answer)

    def scan() -> asyncio.Future[bytes]:
        return asyncio.ensure_future(
            qr.verify(url=URL, public_base_url="https://gongxin.example", cache=cache, keyring=None, now=NOW)  # type: ignore[arg-type]
        )

    before = scan()
    for _ in range(3):  # until the answer is being worked out
        await asyncio.sleep(0)
    await profiles.invalidate(cache=cache, credit_code="51440300MJL0000103")
    assert await asyncio.wait_for(scan(), 1) == b"not_genuine"
    release_old.set()
    assert await before == b"good_standing"  # the scan made before the change gets the old answer
    # ... but that answer, landing after the change, is not remembered: the next scan in the same
    # second gets the remembered answer from after the change (a third _answer call would raise).
    assert await scan() == b"not_genuine"
    profiles.local_answers.clear()


def test_a_local_copy_read_before_a_change_is_not_kept_after_it():
    copies: profiles.LocalCopies[str, str] = profiles.LocalCopies()
    read_at = copies.changes
    copies.pop("51440300MJL0000103")  # invalidate, while the read was on its way
    copies.put("51440300MJL0000103", "before the change", read_at=read_at)
    assert copies.get("51440300MJL0000103") is None
    copies.put("51440300MJL0000103", "after", read_at=copies.changes)
    assert copies.get("51440300MJL0000103") == "after"
