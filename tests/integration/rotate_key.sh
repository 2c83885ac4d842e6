#!/usr/bin/env bash
# tests/integration/rotate_key.sh - `tallysync rotate-key` with the real binary on a real SQLite
# file: help and usage errors (the key is never echoed, even when passed in place of NAME), every
# key error (missing / malformed new key, current key or previous list), an empty vault, ./.env,
# rows that cannot be opened (rolled back, file unchanged), and (python3-cryptography from Debian) the
# `cryptography` package - rows sealed independently in Python with the documented layout
# (AES-256-GCM, nonce||ct||tag, AAD "tallysync-cred-v1\0tenant\0platform\0keyid"), rotated,
# then opened in Python with the new key only. Rows written through the HTTP credential routes
# are the credentials tests' business.
# Environment (set by ctest): TALLYSYNC_BIN, SCHEMA_DIR. Output: "N passed, M failed".

source "$(dirname "${BASH_SOURCE[0]}")/lib/common.sh"
require_tools base64 sha256sum
unset INTEGRATION_ENCRYPTION_KEY INTEGRATION_ENCRYPTION_KEY_PREVIOUS NEW_KEY

db="$T/pos.db"

# key_id KEY_B64: the documented id, computed without the engine.
key_id() {
    { printf 'tallysync key id\0'; printf '%s' "$1" | base64 -d; } | sha256sum | cut -c1-16
}

# no_key_in DESCRIPTION TEXT: none of the test keys appears in TEXT.
no_key_in() {
    local k
    for k in "$OLD" "$NEW" "$OTHER"; do
        if [[ "$2" == *"$k"* ]]; then
            fail "$1" "a key appears in: $2"
            return
        fi
    done
    pass "$1"
}

snapshot() {
    sq "SELECT group_concat(id || ':' || tenant_id || ':' || platform || ':' ||
        key_id || ':' || hex(ciphertext), ';') FROM (SELECT * FROM integration_credentials
        ORDER BY id)"
}

run_bin "$T/k1" keygen
OLD=$OUT
run_bin "$T/k2" keygen
NEW=$OUT
run_bin "$T/k3" keygen
OTHER=$OUT
OLD_ID=$(key_id "$OLD")
NEW_ID=$(key_id "$NEW")
OTHER_ID=$(key_id "$OTHER")
SHORT=$(head -c 31 /dev/zero | tr '\0' 'x' | base64)

echo "== help and usage"
run_bin "$T/help" help
assert_match "help lists rotate-key" '^  rotate-key ' "$OUT"
run_bin "$T/h1" rotate-key --help
assert_eq "rotate-key --help exits 0" 0 "$RC"
assert_contains "rotate-key --help shows the usage" "$OUT" "usage: tallysync rotate-key --new-key-env NAME"
assert_contains "rotate-key --help explains INTEGRATION_ENCRYPTION_KEY_PREVIOUS" "$OUT" \
    "INTEGRATION_ENCRYPTION_KEY_PREVIOUS"
run_bin "$T/h2" help rotate-key
assert_eq "help rotate-key exits 0" 0 "$RC"
assert_contains "help rotate-key shows the usage" "$OUT" "--new-key-env"

run_bin "$T/u1" rotate-key
assert_eq "no --new-key-env: exit 2" 2 "$RC"
assert_contains "no --new-key-env: says it is required" "$ERR" "--new-key-env NAME is required"
run_bin "$T/u2" rotate-key --new-key-env
assert_eq "--new-key-env without NAME: exit 2" 2 "$RC"
run_bin "$T/u3" rotate-key --new-key-env "$NEW"
assert_eq "the key itself in place of NAME: exit 2" 2 "$RC"
assert_contains "the key itself in place of NAME: explained" "$ERR" "not the key itself"
no_key_in "the key given in place of NAME is not echoed" "$OUT$ERR"
run_bin "$T/u4" rotate-key --new-key-env NEW_KEY "$NEW"
assert_eq "an extra argument: exit 2" 2 "$RC"
no_key_in "an extra argument is not echoed" "$OUT$ERR"
check "usage errors create no database" test ! -e "$db"

echo "== key errors (exit 1, nothing changed, no key shown)"
INTEGRATION_ENCRYPTION_KEY=$OLD run_bin "$T/e1" rotate-key --new-key-env NEW_KEY
assert_eq "new key variable unset: exit 1" 1 "$RC"
assert_contains "new key variable unset: named" "$ERR" "NEW_KEY is not set"

NEW_KEY=$SHORT INTEGRATION_ENCRYPTION_KEY=$OLD run_bin "$T/e2" rotate-key --new-key-env NEW_KEY
assert_eq "new key of 31 bytes: exit 1" 1 "$RC"
assert_contains "new key of 31 bytes: named with its length" "$ERR" \
    "NEW_KEY must be base64 of 32 bytes (got 31 bytes)"
assert_not_contains "new key of 31 bytes: value not shown" "$ERR" "$SHORT"

NEW_KEY='not-base64!' INTEGRATION_ENCRYPTION_KEY=$OLD run_bin "$T/e3" rotate-key --new-key-env NEW_KEY
assert_eq "new key not base64: exit 1" 1 "$RC"
assert_contains "new key not base64: named" "$ERR" "NEW_KEY is not valid base64"
assert_not_contains "new key not base64: value not shown" "$ERR" "not-base64!"

NEW_KEY=$NEW run_bin "$T/e4" rotate-key --new-key-env NEW_KEY
assert_eq "INTEGRATION_ENCRYPTION_KEY unset: exit 1" 1 "$RC"
assert_contains "INTEGRATION_ENCRYPTION_KEY unset: says so" "$ERR" \
    "INTEGRATION_ENCRYPTION_KEY is not set: generate one with \`tallysync keygen\`"

NEW_KEY=$NEW INTEGRATION_ENCRYPTION_KEY=$SHORT run_bin "$T/e5" rotate-key --new-key-env NEW_KEY
assert_eq "INTEGRATION_ENCRYPTION_KEY of 31 bytes: exit 1" 1 "$RC"
assert_contains "INTEGRATION_ENCRYPTION_KEY of 31 bytes: says so" "$ERR" \
    "INTEGRATION_ENCRYPTION_KEY must be base64 of 32 bytes (got 31 bytes)"

NEW_KEY=$NEW INTEGRATION_ENCRYPTION_KEY=$OLD INTEGRATION_ENCRYPTION_KEY_PREVIOUS="$OTHER,bad!" \
    run_bin "$T/e6" rotate-key --new-key-env NEW_KEY
assert_eq "bad previous entry: exit 1" 1 "$RC"
assert_contains "bad previous entry: named by position" "$ERR" \
    "INTEGRATION_ENCRYPTION_KEY_PREVIOUS entry 2 is not valid base64"
no_key_in "key errors show no key" "$(cat "$T"/e[1-6].out "$T"/e[1-6].err)"
check "key errors create no database" test ! -e "$db"

echo "== an empty vault"
NEW_KEY=$NEW INTEGRATION_ENCRYPTION_KEY=$OLD run_bin "$T/r0" rotate-key --new-key-env NEW_KEY
assert_eq "empty vault: exit 0" 0 "$RC"
assert_contains "empty vault: reports 0 rows and the new key id" "$OUT" \
    "re-encrypted 0 credential rows under key id $NEW_ID"
assert_contains "next steps: set INTEGRATION_ENCRYPTION_KEY" "$OUT" \
    "set INTEGRATION_ENCRYPTION_KEY to the new key"
assert_contains "next steps: keep the old key in INTEGRATION_ENCRYPTION_KEY_PREVIOUS" "$OUT" \
    "keep the old key in INTEGRATION_ENCRYPTION_KEY_PREVIOUS until every running engine has"
assert_contains "next steps name the old key by id" "$OUT" "(id $OLD_ID)"
no_key_in "the rotation output shows no key" "$OUT$ERR"
assert_eq "the store was migrated" 0 "$(sq 'SELECT count(*) FROM integration_credentials')"

# Keys from ./.env (the working directory is $T); the real environment wins over .env.
printf 'INTEGRATION_ENCRYPTION_KEY=%s\nNEW_KEY="%s"\n' "$OLD" "$NEW" >"$T/.env"
run_bin "$T/r1" rotate-key --new-key-env NEW_KEY
assert_eq "keys from ./.env: exit 0" 0 "$RC"
assert_contains "keys from ./.env: the new key id" "$OUT" "under key id $NEW_ID"
NEW_KEY=$OTHER run_bin "$T/r2" rotate-key --new-key-env NEW_KEY
assert_contains "the environment wins over ./.env" "$OUT" "under key id $OTHER_ID"
rm -f "$T/.env"

NEW_KEY=$NEW INTEGRATION_ENCRYPTION_KEY=$NEW INTEGRATION_ENCRYPTION_KEY_PREVIOUS=$OLD \
    run_bin "$T/r3" rotate-key --new-key-env NEW_KEY
assert_eq "rotating to the current key: exit 0" 0 "$RC"
assert_contains "rotating to the current key: says it is already current" "$OUT" \
    "INTEGRATION_ENCRYPTION_KEY already holds this key"

echo "== rows that cannot be opened roll everything back"
sq "INSERT INTO integration_credentials (tenant_id, platform, ciphertext, key_id)
    VALUES ('acme', 'woocommerce', randomblob(60), '$OLD_ID'),
           ('zeta', 'quickbooks', randomblob(60), '0123456789abcdef')"
before=$(snapshot)
NEW_KEY=$NEW INTEGRATION_ENCRYPTION_KEY=$OLD run_bin "$T/f1" rotate-key --new-key-env NEW_KEY
assert_eq "a row the keys cannot open: exit 1" 1 "$RC"
assert_contains "the failing row is named (tenant)" "$ERR" "'acme'"
assert_contains "the failing row is named (platform and key id)" "$ERR" \
    "woocommerce cannot be decrypted with the configured keys (key id $OLD_ID)"
assert_contains "the failure says nothing changed" "$ERR" "nothing was re-encrypted"
assert_eq "the database is unchanged" "$before" "$(snapshot)"
sq "DELETE FROM integration_credentials WHERE tenant_id = 'acme'"
before=$(snapshot)
NEW_KEY=$NEW INTEGRATION_ENCRYPTION_KEY=$OLD INTEGRATION_ENCRYPTION_KEY_PREVIOUS=$OTHER \
    run_bin "$T/f2" rotate-key --new-key-env NEW_KEY
assert_eq "a row under an unknown key id: exit 1" 1 "$RC"
assert_contains "the unknown key id is named" "$ERR" "(key id 0123456789abcdef)"
assert_eq "the database is unchanged (unknown key id)" "$before" "$(snapshot)"
no_key_in "failures show no key" "$(cat "$T"/f[12].out "$T"/f[12].err)"
sq "DELETE FROM integration_credentials"

echo "== rows sealed outside the engine, rotated, opened outside the engine"
# Debian's python3-cryptography (installed by tools/setup.sh --test) is for /usr/bin/python3.
PY=/usr/bin/python3
[[ -x $PY ]] || PY=python3
if ! "$PY" -c 'import cryptography.hazmat.primitives.ciphers.aead' 2>/dev/null; then
    fail "the format cross-check needs python3-cryptography (tools/setup.sh --test installs it)"
    finish
fi
cat >"$T/gcm.py" <<'EOF'
# seal KEY_ENV TENANT PLATFORM PLAINTEXT -> hex blob | open KEY_ENV TENANT PLATFORM KEYID HEX
import base64, hashlib, os, sys
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
op, key = sys.argv[1], base64.b64decode(os.environ[sys.argv[2]], validate=True)
tenant, platform = sys.argv[3].encode(), sys.argv[4].encode()
kid = hashlib.sha256(b"tallysync key id\0" + key).hexdigest()[:16]
if op == "seal":
    aad = b"tallysync-cred-v1\0" + tenant + b"\0" + platform + b"\0" + kid.encode()
    nonce = os.urandom(12)
    print((nonce + AESGCM(key).encrypt(nonce, sys.argv[5].encode(), aad)).hex())
else:
    aad = b"tallysync-cred-v1\0" + tenant + b"\0" + platform + b"\0" + sys.argv[5].encode()
    blob = bytes.fromhex(sys.argv[6])
    try:
        print(AESGCM(key).decrypt(blob[:12], blob[12:], aad).decode())
    except Exception:
        sys.exit(1)
EOF
export OLD NEW OTHER
SECRET='{"consumer_secret":"cs_rotate_it_5e3f1a"}'
for row in "default woocommerce OLD" "t2 quickbooks OLD" "t3 supabase OTHER" "t4 woocommerce NEW"; do
    read -r tn pf kv <<<"$row"
    hex=$("$PY" "$T/gcm.py" seal "$kv" "$tn" "$pf" "$SECRET")
    kid=$(key_id "${!kv}")
    sq "INSERT INTO integration_credentials (tenant_id, platform, ciphertext, key_id,
        public_fields) VALUES ('$tn', '$pf', X'$hex', '$kid', '{\"store_url\":\"https://s\"}')"
done
NEW_KEY=$NEW INTEGRATION_ENCRYPTION_KEY=$OLD INTEGRATION_ENCRYPTION_KEY_PREVIOUS=$OTHER \
    run_bin "$T/p1" rotate-key --new-key-env NEW_KEY
assert_eq "rotation of 4 rows (under OLD, OTHER and already NEW): exit 0" 0 "$RC"
assert_contains "rotation reports 4 rows" "$OUT" "re-encrypted 4 credential rows under key id $NEW_ID"
assert_eq "every row now carries the new key id" "$NEW_ID" \
    "$(sq 'SELECT group_concat(DISTINCT key_id) FROM integration_credentials')"
opened=0 refused=0
while IFS='|' read -r tn pf kid hex; do
    out=$("$PY" "$T/gcm.py" open NEW "$tn" "$pf" "$kid" "$hex") && [[ "$out" == "$SECRET" ]] &&
        opened=$((opened + 1))
    "$PY" "$T/gcm.py" open OLD "$tn" "$pf" "$kid" "$hex" >/dev/null 2>&1 || refused=$((refused + 1))
    "$PY" "$T/gcm.py" open NEW "other-tenant" "$pf" "$kid" "$hex" >/dev/null 2>&1 ||
        refused=$((refused + 1))
done < <(sq 'SELECT tenant_id, platform, key_id, hex(ciphertext) FROM integration_credentials')
assert_eq "Python opens every rotated row with the new key" 4 "$opened"
assert_eq "neither the old key nor another tenant's AAD opens them" 8 "$refused"
if grep -qaF 'cs_rotate_it_5e3f1a' "$db" "$db-wal" 2>/dev/null; then
    fail "the database files never hold the secret in clear"
else
    pass "the database files never hold the secret in clear"
fi
before=$(snapshot)
NEW_KEY=$NEW INTEGRATION_ENCRYPTION_KEY=$NEW INTEGRATION_ENCRYPTION_KEY_PREVIOUS=$OLD \
    run_bin "$T/p2" rotate-key --new-key-env NEW_KEY
assert_eq "a second rotation (new key current, old previous): exit 0" 0 "$RC"
assert_contains "a second rotation re-seals the 4 rows" "$OUT" "re-encrypted 4 credential rows"
assert_ne "a second rotation uses fresh nonces" "$before" "$(snapshot)"
no_key_in "rotation output shows no key" "$(cat "$T"/p[12].out "$T"/p[12].err)"

finish
