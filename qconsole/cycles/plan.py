"""A cycle plan: what ``qconsole cycle PLAN.yaml`` runs, read once and checked before anything
slow starts.

Why a file and not flags: the growth claim is only worth something if the same loop can be
run again the same way, so everything that decides a result (topics, where probes and
corrections come from, training settings, suites, seeds, the number of cycles) sits in one
file, and its hash goes into the ledger: a changed plan is never resumed as if it were the old
one. Shape (YAML)::

    name: growth
    model: null                      # the configured chat model
    cycles: [{topics: [chain_sum]}, {topics: [basic_arithmetic]}]   # or a number: every
                                     # cycle probes every topic
    topics:
      - name: chain_sum
        kind: reasoning_step         # the failure kind its corrections are marked with
        probes: {gym: {preset: chain_sum, size: 80, seed: 10000}}   # or file: PROBES.yaml
        corrections: {source: reference, max: 50}   # reference | teacher | human
        heldout: {preset: chain_sum, size: 100, seed: 1}
    training: {preset: default, seeds: [0], settings: {epochs: 3}}
    evaluation:
      near: [{preset: chain_sum_2digit, size: 50, seed: 1}]
      far: [{preset: syllogism, size: 50, seed: 5000}]
      panel: [arc_challenge, winogrande, general_qa]
      panel_limit: 250               # per benchmark task; null: all of it

Each cycle draws fresh probe items: cycle k uses the probe seed + PROBE_SEED_STRIDE * (k - 1),
so a later cycle never re-asks (or re-trains on) an earlier cycle's items. Held-out suites are
the same in every cycle (that is what makes the topic-by-cycle matrix comparable); they must
not share seeds with the probes (checked here).
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

from qconsole.errors import QConsoleError

PROBE_SEED_STRIDE = 100_000
SOURCES = ("reference", "teacher", "human")


def _schema() -> Any:
    """The plan's pydantic models (built on first use: pydantic loads only when a plan is read)."""
    from typing import Annotated, Literal

    from pydantic import BaseModel, ConfigDict, Field, model_validator

    Gym = dict[str, Any]

    class _M(BaseModel):
        model_config = ConfigDict(strict=True, extra="forbid")

    class Probes(_M):
        gym: Gym | None = None
        file: Annotated[str, Field(min_length=1)] | None = None

        @model_validator(mode="after")
        def _one(self) -> Probes:
            if (self.gym is None) == (self.file is None):
                raise ValueError("give exactly one of 'gym' (a reasoning-gym suite) or 'file' "
                                 "(a probe file)")
            return self

    class Corrections(_M):
        source: Literal["reference", "teacher", "human"] = "reference"
        max: Annotated[int, Field(ge=1, le=1000)] = 50
        include_passed: bool = False  # fill up to max with items the model got right

    class Topic(_M):
        name: Annotated[str, Field(min_length=1, max_length=60, pattern=r"^[\w.-]+$")]
        kind: Annotated[str, Field(min_length=1)] = "reasoning_step"
        probes: Probes
        corrections: Corrections = Corrections()
        heldout: Gym

    class Cycle(_M):
        topics: Annotated[list[str], Field(min_length=1)]

    class Training(_M):
        preset: Literal["quick", "default", "thorough"] = "default"
        seeds: Annotated[list[Annotated[int, Field(ge=0)]], Field(min_length=1, max_length=10)
                         ] = [0]  # noqa: RUF012 - pydantic copies defaults
        settings: dict[str, Any] = {}  # noqa: RUF012
        verify: bool = True  # llama.cpp vs transformers equivalence check of each adapter
        replay: Annotated[str, Field(min_length=1)] | None = None
        replay_max: Annotated[int, Field(ge=1)] | None = None

    class Evaluation(_M):
        near: list[Gym] = []  # noqa: RUF012
        far: list[Gym] = []  # noqa: RUF012
        panel: list[Annotated[str, Field(min_length=1)]] = []  # noqa: RUF012
        panel_limit: Annotated[int, Field(ge=1)] | None = None
        fewshot: Annotated[int, Field(ge=0, le=16)] = 0
        max_tokens: Annotated[int, Field(ge=8, le=4096)] | None = None
        threads: Annotated[int, Field(ge=1, le=4096)] | None = None
        probe_max_tokens: Annotated[int, Field(ge=8, le=4096)] | None = None
        data_dir: Annotated[str, Field(min_length=1)] | None = None  # benchmark JSONL folder

    class Plan(_M):
        name: Annotated[str, Field(min_length=1, max_length=60, pattern=r"^[\w.-]+$")]
        model: Annotated[str, Field(min_length=1)] | None = None
        template: Literal["auto", "transcript", "chat"] | None = None
        topics: Annotated[list[Topic], Field(min_length=1)]
        cycles: Annotated[int, Field(ge=1, le=100)] | Annotated[list[Cycle], Field(min_length=1)]
        training: Training = Training()
        evaluation: Evaluation = Evaluation()

    return Plan


def _gym(data: dict[str, Any], where: str) -> Any:
    from qconsole.evaluation.gym_suites import GymSuiteConfig

    return GymSuiteConfig.from_dict(data, where=where)


class CyclePlan:
    """A validated plan; ``raw`` is the plan as read, ``hash`` its fingerprint."""

    def __init__(self, data: Any, *, source: str = "plan", base_dir: Path | None = None) -> None:
        from qconsole.validated import check

        self.model = check(_schema(), data, source)
        self.base_dir = base_dir or Path.cwd()
        self.raw = self.model.model_dump(mode="json")
        self.hash = hashlib.sha256(json.dumps(self.raw, sort_keys=True).encode()).hexdigest()
        self._check(source)

    # -- what the plan says -----------------------------------------------------------------

    @property
    def name(self) -> str:
        return str(self.model.name)

    @property
    def topics(self) -> list[Any]:
        return list(self.model.topics)

    def topic(self, name: str) -> Any:
        return next(t for t in self.model.topics if t.name == name)

    def cycle_topics(self) -> list[list[str]]:
        """The topics each cycle probes and corrects, cycle 1 first."""
        if isinstance(self.model.cycles, int):
            return [[t.name for t in self.model.topics] for _ in range(self.model.cycles)]
        return [list(c.topics) for c in self.model.cycles]

    @property
    def n_cycles(self) -> int:
        return len(self.cycle_topics())

    @property
    def seeds(self) -> list[int]:
        return list(self.model.training.seeds)

    def probe_gym(self, topic: Any, cycle: int) -> dict[str, Any]:
        """The topic's probe suite for ``cycle`` (fresh items each cycle)."""
        cfg = dict(topic.probes.gym)
        cfg["seed"] = int(cfg.get("seed", 1)) + PROBE_SEED_STRIDE * (cycle - 1)
        cfg["suite"] = f"probe-{topic.name}"
        cfg["topic"] = topic.name
        return cfg

    def heldout_gym(self, topic: Any) -> dict[str, Any]:
        return {**dict(topic.heldout), "suite": f"heldout-{topic.name}", "topic": topic.name,
                "distance": "in-domain"}

    def transfer_gym(self) -> list[dict[str, Any]]:
        out = []
        for distance in ("near", "far"):
            for cfg in getattr(self.model.evaluation, distance):
                c = dict(cfg)
                name = c.get("suite") or c.get("preset") or c.get("family")
                c["suite"] = f"{distance}-{name}"
                c["topic"] = f"{distance}:{name}"
                c["distance"] = distance
                out.append(c)
        return out

    def resolve(self, path: str) -> Path:
        p = Path(path).expanduser()
        return p if p.is_absolute() else self.base_dir / p

    # -- checks beyond the schema -----------------------------------------------------------

    def _check(self, source: str) -> None:
        names = [t.name for t in self.model.topics]
        if len(set(names)) != len(names):
            raise QConsoleError(f"{source}: topic names must be unique")
        for k, topics in enumerate(self.cycle_topics(), start=1):
            unknown = [t for t in topics if t not in names]
            if unknown:
                raise QConsoleError(f"{source}: cycle {k} names unknown topic {unknown[0]!r}; "
                                    f"topics: {', '.join(names)}")
        for t in self.model.topics:
            held = _gym(self.heldout_gym(t), f"{source}: topic {t.name} heldout")
            if t.probes.gym is not None:
                probe = _gym(self.probe_gym(t, 1), f"{source}: topic {t.name} probes")
                for k in range(1, self.n_cycles + 1):
                    lo = probe.seed + PROBE_SEED_STRIDE * (k - 1)
                    # reasoning-gym seeds item i with seed + i: the ranges must not meet
                    hi = lo + 3 * probe.size + 20
                    if lo <= held.seed + 3 * held.size + 20 and held.seed <= hi:
                        raise QConsoleError(
                            f"{source}: topic {t.name}: the probe seeds of cycle {k} overlap "
                            f"the held-out seeds; keep them far apart (e.g. probes 10000, "
                            f"held-out 1)")
            elif t.corrections.source == "reference":
                raise QConsoleError(f"{source}: topic {t.name}: reference corrections need a "
                                    "reasoning-gym probe suite (a probe file has no worked "
                                    "solutions); use source: teacher or human")
            if t.probes.file is not None and not self.resolve(t.probes.file).is_file():
                raise QConsoleError(f"{source}: topic {t.name}: no probe file "
                                    f"{self.resolve(t.probes.file)}")
        for cfg in self.transfer_gym():
            _gym(cfg, f"{source}: transfer suite {cfg['suite']}")
        replay = self.model.training.replay
        if replay is not None and not self.resolve(replay).is_file():
            # found here, not by the first training after the probes have run
            raise QConsoleError(f"{source}: training.replay: no file {self.resolve(replay)}")
        from qconsole.training.settings import settings_for

        try:
            settings_for(self.model.training.preset, **dict(self.model.training.settings),
                         seed=self.seeds[0])
        except TypeError as exc:
            raise QConsoleError(f"{source}: training.settings: {exc}") from None


def load_plan(path: str | Path) -> CyclePlan:
    """Read and check a plan file (bounded, alias-safe YAML; one clear line when wrong)."""
    from qconsole.safe_files import read_yaml_file

    path = Path(path).expanduser()
    if not path.is_file():
        raise QConsoleError(f"no plan file {path}")
    data = read_yaml_file(path, what="cycle plan")
    return CyclePlan(data, source=f"plan {path.name}", base_dir=path.resolve().parent)
