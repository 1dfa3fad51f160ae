"""WSGI app the uwsgi forwarding tests run under real uWSGI; routed by PATH_INFO."""
import hashlib
import json
import os
import time
from urllib.parse import parse_qs


def _json(start_response, obj, status="200 OK"):
    body = json.dumps(obj).encode()
    start_response(status, [("Content-Type", "application/json"),
                            ("Content-Length", str(len(body)))])
    return [body]


def _int(environ, name, default):
    values = parse_qs(environ.get("QUERY_STRING", "")).get(name)
    return int(values[0]) if values else default


def env(environ, start_response):
    """Every str var, as the app sees it (the body is read first, as a real app would)."""
    environ["wsgi.input"].read()
    return _json(start_response, {k: v for k, v in environ.items() if isinstance(v, str)})


def upload(environ, start_response):
    """sha256 and length of the body, read in 1 MiB pieces."""
    digest, length, stream = hashlib.sha256(), 0, environ["wsgi.input"]
    while True:
        chunk = stream.read(1 << 20)
        if not chunk:
            break
        digest.update(chunk)
        length += len(chunk)
    return _json(start_response, {"sha256": digest.hexdigest(), "length": length,
                                  "content_length": environ.get("CONTENT_LENGTH", "")})


def stream(environ, start_response):
    """`n` lines, `delay_ms` apart, with no Content-Length."""
    n, delay = _int(environ, "n", 4), _int(environ, "delay_ms", 400) / 1000.0
    start_response("200 OK", [("Content-Type", "text/plain")])

    def gen():
        for i in range(n):
            yield b"line %d\n" % i
            if i + 1 < n:
                time.sleep(delay)
    return gen()


def large(environ, start_response):
    """`mib` MiB of a repeating pattern, with Content-Length unless `nolen=1`."""
    mib = _int(environ, "mib", 64)
    headers = [("Content-Type", "application/octet-stream")]
    if not _int(environ, "nolen", 0):
        headers.append(("Content-Length", str(mib << 20)))
    start_response("200 OK", headers)
    block = bytes(range(256)) * 4096
    return (block for _ in range(mib))


def crash(environ, start_response):
    """Declares 1 MB, writes 1000 bytes, then the worker dies."""
    start_response("200 OK", [("Content-Length", "1000000")])

    def gen():
        yield b"x" * 1000
        time.sleep(0.2)
        os._exit(1)
    return gen()


def status(environ, start_response):
    """`/status/CODE`: that status with a body the proxy must not forward for 204/304."""
    code = environ["PATH_INFO"].rsplit("/", 1)[-1]
    start_response(code + " Whatever", [("Content-Type", "text/plain")])
    return [b"must not be forwarded"]


def cookies(environ, start_response):
    start_response("200 OK", [("Set-Cookie", "a=1; Path=/"), ("Set-Cookie", "b=2"),
                              ("Content-Length", "2")])
    return [b"ok"]


def slow(environ, start_response):
    """Answers after `ms` milliseconds (read-timeout test)."""
    time.sleep(_int(environ, "ms", 3000) / 1000.0)
    return _json(start_response, {"slept": True})


ROUTES = {"/env": env, "/upload": upload, "/stream": stream, "/large": large,
          "/crash": crash, "/cookies": cookies, "/slow": slow}


def application(environ, start_response):
    path = environ.get("PATH_INFO", "")
    if path.startswith("/status/"):
        return status(environ, start_response)
    handler = ROUTES.get(path, env)
    return handler(environ, start_response)
