"""Kill and resume at every step, on real ledger files and a real session store.

The probe, training and evaluation are replaced by steps that only record that they ran (the
resume logic is what is under test; the real steps run in test_cycle_end_to_end.py); check and
corrections are the real steps. A kill is a BaseException raised inside a step, after its side
effects and before the ledger marks it finished: the hardest moment to resume from.
"""

from __future__ import annotations

import json

import pytest

from qconsole.cycles.context import CycleContext
from qconsole.cycles.corrections import corrections_step
from qconsole.cycles.ledger import STEP_NAMES, Ledger, ledger_path
from qconsole.cycles.plan import load_plan
from qconsole.cycles.probe import check_step, records_path
from qconsole.cycles.runner import run_plan
from qconsole.errors import QConsoleError
from qconsole.store import SessionStore

PLAN = """\
name: resume
cycles: 2
topics:
  - name: sums
    probes: {gym: {preset: chain_sum, size: 5, seed: 10000}}
    corrections: {source: SOURCE, max: 3}
    heldout: {preset: chain_sum, size: 5, seed: 1}
"""

EXPRESSIONS = ["4 - 3 - 4", "2 + 5", "9 - 1 + 2", "3 + 3", "8 - 9"]


class Killed(BaseException):
    """What a SIGKILL does to a step: it stops, the ledger is not told."""


def fake_probe(ctx, k):
    path = records_path(ctx, k)
    path.parent.mkdir(parents=True, exist_ok=True)
    rows = []
    for i, expr in enumerate(EXPRESSIONS):
        answer = str(eval(expr))  # noqa: S307 - the test's own literals
        rows.append({"item": f"probe-sums:{k}{i:03d}", "suite": "probe-sums", "topic": "sums",
                     "user_text": f"What is {expr}?", "reply": "I do not know.",
                     "correct": i == 1, "strict": False, "read": None, "reference": answer,
                     "meta": {"family": "chain_sum", "expression": expr}})
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return {"items": len(rows), "records": str(path.relative_to(ctx.folder)),
            "model": ctx.model_before(k), "model_name": "m", "template": "transcript"}


def fake_train(ctx, k):
    return {"adapters": [{"seed": 0, "name": ctx.adapter_name(k, 0)}],
            "sessions": len(ctx.accumulated_sessions(k))}


def fake_evaluate(ctx, k):
    return {"runs": []}


def fake_record(ctx, k):
    return {}


def make_steps(calls, kill_at=None):
    real = {"probe": fake_probe, "check": check_step, "corrections": corrections_step,
            "train": fake_train, "evaluate": fake_evaluate, "record": fake_record}

    def wrap(name, fn):
        def step(ctx, k):
            result = fn(ctx, k)
            calls.append((k, name))
            if kill_at == (k, name):
                raise Killed
            return result
        return step
    return [(n, wrap(n, real[n])) for n in STEP_NAMES]


def context(tmp_path, workspace, source="reference"):
    p = tmp_path / "plan.yaml"
    p.write_text(PLAN.replace("SOURCE", source))
    plan = load_plan(p)
    ledger = Ledger.open(ledger_path(workspace, plan.name), plan_name=plan.name,
                         plan_hash=plan.hash, plan_path=str(p))
    return CycleContext(plan=plan, ledger=ledger, workspace=workspace,
                        sessions=workspace / "sessions", adapters=workspace / "adapters",
                        evals=workspace / "evals", say=lambda line: None)


@pytest.mark.parametrize("kill_at", [(k, n) for k in (1, 2) for n in STEP_NAMES])
def test_a_kill_at_any_step_resumes_without_redoing_or_duplicating(tmp_path,
                                                                   isolated_workspace,
                                                                   kill_at):
    calls: list = []
    with pytest.raises(Killed):
        run_plan(context(tmp_path, isolated_workspace), make_steps(calls, kill_at))
    before = list(calls)
    assert before[-1] == kill_at
    calls.clear()
    ctx = context(tmp_path, isolated_workspace)  # a new process reads the ledger file
    outcome = run_plan(ctx, make_steps(calls))
    assert outcome.status == "done"
    everything = [(k, n) for k in (1, 2) for n in STEP_NAMES]
    # the killed step runs again, every step after it once, nothing finished before it
    assert calls == everything[everything.index(kill_at):]
    assert outcome.skipped == everything[:everything.index(kill_at)]
    # 3 corrections per cycle (4 failures, max 3), each exactly once in the store
    store = SessionStore(isolated_workspace / "sessions")
    assert len(store.session_ids()) == 6
    assert len(store.corrections()) == 6
    ids = [c["id"] for k in (1, 2) for c in ctx.ledger.step(k, "corrections")["corrections"]]
    assert len(set(ids)) == 6
    assert ctx.ledger.step(2, "train")["sessions"] == 6  # cycle 2 trains on both cycles'


def test_a_kill_in_the_middle_of_writing_corrections_completes_them_once(
        tmp_path, isolated_workspace, monkeypatch):
    calls: list = []
    real = SessionStore.set_rewrite
    count = {"n": 0}

    def dying(self, *args, **kwargs):
        count["n"] += 1
        if count["n"] == 2:
            raise Killed
        return real(self, *args, **kwargs)

    monkeypatch.setattr(SessionStore, "set_rewrite", dying)
    with pytest.raises(Killed):
        run_plan(context(tmp_path, isolated_workspace), make_steps(calls))
    monkeypatch.setattr(SessionStore, "set_rewrite", real)
    store = SessionStore(isolated_workspace / "sessions")
    assert len(store.session_ids()) == 2 and len(store.corrections()) == 1  # half way
    ctx = context(tmp_path, isolated_workspace)
    run_plan(ctx, make_steps(calls), until_cycle=1)
    assert len(store.session_ids()) == 3 and len(store.corrections()) == 3
    step = ctx.ledger.step(1, "corrections")
    assert step["reused"] == 2 and step["attempts"] == 2
    rewrites = sorted(c.rewrite for c in store.corrections())
    assert "4 - 3 = 1, 1 - 4 = -3. The answer is -3." in rewrites


def test_a_human_queue_stops_the_cycle_until_the_turns_are_rewritten(tmp_path,
                                                                      isolated_workspace):
    calls: list = []
    outcome = run_plan(context(tmp_path, isolated_workspace, "human"), make_steps(calls))
    assert outcome.status == "waiting" and len(outcome.waiting.pending) == 3
    assert calls[-1] == (1, "check")  # corrections did not finish
    store = SessionStore(isolated_workspace / "sessions")
    assert store.corrections() == []
    again = run_plan(context(tmp_path, isolated_workspace, "human"), make_steps(calls))
    assert again.status == "waiting"
    assert len(store.session_ids()) == 3  # asked again, not queued twice
    for sid in store.session_ids():  # the person rewrites them in the console
        store.set_rewrite(sid, "t1", "left", "The answer is 1.")
    calls.clear()
    ctx = context(tmp_path, isolated_workspace, "human")
    done = run_plan(ctx, make_steps(calls), until_cycle=1)
    assert done.status == "done"
    assert calls[0] == (1, "corrections")
    assert ctx.ledger.step(1, "corrections")["sources"] == {"human": 3}


def test_a_changed_plan_is_not_resumed_as_the_old_one(tmp_path, isolated_workspace):
    run_plan(context(tmp_path, isolated_workspace), make_steps([]), until_cycle=1)
    with pytest.raises(QConsoleError, match="different version of plan 'resume'"):
        context(tmp_path, isolated_workspace, "teacher")


def test_the_ledger_is_valid_json_after_every_step(tmp_path, isolated_workspace):
    seen = []

    def spy(name, fn):
        def step(ctx, k):
            seen.append(json.loads(ctx.ledger.path.read_text())["cycles"][k - 1]["steps"][name])
            return fn(ctx, k)
        return step
    steps = [(n, spy(n, f)) for n, f in make_steps([])]
    ctx = context(tmp_path, isolated_workspace)
    run_plan(ctx, steps, until_cycle=1)
    assert all("started_at" in s and "done_at" not in s for s in seen)
    assert ctx.ledger.cycle_done(1) and not ctx.ledger.cycle_done(2)
