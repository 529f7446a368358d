"""The base every event payload shares."""

from __future__ import annotations

from typing import Any, ClassVar

from pydantic import BaseModel, ConfigDict


def _sealed_in_schema(schema: dict[str, Any], model: type[Any]) -> None:
    """Documents the sealed fields in the JSON schema (and so in AsyncAPI) as `x-sealed`: {field: owner}."""
    sealed = getattr(model, "sealed", None)
    if sealed:
        schema["x-sealed"] = dict(sealed)


class Payload(BaseModel):
    """Consumers tolerate fields added later to the same topic version.

    `sealed` names the fields that are a person's personal data and, for each, the field holding the id of
    the person it belongs to. On the wire those fields travel sealed with that person's own key
    (`lx_platform.sealing`), which is destroyed when the person is erased: the messages the topics retain
    then name no one. A field whose owner is null travels as it is.
    """

    model_config = ConfigDict(extra="ignore", json_schema_extra=_sealed_in_schema)

    sealed: ClassVar[dict[str, str]] = {}
