"""How many CPU threads a llama.cpp job gets.

Measured on a 2-core machine: a headless evaluation given "half the cores" ran one thread while
the other core idled (a 1,200-item panel took 17 minutes). So a headless job gets every core;
a job the console starts beside a person chatting gets half (at least one), leaving the chat's
streaming its share. More threads than free cores makes llama.cpp's spinning thread barrier
collapse (2 threads on 2 busy cores ran 5 to 40 times slower than 1), which is why jobs also
run with ``OMP_WAIT_POLICY=PASSIVE`` (qconsole.jobs.start_job).

``QCONSOLE_EVAL_THREADS`` overrides both.
"""

from __future__ import annotations

import os

THREADS_ENV = "QCONSOLE_EVAL_THREADS"


def job_threads(*, background: bool = False, total: int | None = None) -> int:
    """Threads for a job: every core headless, half of them (at least one) in the background."""
    value = os.environ.get(THREADS_ENV, "")
    if value.isdigit() and int(value) > 0:
        return int(value)
    cores = max(1, total or os.cpu_count() or 1)
    return max(1, cores // 2) if background else cores
