#!/usr/bin/env python3
"""tests/mocks/webhook_client.py - signs and sends webhooks the way WooCommerce and Intuit do,
with the signature computed here (hmac/hashlib/base64), independently of the engine.

  webhook_client.py sign SECRET < BODY            print base64(HMAC-SHA256(SECRET, BODY))
  webhook_client.py burst URL WOO_SECRET QBO_SECRET COUNT OUT [--forged-every K]
                    [--concurrency C] [--tag TAG] [--woo-source URL]
      send COUNT deliveries (WooCommerce orders and QuickBooks CloudEvents, every K-th one
      forged: signed with a wrong secret) over C keep-alive connections; write one JSON line
      per delivery to OUT as soon as its answer arrives: {"id", "source", "forged", "status",
      "ms"} (status 0 = the connection failed, e.g. the engine was killed). A thread whose
      connection fails stops. Prints a summary line (JSON) at the end.
Must not: reuse the engine's code or secrets handling; it is the independent side of the check.
"""
import base64
import datetime
import hashlib
import hmac
import http.client
import json
import sys
import threading
import time
import urllib.parse


def sign(secret, body):
    return base64.b64encode(hmac.new(secret, body, hashlib.sha256).digest()).decode()


def woo_delivery(i, tag, secret, source):
    delivery = f"{tag}-woo-{i}"
    body = json.dumps({"id": 1000 + i, "status": "processing", "total": "12.50",
                       "date_modified_gmt": "2026-01-15T09:30:00"},
                      separators=(",", ":")).encode()
    headers = {
        "Content-Type": "application/json",
        "User-Agent": "WooCommerce/9.0 Hookshot (WordPress/6.5)",
        "X-WC-Webhook-Source": source,
        "X-WC-Webhook-Topic": "order.updated",
        "X-WC-Webhook-Resource": "order",
        "X-WC-Webhook-Event": "updated",
        "X-WC-Webhook-ID": "142",
        "X-WC-Webhook-Delivery-ID": delivery,
        "X-WC-Webhook-Signature": sign(secret, body),
    }
    return delivery, "/api/webhooks/woocommerce", headers, body


def qbo_delivery(i, tag, secret):
    event = f"{tag}-qbo-{i}"
    now = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    body = json.dumps([{"specversion": "1.0", "id": event, "source": "intuit.bench",
                        "type": "qbo.invoice.updated.v1", "datacontenttype": "application/json",
                        "time": now, "intuitentityid": str(500 + i),
                        "intuitaccountid": "4620816365020074550", "data": {}}],
                      separators=(",", ":")).encode()
    headers = {"Content-Type": "application/cloudevents+json",
               "intuit-signature": sign(secret, body)}
    return event, "/api/webhooks/quickbooks", headers, body


def burst(argv):
    url, woo_secret, qbo_secret, count, out = argv[:5]
    opts = {"--forged-every": "10", "--concurrency": "16", "--tag": "burst",
            "--woo-source": "https://burst.example.com/"}
    rest = argv[5:]
    for k in range(0, len(rest), 2):
        opts[rest[k]] = rest[k + 1]
    count = int(count)
    forged_every = int(opts["--forged-every"])
    conc = int(opts["--concurrency"])
    tag = opts["--tag"]
    u = urllib.parse.urlparse(url)
    lock = threading.Lock()
    next_i = [0]
    totals = {"sent": 0, "by_status": {}}
    f = open(out, "a", buffering=1)

    def work():
        conn = http.client.HTTPConnection(u.hostname, u.port, timeout=30)
        while True:
            with lock:
                i = next_i[0]
                if i >= count:
                    break
                next_i[0] += 1
            forged = forged_every > 0 and i % forged_every == forged_every - 1
            qbo = i % 4 == 3
            if qbo:
                secret = (b"forged-" if forged else b"") + qbo_secret.encode()
                eid, path, headers, body = qbo_delivery(i, tag, secret)
            else:
                secret = (b"forged-" if forged else b"") + woo_secret.encode()
                eid, path, headers, body = woo_delivery(i, tag, secret, opts["--woo-source"])
            t0 = time.monotonic()
            try:
                conn.request("POST", path, body=body, headers=headers)
                resp = conn.getresponse()
                resp.read()
                status = resp.status
            except (OSError, http.client.HTTPException):
                status = 0
            ms = (time.monotonic() - t0) * 1000
            line = json.dumps({"id": eid, "source": "quickbooks" if qbo else "woocommerce",
                               "forged": forged, "status": status, "ms": round(ms, 3)})
            with lock:
                f.write(line + "\n")
                totals["sent"] += 1
                totals["by_status"][status] = totals["by_status"].get(status, 0) + 1
            if status == 0:
                break
        conn.close()

    threads = [threading.Thread(target=work) for _ in range(conc)]
    start = time.monotonic()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    f.close()
    totals["seconds"] = round(time.monotonic() - start, 3)
    print(json.dumps(totals))


def main():
    if len(sys.argv) >= 3 and sys.argv[1] == "sign":
        print(sign(sys.argv[2].encode(), sys.stdin.buffer.read()))
    elif len(sys.argv) >= 7 and sys.argv[1] == "burst":
        burst(sys.argv[2:])
    else:
        sys.stderr.write(__doc__)
        sys.exit(2)


if __name__ == "__main__":
    main()
