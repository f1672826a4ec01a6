"""Time the import of a 100,000-row donation export into a new project, on the bench's database.

Run by bench/commands.py (`donations-import-100k`) with the server's environment: it makes dev-bench
staff of the demo foundation, creates the project `bench-100k` (fundraising), writes a platform export
(UTF-8 CSV, Chinese headers, yuan with two decimals) and times ``import_donations(apply=True)``: the
parse (in a worker thread), the checks and the one transaction. It prints one JSON line. The project
then holds 100,000 entries: the `project-page-100k` scenarios read it.
"""

from __future__ import annotations

import asyncio
import json
import os
import random
import time
from datetime import UTC, datetime, timedelta

from backend import bootstrap
from backend.accounts import service as accounts_service
from backend.accounts.models import StaffRoleKind
from backend.charity import donation_import, projects
from backend.charity.models import ProjectKind, ProjectStatus
from backend.charity.schemas import ProjectCreate, ProjectPlan, ProjectStatusChange
from backend.config import load_settings
from backend.registry.models import Organization

ROWS = int(os.environ.get("BENCH_DONATION_ROWS", "100000"))
FOUNDATION = "53440300MJL000007H"  # from `gongxin demo-data`
TITLE = os.environ.get("BENCH_PROJECT_TITLE", "bench-100k")
SURNAMES = "张王李赵刘陈杨黄周吴"


def export(rows: int) -> bytes:
    rng = random.Random(100_000)
    start = datetime(2026, 1, 1, tzinfo=UTC)
    lines = ["捐赠时间,捐赠金额(元),捐赠人,支付流水号"]
    for i in range(rows):
        moment = (start + timedelta(seconds=i * 97)).strftime("%Y-%m-%d %H:%M:%S")
        fen = rng.randint(1, 100_000)
        name = "" if i % 5 == 0 else SURNAMES[i % 10] + "某"
        lines.append(f"{moment},{fen // 100}.{fen % 100:02d},{name},{TITLE}-{i:07d}")
    return ("\n".join(lines) + "\n").encode()


async def main() -> None:
    settings = load_settings()
    container = await bootstrap.start(settings)
    try:
        foundation = await Organization.get(credit_code=FOUNDATION)
        bench = await accounts_service.get_or_create_user_by_ref(ref="dev-bench", appid=settings.wechat_appid)
        await accounts_service.grant_staff(
            user=bench, organization=foundation, role=StaffRoleKind.ADMIN, actor=None, reason="bench"
        )
        plan = ProjectPlan(
            purpose="bench",
            period_start=datetime(2026, 1, 1).date(),
            period_end=datetime(2026, 12, 31).date(),
            region="广东省",
            beneficiaries="bench",
            use_of_funds="bench",
            costs="bench",
            leftover_funds="bench",
        )
        data = ProjectCreate(title=TITLE, kind=ProjectKind.DIRECTED, plan=plan, target_fen=10**12)
        project = await projects.create(actor=bench, code=FOUNDATION, data=data, cache=container.cache)
        change = ProjectStatusChange(status=ProjectStatus.FUNDRAISING, reason="bench")
        await projects.change_status(actor=bench, project_id=project.id, data=change, cache=container.cache)
        body = export(ROWS)
        started = time.perf_counter()
        result = await donation_import.import_donations(
            actor=bench,
            project_id=project.id,
            channel="bench_platform",
            data=body,
            filename="export.csv",
            apply=True,
            cipher=container.cipher,
            cache=container.cache,
        )
        seconds = time.perf_counter() - started
        print(
            json.dumps(
                {
                    "seconds": round(seconds, 3),
                    "rows": ROWS,
                    "file_bytes": len(body),
                    "created": result.created,
                    "applied": result.applied,
                    "errors": len(result.errors),
                    "project_id": project.id,
                }
            )
        )
    finally:
        await bootstrap.stop(container)


if __name__ == "__main__":
    asyncio.run(main())
