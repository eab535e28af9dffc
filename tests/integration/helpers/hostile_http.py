#!/usr/bin/env python3
"""hostile_http.py -- clients and an upstream for the hostile-client tests
(t_proxy_hostile.sh, t_links_hostile.sh).  Loopback only; every loop is
bounded in count and time.

  upstream PORTFILE RAWFILE   serve HTTP/1.1 on 127.0.0.1 (port into PORTFILE),
                              append every byte received to RAWFILE, answer
                              each request head "200 ok" (keep-alive)
  send PORT HEX               send one raw request (hex), print the status
                              line of the answer (or "closed")
  lockout PORT N HEADTIMEOUT  N clients send half a head and hold on; then a
                              normal client must be answered 200 within
                              HEADTIMEOUT + 3 s; prints JSON: its status line,
                              the seconds it took, what the half heads got
  idle PORT WAIT              a keep-alive request, then silence: prints
                              "closed" if the server closed it within WAIT s
  hold PORT N SECONDS [HEX]   open N connections (as many as connect), send
                              each HEX (default: half a request head), hold
                              them SECONDS; prints how many connected and
                              when (epoch s)
  hello PORT WAIT             `links --serve`: send 'H', print the node id
                              line answered within WAIT s (or "no answer"),
                              the seconds it took and when (epoch s)
  noread PORT SECONDS         ask for /big and read none of it for SECONDS
  flood PORT PID N SECONDS [HEX]
                              open N connections (each connect finished, as
                              many as connect), send each HEX (default: half
                              a request head), then print the CPU seconds
                              (utime+stime) the
                              server PID used over SECONDS while they are held
"""
import json, os, socket, sys, threading, time


def upstream(portfile, rawfile):
    lock = threading.Lock()
    srv = socket.socket()
    srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    srv.bind(("127.0.0.1", 0))
    srv.listen(64)
    with open(portfile + ".tmp", "w") as f:
        f.write(str(srv.getsockname()[1]))
    os.rename(portfile + ".tmp", portfile)

    def serve(c):
        buf = b""
        c.settimeout(30)
        try:
            while True:
                d = c.recv(65536)
                if not d:
                    return
                with lock, open(rawfile, "ab") as f:
                    f.write(d)
                buf += d
                while b"\r\n\r\n" in buf:
                    head, buf = buf.split(b"\r\n\r\n", 1)
                    n = 0
                    for line in head.split(b"\r\n")[1:]:
                        k, _, v = line.partition(b":")
                        if k.strip().lower() == b"content-length":
                            n = int(v.strip() or 0)
                    buf = buf[n:]
                    if head.startswith(b"GET /big "):   # 32 MiB: more than the sockets hold
                        big = 32 << 20
                        c.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n" % big)
                        chunk = b"x" * 65536
                        for _ in range(big // len(chunk)):
                            c.sendall(chunk)
                        continue
                    c.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
        except OSError:
            pass
        finally:
            c.close()

    while True:
        c, _ = srv.accept()
        threading.Thread(target=serve, args=(c,), daemon=True).start()


def status_of(s, timeout):
    s.settimeout(timeout)
    data = b""
    try:
        while b"\r\n" not in data:
            d = s.recv(4096)
            if not d:
                break
            data += d
    except OSError:
        pass
    return data.split(b"\r\n")[0].decode("latin-1") if data else "closed"


def send(port, hexreq):
    s = socket.create_connection(("127.0.0.1", port), timeout=5)
    s.sendall(bytes.fromhex(hexreq))
    print(status_of(s, 5))


def lockout(port, n, head_timeout):
    held = []
    for _ in range(n):
        s = socket.create_connection(("127.0.0.1", port), timeout=5)
        s.sendall(b"GET /half HTTP/1.1\r\nHost: x\r\n")
        held.append(s)
    time.sleep(0.3)
    t0 = time.monotonic()
    s = socket.create_connection(("127.0.0.1", port), timeout=5)
    s.sendall(b"GET /normal HTTP/1.1\r\nHost: x\r\n\r\n")
    st = status_of(s, head_timeout + 3)
    took = time.monotonic() - t0
    # the half heads were answered 408 (or closed)
    answers = [status_of(h, 1) for h in held]
    print(json.dumps({"status": st, "seconds": round(took, 2), "half": sorted(set(answers))}))


def idle(port, wait):
    s = socket.create_connection(("127.0.0.1", port), timeout=5)
    s.sendall(b"GET /idle HTTP/1.1\r\nHost: x\r\n\r\n")
    data = b""
    while not data.endswith(b"ok"):
        d = s.recv(4096)
        if not d:
            print("closed before the answer")
            return
        data += d
    s.settimeout(wait)
    t0 = time.monotonic()
    try:
        d = s.recv(4096)
        print("closed after %.2f s" % (time.monotonic() - t0) if not d else "data")
    except socket.timeout:
        print("still open after %g s" % wait)
    except ConnectionResetError:
        print("closed after %.2f s" % (time.monotonic() - t0))


def connect_all(port, n, payload):
    """N connections, one after the other: each connect has finished (or
    failed, or timed out after 1 s) before this returns."""
    held = []
    for _ in range(n):
        try:
            s = socket.create_connection(("127.0.0.1", port), timeout=1)
            if payload:
                s.sendall(payload)
            held.append(s)
        except OSError:
            pass
    return held


def hold(port, n, seconds, payload=b"GET /held HTTP/1.1\r\n"):
    held = connect_all(port, n, payload)
    print(len(held), time.time(), flush=True)
    time.sleep(seconds)


def flood(port, pid, n, seconds, payload=b"GET /held HTTP/1.1\r\n"):
    held = connect_all(port, n, payload)
    a = cpu(pid)
    time.sleep(seconds)
    print("%.2f" % (cpu(pid) - a), flush=True)
    for s in held:
        s.close()


def hello(port, wait):
    t0 = time.monotonic()
    s = socket.create_connection(("127.0.0.1", port), timeout=wait)
    s.sendall(b"H")
    data = b""
    try:
        while not data.endswith(b"\n"):
            d = s.recv(256)
            if not d:
                break
            data += d
    except OSError:
        pass
    line = data.decode("latin-1").strip() or "no answer"
    print(json.dumps({"line": line, "seconds": round(time.monotonic() - t0, 2), "at": time.time()}))


def noread(port, seconds):
    s = socket.socket()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    s.connect(("127.0.0.1", port))
    s.sendall(b"GET /big HTTP/1.1\r\nHost: x\r\n\r\n")
    time.sleep(seconds)
    s.close()


def cpu(pid):
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


if __name__ == "__main__":
    cmd, args = sys.argv[1], sys.argv[2:]
    if cmd == "upstream":
        upstream(args[0], args[1])
    elif cmd == "send":
        send(int(args[0]), args[1])
    elif cmd == "lockout":
        lockout(int(args[0]), int(args[1]), float(args[2]))
    elif cmd == "idle":
        idle(int(args[0]), float(args[1]))
    elif cmd == "hold":
        hold(int(args[0]), int(args[1]), float(args[2]),
             *([bytes.fromhex(args[3])] if len(args) > 3 else []))
    elif cmd == "hello":
        hello(int(args[0]), float(args[1]))
    elif cmd == "noread":
        noread(int(args[0]), float(args[1]))
    elif cmd == "flood":
        flood(int(args[0]), int(args[1]), int(args[2]), float(args[3]),
              *([bytes.fromhex(args[4])] if len(args) > 4 else []))
    else:
        sys.exit("unknown command " + cmd)
