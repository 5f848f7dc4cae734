"""How many threads a job gets: every core headless, half beside the chat, an override."""


def test_threads_every_core_headless_half_in_the_background(monkeypatch):
    from qconsole.inference.threads import job_threads

    monkeypatch.delenv("QCONSOLE_EVAL_THREADS", raising=False)
    assert job_threads(total=2) == 2
    assert job_threads(background=True, total=2) == 1
    assert job_threads(background=True, total=1) == 1
    monkeypatch.setenv("QCONSOLE_EVAL_THREADS", "3")
    assert job_threads(total=2) == 3
