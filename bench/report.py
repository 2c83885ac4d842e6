#!/usr/bin/env python3
"""bench/report.py: every bench/results/*.json in the benchmarks' shape (bench/lib.sh) as one
Markdown table, written to bench/results/README.md and printed.

usage: report.py [--results DIR] [--out FILE] [--readme FILE]
  DIR defaults to BENCH_RESULTS_DIR, else bench/results beside this script; FILE to DIR/README.md.
  --readme: also put the table into FILE (the project's README.md) between its lines
  <!-- bench-table:begin --> and <!-- bench-table:end -->, replacing what was there.

A result file is one JSON object {"bench", "machine", "date", "commit", "figures": [...]}; each
figure {"figure", "value" (median of the runs), "unit", "goal", "met", "runs", "spread",
"detail"}. Files in another shape (the older benches' JSON lines: webhooks.json, dryrun.json)
are left out, named on stderr. Exit status 1 when no file is in the shape, or one that claims
to be (it has "bench" and "figures") is malformed.
"""
import argparse
import json
import os
import sys

KEYS = ("bench", "machine", "date", "commit", "figures")
FIG_KEYS = ("figure", "value", "unit", "goal", "met", "runs", "spread")
# the order the table shows the benches in; others follow by name
ORDER = ["record_path", "refused", "footprint", "ingest", "backfill"]


def load(path):
    """The result in the shape, None when the file is in another shape; ValueError when it
    claims the shape but breaks it."""
    try:
        with open(path, encoding="utf-8") as f:
            doc = json.load(f)
    except (ValueError, UnicodeDecodeError):
        return None  # e.g. JSON lines of the older benches
    if not isinstance(doc, dict) or "bench" not in doc or "figures" not in doc:
        return None
    missing = [k for k in KEYS if k not in doc]
    if missing:
        raise ValueError("%s: missing %s" % (path, ", ".join(missing)))
    if not isinstance(doc["figures"], list):
        raise ValueError("%s: figures is not a list" % path)
    for i, fig in enumerate(doc["figures"]):
        if not isinstance(fig, dict) or any(k not in fig for k in FIG_KEYS):
            raise ValueError("%s: figures[%d] lacks one of %s" % (path, i, ", ".join(FIG_KEYS)))
    return doc


def num(v):
    if v is None:
        return "failed"
    if isinstance(v, float) and v.is_integer() and abs(v) >= 100:
        v = int(v)
    if isinstance(v, float):
        return "%.3g" % v if abs(v) < 10 else "{:,.1f}".format(v)
    return "{:,}".format(v)


def cell(text):
    return str(text).replace("|", "\\|").replace("\n", " ")


def measured(fig):
    unit = fig.get("unit") or ""
    s = num(fig["value"])
    if fig["value"] is not None and unit:
        s += " " + unit
    runs = fig.get("runs") or []
    if fig.get("spread") and len(runs) > 1:
        s += " (%s, %d runs)" % (fig["spread"], len(runs))
    elif fig["value"] is None:
        err = (fig.get("detail") or {}).get("error")
        if err:
            s += ": " + err[:160]
    return s


def met(v):
    return {True: "yes", False: "**no**"}.get(v, "")


def render(docs):
    out = ["| bench | figure | measured (median, spread) | goal | met |",
           "| --- | --- | --- | --- | --- |"]
    for d in docs:
        for fig in d["figures"]:
            out.append("| %s | %s | %s | %s | %s |" % (
                cell(d["bench"]), cell(fig["figure"]), cell(measured(fig)),
                cell(fig.get("goal") or ""), met(fig.get("met"))))
    out.append("")
    for d in docs:
        out.append("- `%s`: %s; %s; commit %s" % (d["bench"], d["machine"], d["date"], d["commit"]))
    return "\n".join(out) + "\n"


BEGIN, END = "<!-- bench-table:begin -->", "<!-- bench-table:end -->"


def put_in_readme(path, table):
    with open(path, encoding="utf-8") as f:
        text = f.read()
    i, j = text.find(BEGIN), text.find(END)
    if i < 0 or j < i:
        print("report: %s has no %s ... %s lines" % (path, BEGIN, END), file=sys.stderr)
        return False
    text = text[:i] + BEGIN + "\n" + table + END + text[j + len(END):]
    with open(path + ".tmp", "w", encoding="utf-8") as f:
        f.write(text)
    os.replace(path + ".tmp", path)
    return True


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    ap = argparse.ArgumentParser()
    ap.add_argument("--results", default=os.environ.get("BENCH_RESULTS_DIR") or
                    os.path.join(here, "results"))
    ap.add_argument("--out")
    ap.add_argument("--readme")
    a = ap.parse_args()
    out = a.out or os.path.join(a.results, "README.md")
    docs, bad = [], 0
    names = sorted(n for n in os.listdir(a.results) if n.endswith(".json")) \
        if os.path.isdir(a.results) else []
    for n in names:
        try:
            d = load(os.path.join(a.results, n))
        except ValueError as e:
            print("report: %s" % e, file=sys.stderr)
            bad += 1
            continue
        if d is None:
            print("report: %s is not in the benchmarks' shape: left out" % n, file=sys.stderr)
            continue
        docs.append(d)
    if not docs:
        print("report: no result in the benchmarks' shape in %s" % a.results, file=sys.stderr)
        return 1
    docs.sort(key=lambda d: (ORDER.index(d["bench"]) if d["bench"] in ORDER else len(ORDER),
                             d["bench"]))
    table = render(docs)
    text = ("# Benchmark results\n\n"
            "Written by `bench/report.py` from `bench/results/*.json` (`bench/run.sh` runs every "
            "benchmark, then this). Each value is the median of the runs (5 unless the line says "
            "otherwise) with the spread (min-max); a ratio (x) is the median of ratios taken in "
            "the same run. The machine is shared: wall-clock figures move with other load, so "
            "compare ratios and CPU seconds (in each file's `detail`) rather than single rates. "
            "What each figure means: README.md, section Benchmarks.\n\n" + table)
    with open(out + ".tmp", "w", encoding="utf-8") as f:
        f.write(text)
    os.replace(out + ".tmp", out)
    sys.stdout.write(table)
    if a.readme and not put_in_readme(a.readme, table):
        return 1
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
