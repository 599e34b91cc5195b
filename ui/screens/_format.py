"""Small formatting helpers shared by the screens."""

from __future__ import annotations

from datetime import datetime
from typing import Any


def when(value: Any) -> str:
    """A timestamp as "Jan 06 09:01" (local time for aware datetimes; seconds since the epoch too)."""
    if value is None:
        return ""
    if isinstance(value, (int, float)):
        value = datetime.fromtimestamp(value)
    if isinstance(value, datetime):
        if value.tzinfo is not None:
            value = value.astimezone()
        return value.strftime("%b %d %H:%M")
    return str(value)


def one_line(text: str, limit: int) -> str:
    """`text` on one line, cut to `limit` characters with an ellipsis."""
    flat = " ".join(str(text).split())
    return flat if len(flat) <= limit else flat[: max(0, limit - 1)] + "…"


def loss(value: Any) -> str:
    """A loss with three decimals, or a dash."""
    return f"{value:.3f}" if isinstance(value, (int, float)) else "–"
