"""Container health check of the IdeaMine images (Docker ``HEALTHCHECK``, docker-compose).

Kubernetes probes the services natively (gRPC and HTTP probes); plain Docker and
docker-compose have no gRPC probe, and the slim images carry neither curl nor
grpc_health_probe, so this script - standard library plus the grpc packages the image
already has - answers the same questions:

    healthcheck.py grpc 127.0.0.1:50051 [SERVICE]     # grpc.health.v1 Check says SERVING
    healthcheck.py http http://127.0.0.1:8080/healthz  # the response status is 2xx

Exit codes follow Docker's convention: 0 healthy, 1 unhealthy; 2 is a usage error. One
line on stderr says why a check failed.
"""

from __future__ import annotations

import sys
import urllib.error
import urllib.request
from collections.abc import Sequence

__all__ = ["check_grpc", "check_http", "main"]

#: seconds one check may take (Docker's own --timeout should be larger)
TIMEOUT = 3.0
_USAGE = "usage: healthcheck.py grpc HOST:PORT [SERVICE] | healthcheck.py http URL"


def check_grpc(address: str, service: str = "", timeout: float = TIMEOUT) -> str | None:
    """Ask ``address``'s ``grpc.health.v1.Health`` about ``service`` ("" = the whole server).

    Returns:
        None when the answer is SERVING, else why not.
    """
    import grpc
    from grpc_health.v1 import health_pb2, health_pb2_grpc

    with grpc.insecure_channel(address) as channel:
        try:
            reply = health_pb2_grpc.HealthStub(channel).Check(
                health_pb2.HealthCheckRequest(service=service), timeout=timeout
            )
        except grpc.RpcError as exc:
            return f"{address}: {exc.code().name}: {exc.details()}"
    if reply.status != health_pb2.HealthCheckResponse.SERVING:
        name = health_pb2.HealthCheckResponse.ServingStatus.Name(reply.status)
        return f"{address} service {service!r}: {name}"
    return None


def check_http(url: str, timeout: float = TIMEOUT) -> str | None:
    """GET ``url``.

    Returns:
        None for a 2xx response, else why not.
    """
    if not url.startswith(("http://", "https://")):
        raise ValueError(f"not an http(s) URL: {url!r}")
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:  # noqa: S310 (scheme checked above)
            status = int(response.status)
    except urllib.error.HTTPError as exc:
        return f"{url}: HTTP {exc.code}"
    except (urllib.error.URLError, OSError) as exc:
        return f"{url}: {getattr(exc, 'reason', exc)}"
    return None if 200 <= status < 300 else f"{url}: HTTP {status}"


def main(argv: Sequence[str] | None = None) -> int:
    """Run one check; the exit code is the verdict."""
    args = list(sys.argv[1:] if argv is None else argv)
    try:
        if len(args) in (2, 3) and args[0] == "grpc":
            host, sep, port = args[1].rpartition(":")
            if not sep or not host or not port.isdigit():
                raise ValueError(f"not HOST:PORT: {args[1]!r}")
            problem = check_grpc(args[1], args[2] if len(args) == 3 else "")
        elif len(args) == 2 and args[0] == "http":
            problem = check_http(args[1])
        else:
            raise ValueError("wrong arguments")
    except ValueError as exc:
        print(f"healthcheck: {exc}\n{_USAGE}", file=sys.stderr)
        return 2
    if problem is not None:
        print(f"healthcheck: unhealthy: {problem}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
