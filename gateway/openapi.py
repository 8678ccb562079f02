"""The OpenAPI 3 document of the REST API (``docs/openapi.yaml``), built from the route table.

Like the Envoy config, it is derived from the ``google.api.http`` annotations and the message
descriptors only, so it cannot drift from what the transcoder accepts: proto field names
(the transcoder preserves them), proto3 JSON types (64-bit integers as decimal strings,
enums by name, ``Timestamp`` as RFC 3339), field behaviours (``REQUIRED`` → required,
``OUTPUT_ONLY`` → read-only), proto comments as descriptions. Errors are ``google.rpc.Status``
JSON, from the transcoder and from the gateway's own replies alike.

``scripts/gen_openapi.py`` writes the file; a test regenerates it and diffs.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import yaml
from google.api import field_behavior_pb2
from google.protobuf import descriptor_pb2  # type: ignore[import-untyped]

from gateway.config import GatewaySettings
from gateway.routes import Route, RouteTable

__all__ = ["build_openapi", "render_openapi"]

_F = descriptor_pb2.FieldDescriptorProto
_INT32 = {"type": "integer", "format": "int32"}
_UINT32 = {"type": "integer", "format": "int64", "minimum": 0, "maximum": 4294967295}
_INT64 = {"type": "string", "format": "int64", "pattern": "^-?[0-9]+$"}
_UINT64 = {"type": "string", "format": "uint64", "pattern": "^[0-9]+$"}
_SCALARS: dict[int, dict[str, Any]] = {
    _F.TYPE_DOUBLE: {"type": "number", "format": "double"},
    _F.TYPE_FLOAT: {"type": "number", "format": "float"},
    _F.TYPE_INT32: _INT32,
    _F.TYPE_SINT32: _INT32,
    _F.TYPE_SFIXED32: _INT32,
    _F.TYPE_UINT32: _UINT32,
    _F.TYPE_FIXED32: _UINT32,
    _F.TYPE_INT64: _INT64,
    _F.TYPE_SINT64: _INT64,
    _F.TYPE_SFIXED64: _INT64,
    _F.TYPE_UINT64: _UINT64,
    _F.TYPE_FIXED64: _UINT64,
    _F.TYPE_BOOL: {"type": "boolean"},
    _F.TYPE_STRING: {"type": "string"},
    _F.TYPE_BYTES: {"type": "string", "format": "byte"},
}
#: well-known types as their proto3 JSON shapes
_WELL_KNOWN: dict[str, dict[str, Any]] = {
    "google.protobuf.Timestamp": {"type": "string", "format": "date-time"},
    "google.protobuf.Duration": {"type": "string", "pattern": "^-?[0-9]+(\\.[0-9]{1,9})?s$"},
    "google.protobuf.Struct": {"type": "object", "additionalProperties": True},
    "google.protobuf.Value": {},
    "google.protobuf.ListValue": {"type": "array", "items": {}},
    "google.protobuf.Empty": {"type": "object"},
    "google.protobuf.FieldMask": {"type": "string"},
    "google.protobuf.Any": {"type": "object", "properties": {"@type": {"type": "string"}}},
}
_STATUS = {
    "type": "object",
    "description": "google.rpc.Status: every error body, from the orchestrator and from the gateway itself.",
    "properties": {
        "code": {"type": "integer", "format": "int32", "description": "gRPC status code"},
        "message": {"type": "string"},
        "details": {
            "type": "array",
            "items": {"type": "object", "properties": {"@type": {"type": "string"}}},
        },
    },
    "required": ["code", "message"],
}
_STREAM_TYPES = {"sse": "text/event-stream", "ndjson": "application/x-ndjson"}


class _Types:
    """Message/enum descriptors and their comments, by full name."""

    def __init__(self, fds: descriptor_pb2.FileDescriptorSet) -> None:
        self.messages: dict[str, descriptor_pb2.DescriptorProto] = {}
        self.enums: dict[str, descriptor_pb2.EnumDescriptorProto] = {}
        self.comments: dict[str, str] = {}
        for f in fds.file:
            located = {tuple(loc.path): loc.leading_comments for loc in f.source_code_info.location}
            prefix = f.package + "." if f.package else ""
            for i, m in enumerate(f.message_type):
                self._message(prefix + m.name, m, (4, i), located)
            for i, e in enumerate(f.enum_type):
                self._enum(prefix + e.name, e, (5, i), located)
            for i, s in enumerate(f.service):
                self._note(prefix + s.name, located.get((6, i)))
                for j, method in enumerate(s.method):
                    self._note(f"{prefix}{s.name}.{method.name}", located.get((6, i, 2, j)))

    def _note(self, name: str, text: str | None) -> None:
        if text and text.strip():
            self.comments[name] = " ".join(line.strip() for line in text.strip().splitlines())

    def _message(self, name: str, m: Any, path: tuple[int, ...], located: dict[tuple[int, ...], str]) -> None:
        self.messages[name] = m
        self._note(name, located.get(path))
        for j, field in enumerate(m.field):
            self._note(f"{name}.{field.name}", located.get((*path, 2, j)))
        for k, nested in enumerate(m.nested_type):
            self._message(f"{name}.{nested.name}", nested, (*path, 3, k), located)
        for k, e in enumerate(m.enum_type):
            self._enum(f"{name}.{e.name}", e, (*path, 4, k), located)

    def _enum(self, name: str, e: Any, path: tuple[int, ...], located: dict[tuple[int, ...], str]) -> None:
        self.enums[name] = e
        self._note(name, located.get(path))


def _ref(name: str) -> dict[str, Any]:
    return {"$ref": f"#/components/schemas/{name}"}


class _Builder:
    def __init__(self, table: RouteTable) -> None:
        self.types = _Types(table.descriptor_set)
        self.schemas: dict[str, Any] = {}

    def _described(self, schema: dict[str, Any], key: str) -> dict[str, Any]:
        if key in self.types.comments:
            return {**schema, "description": self.types.comments[key]}
        return schema

    def field_schema(self, field: Any, owner: str) -> dict[str, Any]:
        """The JSON schema of one field's value (repeated and map fields included)."""
        if field.type == _F.TYPE_MESSAGE:
            name = field.type_name.lstrip(".")
            entry = self.types.messages.get(name)
            if entry is not None and entry.options.map_entry:
                return {"type": "object", "additionalProperties": self.field_schema(entry.field[1], name)}
            base = self.type_schema(name)
        elif field.type == _F.TYPE_ENUM:
            base = self.type_schema(field.type_name.lstrip("."))
        else:
            base = dict(_SCALARS[field.type])
        return {"type": "array", "items": base} if field.label == _F.LABEL_REPEATED else base

    def type_schema(self, name: str) -> dict[str, Any]:
        """A reference to a message/enum component, adding the component on first use."""
        if name in _WELL_KNOWN:
            return dict(_WELL_KNOWN[name])
        short = name.split(".", 2)[-1] if name.startswith("ideamine.") else name
        if short not in self.schemas:
            self.schemas[short] = {}  # placeholder: breaks recursion
            if name in self.types.enums:
                values = [v.name for v in self.types.enums[name].value]
                self.schemas[short] = self._described({"type": "string", "enum": values}, name)
            else:
                self.schemas[short] = self.object_schema(name)
        return _ref(short)

    def object_schema(self, name: str, *, skip: tuple[str, ...] = ()) -> dict[str, Any]:
        """An object schema of a message's fields, minus ``skip`` (path-bound fields)."""
        message = self.types.messages[name]
        props: dict[str, Any] = {}
        required: list[str] = []
        for field in message.field:
            if field.name in skip:
                continue
            schema = self._described(self.field_schema(field, name), f"{name}.{field.name}")
            behaviors = list(field.options.Extensions[field_behavior_pb2.field_behavior])
            if field_behavior_pb2.OUTPUT_ONLY in behaviors:
                schema = {**schema, "readOnly": True}
            if field_behavior_pb2.REQUIRED in behaviors:
                required.append(field.name)
            props[field.name] = schema
        out: dict[str, Any] = self._described({"type": "object", "properties": props}, name)
        if required:
            out["required"] = required
        return out

    def parameters(self, route: Route) -> list[dict[str, Any]]:
        """Path parameters, then (for body-less bindings) query parameters."""
        message = self.types.messages[route.input_type]
        by_name = {f.name: f for f in message.field}
        params = [
            self._described(
                {
                    "name": v,
                    "in": "path",
                    "required": True,
                    "schema": self.field_schema(by_name[v], route.input_type),
                },
                f"{route.input_type}.{v}",
            )
            for v in route.path_variables
        ]
        if route.body == "*":
            return params
        for field in message.field:
            if (
                field.name in route.path_variables
                or field.name == route.body
                or field.type == _F.TYPE_MESSAGE
            ):
                continue
            param: dict[str, Any] = {
                "name": field.name,
                "in": "query",
                "schema": self.field_schema(field, ""),
            }
            if field.label == _F.LABEL_REPEATED:
                param.update(style="form", explode=True)
            params.append(self._described(param, f"{route.input_type}.{field.name}"))
        return params

    def operation(self, route: Route, stream_format: str) -> dict[str, Any]:
        """One OpenAPI operation for one binding."""
        short = route.service.rsplit(".", 1)[-1]
        op: dict[str, Any] = {"operationId": f"{short}_{route.method}", "tags": [short]}
        if doc := self.types.comments.get(f"{route.service}.{route.method}"):
            op["summary"] = doc
        params = self.parameters(route)
        if params:
            op["parameters"] = params
        if route.body:
            schema = (
                self.object_schema(route.input_type, skip=route.path_variables)
                if route.body == "*"
                else self.field_schema(
                    next(f for f in self.types.messages[route.input_type].field if f.name == route.body), ""
                )
            )
            op["requestBody"] = {"required": True, "content": {"application/json": {"schema": schema}}}
        response = self.type_schema(route.output_type)
        if route.server_streaming:
            content = {
                _STREAM_TYPES[stream_format]: {
                    "schema": {"type": "string", "description": "a stream of JSON messages, each one:"},
                    "x-stream-item": response,
                }
            }
            ok = {
                "description": f"a stream of {route.output_type.rsplit('.', 1)[-1]} JSON objects",
                "content": content,
            }
        else:
            ok = {"description": "OK", "content": {"application/json": {"schema": response}}}
        op["responses"] = {"200": ok, "default": {"$ref": "#/components/responses/Error"}}
        return op


def _paths(
    builder: _Builder, table: RouteTable, stream_format: str
) -> Iterator[tuple[str, str, dict[str, Any]]]:
    for route in table.routes:
        yield route.path, route.verb.lower(), builder.operation(route, stream_format)


def build_openapi(table: RouteTable, *, settings: GatewaySettings | None = None) -> dict[str, Any]:
    """The OpenAPI 3.0 document of every REST binding in ``table``."""
    settings = settings or GatewaySettings()
    builder = _Builder(table)
    paths: dict[str, dict[str, Any]] = {
        "/healthz": {
            "get": {
                "operationId": "Gateway_Health",
                "tags": ["Gateway"],
                "summary": "Liveness of the gateway; needs no token.",
                "security": [],
                "responses": {"200": {"description": "the gateway is serving"}},
            }
        }
    }
    for path, verb, op in _paths(builder, table, settings.stream_format):
        paths.setdefault(path, {})[verb] = op
    tags = [
        {"name": s.rsplit(".", 1)[-1], "description": builder.types.comments.get(s, "")}
        for s in table.services
    ]
    return {
        "openapi": "3.0.3",
        "info": {
            "title": "IdeaMine API",
            "version": "v1",
            "description": "REST mapping of the IdeaMine gRPC API, served by the Envoy gateway. Generated from "
            "the protos' google.api.http annotations by scripts/gen_openapi.py; do not edit.",
        },
        "servers": [{"url": f"http://localhost:{settings.listen.port}"}],
        "security": [{"bearerAuth": []}],
        "tags": [{"name": "Gateway", "description": "The gateway itself."}, *tags],
        "paths": paths,
        "components": {
            "securitySchemes": {"bearerAuth": {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"}},
            "responses": {
                "Error": {
                    "description": "an error, as google.rpc.Status JSON",
                    "content": {"application/json": {"schema": _ref("Status")}},
                }
            },
            "schemas": {"Status": _STATUS, **dict(sorted(builder.schemas.items()))},
        },
    }


def render_openapi(table: RouteTable, *, settings: GatewaySettings | None = None) -> str:
    """:func:`build_openapi` as YAML text (the content of ``docs/openapi.yaml``)."""
    header = (
        "# Generated by scripts/gen_openapi.py from the protos' google.api.http annotations. Do not edit.\n"
    )
    return header + yaml.safe_dump(build_openapi(table, settings=settings), sort_keys=False, width=120)
