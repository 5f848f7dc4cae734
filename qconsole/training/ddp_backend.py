"""Data-parallel LoRA training over several GPUs: one process per GPU started with torchrun
(``python -m torch.distributed.run``, part of torch), each training the same fresh LoRA on its
share of the examples, the gradients averaged across processes every optimizer step.

Why torchrun and not ``accelerate launch``: torchrun ships with torch, so nothing more to
install, and our loop needs none of accelerate's wrapping; the process layout is the same.
Why average gradients by hand (ddp_worker.py) instead of wrapping the model in
DistributedDataParallel: DDP all-reduces on every backward pass and needs the same number of
them in every process, while the padding-free loop packs each process's examples into its own
number of rows; one all-reduce of the LoRA gradients per step is exact and cheap (a few MB).

The run is a subprocess tree: progress arrives as JSON lines that rank 0 writes and this
process forwards to ``on_step``; cancelling kills the tree; rank 0 saves the same standard PEFT
directory the other backends write. Checked on CPU with two gloo processes in the tests; on
GPUs with NCCL by scripts/gpu_check.sh.
"""

from __future__ import annotations

import json
import os
import pickle
import signal
import subprocess
import sys
import time
from pathlib import Path

from qconsole.errors import QConsoleError
from qconsole.training.backend_api import BackendJob, BackendResult
from qconsole.training.hardware import cuda_device_count
from qconsole.training.loop import LoopResult, StepInfo, TrainingCancelled

JOB_FILE, PROGRESS_FILE, RESULT_FILE = "job.pkl", "progress.jsonl", "result.json"
LOG_FILE = "log.txt"


class DdpPeftBackend:
    """``nproc`` processes (default: every visible GPU); ``device="cpu"`` runs them on gloo."""

    name = "peft-ddp"

    def __init__(self, nproc: int | None = None, device: str = "cuda") -> None:
        self.device = device
        self.nproc = nproc

    def processes(self) -> int:
        return self.nproc or (cuda_device_count() if self.device == "cuda" else 2)

    def check(self) -> str | None:
        if self.device == "cuda" and cuda_device_count() < 2:
            return (
                f"the ddp backend trains on several CUDA GPUs and this machine has "
                f"{cuda_device_count()}; use --backend auto (Unsloth or PEFT on one GPU, or cpu)"
            )
        return None

    def prepare(self) -> None:
        return None

    def train(self, job: BackendJob) -> BackendResult:
        reason = self.check()
        if reason is not None:
            raise QConsoleError(reason)
        n = self.processes()
        work = job.out_dir.parent / "ddp"
        work.mkdir(parents=True, exist_ok=True)
        with (work / JOB_FILE).open("wb") as fh:
            pickle.dump({
                "examples": job.examples, "settings": job.settings, "gguf_path": job.gguf_path,
                "hf_model_dir": job.hf_model_dir, "out_dir": job.out_dir, "device": self.device,
                "work": work,
            }, fh)
        argv = [sys.executable, "-m", "torch.distributed.run", "--standalone",
                f"--nproc_per_node={n}", "-m", "qconsole.training.ddp_worker", str(work)]
        env = dict(os.environ)
        if self.device == "cpu":  # share the cores between the processes
            env.setdefault("OMP_NUM_THREADS", str(max(1, (os.cpu_count() or 2) // n)))
            env.setdefault("OMP_WAIT_POLICY", "PASSIVE")
        job.log(f"starting {n} training processes ({'NCCL' if self.device == 'cuda' else 'gloo'})")
        with (work / LOG_FILE).open("wb") as log:
            proc = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT, env=env,
                                    start_new_session=True)
        try:
            self._follow(proc, work / PROGRESS_FILE, job)
        finally:
            if proc.poll() is None:
                _kill_tree(proc)
        if proc.returncode != 0:
            raise QConsoleError(f"data-parallel training failed (exit {proc.returncode}): "
                                f"{_last_error(work / LOG_FILE)}")
        result = json.loads((work / RESULT_FILE).read_text())
        loop = LoopResult(**result["loop"])
        return BackendResult(
            backend=self.name,
            device=f"{n}x {self.device}",
            precision=result["precision"],
            loop=loop,
            details={"processes": n, "weights_digests": result["digests"],
                     "per_process_batch": result["per_process_batch"]},
        )

    def _follow(self, proc: subprocess.Popen, progress: Path, job: BackendJob) -> None:
        """Forward rank 0's steps to ``on_step`` until the tree exits; kill it on cancel."""
        offset = 0
        while True:
            done = proc.poll() is not None
            if progress.is_file():
                with progress.open("rb") as fh:
                    fh.seek(offset)
                    chunk = fh.read()
                complete = chunk[: chunk.rfind(b"\n") + 1]
                offset += len(complete)
                for line in complete.splitlines():
                    if job.on_step is not None and line.strip():
                        job.on_step(StepInfo(**json.loads(line)))
            if done:
                return
            if job.should_stop is not None and job.should_stop():
                _kill_tree(proc)
                raise TrainingCancelled()
            time.sleep(0.2)


def _kill_tree(proc: subprocess.Popen) -> None:
    try:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(15)
    except (ProcessLookupError, PermissionError):
        pass
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()


def _last_error(log: Path) -> str:
    """The most telling line of the workers' log: our own one-line errors first."""
    try:
        lines = [ln.strip() for ln in log.read_text(errors="replace").splitlines() if ln.strip()]
    except OSError:
        return "no log"
    for ln in reversed(lines):
        if "qconsole:" in ln:
            return ln.split("qconsole:", 1)[1].strip()[:300]
    for ln in reversed(lines):
        if "Error" in ln:
            return ln[:300]
    return (lines[-1] if lines else "no output")[:300]
