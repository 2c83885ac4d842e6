#!/usr/bin/env python3
"""tests/mocks/slow_client.py - hostile HTTP clients on raw sockets, for the engine's server-side
limits (tests/integration/slow_clients.sh, header_edges.sh).

  slow_client.py raw PORT FILE [--wait S]
      send FILE's bytes as they are (NULs and all) to 127.0.0.1:PORT, print the answer's status
      code, or "none" when no answer came within S seconds (default 5) while the connection
      stayed open, or "closed" when it was closed without one.
  slow_client.py trickle PORT COUNT SECONDS [--every S]
      open COUNT connections that each send a request's headers one byte every S seconds
      (default 2), never finishing them; print "ready N" once they are open (N = connected),
      then after SECONDS print a JSON summary: opened, closed_by_server, still_open.
  slow_client.py hold PORT COUNT SECONDS HEADER...
      open COUNT connections that send a POST's whole headers (the given "Name: value" lines,
      Content-Length: 10) and no body; print "ready N" once the headers are sent, hold them
      SECONDS (or until stdin closes), then print how many the server closed meanwhile.
  slow_client.py deadline PORT headers|body SECONDS
      one connection trickling its headers (or, after whole headers with Content-Length:
      1000, its body) one byte every 0.5 s; print "closed" when the server closes it within
      SECONDS, "open" otherwise.
Must not: use http.client (it cannot send a NUL in a header or stop half-way).
"""
import json
import resource
import select
import socket
import sys
import time

HOST = "127.0.0.1"


def raise_fd_limit(n):
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    want = min(max(soft, n), hard)
    if want > soft:
        resource.setrlimit(resource.RLIMIT_NOFILE, (want, hard))


def closed_by_peer(s):
    """True when the server closed (or reset) s; never blocks."""
    try:
        p = select.poll()  # select() cannot watch descriptors past 1023
        p.register(s, select.POLLIN)
        if not p.poll(0):
            return False
        return s.recv(4096, socket.MSG_DONTWAIT) == b""
    except (BlockingIOError, InterruptedError):
        return False
    except OSError:
        return True


def cmd_raw(port, path, wait=5.0):
    data = open(path, "rb").read()
    s = socket.create_connection((HOST, port), timeout=wait)
    s.sendall(data)
    got = b""
    deadline = time.monotonic() + wait
    try:
        while b"\r\n" not in got and time.monotonic() < deadline:
            s.settimeout(max(0.01, deadline - time.monotonic()))
            d = s.recv(4096)
            if not d:
                print("closed" if not got else got.split(b" ")[1].decode())
                return
            got += d
    except socket.timeout:
        pass
    except OSError:
        print("closed")
        return
    print(got.split(b" ")[1].decode() if b"\r\n" in got else "none")


REQ = b"GET /health HTTP/1.1\r\nHost: engine\r\nUser-Agent: slow\r\nX-Pad: " + b"a" * 400


def cmd_trickle(port, count, seconds, every=2.0):
    raise_fd_limit(count + 64)
    socks = []
    for _ in range(count):
        try:
            s = socket.create_connection((HOST, port), timeout=5)
            s.setblocking(False)
            s.send(REQ[:1])
            socks.append([s, 1, False])
        except OSError:
            pass
    print("ready %d" % len(socks), flush=True)
    end = time.monotonic() + seconds
    closed = 0
    while time.monotonic() < end:
        for entry in socks:
            s, pos, gone = entry
            if gone:
                continue
            if closed_by_peer(s):
                entry[2] = True
                closed += 1
                continue
            try:
                s.send(REQ[pos:pos + 1])
                entry[1] = min(pos + 1, len(REQ) - 1)
            except (BlockingIOError, InterruptedError):
                pass
            except OSError:
                entry[2] = True
                closed += 1
        time.sleep(min(every, max(0.0, end - time.monotonic())))
    for entry in socks:
        if not entry[2] and closed_by_peer(entry[0]):
            entry[2] = True
            closed += 1
    print(json.dumps({"opened": len(socks), "closed_by_server": closed,
                      "still_open": len(socks) - closed}), flush=True)
    for entry in socks:
        entry[0].close()


def cmd_hold(port, count, seconds, headers):
    head = "POST /api/sync/orders HTTP/1.1\r\nHost: engine\r\nContent-Type: application/json\r\n"
    head += "".join(h + "\r\n" for h in headers) + "Content-Length: 10\r\n\r\n"
    socks = []
    for _ in range(count):
        s = socket.create_connection((HOST, port), timeout=5)
        s.sendall(head.encode())
        socks.append(s)
    print("ready %d" % len(socks), flush=True)
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        r, _, _ = select.select([sys.stdin], [], [], 0.2)
        if r and sys.stdin.read(1) == "":
            break
    closed = sum(1 for s in socks if closed_by_peer(s))
    print("closed %d" % closed, flush=True)
    for s in socks:
        s.close()


def cmd_deadline(port, mode, seconds):
    s = socket.create_connection((HOST, port), timeout=5)
    if mode == "headers":
        data = REQ + b"\r\n\r\n"
    else:
        s.sendall(b"POST /api/sync/orders HTTP/1.1\r\nHost: engine\r\n"
                  b"Content-Type: application/json\r\nContent-Length: 1000\r\n\r\n")
        data = b"{" + b" " * 998 + b"}"
    s.setblocking(False)
    end = time.monotonic() + seconds
    pos = 0
    while time.monotonic() < end:
        if closed_by_peer(s):
            print("closed", flush=True)
            return
        try:
            s.send(data[pos:pos + 1])
            pos = min(pos + 1, len(data) - 2)  # never the last byte: the request never ends
        except (BlockingIOError, InterruptedError):
            pass
        except OSError:
            print("closed", flush=True)
            return
        time.sleep(0.5)
    print("open", flush=True)


def main(argv):
    cmd = argv[1]
    if cmd == "raw":
        wait = float(argv[5]) if len(argv) > 5 and argv[4] == "--wait" else 5.0
        cmd_raw(int(argv[2]), argv[3], wait)
    elif cmd == "trickle":
        every = float(argv[6]) if len(argv) > 6 and argv[5] == "--every" else 2.0
        cmd_trickle(int(argv[2]), int(argv[3]), float(argv[4]), every)
    elif cmd == "hold":
        cmd_hold(int(argv[2]), int(argv[3]), float(argv[4]), argv[5:])
    elif cmd == "deadline":
        cmd_deadline(int(argv[2]), argv[3], float(argv[4]))
    else:
        sys.exit("usage: see the docstring")


if __name__ == "__main__":
    main(sys.argv)
