#!/usr/bin/env python3
# tests/tools/regen_expected.py MAPPING CASE...: rewrite each data case's "expected" with what
# `tallysync dry-run` makes of its input and settings (cases with "error" are left alone).
# Run from the repository root (TALLYSYNC_BIN, default build-dev/tallysync); then READ the
# diff: a refill is a proposal, not a test. Not part of the suite.
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
    r = subprocess.run(args, capture_output=True, text=True,
                       env=dict(os.environ, MAPPINGS_DIR="mappings"))
    os.unlink(inp)
    if cfg: os.unlink(cfg)
    if r.returncode != 0:
        print("FAIL", path, r.stderr.strip()); continue
    out = json.loads(r.stdout)
    case["expected"] = out
    with open(path, "w") as f:
        json.dump(case, f, indent=2, ensure_ascii=False); f.write("\n")
    print("wrote", path)
