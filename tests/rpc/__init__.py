"""Tests of the gRPC skeleton (ideamine.rpc) against real servers on 127.0.0.1."""
