"""Diagnostic dialogue scripts: YAML files, each a sequence of turns with per-turn checks.

Shipped scripts live in ``qconsole/teacher/scripts/``; a person's own in
``<workspace>/teacher/scripts/`` (same name: the person's wins). A script::

    name: route-fairness
    title: "Three-step route: fairness"
    goal: Find the step of generalise -> analogy -> judgement where the model breaks.
    topic: fairness
    turns:
      - id: rule
        say: In one or two sentences, what is fairness in general?
        step: generalise                    # route step a failure here is marked with
        checks:
          - check: answers                  # not empty, no echo, no loop (format)
          - check: mentions_any
            words: [equal, same, deserve]
            kind: generalisation
      - id: sums
        gym: {family: chain_sum, seed: 11, config: {min_terms: 3, max_terms: 3}}
        checks: [{check: gym}]              # reasoning-gym's own scorer
      - id: verdict
        say: A teacher gives copied work the grade of real work. Is that fair? Yes or no first.
        checks: [{check: yes_no, answer: "no"}]
        variants:                           # "more like this" for a failure here (no LLM)
          - say: Copied homework gets the mark of real homework. Fair? Yes or no first.
          - say: Every student is graded on their own work. Fair? Yes or no first.
            reply: "Yes. Grading each student on their own work is fair."

A variant without ``reply`` is the same question in other words: it takes the person's
corrected reply. One with ``reply`` is a contrast case (the other answer, or another
situation): a set of corrections that all answer "No" teaches "No" to everything, so a
judgement turn's variants should hold both.

Why data and not code: a new probe is a few lines a person writes in the workspace, and the
same file drives the console's autoplay, the CLI and the tests. The check names and what each
reads are in ``checks.py``. Every mistake in a file is one line naming the file and the turn.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from qconsole.errors import QConsoleError
from qconsole.paths import workspace_dir
from qconsole.store.failure_kinds import KIND_BY_KEY, STEP_BY_KEY

SHIPPED_DIR = Path(__file__).resolve().parent / "scripts"
SCRIPT_KEYS = ("name", "title", "goal", "topic", "turns")
TURN_KEYS = ("id", "say", "gym", "step", "checks", "variants")
VARIANT_KEYS = ("say", "reply")
MAX_SCRIPT_VARIANTS = 20
GYM_KEYS = ("family", "seed", "index", "config", "instruction")


def user_scripts_dir() -> Path:
    return Path(os.environ.get("QCONSOLE_TEACHER_SCRIPTS") or
                workspace_dir() / "teacher" / "scripts").expanduser()


@dataclass(frozen=True)
class CheckSpec:
    """One check of a turn: its name (see checks.CHECKS), options, and the mark it proposes."""

    check: str
    options: Mapping[str, Any] = field(default_factory=dict)
    kind: str | None = None  # failure kind; None: the check's default
    reason: str | None = None  # shown with the proposed mark; None: the check's own words


@dataclass(frozen=True)
class ScriptVariant:
    """An authored "more like this" item of a turn; ``reply`` None: the person's correction."""

    say: str
    reply: str | None = None


@dataclass(frozen=True)
class ScriptTurn:
    id: str
    say: str | None = None
    gym: Mapping[str, Any] | None = None
    step: str | None = None
    checks: tuple[CheckSpec, ...] = ()
    variants: tuple[ScriptVariant, ...] = ()


@dataclass(frozen=True)
class Script:
    name: str
    title: str
    goal: str
    topic: str | None
    turns: tuple[ScriptTurn, ...]
    source: str = ""

    def turn(self, turn_id: str) -> ScriptTurn:
        for t in self.turns:
            if t.id == turn_id:
                return t
        raise QConsoleError(f"script {self.name} has no turn {turn_id!r}")


def parse_script(data: Any, *, source: str) -> Script:
    """Validate one script document (already parsed YAML)."""
    from qconsole.teacher.checks import CHECKS

    def fail(msg: str) -> QConsoleError:
        return QConsoleError(f"{source}: {msg}")

    if not isinstance(data, Mapping):
        raise fail("a script must be a mapping with name, goal and turns")
    unknown = [k for k in data if k not in SCRIPT_KEYS]
    if unknown:
        raise fail(f"unknown key {unknown[0]!r}; allowed: {', '.join(SCRIPT_KEYS)}")
    name = data.get("name")
    if not isinstance(name, str) or not name.strip():
        raise fail("needs a name")
    turns_data = data.get("turns")
    if not isinstance(turns_data, list) or not turns_data:
        raise fail("needs a non-empty list of turns")
    turns: list[ScriptTurn] = []
    seen: set[str] = set()
    for n, t in enumerate(turns_data, 1):
        where = f"turn {n}"
        if not isinstance(t, Mapping):
            raise fail(f"{where} must be a mapping with say (or gym) and checks")
        bad = [k for k in t if k not in TURN_KEYS]
        if bad:
            raise fail(f"{where}: unknown key {bad[0]!r}; allowed: {', '.join(TURN_KEYS)}")
        tid = str(t.get("id") or f"t{n}")
        if tid in seen:
            raise fail(f"{where}: id {tid!r} is used twice")
        seen.add(tid)
        say, gym = t.get("say"), t.get("gym")
        if (say is None) == (gym is None):
            raise fail(f"{where} ({tid}): give exactly one of say (text) or gym (a family)")
        if say is not None and (not isinstance(say, str) or not say.strip()):
            raise fail(f"{where} ({tid}): say must be text")
        if gym is not None:
            gym = _gym(gym, fail, f"{where} ({tid})")
        step = t.get("step")
        if step is not None and step not in STEP_BY_KEY:
            raise fail(f"{where} ({tid}): step must be one of {', '.join(STEP_BY_KEY)}")
        checks = []
        for c in t.get("checks") or []:
            spec = _check(c, fail, f"{where} ({tid})", CHECKS)
            if spec.check == "consistent_with" and spec.options.get("turn") not in seen - {tid}:
                raise fail(f"{where} ({tid}): consistent_with needs turn: an earlier turn's id")
            checks.append(spec)
        variants = _variants(t.get("variants"), fail, f"{where} ({tid})")
        turns.append(ScriptTurn(tid, say.strip() if say else None, gym, step, tuple(checks),
                                variants))
    return Script(
        name=name.strip(), title=str(data.get("title") or name), goal=str(data.get("goal") or ""),
        topic=str(data["topic"]) if data.get("topic") else None, turns=tuple(turns),
        source=source,
    )


def _variants(value: Any, fail, where: str) -> tuple[ScriptVariant, ...]:
    if value is None:
        return ()
    if not isinstance(value, list) or len(value) > MAX_SCRIPT_VARIANTS:
        raise fail(f"{where}: variants must be a list of at most {MAX_SCRIPT_VARIANTS} "
                   "items, each with say (and reply for a contrast case)")
    out = []
    for n, v in enumerate(value, 1):
        if isinstance(v, str):
            v = {"say": v}
        if not isinstance(v, Mapping) or any(k not in VARIANT_KEYS for k in v):
            raise fail(f"{where}: variant {n} takes only {', '.join(VARIANT_KEYS)}")
        say, reply = v.get("say"), v.get("reply")
        if not isinstance(say, str) or not say.strip():
            raise fail(f"{where}: variant {n} needs say: the question")
        if reply is not None and (not isinstance(reply, str) or not reply.strip()):
            raise fail(f"{where}: variant {n}: reply must be text (or left out)")
        out.append(ScriptVariant(say.strip(), reply.strip() if reply else None))
    return tuple(out)


def _gym(value: Any, fail, where: str) -> dict[str, Any]:
    if not isinstance(value, Mapping) or not isinstance(value.get("family"), str):
        raise fail(f"{where}: gym needs family: a reasoning-gym family name")
    bad = [k for k in value if k not in GYM_KEYS]
    if bad:
        raise fail(f"{where}: unknown gym key {bad[0]!r}; allowed: {', '.join(GYM_KEYS)}")
    out = {"family": value["family"], "seed": value.get("seed", 1),
           "index": value.get("index", 0), "config": dict(value.get("config") or {})}
    for key in ("seed", "index"):
        if isinstance(out[key], bool) or not isinstance(out[key], int) or out[key] < 0:
            raise fail(f"{where}: gym {key} must be a whole number >= 0")
    if value.get("instruction") is not None:
        out["instruction"] = str(value["instruction"])
    return out


def _check(value: Any, fail, where: str, known: Mapping[str, Any]) -> CheckSpec:
    if isinstance(value, str):
        value = {"check": value}
    if not isinstance(value, Mapping) or not isinstance(value.get("check"), str):
        raise fail(f"{where}: each check needs check: NAME ({', '.join(known)})")
    name = value["check"]
    if name not in known:
        raise fail(f"{where}: unknown check {name!r}; known: {', '.join(known)}")
    kind = value.get("kind")
    if kind is not None and kind not in KIND_BY_KEY:
        raise fail(f"{where}: check {name}: kind must be one of {', '.join(KIND_BY_KEY)}")
    options = {k: v for k, v in value.items() if k not in ("check", "kind", "reason")}
    try:
        known[name].validate(options)
    except (TypeError, ValueError) as exc:
        raise fail(f"{where}: check {name}: {exc}") from None
    reason = value.get("reason")
    return CheckSpec(name, options, kind, str(reason) if reason is not None else None)


def load_script_file(path: str | os.PathLike[str]) -> Script:
    """A script file through the one bounded reader: the user's scripts folder may hold
    anything (a FIFO, a huge file, an alias bomb), and each is one clear line."""
    from qconsole.safe_files import YAML_MAX_BYTES, load_yaml, read_text_bounded

    p = Path(path).expanduser()
    data = load_yaml(read_text_bounded(p, max_bytes=YAML_MAX_BYTES, what="script"),
                     source=p.name)
    return parse_script(data, source=p.name)


def script_files() -> dict[str, Path]:
    """name (file stem) -> file; the workspace's scripts override shipped ones."""
    found: dict[str, Path] = {}
    for folder in (SHIPPED_DIR, user_scripts_dir()):
        if folder.is_dir():
            for f in sorted(folder.glob("*.y*ml")):
                found[f.stem] = f
    return found


def find_script(name_or_path: str) -> Script:
    """A script by name (shipped or the workspace's) or by path."""
    path = Path(name_or_path).expanduser()
    if path.suffix.lower() in (".yaml", ".yml") or path.is_file():
        if not path.is_file():
            raise QConsoleError(f"script file not found: {path}")
        return load_script_file(path)
    files = script_files()
    if name_or_path not in files:
        raise QConsoleError(f"no script {name_or_path!r}; scripts: {', '.join(sorted(files))}")
    return load_script_file(files[name_or_path])
