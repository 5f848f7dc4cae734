"""The job protocol: events from a real child process, partial lines, cancel, crashes."""

from __future__ import annotations

import json
import os
import signal
import sys
import textwrap
import time
from pathlib import Path

import pytest

from qconsole.jobs import EventReader, EventWriter, open_event_writer, parse_event_line, start_job
from qconsole.jobs.events import dumps_event


def _child(tmp_path: Path, body: str) -> list[str]:
    script = tmp_path / "child.py"
    script.write_text(
        "import json, os, signal, subprocess, sys, time\n"
        "def emit(kind, **f):\n"
        "    sys.stdout.write(json.dumps({'event': kind, **f}) + '\\n'); sys.stdout.flush()\n"
        + textwrap.dedent(body)
    )
    return [sys.executable, str(script)]


def _wait_for(handle, predicate, timeout: float = 30.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        handle.poll()
        for ev in handle.events:
            if predicate(ev):
                return ev
        time.sleep(0.05)
    raise AssertionError(f"no matching event; got {handle.events}")


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as fh:
            state = fh.read().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state not in ("Z", "X")


def test_reader_keeps_partial_line_until_newline():
    reader = EventReader()
    line = dumps_event({"event": "progress", "step": 3, "loss": 1.5, "name": "é"}).encode()
    assert reader.feed(line[:10]) == []
    assert reader.feed(line[10:]) == []  # still no newline
    [ev] = reader.feed(b"\n" + b'{"event": "log", "mess')
    assert ev["step"] == 3 and ev["name"] == "é"
    [ev2] = reader.feed(b'age": "hi"}\n')
    assert ev2 == {"event": "log", "message": "hi"}


def test_reader_turns_stray_output_into_log_and_finishes_truncated_tail(tmp_path: Path):
    path = tmp_path / "events.jsonl"
    path.write_bytes(b'not json at all\n\n[1, 2]\n{"event": "done", "adapter": "a"}')
    reader = EventReader(path)
    first = reader.poll()
    assert [e["message"] for e in first] == ["not json at all", "[1, 2]"]
    assert all(e["event"] == "log" and e["level"] == "output" for e in first)
    assert reader.terminal is None
    [done] = reader.finish()
    assert done == {"event": "done", "adapter": "a"}
    assert reader.terminal == done
    cut = EventReader()
    cut.feed(b'{"event": "progress", "st')  # the writer was killed mid-line
    [tail] = cut.finish()
    assert tail["event"] == "log" and tail["message"].startswith('{"event"')


def test_parse_event_line_handles_bytes_and_blank():
    assert parse_event_line(b"  \n") is None
    assert parse_event_line(b'{"event":"x"}') == {"event": "x"}
    assert parse_event_line('{"no_event": 1}')["event"] == "log"


def test_writer_replaces_nan_and_writes_whole_lines(tmp_path: Path):
    path = tmp_path / "e.jsonl"
    writer = open_event_writer(path)
    writer.emit("progress", loss=float("nan"), eta_s=float("inf"), path=tmp_path)
    writer.close()
    writer.emit("log", message="after close is ignored")
    [line] = path.read_text().splitlines()
    ev = json.loads(line)
    assert ev["loss"] is None and ev["eta_s"] is None and ev["path"] == str(tmp_path)
    assert isinstance(ev["time"], float)
    assert EventWriter(None).emit("log", message="x")["event"] == "log"  # no target: no-op


def test_job_events_in_order_with_split_writes(tmp_path: Path):
    argv = _child(tmp_path, """
        emit('start', total=2)
        line = json.dumps({'event': 'progress', 'step': 1, 'total_steps': 2})
        sys.stdout.write(line[:7]); sys.stdout.flush(); time.sleep(0.3)
        sys.stdout.write(line[7:] + '\\n'); sys.stdout.flush()
        print('stray print')
        sys.stderr.write('a log line\\n')
        emit('done', adapter='x')
    """)
    handle = start_job(argv, tmp_path / "job.log")
    result = handle.wait(timeout=60)
    assert result["event"] == "done" and result["adapter"] == "x"
    kinds = [e["event"] for e in handle.events]
    assert kinds == ["start", "progress", "log", "done"]
    assert handle.events[1]["step"] == 1
    assert handle.state == "done"
    assert handle.log_tail() == ["a log line"]
    assert handle.poll() == []  # finished: nothing more, no synthetic event


def test_error_event_from_child_is_the_result(tmp_path: Path):
    argv = _child(tmp_path, "emit('error', message='nothing to train on'); sys.exit(2)\n")
    handle = start_job(argv, tmp_path / "job.log")
    result = handle.wait(timeout=60)
    assert result["message"] == "nothing to train on" and "synthetic" not in result
    assert handle.state == "error"


def test_crash_without_terminal_event_is_reported_with_log_tail(tmp_path: Path):
    argv = _child(tmp_path, "emit('progress', step=1)\nraise RuntimeError('boom in child')\n")
    handle = start_job(argv, tmp_path / "job.log")
    result = handle.wait(timeout=60)
    assert result["event"] == "error" and result["synthetic"] is True
    assert result["returncode"] == 1
    assert "crashed (exit code 1)" in result["message"]
    assert any("boom in child" in line for line in result["log_tail"])


def test_sigkill_from_outside_is_reported_as_killed(tmp_path: Path):
    argv = _child(tmp_path, "emit('progress', step=1)\ntime.sleep(60)\n")
    handle = start_job(argv, tmp_path / "job.log")
    _wait_for(handle, lambda e: e["event"] == "progress")
    os.kill(handle.pid, signal.SIGKILL)  # as the OOM killer would
    result = handle.wait(timeout=30)
    assert result["event"] == "error" and result["synthetic"] is True
    assert "SIGKILL" in result["message"] and result["returncode"] == -signal.SIGKILL
    assert handle.state == "error"


def test_cancel_kills_the_whole_tree_even_a_child_ignoring_sigterm(tmp_path: Path):
    argv = _child(tmp_path, """
        grandchild = subprocess.Popen([sys.executable, '-c',
            'import signal, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); time.sleep(120)'])
        emit('log', message='started', grandchild=grandchild.pid)
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        time.sleep(120)
    """)
    handle = start_job(argv, tmp_path / "job.log")
    ev = _wait_for(handle, lambda e: "grandchild" in e)
    grandchild = ev["grandchild"]
    assert _alive(grandchild)
    handle.cancel(grace_s=0.5, wait=True)
    result = handle.wait(timeout=30)
    assert result["event"] == "cancelled" and result["synthetic"] is True
    deadline = time.monotonic() + 10
    while _alive(grandchild) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not _alive(grandchild)


def test_cancel_lets_a_cooperative_child_report_itself(tmp_path: Path):
    argv = _child(tmp_path, """
        def on_term(signum, frame):
            emit('cancelled', message='stopped cleanly'); sys.exit(130)
        signal.signal(signal.SIGTERM, on_term)
        emit('start')
        time.sleep(120)
    """)
    handle = start_job(argv, tmp_path / "job.log")
    _wait_for(handle, lambda e: e["event"] == "start")
    handle.cancel(grace_s=10)  # non-blocking
    result = handle.wait(timeout=30)
    assert result == {**result, "event": "cancelled", "message": "stopped cleanly"}
    assert "synthetic" not in result


@pytest.mark.parametrize("target", ["-"])
def test_open_event_writer_stdout_moves_prints_to_stderr(target, tmp_path: Path):
    argv = _child(tmp_path, f"""
        from qconsole.jobs import open_event_writer
        w = open_event_writer({target!r})
        print('library chatter')
        w.emit('done', adapter='y')
    """)
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2])}
    handle = start_job(argv, tmp_path / "job.log", env=env)
    result = handle.wait(timeout=60)
    assert result["adapter"] == "y"
    assert [e["event"] for e in handle.events] == ["done"]
    assert "library chatter" in handle.log_tail()
