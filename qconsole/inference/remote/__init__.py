"""Panes served by an OpenAI-compatible server instead of llama.cpp in this process.

One job per module:

- ``config.py``      the ``[remote.left]`` / ``[remote.right]`` tables, checked, and how each
                     server must be started for its ``adapter_mode``
- ``backend.py``     ``RemoteBackend``: the ``TextBackend`` a ChatSide drives
- ``keys.py``        API keys from the environment, never shown
- ``transport.py``   HTTP requests, JSON replies, errors as one line
- ``sse.py``         Server-Sent Events parsing
- ``discovery.py``   what the server is and serves (kind, models, context, tokenize API)
- ``adapters.py``    how each server kind selects an adapter per request
- ``stream.py``      the state machine of one streamed reply and its finish reason
- ``runtime_lora.py`` loading a freshly trained adapter into a running vLLM server

Everything here is the standard library: no dependency, and cancelling closes our own socket.
"""

from qconsole.inference.remote.adapters import ADAPTER_MODES
from qconsole.inference.remote.backend import ENDPOINTS, RemoteBackend
from qconsole.inference.remote.config import RemoteSpec, parse_remote_spec, remote_spec_for
from qconsole.inference.remote.sse import iter_sse
from qconsole.inference.remote.transport import split_api_url

__all__ = [
    "ADAPTER_MODES", "ENDPOINTS", "RemoteBackend", "RemoteSpec", "iter_sse",
    "parse_remote_spec", "remote_spec_for", "split_api_url",
]
