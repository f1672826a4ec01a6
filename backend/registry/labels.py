"""Chinese labels of the registry's enumerations, as the public sees them."""

from __future__ import annotations

from .credit_code import kind_label
from .models import AnnualResult, CreditList, CreditState, LicenceKind, OrgStatus, PenaltyKind

STATUS = {OrgStatus.ACTIVE: "正常", OrgStatus.DEREGISTERED: "已注销", OrgStatus.REVOKED: "已撤销登记"}
CREDIT_STATE = {
    CreditState.NORMAL: "正常",
    CreditState.ABNORMAL: "活动异常",
    CreditState.SERIOUS: "严重违法失信",
}
CREDIT_LIST = {CreditList.ABNORMAL: "活动异常名录", CreditList.SERIOUS_VIOLATION: "严重违法失信名单"}
LICENCE = {
    LicenceKind.ESTABLISHMENT: "成立登记",
    LicenceKind.CHANGE: "变更登记",
    LicenceKind.DEREGISTRATION: "注销登记",
    LicenceKind.CHARTER_APPROVAL: "章程核准",
}
PENALTY = {
    PenaltyKind.WARNING: "警告",
    PenaltyKind.FAILED_INSPECTION: "不予通过年度检查",
    PenaltyKind.FINE: "罚款",
    PenaltyKind.CONFISCATION: "没收违法所得或非法财产",
    PenaltyKind.SUSPENSION: "限期停止活动",
    PenaltyKind.REVOCATION: "撤销登记",
}
ANNUAL_RESULT = {
    AnnualResult.QUALIFIED: "合格",
    AnnualResult.BASICALLY_QUALIFIED: "基本合格",
    AnnualResult.UNQUALIFIED: "不合格",
    AnnualResult.NOT_FILED: "未按时提交",
}

__all__ = ["ANNUAL_RESULT", "CREDIT_LIST", "CREDIT_STATE", "LICENCE", "PENALTY", "STATUS", "kind_label"]
