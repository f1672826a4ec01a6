"""Realistic verify-API bodies for each verdict, and the headless browser."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest

from tests.h5.browser import ARTIFACTS, ensure_chromium

ORG_NAME = "深圳市南山区青少年科技教育协会"
CREDIT_CODE = "51440300MJL0000103"


def _organization() -> dict[str, Any]:
    return {
        "credit_code": CREDIT_CODE,
        "name": ORG_NAME,
        "kind": "association",
        "kind_label": "社会团体",
        "status": "active",
        "status_label": "正常",
        "legal_representative": "张三",
        "address": "深圳市南山区粤海街道科技园南区高新南七道 12 号 3 楼 301 室",
        "business_scope": "组织青少年科技竞赛、科普讲座和研学活动；开展科技教师培训；承接政府购买服务。",
        "supervising_unit": "深圳市南山区科学技术协会",
        "registered_on": "2019-05-01",
        "authority": {"name": "深圳市民政局", "region_code": "440300"},
        "registered_capital_fen": 300_000_000,
        "check_digit_exception": False,
        "credit": {
            "state": "normal",
            "listings": [
                {
                    "list": "abnormal",
                    "list_label": "活动异常名录",
                    "reason": "未按时提交2021年度工作报告",
                    "listed_on": "2022-07-01",
                    "removed_on": "2022-09-15",
                    "decision_number": "深民异〔2022〕0153号",
                }
            ],
        },
        "annual_reports": [
            {"year": 2023, "result": "qualified", "result_label": "合格"},
            {"year": 2024, "result": "qualified", "result_label": "合格"},
            {"year": 2022, "result": "basically_qualified", "result_label": "基本合格"},
        ],
        "evaluation": {"grade": 4, "label": "4A", "valid_until": "2027-12-31"},
        "charity": {"recognized": True, "recognized_on": "2020-01-01"},
        "public_fundraising": {
            "qualified": True,
            "granted_on": "2022-03-01",
            "valid_until": None,
            "expired": False,
        },
        "licences": [
            {"kind_label": "成立登记", "decision_number": "深民登〔2019〕112号", "decided_on": "2019-05-01"},
            {"kind_label": "章程核准", "decision_number": "深民章〔2023〕045号", "decided_on": "2023-02-17"},
        ],
        "penalties": [],
    }


def make_view(verdict: str, **org_changes: Any) -> dict[str, Any]:
    """The verify API's body for one verdict, with matching reasons and record."""
    org = _organization()
    reasons: list[dict[str, str]] = []
    if verdict == "warnings":
        org["credit"]["state"] = "abnormal"
        org["credit"]["listings"].append(
            {
                "list": "abnormal",
                "list_label": "活动异常名录",
                "reason": "未按时提交2025年度工作报告",
                "listed_on": "2026-07-01",
                "removed_on": None,
                "decision_number": "深民异〔2026〕0088号",
            }
        )
        org["public_fundraising"] = {
            "qualified": True,
            "granted_on": "2022-03-01",
            "valid_until": "2026-03-01",
            "expired": True,
        }
        reasons = [
            {"code": "credit.abnormal_list", "message": "列入活动异常名录：未按时提交年度报告"},
            {"code": "fundraising.expired", "message": "公开募捐资格已于2026年3月1日过期"},
        ]
    elif verdict == "not_in_good_standing":
        org.update(status="revoked", status_label="撤销登记")
        org["credit"]["state"] = "serious"
        org["credit"]["listings"].append(
            {
                "list": "serious_violation",
                "list_label": "严重违法失信名单",
                "reason": "被撤销登记",
                "listed_on": "2026-10-10",
                "removed_on": None,
                "decision_number": "深民严〔2026〕0007号",
            }
        )
        org["penalties"] = [
            {
                "kind_label": "罚款",
                "decision_number": "深民罚〔2026〕021号",
                "decided_on": "2026-05-20",
                "amount_fen": 5_000_000,
            },
            {
                "kind_label": "撤销登记",
                "decision_number": "深民罚〔2026〕038号",
                "decided_on": "2026-10-08",
                "amount_fen": None,
            },
        ]
        org["public_fundraising"] = {
            "qualified": False,
            "granted_on": None,
            "valid_until": None,
            "expired": False,
        }
        reasons = [
            {"code": "org.revoked", "message": "该组织已被撤销登记"},
            {"code": "credit.serious_list", "message": "列入严重违法失信名单：被撤销登记"},
        ]
    elif verdict == "not_genuine":
        reasons = [{"code": "qr.bad_signature", "message": "二维码签名无效，可能被伪造或篡改"}]
    org.update(org_changes)
    return {
        "verdict": verdict,
        "reasons": reasons,
        "checked_at": "2026-11-29T09:30:00+08:00",
        "organization": copy.deepcopy(org),
    }


@pytest.fixture(scope="session")
def chromium() -> str:
    """The chromium binary; installed with apt when missing and we are root."""
    binary = ensure_chromium()
    if binary is None:
        pytest.skip(
            "chromium is missing and could not be installed: needs root and apt "
            "(`apt-get install chromium fonts-noto-cjk`)"
        )
    return binary


@pytest.fixture(scope="session")
def artifacts() -> Path:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    return ARTIFACTS
