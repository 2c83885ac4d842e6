#!/usr/bin/env python3
"""tools/check_layers.py - the layer check: which folder of engine/ may include which headers.

Owns: the rules below (one line per layer, the same lines as ARCHITECTURE.md) and their check by
path. Reads every .c and .h under ENGINE_DIR (default: engine/ next to this tools/ folder), finds
each #include outside comments and string literals, and prints one line per include that breaks a
rule: "path:line: #include <x>: why [the folder's rule]"; outside engine/lua/ also one line per
file that names Lua's C API (lua_*, luaL_*, luaopen_*) or eng_vm_state in code (a header such as
vm.h may carry lua.h along; using it is what the rule forbids). Exit 0 when clean, 1 on a violation,
2 on a usage error. Linear in the size of the tree.
Must not: keep an allowlist of exceptions (a rule that does not fit is changed here and in
ARCHITECTURE.md, for every file of the folder), or look outside ENGINE_DIR.

usage: tools/check_layers.py [ENGINE_DIR]
"""
import os
import re
import sys

# The headers only engine/lua/ may include.
LUA_HEADERS = {"lua.h", "lauxlib.h", "lualib.h", "luaconf.h", "lua.hpp"}

# One C library per adapter: the adapter's file stem, a test on the include path, the library.
LIBRARIES = [
    ("crypto", lambda p: p.startswith("mbedtls/") or p.startswith("psa/"), "mbedTLS"),
    ("httpc", lambda p: p.startswith("curl/"), "libcurl"),
    ("httpd", lambda p: p == "microhttpd.h", "libmicrohttpd"),
    ("store", lambda p: p in ("sqlite3.h", "sqlite3ext.h"), "SQLite"),
    ("store", lambda p: p in ("libpq-fe.h", "libpq-events.h") or p.startswith("libpq/"), "libpq"),
]

LAYERS = ["base", "adapt", "data", "webhook", "lua", "flow", "api", "cli"]

# folder -> (the rule as one line, {layer: "*" (every header) | set of headers | "own"})
RULES = {
    "base": ("base/: libc + base/", {"base": "*"}),
    "adapt": ("adapt/: base/ + its own header and its own C library (crypto.c mbedtls/, "
              "httpc.c curl/, httpd.c microhttpd.h, store*.c sqlite3.h and libpq-fe.h), the headers of "
              "its own adapter (store_pg.c: store.h, store_backend.h), and adapt/crypto.h",
              {"base": "*", "adapt": "own"}),
    "data": ("data/: base/, adapt/, data/", {"base": "*", "adapt": "*", "data": "*"}),
    "webhook": ("webhook/: base/, adapt/crypto.h, webhook/",
                {"base": "*", "adapt": {"adapt/crypto.h"}, "webhook": "*"}),
    "lua": ("lua/: base/, adapt/, data/, lua/ + the Lua headers (the only folder with lua.h, "
            "lauxlib.h, lualib.h)",
            {"base": "*", "adapt": "*", "data": "*", "lua": "*"}),
    "flow": ("flow/: base/, adapt/, data/, webhook/, flow/, and of lua/ only vm.h (eng_vm_call) "
             "and scripts.h (the registry's published versions)",
             {"base": "*", "adapt": "*", "data": "*", "webhook": "*",
              "lua": {"lua/vm.h", "lua/scripts.h"},
              "flow": "*"}),
    "api": ("api/: base/, adapt/ (httpd.h, store.h, crypto.h), data/, webhook/, flow/, api/, "
            "and of lua/ only scripts.h (the registry's published versions; no vm.h)",
            {"base": "*", "adapt": {"adapt/httpd.h", "adapt/store.h", "adapt/crypto.h"},
             "data": "*", "webhook": "*", "flow": "*", "api": "*", "lua": {"lua/scripts.h"}}),
    "cli": ("cli/: every engine folder, no Lua header, no C library header",
            {layer: "*" for layer in LAYERS}),
}

# Lua's C API, and the VM's raw state, by name: outside engine/lua/ a file that reaches them
# through a header (vm.h includes lua.h) breaks the rule as much as one that includes lua.h.
LUA_API = re.compile(r"\b(lua_[A-Za-z_]\w*|luaL_[A-Za-z_]\w*|luaopen_\w+|eng_vm_state)\b")

INCLUDE = re.compile(r'[ \t]*#[ \t]*include[ \t]*([<"])([^>"\n]*)[>"]')


def strip_comments(text, blank_strings=False):
    """The text with comments blanked (newlines kept, so line numbers hold); string and char
    literals are skipped whole, so "*/*" in a string opens no comment, and blanked too when
    blank_strings (for the identifier scan). One pass."""
    out = []
    i, n = 0, len(text)
    while i < n:
        c = text[i]
        if c == "/" and i + 1 < n and text[i + 1] == "*":
            j = text.find("*/", i + 2)
            j = n if j < 0 else j + 2
            out.append("".join(ch if ch == "\n" else " " for ch in text[i:j]))
            i = j
        elif c == "/" and i + 1 < n and text[i + 1] == "/":
            j = text.find("\n", i)
            j = n if j < 0 else j
            out.append(" " * (j - i))
            i = j
        elif c in "\"'":
            j = i + 1
            while j < n and text[j] != c and text[j] != "\n":
                j += 2 if text[j] == "\\" else 1
            j = min(j + 1, n)
            out.append(c + " " * (j - i - 2) + text[j - 1] if blank_strings and j - i >= 2
                       else text[i:j])
            i = j
        else:
            j = i
            while j < n and text[j] not in "/\"'":
                j += 1
            if j == i:
                j = i + 1
            out.append(text[i:j])
            i = j
    return "".join(out)


def library_of(path):
    for stem, test, name in LIBRARIES:
        if test(path):
            return stem, name
    return None


def check_include(folder, stem, delim, path):
    """None when allowed, else the reason it is not."""
    base = path.rsplit("/", 1)[-1]
    if base in LUA_HEADERS:
        return None if folder == "lua" else "the Lua headers belong to engine/lua/ only"
    lib = library_of(path)
    if lib is not None:
        own_stem, name = lib
        if folder == "adapt" and (stem == own_stem or stem.startswith(own_stem + "_")):
            return None
        return "%s's headers belong to engine/adapt/%s.c only" % (name, own_stem)
    first = path.split("/", 1)[0]
    if delim == "<":
        if first in LAYERS:
            return "an engine header is included with quotes, not <>"
        return None  # the C library, POSIX and the system
    if "/" not in path or first not in LAYERS:
        return "an engine include names its layer folder (\"base/err.h\")"
    allowed = RULES[folder][1].get(first)
    if allowed == "*":
        return None
    if allowed == "own":
        hstem = os.path.splitext(path.split("/", 1)[1])[0]
        # one adapter's files share its headers: store_pg.c includes store.h and store_backend.h
        if hstem.split("_")[0] == stem.split("_")[0] or path == "adapt/crypto.h":
            return None
        return "adapt/ files include only their own adapt/ header (and adapt/crypto.h)"
    if isinstance(allowed, set) and path in allowed:
        return None
    if allowed is None:
        return "%s/ may not include anything of %s/" % (folder, first)
    return "%s/ may include only %s of %s/" % (folder, ", ".join(sorted(allowed)), first)


def check_tree(engine_dir, out):
    """Print every violation under engine_dir to out; return how many there were."""
    bad = 0
    shown_root = os.path.basename(os.path.abspath(engine_dir))
    files = []
    for dirpath, dirnames, filenames in os.walk(engine_dir):
        dirnames.sort()
        for name in sorted(filenames):
            if name.endswith((".c", ".h")):
                files.append(os.path.join(dirpath, name))
    for full in files:
        rel = os.path.relpath(full, engine_dir)
        shown = os.path.join(shown_root, rel)
        parts = rel.split(os.sep)
        if len(parts) != 2 or parts[0] not in RULES:
            out.write("%s:1: outside a layer folder [rule every engine file lives in one of %s/]\n"
                      % (shown, "/, ".join(LAYERS)))
            bad += 1
            continue
        folder = parts[0]
        stem = os.path.splitext(parts[1])[0]
        with open(full, "rb") as f:
            raw = f.read().decode("latin-1")
        text = strip_comments(raw)
        if folder != "lua":
            uses = [(i, m.group(1)) for i, line in enumerate(
                strip_comments(raw, blank_strings=True).split("\n"), 1)
                for m in LUA_API.finditer(line)]
            if uses:
                more = " (and %d more)" % (len(uses) - 1) if len(uses) > 1 else ""
                out.write("%s:%d: uses %s%s: Lua's C API and the VM's state belong to engine/lua/ "
                          "only (call scripts through eng_vm_call) [rule %s]\n"
                          % (shown, uses[0][0], uses[0][1], more, RULES[folder][0]))
                bad += 1
        for lineno, line in enumerate(text.split("\n"), 1):
            m = INCLUDE.match(line)
            if m is None:
                continue
            delim, path = m.group(1), m.group(2).strip()
            why = check_include(folder, stem, delim, path)
            if why is not None:
                close = ">" if delim == "<" else '"'
                out.write("%s:%d: #include %s%s%s: %s [rule %s]\n"
                          % (shown, lineno, delim, path, close, why, RULES[folder][0]))
                bad += 1
    return bad


def main(argv):
    if len(argv) > 2 or (len(argv) == 2 and argv[1].startswith("-")):
        sys.stderr.write(__doc__.strip().split("\n")[-1] + "\n")
        return 2
    here = os.path.dirname(os.path.abspath(__file__))
    engine_dir = argv[1] if len(argv) == 2 else os.path.join(here, "..", "engine")
    if not os.path.isdir(engine_dir):
        sys.stderr.write("check_layers: no folder %s\n" % engine_dir)
        return 2
    bad = check_tree(engine_dir, sys.stdout)
    if bad:
        print("check_layers: %d include(s) or use(s) break the layer rules (ARCHITECTURE.md, "
              "Layers)" % bad)
        return 1
    print("check_layers: every include in %s keeps the layer rules" % os.path.relpath(engine_dir))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
