"""What a training run is asked to do: the one request the CLI, the console and the tests build.

Why a module of its own: the console's F5 dialog returns this typed request, and the UI must not
import the pipeline (which reaches torch, transformers and PEFT, if lazily); this file imports
only the light settings and example types.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from qconsole.training.examples import TrainingExample
from qconsole.training.settings import TrainSettings


@dataclass
class TrainRequest:
    """What to train on and how. ``model`` None: the configured chat model."""

    model: str | None = None
    objective: str = "sft"  # one of settings.OBJECTIVES: sft, dpo (preference pairs), sft+dpo
    template: str | None = None
    settings: TrainSettings = field(default_factory=TrainSettings)
    sessions_dir: Path | None = None
    session_ids: list[str] | None = None
    kind: str | None = None
    include_preferences: bool = False
    include_synthetic: bool = True  # the teacher's "more like this" variants
    replay: Path | None = None
    replay_max: int | None = None
    examples: list[TrainingExample] | None = None  # given directly: the store is not read
    name: str | None = None
    adapters_root: Path | None = None
    hf_model_dir: Path | None = None
    verify: bool = True
    dry_run: bool = False
    preview: int = 3
