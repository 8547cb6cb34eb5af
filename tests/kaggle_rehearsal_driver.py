"""Run a notebook's code cells in order, in one namespace, as Kaggle would (tests/test_kaggle.py).

Usage: python kaggle_rehearsal_driver.py NOTEBOOK INPUT_DIR. Standard library only: it runs with
the bare interpreter inside the rehearsal's network namespace. Before the cells it prints, and
checks, what the sandbox promises: no network interface but loopback, no route out, and an input
folder that refuses writes.
"""

from __future__ import annotations

import json
import os
import socket
import sys


def main() -> int:
    notebook, input_dir = sys.argv[1], sys.argv[2]
    interfaces = sorted(name for _, name in socket.if_nameindex())
    print(f"rehearsal: network interfaces {interfaces}")
    if interfaces != ["lo"]:
        return 3
    try:
        socket.create_connection(("1.1.1.1", 443), timeout=5).close()
    except OSError as err:
        print(f"rehearsal: connect to 1.1.1.1:443 refused as expected: {err}")
    else:
        print("rehearsal: the network is reachable")
        return 3
    probe = os.path.join(input_dir, ".rehearsal-write-probe")
    try:
        with open(probe, "w"):
            pass
    except OSError as err:
        print(f"rehearsal: input folder read-only as expected: {err}")
    else:
        os.unlink(probe)
        print("rehearsal: the input folder is writable")
        return 3
    with open(notebook) as handle:
        cells = json.load(handle)["cells"]
    namespace: dict = {"__name__": "__main__"}
    for cell in cells:
        if cell["cell_type"] == "code":
            print(f"rehearsal: running cell {cell['id']}", flush=True)
            source = "".join(cell["source"])
            exec(compile(source, f"<cell {cell['id']}>", "exec"), namespace)
    return 0


if __name__ == "__main__":
    sys.exit(main())
