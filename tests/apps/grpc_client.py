"""A real gRPC client (grpcio) for tests/grpc_proxy.rs: makes the calls described by a JSON list
on stdin through one channel and prints one JSON result per call on stdout.

Usage: grpc_client.py TARGET AUTHORITY [--tls CA_PEM]
Each call: {"method": "Unary", "kind": "unary"|"server_stream"|"client_stream",
            "requests": ["text", ...], "timeout": seconds or null,
            "delay": seconds between two requests of a client stream (default 0)}
Each result: {"code": "OK", "details": str, "responses": [str], "trailing": {key: text or hex}}
"""

import json
import sys
import time

import grpc


def text(value):
    return value.hex() if isinstance(value, bytes) else value


def paced(requests, delay):
    for i, r in enumerate(requests):
        if i and delay:
            time.sleep(delay)
        yield r


def call(channel, spec):
    path = "/test.Echo/" + spec["method"]
    kind = spec.get("kind", "unary")
    requests = [r.encode() for r in spec.get("requests", [""])]
    timeout = spec.get("timeout")
    out = {"code": "OK", "details": "", "responses": [], "trailing": {}}
    try:
        if kind == "unary":
            fn = channel.unary_unary(path)
            resp, c = fn.with_call(requests[0], timeout=timeout)
            out["responses"] = [resp.decode("latin-1")]
        elif kind == "server_stream":
            fn = channel.unary_stream(path)
            c = fn(requests[0], timeout=timeout)
            out["responses"] = [r.decode("latin-1") for r in c]
        else:
            fn = channel.stream_unary(path)
            resp, c = fn.with_call(paced(requests, spec.get("delay", 0)), timeout=timeout)
            out["responses"] = [resp.decode("latin-1")]
        trailing = c.trailing_metadata() or ()
    except grpc.RpcError as e:
        out["code"] = e.code().name
        out["details"] = e.details() or ""
        trailing = e.trailing_metadata() or ()
    out["trailing"] = {k: text(v) for k, v in trailing}
    return out


def main():
    target, authority = sys.argv[1], sys.argv[2]
    options = [("grpc.default_authority", authority)]
    if len(sys.argv) == 5 and sys.argv[3] == "--tls":
        with open(sys.argv[4], "rb") as f:
            creds = grpc.ssl_channel_credentials(root_certificates=f.read())
        options.append(("grpc.ssl_target_name_override", authority))
        channel = grpc.secure_channel(target, creds, options=options)
    else:
        channel = grpc.insecure_channel(target, options=options)
    specs = json.load(sys.stdin)
    print(json.dumps([call(channel, s) for s in specs]), flush=True)


if __name__ == "__main__":
    main()
