from __future__ import annotations

from pydantic_settings import SettingsConfigDict

from lx_platform.settings import ServiceSettings


class SkillsSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="SKILLS_", extra="ignore")

    port: int = 8102
    db_schema: str = "skills"
