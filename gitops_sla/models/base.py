"""Base classes for the models: Kubernetes-style camelCase keys, unknown keys forbidden."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict
from pydantic.alias_generators import to_camel


class StrictModel(BaseModel):
    """A model read from files people write: camelCase keys only and strict types (as Kubernetes checks a CRD:
    `autoApply: "true"` is a string, not a boolean), no unknown keys."""

    model_config = ConfigDict(
        extra="forbid",
        strict=True,
        alias_generator=to_camel,
        validate_by_alias=True,
        validate_by_name=False,
        serialize_by_alias=True,
    )


class WrittenModel(BaseModel):
    """A model this project writes: camelCase in files, Python names accepted when built in code."""

    model_config = ConfigDict(
        extra="forbid",
        alias_generator=to_camel,
        validate_by_alias=True,
        validate_by_name=True,
        serialize_by_alias=True,
    )
