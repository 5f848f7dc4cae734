"""The child side of a job: quiet libraries and a cancel event wired to the job's signals.

A job (qconsole.jobs.start_job) is cancelled with SIGTERM to its process group; its progress is
the event stream, so libraries' own progress bars and chatty loggers are switched off.
"""

from __future__ import annotations

import os
import signal
import threading
from typing import Any


def quiet_libraries() -> None:
    """lm-eval and datasets log and draw progress bars; the events are the progress here."""
    import logging

    os.environ.setdefault("TQDM_DISABLE", "1")
    os.environ.setdefault("HF_DATASETS_DISABLE_PROGRESS_BARS", "1")
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    for name in ("lm_eval", "lm-eval", "datasets", "httpx"):
        logging.getLogger(name).setLevel(logging.ERROR)


def cancel_on_signals() -> threading.Event:
    """An event set by SIGTERM (the job's cancel) or a first Ctrl-C; a second Ctrl-C stops at
    once. Only from the main thread (elsewhere the event is returned unconnected)."""
    cancel = threading.Event()
    if threading.current_thread() is not threading.main_thread():
        return cancel

    def on_term(signum: int, frame: Any) -> None:
        cancel.set()

    def on_int(signum: int, frame: Any) -> None:
        if cancel.is_set():
            raise KeyboardInterrupt
        cancel.set()

    signal.signal(signal.SIGTERM, on_term)
    signal.signal(signal.SIGINT, on_int)
    return cancel
