"""gRPC plumbing shared by every IdeaMine service: the server skeleton and error mapping.

- :class:`GrpcServer` (``serve.py``): bind, health driven by :class:`HealthCheck` probes
  (readiness) plus :data:`LIVENESS_SERVICE`, reflection, interceptors, graceful two-stage
  shutdown.
- :class:`ErrorInterceptor` (``status.py``): the one mapping of :mod:`ideamine.errors` to
  gRPC status codes with ``google.rpc`` details.
"""

from ideamine.rpc.serve import LIVENESS_SERVICE, GrpcServer, HealthCheck, Service
from ideamine.rpc.status import ErrorInterceptor, grpc_status_for, status_for

__all__ = [
    "LIVENESS_SERVICE",
    "ErrorInterceptor",
    "GrpcServer",
    "HealthCheck",
    "Service",
    "grpc_status_for",
    "status_for",
]
