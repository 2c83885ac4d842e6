#!/usr/bin/env python3
"""tests/fuzz/seed_corpus.py - write the seed inputs of every fuzz target into
tests/fuzz/corpus/<target>/ from tests/fixtures (and a few hand-written edge cases).

The corpus is kept in the repository (the fuzz tier starts from it; the plain build replays it
as ctest fuzz.<target>). Run this again after adding fixtures; it only adds or rewrites the
seed_* files, never the inputs a fuzzer found (crash-*, kept-* files).
"""
import glob
import json
import os

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
FIX = os.path.join(ROOT, "tests", "fixtures")
OUT = os.path.join(ROOT, "tests", "fuzz", "corpus")


def put(target, name, data):
    d = os.path.join(OUT, target)
    os.makedirs(d, exist_ok=True)
    if isinstance(data, str):
        data = data.encode()
    with open(os.path.join(d, "seed_" + name), "wb") as f:
        f.write(data)


def fixtures():
    for p in sorted(glob.glob(os.path.join(FIX, "*", "*.json"))):
        rel = os.path.relpath(p, FIX).replace(os.sep, "_")
        with open(p, "rb") as f:
            yield rel, f.read()


HOSTILE_JSON = {
    "deep_array": "[" * 300 + "]" * 300,
    "deep_object": '{"a":' * 70 + "1" + "}" * 70,
    "nul_escape": '{"a":"\\u0000"}',
    "lone_surrogate": '["\\ud800"]',
    "pair_surrogate": '["\\ud83d\\ude00"]',
    "overlong_utf8": b'["\xc0\xaf"]',
    "numbers": '[0,-0,1e400,-1e-400,9223372036854775807,9223372036854775808,'
               '-9223372036854775809,0.1,1.7976931348623157e308,5e-324,1E+2,123456789012345678901234567890]',
    "trailing_comma": "[1,2,]",
    "leading_zero": "[01]",
    "two_values": "{} {}",
    "empty": "",
    "ws_only": " \t\r\n",
    "dup_keys": '{"a":1,"a":2}',
    "escapes": '["\\"\\\\\\/\\b\\f\\n\\r\\t\\u00e9\\u20ac"]',
    "big_string": '"' + "x" * 5000 + '"',
}


def main():
    for rel, data in fixtures():
        put("json_read", rel, data)
        put("json_codec", rel, data)
    for name, data in HOSTILE_JSON.items():
        put("json_read", name, data)
        put("json_codec", name, data)

    # money: byte 0 decimals, byte 1 rounding mode (0 exact, 1 half up, 2 half even), then text
    amounts = ["29.35", "0.125", "-0.001", "10.799999999999999", "9223372036854775807",
               "-92233720368547758.08", " +.5 ", "1e5", "0x10", "1,000.00", "", "-", ".",
               "00000000000000000000000000000000000001.5", "1.000000000000000000000000000001"]
    for i, a in enumerate(amounts):
        for dec, mode in ((2, 0), (2, 1), (0, 2), (3, 1), (18, 0), (19, 0)):
            put("money", "%02d_%d_%d" % (i, dec, mode), bytes([dec, mode]) + a.encode())
    put("money", "currency", bytes([2, 0x31]) + b"JPY")

    # webhook: byte 0 picks the parser (0 QuickBooks, 1 WooCommerce, 2 signatures)
    for name in ("webhook-classic.json", "webhook-classic-2025.json", "webhook-cloudevents.json"):
        with open(os.path.join(FIX, "quickbooks", name), "rb") as f:
            put("webhook", "qbo_" + name, b"\x00" + f.read())
    for v in json.load(open(os.path.join(FIX, "quickbooks", "webhook-signature-vectors.json")))["vectors"]:
        if "body" in v:
            put("webhook", "qbo_vector_" + v["name"], b"\x00" + v["body"].encode())
            put("webhook", "sig_qbo_" + v["name"],
                ("\x02%s\n%s\n%s" % (v.get("signature", v.get("intuit_signature", "")),
                                     v["verifier_token"], v["body"])).encode())
    with open(os.path.join(FIX, "woocommerce", "webhook-order-updated.derived.body.json"), "rb") as f:
        order = f.read()
    for topic in ("order.updated", "order.created", "customer.updated", "product.deleted",
                  "coupon.created", "action.woocommerce_x"):
        res, ev = topic.split(".", 1)
        head = "https://Shop.Example.com/\n%s\n%s\n%s\n7d1f3c0e-delivery\n142\n" % (topic, res, ev)
        put("webhook", "woo_" + topic, b"\x01" + head.encode() + order)
    put("webhook", "woo_no_headers", b"\x01\n\n\n\n\n\n" + order)
    put("webhook", "woo_deleted", b"\x01https://shop.example.com\norder.deleted\norder\ndeleted\n9\n1\n{\"id\":727}")
    for v in json.load(open(os.path.join(FIX, "woocommerce", "webhook-signature-vectors.json")))["vectors"]:
        body = v.get("body")
        if body is None:
            with open(os.path.join(FIX, "woocommerce", v["body_file"]), "rb") as f:
                body = f.read().decode()
        put("webhook", "sig_woo_" + v["name"],
            ("\x02%s\n%s\n%s" % (v["x_wc_webhook_signature"], v.get("secret", ""), body)).encode())
    put("webhook", "sig_ping", b"\x02\nsecret&amp;&#039;&#x27;&lt;\nwebhook_id=142")
    put("webhook", "sig_url", b"\x02HTTPS://Shop.EXAMPLE.com:8443/wp/?q=1#f\n\n2026-01-15T09:30:00.123456+05:30")

    # dotenv: .env files
    put("dotenv", "start_sh", "INTEGRATION_ENCRYPTION_KEY=abc123\nAPI_TOKEN=tok\n")
    put("dotenv", "quoting", "# comment\nexport API_PORT=8923\nAPI_HOST='127.0.0.1'\n"
        "LOG_LEVEL=\"debug\" \nDATABASE_URL=sqlite:x.db # inline\nAPI_PROT=1\n\n  \n")
    put("dotenv", "bad_name", "A-B=1\n")
    put("dotenv", "no_equals", "JUSTTEXT\n")
    put("dotenv", "long_line", "X=" + "y" * 9000 + "\nZ=1\n")
    put("dotenv", "url", "https://example.com:443/hooks/\nWEBHOOK_PUBLIC_URL=https://e.example/x\n")
    put("dotenv", "nul", b"A=\x00b\nB\x00=c\n")


if __name__ == "__main__":
    main()
