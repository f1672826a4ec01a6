"""Kept totals across processes: three OS processes record the same donations and compete for one balance."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from backend.charity import totals
from backend.charity.models import EntryKind, LedgerEntry, Project
from backend.events.models import OutboxEvent

SCRIPT = """
import asyncio, json, sys
from backend.cache import create_cache
from backend.crypto import PersonalDataCipher
from backend.config import Settings
from backend.db import init_db, close_db
from backend.accounts.models import User
from backend.charity import ledger
from backend.charity.schemas import DonationCreate, ExpenditureCreate
from backend.errors import DomainError

async def main(url, project_id, user_id):
    await init_db(url)
    cache = create_cache(None, prefix="cross-process:")
    cipher = PersonalDataCipher(Settings().fernet_key)
    user = await User.get(id=user_id)
    async def give(i):
        data = DonationCreate(amount_fen=1000, received_at="2026-03-01T10:00:00+08:00", channel="bank",
                              external_ref=f"SAME-{i}", donor_name="张三")
        recorded = await ledger.record_donation(
            actor=user, project_id=project_id, data=data, cipher=cipher, cache=cache
        )
        return recorded.created
    async def spend():
        data = ExpenditureCreate(amount_fen=1500, category="goods", payee="某公司", paid_on="2026-03-02",
                                 purpose="采购", receipt_sha256="b" * 64, receipt_url="https://x.example.cn/r.pdf")
        try:
            await ledger.record_expenditure(actor=user, project_id=project_id, data=data, cache=cache)
            return True
        except DomainError as exc:
            assert exc.code == "ledger.insufficient_balance", exc.code
            return False
    gifts = await asyncio.gather(*(give(i) for i in range(10)))
    spent = await asyncio.gather(*(spend() for _ in range(5)))
    await close_db()
    print(json.dumps({"created": sum(gifts), "spent": sum(spent)}))

asyncio.run(main(sys.argv[1], int(sys.argv[2]), int(sys.argv[3])))
"""


async def test_processes_recording_at_once_keep_totals_exact(db: str, campaign, client):
    from tests.charity.conftest import user_of

    user = await user_of(client, campaign["staff"])
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2])}
    args = [sys.executable, "-c", SCRIPT, db, str(campaign["id"]), str(user.id)]
    processes = [
        subprocess.Popen(args, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        for _ in range(3)
    ]
    outputs = [p.communicate(timeout=180) for p in processes]
    assert all(p.returncode == 0 for p in processes), [err[-2000:] for _, err in outputs]
    results = [json.loads(out.strip().splitlines()[-1]) for out, _ in outputs]
    # The same ten references from three processes: ten donations, 10,000 fen.
    assert sum(r["created"] for r in results) == 10
    project = await Project.get(id=campaign["id"])
    kept = await totals.of_project(project.id)
    assert (kept.raised_fen, kept.donation_count) == (10_000, 10)
    # Fifteen expenditures of 1,500 against 10,000: exactly six fit, whichever process made them.
    assert sum(r["spent"] for r in results) == 6
    assert kept.spent_fen == 9_000
    assert await LedgerEntry.filter(project_id=project.id, kind=EntryKind.EXPENDITURE).count() == 6
    assert await OutboxEvent.filter(kind="donation.recorded").count() == 10
