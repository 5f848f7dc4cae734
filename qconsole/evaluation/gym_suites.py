"""Probe suites generated offline by reasoning-gym, described by configuration, not code.

Why: "trained on abstract deduction, test numeric analogy" should be one line of configuration.
reasoning-gym generates and scores about a hundred reasoning families offline and
deterministically, so a suite is just ``family + options + size + seed``::

    {"suite": "transfer-near", "family": "basic_arithmetic", "size": 50, "seed": 1,
     "distance": "near", "topic": "arithmetic", "config": {"max_digits": 2}}

or ``{"preset": "chain_sum", "suite": "in-domain-sums", "distance": "in-domain"}``.

Each item's prompt is the family's question followed by an instruction to end with "The answer
is X."; its checker (kind ``gym``) extracts X and asks reasoning-gym's own scorer, counting only
full credit (partial-credit scores count as wrong; a scorer that raises counts as wrong). The
checker stores only ``family, seed, size, config, index``: the item is regenerated to score it,
so probe items can cross a process boundary as JSON.

Known label problems are filtered out, never silently scored (the suite's ``meta["dropped"]``
says how many): ``family_relationships`` labels in-law relations wrongly (reasoning-gym issue
535), and ``basic_arithmetic`` mislabels some items (left-to-right evaluation without
parentheses, floor division), so arithmetic families with an ``expression`` are re-evaluated
exactly and kept only where the label agrees. ``propositional_logic`` items whose premises
contradict each other are dropped: every conclusion follows from them, so any reply would score.
``syllogism`` labels some invalid forms "Yes" (7 of 80 at seed 5000, the undistributed middle
among them): each item is model-checked (``syllogism_logic``) and kept only where they agree.

Seeds: reasoning-gym seeds item ``i`` with ``seed + i``, so seed 1 and seed 2 share all but one
item. Keep evaluation seeds far from training seeds (and from each other); each item's
``meta["rng_key"]`` (= seed + index) lets a leakage check compare them.
"""

from __future__ import annotations

import ast
import functools
import itertools
import json
import operator
from collections.abc import Mapping
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Any

from qconsole.errors import QConsoleError
from qconsole.evaluation.checkers import Checker
from qconsole.evaluation.probes import ProbeItem, ProbeSet
from qconsole.evaluation.results import DISTANCES

DEFAULT_INSTRUCTION = 'End your reply with "The answer is X.", where X is your final answer.'
SUITE_KEYS = ("suite", "preset", "family", "size", "seed", "distance", "topic", "config",
              "instruction", "ignore_case")
MAX_SIZE = 100_000

# Named starting points. Values are GymSuiteConfig fields; "config" goes to create_dataset.
PRESETS: dict[str, dict[str, Any]] = {
    "chain_sum": {
        "family": "chain_sum", "topic": "arithmetic",
        "config": {"min_terms": 2, "max_terms": 4, "min_digits": 1, "max_digits": 1},
    },
    "chain_sum_2digit": {
        "family": "chain_sum", "topic": "arithmetic",
        "config": {"min_terms": 2, "max_terms": 4, "min_digits": 2, "max_digits": 2},
    },
    "basic_arithmetic": {
        "family": "basic_arithmetic", "topic": "arithmetic",
        "config": {"min_terms": 2, "max_terms": 4, "min_digits": 1, "max_digits": 2},
    },
    # Logic families (symbolic inference); difficulty in PRESET_NOTES.
    "syllogism": {"family": "syllogism", "topic": "deduction", "ignore_case": True,
                  "config": {"invalid_ratio": 0.3, "inversion_probability": 0.3}},
    "propositional_logic": {
        "family": "propositional_logic", "topic": "deduction",
        "config": {"min_vars": 2, "max_vars": 4, "min_statements": 2, "max_statements": 4,
                   "min_complexity": 1, "max_complexity": 3},
    },
    "knights_knaves": {
        "family": "knights_knaves", "topic": "deduction",
        "config": {"n_people": 2, "depth_constraint": 2, "width_constraint": 2},
    },
    "knights_knaves_3": {
        "family": "knights_knaves", "topic": "deduction",
        "config": {"n_people": 3, "depth_constraint": 2, "width_constraint": 2},
    },
    "family_relationships": {"family": "family_relationships", "topic": "relations",
                             "ignore_case": True},
}


# What each preset asks and how hard it is, measured with qconsole's label checks (no model):
PRESET_NOTES: dict[str, str] = {
    "chain_sum": "2-4 one-digit terms, + and -, left to right; answers about -20..30",
    "chain_sum_2digit": "2-4 two-digit terms: the same procedure with harder numbers",
    "basic_arithmetic": "2-4 terms of up to 2 digits, + - * / with precedence; mislabelled "
                        "items dropped",
    "syllogism": "two quantified premises, does a conclusion follow? Yes/No. 30% invalid, 30% "
                 "inverted conclusions: 74 of 100 answers are Yes (seed 5000, after dropping "
                 "the 12 generated items whose label the model check refutes), so always "
                 "saying Yes scores 74% (the constant-answer baseline shown beside it)",
    "propositional_logic": "2-4 premises over 2-4 variables, formula depth 1-3; the reply must "
                           "state a formula the premises entail (open answer). About a quarter "
                           "of generated items have contradictory premises and are dropped",
    "knights_knaves": "2 islanders, statements of depth 2: name who tells the truth; 4 possible "
                      "assignments, the commonest about 7% of items (names vary)",
    "knights_knaves_3": "3 islanders, 8 possible assignments: harder than knights_knaves",
    "family_relationships": "kinship questions; in-law items dropped (wrong labels upstream)",
}


@dataclass(frozen=True)
class GymSuiteConfig:
    suite: str
    family: str
    size: int = 50
    seed: int = 1
    distance: str | None = None
    topic: str | None = None
    config: Mapping[str, Any] = field(default_factory=dict)
    instruction: str = DEFAULT_INSTRUCTION
    ignore_case: bool = False  # accept the oracle answer in any letter case

    def to_dict(self) -> dict[str, Any]:
        return {
            "suite": self.suite, "family": self.family, "size": self.size, "seed": self.seed,
            "distance": self.distance, "topic": self.topic, "config": dict(self.config),
            "instruction": self.instruction, "ignore_case": self.ignore_case,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], *, where: str = "gym suite") -> GymSuiteConfig:
        """Validate a suite description; ``preset`` fills defaults the other keys override."""
        if not isinstance(data, Mapping):
            raise QConsoleError(f"{where}: a gym suite must be a mapping")
        unknown = [k for k in data if k not in SUITE_KEYS]
        if unknown:
            raise QConsoleError(
                f"{where}: unknown key {unknown[0]!r}; allowed: {', '.join(SUITE_KEYS)}"
            )
        merged: dict[str, Any] = {}
        preset_name = data.get("preset")
        if preset_name is not None:
            if not isinstance(preset_name, str) or preset_name not in PRESETS:
                raise QConsoleError(
                    f"{where}: unknown preset {preset_name!r}; presets: {', '.join(PRESETS)}"
                )
            merged.update(PRESETS[preset_name])
            merged["config"] = dict(PRESETS[preset_name].get("config", {}))
        for key, value in data.items():
            if key == "config" and value is not None:
                if not isinstance(value, Mapping):
                    raise QConsoleError(f"{where}: 'config' must be a mapping of options")
                clash = [k for k in ("seed", "size") if k in value]
                if clash:
                    raise QConsoleError(
                        f"{where}: put {clash[0]!r} at the suite level, not inside 'config'"
                    )
                merged["config"] = {**merged.get("config", {}), **value}
            elif key != "preset":
                merged[key] = value
        family = merged.get("family")
        if not isinstance(family, str) or not family:
            raise QConsoleError(f"{where}: needs a 'family' or a 'preset'")
        merged.setdefault("suite", preset_name or family)
        for key in ("size", "seed"):
            value = merged.get(key, 50 if key == "size" else 1)
            if isinstance(value, bool) or not isinstance(value, int):
                raise QConsoleError(f"{where}: {key!r} must be a whole number, got {value!r}")
            merged[key] = value
        if not 1 <= merged["size"] <= MAX_SIZE:
            raise QConsoleError(f"{where}: 'size' must be between 1 and {MAX_SIZE}")
        if merged["seed"] < 0:
            raise QConsoleError(f"{where}: 'seed' must be >= 0")
        distance = merged.get("distance")
        if distance is not None and distance not in DISTANCES:
            raise QConsoleError(f"{where}: 'distance' must be one of {', '.join(DISTANCES)}")
        for key in ("suite", "topic", "instruction"):
            if merged.get(key) is not None and not isinstance(merged[key], str):
                raise QConsoleError(f"{where}: {key!r} must be text")
        if not isinstance(merged.get("ignore_case", False), bool):
            raise QConsoleError(f"{where}: 'ignore_case' must be true or false")
        return cls(**{k: v for k, v in merged.items() if v is not None or k in ("distance",
                                                                                "topic")})


def preset(name: str, **overrides: Any) -> GymSuiteConfig:
    """A preset as a config, e.g. ``preset("syllogism", distance="far", size=100, seed=7)``."""
    return GymSuiteConfig.from_dict({"preset": name, **overrides}, where=f"preset {name!r}")


def gym_families() -> list[str]:
    """Names of every family reasoning-gym can generate."""
    _rg()
    from reasoning_gym.factory import DATASETS

    return sorted(DATASETS)


def _rg() -> Any:
    try:
        import reasoning_gym
    except ImportError as e:  # pragma: no cover - it is a declared dependency
        raise QConsoleError("reasoning-gym is not installed: pip install reasoning-gym") from e
    return reasoning_gym


@functools.lru_cache(maxsize=64)
def _dataset(family: str, seed: int, size: int, config_json: str) -> Any:
    rg = _rg()
    try:
        return rg.create_dataset(family, seed=seed, size=size, **json.loads(config_json))
    except (TypeError, ValueError, AssertionError) as e:
        if family not in gym_families():
            raise QConsoleError(
                f"unknown reasoning-gym family {family!r}; see gym_families()"
            ) from e
        raise QConsoleError(f"reasoning-gym rejected the options for {family!r}: {e}") from e


@functools.lru_cache(maxsize=4096)
def _entry(family: str, seed: int, size: int, config_json: str, index: int) -> dict[str, Any]:
    try:
        return _dataset(family, seed, size, config_json)[index]
    except QConsoleError:
        raise
    except Exception as e:  # a generator bug for some option values; name it, do not crash
        raise QConsoleError(
            f"reasoning-gym could not generate {family} item {index} (seed {seed}): {e}"
        ) from e


def _config_json(config: Mapping[str, Any]) -> str:
    try:
        return json.dumps(dict(config), sort_keys=True)
    except TypeError as e:
        raise QConsoleError(f"gym 'config' must hold plain values: {e}") from e


# ---------------------------------------------------------------------------------------------
# Label checks


_OPS = {ast.Add: operator.add, ast.Sub: operator.sub, ast.Mult: operator.mul,
        ast.Div: operator.truediv}


def exact_value(expression: str) -> Fraction | None:
    """Exact value of an arithmetic expression (+ - * / parentheses, unary minus), or None."""
    def ev(node: ast.AST) -> Fraction:
        if isinstance(node, ast.Expression):
            return ev(node.body)
        if isinstance(node, ast.Constant) and type(node.value) in (int, float):
            return Fraction(str(node.value))
        if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub | ast.UAdd):
            v = ev(node.operand)
            return -v if isinstance(node.op, ast.USub) else v
        if isinstance(node, ast.BinOp) and type(node.op) in _OPS:
            return _OPS[type(node.op)](ev(node.left), ev(node.right))
        raise ValueError(f"unsupported syntax {type(node).__name__}")

    try:
        return ev(ast.parse(expression.replace("×", "*").replace("÷", "/"), mode="eval"))
    except (SyntaxError, ValueError, ZeroDivisionError):
        return None


def label_is_trustworthy(family: str, entry: Mapping[str, Any]) -> bool:
    """False for items whose reference label is known or shown to be wrong."""
    meta = entry.get("metadata") or {}
    if family == "family_relationships":
        return "in-law" not in str(meta.get("relationship", entry.get("answer", "")))
    if family == "propositional_logic":
        return _premises_satisfiable(meta)
    if family == "syllogism" and "conclusion" in meta:
        return _syllogism_label_holds(meta, entry.get("answer"))
    if "expression" in meta and family in ("basic_arithmetic", "chain_sum"):
        value = exact_value(str(meta["expression"]))
        try:
            label = Fraction(str(entry["answer"]).strip())
        except (ValueError, ZeroDivisionError):
            return False
        return value is not None and value == label
    return True


def _syllogism_label_holds(meta: Mapping[str, Any], answer: Any) -> bool:
    """The Yes/No label agrees with a model check of the premises (syllogism_logic)."""
    from qconsole.evaluation.syllogism_logic import follows

    try:
        valid = follows([str(meta["premise1"]), str(meta["premise2"])], str(meta["conclusion"]))
    except (KeyError, ValueError):
        return False
    return str(answer).strip().lower() == ("yes" if valid else "no")


def _premises_satisfiable(meta: Mapping[str, Any]) -> bool:
    """Contradictory premises entail every formula, so any answer would score: drop those."""
    try:
        from reasoning_gym.logic.propositional_logic import Expression

        premises = [Expression.from_string(p) for p in meta["premises"]]
        variables = sorted(set(meta["variables"]))
        for bits in itertools.product((False, True), repeat=len(variables)):
            assignment = dict(zip(variables, bits, strict=True))
            if all(p.evaluate(assignment) for p in premises):
                return True
    except (ImportError, KeyError, ValueError, AttributeError):
        pass
    return False


# ---------------------------------------------------------------------------------------------
# Building and scoring


FEWSHOT_SEED_OFFSET = 1_000_000


def worked_answer(family: str, entry: Mapping[str, Any]) -> str | None:
    """An exemplar reply for a generated item: the worked steps of a chain sum ("4 - 3 = 1,
    1 - 4 = -3. The answer is -3."), else the answer in the cue format; None without one."""
    meta = entry.get("metadata") or {}
    answer = entry.get("answer")
    if not isinstance(answer, str):
        answer = meta.get("example_answer")
    if not isinstance(answer, str) or not answer.strip():
        return None
    expression = str(meta.get("expression") or "")
    toks = expression.split()
    if family == "chain_sum" and len(toks) >= 3 and len(toks) % 2 == 1:
        try:
            acc = int(toks[0])
            steps = []
            for op, num in zip(toks[1::2], toks[2::2], strict=True):
                new = acc + int(num) if op == "+" else acc - int(num)
                steps.append(f"{acc} {op} {num} = {new}")
                acc = new
            if str(acc) == answer.strip():
                return f"{', '.join(steps)}. The answer is {acc}."
        except ValueError:
            pass
    return f"The answer is {answer.strip()}."


def gym_exemplars(cfg: GymSuiteConfig, k: int, *, avoid: set[str] | None = None
                  ) -> tuple[tuple[str, str], ...]:
    """k worked exemplars of the suite's family and options, generated from seed
    ``cfg.seed + FEWSHOT_SEED_OFFSET`` (disjoint from the test items' seeds ``cfg.seed + i``,
    and far from the small seeds training data is usually drawn with); questions in ``avoid``
    (the test's own) and untrustworthy labels are skipped."""
    if k <= 0:
        return ()
    config_json = _config_json(cfg.config)
    seed = cfg.seed + FEWSHOT_SEED_OFFSET
    size = 4 * k + 20
    out: list[tuple[str, str]] = []
    for index in range(size):
        entry = _entry(cfg.family, seed, size, config_json, index)
        reply = worked_answer(cfg.family, entry)
        if (reply is None or not label_is_trustworthy(cfg.family, entry)
                or entry["question"] in (avoid or set())):
            continue
        out.append((f"{entry['question'].rstrip()}\n\n{cfg.instruction}".strip(), reply))
        if len(out) == k:
            return tuple(out)
    raise QConsoleError(f"gym suite {cfg.suite!r}: could not generate {k} few-shot exemplars")


def build_gym_suite(cfg: GymSuiteConfig, *, exemplars: int = 0) -> ProbeSet:
    """Generate ``cfg.size`` probe items (skipping untrustworthy labels) deterministically,
    and ``exemplars`` worked few-shot exemplars from a disjoint seed (:func:`gym_exemplars`)."""
    config_json = _config_json(cfg.config)
    generated = cfg.size * 3 + 20  # room for the items the label checks drop
    items: list[ProbeItem] = []
    dropped = 0
    for index in range(generated):
        if len(items) == cfg.size:
            break
        entry = _entry(cfg.family, cfg.seed, generated, config_json, index)
        if not label_is_trustworthy(cfg.family, entry):
            dropped += 1
            continue
        oracle = entry.get("answer")
        checker = Checker(
            kind="gym",
            answer=oracle if isinstance(oracle, str) else None,
            ignore_case=cfg.ignore_case,
            gym={"family": cfg.family, "seed": cfg.seed, "size": generated,
                 "config": json.loads(config_json), "index": index},
        )
        items.append(ProbeItem(
            id=f"{cfg.suite}:{index:04d}",
            suite=cfg.suite,
            prompt=f"{entry['question'].rstrip()}\n\n{cfg.instruction}".strip(),
            checker=checker,
            topic=cfg.topic,
            distance=cfg.distance,
            cluster=None,
            meta={"family": cfg.family, "seed": cfg.seed, "index": index,
                  "rng_key": cfg.seed + index, "question": entry["question"],
                  **_identity(entry)},
        ))
    if len(items) < cfg.size:
        raise QConsoleError(
            f"gym suite {cfg.suite!r}: only {len(items)} of {cfg.size} {cfg.family} items have "
            f"trustworthy labels; change its options"
        )
    shots = gym_exemplars(cfg, exemplars, avoid={str(i.meta["question"]) for i in items})
    return ProbeSet(
        suite=cfg.suite,
        items=tuple(items),
        source=f"reasoning-gym:{cfg.family}",
        description=f"reasoning-gym {cfg.family}, seed {cfg.seed}, {cfg.size} items",
        meta={"family": cfg.family, "seed": cfg.seed, "config": json.loads(config_json),
              "dropped": dropped,
              **({"fewshot_seed": cfg.seed + FEWSHOT_SEED_OFFSET} if exemplars else {})},
        exemplars=shots,
    )


def _identity(entry: Mapping[str, Any]) -> dict[str, Any]:
    """What the generator says the item is (its ``expression``), for the leakage check."""
    expression = (entry.get("metadata") or {}).get("expression")
    return {"expression": str(expression)} if expression else {}


def _gym_key(checker: Checker) -> tuple[tuple[str, int, int, str], int]:
    g = checker.gym
    try:
        key = (g["family"], int(g["seed"]), int(g["size"]), _config_json(g.get("config", {})))
        return key, int(g["index"])
    except (KeyError, TypeError, ValueError) as e:
        raise QConsoleError(f"malformed gym checker: {dict(g)!r}") from e


def gym_oracle(checker: Checker) -> str | None:
    """The reference answer reasoning-gym generated for the item (None for families that
    score by rule, e.g. propositional_logic)."""
    key, index = _gym_key(checker)
    oracle = _entry(*key, index).get("answer")
    return oracle if isinstance(oracle, str) else None


def score_gym_answer(checker: Checker, answer: str) -> bool:
    """True when reasoning-gym gives ``answer`` (an answer already read out of a reply, see
    qconsole.evaluation.readings) full credit; ``ignore_case`` accepts the oracle in any case."""
    key, index = _gym_key(checker)
    entry = _entry(*key, index)
    oracle = entry.get("answer")
    if (checker.ignore_case and isinstance(oracle, str)
            and answer.casefold() == oracle.strip().casefold()):
        return True
    return _score(_dataset(*key), answer, entry) >= 1.0 - 1e-9


def _score(ds: Any, answer: str, entry: Mapping[str, Any]) -> float:
    try:
        return float(ds.score_answer(answer, entry))
    except Exception:  # some scorers raise on odd text; an unreadable answer is a wrong one
        return 0.0
