"""Starting a stand-in for its tests: its own process on a free port, ready once it says where it
listens (its first line), as every stand-in in infra/local/standins does."""

import re
import subprocess
import sys


def launch(script, name, *args, cwd=None):
    """The process of `script` run with `--port 0` and `args`, and its origin, once its first line
    says `<name> stand-in on http://127.0.0.1:<port>`; a stand-in that says anything else is
    stopped and the test fails with what it said."""
    process = subprocess.Popen([sys.executable, str(script), "--port", "0", *args], stdout=subprocess.PIPE,
                               text=True, cwd=cwd)
    line = process.stdout.readline()
    found = re.fullmatch(rf"{re.escape(name)} stand-in on (http://127\.0\.0\.1:\d+)\n", line)
    if not found:
        stop(process)
    assert found, f"the stand-in did not start: {line!r}"
    return process, found.group(1)


def stop(process):
    """Ends a stand-in's process."""
    process.terminate()
    process.wait(10)
