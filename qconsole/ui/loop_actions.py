"""The console's loop actions: F5 training and F6 evaluation as subprocess jobs, the jobs pane
(F7) and cancel (F8).

A mixin of :class:`qconsole.ui.app.QConsoleApp`, kept apart so the app module stays about the
chat; it uses the app's ``sides``, ``store``, ``recorder``, ``template_choice`` and
``_local_base``.
"""

from __future__ import annotations

from functools import partial

from textual import work

from qconsole.errors import QConsoleError
from qconsole.paths import sessions_dir
from qconsole.ui.jobs_pane import JobsPane, JobView


class LoopActions:
    # -- background jobs -------------------------------------------------------------------
    def _poll_jobs(self) -> None:
        self.query_one("#jobs", JobsPane).poll()

    def _start_job(self, kind: str, title: str, args: list[str], on_finish) -> JobView | None:
        import time

        from qconsole.jobs import qconsole_argv, start_job
        from qconsole.paths import cache_dir

        log = cache_dir() / "jobs" / f"{kind}-{time.strftime('%Y%m%d-%H%M%S')}.log"
        try:
            handle = start_job(qconsole_argv(*args), log)
        except OSError as exc:
            self.notify(f"could not start {kind}: {exc}", severity="error")
            return None
        view = JobView(handle, kind, title, on_finish=on_finish)
        self.query_one("#jobs", JobsPane).add_job(view)
        return view

    def action_jobs(self) -> None:
        self.query_one("#jobs", JobsPane).toggle_class("shown")

    def action_cancel_job(self) -> None:
        running = self.query_one("#jobs", JobsPane).running()
        if not running:
            self.notify("no job is running")
            return
        view = running[0]
        self.run_worker(partial(view.handle.cancel, wait=True), thread=True, group="cancel")
        self.notify(f"cancelling {view.title}…")

    def action_train(self) -> None:
        if self._local_base() is None or self.store is None:
            return
        if any(v.kind == "train" for v in self.query_one("#jobs", JobsPane).running()):
            self.notify("a training run is already going (F7 shows it)", severity="warning")
            return
        self._gather_corrections()

    @work(thread=True, exclusive=True, group="corrections", exit_on_error=False)
    def _gather_corrections(self) -> None:
        if self.recorder is not None:
            self.recorder.flush(10.0)  # the latest marks and rewrites are on disk first
        try:
            corrections = self.store.corrections()
        except QConsoleError as exc:
            self.call_from_thread(self.notify, str(exc), severity="error")
            return
        n_sessions = len({c.session_id for c in corrections})
        tokens = self._count_training_tokens(corrections)
        self.call_from_thread(self._show_train_dialog, corrections, n_sessions, tokens)

    def _count_training_tokens(self, corrections: list) -> tuple[int, int] | None:
        """(prompt, target) tokens of the training examples, counted with the chat's own
        template and tokenizer: what training will see (worker thread)."""
        left = self.sides["left"]
        if left is None or not corrections:
            return None
        prompt = target = 0
        try:
            for c in corrections:
                p, t = left.template.training_pair(c.prompt_messages, c.rewrite)
                prompt += left.backend.count_tokens(p)
                target += left.backend.count_tokens(t)
        except Exception:  # a count is a nicety; the training job reports the real figures
            return None
        return prompt, target

    def _show_train_dialog(
        self, corrections: list, n_sessions: int, tokens: tuple[int, int] | None = None
    ) -> None:
        from qconsole.paths import adapters_dir
        from qconsole.ui.screens.train import TrainScreen

        left = self.sides["left"]

        def launch(args: list[str] | None) -> None:
            if args is None or left is None:
                return
            argv = ["train", "--model", str(left.backend.path), "--template",
                    self.template_choice, "--sessions", str(sessions_dir()),
                    "--adapters", str(adapters_dir()), "--progress-jsonl", "-", "--quiet", *args]
            name = args[args.index("--name") + 1] if "--name" in args else "adapter"
            self._start_job("train", f"training {name} on {len(corrections)} corrections",
                            argv, self._training_finished)
            self.notify("training started in the background: keep chatting (F7 hides the pane)")

        self.push_screen(TrainScreen(corrections, n_sessions, tokens), launch)

    def _training_finished(self, view: JobView, ev: dict) -> None:
        if ev.get("event") != "done":
            self.notify(f"{view.title}: {ev.get('message') or ev.get('event')}",
                        severity="error" if ev.get("event") == "error" else "warning",
                        timeout=20)
            return
        name = ev.get("adapter")
        eq = ev.get("equivalence") or {}
        if eq and not eq.get("passed"):
            self.notify(f"equivalence check of {name} failed: {eq.get('summary')}",
                        severity="warning", timeout=20)
        if name:
            self.notify(f"adapter {name} trained (loss {ev.get('final_loss', 0):.3f}); "
                        "loading it into the right pane", timeout=10)
            self.switch_adapter(name)

    def action_evaluate(self) -> None:
        from qconsole.ui.screens.evaluate import EvaluateScreen

        base = self._local_base()
        right = self.sides["right"]
        if base is None:
            return
        if right is None or not right.adapter_name:
            self.notify("no adapter in the right pane: train one (F5) or pick one (F3)",
                        severity="warning")
            return
        adapter = right.adapter_name

        def launch(args: list[str] | None) -> None:
            if args is None:
                return
            argv = ["eval", "--model", str(base), "--adapter", adapter,
                    "--sessions", str(sessions_dir()), "--progress-jsonl", "-", "--background",
                    *args]
            self._start_job("eval", f"evaluating {adapter} against the base", argv,
                            self._evaluation_finished)
            self.notify("evaluation started in the background: keep chatting")

        self.push_screen(EvaluateScreen(adapter), launch)

    def _evaluation_finished(self, view: JobView, ev: dict) -> None:
        if ev.get("event") == "done":
            self.notify(f"{view.title}: done — results in the jobs pane (F7) and in "
                        f"{ev.get('run_dir', 'evals/')}", timeout=15)
        else:
            self.notify(f"{view.title}: {ev.get('message') or ev.get('event')} "
                        "(partial results are marked as such)", severity="warning", timeout=20)
