"""The REST table, read from the committed descriptor set's ``google.api.http`` annotations.

The proto annotations are the single source of the REST mapping (STYLE.md: no second route
table). Everything the gateway derives — which services Envoy transcodes, which REST paths
and gRPC paths are reads (open to the ``viewer`` role), which routes are server streams
(no route timeout) and the OpenAPI document — comes from :class:`RouteTable`, built here
from ``ideamine/_proto/ideamine.pb``. A public service is one whose RPCs carry HTTP
annotations; internal services (agent host, host registry) have none and are never
reachable through the gateway.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

from google.api import annotations_pb2, http_pb2
from google.protobuf import descriptor_pb2  # type: ignore[import-untyped]

import ideamine

__all__ = ["DESCRIPTOR_SET", "Route", "RouteTable", "load_routes", "template_regex"]

#: the descriptor set written by ``make proto`` (scripts/gen_proto.py)
DESCRIPTOR_SET = Path(ideamine.__file__).resolve().parent / "_proto" / "ideamine.pb"

#: HTTP verbs of ``google.api.HttpRule``'s ``pattern`` oneof
_VERBS = ("get", "put", "post", "delete", "patch")
#: ``{name}`` or ``{name=pattern}`` in a path template
_VARIABLE = re.compile(r"\{([a-zA-Z0-9_.]+)(?:=([^}]*))?\}")


@dataclass(frozen=True)
class Route:
    """One REST binding of one RPC.

    Attributes:
        service: full service name, e.g. ``ideamine.v1.RunService``.
        method: RPC name, e.g. ``CreateRun``.
        verb: upper-case HTTP method.
        path: path template as annotated, e.g. ``/v1/runs/{run_id}:cancel``.
        body: ``""`` (no body), ``"*"`` (the whole request) or a request field name.
        input_type: full request message name without the leading dot.
        output_type: full response message name without the leading dot.
        server_streaming: whether the RPC streams responses (REST sees a stream of JSON).
    """

    service: str
    method: str
    verb: str
    path: str
    body: str
    input_type: str
    output_type: str
    server_streaming: bool

    @property
    def grpc_path(self) -> str:
        """The HTTP/2 path a gRPC or gRPC-web client uses, e.g. ``/ideamine.v1.RunService/GetRun``."""
        return f"/{self.service}/{self.method}"

    @property
    def is_read(self) -> bool:
        """Whether the binding only reads (GET): the ``viewer`` role may call it."""
        return self.verb == "GET"

    @property
    def path_variables(self) -> tuple[str, ...]:
        """Request fields bound from the path, in template order."""
        return tuple(m.group(1) for m in _VARIABLE.finditer(self.path))

    @property
    def path_regex(self) -> str:
        """An anchored RE2 regex matching the concrete paths of this template."""
        return template_regex(self.path)


def template_regex(template: str) -> str:
    """An anchored regex for a ``google.api.http`` path template.

    ``{var}`` and ``{var=*}`` match one segment, ``{var=**}`` (or any pattern with ``**``)
    matches the rest; literals, including a ``:verb`` suffix, match themselves.
    """
    out: list[str] = []
    pos = 0
    for m in _VARIABLE.finditer(template):
        out.append(re.escape(template[pos : m.start()]))
        out.append(".+" if "**" in (m.group(2) or "") else "[^/:]+")
        pos = m.end()
    out.append(re.escape(template[pos:]))
    return "^" + "".join(out) + "$"


def _rules(rule: http_pb2.HttpRule) -> list[http_pb2.HttpRule]:
    return [rule, *rule.additional_bindings]


def _binding(rule: http_pb2.HttpRule) -> tuple[str, str] | None:
    kind = rule.WhichOneof("pattern")
    if kind in _VERBS:
        return kind.upper(), getattr(rule, kind)
    if kind == "custom":
        return rule.custom.kind.upper(), rule.custom.path
    return None


@dataclass(frozen=True)
class RouteTable:
    """Every REST binding of every public RPC, in descriptor order.

    Attributes:
        routes: the bindings.
        descriptor_set: the parsed descriptor set they were read from (types for OpenAPI,
            the transcoder's ``proto_descriptor_bin``).
    """

    routes: tuple[Route, ...]
    descriptor_set: descriptor_pb2.FileDescriptorSet

    @cached_property
    def services(self) -> tuple[str, ...]:
        """Full names of the public services (those with at least one REST binding)."""
        return tuple(dict.fromkeys(r.service for r in self.routes))

    @property
    def reads(self) -> tuple[Route, ...]:
        """Bindings the ``viewer`` role may call."""
        return tuple(r for r in self.routes if r.is_read)

    @property
    def streams(self) -> tuple[Route, ...]:
        """Bindings of server-streaming RPCs."""
        return tuple(r for r in self.routes if r.server_streaming)

    def find(self, service: str, method: str) -> Route:
        """The first binding of ``service``/``method`` (short or full service name).

        Raises:
            KeyError: no such public RPC.
        """
        for r in self.routes:
            if r.method == method and (r.service == service or r.service.endswith("." + service)):
                return r
        raise KeyError(f"{service}.{method}")


def load_routes(path: Path = DESCRIPTOR_SET) -> RouteTable:
    """Read the REST table from a descriptor set file.

    Args:
        path: a ``FileDescriptorSet`` built with ``--include_imports`` (so the annotation
            options and every message type are present).

    Raises:
        FileNotFoundError: the file does not exist.
        google.protobuf.message.DecodeError: it is not a descriptor set.
    """
    fds = descriptor_pb2.FileDescriptorSet.FromString(path.read_bytes())
    routes: list[Route] = []
    for file in fds.file:
        for service in file.service:
            full = f"{file.package}.{service.name}" if file.package else service.name
            for method in service.method:
                if not method.options.HasExtension(annotations_pb2.http):
                    continue
                for rule in _rules(method.options.Extensions[annotations_pb2.http]):
                    binding = _binding(rule)
                    if binding is None:
                        continue
                    routes.append(
                        Route(
                            service=full,
                            method=method.name,
                            verb=binding[0],
                            path=binding[1],
                            body=rule.body,
                            input_type=method.input_type.lstrip("."),
                            output_type=method.output_type.lstrip("."),
                            server_streaming=method.server_streaming,
                        )
                    )
    return RouteTable(routes=tuple(routes), descriptor_set=fds)
