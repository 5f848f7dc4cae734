"""Logs which test runs code of a version-sensitive library (scripts/version_sensitive_tests.sh).

Active only with QCONSOLE_HF_TRACE_LOG set. Wraps ``builtins.__import__``: every import
statement of one of those libraries that qconsole's, the tests' or the benchmarks' code
executes is a line ``test<TAB>library<TAB>importing module<TAB>pid`` (once per test, library
and module). qconsole imports them inside the functions that use them, so each use executes
one; the one module that imports lm_eval at its top, qconsole.evaluation.lm_eval_model, is
counted where it is imported. The test is ``PYTEST_CURRENT_TEST``, which subprocesses inherit
(this file is on their PYTHONPATH too); ``-`` outside a test (collection).
"""

import builtins
import os

_LOG = os.environ.get("QCONSOLE_HF_TRACE_LOG")
SENSITIVE = {"transformers", "peft", "trl", "datasets", "accelerate", "huggingface_hub",
             "tokenizers", "safetensors", "lm_eval", "fsspec", "evaluate", "vllm"}
IMPORTS_ONE_AT_ITS_TOP = {"qconsole.evaluation.lm_eval_model"}
_seen: set = set()
_import = builtins.__import__


def _traced(name, globals=None, locals=None, fromlist=(), level=0):
    if level == 0:
        top = name.partition(".")[0]
        if top in SENSITIVE or name in IMPORTS_ONE_AT_ITS_TOP:
            who = (globals or {}).get("__name__") or ""
            if who.startswith(("qconsole", "tests", "benchmarks", "__main__")):
                test = os.environ.get("PYTEST_CURRENT_TEST", "-").rsplit(" (", 1)[0]
                key = (test, top if top in SENSITIVE else name, who)
                if key not in _seen:
                    _seen.add(key)
                    with open(_LOG, "a") as f:
                        f.write("\t".join((*key, str(os.getpid()))) + "\n")
    return _import(name, globals, locals, fromlist, level)


if _LOG:
    builtins.__import__ = _traced
