"""One streamed reply: reading its events, cutting at stop strings, and deciding how it ended
(``eos``, ``stop``, ``length``, ``cancelled``, ``error``) the same way the local pane does.

Why stop strings are applied here and not only by the server: a server reports
``finish_reason: "stop"`` both for its end-of-text token and for a stop string, and strips the
string, so the pane could not tell ``eos`` from ``stop``. Cutting with StopStringFilter and
closing the stream gives the same text and finish reasons as the local pane; the server runs on
for a token or two until it sees the closed connection.
"""

from __future__ import annotations

import contextlib
import http.client
import json
import socket
import threading
import time
from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING

from qconsole.errors import QConsoleError
from qconsole.inference.backend import GenerationStats
from qconsole.inference.remote.sse import iter_sse
from qconsole.inference.remote.transport import one_line, server_message
from qconsole.inference.stop_strings import StopStringFilter

if TYPE_CHECKING:
    from qconsole.inference.remote.backend import RemoteBackend


def close_on_cancel(cancel: threading.Event, done: threading.Event, sock: socket.socket) -> None:
    """Shut the socket when ``cancel`` is set, waking a read that waits on the server."""
    while not done.is_set():
        if cancel.wait(0.05):
            if not done.is_set():
                with contextlib.suppress(OSError):
                    socket.socket.shutdown(sock, socket.SHUT_RDWR)  # not SSLSocket's override
            return


class StreamRun:
    """The state of one streamed reply: what arrived, and how it ended."""

    def __init__(self, backend: RemoteBackend, prompt: str, stop: Sequence[str],
                 stats: GenerationStats, start: float, cancel: threading.Event | None) -> None:
        self.b, self.prompt, self.stop, self.stats, self.start, self.cancel = (
            backend, prompt, stop, stats, start, cancel)
        self.http = backend.http
        self.stopper = StopStringFilter(stop)
        self.server_reason: str | None = None
        self.stop_reason: object = ...  # vLLM: None = end of text, str = stop string
        self.usage: dict | None = None
        self.chunks = 0
        self.ended = False  # [DONE] or a finish_reason arrived
        self.failed = False

    def _cancelled(self) -> bool:
        return self.cancel is not None and self.cancel.is_set()

    def read(self, resp: http.client.HTTPResponse) -> Iterator[str]:
        ctype = resp.getheader("Content-Type", "")
        try:
            if "text/event-stream" not in ctype:  # a server that ignored stream: true
                events: Iterator[str] = iter([resp.read().decode("utf-8", "replace")])
            else:
                events = iter_sse(resp.readline)
            for data in events:
                if self._cancelled():
                    return
                if data.strip() == "[DONE]":
                    self.ended = True
                    return
                out = self._event(data)
                if out:
                    yield out
                if self.stopper.stopped or self._cancelled():
                    return
            if not self.ended:
                raise self._ended_early()
            tail = self.stopper.flush()
            if tail:
                yield tail
        except (OSError, http.client.HTTPException) as exc:
            if self._cancelled():
                return
            self.failed = True
            raise self.http.net_error(exc) from None
        except QConsoleError:
            self.failed = True
            raise

    def _ended_early(self) -> QConsoleError:
        where = f"the model server at {self.http.label}"
        if self.chunks == 0:
            # llama-cpp-python's server fails a too-long prompt this way, after a 200
            size = ""
            with contextlib.suppress(QConsoleError):
                n = self.b.count_tokens(self.prompt)
                size = f" (the prompt has {n} tokens; the context holds {self.b.n_ctx})"
            return QConsoleError(f"{where} ended the stream without a reply{size}")
        return QConsoleError(f"{where} ended the stream before the reply was finished")

    def _event(self, data: str) -> str:
        try:
            event = json.loads(data)
        except ValueError:
            raise QConsoleError(
                f"malformed stream from the model server at {self.http.label}: "
                f"expected JSON, got {self.http.scrub(one_line(data, 60))!r}"
            ) from None
        if not isinstance(event, dict):
            raise QConsoleError(f"malformed stream from the model server at {self.http.label}")
        if event.get("error"):
            msg = server_message(json.dumps(event).encode())
            raise QConsoleError(
                f"the model server at {self.http.label} failed mid-reply: {self.http.scrub(msg)}"
            )
        if isinstance(event.get("usage"), dict):
            self.usage = event["usage"]
        choices = event.get("choices") or []
        if not choices or not isinstance(choices[0], dict):
            return ""
        choice = choices[0]
        if self.stats.ttft_s is None:
            self.stats.ttft_s = time.perf_counter() - self.start
        text = choice.get("text")
        if text is None:
            text = (choice.get("delta") or choice.get("message") or {}).get("content")
        out = ""
        if text:
            self.chunks += 1
            self.stats.completion_tokens = self.chunks
            out = self.stopper.feed(text)
        self.stats.elapsed_s = time.perf_counter() - self.start
        if choice.get("finish_reason"):
            self.server_reason = str(choice["finish_reason"])
            self.stop_reason = choice.get("stop_reason", ...)
            self.ended = True
        return out

    def finish(self) -> None:
        stats = self.stats
        stats.elapsed_s = time.perf_counter() - self.start
        if self.usage and isinstance(self.usage.get("completion_tokens"), int) \
                and not self.stopper.stopped and not self._cancelled():
            stats.completion_tokens = self.usage["completion_tokens"]
        if self.usage and isinstance(self.usage.get("prompt_tokens"), int):
            stats.prompt_tokens = self.usage["prompt_tokens"]
        elif not self.failed:  # usually cached from ChatSide.plan: no extra request
            with contextlib.suppress(QConsoleError):  # plus the BOS, as the local backend counts
                stats.prompt_tokens = self.b.count_tokens(self.prompt) + self.b.bos_tokens
        if self.failed:
            stats.finish_reason = "error"
        elif self._cancelled():
            stats.finish_reason = "cancelled"
        elif self.stopper.stopped:
            stats.finish_reason = "stop"
        elif self.server_reason == "length":
            stats.finish_reason = "length"
        elif self.server_reason is not None:
            sent_stops = self.b.server_stop and any(self.stop)
            by_string = isinstance(self.stop_reason, str) or (
                self.stop_reason is ... and sent_stops)
            stats.finish_reason = "stop" if by_string else "eos"
        elif self.ended:
            stats.finish_reason = "eos"
        else:  # the stream stopped with no end marker: closed by the consumer, or broken
            stats.finish_reason = stats.finish_reason or "length"
