"""The CloudEvents 1.0 structured JSON envelope every Kafka message value uses."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field


class CloudEvent(BaseModel):
    """A CloudEvents 1.0 envelope; unknown attributes (extensions) are kept, never rejected."""

    model_config = ConfigDict(extra="allow")

    specversion: Literal["1.0"] = "1.0"
    id: uuid.UUID = Field(description="Unique per event; consumers deduplicate on it.")
    source: str = Field(description="The emitting service, `/services/<name>`.", min_length=1)
    type: str = Field(description="The topic name, `<owner>.<event>.v<N>`.", min_length=1)
    time: datetime
    subject: str = Field(description="The aggregate id; also the Kafka key.", min_length=1)
    datacontenttype: Literal["application/json"] = "application/json"
    data: dict[str, Any]


def new_event(*, topic: str, service: str, subject: str, data: BaseModel | dict[str, Any]) -> CloudEvent:
    """Build the envelope for a payload about one aggregate (a model, or its JSON form already made, as the
    outbox makes it with personal fields sealed)."""
    return CloudEvent(
        id=uuid.uuid4(),
        source=f"/services/{service}",
        type=topic,
        time=datetime.now(UTC),
        subject=subject,
        data=data.model_dump(mode="json") if isinstance(data, BaseModel) else data,
    )
