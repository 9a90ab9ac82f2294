"""Just enough IPP (RFC 8010/8011) to print a PDF on a CUPS queue and find it again.

Two operations: Print-Job (send a PDF with a job name) and Get-Jobs (the names and states of
the queue's jobs, finished ones included, as CUPS keeps its job history). The job name carries
the delivery key, so a delivery that is repeated after a crash or a lost answer finds its job
already there and does not print the sheet twice.

Errors: nothing could be sent (refused connection, unknown host) and IPP server errors are
transient; an IPP client error (no such printer, a document the printer refuses) is permanent.
A timeout or a dropped link after the document went out is in doubt: the job may exist, which
the next attempt's Get-Jobs will tell.
"""

from __future__ import annotations

import http.client
import itertools
import struct
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from urllib.parse import urlsplit

from pipeline.errors import InDoubtError, PermanentError, TransientError

PRINT_JOB = 0x0002
GET_JOBS = 0x000A
USER = "noticecast"

# Delimiter and value tags (RFC 8010 section 3.5).
OPERATION_GROUP, JOB_GROUP, END = 0x01, 0x02, 0x03
INTEGER, ENUM = 0x21, 0x23
NAME, KEYWORD, URI, CHARSET, LANGUAGE, MIME = 0x42, 0x44, 0x45, 0x47, 0x48, 0x49
JOB_STATES = {3: "pending", 4: "held", 5: "processing", 6: "stopped", 7: "canceled",
              8: "aborted", 9: "completed"}
_request_ids = itertools.count(1)


@dataclass(frozen=True)
class Job:
    id: int
    name: str
    state: str


def http_url(printer_uri: str) -> tuple[str, int, str, bool]:
    """(host, port, path, tls) of an ipp://, ipps://, http:// or https:// printer URI."""
    parts = urlsplit(printer_uri)
    if parts.scheme not in ("ipp", "ipps", "http", "https") or not parts.hostname:
        raise PermanentError(f"printer {printer_uri!r} is not an IPP URI; write it like "
                             "ipp://127.0.0.1:631/printers/QUEUE")
    tls = parts.scheme in ("ipps", "https")
    return parts.hostname, parts.port or (443 if parts.scheme == "https" else 631), \
        parts.path or "/", tls


def _attribute(tag: int, name: str, values: Iterable[str | int]) -> bytes:
    out = b""
    for index, value in enumerate(values):
        data = struct.pack(">i", value) if isinstance(value, int) else value.encode("utf-8")
        label = name.encode() if index == 0 else b""
        out += struct.pack(">BH", tag, len(label)) + label + struct.pack(">H", len(data)) + data
    return out


def encode(operation: int, printer_uri: str, attributes: list[tuple[int, str, list[str | int]]]
           ) -> bytes:
    head = struct.pack(">BBHI", 2, 0, operation, next(_request_ids))
    body = bytes([OPERATION_GROUP])
    body += _attribute(CHARSET, "attributes-charset", ["utf-8"])
    body += _attribute(LANGUAGE, "attributes-natural-language", ["zh-cn"])
    body += _attribute(URI, "printer-uri", [printer_uri])
    body += _attribute(NAME, "requesting-user-name", [USER])
    for tag, name, values in attributes:
        body += _attribute(tag, name, values)
    return head + body + bytes([END])


def decode(data: bytes) -> tuple[int, list[dict[str, list[object]]]]:
    """(status code, attribute groups) of an IPP response; the groups' values are decoded
    for integers and enums, text otherwise."""
    if len(data) < 9:
        raise ValueError("short IPP response")
    status = struct.unpack(">H", data[2:4])[0]
    groups: list[dict[str, list[object]]] = []
    position, name = 8, ""
    while position < len(data):
        tag = data[position]
        position += 1
        if tag == END:
            break
        if tag < 0x10:  # a new group
            groups.append({})
            continue
        name_length = struct.unpack(">H", data[position:position + 2])[0]
        position += 2
        if name_length:
            name = data[position:position + name_length].decode("utf-8", "replace")
        position += name_length
        value_length = struct.unpack(">H", data[position:position + 2])[0]
        position += 2
        raw = data[position:position + value_length]
        position += value_length
        value: object = (struct.unpack(">i", raw)[0] if tag in (INTEGER, ENUM) and len(raw) == 4
                         else raw.decode("utf-8", "replace"))
        if not groups:
            groups.append({})
        groups[-1].setdefault(name, []).append(value)
    return status, groups


class IppPrinter:
    """One CUPS queue, reached over IPP."""

    def __init__(self, uri: str, *, timeout_s: float = 30.0) -> None:
        self.uri = uri
        self.timeout_s = timeout_s
        self.host, self.port, self.path, self.tls = http_url(uri)

    def _connection(self) -> http.client.HTTPConnection:
        if self.tls:
            return http.client.HTTPSConnection(self.host, self.port, timeout=self.timeout_s)
        return http.client.HTTPConnection(self.host, self.port, timeout=self.timeout_s)

    def _call(self, request: bytes, what: str) -> list[dict[str, list[object]]]:
        connection = self._connection()
        try:
            try:
                connection.connect()
            except OSError as exc:  # nothing was sent
                raise TransientError(f"cannot reach the printer {self.uri}: {exc}") from None
            try:
                connection.request("POST", self.path, body=request,
                                   headers={"Content-Type": "application/ipp"})
                response = connection.getresponse()
                data = response.read()
            except (OSError, http.client.HTTPException) as exc:
                raise InDoubtError(f"{what}: no answer from the printer {self.uri}: "
                                   f"{exc or type(exc).__name__}") from None
        finally:
            connection.close()
        if response.status != 200:
            error = PermanentError if 400 <= response.status < 500 else TransientError
            raise error(f"{what}: the printer {self.uri} answered HTTP {response.status}")
        try:
            status, groups = decode(data)
        except (ValueError, struct.error):
            raise InDoubtError(f"{what}: the printer {self.uri} sent a malformed IPP "
                               "answer") from None
        if status >= 0x0500:
            raise TransientError(f"{what}: the printer {self.uri} failed: IPP status "
                                 f"0x{status:04x}{_message(groups)}")
        if status >= 0x0400:
            raise PermanentError(f"{what}: the printer {self.uri} refused: IPP status "
                                 f"0x{status:04x}{_message(groups)}; check the printer URI")
        return groups

    def jobs(self) -> list[Job]:
        """Every job the queue remembers, finished ones included."""
        request = encode(GET_JOBS, self.uri, [
            (KEYWORD, "which-jobs", ["all"]),
            (KEYWORD, "requested-attributes", ["job-id", "job-name", "job-state"]),
        ])
        return list(_jobs(self._call(request, "listing the print jobs")))

    def print_pdf(self, pdf: bytes, job_name: str) -> int:
        """Send ``pdf`` as a job named ``job_name``; returns the job id."""
        request = encode(PRINT_JOB, self.uri, [
            (NAME, "job-name", [job_name]),
            (MIME, "document-format", ["application/pdf"]),
        ])
        groups = self._call(request + pdf, f"printing {job_name}")
        for group in groups:
            if "job-id" in group:
                return int(group["job-id"][0])  # type: ignore[call-overload]
        raise InDoubtError(f"printing {job_name}: the printer {self.uri} answered without a "
                           "job id")


def _jobs(groups: list[dict[str, list[object]]]) -> Iterator[Job]:
    for group in groups:
        if "job-id" in group:
            state = group.get("job-state", [0])[0]
            yield Job(int(group["job-id"][0]),  # type: ignore[call-overload]
                      str(group.get("job-name", [""])[0]),
                      JOB_STATES.get(state if isinstance(state, int) else 0, "unknown"))


def _message(groups: list[dict[str, list[object]]]) -> str:
    for group in groups:
        if "status-message" in group:
            return f" ({group['status-message'][0]})"
    return ""


__all__ = ["IppPrinter", "Job"]
