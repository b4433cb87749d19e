"""Run lessons in full mode (LMTEACH_QUICK=0, what a class sees) and write notebooks/FULL_MODE.md: per lesson the
wall time and every claim it asserted, with its numbers.

    python scripts/run_full_mode.py                      # every lesson, one after another
    python scripts/run_full_mode.py 02_bert 04_gpt2      # some lessons; the others' rows are kept from the file

Run it on an otherwise idle machine: the lessons train models, and the times are part of the table. A lesson that
fails (an error, or a claim that did not hold) is recorded as failed with the message, and the script exits 1.
"""

from __future__ import annotations

import datetime
import json
import os
import re
import sys
import time
from pathlib import Path

import nbformat
from nbclient import NotebookClient
from nbclient.exceptions import CellExecutionError

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = ROOT / "notebooks"
TABLE = NOTEBOOKS / "FULL_MODE.md"
RESULTS = NOTEBOOKS / ".full_mode.json"  # the rows of the table, so a partial run keeps the others
CLAIM_LINE = re.compile(r"^(✔|≡ by construction:) (.*)$")


def claims_of(notebook) -> list[str]:
    """The claim and definition lines the lesson printed, in order."""
    lines = []
    for cell in notebook.cells:
        for output in cell.get("outputs", []):
            text = output.get("text", "") if output.get("output_type") == "stream" else ""
            lines += [line.strip() for line in text.splitlines() if CLAIM_LINE.match(line.strip())]
    return lines


def cell_seconds(notebook) -> list[tuple[int, float]]:
    """(cell index, seconds) of every code cell nbclient timed, slowest first."""
    times = []
    for index, cell in enumerate(notebook.cells):
        timing = cell.get("metadata", {}).get("execution", {})
        start, end = timing.get("iopub.execute_input"), timing.get("shell.execute_reply")
        if start and end:
            seconds = (datetime.datetime.fromisoformat(end.replace("Z", "+00:00"))
                       - datetime.datetime.fromisoformat(start.replace("Z", "+00:00"))).total_seconds()
            times.append((index, round(seconds, 1)))
    return sorted(times, key=lambda t: -t[1])


def run(name: str, timeout: int = 1800) -> dict:
    path = NOTEBOOKS / f"{name}.ipynb"
    notebook = nbformat.read(path, as_version=4)
    os.environ["LMTEACH_QUICK"] = "0"
    started = time.perf_counter()
    error = None
    try:
        NotebookClient(notebook, timeout=timeout, kernel_name="python3",
                       resources={"metadata": {"path": str(NOTEBOOKS)}}).execute()
    except CellExecutionError as failure:
        error = str(failure).strip().splitlines()[-1][:500]
    seconds = time.perf_counter() - started
    return {"lesson": name, "seconds": round(seconds), "ok": error is None, "error": error,
            "claims": claims_of(notebook), "date": datetime.date.today().isoformat(),
            "slowest_cells": cell_seconds(notebook)[:5]}


def write_table(rows: dict):
    import platform

    import torch
    lines = ["# Every lesson in full mode", "",
             "What a class sees (`LMTEACH_QUICK=0`), written by `python scripts/run_full_mode.py` on an idle machine "
             f"({os.cpu_count()} CPU cores, torch {torch.__version__}, {platform.system()}). Each lesson must pass "
             "and finish within 10 minutes on 2 idle cores. CI runs the same claims in quick mode.", "",
             "| lesson | wall time | result | claims (with their numbers and controls) |", "|---|---|---|---|"]
    for name in sorted(rows):
        row = rows[name]
        minutes = f"{row['seconds'] // 60} min {row['seconds'] % 60:02d} s"
        result = "passed" if row["ok"] else f"FAILED: {row['error']}"
        claims = "<br>".join(c.replace("|", "\\|") for c in row["claims"]) or "(none)"
        lines.append(f"| {name} ({row['date']}) | {minutes} | {result} | {claims} |")
    TABLE.write_text("\n".join(lines) + "\n")


def main(names: list[str]) -> int:
    rows = json.loads(RESULTS.read_text()) if RESULTS.exists() else {}
    names = names or sorted(p.stem for p in NOTEBOOKS.glob("[0-9][0-9]_*.ipynb"))
    for name in names:
        print(f"running {name} in full mode ...", flush=True)
        rows[name] = run(name)
        row = rows[name]
        print(f"  {'passed' if row['ok'] else 'FAILED'} in {row['seconds']} s, {len(row['claims'])} claims"
              + (f": {row['error']}" if row["error"] else ""), flush=True)
        print("  slowest cells (index, seconds):", row["slowest_cells"], flush=True)
        RESULTS.write_text(json.dumps(rows, indent=1, ensure_ascii=False))
        write_table(rows)
    return 0 if all(rows[n]["ok"] for n in names) else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
