from __future__ import annotations

from pydantic_settings import SettingsConfigDict

from lx_platform.settings import ServiceSettings


class TwitterSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="TWITTER_", extra="ignore")

    port: int = 8105
    db_schema: str = "twitter"
