"""The loop's jobs from the console: F5 training and F6 evaluation as subprocesses, the jobs
pane (F7) and cancel (F8). Later the teacher and cycles start their jobs here too.

A plain object the console owns and delegates to, given what it needs. Both jobs start through
the same request objects and argv builders as the CLI and the tests: training through
:class:`qconsole.training.request.TrainRequest` and ``training/launch.py``'s
``start_training``; evaluation through :class:`qconsole.evaluation.request.EvalRequest`
(``background``: the chat keeps its cores), stored with ``save_request`` and run with
``eval_job_argv``. Each flow is one straight-line coroutine run as a worker: gather (thread) ->
dialog (``push_screen_wait``) -> request -> job.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Mapping
from dataclasses import replace
from functools import partial
from pathlib import Path
from typing import Any

from textual.app import App

from qconsole.chat.side import ChatSide
from qconsole.paths import adapters_dir, cache_dir, sessions_dir
from qconsole.sides import Side
from qconsole.store.recorder import SessionRecorder
from qconsole.store.store import SessionStore
from qconsole.ui.adapter_switcher import AdapterSwitcher
from qconsole.ui.jobs_pane import JobsPane, JobView


def jobs_log_dir() -> Path:
    return cache_dir() / "jobs"


class LoopController:
    def __init__(
        self,
        app: App,
        *,
        sides: dict[Side, ChatSide | None],
        jobs: Callable[[], JobsPane],
        store: Callable[[], SessionStore | None],
        recorder: Callable[[], SessionRecorder | None],
        template: Callable[[], str],
        local_base: Callable[[], Path | None],
        adapters: AdapterSwitcher,
    ) -> None:
        self.app = app
        self.sides = sides
        self.jobs = jobs
        self.store = store
        self.recorder = recorder
        self.template = template
        self.local_base = local_base
        self.adapters = adapters

    # -- the jobs pane ---------------------------------------------------------------------
    def poll(self) -> None:
        self.jobs().poll()

    def toggle_pane(self) -> None:
        self.jobs().toggle_class("shown")

    def cancel_job(self) -> None:
        running = self.jobs().running()
        if not running:
            self.app.notify("no job is running")
            return
        view = running[0]
        self.app.run_worker(partial(view.handle.cancel, wait=True), thread=True, group="cancel")
        self.app.notify(f"cancelling {view.title}…")

    def cancel_all(self) -> None:
        """Quitting stops every job: the jobs are children of this console (a cancelled
        training leaves nothing in the registry, a cancelled evaluation is stored partial)."""
        for view in self.jobs().running():
            view.handle.cancel(wait=False)

    def _start(self, kind: str, title: str, start: Callable[[], Any],
               on_finish: Callable[[JobView, Mapping[str, Any]], None]) -> JobView | None:
        try:
            handle = start()
        except OSError as exc:
            self.app.notify(f"could not start {kind}: {exc}", severity="error")
            return None
        view = JobView(handle, kind, title, on_finish=on_finish)
        self.jobs().add_job(view)
        return view

    # -- training --------------------------------------------------------------------------
    def train(self) -> None:
        base = self.local_base()
        if base is None or self.store() is None:
            return
        if any(v.kind == "train" for v in self.jobs().running()):
            self.app.notify("a training run is already going (F7 shows it)", severity="warning")
            return
        self.app.run_worker(self._train(base), group="train", exclusive=True,
                            exit_on_error=False)

    async def _train(self, base: Path) -> None:
        from qconsole.training.launch import start_training
        from qconsole.ui.screens.train import TrainScreen

        corrections, n_sessions, tokens, pairs = await asyncio.to_thread(
            self._gather_corrections
        )
        request = await self.app.push_screen_wait(
            TrainScreen(corrections, n_sessions, tokens, pairs)
        )
        if request is None:
            return
        request = replace(request, model=str(base), template=self.template(),
                          sessions_dir=sessions_dir(), adapters_root=adapters_dir())
        what = (f"{len(corrections)} corrections" if request.objective == "sft" else
                f"{sum(pairs.values())} preference pairs ({request.objective})")
        title = f"training {request.name or 'adapter'} on {what}"
        if self._start("train", title, partial(start_training, request, jobs_log_dir()),
                       self._training_finished):
            self.app.notify("training started in the background: keep chatting "
                            "(F7 hides the pane)")

    def _gather_corrections(
        self,
    ) -> tuple[list, int, tuple[int, int] | None, dict[str, int]]:
        """Worker thread: every correction on disk (the latest marks first flushed), and the
        preference pairs per source a DPO run would train on."""
        from qconsole.training.preference_pairs import from_store_pair, select_pairs

        recorder, store = self.recorder(), self.store()
        assert store is not None
        if recorder is not None:
            recorder.flush(10.0)  # the latest marks and rewrites are on disk first
        corrections = store.corrections()
        n_sessions = len({c.session_id for c in corrections})
        pairs = select_pairs(from_store_pair(p) for p in store.preference_pairs()).by_source
        return corrections, n_sessions, self._count_training_tokens(corrections), pairs

    def _count_training_tokens(self, corrections: list) -> tuple[int, int] | None:
        """(prompt, target) tokens of the training examples, counted with the chat's own
        template and tokenizer: what training will see (worker thread)."""
        left = self.sides["left"]
        backend = left.backend if left is not None else None
        if left is None or backend is None or not corrections:
            return None
        prompt = target = 0
        try:
            for c in corrections:
                p, t = left.template.training_pair(c.prompt_messages, c.rewrite)
                prompt += backend.count_tokens(p)
                target += backend.count_tokens(t)
        except Exception:  # a count is a nicety; the training job reports the real figures
            return None
        return prompt, target

    def _training_finished(self, view: JobView, ev: Mapping[str, Any]) -> None:
        if ev.get("event") != "done":
            self.app.notify(f"{view.title}: {ev.get('message') or ev.get('event')}",
                            severity="error" if ev.get("event") == "error" else "warning",
                            timeout=20)
            return
        name = ev.get("adapter")
        eq = ev.get("equivalence") or {}
        if eq and not eq.get("passed"):
            self.app.notify(f"equivalence check of {name} failed: {eq.get('summary')}",
                            severity="warning", timeout=20)
        if name:
            self.app.notify(f"adapter {name} trained (loss {ev.get('final_loss', 0):.3f}); "
                            "loading it into the right pane", timeout=10)
            self.adapters.switch(name)

    # -- evaluation ------------------------------------------------------------------------
    def evaluate(self) -> None:
        base = self.local_base()
        if base is None:
            return
        right = self.sides["right"]
        if right is None or not right.adapter_name:
            self.app.notify("no adapter in the right pane: train one (F5) or pick one (F3)",
                            severity="warning")
            return
        self.app.run_worker(self._evaluate(base, right.adapter_name), group="evaluate",
                            exclusive=True, exit_on_error=False)

    async def _evaluate(self, base: Path, adapter: str) -> None:
        from qconsole.ui.screens.evaluate import EvaluateScreen

        choice = await self.app.push_screen_wait(EvaluateScreen(adapter,
                                                                no_judge=self.no_judge()))
        if choice is None:
            return
        path = await asyncio.to_thread(self._save_request, choice, base, adapter)
        if self._start("eval", f"evaluating {adapter} against the base"
                       + (", then the teacher judges" if choice.judge else ""),
                       partial(self._start_eval, path, choice.judge),
                       self._evaluation_finished):
            self.app.notify("evaluation started in the background: keep chatting")

    @staticmethod
    def _save_request(choice: Any, base: Path, adapter: str) -> Path:
        """Worker thread: the request (probe files are read here) stored for the job."""
        from qconsole.evaluation.request import save_request

        request = choice.request(model=str(base), adapter=adapter,
                                 sessions_root=str(sessions_dir()))
        return save_request(request)

    def no_judge(self) -> str | None:
        """Why the teacher cannot judge an evaluation (None: a teacher is configured)."""
        flow = getattr(self.app, "teacher", None)
        if flow is None:
            return "no teacher in this console"
        return None if flow.spec is not None else flow.missing

    @staticmethod
    def _start_eval(request_path: Path, judge: bool = False) -> Any:
        from qconsole.evaluation.request import eval_job_argv
        from qconsole.jobs import start_job

        log = jobs_log_dir() / f"eval-{time.strftime('%Y%m%d-%H%M%S')}.log"
        return start_job(eval_job_argv(request_path, judge=judge), log)

    def _evaluation_finished(self, view: JobView, ev: Mapping[str, Any]) -> None:
        if ev.get("event") == "done":
            self.app.notify(f"{view.title}: done — results in the jobs pane (F7) and in "
                            f"{ev.get('run_dir', 'evals/')}", timeout=15)
        else:
            self.app.notify(f"{view.title}: {ev.get('message') or ev.get('event')} "
                            "(partial results are marked as such)", severity="warning",
                            timeout=20)
