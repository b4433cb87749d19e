"""Run lesson notebooks in quick mode and store the outputs of the cells nbval compares.

Cells whose first line is `# NBVAL_CHECK_OUTPUT` keep their outputs (the reference nbval compares against under
`--nbval-lax`); every other cell is saved without outputs, so the lessons open clean and stay small.

    python scripts/store_checked_outputs.py notebooks/05_albert.ipynb [more.ipynb ...]
    LMTEACH_DUMP=/tmp/outputs.txt python scripts/store_checked_outputs.py ...   # also write every text output there
"""

import os
import sys
from pathlib import Path

import nbformat
from nbclient import NotebookClient

MARK = "# NBVAL_CHECK_OUTPUT"


def coalesce_streams(outputs):
    """Join consecutive prints to the same stream into one output, as a reader sees them."""
    joined = []
    for output in outputs:
        if (joined and output.output_type == "stream" and joined[-1].output_type == "stream"
                and joined[-1].name == output.name):
            joined[-1].text += output.text
        else:
            joined.append(output)
    return joined


def store(path: Path):
    notebook = nbformat.read(path, as_version=4)
    os.environ["LMTEACH_QUICK"] = "1"
    NotebookClient(notebook, timeout=600, kernel_name="python3",
                   resources={"metadata": {"path": str(path.parent)}}).execute()
    if os.environ.get("LMTEACH_DUMP"):  # every text output, to read what the lesson showed this time
        with open(os.environ["LMTEACH_DUMP"], "a") as dump:
            for index, cell in enumerate(notebook.cells):
                texts = [o.get("text", "") or o.get("data", {}).get("text/plain", "") for o in cell.get("outputs", [])]
                if any(texts):
                    dump.write(f"--- {path.name} cell {index}\n" + "".join(texts) + "\n")
    kept = 0
    for cell in notebook.cells:
        if cell.cell_type != "code":
            continue
        cell.metadata.pop("execution", None)  # timestamps would make every refresh a diff
        if cell.source.lstrip().startswith(MARK):
            cell.outputs = coalesce_streams(cell.outputs)
            kept += 1
        else:
            cell.outputs = []
            cell.execution_count = None
    notebook.metadata.pop("widgets", None)
    nbformat.write(notebook, path)
    print(f"{path}: stored the outputs of {kept} checked cell(s)")


if __name__ == "__main__":
    if len(sys.argv) < 2:
        sys.exit(__doc__)
    for name in sys.argv[1:]:
        store(Path(name))
