"""Process-wide logging: one line per record on stdout, JSON for machines or text for people.

Every process calls `configure_logging(level, log_format)` once at start-up, in one place:
`app.entrypoints._start`; calling it again replaces our handler instead of adding a second one.

Each format has one serializer that writes every line, `format_json_line` or
`format_console_line`: `time` (ISO-8601, UTC), `level`, `logger`, `message`, the fields, then
`exception` and `stack` if any, credentials in URLs redacted. `_line_fields` gathers the fields:
the given ones (`extra=`), the current request id, `trace_id`/`span_id` while a span is current.

`JsonFormatter` and `ConsoleFormatter` serialize the `logging` module's records. The HTTP access
line (one per request) skips the LogRecord: `write_access_line` takes the time, request id and
span at once and queues the rest in `AccessLogWriter`, which builds and serializes the lines
in chunks of RENDER_CHUNK_LINES and writes them from its thread in one `write` every
FLUSH_INTERVAL_SECONDS (and at exit), rather than formatting each as its request ends and a
system call per request. The queue is bounded: when the output stalls, lines beyond
MAX_PENDING_LINES are dropped and counted, and the count is logged once the output moves again.
"""

import atexit
import json
import logging
import re
import sys
import threading
import time
from collections.abc import Callable, Mapping
from contextvars import Context, ContextVar, copy_context
from datetime import UTC, datetime
from typing import Any, TextIO

import orjson
from opentelemetry import trace

# Set by the HTTP middleware for the duration of a request, so any log line can carry it.
request_id_var: ContextVar[str | None] = ContextVar("request_id", default=None)

# Attributes every LogRecord has; anything else on a record came from `extra=`. uvicorn adds
# `color_message` (the message with terminal colour codes), which a log line must not carry.
_STANDARD_ATTRIBUTES = frozenset(
    vars(logging.LogRecord("name", logging.INFO, "path", 0, "msg", None, None))
) | {"message", "asctime", "taskName", "color_message"}

# uvicorn's own loggers go through our root handler; its access log is replaced by ours.
_UVICORN_LOGGERS = ("uvicorn", "uvicorn.error")
_UVICORN_ACCESS_LOGGER = "uvicorn.access"

# The user-info part of any URL (`postgresql://user:password@`, `nats://token@`): never logged.
_URL_CREDENTIALS = re.compile(r"([A-Za-z][A-Za-z0-9+.-]*://)[^/\s@]+@")
# Control characters a console line must not carry raw: a `\n` in a client's input would
# otherwise forge a log line, an escape sequence would drive the terminal.
_CONTROL_ESCAPES = {
    code: f"\\x{code:02x}" for code in (*range(0x20), 0x7F, 0x85, 0x2028, 0x2029)
} | {0x0A: "\\n", 0x0D: "\\r", 0x09: "\\t"}

_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")

_second_cache: tuple[int, str] = (-1, "")
_MILLISECONDS = tuple(f".{millisecond:03d}Z" for millisecond in range(1000))


def _utc_timestamp(created: float) -> str:
    """`2025-01-31T12:00:00.123Z`; the part up to the second is formatted once per second."""
    global _second_cache
    second = int(created)
    cached_second, prefix = _second_cache
    if second != cached_second:
        prefix = datetime.fromtimestamp(second, tz=UTC).strftime("%Y-%m-%dT%H:%M:%S")
        _second_cache = (second, prefix)
    return prefix + _MILLISECONDS[int((created - second) * 1000)]


def redact(text: str) -> str:
    """`scheme://***@host`: credentials in URLs are replaced, wherever they appear."""
    # Most lines have no "@": a search for one character is ten times as fast as for "://".
    return _URL_CREDENTIALS.sub(r"\1***@", text) if "@" in text and "://" in text else text


def escape_controls(text: str) -> str:
    return text.translate(_CONTROL_ESCAPES)


def _line_fields(fields: Mapping[str, Any], context: Context) -> Mapping[str, Any]:
    """The fields of a line written in `context`, in order: `fields`, the request id unless
    `fields` has one, the current span's `trace_id` and `span_id` (replacing fields of those
    names). `fields` itself, not a copy, when nothing is added."""
    request_id = context.get(request_id_var)
    if request_id is not None and "request_id" not in fields:
        fields = {**fields, "request_id": request_id}
    span = context.run(trace.get_current_span).get_span_context()
    if span.is_valid:  # only while tracing is on and a span is current
        fields = {**fields, "trace_id": f"{span.trace_id:032x}", "span_id": f"{span.span_id:016x}"}
    return fields


# orjson writes a line in a tenth of the time of json.dumps; a line it cannot write (an integer
# beyond 64 bits, a circular container) goes to the standard library's encoder instead, which
# writes NaN and the infinities as JavaScript does.
_ORJSON_OPTIONS = orjson.OPT_NON_STR_KEYS
_FALLBACK_ENCODER = json.JSONEncoder(default=str, ensure_ascii=False, separators=(",", ":"))


def format_json_line(
    created: float,
    level: str,
    logger: str,
    message: str,
    fields: Mapping[str, Any],
    exception: str | None = None,
    stack: str | None = None,
) -> str:
    """One JSON object: `time`, `level`, `logger`, `message`, the fields, then `exception` and
    `stack` if any. A field cannot replace the first four; `exception` and `stack` replace
    fields of those names. Datetimes are written as RFC 3339, other values JSON cannot encode as
    their str(), NaN and the infinities as null; compact, one line, non-ASCII text as it is."""
    own = {"time": _utc_timestamp(created), "level": level, "logger": logger, "message": message}
    line = {**own, **fields, **own} if fields else own  # the fields after, never over, the four
    if exception is not None:
        line["exception"] = exception
    if stack is not None:
        line["stack"] = stack
    try:
        text = orjson.dumps(line, default=str, option=_ORJSON_OPTIONS).decode()
    except orjson.JSONEncodeError:
        text = _FALLBACK_ENCODER.encode(line)
    return redact(text)


def format_console_line(
    created: float,
    level: str,
    logger: str,
    message: str,
    fields: Mapping[str, Any],
    exception: str | None = None,
    stack: str | None = None,
) -> str:
    """`time LEVEL logger: message key=value ...`, then the traceback and the stack if any."""
    line = f"{_utc_timestamp(created)} {level:<8} {logger}: {escape_controls(message)}"
    for key, value in fields.items():
        line += f" {key}={escape_controls(str(value))}"
    if exception is not None:
        line += "\n" + exception
    if stack is not None:
        line += "\n" + stack
    return redact(line)


class _LineFormatter(logging.Formatter):
    """A LogRecord with its `extra=` fields, traceback and stack, through `serialize`."""

    serialize: Callable[..., str]

    def format(self, record: logging.LogRecord) -> str:
        fields = {
            key: value
            for key, value in record.__dict__.items()
            if key not in _STANDARD_ATTRIBUTES and not key.startswith("_")
        }
        if record.exc_info:
            exception: str | None = self.formatException(record.exc_info)
        else:
            exception = record.exc_text or None
        stack = self.formatStack(record.stack_info) if record.stack_info else None
        return self.serialize(
            record.created,
            record.levelname,
            record.name,
            record.getMessage(),
            _line_fields(fields, copy_context()),
            exception,
            stack,
        )


class JsonFormatter(_LineFormatter):
    """One JSON object per record; values JSON cannot encode are written as their str()."""

    serialize = staticmethod(format_json_line)


class ConsoleFormatter(_LineFormatter):
    """`time LEVEL logger: message key=value ...`, then the traceback if there is one."""

    serialize = staticmethod(format_console_line)


ACCESS_LOGGER = "sbs.access"
FLUSH_INTERVAL_SECONDS = 0.05
MAX_PENDING_LINES = 32_768  # about 10 MiB of access lines
# Lines rendered at once by the thread that queues them: about 0.3 ms, once in 64 requests.
RENDER_CHUNK_LINES = 64

_access_logger = logging.getLogger(ACCESS_LOGGER)

QueuedLine = tuple[Callable[..., str], tuple[Any, ...]]


def _render(batch: list[QueuedLine]) -> str:
    lines = []
    for render, args in batch:
        try:
            lines.append(render(*args))
        except Exception:  # one broken line must not take the batch with it
            logging.getLogger("sbs.logging").exception("rendering an access line failed")
    return "".join(lines)


class AccessLogWriter:
    """A bounded in-memory queue of lines, rendered in chunks and written out by a thread.

    `queue` appends under a lock; the call that fills a chunk of RENDER_CHUNK_LINES renders it
    there, in one loop that keeps the code hot. Every `interval` seconds the writer thread
    renders what is left and writes all of it with one `write` on the stream `sys.stdout` is
    at that moment; `flush` does the same at once (at exit and from tests). Rendering on the
    writer thread instead took the GIL from a busy event loop hundreds of times a second, and
    each hand-off cost the loop more than the rendering (`bench/RESULTS.md`). A stalled output
    never blocks the caller and never holds more than `max_pending_lines`.
    """

    def __init__(
        self,
        interval: float = FLUSH_INTERVAL_SECONDS,
        max_pending_lines: int = MAX_PENDING_LINES,
    ) -> None:
        self.interval = interval
        self.max_pending_lines = max_pending_lines
        self._lock = threading.Lock()  # guards the lists below; held only to append or swap
        self._render_lock = threading.Lock()  # lines leave the queue and are rendered in order
        self._flush_lock = threading.Lock()  # one writer at a time
        self._queued: list[QueuedLine] = []
        self._rendered: list[str] = []
        self._rendered_lines = 0
        self._dropped = 0
        self.dropped_total = 0
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    @property
    def pending_lines(self) -> int:
        return len(self._queued) + self._rendered_lines

    def queue(self, render: Callable[..., str], *args: Any) -> None:
        """Queue the line `render(*args)` gives (its newline included); dropped and counted
        when the queue is full."""
        with self._lock:
            if len(self._queued) + self._rendered_lines >= self.max_pending_lines:
                self._dropped += 1
                return
            self._queued.append((render, args))
            if len(self._queued) < RENDER_CHUNK_LINES:
                return
        self._render_queued(wait=False)

    def _render_queued(self, wait: bool) -> None:
        """Render every queued line, in order, for the next write. Without `wait`, leave them
        queued while another thread renders."""
        if not self._render_lock.acquire(blocking=wait):
            return
        try:
            with self._lock:
                batch, self._queued = self._queued, []
            if batch:
                text = _render(batch)
                with self._lock:
                    self._rendered.append(text)
                    self._rendered_lines += len(batch)
        finally:
            self._render_lock.release()

    def flush(self) -> None:
        """Write everything queued so far, then report lines dropped since the last flush."""
        with self._flush_lock:
            self._render_queued(wait=True)
            with self._lock:
                rendered, self._rendered, self._rendered_lines = self._rendered, [], 0
                dropped, self._dropped = self._dropped, 0
            if rendered:
                stream = sys.stdout
                stream.write("".join(rendered))
                stream.flush()
            if dropped:
                self.dropped_total += dropped
                _access_logger.warning(
                    "%d access log lines dropped: the log output was stalled",
                    dropped,
                    extra={"dropped_lines": dropped},
                )

    def start(self) -> None:
        if self._thread is None or not self._thread.is_alive():
            self._stop.clear()
            self._thread = threading.Thread(target=self._run, name="access-log-writer", daemon=True)
            self._thread.start()

    def stop(self) -> None:
        """Stop the thread and write what is left (idempotent)."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None
        self.flush()

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            try:
                self.flush()
            except Exception:  # a broken stream must not kill the writer for good
                logging.getLogger("sbs.logging").exception("writing access log lines failed")


_access_writer: AccessLogWriter | None = None
_access_serializer: Callable[..., str] = format_json_line

# What a request passes for its access line: a function of its arguments that gives the
# line's message and fields, built with the rest of its chunk rather than as the request ends.
Describe = Callable[..., tuple[str, Mapping[str, Any]]]


def _access_line(
    created: float, level: int, context: Context, describe: Describe, args: tuple[Any, ...]
) -> str:
    message, fields = describe(*args)
    level_name = logging.getLevelName(level)
    fields = _line_fields(fields, context)
    return _access_serializer(created, level_name, ACCESS_LOGGER, message, fields) + "\n"


def write_access_line(level: int, describe: Describe, *args: Any) -> None:
    """One access line at `level` whose message and fields `describe(*args)` gives.

    The time and the context (request id, span) are taken now; `describe` is called and the
    line serialized with the rest of its chunk. Building lines in chunks costs the process
    less than building each as its request ends (`bench/RESULTS.md`).
    """
    if not _access_logger.isEnabledFor(level):
        return
    writer = _access_writer
    if writer is None:  # logging not configured by us: the logging module's own path
        message, fields = describe(*args)
        _access_logger.log(level, message, extra=dict(fields))
        return
    writer.queue(_access_line, time.time(), level, copy_context(), describe, args)


def flush_access_log() -> None:
    """Write the queued access lines now (shutdown, tests)."""
    if _access_writer is not None:
        _access_writer.flush()


class _StdoutHandler(logging.StreamHandler[TextIO]):
    """Writes to whatever `sys.stdout` is at emit time (test capture swaps it)."""

    def __init__(self) -> None:
        super().__init__(sys.stdout)

    def emit(self, record: logging.LogRecord) -> None:
        self.stream = sys.stdout
        super().emit(record)


def configure_logging(level: str, log_format: str) -> None:
    """Send every log record of this process to stdout in `log_format` at `level` and above."""
    level_name = level.upper()
    if level_name not in _LEVELS:
        raise ValueError(f"LOG_LEVEL must be one of {', '.join(_LEVELS)}; got {level!r}")
    formatters = {"json": JsonFormatter, "console": ConsoleFormatter}
    if log_format not in formatters:
        raise ValueError(f"LOG_FORMAT must be one of {', '.join(formatters)}; got {log_format!r}")

    # Neither format prints process, thread or task names; not collecting them makes every
    # record cheaper (the API writes one per request).
    logging.logMultiprocessing = False
    logging.logProcesses = False
    logging.logThreads = False
    logging.logAsyncioTasks = False  # type: ignore[attr-defined]  # Python 3.12+, no stub yet

    root = logging.getLogger()
    for handler in list(root.handlers):
        if isinstance(handler, _StdoutHandler):
            root.removeHandler(handler)
            handler.close()

    handler = _StdoutHandler()
    formatter = formatters[log_format]()
    handler.setFormatter(formatter)
    root.addHandler(handler)
    root.setLevel(level_name)

    global _access_writer, _access_serializer
    _access_serializer = formatter.serialize  # access lines: the same serializer as the records
    if _access_writer is None:
        _access_writer = AccessLogWriter()  # one per process, never replaced
        atexit.register(_access_writer.stop)
    else:
        _access_writer.flush()  # lines queued under the previous configuration go out first
    _access_writer.start()

    for name in _UVICORN_LOGGERS:
        uvicorn_logger = logging.getLogger(name)
        uvicorn_logger.handlers.clear()
        uvicorn_logger.setLevel(logging.NOTSET)
        uvicorn_logger.propagate = True
        uvicorn_logger.disabled = False

    access_logger = logging.getLogger(_UVICORN_ACCESS_LOGGER)
    access_logger.handlers.clear()
    access_logger.propagate = False
    access_logger.disabled = True
