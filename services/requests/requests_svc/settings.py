from __future__ import annotations

from pydantic import Field
from pydantic_settings import SettingsConfigDict

from lx_platform.settings import ServiceSettings


class RequestsSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="REQUESTS_", extra="ignore")

    port: int = 8103
    db_schema: str = "requests"
    erasure_sweep_interval_s: float = Field(
        default=1.0, gt=0, description="How often outbox rows naming an erased person are deleted once published."
    )
