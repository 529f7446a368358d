"""The base every event payload shares."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict


class Payload(BaseModel):
    """Consumers tolerate fields added later to the same topic version."""

    model_config = ConfigDict(extra="ignore")
