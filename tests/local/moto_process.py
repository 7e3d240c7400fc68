"""Starting the local AWS endpoint (infra/local/moto_server.py) for a test: its own process on a
free port, answering once the port takes connections."""

import socket
import subprocess
import sys
import time
from pathlib import Path

SERVER = Path(__file__).resolve().parents[2] / "infra" / "local" / "moto_server.py"


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def launch(*args):
    """The server's process, started with `args`, and its endpoint once it accepts connections."""
    port = free_port()
    server = subprocess.Popen([sys.executable, str(SERVER), "-p", str(port), *args],
                              stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    for _ in range(200):
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return server, f"http://127.0.0.1:{port}"
        except OSError:
            time.sleep(0.1)
    stop(server)
    raise AssertionError(f"moto_server.py does not listen on port {port}: {server.stderr.read().decode()[-2000:]}")


def stop(server):
    """Ends the server's process."""
    server.terminate()
    server.wait(10)
