#!/usr/bin/env python3
# regen.py MAPPING CASE...: rewrite each case's "expected" with the mapping's dry-run output
# (keeps input/settings/error). For review with git diff; not part of the suite.
import json, subprocess, sys, tempfile, os
mapping = sys.argv[1]
binp = os.environ.get("TALLYSYNC_BIN", "build-dev/tallysync")
for path in sys.argv[2:]:
    case = json.load(open(path), object_pairs_hook=dict)
    if "error" in case:
        continue
    with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as f:
        json.dump(case["input"], f); inp = f.name
    args = [binp, "dry-run", "--mapping", mapping, "--input", inp]
    cfg = None
    if case.get("settings") is not None:
        with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as f:
            json.dump(case["settings"], f); cfg = f.name
        args += ["--config", cfg]
    r = subprocess.run(args, capture_output=True, text=True, env=dict(os.environ, MAPPINGS_DIR="mappings"))
    os.unlink(inp)
    if cfg: os.unlink(cfg)
    if r.returncode != 0:
        print("FAIL", path, r.stderr.strip()); continue
    out = json.loads(r.stdout)
    case["expected"] = out
    with open(path, "w") as f:
        json.dump(case, f, indent=2, ensure_ascii=False); f.write("\n")
    print("wrote", path)
