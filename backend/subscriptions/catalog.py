"""Which WeChat subscribe-message template each outbox event kind is sent with.

Every kind listed in ``backend/events/kinds.py`` has a template; its id comes from configuration
(``NOTIFY_TEMPLATES``). Development and tests get stable made-up ids (``gx-<kind>``, which the
emulator accepts); production gets none by default, so an unconfigured kind is skipped, never sent
with a made-up id. Several kinds may share one template (WeChat counts consents per template).
"""

from __future__ import annotations

from ..config import Settings
from ..events import kinds as event_kinds


def all_kinds() -> list[str]:
    """Every event kind, in the order kinds.py lists them."""
    return [
        value
        for name, value in vars(event_kinds).items()
        if name.isupper() and isinstance(value, str) and "." in value
    ]


def development_template_id(kind: str) -> str:
    """The made-up id of a kind's template outside production (the emulator accepts it)."""
    return "gx-" + kind.replace(".", "-").replace("_", "-")


def template_ids(settings: Settings) -> dict[str, str]:
    """Kind -> template id, for every kind that has one in this deployment."""
    configured = dict(settings.notify_templates or {})
    defaults = {} if settings.is_production else {k: development_template_id(k) for k in all_kinds()}
    merged = {**defaults, **configured}
    return {kind: merged[kind] for kind in all_kinds() if merged.get(kind)}
