"""WooCommerce's REST API authentication, as class-wc-rest-authentication.php does it, for the
mocks (woocommerce_mock.py, saas_mock.py). Python 3 stdlib only.

  - Basic (the Authorization header, or the consumer_key / consumer_secret query pair, which wins)
    is tried only when the server believes the request is HTTPS (WordPress' is_ssl()). An unknown
    key or an empty part is "no credentials" (the request stays unauthenticated, and the route's
    own check answers 401 woocommerce_rest_cannot_view); a known key with a wrong secret is 401
    "Consumer secret is invalid.".
  - Otherwise (or when Basic found nothing) OAuth 1.0a one-legged, from the query string and an
    "Authorization: OAuth ..." header: all of oauth_consumer_key, oauth_timestamp, oauth_nonce,
    oauth_signature, oauth_signature_method or none (some -> 401
    woocommerce_rest_authentication_missing_parameter); no oauth_version needed; the key must
    exist; HMAC-SHA1 or HMAC-SHA256 only; base string = METHOD & pct(home URL + path, with the
    scheme the server believes) & pct(params sorted by raw key with strcmp, each key and value
    RFC 3986-encoded), key = consumer secret + "&"; then the timestamp within +-15 min and the
    nonce unused by this key within 15 min.
  - An authenticated key needs read permission for GET/HEAD and write for POST/PUT/PATCH/DELETE.
Every refusal carries WooCommerce's code and message. Secrets are never logged or echoed.

Not modelled: form-encoded POST bodies (WordPress signs their fields too; the engine sends JSON,
which is not signed) and PHP's array parameters (key[]=...).
"""
import base64
import hashlib
import hmac
import re
import threading
import time
from urllib.parse import quote, unquote, unquote_plus

WINDOW_S = 15 * 60
OAUTH_PARAMS = ("oauth_consumer_key", "oauth_timestamp", "oauth_nonce", "oauth_signature",
                "oauth_signature_method")
PERMISSIONS = ("read", "write", "read_write")
AUTH_ERROR = "woocommerce_rest_authentication_error"

# What each route answers a request that no key authenticated (the controllers' permission checks).
CANNOT = {
    "list": ("woocommerce_rest_cannot_view", "Sorry, you cannot list resources."),
    "view": ("woocommerce_rest_cannot_view", "Sorry, you cannot view this resource."),
    "edit": ("woocommerce_rest_cannot_edit", "Sorry, you are not allowed to edit this resource."),
    "create": ("woocommerce_rest_cannot_create", "Sorry, you are not allowed to create resources."),
    "delete": ("woocommerce_rest_cannot_delete", "Sorry, you are not allowed to delete this resource."),
}


def pct(s):
    """rawurlencode (RFC 3986): everything but ALPHA DIGIT - . _ ~"""
    return quote(s, safe="-._~")


def empty(v):
    """PHP's empty() for a request value."""
    return v is None or v == "" or v == "0"


class Keys:
    """The store's REST API keys: consumer_key -> {secret, permissions, nonces {nonce: ts}}."""

    def __init__(self):
        self.lock = threading.Lock()
        self.keys = {}

    def add(self, key, secret, permissions="read_write"):
        if permissions not in PERMISSIONS:
            raise ValueError("permissions")
        with self.lock:
            self.keys[key] = {"secret": secret, "permissions": permissions, "nonces": {}}

    def get(self, key):
        with self.lock:
            return self.keys.get(key) if key else None

    def use_nonce(self, k, nonce, ts, now):
        """False when k used nonce within the window; otherwise remembers it."""
        with self.lock:
            used = k["nonces"]
            for n in [n for n, t in used.items() if t < now - WINDOW_S]:
                del used[n]
            if nonce in used:
                return False
            used[nonce] = ts
            return True


def parse_oauth_header(value):
    """The oauth_* pairs of an "Authorization: OAuth ..." header, as WooCommerce parses them."""
    if not value.startswith("OAuth "):
        return {}
    out = {}
    for name, _, quoted, bare in re.findall(r'(oauth_[a-z_-]*)=(:?"([^"]*)"|([^,]*))', value):
        out[name] = unquote_plus(quoted if quoted else bare)
    return out


def check_signature(k, method, base_url, params):
    """None or (code, message): params is the dict of every signed parameter."""
    consumer_sig = unquote(params["oauth_signature"].replace(" ", "+"))
    signed = sorted(((k_, v) for k_, v in params.items() if k_ != "oauth_signature"),
                    key=lambda kv: kv[0].encode())
    pstr = "%26".join(pct("%s=%s" % (pct(k_), pct(v))) for k_, v in signed)
    base = "%s&%s&%s" % (method.upper(), pct(base_url), pstr)
    sm = params["oauth_signature_method"]
    if sm not in ("HMAC-SHA1", "HMAC-SHA256"):
        return AUTH_ERROR, "Invalid signature - signature method is invalid."
    algo = hashlib.sha1 if sm == "HMAC-SHA1" else hashlib.sha256
    want = base64.b64encode(hmac.new((k["secret"] + "&").encode(), base.encode(), algo).digest()).decode()
    if not hmac.compare_digest(want.encode(), consumer_sig.encode()):
        return AUTH_ERROR, "Invalid signature - provided signature does not match."
    return None


def authenticate(keys, method, https, home_url, path, query, headers):
    """WooCommerce's decision for one request.
    query: list of (name, value) pairs (decoded); headers: a mapping with .get();
    home_url: the site's home URL with the scheme the server believes, no trailing '/';
    path: the request path below the home URL.
    -> (key or None, (status, code, message) or None, how): an error tuple means answer it;
    no key and no error means unauthenticated (the route answers CANNOT[...]); how is one of
    basic, query, oauth1, none (for the mocks' request logs)."""
    q = dict(query)  # PHP's $_GET: the last of repeated names wins
    error, how = None, "none"
    if https:
        ck = cs = None
        if not empty(q.get("consumer_key")) and not empty(q.get("consumer_secret")):
            ck, cs, how = q["consumer_key"], q["consumer_secret"], "query"
        auth = headers.get("Authorization") or ""
        if ck is None and auth.startswith("Basic "):
            how = "basic"
            try:
                user, _, pw = base64.b64decode(auth[6:], validate=True).decode().partition(":")
            except (ValueError, UnicodeDecodeError):
                user = pw = ""
            if not empty(user) and not empty(pw):
                ck, cs = user, pw
        k = keys.get(ck) if ck and cs else None
        if k is not None:
            if hmac.compare_digest(k["secret"].encode(), cs.encode()):
                return permitted(k, method, how)
            error = (401, AUTH_ERROR, "Consumer secret is invalid.")
    params = dict(q)
    params.update(parse_oauth_header((headers.get("Authorization") or "").strip()))
    present = [p for p in OAUTH_PARAMS if not empty(params.get(p))]
    if present:
        how = "oauth1"
        missing = [p for p in OAUTH_PARAMS if empty(params.get(p))]
        if missing:
            msg = ("Missing OAuth parameter %s" if len(missing) == 1 else "Missing OAuth parameters %s") \
                % ", ".join(missing)
            return None, error or (401, "woocommerce_rest_authentication_missing_parameter", msg), how
        k = keys.get(params["oauth_consumer_key"])
        if k is None:
            return None, error or (401, AUTH_ERROR, "Consumer key is invalid."), how
        bad = check_signature(k, method, home_url + path, params)
        if bad:
            return None, error or (401,) + bad, how
        now = time.time()
        try:
            ts = int(params["oauth_timestamp"])
        except ValueError:
            ts = None
        if ts is None or ts < now - WINDOW_S or ts > now + WINDOW_S:
            return None, error or (401, AUTH_ERROR, "Invalid timestamp."), how
        if not keys.use_nonce(k, params["oauth_nonce"], ts, now):
            return None, error or (401, AUTH_ERROR, "Invalid nonce - nonce has already been used."), how
        if error:  # a refused Basic secret stays the answer (WordPress keeps the first error)
            return None, error, how
        return permitted(k, method, how)
    return None, error, how


def permitted(k, method, how):
    m = method.upper()
    if m in ("GET", "HEAD") and k["permissions"] not in ("read", "read_write"):
        return None, (401, AUTH_ERROR, "The API key provided does not have read permissions."), how
    if m in ("POST", "PUT", "PATCH", "DELETE") and k["permissions"] not in ("write", "read_write"):
        return None, (401, AUTH_ERROR, "The API key provided does not have write permissions."), how
    if m not in ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"):
        return None, (401, AUTH_ERROR, "Unknown request method."), how
    return k, None, how


def basic_challenge_header():
    return {"WWW-Authenticate": 'Basic realm="WooCommerce API. Use a consumer key in the username '
            'field and a consumer secret in the password field."'}
