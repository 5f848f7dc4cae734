"""The shape of an adapter directory's JSON files when read, as pydantic models.

``adapter_config.json`` is written by PEFT, Unsloth or a person; ``qconsole_adapter.json`` by
qconsole or a person. One bad directory (``lora_alpha: "abc"``, ``source: [1, 2]``, a list
where a table belongs) used to crash ``adapters list`` and the F3 screen for every adapter.
Read through ``validated.check``, it becomes one line in that entry's reason or warnings.
Only the fields qconsole uses are typed (strictly); any other field is kept as it is.
"""

from __future__ import annotations

import math
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator


class _Doc(BaseModel):
    model_config = ConfigDict(strict=True, extra="allow")


def _finite(value: float | None) -> float | None:
    if value is not None and not math.isfinite(value):
        raise ValueError("must be a finite number")
    return value


class PeftConfig(_Doc):
    peft_type: str | None = None
    r: int | None = Field(default=None, gt=0)
    lora_alpha: float | None = None
    lora_dropout: float | None = None
    base_model_name_or_path: str | None = None
    target_modules: list[str] | str | None = None
    alpha_pattern: dict[str, float] | None = None
    rank_pattern: dict[str, int] | None = None
    use_rslora: bool | None = None
    modules_to_save: list[str] | None = None

    _alpha = field_validator("lora_alpha", "lora_dropout")(_finite)


class BaseRecord(_Doc):
    name: str | None = None
    path: str | None = None
    shape_signature: dict[str, Any]
    sha256: str | None = None


class AdapterMetaFile(_Doc):
    format: int | None = None
    name: str | None = None
    created: str | None = None
    base: BaseRecord
    source: dict[str, Any] | None = None
    hyperparameters: dict[str, Any] | None = None
    final_loss: float | None = None
    backend: str | None = None
    notes: str | None = None

    _loss = field_validator("final_loss")(_finite)
