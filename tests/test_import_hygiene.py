"""The core must import no Textual; the UI must not drag in torch, transformers or lm_eval
(they cost seconds and gigabytes, and belong in training/evaluation subprocesses)."""

import subprocess
import sys

CORE = [
    "qconsole.prompts", "qconsole.sampling", "qconsole.config", "qconsole.models.resolve",
    "qconsole.models.gguf_info", "qconsole.inference.llama_backend", "qconsole.chat.side",
    "qconsole.chat.loader", "qconsole.inference.context_budget", "qconsole.text_safety",
    "qconsole.inference.remote", "qconsole.store",
    "qconsole.adapters.registry", "qconsole.evaluation", "qconsole.jobs",
]


def loaded_after(imports: list[str]) -> set[str]:
    code = "import sys\n" + "".join(f"import {m}\n" for m in imports)
    code += "print('\\n'.join(sorted(sys.modules)))"
    out = subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, text=True)
    return set(out.stdout.split())


def test_core_imports_no_textual():
    mods = loaded_after(CORE)
    assert not any(m == "textual" or m.startswith("textual.") for m in mods)


def test_ui_imports_no_heavy_libraries():
    mods = loaded_after(["qconsole.ui.app", "qconsole.cli"])
    heavy = {"torch", "transformers", "lm_eval", "peft", "datasets", "llama_cpp"}
    assert not heavy & {m.split(".")[0] for m in mods}
