"""HTTP to one model server: connections, requests, JSON replies, and every failure turned into
one clear line (refused, timed out, unknown host, HTTP status with the server's own message).

Why http.client and not a client library: no new dependency, and we own the socket, so
cancelling a reply can close it at once (see stream.py).
"""

from __future__ import annotations

import http.client
import json
import socket
from urllib.parse import urlsplit

from qconsole.errors import QConsoleError
from qconsole.inference.remote.keys import Secret, scrub

NO_ROUTE = (400, 404, 405, 422, 501)  # "this server has no such endpoint"


def split_api_url(url: str) -> tuple[str, str]:
    """(OpenAI API base ending in /v1 or as given, server root for /tokenize, /props...)."""
    url = url.strip().rstrip("/")
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise QConsoleError(f"remote url must look like http://host:port/v1, not {url!r}")
    path = parts.path
    if not path:
        return url + "/v1", url
    tail = path.rsplit("/", 1)[-1]
    if tail[:1] == "v" and tail[1:].isdigit():
        return url, url[: len(url) - len(tail) - 1]
    return url, url


def one_line(text: str, limit: int = 300) -> str:
    text = " ".join(str(text).split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def server_message(body: bytes) -> str:
    """The human part of an error body: OpenAI, FastAPI, vLLM and llama.cpp shapes."""
    text = body.decode("utf-8", "replace").strip()
    try:
        data = json.loads(text)
    except ValueError:
        return one_line(text) or "(no message)"
    for getter in (
        lambda d: d["error"]["message"],
        lambda d: d["error"],
        lambda d: d["detail"],
        lambda d: d["message"],
    ):
        try:
            value = getter(data)
        except (KeyError, TypeError):
            continue
        if isinstance(value, list) and value and isinstance(value[0], dict):  # FastAPI 422
            value = "; ".join(str(v.get("msg", v)) for v in value)
        if isinstance(value, str | list):
            return one_line(value if isinstance(value, str) else str(value))
    return one_line(text)


class HTTPStatusError(Exception):
    """A non-2xx answer: the status (callers decide what a 404 means) and its one-line error."""

    def __init__(self, status: int, error: QConsoleError) -> None:
        super().__init__(str(error))
        self.status, self.error = status, error


class Transport:
    """Requests to one server (``url`` is the API base, ``root`` the server root)."""

    def __init__(self, url: str, *, timeout_s: float, key: Secret | None,
                 api_key_env: str | None) -> None:
        self.url, self.root = split_api_url(url)
        parts = urlsplit(self.url)
        self.host = parts.netloc.rpartition("@")[2]  # never user:password from the url
        self.label = f"{parts.scheme}://{self.host}"
        self.timeout_s = float(timeout_s)
        self.key = key
        self.api_key_env = api_key_env

    def scrub(self, text: str) -> str:
        return scrub(text, self.key)

    def connect(self, url: str) -> http.client.HTTPConnection:
        parts = urlsplit(url)
        if parts.scheme == "https":
            import ssl

            return http.client.HTTPSConnection(
                parts.hostname or "", parts.port, timeout=self.timeout_s,
                context=ssl.create_default_context(),
            )
        return http.client.HTTPConnection(parts.hostname or "", parts.port, timeout=self.timeout_s)

    def net_error(self, exc: BaseException) -> QConsoleError:
        where = f"the model server at {self.label}"
        if isinstance(exc, TimeoutError):
            return QConsoleError(f"{where} did not answer within {self.timeout_s:g} s")
        if isinstance(exc, ConnectionRefusedError):
            return QConsoleError(f"cannot reach {where}: connection refused (is it running?)")
        if isinstance(exc, socket.gaierror):
            return QConsoleError(f"cannot reach {where}: unknown host")
        if isinstance(exc, http.client.HTTPException | ConnectionError):
            return QConsoleError(f"{where} closed the connection mid-reply ({type(exc).__name__})")
        reason = getattr(exc, "strerror", None) or str(exc) or type(exc).__name__
        return QConsoleError(f"cannot reach {where}: {self.scrub(one_line(reason))}")

    def http_error(self, status: int, path: str, body: bytes) -> QConsoleError:
        msg = self.scrub(server_message(body))
        where = f"the model server at {self.label}"
        if status in (401, 403):
            hint = (
                f"check the key in ${self.api_key_env}" if self.api_key_env
                else "set api_key_env to the name of the variable that holds the key"
            )
            return QConsoleError(f"{where} refused the request (HTTP {status}): {msg}; {hint}")
        if status == 404:
            return QConsoleError(
                f"{where} answered HTTP 404 for {path}: {msg} (check the url and model name)"
            )
        return QConsoleError(f"{where} answered HTTP {status} for {path}: {msg}")

    def open(
        self, method: str, url: str, payload: dict | None = None
    ) -> tuple[http.client.HTTPConnection, http.client.HTTPResponse]:
        """Send a request; return the open connection and a 2xx response, or raise one line."""
        conn = self.connect(url)
        return conn, self.exchange(conn, method, url, payload)

    def exchange(
        self, conn: http.client.HTTPConnection, method: str, url: str, payload: dict | None
    ) -> http.client.HTTPResponse:
        headers = {"Accept": "application/json, text/event-stream"}
        if self.key is not None:
            headers["Authorization"] = "Bearer " + self.key.reveal()
        body = None
        if payload is not None:
            body = json.dumps(payload).encode("utf-8")
            headers["Content-Type"] = "application/json"
        path = urlsplit(url).path or "/"
        try:
            conn.request(method, path, body=body, headers=headers)
            resp = conn.getresponse()
        except (OSError, http.client.HTTPException) as exc:
            conn.close()
            raise self.net_error(exc) from None
        if resp.status >= 300:
            try:
                err_body = resp.read(64_000)
            except (OSError, http.client.HTTPException):
                err_body = b""
            conn.close()
            raise HTTPStatusError(resp.status, self.http_error(resp.status, path, err_body))
        return resp

    def json(self, method: str, url: str, payload: dict | None = None, *,
             optional: object = False):
        """GET/POST returning parsed JSON. ``optional=True``: None for a missing route;
        ``optional="any"``: None for any HTTP error (probing routes a provider may guard)."""
        try:
            conn, resp = self.open(method, url, payload)
        except HTTPStatusError as exc:
            if optional == "any" or (optional and exc.status in NO_ROUTE):
                return None
            raise exc.error from None
        try:
            raw = resp.read()
        except (OSError, http.client.HTTPException) as exc:
            raise self.net_error(exc) from None
        finally:
            conn.close()
        try:
            return json.loads(raw)
        except ValueError:
            if optional:
                return None
            raise QConsoleError(
                f"the model server at {self.label} sent something other than JSON for "
                f"{urlsplit(url).path}"
            ) from None
