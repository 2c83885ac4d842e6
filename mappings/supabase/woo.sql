-- mappings/supabase/woo.sql: the Supabase (PostgreSQL) tables the woo_*_to_supabase_* mappings
-- write, for a project owner to create once (SQL editor or a migration). Not applied by
-- tallysync: it is the target's schema, not the engine's. Money is numeric (exact decimals,
-- sent as decimal text), never float; lists are jsonb; ids are WooCommerce's.
-- After creating the tables, reload PostgREST's schema cache: NOTIFY pgrst, 'reload schema';

CREATE TABLE IF NOT EXISTS orders (
    id                   bigint PRIMARY KEY,
    number               text,
    status               text,
    currency             char(3) NOT NULL,
    prices_include_tax   boolean NOT NULL DEFAULT false,
    customer_id          bigint,
    customer_email       text,
    billing              jsonb,
    shipping             jsonb,
    payment_method       text,
    payment_method_title text,
    transaction_id       text,
    customer_note        text,
    date_created         text,            -- the shop's local time, as WooCommerce shows it
    date_created_gmt     timestamptz,
    date_modified_gmt    timestamptz,
    date_paid_gmt        timestamptz,
    date_completed_gmt   timestamptz,
    discount_total       numeric(20, 6),
    discount_tax         numeric(20, 6),
    shipping_total       numeric(20, 6),
    shipping_tax         numeric(20, 6),
    cart_tax             numeric(20, 6),
    total_tax            numeric(20, 6),
    total                numeric(20, 6) NOT NULL,
    refunded_total       numeric(20, 6) NOT NULL DEFAULT 0,
    line_items           jsonb NOT NULL DEFAULT '[]',
    fee_lines            jsonb NOT NULL DEFAULT '[]',
    shipping_lines       jsonb NOT NULL DEFAULT '[]',
    coupon_lines         jsonb NOT NULL DEFAULT '[]',
    tax_lines            jsonb NOT NULL DEFAULT '[]',
    refunds              jsonb NOT NULL DEFAULT '[]'
);
CREATE INDEX IF NOT EXISTS orders_customer_email ON orders (customer_email);

CREATE TABLE IF NOT EXISTS customers (
    id                 bigint PRIMARY KEY,
    email              text,
    email_normalized   text,
    first_name         text,
    last_name          text,
    username           text,
    role               text,
    is_paying_customer boolean NOT NULL DEFAULT false,
    billing            jsonb,
    shipping           jsonb,
    date_created_gmt   timestamptz,
    date_modified_gmt  timestamptz
);
CREATE INDEX IF NOT EXISTS customers_email ON customers (email_normalized);

CREATE TABLE IF NOT EXISTS products (
    id                bigint PRIMARY KEY,
    parent_id         bigint,
    name              text,
    slug              text,
    sku               text,
    type              text,
    status            text,
    price             numeric(20, 6),
    regular_price     numeric(20, 6),
    sale_price        numeric(20, 6),
    tax_status        text,
    tax_class         text,
    manage_stock      boolean NOT NULL DEFAULT false,
    stock_quantity    numeric(20, 6),
    categories        jsonb NOT NULL DEFAULT '[]',
    date_modified_gmt timestamptz
);
CREATE INDEX IF NOT EXISTS products_sku ON products (sku);
