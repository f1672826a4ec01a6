"""Donors as the public sees them: masked (张*) by default, 匿名, or the full name with consent; never
the stored name otherwise, nor the payment's serial number, in any public answer (entries, project,
receipt, the H5 page, the organization's profile)."""

from __future__ import annotations

from typing import Any

import httpx

from tests.charity.conftest import donation


async def _public_answers(
    client: httpx.AsyncClient, campaign: dict[str, Any], receipts: list[str]
) -> list[str]:
    pid, code = campaign["id"], campaign["org"].credit_code
    texts = []
    for path in (
        f"/api/v1/projects/{pid}/entries",
        f"/api/v1/projects/{pid}",
        f"/api/v1/orgs/{code}",
        f"/p/{pid}",
        *(f"/api/v1/receipts/{r}" for r in receipts),
    ):
        response = await client.get(path)
        assert response.status_code == 200, (path, response.text)
        texts.append(response.text)
    return texts


async def test_donors_are_published_as_they_chose_and_nothing_more(client, campaign):
    gifts = [
        ("WX-SERIAL-MASKED-0001", "张三丰", "masked", "张**"),
        ("WX-SERIAL-ANON-0002", "李四光", "anonymous", "匿名"),
        ("WX-SERIAL-FULL-0003", "王五常", "full", "王五常"),
    ]
    receipts = []
    for ref, name, display, _ in gifts:
        response = await client.post(
            f"/api/v1/projects/{campaign['id']}/donations",
            json=donation(ref, donor_name=name, donor_display=display),
            headers=campaign["staff"],
        )
        assert response.status_code == 201, response.text
        receipts.append(response.json()["receipt_code"])
    entries = (await client.get(f"/api/v1/projects/{campaign['id']}/entries")).json()["items"]
    assert sorted(e["donor"] for e in entries) == sorted(shown for *_, shown in gifts)
    for text in await _public_answers(client, campaign, receipts):
        for ref, name, display, _ in gifts:
            assert ref not in text, ref
            if display != "full":
                assert name not in text, name
