#!/usr/bin/env python3
"""Small HTTP clients for tests/bench/isolation.sh (python3 standard library only).

  iso_client.py probe --port P --path PATH [--token T] [--count N] [--interval S]
      N sequential requests (GET) on one keep-alive connection, one every S
      seconds; prints
      PROBE n=.. statuses=200:10 p50_ms=.. p99_ms=.. max_ms=.. rps=..

  iso_client.py burst --port P --token T --clients C [--base B] [--timeout S]
      C clients, each on its own connection, released at once (a barrier),
      each sends one DELETE /api/v1/phone-numbers/%2B1555NNNNNNN/release/
      (distinct numbers from B); prints
      BURST clients=.. statuses=200:32,503:32 retry_after_503=.. first_503_ms=..
            p50_503_ms=.. max_503_ms=.. p50_200_ms=.. errors=..
      (times are from the moment every client has connected and all are let go).
"""
import argparse
import http.client
import statistics
import sys
import threading
import time


def pct(values, p):
    if not values:
        return float("nan")
    values = sorted(values)
    k = min(len(values) - 1, max(0, int(round(p / 100.0 * len(values) + 0.5)) - 1))
    return values[k]


def fmt_statuses(counts):
    return ",".join(f"{k}:{counts[k]}" for k in sorted(counts)) or "-"


def probe(args):
    headers = {}
    if args.token:
        headers["Authorization"] = "Bearer " + args.token
    conn = http.client.HTTPConnection("127.0.0.1", args.port, timeout=args.timeout)
    lat = []
    counts = {}
    start = time.monotonic()
    for _ in range(args.count):
        t0 = time.monotonic()
        try:
            conn.request("GET", args.path, headers=headers)
            resp = conn.getresponse()
            resp.read()
            status = str(resp.status)
        except (OSError, http.client.HTTPException) as e:
            status = "error:" + type(e).__name__
            conn.close()
            conn = http.client.HTTPConnection("127.0.0.1", args.port, timeout=args.timeout)
        lat.append((time.monotonic() - t0) * 1000.0)
        counts[status] = counts.get(status, 0) + 1
        if args.interval > 0:
            time.sleep(args.interval)
    elapsed = time.monotonic() - start
    print(f"PROBE n={len(lat)} statuses={fmt_statuses(counts)} "
          f"p50_ms={statistics.median(lat):.3f} p99_ms={pct(lat, 99):.3f} "
          f"max_ms={max(lat):.3f} rps={len(lat) / elapsed:.1f}")


def burst(args):
    ready = threading.Barrier(args.clients + 1)
    go = threading.Event()
    results = [None] * args.clients
    t_start = [0.0]

    def client(i):
        conn = http.client.HTTPConnection("127.0.0.1", args.port, timeout=args.timeout)
        try:
            conn.connect()
        except OSError as e:
            ready.wait()
            results[i] = ("error:" + type(e).__name__, None, 0.0)
            return
        path = "/api/v1/phone-numbers/%%2B1555%07d/release/" % ((args.base + i) % 10000000)
        ready.wait()
        go.wait()
        try:
            conn.request("DELETE", path, headers={"Authorization": "Bearer " + args.token})
            resp = conn.getresponse()
            resp.read()
            results[i] = (str(resp.status), resp.getheader("Retry-After"),
                          (time.monotonic() - t_start[0]) * 1000.0)
        except (OSError, http.client.HTTPException) as e:
            results[i] = ("error:" + type(e).__name__, None,
                          (time.monotonic() - t_start[0]) * 1000.0)
        finally:
            conn.close()

    threads = [threading.Thread(target=client, args=(i,)) for i in range(args.clients)]
    for t in threads:
        t.start()
    ready.wait()  # every client has connected
    t_start[0] = time.monotonic()
    go.set()
    for t in threads:
        t.join()
    counts = {}
    for status, _, _ in results:
        counts[status] = counts.get(status, 0) + 1
    t503 = [ms for status, _, ms in results if status == "503"]
    t200 = [ms for status, _, ms in results if status == "200"]
    retry = sum(1 for status, ra, _ in results if status == "503" and ra)
    errors = sum(1 for status, _, _ in results if status.startswith("error"))
    first = f"{min(t503):.1f}" if t503 else "n/a"
    p50_503 = f"{statistics.median(t503):.1f}" if t503 else "n/a"
    max_503 = f"{max(t503):.1f}" if t503 else "n/a"
    p50_200 = f"{statistics.median(t200):.1f}" if t200 else "n/a"
    print(f"BURST clients={args.clients} statuses={fmt_statuses(counts)} "
          f"retry_after_503={retry} first_503_ms={first} p50_503_ms={p50_503} "
          f"max_503_ms={max_503} p50_200_ms={p50_200} errors={errors}")


def main():
    ap = argparse.ArgumentParser()
    sub = ap.add_subparsers(dest="cmd", required=True)
    p = sub.add_parser("probe")
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--path", required=True)
    p.add_argument("--token", default="")
    p.add_argument("--count", type=int, default=10)
    p.add_argument("--interval", type=float, default=0.05)
    p.add_argument("--timeout", type=float, default=10.0)
    b = sub.add_parser("burst")
    b.add_argument("--port", type=int, required=True)
    b.add_argument("--token", required=True)
    b.add_argument("--clients", type=int, default=64)
    b.add_argument("--base", type=int, default=9000000)
    b.add_argument("--timeout", type=float, default=30.0)
    args = ap.parse_args()
    if args.cmd == "probe":
        probe(args)
    else:
        burst(args)
    return 0


if __name__ == "__main__":
    sys.exit(main())
