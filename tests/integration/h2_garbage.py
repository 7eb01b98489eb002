#!/usr/bin/python3
"""h2_garbage.py - a misbehaving Workload API client for the integration
tests: it speaks broken HTTP/2 or broken gRPC framing on a raw Unix socket
and reports whether the server closed the connection.

  h2_garbage.py SOCKET KIND [--wait S]
  KIND: random | bad-preface | huge-frame | bad-hpack | truncated-frame |
        grpc-huge-prefix | grpc-truncated | grpc-compressed | idle | hello
Prints "closed" when the server closed the connection within --wait
seconds (default 5), "open" otherwise; exit status 0 either way.
"hello" is a well-behaved start (preface + SETTINGS): it prints
"answered" as soon as the server sends its own SETTINGS.
"""
import os
import socket
import struct
import sys
import time

PREFACE = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"


def frame(ftype, flags, stream, payload):
    return struct.pack(">I", len(payload))[1:] + bytes([ftype, flags]) + struct.pack(">I", stream) + payload


def hpack_literal(name, value):
    """Literal header field without indexing, new name, no Huffman."""
    assert len(name) < 127 and len(value) < 127
    return b"\x00" + bytes([len(name)]) + name + bytes([len(value)]) + value


def request_headers(path=b"/SpiffeWorkloadAPI/FetchJWTSVID"):
    block = b"".join(hpack_literal(n, v) for n, v in [
        (b":method", b"POST"), (b":scheme", b"http"), (b":path", path), (b":authority", b"localhost"),
        (b"content-type", b"application/grpc"), (b"te", b"trailers"), (b"workload.spiffe.io", b"true")])
    return frame(0x1, 0x4, 1, block)  # HEADERS, END_HEADERS


def payload_for(kind):
    settings = frame(0x4, 0, 0, b"")
    if kind == "random":
        return os.urandom(4096)
    if kind == "bad-preface":
        return b"GET / HTTP/1.1\r\nHost: x\r\n\r\n"
    if kind == "huge-frame":
        # A DATA frame announcing 16 MiB - 1 bytes, far above SETTINGS_MAX_FRAME_SIZE.
        return PREFACE + settings + b"\xff\xff\xff" + bytes([0x0, 0x0]) + struct.pack(">I", 1) + b"x" * 64
    if kind == "bad-hpack":
        return PREFACE + settings + frame(0x1, 0x5, 1, b"\xff\xff\xff\xff\xff\xff")
    if kind == "truncated-frame":
        # A SETTINGS frame header promising 96 bytes, then 12 of them, then silence.
        return PREFACE + settings + struct.pack(">I", 96)[1:] + bytes([0x4, 0x0]) + struct.pack(">I", 0) + b"\x00" * 12
    if kind == "grpc-huge-prefix":
        return PREFACE + settings + request_headers() + frame(0x0, 0x1, 1, b"\x00\xff\xff\xff\xff")
    if kind == "grpc-truncated":
        return PREFACE + settings + request_headers() + frame(0x0, 0x1, 1, b"\x00\x00\x00\x00\x10abc")
    if kind == "grpc-compressed":
        return PREFACE + settings + request_headers() + frame(0x0, 0x1, 1, b"\x07\x00\x00\x00\x00")
    if kind == "idle":
        return b""
    if kind == "hello":
        return PREFACE + settings
    raise SystemExit("unknown kind " + kind)


def main():
    if len(sys.argv) < 3:
        raise SystemExit(__doc__)
    path, kind = sys.argv[1], sys.argv[2]
    wait = float(sys.argv[4]) if len(sys.argv) > 4 and sys.argv[3] == "--wait" else 5.0
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.connect(path)
    try:
        s.sendall(payload_for(kind))
    except OSError:
        print("closed")
        return 0
    deadline = time.monotonic() + wait
    s.settimeout(0.1)
    while time.monotonic() < deadline:
        try:
            data = s.recv(65536)
        except socket.timeout:
            continue
        except OSError:
            print("closed")
            return 0
        if not data:
            print("closed")
            return 0
        if kind == "hello":
            print("answered")
            return 0
    print("open")
    return 0


if __name__ == "__main__":
    sys.exit(main())
