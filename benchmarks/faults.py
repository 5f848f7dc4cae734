"""Fault injection with figures: kill -9 at random points, a full disk, and a hostile corpus.

What it proves, each as a count that must be 0:

- ``lost``: writes the store acknowledged (the call returned) that are missing after a kill -9
  (store writes; for training, an adapter whose ``done`` event was seen but is not installed;
  for evaluation, a finished suite whose records are gone);
- ``corrupt``: files a kill or a full disk left unreadable (a session that no longer loads or
  got quarantined, an adapter listed but damaged, an evaluation file that does not parse);
- ``litter``: temporary files and folders still there once the next process has started
  (``sessions/.*.tmp``, ``adapters/.train-*``, ``.install-*``, ``*.part``, ``evals/**/.*.tmp``);
- ``tracebacks``, ``hangs``, ``raw escapes``: over the hostile corpus in ``tests/data/hostile/``
  (sessions, adapters, GGUF headers, probe and suites YAML, configs, names, closed and full
  outputs), each case run as the real CLI (``qconsole.cli.main`` in a forked process, its
  stdout and stderr on files), expected to give exactly one clear line (status 2) or a
  quarantine with one warning line, never a Python traceback, never a hang (timeout), never a
  raw ESC/BEL/C1 byte on the terminal.

Kills: store writes run in a forked child that prints an acknowledgement after each call
returns; the parent kills it with SIGKILL after a random delay and checks every acknowledged
write. Training and evaluation kills are real ``qconsole train`` / ``qconsole eval``
subprocesses with small settings, killed early at a random point (they are expensive on a
2-core machine). The disk-full run mounts a small tmpfs when run as root; otherwise it limits
the file size with RLIMIT_FSIZE (the figures say which).

Run: ``python benchmarks/faults.py`` (200 kills: 170 store, 10 training, 20 evaluation, about
ten minutes; run it under the heavy lock) or ``--quick`` (CI: 30 store kills, the full disk and
the whole corpus, no training or evaluation kills; under a minute). The last six lines are the
figures: ``lost N``, ``corrupt N``, ``litter N``, ``tracebacks N``, ``hangs N``,
``raw escapes N``.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import random
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from qconsole import cli  # noqa: E402
from qconsole.store import SessionStore  # noqa: E402
from qconsole.store.ids import new_session_id  # noqa: E402

CORPUS = ROOT / "tests" / "data" / "hostile"
RAW_ESCAPE = re.compile(rb"[\x1b\x07\x9b\x9d]|\xc2[\x80-\x9f]")
CASE_TIMEOUT_S = 30.0
TRACEBACK = b"Traceback (most recent call last)"


# -- one CLI run in a forked process ----------------------------------------------------------


@dataclass
class Outcome:
    rc: int | None  # None: it hung and was killed
    out: bytes
    err: bytes

    @property
    def hung(self) -> bool:
        return self.rc is None

    @property
    def traceback(self) -> bool:
        return TRACEBACK in self.err or TRACEBACK in self.out

    @property
    def raw_escapes(self) -> int:
        return len(RAW_ESCAPE.findall(self.out)) + len(RAW_ESCAPE.findall(self.err))

    def err_lines(self) -> list[str]:
        return [ln for ln in self.err.decode("utf-8", "replace").splitlines() if ln.strip()]


def run_cli(argv: list[str], *, env: dict[str, str] | None = None, cwd: Path | None = None,
            stdout: str | None = None, timeout: float = CASE_TIMEOUT_S) -> Outcome:
    """``qconsole ARGV`` through the real entry point in a forked child (warm imports, real
    file descriptors); ``stdout`` may name a file to write to instead (``/dev/full``)."""
    with tempfile.TemporaryDirectory(prefix="qc-case-") as tmp:
        out_path, err_path = Path(tmp) / "out", Path(tmp) / "err"
        pid = os.fork()
        if pid == 0:  # the child: never returns
            rc = 70
            try:
                os.setsid()
                out_fd = os.open(stdout or out_path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC)
                err_fd = os.open(err_path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC)
                os.dup2(out_fd, 1)
                os.dup2(err_fd, 2)
                # fresh text streams on fds 1 and 2, as a new interpreter has (a caller such
                # as pytest may have replaced sys.stdout with something else)
                sys.stdout = open(1, "w", encoding="utf-8", closefd=False)  # noqa: SIM115
                sys.stderr = open(2, "w", encoding="utf-8", errors="backslashreplace",  # noqa: SIM115
                                  closefd=False, buffering=1)
                if cwd is not None:
                    os.chdir(cwd)
                os.environ.update(env or {})
                try:
                    rc = cli.main(argv)
                except SystemExit as exc:
                    rc = exc.code if isinstance(exc.code, int) else 2
                except BaseException:
                    import traceback

                    traceback.print_exc()
                    rc = 1
                with contextlib.suppress(Exception):
                    sys.stdout.flush()
                with contextlib.suppress(Exception):
                    sys.stderr.flush()
            finally:
                os._exit(rc if isinstance(rc, int) else 1)
        deadline = time.monotonic() + timeout
        status: int | None = None
        while True:
            done, raw = os.waitpid(pid, os.WNOHANG)
            if done:
                status = os.waitstatus_to_exitcode(raw)
                break
            if time.monotonic() > deadline:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(pid, signal.SIGKILL)
                os.waitpid(pid, 0)
                break
            time.sleep(0.01)
        out = out_path.read_bytes() if stdout is None and out_path.exists() else b""
        return Outcome(status, out, err_path.read_bytes())


def run_shell(command: str, *, env: dict[str, str], timeout: float = CASE_TIMEOUT_S) -> Outcome:
    """A real ``python -m qconsole`` behind a shell pipeline (``| head -c 10``)."""
    try:
        proc = subprocess.run(["bash", "-c", f"set -o pipefail; {command}"], env=env,
                              capture_output=True, timeout=timeout)
    except subprocess.TimeoutExpired as exc:
        return Outcome(None, exc.stdout or b"", exc.stderr or b"")
    return Outcome(proc.returncode, proc.stdout, proc.stderr)


# -- the hostile corpus -----------------------------------------------------------------------


@dataclass
class Case:
    name: str
    expect: str  # "line": status 2 and one clear line; "quarantine"; "listed"; "ok"
    outcome: Outcome | None = None
    problem: str = ""
    notes: list[str] = field(default_factory=list)


def _good_session(store: SessionStore) -> str:
    sid = store.create_session({"title": "good session"})
    tid = store.append_turn(sid, {"user": "q", "left": {"text": "a", "model": "m"}})
    store.set_mark(sid, tid, "left", "other", "note")
    store.set_rewrite(sid, tid, "left", "better")
    return sid


def _judge(case: Case) -> None:
    o = case.outcome
    assert o is not None
    if o.hung:
        case.problem = "hung"
        return
    if o.traceback:
        case.problem = "traceback"
        return
    lines = o.err_lines()
    if case.expect == "line":
        if o.rc != 2 or len(lines) != 1 or not lines[0].startswith("qconsole: error: "):
            case.problem = f"expected one clear line and status 2, got {o.rc}: {lines[:3]}"
    elif case.expect == "quiet":
        if o.rc not in (0, 141) or lines:
            case.problem = f"expected a quiet exit, got {o.rc}: {lines[:3]}"
    elif case.expect in ("quarantine", "skipped"):
        warned = [ln for ln in lines if ln.startswith("qconsole: warning: ")]
        if o.rc != 0 or len(warned) != 1 or len(lines) != 1:
            case.problem = f"expected status 0 and one warning line, got {o.rc}: {lines[:3]}"
    elif case.expect == "ok" and o.rc != 0:
        case.problem = f"expected status 0, got {o.rc}: {lines[:3]}"


def session_cases(work: Path) -> list[Case]:
    """Each hostile session file beside a good one: listing, export and show must work for
    the good one and give one line (quarantine) for the bad one."""
    cases: list[Case] = []
    specials = {"fifo": "skipped", "dev-zero-link": "skipped", "directory": "ok"}
    files = sorted((CORPUS / "sessions").glob("*.json"))
    for item in [*files, *specials]:
        name = item.stem if isinstance(item, Path) else item
        root = work / f"sessions-{name}"
        store = SessionStore(root)
        good = _good_session(store)
        bad_id = new_session_id()[:-6] + f"{len(cases):06x}"
        target = root / f"{bad_id}.json"
        if isinstance(item, Path):
            target.write_bytes(item.read_bytes().replace(b'"SID"', f'"{bad_id}"'.encode()))
            expect = "ok" if name.startswith(("escapes", "newer")) else "quarantine"
            if name.startswith("newer"):
                expect = "skipped"  # one warning line: read-only
        elif name == "fifo":
            os.mkfifo(target)
            expect = specials[name]
        elif name == "dev-zero-link":
            target.symlink_to("/dev/zero")
            expect = specials[name]
        else:
            target.mkdir()
            expect = specials[name]
        case = Case(f"session/{name}: sessions list", expect)
        case.outcome = run_cli(["sessions", "list", "--sessions-dir", str(root)])
        _judge(case)
        if not case.problem and good.encode() not in case.outcome.out:
            case.problem = "the good session was not listed"
        cases.append(case)
        export = Case(f"session/{name}: sessions export sft", "ok")
        export.outcome = run_cli(["sessions", "export", "--sessions-dir", str(root), "-f", "sft",
                                  "-o", str(work / f"{name}.jsonl")])
        _judge(export)
        if not export.problem and not re.search(rb"exported [12] corrections",
                                                export.outcome.err):
            export.problem = f"the good correction was not exported: {export.outcome.err!r}"
        cases.append(export)
        if expect != "quarantine":  # show the survivor (escapes, read-only) or the bad id
            show = Case(f"session/{name}: sessions show", "ok" if name != "fifo" else "line")
            show.outcome = run_cli(["sessions", "show", "--sessions-dir", str(root), bad_id])
            if name in ("dev-zero-link", "directory"):
                show.expect = "line"
            elif name.startswith("newer"):
                show.expect = "line"  # a newer qconsole's file in a shape this one cannot read
            _judge(show)
            cases.append(show)
    return cases


def adapter_cases(work: Path, env: dict[str, str]) -> list[Case]:
    """Every hostile adapter directory in one registry beside nothing else: the listing works
    and names each as unusable (or warns about its metadata); converting one is one line."""
    cases: list[Case] = []
    root = work / "adapters"
    shutil.copytree(CORPUS / "adapters", root)
    evil = root / "name-\x1b]52;c;cHduZWQ=\x07-\x1b[2J"
    shutil.copytree(CORPUS / "adapters" / "lora-alpha-text", evil)
    outside = work / "outside-adapter"
    shutil.copytree(CORPUS / "adapters" / "lora-alpha-text", outside)
    (root / "link-out").symlink_to(outside)
    aenv = {**env, "QCONSOLE_ADAPTERS": str(root)}
    listing = Case("adapters: list (every hostile adapter at once)", "ok")
    listing.outcome = run_cli(["adapters", "list"], env=aenv, timeout=120)
    _judge(listing)
    if not listing.problem:
        text = listing.outcome.out.decode("utf-8", "replace")
        for d in sorted(p.name for p in root.iterdir() if not p.name.startswith(".")):
            shown = d.replace("\x1b", "\\x1b").replace("\x07", "\\x07")
            line = next((ln for ln in text.splitlines() if shown in ln), None)
            if line is None:
                listing.problem = f"adapter {shown!r} not listed"
                break
            if d.startswith("metadata-"):
                if "warning:" not in text.split(shown, 1)[1].split("\n  ", 2)[1]:
                    listing.notes.append(f"{shown}: no metadata warning")
            elif "unusable" not in line:
                listing.problem = f"adapter {shown!r} listed as usable: {line}"
                break
    cases.append(listing)
    for name in ("lora-alpha-text", "safetensors-truncated", "escapes-in-config",
                 evil.name, "link-out"):
        c = Case(f"adapters: convert {name!r}", "line")
        c.outcome = run_cli(["adapters", "convert", name], env=aenv, timeout=120)
        _judge(c)
        cases.append(c)
    for name in (str(outside), "good/../../../../" + str(outside).lstrip("/"), "..", ".hidden"):
        c = Case(f"names: adapters convert {name!r}", "line")
        c.outcome = run_cli(["adapters", "convert", name], env=aenv, timeout=120)
        _judge(c)
        if not c.problem and (outside / "adapter.gguf").exists():
            c.problem = "wrote outside adapters/"
        cases.append(c)
    return cases


def gguf_cases(work: Path, env: dict[str, str]) -> list[Case]:
    cases: list[Case] = []
    fifo = work / "fifo.gguf"
    os.mkfifo(fifo)
    zero = work / "zero.gguf"
    zero.symlink_to("/dev/zero")
    for path in [*sorted((CORPUS / "gguf").glob("*.gguf")), fifo, zero]:
        c = Case(f"gguf/{path.name}: models --check", "line")
        c.outcome = run_cli(["models", "--check", str(path)], env=env)
        _judge(c)
        cases.append(c)
    for name in ("truncated-tensor-data.gguf", "alignment-is-a-string.gguf"):
        c = Case(f"gguf/{name}: adapters list --model", "line")
        c.outcome = run_cli(["adapters", "list", "--model", str(CORPUS / "gguf" / name)],
                            env=env)
        _judge(c)
        cases.append(c)
    return cases


def yaml_cases(work: Path, env: dict[str, str]) -> list[Case]:
    cases: list[Case] = []
    fifo = work / "fifo-suites.yaml"
    os.mkfifo(fifo)
    eval_env = {**env, "QCONSOLE_EVALS": str(work / "evals")}
    for path in [*sorted((CORPUS / "yaml").glob("*.yaml")), fifo]:
        if "probes" in path.name:
            argv = ["eval", "--probes", str(path), "--tasks", "none", "--panel", "none",
                    "--no-in-domain"]
        else:
            argv = ["eval", "--suites-file", str(path)]
        c = Case(f"yaml/{path.name}: eval", "line")
        c.outcome = run_cli(argv, env=eval_env, timeout=60)
        _judge(c)
        cases.append(c)
    return cases


def config_cases(work: Path, env: dict[str, str]) -> list[Case]:
    cases: list[Case] = []
    for path in sorted((CORPUS / "config").glob("*.toml")):
        ws = work / f"ws-{path.stem}"
        ws.mkdir()
        shutil.copy(path, ws / "qconsole.toml")
        c = Case(f"config/{path.name}: models", "line")
        c.outcome = run_cli(["models"], env={**env, "QCONSOLE_WORKSPACE": str(ws)}, cwd=ws)
        _judge(c)
        cases.append(c)
    return cases


def name_and_output_cases(work: Path, env: dict[str, str]) -> list[Case]:
    cases: list[Case] = []
    root = work / "sessions-out"
    store = SessionStore(root)
    sids = [_good_session(store) for _ in range(40)]
    for given in ("../../etc/passwd", "x\x1b[2J\x1b]52;c;cHduZWQ=\x07", "/abs/path", "."):
        c = Case(f"names: sessions show {given!r}", "line")
        c.outcome = run_cli(["sessions", "show", "--sessions-dir", str(root), given])
        _judge(c)
        cases.append(c)
    for argv in (["sessions", "list"], ["sessions", "show", sids[0]],
                 ["sessions", "export", "-f", "sft", "-o", "-"], ["sessions", "list", "--json"]):
        c = Case(f"output: {' '.join(argv[:2])} > /dev/full", "line")
        c.outcome = run_cli([*argv[:2], "--sessions-dir", str(root), *argv[2:]],
                            stdout="/dev/full")
        _judge(c)
        cases.append(c)
    py = f"{sys.executable} -m qconsole"
    shell_env = {**os.environ, **env, "PYTHONPATH": str(ROOT)}
    for tail in ("sessions list --json", "sessions show " + sids[0], "sessions list"):
        c = Case(f"output: {tail.split()[0]} {tail.split()[1]} | head -c 10", "quiet")
        o = run_shell(f"{py} {tail} --sessions-dir {root} | head -c 10 >/dev/null",
                      env=shell_env)
        # pipefail: the status is qconsole's (141 = the reader went away, as SIGPIPE)
        c.outcome = o
        _judge(c)
        cases.append(c)
    return cases


def run_corpus(work: Path) -> list[Case]:
    env = {"QCONSOLE_CONFIG_DIR": str(work / "config-dir"),
           "QCONSOLE_WORKSPACE": str(work / "workspace")}
    (work / "workspace").mkdir(parents=True)
    cases: list[Case] = []
    for make in (lambda: session_cases(work), lambda: adapter_cases(work, env),
                 lambda: gguf_cases(work, env), lambda: yaml_cases(work, env),
                 lambda: config_cases(work, env), lambda: name_and_output_cases(work, env)):
        cases.extend(make())
    return cases


def corpus_size() -> int:
    """Hostile inputs in tests/data/hostile (files and adapter folders)."""
    n = sum(1 for p in CORPUS.rglob("*") if p.is_file() and p.parent.name != "adapters"
            and p.parent.parent.name != "adapters" and p.suffix != ".md")
    return n + sum(1 for p in (CORPUS / "adapters").iterdir() if p.is_dir())


# -- kill -9 of store writes ------------------------------------------------------------------


def _writer(root: Path, seed: int, ack_fd: int) -> None:
    """The child: random store writes, one acknowledgement line per returned call."""
    rng = random.Random(seed)
    store = SessionStore(root)
    ids = store.session_ids() or [store.create_session({"title": f"s{seed}"})]
    ack = os.fdopen(ack_fd, "w", buffering=1)
    n = 0
    while True:
        n += 1
        sid = rng.choice(ids)
        roll = rng.random()
        key = f"w{seed}-{n}"
        text = f"{key} \x1b[1m" + "x" * rng.choice((10, 200, 5000))
        if roll < 0.05:
            sid = store.create_session({"title": f"s{seed}-{n}"})
            ids.append(sid)
            ack.write(json.dumps(["create", sid]) + "\n")
            continue
        tid = store.append_turn(sid, {"user": text, "left": {"text": "r" * 50}})
        ack.write(json.dumps(["append", sid, tid, key]) + "\n")
        if roll < 0.5:
            store.set_mark(sid, tid, "left", "other", f"note {seed}-{n}")
            ack.write(json.dumps(["mark", sid, tid, f"note {seed}-{n}"]) + "\n")
        if roll < 0.3:
            store.set_rewrite(sid, tid, "left", f"rw {seed}-{n}")
            ack.write(json.dumps(["rewrite", sid, tid, f"rw {seed}-{n}"]) + "\n")


def _kept(ack: list, sessions: dict) -> bool:
    """Whether an acknowledged write is in the sessions as read after the kills."""
    session = sessions.get(ack[1])
    if session is None:
        return False
    if ack[0] == "create":
        return True
    turn = next((t for t in session.turns if t.turn_id == ack[2]), None)
    if turn is None:
        return False
    if ack[0] == "append":
        return turn.user.startswith(ack[3] + " ")
    if ack[0] == "mark":
        mark = turn.mark("left")
        return mark is not None and mark.note == ack[3]
    return ack[3] in [v.text for v in turn.rewrite_history("left")]


class _Drain:
    """Reads a child's acknowledgement pipe as it writes (a full pipe would block it)."""

    def __init__(self, fd: int) -> None:
        import threading

        self._chunks: list[bytes] = []
        self._fd = fd
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while chunk := os.read(self._fd, 1 << 16):
            self._chunks.append(chunk)
        os.close(self._fd)

    def lines(self) -> list[str]:
        self._thread.join()
        return b"".join(self._chunks).decode("utf-8", "replace").splitlines()


def kill_store_writes(root: Path, kills: int, rng: random.Random) -> tuple[int, int, int, int]:
    """(acknowledged writes, lost, corrupt, litter) over ``kills`` kill -9 of a writer."""
    acks: list[list] = []
    for _k in range(kills):
        r, w = os.pipe()
        pid = os.fork()
        if pid == 0:
            os.close(r)
            try:
                _writer(root, rng.randrange(1 << 30), w)
            finally:
                os._exit(0)
        os.close(w)
        reader = _Drain(r)
        time.sleep(rng.uniform(0.02, 0.6))
        os.kill(pid, signal.SIGKILL)
        os.waitpid(pid, 0)
        for line in reader.lines():
            with contextlib.suppress(ValueError):  # a torn last line is no acknowledgement
                acks.append(json.loads(line))
    store = SessionStore(root)  # the next start: clears what the killed writers left
    store.list_sessions(include_empty=True)
    corrupt = len(list((root / "quarantine").glob("*"))) if (root / "quarantine").exists() else 0
    sessions = {}
    for sid in store.session_ids():
        try:
            sessions[sid] = store.load_session(sid)
        except Exception:  # noqa: BLE001 - counted, not hidden
            corrupt += 1
    lost = sum(not _kept(a, sessions) for a in acks)
    litter = sum(1 for p in root.iterdir() if p.name.endswith(".tmp"))
    return len(acks), lost, corrupt, litter


# -- kill -9 of real training and evaluation --------------------------------------------------


def _job_env(work: Path) -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": str(ROOT), "QCONSOLE_WORKSPACE": str(work),
            "QCONSOLE_CONFIG_DIR": str(work / "config-dir"), "OMP_NUM_THREADS": "1",
            "QCONSOLE_EVALS": str(work / "evals"), "QCONSOLE_ADAPTERS": str(work / "adapters")}


def _kill_job(argv: list[str], env: dict[str, str], at: float, log: Path) -> list[dict]:
    """Start ``qconsole ARGV`` with JSON events on stdout, SIGKILL it (its whole group) after
    ``at`` seconds; the events it printed."""
    with open(log, "ab") as err:
        proc = subprocess.Popen([sys.executable, "-m", "qconsole", *argv], env=env,
                                stdout=subprocess.PIPE, stderr=err, start_new_session=True)
    try:
        out, _ = proc.communicate(timeout=at)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        out, _ = proc.communicate()
    events = []
    for line in out.decode("utf-8", "replace").splitlines():
        with contextlib.suppress(ValueError):
            events.append(json.loads(line))
    return events


def kill_training(work: Path, kills: int, rng: random.Random) -> tuple[int, int, int, int]:
    """(runs that finished before the kill, lost, corrupt, litter) over ``kills`` kills."""
    from qconsole.adapters.registry import list_adapters
    from qconsole.models.resolve import resolve_model

    (work / "adapters").mkdir(parents=True, exist_ok=True)
    env = _job_env(work)
    sessions = work / "sessions"
    if not sessions.exists():
        store = SessionStore(sessions)
        for _i in range(3):
            _good_session(store)
    base = resolve_model("default").path
    argv = ["train", "--sessions", str(sessions), "--adapters", str(work / "adapters"),
            "--max-steps", "1", "--rank", "2", "--max-seq-len", "48", "--no-verify",
            "--progress-jsonl", "-", "--quiet"]
    finished = lost = 0
    for k in range(kills):
        name = f"killed-{k}"
        # a run takes about 50 s here: the tokenizer by 16 s (the .train-<pid> folder exists
        # from then on), the base model until 45 s, then training, the GGUF LoRA and the
        # install. Kills land early (2-30 s), as a person cancelling would, to keep the run short
        events = _kill_job([*argv, "--name", name], env, rng.uniform(2.0, 30.0),
                           work / "train.log")
        if any(e.get("event") == "done" for e in events):
            finished += 1
            if not (work / "adapters" / name).is_dir():
                lost += 1
    entries = list_adapters(base, root=work / "adapters")  # the next start clears litter
    corrupt = sum(1 for e in entries if not e.usable)
    adapters = work / "adapters"
    litter = sum(1 for p in adapters.iterdir() if p.name.startswith((".train-", ".install-")))
    litter += sum(1 for p in adapters.rglob("*.part"))
    return finished, lost, corrupt, litter


def kill_evaluation(work: Path, kills: int, rng: random.Random) -> tuple[int, int, int, int]:
    """(runs, lost, corrupt, litter): killed evaluations leave readable, partial runs."""
    from qconsole.evaluation.store import RunStore

    work.mkdir(parents=True, exist_ok=True)
    env = _job_env(work)
    probes = work / "probes.yaml"
    probes.write_text("suite: kill-probes\nitems:\n" + "".join(
        f"  - prompt: 'What is {i} plus {i}?'\n    answer: '{2 * i}'\n" for i in range(6)))
    argv = ["eval", "--probes", str(probes), "--tasks", "none", "--panel", "none",
            "--no-in-domain", "--limit", "3", "--max-tokens", "8", "--threads", "1",
            "--progress-jsonl", "-"]
    finished = 0  # runs whose "done" event came before the kill: they must be complete
    for _ in range(kills):
        events = _kill_job(argv, env, rng.uniform(0.5, 10.0), work / "eval.log")
        finished += any(e.get("event") == "done" for e in events)
    corrupt = lost = 0
    runs = []
    try:
        runs = RunStore(work / "evals").runs()
    except Exception:  # noqa: BLE001
        corrupt += 1
    for run in runs:
        try:
            run.status  # noqa: B018 - reading it is the check
            run.items()
            if run.path.joinpath("results.json").exists():
                json.loads(run.path.joinpath("results.json").read_text())
        except Exception:  # noqa: BLE001
            corrupt += 1
    complete = 0
    for run in runs:
        with contextlib.suppress(Exception):
            complete += run.status == "complete" and bool(run.items())
    lost = max(0, finished - complete)
    litter = sum(1 for p in (work / "evals").rglob(".*.tmp")) if (work / "evals").exists() else 0
    return len(runs), lost, corrupt, litter


# -- a full disk ------------------------------------------------------------------------------


@contextlib.contextmanager
def small_disk(work: Path, size_kb: int = 256):
    """A tiny filesystem: a tmpfs when we are root, else RLIMIT_FSIZE in the writers."""
    mount = work / "tmpfs"
    mount.mkdir(parents=True)
    if os.geteuid() == 0 and subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={size_kb}k", "tmpfs", str(mount)],
        capture_output=True,
    ).returncode == 0:
        try:
            yield mount, f"tmpfs of {size_kb} KiB"
        finally:
            subprocess.run(["umount", "-l", str(mount)], capture_output=True)
        return
    yield mount, f"RLIMIT_FSIZE {size_kb} KiB"


def disk_full(work: Path) -> tuple[str, int, int, int, int, int]:
    """(how, acknowledged, lost, corrupt, litter, tracebacks): a writer fills the disk."""
    with small_disk(work) as (mount, how):
        root = mount / "sessions"
        r, w = os.pipe()
        pid = os.fork()
        if pid == 0:
            os.close(r)
            code = 0
            try:
                if how.startswith("RLIMIT"):
                    import resource

                    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
                    resource.setrlimit(resource.RLIMIT_FSIZE, (256 * 1024, 256 * 1024))
                store = SessionStore(root)
                ack = os.fdopen(w, "w", buffering=1)
                sid = store.create_session({"title": "full"})
                ack.write(json.dumps(["create", sid]) + "\n")
                failures = 0
                n = 0
                while failures < 20:
                    n += 1
                    key = f"full-{n}"
                    try:
                        tid = store.append_turn(sid, {"user": f"{key} " + "y" * 2000})
                        ack.write(json.dumps(["append", sid, tid, key]) + "\n")
                    except Exception as exc:  # noqa: BLE001
                        from qconsole.errors import QConsoleError

                        if not isinstance(exc, QConsoleError):
                            ack.write(json.dumps(["traceback", repr(exc)]) + "\n")
                        failures += 1
                        if failures % 5 == 0:  # a new session while full, too
                            with contextlib.suppress(Exception):
                                sid = store.create_session({"title": "more"})
                                ack.write(json.dumps(["create", sid]) + "\n")
            except BaseException:  # noqa: BLE001
                code = 1
            finally:
                os._exit(code)
        os.close(w)
        reader = _Drain(r)
        os.waitpid(pid, 0)
        acks = [json.loads(ln) for ln in reader.lines() if ln.strip()]
        tracebacks = sum(1 for a in acks if a[0] == "traceback")
        export = run_cli(["sessions", "export", "--sessions-dir", str(root), "-f", "markdown",
                          "-o", str(mount / "out.md")])
        if export.traceback or export.rc not in (0, 2):
            tracebacks += 1
        store = SessionStore(root)
        sessions = {}
        corrupt = 0
        for sid in store.session_ids():
            try:
                sessions[sid] = store.load_session(sid)
            except Exception:  # noqa: BLE001
                corrupt += 1
        lost = 0
        for a in acks:
            if a[0] == "append":
                s = sessions.get(a[1])
                if s is None or not any(
                    t.turn_id == a[2] and t.user.startswith(a[3] + " ") for t in s.turns
                ):
                    lost += 1
        litter = sum(1 for p in root.iterdir() if p.name.endswith(".tmp"))
        n_acks = sum(1 for a in acks if a[0] == "append")
        return how, n_acks, lost, corrupt, litter, tracebacks


# -- main -------------------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="CI: few kills, the whole corpus")
    parser.add_argument("--store-kills", type=int, default=None)
    parser.add_argument("--train-kills", type=int, default=None)
    parser.add_argument("--eval-kills", type=int, default=None)
    parser.add_argument("--seed", type=int, default=13)
    parser.add_argument("--keep", action="store_true", help="keep the work folder")
    args = parser.parse_args(argv)
    store_kills = args.store_kills if args.store_kills is not None else (30 if args.quick else 170)
    train_kills = args.train_kills if args.train_kills is not None else (0 if args.quick else 10)
    eval_kills = args.eval_kills if args.eval_kills is not None else (0 if args.quick else 20)
    rng = random.Random(args.seed)
    work = Path(tempfile.mkdtemp(prefix="qconsole-faults-"))
    lost = corrupt = litter = 0
    try:
        t0 = time.monotonic()
        cases = run_corpus(work / "corpus")
        problems = [c for c in cases if c.problem]
        counts = Counter()
        for c in cases:
            o = c.outcome
            counts["tracebacks"] += bool(o and o.traceback)
            counts["hangs"] += bool(o and o.hung)
            counts["raw escapes"] += o.raw_escapes if o else 0
        print(f"hostile corpus: {corpus_size()} inputs in {CORPUS.relative_to(ROOT)}, "
              f"{len(cases)} CLI runs in {time.monotonic() - t0:.0f} s; "
              f"{len(cases) - len(problems)} gave the expected one line, quarantine or output")
        for c in problems:
            print(f"  UNEXPECTED {c.name}: {c.problem}")
        for c in cases:
            for note in c.notes:
                print(f"  note {c.name}: {note}")

        t0 = time.monotonic()
        acks, s_lost, s_corrupt, s_litter = kill_store_writes(work / "kills" / "sessions",
                                                             store_kills, rng)
        print(f"store writes: {store_kills} kill -9, {acks} acknowledged writes: lost {s_lost}, "
              f"corrupt {s_corrupt}, litter {s_litter} ({time.monotonic() - t0:.0f} s)")
        lost, corrupt, litter = lost + s_lost, corrupt + s_corrupt, litter + s_litter

        if train_kills:
            t0 = time.monotonic()
            done, t_lost, t_corrupt, t_litter = kill_training(work / "train", train_kills, rng)
            print(f"training: {train_kills} kill -9 ({done} had finished): lost {t_lost}, "
                  f"corrupt {t_corrupt}, litter {t_litter} ({time.monotonic() - t0:.0f} s)")
            lost, corrupt, litter = lost + t_lost, corrupt + t_corrupt, litter + t_litter
        if eval_kills:
            t0 = time.monotonic()
            runs, e_lost, e_corrupt, e_litter = kill_evaluation(work / "eval", eval_kills, rng)
            print(f"evaluation: {eval_kills} kill -9 ({runs} run folders): lost {e_lost}, "
                  f"corrupt {e_corrupt}, litter {e_litter} ({time.monotonic() - t0:.0f} s)")
            lost, corrupt, litter = lost + e_lost, corrupt + e_corrupt, litter + e_litter

        how, n, d_lost, d_corrupt, d_litter, d_tb = disk_full(work / "disk")
        print(f"disk full ({how}): {n} acknowledged appends before it filled: lost {d_lost}, "
              f"corrupt {d_corrupt}, litter {d_litter}, tracebacks {d_tb}")
        lost, corrupt, litter = lost + d_lost, corrupt + d_corrupt, litter + d_litter
        counts["tracebacks"] += d_tb
        print(f"kills in all: {store_kills + train_kills + eval_kills}")
        print(f"lost {lost}")
        print(f"corrupt {corrupt}")
        print(f"litter {litter}")
        print(f"tracebacks {counts['tracebacks']}")
        print(f"hangs {counts['hangs']}")
        print(f"raw escapes {counts['raw escapes']}")
        bad = lost or corrupt or litter or any(counts.values()) or problems
        return 1 if bad else 0
    finally:
        if args.keep:
            print(f"(work folder kept: {work})", file=sys.stderr)
        else:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
