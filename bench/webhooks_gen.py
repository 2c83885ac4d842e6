#!/usr/bin/env python3
"""bench/webhooks_gen.py - pre-signed webhook deliveries for bench/webhooks.lua (wrk).

  webhooks_gen.py OUT N WOO_SECRET QBO_SECRET FORGED_EVERY TAG

Writes N lines: kind TAB id TAB forged(0/1) TAB signature TAB body, where kind is woo or qbo.
Signatures are computed here with Python's hmac (independent of the engine); every
FORGED_EVERY-th delivery is signed with a wrong secret. 3 of 4 are WooCommerce order updates,
1 of 4 a QuickBooks CloudEvents array with one event (fresh time, so not stale).
"""
import base64
import datetime
import hashlib
import hmac
import json
import sys


def sign(secret, body):
    return base64.b64encode(hmac.new(secret, body, hashlib.sha256).digest()).decode()


def main():
    out, n, woo, qbo, every, tag = sys.argv[1:7]
    n, every = int(n), int(every)
    now = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    with open(out, "w") as f:
        for i in range(n):
            forged = every > 0 and i % every == every - 1
            if i % 4 == 3:
                eid = f"{tag}-qbo-{i}"
                body = json.dumps([{"specversion": "1.0", "id": eid, "source": "intuit.bench",
                                    "type": "qbo.invoice.updated.v1",
                                    "datacontenttype": "application/json", "time": now,
                                    "intuitentityid": str(i), "intuitaccountid": "4620816365020074550",
                                    "data": {}}], separators=(",", ":")).encode()
                secret, kind = qbo, "qbo"
            else:
                eid = f"{tag}-woo-{i}"
                order = {"id": 100000 + i, "status": "processing", "currency": "USD",
                         "total": "29.35", "date_modified_gmt": "2026-11-27T09:00:00",
                         "billing": {"first_name": "John", "email": "john.doe@example.com"},
                         "line_items": [{"id": 315, "name": "Woo Single #1", "product_id": 93,
                                         "quantity": 2, "total": "6.00", "sku": ""}]}
                body = json.dumps(order, separators=(",", ":")).encode()
                secret, kind = woo, "woo"
            key = (b"forged-" if forged else b"") + secret.encode()
            f.write(f"{kind}\t{eid}\t{int(forged)}\t{sign(key, body)}\t{body.decode()}\n")


if __name__ == "__main__":
    main()
