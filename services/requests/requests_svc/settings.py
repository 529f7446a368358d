from __future__ import annotations

from pydantic_settings import SettingsConfigDict

from lx_platform.settings import ServiceSettings


class RequestsSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="REQUESTS_", extra="ignore")

    port: int = 8103
    db_schema: str = "requests"
