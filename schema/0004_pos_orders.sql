-- 0004: the POS's own orders, one source the pos connector reads (is_active = 1, by updated_at).
-- Money in minor units of `currency`. updated_at moves on every change of an order or of its
-- items (triggers below) so that incremental runs see it.

CREATE TABLE orders (
    id                TEXT PRIMARY KEY NOT NULL,        -- the POS's order id
    tenant_id         TEXT NOT NULL,
    order_number      TEXT,
    status            TEXT NOT NULL DEFAULT 'pending'
                      CHECK (status IN ('draft', 'pending', 'processing', 'on-hold', 'completed',
                                        'cancelled', 'refunded', 'failed')),
    currency          TEXT NOT NULL DEFAULT 'USD' CHECK (length(currency) = 3),
    subtotal_minor    INTEGER NOT NULL DEFAULT 0,
    discount_minor    INTEGER NOT NULL DEFAULT 0,
    shipping_minor    INTEGER NOT NULL DEFAULT 0,
    tax_minor         INTEGER NOT NULL DEFAULT 0,
    total_minor       INTEGER NOT NULL DEFAULT 0,
    paid_minor        INTEGER NOT NULL DEFAULT 0,
    payment_method    TEXT,
    customer_id       TEXT,
    customer_name     TEXT,
    customer_email    TEXT,
    customer_phone    TEXT,
    billing_address   TEXT CHECK (billing_address IS NULL OR json_valid(billing_address)),
    shipping_address  TEXT CHECK (shipping_address IS NULL OR json_valid(shipping_address)),
    notes             TEXT,
    is_active         INTEGER NOT NULL DEFAULT 1 CHECK (is_active IN (0, 1)),
    ordered_at        TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
    created_at        TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
    updated_at        TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
);
CREATE INDEX orders_tenant_updated ON orders (tenant_id, updated_at);
CREATE INDEX orders_tenant_active_created ON orders (tenant_id, is_active, created_at);
CREATE INDEX orders_tenant_status ON orders (tenant_id, status);

CREATE TABLE order_items (
    id                INTEGER PRIMARY KEY,
    order_id          TEXT NOT NULL REFERENCES orders (id) ON DELETE CASCADE,
    tenant_id         TEXT NOT NULL,
    line_no           INTEGER NOT NULL CHECK (line_no > 0),
    product_id        TEXT,
    sku               TEXT,
    name              TEXT NOT NULL,
    quantity          INTEGER NOT NULL DEFAULT 1,
    unit_price_minor  INTEGER NOT NULL DEFAULT 0,
    discount_minor    INTEGER NOT NULL DEFAULT 0,
    tax_minor         INTEGER NOT NULL DEFAULT 0,
    total_minor       INTEGER NOT NULL DEFAULT 0,
    tax_code          TEXT,
    is_active         INTEGER NOT NULL DEFAULT 1 CHECK (is_active IN (0, 1)),
    created_at        TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
    updated_at        TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
    UNIQUE (order_id, line_no)
);
CREATE INDEX order_items_tenant ON order_items (tenant_id);

-- An update that does not set updated_at itself still moves it (recursive triggers are off, so
-- the inner UPDATE does not fire this again).
CREATE TRIGGER orders_touch AFTER UPDATE ON orders
WHEN NEW.updated_at IS OLD.updated_at
BEGIN
    UPDATE orders SET updated_at = strftime('%Y-%m-%dT%H:%M:%fZ', 'now') WHERE id = NEW.id;
END;

CREATE TRIGGER order_items_touch_insert AFTER INSERT ON order_items
BEGIN
    UPDATE orders SET updated_at = strftime('%Y-%m-%dT%H:%M:%fZ', 'now') WHERE id = NEW.order_id;
END;

CREATE TRIGGER order_items_touch_update AFTER UPDATE ON order_items
BEGIN
    UPDATE orders SET updated_at = strftime('%Y-%m-%dT%H:%M:%fZ', 'now')
    WHERE id IN (OLD.order_id, NEW.order_id);
END;

CREATE TRIGGER order_items_touch_delete AFTER DELETE ON order_items
BEGIN
    UPDATE orders SET updated_at = strftime('%Y-%m-%dT%H:%M:%fZ', 'now') WHERE id = OLD.order_id;
END;
