from __future__ import annotations

from pydantic import Field
from pydantic_settings import SettingsConfigDict

from lx_platform.settings import ServiceSettings


class SkillsSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="SKILLS_", extra="ignore")

    port: int = 8102
    db_schema: str = "skills"
    identity_timeout_s: float = Field(
        default=60.0,
        description="How long a supporter import waits for identity to create the accounts.",
    )
    import_max_rows: int = Field(default=5000, ge=1, le=5000, description="Rows one supporter import may hold.")
    erasure_sweep_interval_s: float = Field(
        default=1.0, gt=0, description="How often outbox rows naming an erased person are deleted once published."
    )
