from __future__ import annotations

from pydantic_settings import SettingsConfigDict

from lx_platform.settings import ServiceSettings


class MatcherSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="MATCHER_", extra="ignore")

    port: int = 8104
    db_schema: str = "matcher"
