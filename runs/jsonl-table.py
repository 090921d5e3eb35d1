#!/usr/bin/env python3
"""Markdown table of a `binarygrad train --json` curve, for docs/cifar10.md.

Usage: jsonl-table.py RUN.jsonl DOC.md MARKER
Replaces the lines between <!-- MARKER-start --> and <!-- MARKER-end --> in DOC.md with one row per epoch:
epoch, hours (the epochs' own times summed), train loss, train and test accuracy, seconds and images/s of the epoch,
flip ratio. Every figure is read from the JSON lines the training wrote; nothing is computed but the running sum.
"""
import json
import sys

run, doc, marker = sys.argv[1:4]
rows = ["| epoch | hours | train loss | train acc | test acc | s/epoch | img/s | flip ratio |",
        "|---|---|---|---|---|---|---|---|"]
hours = 0.0
for line in open(run):
    e = json.loads(line)
    hours += e["seconds"] / 3600
    rows.append(f"| {e['epoch']} | {hours:.2f} | {e['trainLoss']:.3f} | {100 * e['trainAcc']:.2f} % | **{100 * e['testAcc']:.2f} %** | "
                f"{e['seconds']:.0f} | {e['imagesPerSec']:.0f} | {100 * e['flipRatio']:.2f} % |")
text = open(doc).read()
start, end = f"<!-- {marker}-start -->", f"<!-- {marker}-end -->"
head, rest = text.split(start)
_, tail = rest.split(end)
open(doc, "w").write(head + start + "\n" + "\n".join(rows) + "\n" + end + tail)
print(f"{len(rows) - 2} epochs written between the {marker} markers of {doc}")
