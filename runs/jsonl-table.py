#!/usr/bin/env python3
"""Markdown table of a `binarygrad train --json` curve, for docs/cifar10.md.

Usage: jsonl-table.py RUN.jsonl DOC.md MARKER
Replaces the lines between <!-- MARKER-start --> and <!-- MARKER-end --> in DOC.md with one row per epoch:
epoch, hours (the epochs' own times summed), train loss, train and test accuracy, seconds and images/s of the epoch,
flip ratio (— for a float run, whose JSON has none). Every figure is read from the JSON lines the training wrote; nothing is computed but the running sum.
A curve longer than SHORT epochs is written twice: first the rows of every STEP-th epoch, the first epoch, the epoch
of the best test accuracy and the last epoch, so the page stays readable; then every epoch, folded in a <details>
block that GitHub and most Markdown viewers open on a click.
"""
import json
import os
import sys

def flip(ratio):
    # null in a float run's JSON (--scheme none): no binary weights to flip
    return "—" if ratio is None else f"{100 * ratio:.2f} %"


def fail(message):
    print(f"jsonl-table: {message}", file=sys.stderr)
    sys.exit(2)


if len(sys.argv) != 4:
    fail("usage: jsonl-table.py RUN.jsonl DOC.md MARKER")
run, doc, marker = sys.argv[1:4]
SHORT, STEP = 30, 10
header = ["| epoch | hours | train loss | train acc | test acc | s/epoch | img/s | flip ratio |",
          "|---|---|---|---|---|---|---|---|"]
rows = []
tests, epochs = [], []
hours = 0.0
try:
    lines = open(run).read().splitlines()
except OSError as e:
    fail(f"cannot read {run}: {e.strerror}")
for number, line in enumerate(lines, 1):
    try:
        e = json.loads(line)
        hours += e["seconds"] / 3600
        tests.append(e["testAcc"])
        epochs.append(e["epoch"])
        rows.append(f"| {e['epoch']} | {hours:.2f} | {e['trainLoss']:.3f} | {100 * e['trainAcc']:.2f} % | **{100 * e['testAcc']:.2f} %** | "
                    f"{e['seconds']:.0f} | {e['imagesPerSec']:.0f} | {flip(e['flipRatio'])} |")
    except (ValueError, KeyError, TypeError) as error:
        fail(f"{run}, line {number}: expected one epoch object of train --json (epoch, seconds, trainLoss, trainAcc, testAcc, "
             f"imagesPerSec, flipRatio): {error}")
try:
    text = open(doc).read()
except OSError as e:
    fail(f"cannot read {doc}: {e.strerror}")
start, end = f"<!-- {marker}-start -->", f"<!-- {marker}-end -->"
if text.count(start) != 1 or text.count(end) != 1 or text.index(start) > text.index(end):
    fail(f"{doc} must hold '{start}' once, then '{end}' once")
if len(rows) <= SHORT:
    block = header + rows
else:
    best = max(range(len(rows)), key=lambda i: tests[i])
    shown = [i for i in range(len(rows)) if i == 0 or epochs[i] % STEP == 0 or i == best or i == len(rows) - 1]
    block = ([f"Every {STEP}th epoch, the first, the best test accuracy (epoch {epochs[best]}) and the last; all {len(rows)} epochs below.", ""]
             + header + [rows[i] for i in shown]
             + ["", f"<details><summary>All {len(rows)} epochs</summary>", ""] + header + rows + ["", "</details>"])
head, rest = text.split(start)
_, tail = rest.split(end)
# written beside the document, then renamed over it: an interrupted run leaves the document as it was
temporary = doc + ".tmp"
with open(temporary, "w") as out:
    out.write(head + start + "\n" + "\n".join(block) + "\n" + end + tail)
os.replace(temporary, doc)
print(f"{len(rows)} epochs written between the {marker} markers of {doc}")
