"""What the API's models share: strict requests, responses that omit nulls."""

from __future__ import annotations

from typing import Any, ClassVar

from pydantic import BaseModel, ConfigDict, SerializerFunctionWrapHandler, model_serializer
from pydantic.config import JsonDict


class RequestModel(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)


def not_null(schema: JsonDict) -> None:
    """The JSON Schema of an optional field that may be absent but not null: its anyOf without the null branch."""
    options = schema.pop("anyOf")
    assert isinstance(options, list)
    kept = [option for option in options if option != {"type": "null"}]
    assert len(kept) == 1 and isinstance(kept[0], dict)
    rest = dict(schema)
    schema.clear()
    schema.update({**kept[0], **rest})


class OmitsNull(BaseModel):
    """A response whose optional additions are left out, not sent as null, while they have no value."""

    omitted_when_null: ClassVar[tuple[str, ...]] = ()

    # Unannotated on purpose: pydantic documents a wrap serializer's return annotation instead of the fields.
    @model_serializer(mode="wrap")
    def _omit_nulls(self, handler: SerializerFunctionWrapHandler):  # type: ignore[no-untyped-def]
        data: dict[str, Any] = handler(self)
        for name in self.omitted_when_null:
            if data.get(name) is None:
                data.pop(name, None)
        return data
