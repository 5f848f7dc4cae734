"""What an evaluation run asks: suites, their items, how a reply is scored, and leakage.

Why one description for every kind: the console, ``qconsole eval`` and the stored results all
speak of suites by name, so a run is a list of :class:`SuiteSpec` (plain JSON) and the runner
turns each into items. Four kinds:

- ``in-domain``: the corrected turns themselves (``SessionStore.corrections()``), asked again
  exactly as the chat asked them: the same prompt template, the same context (the side's own
  dialogue up to that turn, fitted to the window the way the chat fits it) and the chat's stop
  strings; greedy decoding. Scored against the rewrite: when the rewrite states a final answer
  ("The answer is X.", "Answer: X", "#### X") the reply must give the same answer (numeric
  when X is a number, else normalised exact text, qconsole.evaluation.checkers). A rewrite with
  no final answer cannot be checked by rule; such items go to the separate suite
  ``in-domain-similarity``, scored by word-overlap F1 >= 0.5 with the rewrite. That is a
  PLACEHOLDER for a judge, labelled as such wherever it is shown, never mixed into
  ``in-domain``. Items from one dialogue share a cluster (the session).
- ``probes``: a user probe file (qconsole.evaluation.probes), asked as one chat turn. Judge-only
  items (a ``judge:`` rubric, no rule) are asked of both sides too (scorer ``judge``) but no rule
  scores them: their paired replies are stored apart (``judge_items.jsonl``), outside every rule
  row and statistic, for ``qconsole eval --judge``.
- ``gym``: a reasoning-gym suite (qconsole.evaluation.gym_suites), asked as one chat turn.
- ``benchmark``: an lm-eval task or group (qconsole.evaluation.benchmarks), with lm-eval's own
  prompts and metrics. ``panel: true`` puts it on the forgetting panel.

Leakage: an eval item that also sits in the training corrections proves nothing; every transfer
or benchmark item is compared with the corrections on content (qconsole.evaluation.leakage).

Few-shot: ``num_fewshot`` also applies to probes and gym suites: k worked exemplars (the probe
file's ``exemplars:``, or gym items generated from a seed disjoint from the test's) are shown as
earlier turns before every item, so a base model is measured on reasoning rather than on
guessing the answer format.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

from qconsole.errors import QConsoleError
from qconsole.evaluation.checkers import Checker, final_answer, parse_number
from qconsole.evaluation.readings import read
from qconsole.prompts import Message

SUITE_KINDS: tuple[str, ...] = ("in-domain", "probes", "gym", "benchmark")
IN_DOMAIN = "in-domain"
IN_DOMAIN_SIMILARITY = "in-domain-similarity"
SIMILARITY_THRESHOLD = 0.5
JUDGE_SCORER = "judge"  # a judge-only probe item: no rule, the teacher's judge scores it
SIMILARITY_LABEL = "placeholder: word-overlap F1 >= 0.5 with the rewrite, not a judge"


@dataclass(frozen=True)
class SuiteSpec:
    """One suite of a run, as stored in the run's manifest."""

    name: str
    kind: str
    distance: str | None = None
    topic: str | None = None
    panel: bool = False  # on the forgetting panel (benchmarks)
    path: str | None = None  # probes: the probe file (a benchmark slice: its data file)
    gym: Mapping[str, Any] | None = None  # gym: a GymSuiteConfig dict
    task: str | None = None  # benchmark: lm-eval task or group name; probes: a benchmark slice
    limit: int | None = None  # benchmark: lm-eval --limit; others: the first N items
    num_fewshot: int | None = None  # benchmarks: lm-eval shots; probes/gym: exemplar turns

    def __post_init__(self) -> None:
        if self.kind not in SUITE_KINDS:
            raise QConsoleError(f"suite {self.name!r}: unknown kind {self.kind!r}; use one of "
                                f"{', '.join(SUITE_KINDS)}")
        if self.kind == "probes" and not (self.path or self.task):
            raise QConsoleError(f"suite {self.name!r}: a probes suite needs a file path (or a "
                                "benchmark to slice)")
        if self.kind == "gym" and not self.gym:
            raise QConsoleError(f"suite {self.name!r}: a gym suite needs its configuration")
        if self.kind == "benchmark" and not self.task:
            raise QConsoleError(f"suite {self.name!r}: a benchmark suite needs an lm-eval task")

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["gym"] = dict(self.gym) if self.gym else None
        return {k: v for k, v in d.items() if v not in (None, False)}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> SuiteSpec:
        known = {f for f in cls.__dataclass_fields__}
        unknown = [k for k in data if k not in known]
        if unknown:
            raise QConsoleError(f"suite {data.get('name')!r}: unknown key {unknown[0]!r}")
        if "name" not in data or "kind" not in data:
            raise QConsoleError("a suite needs a 'name' and a 'kind'")
        return cls(**dict(data))


def benchmark_suite(task: str, *, panel: bool = False, limit: int | None = None,
                    num_fewshot: int | None = None) -> SuiteSpec:
    return SuiteSpec(name=task, kind="benchmark", task=task, topic=task, panel=panel,
                     limit=limit, num_fewshot=num_fewshot)


def gym_suite(config: Mapping[str, Any], *, limit: int | None = None) -> SuiteSpec:
    from qconsole.evaluation.gym_suites import GymSuiteConfig

    cfg = GymSuiteConfig.from_dict(config)  # validate now, not mid-run
    return SuiteSpec(name=cfg.suite, kind="gym", gym=dict(config), distance=cfg.distance,
                     topic=cfg.topic, limit=limit)


def probe_suite(path: str, *, name: str | None = None, limit: int | None = None) -> SuiteSpec:
    """A probe file as a suite, named by the file's ``suite:`` (validated now, not mid-run)."""
    from qconsole.evaluation.probes import load_probe_file

    probe_set = load_probe_file(path, suite=name)
    return SuiteSpec(name=probe_set.suite, kind="probes", path=str(path), limit=limit)


# -- generation items ---------------------------------------------------------------------------


@dataclass(frozen=True)
class GenItem:
    """One free-text item: the exact prompt text, and how the reply is scored.

    ``scorer`` is a checker kind, ``similarity`` (the labelled placeholder) or ``judge`` (a
    judge-only probe: generated on both sides, scored only by ``eval --judge``).
    """

    item_id: str
    suite: str
    prompt: str
    user_text: str
    scorer: str
    checker: Checker | None = None
    reference: str | None = None
    topic: str | None = None
    distance: str | None = None
    cluster: str | None = None
    meta: Mapping[str, Any] = field(default_factory=dict)


Render = Callable[[Sequence[Message]], str]

_HASHES = re.compile(r"####\s*(.+?)\s*$", re.MULTILINE)


def checker_for_rewrite(rewrite: str) -> Checker | None:
    """The rule that checks a reply against a rewrite, or None when the rewrite states no
    final answer (see the module docstring)."""
    answer = final_answer(rewrite)
    if answer is None:
        m = _HASHES.search(rewrite)
        answer = m.group(1).strip() if m else None
    if not answer:
        return None
    if parse_number(answer.replace(" ", "")) is not None:
        return Checker("numeric", answer=answer.replace(" ", ""))
    return Checker("exact", answer=answer)


def in_domain_items(
    corrections: Iterable[Any],
    render_for: Callable[[str], Render],
    *,
    limit: int | None = None,
) -> list[GenItem]:
    """Items from ``Correction`` records (qconsole.store); ``render_for(template_name)`` gives
    the prompt renderer the chat used for that template."""
    items: list[GenItem] = []
    for c in corrections:
        render = render_for(getattr(c, "template", "auto") or "auto")
        prompt = render(c.prompt_messages)
        checker = checker_for_rewrite(c.rewrite)
        kinds = tuple(getattr(c, "kinds", ()) or ())
        items.append(GenItem(
            item_id=c.id,
            suite=IN_DOMAIN if checker is not None else IN_DOMAIN_SIMILARITY,
            prompt=prompt,
            user_text=c.user,
            scorer=checker.kind if checker is not None else "similarity",
            checker=checker,
            reference=c.rewrite,
            topic=kinds[0] if kinds else "in-domain",
            distance="in-domain",
            cluster=c.session_id,
            meta={"hash": getattr(c, "hash", None), "kinds": list(kinds),
                  "original": getattr(c, "original", None)},
        ))
    return items[:limit] if limit else items


def probe_set_items(probe_set: Any, render: Render, *, spec: SuiteSpec) -> tuple[list[GenItem],
                                                                                  int]:
    """(items, how many of them are judge-only) from a ProbeSet; with ``spec.num_fewshot`` = k,
    the set's first k exemplars come before every item. Judge-only items (no rule, a rubric)
    come with scorer ``judge`` and no checker."""
    items: list[GenItem] = []
    judge_only = 0
    k = spec.num_fewshot or 0
    exemplars = tuple(getattr(probe_set, "exemplars", ()))
    if k > len(exemplars):
        raise QConsoleError(f"suite {spec.name!r}: {k} few-shot exemplars asked, "
                            f"{len(exemplars)} available")
    shots = [m for prompt, reply in exemplars[:k]
             for m in (Message("user", prompt), Message("assistant", reply))]
    for p in probe_set.items:
        if p.checker is None and not p.judge:
            continue  # the probe loader refuses such items; a hand-made set may not
        judge_only += p.checker is None
        items.append(GenItem(
            item_id=p.id,
            suite=spec.name,
            prompt=render([*shots, Message("user", p.prompt)]),
            user_text=p.prompt,
            scorer=p.checker.kind if p.checker is not None else JUDGE_SCORER,
            checker=p.checker,
            reference=p.reference,
            topic=p.topic or spec.topic,
            distance=p.distance or spec.distance,
            cluster=p.cluster,
            meta={"source": p.source, **dict(p.meta),
                  **({"judge": p.judge} if p.judge else {})},  # for `eval --judge`
        ))
    if spec.limit:
        items = items[: spec.limit]
    return items, judge_only


def load_generation_suite(spec: SuiteSpec, render: Render) -> tuple[list[GenItem], list[str]]:
    """Items of a probes or gym suite, and warnings for the run."""
    warnings: list[str] = []
    if spec.kind == "probes" and spec.task:  # a benchmark slice, its file found at setup
        from qconsole.evaluation.benchmark_slice import load_slice

        if not spec.path:
            raise QConsoleError(f"suite {spec.name!r}: no data file for {spec.task}")
        probe_set = load_slice(spec.path, suite=spec.name, size=spec.limit or 10,
                               topic=spec.topic, distance=spec.distance)
    elif spec.kind == "probes":
        from qconsole.evaluation.probes import load_probe_file

        probe_set = load_probe_file(spec.path or "", suite=spec.name)
    elif spec.kind == "gym":
        from qconsole.evaluation.gym_suites import GymSuiteConfig, build_gym_suite

        cfg = GymSuiteConfig.from_dict({**dict(spec.gym or {}), "suite": spec.name})
        probe_set = build_gym_suite(cfg, exemplars=spec.num_fewshot or 0)
    else:
        raise ValueError(f"{spec.kind} is not a generation suite")
    items, judge_only = probe_set_items(probe_set, render, spec=spec)
    if judge_only:
        warnings.append(f"{spec.name}: {judge_only} judge-only item(s) are asked of both sides "
                        "but no rule scores them: `qconsole eval --judge` (or the judge option "
                        "of F6) does")
    if not items:
        raise QConsoleError(f"suite {spec.name!r} has no item to ask")
    return items, warnings


# -- scoring ------------------------------------------------------------------------------------

_WORD = re.compile(r"\w+", re.UNICODE)


def words(text: str) -> list[str]:
    return [w.casefold() for w in _WORD.findall(text)]


def word_f1(reply: str, reference: str) -> float:
    """Bag-of-words F1 between a reply and a reference (0 when either is empty)."""
    a, b = words(reply), words(reference)
    if not a or not b:
        return 0.0
    counts: dict[str, int] = {}
    for w in b:
        counts[w] = counts.get(w, 0) + 1
    common = 0
    for w in a:
        if counts.get(w, 0) > 0:
            counts[w] -= 1
            common += 1
    if common == 0:
        return 0.0
    precision, recall = common / len(a), common / len(b)
    return 2 * precision * recall / (precision + recall)


def score_reply(item: GenItem, reply: str) -> tuple[bool, dict[str, Any]]:
    """(correct under the headline reading, details with both readings) for one reply.

    ``details`` holds ``strict`` and ``flexible`` (qconsole.evaluation.readings) and the answer
    each read; the similarity placeholder has one reading, stored as both.
    """
    if item.scorer == "similarity":
        f1 = word_f1(reply, item.reference or "")
        ok = f1 >= SIMILARITY_THRESHOLD
        return ok, {"similarity": round(f1, 4), "scorer": "similarity", "strict": ok,
                    "flexible": ok}
    if item.scorer == JUDGE_SCORER:  # no rule: never counted as right or wrong by one
        return False, {"scorer": JUDGE_SCORER, "strict": None, "flexible": None}
    if item.checker is None:
        raise QConsoleError(f"item {item.item_id} has no checker")
    reading = read(item.checker, reply)
    return reading.flexible, {"scorer": item.checker.kind, **reading.to_dict()}
