"""pytest plugin of scripts/version_sensitive_tests.sh: logs each test that runs, so the summary
tells a file none of whose tests reached a library from a file that did not run."""

import os


def pytest_runtest_logstart(nodeid, location):
    log = os.environ.get("QCONSOLE_HF_TRACE_LOG")
    if log:
        with open(log, "a") as f:
            f.write(f"{nodeid}\t(ran)\t-\t{os.getpid()}\n")
