"""Settings of the web application (``daihou serve``), from the environment."""

from __future__ import annotations

import os

from pydantic import BaseModel, Field

from daihou.auth.sessions import SessionSettings

LOCALES = ("zh_CN", "en")


class WebSettings(BaseModel):
    """``DAIHOU_WEB_*`` environment variables override the defaults.

    ``secure_cookies``: mark cookies ``Secure`` (serve behind TLS); off by default so a
    plain-HTTP closed-network pilot works. ``json_logs``: one JSON object per line.
    """

    sessions: SessionSettings = Field(default_factory=SessionSettings)
    default_locale: str = "zh_CN"
    secure_cookies: bool = False
    json_logs: bool = True
    page_size: int = Field(default=50, ge=1, le=200)

    @classmethod
    def from_env(cls) -> WebSettings:
        env = os.environ
        sessions = SessionSettings(
            idle_minutes=int(env.get("DAIHOU_WEB_IDLE_MINUTES", "30")),
            absolute_hours=int(env.get("DAIHOU_WEB_SESSION_HOURS", "12")),
            token_days=int(env.get("DAIHOU_WEB_TOKEN_DAYS", "90")),
        )
        return cls(
            sessions=sessions,
            default_locale=env.get("DAIHOU_WEB_LOCALE", "zh_CN"),
            secure_cookies=env.get("DAIHOU_WEB_SECURE_COOKIES", "0") in {"1", "true", "yes"},
        )
