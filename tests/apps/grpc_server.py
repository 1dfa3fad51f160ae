"""A real gRPC server (grpcio) for tests/grpc_proxy.rs and scripts/bench-grpc.sh.

Messages are raw bytes (identity serializers), so no protoc is needed. Service `test.Echo`:
  Unary         -> b"echo:" + request
  Meta          -> JSON of the call's invocation metadata (what the proxy sent)
  Count         server streaming: request b"N" -> N messages b"0" .. b"N-1"
  Join          client streaming: the requests joined with b","
  Fail          INVALID_ARGUMENT "bad argument: ü" with a grpc-status-details-bin trailer
  Slow          answers after 5 s (ends early when the call is cancelled)

Usage: grpc_server.py [--tls CERT KEY]. Listens on 127.0.0.1:0 and prints `PORT <n>` when ready.
"""

import json
import sys
import threading
import time
from concurrent import futures

import grpc

# google.rpc.Status{code: 3, message: "bad"} as protobuf bytes.
DETAILS = b"\x08\x03\x12\x03bad"


def unary(request, context):
    return b"echo:" + request


def meta(request, context):
    seen = {}
    for key, value in context.invocation_metadata():
        seen[key] = value if isinstance(value, str) else value.decode("latin-1")
    return json.dumps(seen).encode()


def count(request, context):
    for i in range(int(request or b"0")):
        yield str(i).encode()


def join(request_iterator, context):
    return b",".join(request_iterator)


def fail(request, context):
    context.set_trailing_metadata([("grpc-status-details-bin", DETAILS)])
    context.abort(grpc.StatusCode.INVALID_ARGUMENT, "bad argument: \u00fc")


def slow(request, context):
    done = threading.Event()
    context.add_callback(done.set)
    done.wait(5)
    return b"late"


def main():
    ident = dict(request_deserializer=None, response_serializer=None)
    handlers = {
        "Unary": grpc.unary_unary_rpc_method_handler(unary, **ident),
        "Meta": grpc.unary_unary_rpc_method_handler(meta, **ident),
        "Count": grpc.unary_stream_rpc_method_handler(count, **ident),
        "Join": grpc.stream_unary_rpc_method_handler(join, **ident),
        "Fail": grpc.unary_unary_rpc_method_handler(fail, **ident),
        "Slow": grpc.unary_unary_rpc_method_handler(slow, **ident),
    }
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=16))
    server.add_generic_rpc_handlers(
        (grpc.method_handlers_generic_handler("test.Echo", handlers),)
    )
    if len(sys.argv) == 4 and sys.argv[1] == "--tls":
        with open(sys.argv[2], "rb") as f:
            cert = f.read()
        with open(sys.argv[3], "rb") as f:
            key = f.read()
        creds = grpc.ssl_server_credentials([(key, cert)])
        port = server.add_secure_port("127.0.0.1:0", creds)
    else:
        port = server.add_insecure_port("127.0.0.1:0")
    server.start()
    print(f"PORT {port}", flush=True)
    server.wait_for_termination()


if __name__ == "__main__":
    main()
