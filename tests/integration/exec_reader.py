#!/usr/bin/python3
"""exec_reader.py - the attack a connection must not survive: a process opens
a FetchX509SVID stream, forks a reader that shares the socket, then execs
another binary (one with an identity of its own). The reader must never see
the new image's identity on that connection; the stream must end.

HTTP/2 by python3-h2 (a real implementation kwid did not write), gRPC
framing by hand, messages decoded with stubs generated from our .proto.

  exec_reader.py SOCKET STUBS RESULT_FILE NEW_BINARY [ARGS...]
  exec_reader.py SOCKET STUBS RESULT_FILE --exit   (the bound process exits instead)
The reader writes JSON lines to RESULT_FILE: {"spiffe_ids": [...]} per
message after the fork, then {"status": <grpc-status>} or {"closed": true}.
"""
import json
import os
import socket
import struct
import sys
import time

import h2.config
import h2.connection
import h2.events


def main():
    path, stubs, result, newbin = sys.argv[1:5]
    sys.path.insert(0, stubs)
    import workload_pb2 as wl

    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.connect(path)
    conn = h2.connection.H2Connection(config=h2.config.H2Configuration(client_side=True, header_encoding="utf-8"))
    conn.initiate_connection()
    conn.send_headers(1, [(":method", "POST"), (":scheme", "http"), (":path", "/SpiffeWorkloadAPI/FetchX509SVID"),
                          (":authority", "localhost"), ("content-type", "application/grpc"), ("te", "trailers"),
                          ("workload.spiffe.io", "true")])
    conn.send_data(1, b"\x00\x00\x00\x00\x00", end_stream=True)
    sock.sendall(conn.data_to_send())

    buf = b""

    def pump(timeout):
        """Read frames; return (messages, grpc-status or None, closed)."""
        nonlocal buf
        msgs, status, closed = [], None, False
        sock.settimeout(timeout)
        try:
            data = sock.recv(65536)
        except socket.timeout:
            return msgs, status, closed
        if not data:
            return msgs, status, True
        for ev in conn.receive_data(data):
            if isinstance(ev, h2.events.DataReceived):
                conn.acknowledge_received_data(ev.flow_controlled_length, ev.stream_id)
                buf += ev.data
                while len(buf) >= 5 and len(buf) >= 5 + struct.unpack(">I", buf[1:5])[0]:
                    n = struct.unpack(">I", buf[1:5])[0]
                    m = wl.X509SVIDResponse.FromString(buf[5:5 + n])
                    buf = buf[5 + n:]
                    msgs.append([s.spiffe_id for s in m.svids])
            elif isinstance(ev, (h2.events.TrailersReceived, h2.events.ResponseReceived)):
                for k, v in ev.headers:
                    if k == "grpc-status":
                        status = int(v)
            elif isinstance(ev, h2.events.ConnectionTerminated):
                closed = True
        out = conn.data_to_send()
        if out:
            try:
                sock.sendall(out)
            except OSError:
                closed = True
        return msgs, status, closed

    first = []
    deadline = time.monotonic() + 10
    while not first and time.monotonic() < deadline:
        msgs, status, closed = pump(0.5)
        first += msgs
        if status is not None or closed:
            print(json.dumps({"first_status": status, "closed": closed}))
            return 1
    print(json.dumps({"first": first[0] if first else None}), flush=True)

    pid = os.fork()
    if pid == 0:
        # The reader: same connection, a different process.
        with open(result, "w") as out:
            deadline = time.monotonic() + 15
            while time.monotonic() < deadline:
                msgs, status, closed = pump(0.5)
                for m in msgs:
                    out.write(json.dumps({"spiffe_ids": m}) + "\n")
                    out.flush()
                if status is not None:
                    out.write(json.dumps({"status": status}) + "\n")
                    out.flush()
                    break
                if closed:
                    out.write(json.dumps({"closed": True}) + "\n")
                    break
        os._exit(0)
    # The process the connection is bound to becomes another binary.
    time.sleep(0.3)
    if newbin == "--exit":
        os._exit(0)
    os.execv(newbin, [newbin] + sys.argv[5:])


if __name__ == "__main__":
    sys.exit(main())
