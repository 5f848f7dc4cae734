"""Sampling settings, shared by both panes so a comparison is fair."""

from __future__ import annotations

from dataclasses import asdict, dataclass, replace


@dataclass(frozen=True)
class SamplingSettings:
    temperature: float = 0.7
    top_p: float = 0.95
    top_k: int = 40
    repeat_penalty: float = 1.1
    max_tokens: int = 256
    seed: int = 0  # the same seed on both sides: differences come from the adapter, not the dice

    def to_dict(self) -> dict[str, float | int]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> SamplingSettings:
        known = {k: data[k] for k in cls.__dataclass_fields__ if k in data}
        return replace(cls(), **known)

    def summary(self) -> str:
        return (
            f"T={self.temperature:g} top_p={self.top_p:g} top_k={self.top_k} "
            f"rep={self.repeat_penalty:g} max={self.max_tokens} seed={self.seed}"
        )


GREEDY = SamplingSettings(temperature=0.0, top_p=1.0, top_k=1, repeat_penalty=1.0, seed=0)
