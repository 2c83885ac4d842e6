"""The WordPress REST API's validation of a WooCommerce collection's query parameters
(rest_validate_value_from_schema over the endpoints' documented args), for woocommerce_mock.py.
WordPress checks them before the route's own permission check, and answers every invalid one at
once: 400 {"code": "rest_invalid_param", "message": "Invalid parameter(s): a, b",
"data": {"status": 400, "params": {name: reason}, "details": {name: {code, message, data}}}}.
Undocumented parameters are ignored, as WordPress does. Python 3 stdlib only.
"""
import re

ORDER_STATUSES = ["any", "trash", "pending", "processing", "on-hold", "completed", "cancelled",
                  "refunded", "failed", "checkout-draft"]
PRODUCT_STATUSES = ["any", "future", "trash", "draft", "pending", "private", "publish"]
WEBHOOK_STATUSES = ["all", "active", "paused", "disabled"]

# the collection params every wc/v3 CRUD list shares (WC_REST_Controller::get_collection_params)
BASE = {
    "context": {"type": "string", "enum": ["view", "edit"]},
    "page": {"type": "integer", "minimum": 1},
    "per_page": {"type": "integer", "minimum": 1, "maximum": 100},
    "search": {"type": "string"},
    "after": {"type": "date-time"},
    "before": {"type": "date-time"},
    "modified_after": {"type": "date-time"},
    "modified_before": {"type": "date-time"},
    "dates_are_gmt": {"type": "boolean"},
    "exclude": {"type": "array", "items": {"type": "integer"}},
    "include": {"type": "array", "items": {"type": "integer"}},
    "offset": {"type": "integer"},
    "order": {"type": "string", "enum": ["asc", "desc"]},
    "orderby": {"type": "string", "enum": ["date", "id", "include", "title", "slug", "modified"]},
    "parent": {"type": "array", "items": {"type": "integer"}},
    "parent_exclude": {"type": "array", "items": {"type": "integer"}},
}

SCHEMAS = {
    "orders": dict(BASE, status={"type": "array", "items": {"type": "string", "enum": ORDER_STATUSES}},
                   customer={"type": "integer"}, product={"type": "integer"}, dp={"type": "integer"}),
    "products": dict(BASE, status={"type": "string", "enum": PRODUCT_STATUSES},
                     sku={"type": "string"}, type={"type": "string",
                                                   "enum": ["simple", "grouped", "external", "variable"]}),
    "customers": {k: BASE[k] for k in ("context", "page", "per_page", "search", "exclude",
                                       "include", "offset", "order")}
    | {"orderby": {"type": "string", "enum": ["id", "include", "name", "registered_date"]},
       "email": {"type": "string"}, "role": {"type": "string"}},
    "webhooks": {k: BASE[k] for k in ("context", "page", "per_page", "search", "after", "before",
                                      "exclude", "include", "offset", "order")}
    | {"orderby": {"type": "string", "enum": ["date", "id", "title"]},
       "status": {"type": "string", "enum": WEBHOOK_STATUSES}},
    # GET /orders/{id}/refunds (WC_REST_Order_Refunds_V2_Controller::get_collection_params)
    "refunds": {k: BASE[k] for k in ("context", "page", "per_page", "search", "after", "before",
                                     "exclude", "include", "offset", "order", "orderby", "parent",
                                     "parent_exclude")} | {"dp": {"type": "integer"}},
}

DATE_RE = re.compile(r"^\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}:\d{2}(?:\.\d+)?(?:Z|z|[+-]\d{2}(?::\d{2})?)?$")


def one_of(values):
    """wp_sprintf_l: 'a and b', 'a, b, and c'."""
    if len(values) == 2:
        return "%s and %s" % tuple(values)
    return ", ".join(values[:-1]) + ", and " + values[-1]


def check_scalar(name, value, spec):
    """None or (code, message) for one value against its schema."""
    t = spec["type"]
    if t == "integer":
        if not re.match(r"^-?\d+$", value):
            return "rest_invalid_type", "%s is not of type integer." % name
        n = int(value)
        lo, hi = spec.get("minimum"), spec.get("maximum")
        if lo is not None and hi is not None and not lo <= n <= hi:
            return "rest_out_of_bounds", "%s must be between %d (inclusive) and %d (inclusive)" % (name, lo, hi)
        if lo is not None and n < lo:
            return "rest_out_of_bounds", "%s must be greater than or equal to %d" % (name, lo)
        return None
    if t == "boolean":
        if value.lower() not in ("true", "false", "1", "0"):
            return "rest_invalid_type", "%s is not of type boolean." % name
        return None
    if t == "date-time":
        if not DATE_RE.match(value):
            return "rest_invalid_date", "Invalid date."
        return None
    if "enum" in spec and value not in spec["enum"]:
        return "rest_not_in_enum", "%s is not one of %s." % (name, one_of(spec["enum"]))
    return None


def validate(collection, query):
    """None, or the (status, body) of WordPress' 400 for the invalid parameters of query (a dict
    of decoded values) on a collection (orders, products, customers, webhooks, refunds)."""
    schema = SCHEMAS[collection]
    params, details = {}, {}
    for name, spec in schema.items():
        if name not in query:
            continue
        value = query[name]
        if spec["type"] == "array":  # WordPress reads a comma list as an array (wp_parse_list)
            items = [v for v in re.split(r"[\s,]+", value) if v != ""]
            bad = None
            for i, item in enumerate(items):
                bad = check_scalar("%s[%d]" % (name, i), item, spec["items"])
                if bad:
                    break
        else:
            bad = check_scalar(name, value, spec)
        if bad:
            params[name] = bad[1]
            details[name] = {"code": bad[0], "message": bad[1], "data": None}
    if not params:
        return None
    return 400, {"code": "rest_invalid_param",
                 "message": "Invalid parameter(s): %s" % ", ".join(params),
                 "data": {"status": 400, "params": params, "details": details}}


# What the engine writes, with the types WordPress checks in a JSON body (the item schema's
# args for the edit and create routes; other fields are not modelled and pass).
BODIES = {
    "products.edit": {"stock_quantity": {"type": "integer"}, "manage_stock": {"type": "boolean"}},
    "orders.edit": {"meta_data": {"type": "meta"}},
    "notes.create": {"note": {"type": "string"}, "customer_note": {"type": "boolean"}},
}


def body_value_error(name, v, spec):
    t = spec["type"]
    if t == "integer":
        ok = (isinstance(v, int) and not isinstance(v, bool)) or (isinstance(v, float) and v.is_integer()) \
            or (isinstance(v, str) and re.match(r"^-?\d+$", v) is not None)
        return None if ok else ("rest_invalid_type", "%s is not of type integer." % name)
    if t == "boolean":
        ok = isinstance(v, bool) or v in (0, 1, "0", "1", "true", "false")
        return None if ok else ("rest_invalid_type", "%s is not of type boolean." % name)
    if t == "string":
        return None if isinstance(v, str) else ("rest_invalid_type", "%s is not of type string." % name)
    if t == "meta":
        if not isinstance(v, list):
            return "rest_invalid_type", "%s is not of type array." % name
        for i, m in enumerate(v):
            if not isinstance(m, dict):
                return "rest_invalid_type", "%s[%d] is not of type object." % (name, i)
            if "key" in m and not isinstance(m["key"], str):
                return "rest_invalid_type", "%s[%d][key] is not of type string." % (name, i)
    return None


def validate_body(route, body):
    """None, or the (status, body) of WordPress' 400 for the JSON body of route (a BODIES key)."""
    params, details = {}, {}
    for name, spec in BODIES.get(route, {}).items():
        if name in body:
            bad = body_value_error(name, body[name], spec)
            if bad:
                params[name] = bad[1]
                details[name] = {"code": bad[0], "message": bad[1], "data": None}
    if not params:
        return None
    return 400, {"code": "rest_invalid_param",
                 "message": "Invalid parameter(s): %s" % ", ".join(params),
                 "data": {"status": 400, "params": params, "details": details}}
