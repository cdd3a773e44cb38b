"""HTTP response models derived from contract replies: the same fields, without the message envelope."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, create_model

from chartwise_contracts import Reply


def without_envelope(reply_type: type[Reply], name: str, *, drop: tuple[str, ...] = ()) -> type[BaseModel]:
    """A model with the fields of `reply_type` except `meta` (and `drop`), for the OpenAPI document."""
    fields: dict[str, Any] = {
        field_name: (info.annotation, info)
        for field_name, info in reply_type.model_fields.items()
        if field_name != "meta" and field_name not in drop
    }
    model: type[BaseModel] = create_model(name, __doc__=reply_type.__doc__, **fields)
    return model


def public(reply: Reply, *, drop: tuple[str, ...] = ()) -> dict[str, Any]:
    return reply.model_dump(mode="json", exclude={"meta", *drop})
