"""WeChat's content-security check for text that users post (postings, activities, progress updates).

WeChat's msg_sec_check v2 answers ``pass``, ``review`` or ``risky`` (risky text comes back with
errcode 0, so it has to be read from ``result.suggest``). Every capability that shows user-posted
text calls ``check`` before the text becomes visible:

* ``risky``: refused at once (422 ``content.risky``, with WeChat's label);
* ``review``: the caller keeps the text out of public view until a platform admin decides;
* ``pass``: it may be shown.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Any, Protocol

from .errors import Unprocessable


class Verdict(StrEnum):
    PASS = "pass"  # noqa: S105  (a verdict, not a password)
    REVIEW = "review"
    RISKY = "risky"


class ContentRisky(Unprocessable):
    code = "content.risky"
    message = "内容未通过微信内容安全检测，请修改后再发布 / The text failed WeChat's content check; edit it"


class TextChecker(Protocol):
    async def check_text(self, *, openid: str, content: str, scene: int = 2) -> Any: ...


# WeChat's scene numbers: 1 profile, 2 comment, 3 forum post, 4 social log.
SCENE_FORUM = 3


# msg_sec_check takes at most 2,500 characters; longer text is checked in pieces.
MAX_CHARS = 2500


def _pieces(content: str) -> list[str]:
    return [content[i : i + MAX_CHARS] for i in range(0, len(content), MAX_CHARS)]


async def check(*, wechat: TextChecker, openid: str, texts: list[str], scene: int = SCENE_FORUM) -> Verdict:
    """The verdict on the texts taken together; raises ContentRisky for risky text.

    The worst piece decides: one risky piece refuses the whole, one piece for review holds it.
    """
    content = "\n".join(t for t in texts if t)
    verdict = Verdict.PASS
    for piece in _pieces(content) if content.strip() else []:
        result = await wechat.check_text(openid=openid, content=piece, scene=scene)
        suggest = str(getattr(result, "suggest", "") or "")
        if suggest == Verdict.RISKY:
            raise ContentRisky(details={"suggest": suggest, "label": getattr(result, "label", None)})
        if suggest != Verdict.PASS:
            # "review", and anything WeChat may add later, waits for a person.
            verdict = Verdict.REVIEW
    return verdict
