"""Per-turn checks of a diagnostic script: rules where a rule can decide, the judge otherwise.

Each check reads one reply (and, for consistency, an earlier reply of the same side) and says
pass, fail or undecided (None: the rule could not read the reply, and there is no judge). A
failure becomes a proposed mark: the check's failure kind, the turn's route step and a reason
in words. Rules come first because they are exact, fast and never flatter the model; the judge
(a teacher call) only decides what no rule can, and its verdict is labelled as the judge's.

The rules are deliberately simple and conservative, each tied to one failure a base model
shows (field guide, section 1): an empty, echoed or looping reply (``answers``: format), no
verdict where one was asked (``verdict``: judgement), quoting instead of answering
(``no_quote``: sophistry), a constraint set earlier not kept (``max_sentences``,
``max_words``, ``only_primes``: lost intent), a fact stated earlier not recalled
(``mentions_all``: forgot context), a yes/no that flips under paraphrase (``consistent_with``:
inconsistency), a wrong number or deduction (``number``, ``gym``: reasoning step).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from qconsole.evaluation.checkers import Checker, extract_number
from qconsole.evaluation.readings import check_with

Judge = Callable[[str, str, str], "bool | None"]  # (question, reply, rubric) -> verdict


@dataclass(frozen=True)
class TurnContext:
    """What a check may look at."""

    user: str
    reply: str
    earlier: Mapping[str, str]  # earlier turn id -> this side's reply
    checker: Checker | None = None  # a gym turn's scorer
    judge: Judge | None = None


@dataclass(frozen=True)
class Outcome:
    passed: bool | None
    reason: str
    by: str = "rule"  # rule | judge


@dataclass(frozen=True)
class CheckDef:
    kind: str  # the failure kind a failure proposes by default
    run: Callable[[TurnContext, Mapping[str, Any]], Outcome]
    options: tuple[str, ...] = ()
    required: tuple[str, ...] = ()

    def validate(self, options: Mapping[str, Any]) -> None:
        for key in options:
            if key not in self.options:
                raise ValueError(f"unknown option {key!r}; options: {', '.join(self.options)}"
                                 if self.options else f"takes no option ({key!r} given)")
        for key in self.required:
            if key not in options:
                raise ValueError(f"needs {key}")


# -- reading replies ---------------------------------------------------------------------------

_WORD = re.compile(r"[\w'’-]+")
_SENTENCE_END = re.compile(r"(?<!\d)[.!?]+(?=\s|$)|(?<=\d)[.!?]+(?=\s+[A-Z]|$)")
_ABBREVIATIONS = re.compile(r"\b(?:e\.g|i\.e|etc|vs|Mr|Mrs|Ms|Dr|St|cf)\.", re.I)
YES = ("yes", "yeah", "yep", "true", "correct", "right")
NO = ("no", "not", "false", "incorrect", "wrong", "never")
VERDICT_WORDS = (
    "yes", "no", "fair", "unfair", "just", "unjust", "right", "wrong", "should", "shouldn't",
    "good", "bad", "honest", "dishonest", "true", "false", "acceptable", "unacceptable",
    "agree", "disagree", "justified", "unjustified", "better", "worse", "must", "ought",
)


def words(text: str) -> list[str]:
    return [w.casefold().strip("'’-") for w in _WORD.findall(text)]


def sentences(text: str) -> list[str]:
    """Sentences of a reply (a decimal point or "e.g." inside a sentence does not end it)."""
    flat = _ABBREVIATIONS.sub(lambda m: m.group(0).replace(".", ""), " ".join(text.split()))
    parts = [p.strip() for p in _SENTENCE_END.split(flat)]
    return [p for p in parts if len(words(p)) >= 1]


def yes_no(text: str) -> str | None:
    """The reply's first yes/no, read from its first sentence: "yes", "no" or None."""
    first = sentences(text)[:1]
    for w in words(first[0]) if first else []:
        if w in ("yes", "yeah", "yep"):
            return "yes"
        if w in ("no", "nope"):
            return "no"
    return None


def looping(text: str, n: int = 6) -> bool:
    """A run of ``n`` words that comes back three or more times: a loop."""
    ws = words(text)
    counts: dict[tuple[str, ...], int] = {}
    for i in range(len(ws) - n + 1):
        g = tuple(ws[i:i + n])
        counts[g] = counts.get(g, 0) + 1
        if counts[g] >= 3:
            return True
    return False


def echoes(user: str, reply: str) -> bool:
    """The reply mostly repeats the question: most of its words are the question's words in
    the question's order (a run of 8 or more)."""
    u, r = words(user), words(reply)
    if len(r) < 4 or len(u) < 4:
        return False
    n = min(8, len(u))
    grams = {tuple(u[i:i + n]) for i in range(len(u) - n + 1)}
    hits = sum(1 for i in range(len(r) - n + 1) if tuple(r[i:i + n]) in grams)
    return hits >= max(1, (len(r) - n + 1) // 2)


def _same_text(a: str, b: str) -> bool:
    """Equal up to case and punctuation, or nearly so (a word or two changed)."""
    from difflib import SequenceMatcher

    wa, wb = words(a), words(b)
    return wa == wb or SequenceMatcher(None, wa, wb, autojunk=False).ratio() >= 0.85


def is_prime(n: int) -> bool:
    if n < 2:
        return False
    i = 2
    while i * i <= n:
        if n % i == 0:
            return False
        i += 1
    return True


# -- the checks --------------------------------------------------------------------------------


def _answers(ctx: TurnContext, opts: Mapping[str, Any]) -> Outcome:
    text = ctx.reply.strip()
    if len(words(text)) < int(opts.get("min_words", 2)):
        return Outcome(False, "the reply is empty or too short to be an answer")
    if echoes(ctx.user, text):
        return Outcome(False, "the reply repeats the question instead of answering it")
    if looping(text):
        return Outcome(False, "the reply loops: the same words come back again and again")
    if re.search(r"(?m)^\s*(User|Human|Q)\s*:", text):
        return Outcome(False, "the reply goes on as the user")
    for turn_id, earlier in ctx.earlier.items():
        if not opts.get("repeat_ok") and len(words(text)) >= 4 and _same_text(text, earlier):
            return Outcome(False, f"the reply repeats its own earlier reply (turn {turn_id}) "
                                  "instead of answering this question")
    return Outcome(True, "answers")


def _verdict(ctx: TurnContext, opts: Mapping[str, Any]) -> Outcome:
    first = " ".join(sentences(ctx.reply)[:2])
    said = set(words(first))
    if said & set(VERDICT_WORDS) or said & {str(w).casefold() for w in opts.get("words", ())}:
        return Outcome(True, "gives a verdict")
    return Outcome(False, "asked for a judgement, the reply gives no verdict in its first "
                          "sentences")


def _yes_no(ctx: TurnContext, opts: Mapping[str, Any]) -> Outcome:
    want = str(opts["answer"]).casefold()
    got = yes_no(ctx.reply)
    if got is None:
        return Outcome(False, "asked yes or no, the reply says neither first")
    if got != want:
        return Outcome(False, f"answers {got!r}; the sound answer is {want!r}")
    return Outcome(True, f"answers {want}")


_QUOTE = re.compile(r"[\"“]([^\"”]{20,})[\"”]")
_AUTHORITY = re.compile(r"\b(as [A-Z][a-z]+ (once )?(said|wrote|put it)|according to|"
                        r"in the words of|famously said|once said)\b")


def _no_quote(ctx: TurnContext, opts: Mapping[str, Any]) -> Outcome:
    m = _QUOTE.search(ctx.reply) or _AUTHORITY.search(ctx.reply)
    if m:
        return Outcome(False, f"quotes or appeals to authority instead of answering: "
                              f"{m.group(0)[:60]!r}")
    return Outcome(True, "answers in its own words")


def _mentions(ctx: TurnContext, opts: Mapping[str, Any], *, need_all: bool) -> Outcome:
    said = " " + " ".join(words(ctx.reply)) + " "
    want = [str(w) for w in opts["words"]]
    found = [w for w in want if f" {' '.join(words(w))} " in said]
    missing = [w for w in want if w not in found]
    if need_all and missing:
        return Outcome(False, f"does not say {', '.join(missing)}, stated earlier in the dialogue")
    if not need_all and not found:
        return Outcome(False, f"mentions none of: {', '.join(want)}")
    return Outcome(True, f"mentions {', '.join(found)}")


def _max_sentences(ctx: TurnContext, opts: Mapping[str, Any]) -> Outcome:
    n, limit = len(sentences(ctx.reply)), int(opts["n"])
    if n > limit:
        return Outcome(False, f"{n} sentences where the user asked for at most {limit}")
    return Outcome(True, f"{n} sentence(s)")


def _max_words(ctx: TurnContext, opts: Mapping[str, Any]) -> Outcome:
    n, limit = len(words(ctx.reply)), int(opts["n"])
    if n > limit:
        return Outcome(False, f"{n} words where the user asked for at most {limit}")
    return Outcome(True, f"{n} words")


def _only_primes(ctx: TurnContext, opts: Mapping[str, Any]) -> Outcome:
    numbers = [int(m) for m in re.findall(r"(?<![\d.])\d{1,9}(?![\d.]\d)", ctx.reply)]
    if not numbers:
        return Outcome(False, "gives no number, though the user asked for prime numbers")
    bad = [n for n in numbers if not is_prime(n)]
    if bad:
        return Outcome(False, f"uses {', '.join(map(str, bad[:5]))}, not prime, though the "
                              "user asked for primes only")
    return Outcome(True, "only primes")


def _number(ctx: TurnContext, opts: Mapping[str, Any]) -> Outcome:
    checker = Checker(kind="numeric", answer=str(opts["answer"]))
    if check_with(checker, ctx.reply):
        return Outcome(True, f"answers {opts['answer']}")
    got = extract_number(ctx.reply)
    return Outcome(False, f"answers {got if got is not None else 'no number'}; the answer is "
                          f"{opts['answer']}")


def _gym(ctx: TurnContext, opts: Mapping[str, Any]) -> Outcome:
    if ctx.checker is None:
        return Outcome(None, "not a reasoning-gym turn")
    if check_with(ctx.checker, ctx.reply):
        return Outcome(True, "reasoning-gym scores it correct")
    want = ctx.checker.answer
    return Outcome(False, "reasoning-gym scores it wrong" + (f" (the answer is {want})"
                                                             if want else ""))


def _consistent_with(ctx: TurnContext, opts: Mapping[str, Any]) -> Outcome:
    other = ctx.earlier.get(str(opts["turn"]))
    if other is None:
        return Outcome(None, f"turn {opts['turn']} was not played")
    a, b = yes_no(other), yes_no(ctx.reply)
    if a is not None and b is not None:
        if a != b:
            return Outcome(False, f"answered {a!r} to turn {opts['turn']} and {b!r} to the "
                                  "same question paraphrased")
        return Outcome(True, f"answers {a} both times")
    if ctx.judge is None:
        return Outcome(None, "no yes/no to compare and no judge configured")
    rubric = ("The reply must not contradict this earlier answer to the same question: "
              f"{other!r}")
    verdict = ctx.judge(ctx.user, ctx.reply, rubric)
    if verdict is None:
        return Outcome(None, "the judge gave no verdict", "judge")
    return Outcome(verdict, "the judge finds no contradiction with turn "
                   f"{opts['turn']}" if verdict else
                   f"the judge finds it contradicts turn {opts['turn']}", "judge")


def _judge(ctx: TurnContext, opts: Mapping[str, Any]) -> Outcome:
    if ctx.judge is None:
        return Outcome(None, "needs the judge: no teacher configured")
    verdict = ctx.judge(ctx.user, ctx.reply, str(opts["rubric"]))
    if verdict is None:
        return Outcome(None, "the judge gave no verdict", "judge")
    return Outcome(verdict, f"the judge: {'meets' if verdict else 'fails'} "
                            f"\"{str(opts['rubric'])[:80]}\"", "judge")


CHECKS: dict[str, CheckDef] = {
    "answers": CheckDef("format", _answers, ("min_words", "repeat_ok")),
    "verdict": CheckDef("judgement", _verdict, ("words",)),
    "yes_no": CheckDef("judgement", _yes_no, ("answer",), ("answer",)),
    "no_quote": CheckDef("sophistry", _no_quote),
    "mentions_any": CheckDef("other", lambda c, o: _mentions(c, o, need_all=False),
                             ("words",), ("words",)),
    "mentions_all": CheckDef("forgot_context", lambda c, o: _mentions(c, o, need_all=True),
                             ("words",), ("words",)),
    "max_sentences": CheckDef("lost_intent", _max_sentences, ("n",), ("n",)),
    "max_words": CheckDef("lost_intent", _max_words, ("n",), ("n",)),
    "only_primes": CheckDef("lost_intent", _only_primes),
    "number": CheckDef("reasoning_step", _number, ("answer",), ("answer",)),
    "gym": CheckDef("reasoning_step", _gym),
    "consistent_with": CheckDef("inconsistency", _consistent_with, ("turn",), ("turn",)),
    "judge": CheckDef("other", _judge, ("rubric",), ("rubric",)),
}


def run_check(name: str, options: Mapping[str, Any], ctx: TurnContext) -> Outcome:
    return CHECKS[name].run(ctx, options)


def default_kind(name: str) -> str:
    return CHECKS[name].kind


def rule_checks_for_reference(reference: str | None) -> Sequence[tuple[str, dict]]:
    """The rule checks a bare (prompt, reply, reference) item gets: the format check always,
    a numeric check where the reference ends in a number (the benchmark's items)."""
    out: list[tuple[str, dict]] = [("answers", {})]
    if reference is not None:
        number = extract_number(reference)
        if number is not None:
            out.append(("number", {"answer": str(number)}))
    return out
