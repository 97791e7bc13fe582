"""``python -m mindlab.run -n 4 script.py [args...]``: run a script on N MPI ranks (wraps ``mpiexec``).

Each rank runs ``script.py`` with this Python; inside it ``mindlab.communication.init()`` picks the ``mpi``
backend. The launcher:

- finds ``mpiexec`` next to this Python (the ``mpich`` wheel installs it into the virtual environment), then on
  PATH, or takes ``--mpiexec``/``MINDLAB_MPIEXEC``; Open MPI's gets ``--oversubscribe --allow-run-as-root``;
- passes ``--timeout`` on as ``MINDLAB_COMM_TIMEOUT`` (seconds a rank waits in a collective before failing);
- gives the ranks a run directory (``MINDLAB_RUN_DIR``) where each records its pid at start, its clean exit or its
  failure, and a socket (``MINDLAB_RUN_SOCKET``) each keeps connected while it lives; when the job fails it prints
  one line saying which rank failed first and how (a Python exception, killed, a communication timeout), after
  the ranks' own output;
- exits with mpiexec's exit status.

``-m module`` instead of a script runs a module, as ``python -m`` does.
"""
import argparse
import glob
import json
import os
import re
import selectors
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time

__all__ = ["main", "find_mpiexec", "build_command"]


def find_mpiexec(explicit=None):
    """Path of the mpiexec to use, or None."""
    cand = explicit or os.environ.get("MINDLAB_MPIEXEC")
    if cand:
        return cand if os.path.exists(cand) or shutil.which(cand) else None
    here = os.path.join(os.path.dirname(sys.executable), "mpiexec")
    if os.path.exists(here):
        return here
    return shutil.which("mpiexec")


def _is_open_mpi(mpiexec):
    try:
        out = subprocess.run([mpiexec, "--version"], capture_output=True, text=True, timeout=20)
        return "Open MPI" in out.stdout + out.stderr or "OpenRTE" in out.stdout + out.stderr
    except (OSError, subprocess.SubprocessError):
        return False


def build_command(mpiexec, n, target, python=None):
    """The mpiexec command line running ``target`` (``[script, args...]`` or ``["-m", module, args...]``)."""
    cmd = [mpiexec]
    if _is_open_mpi(mpiexec):
        cmd += ["--oversubscribe", "--allow-run-as-root"]
    return cmd + ["-n", str(n), python or sys.executable] + list(target)


class _Monitor:
    """Knows when each rank's process ends: every rank connects to a Unix socket in the run directory at start-up
    and keeps the connection until it exits, so the order of disconnects tells which rank went first even when
    mpiexec kills the others a few milliseconds later. The ranks' records in the run directory (start, clean exit,
    error) say which disconnects were expected."""

    def __init__(self, run_dir):
        self.run_dir = run_dir
        self.path = os.path.join(run_dir, "alive.sock")
        self.ended = []                # [(batch, time, rank, pid)] in the order the connections closed
        self._server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self._server.bind(self.path)
        self._server.listen(1024)
        self._server.setblocking(False)
        self._sel = selectors.DefaultSelector()
        self._sel.register(self._server, selectors.EVENT_READ, None)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, daemon=True)
        self._thread.start()

    def _loop(self):
        buffers = {}
        batch = 0
        while True:
            events = self._sel.select(timeout=0.1)
            if not events and self._stop.is_set():
                break
            batch += 1
            for key, _ in events:
                if key.data is None:
                    try:
                        conn, _ = self._server.accept()
                    except OSError:
                        continue
                    conn.setblocking(False)
                    buffers[conn] = b""
                    self._sel.register(conn, selectors.EVENT_READ, "rank")
                    continue
                conn = key.fileobj
                try:
                    chunk = conn.recv(256)
                except OSError:
                    chunk = b""
                if chunk:
                    buffers[conn] += chunk
                    continue
                now = time.time()
                self._sel.unregister(conn)
                conn.close()
                try:
                    rank, pid = (int(v) for v in buffers.pop(conn).split()[:2])
                except ValueError:
                    continue
                self.ended.append((batch, now, rank, pid))

    def records(self, kind=""):
        out = {}
        for path in glob.glob(os.path.join(self.run_dir, f"rank*{kind}.json")):
            m = re.fullmatch(r"rank(\d+)" + re.escape(kind) + r"\.json", os.path.basename(path))
            if not m:
                continue
            try:
                with open(path) as f:
                    out[int(m.group(1))] = json.load(f)
            except (OSError, ValueError):
                pass
        return out

    def first_unexpected_ends(self):
        """[(rank, pid, time)] of the first rank(s) whose process ended without recording an exit or an error: one
        rank, or several when their ends were noticed together (so their order is unknown); [] when none."""
        expected = set(self.records(".exit")) | set(self.records(".error"))
        unexpected = [(b, rank, pid, t) for b, t, rank, pid in sorted(self.ended) if rank not in expected]
        if not unexpected:
            return []
        return [(rank, pid, t) for b, rank, pid, t in unexpected if b == unexpected[0][0]]

    def stop(self):
        """Stop after handling what is pending (the last disconnects)."""
        self._stop.set()
        self._thread.join(timeout=2)
        try:
            self._server.close()
        except OSError:
            pass


def _explain(rc, watcher):
    """One line saying which rank failed first and how."""
    errors = watcher.records(".error")
    starts = watcher.records()
    n = len(starts)
    root = [e for e in errors.values() if not e.get("communication")]
    if root:
        e = min(root, key=lambda e: e.get("time", 0))
        tb = e.get("traceback") or ""
        return (f"rank {e['rank']} failed with {e['type']}: {e['message']}; mpiexec stopped the other ranks. "
                f"Its traceback (as rank {e['rank']} recorded it):\n{tb.rstrip()}")
    comm = [e for e in errors.values() if e.get("communication")]
    first_comm = min(comm, key=lambda e: e.get("time", 0)) if comm else None
    first = watcher.first_unexpected_ends()
    # a rank that vanished before any rank reported a communication failure is the cause; one that vanished
    # after is a consequence (mpiexec stops every rank once one aborts)
    if first and (first_comm is None or first[0][2] < first_comm.get("time", 0)):
        who = ", ".join(f"rank {r} (pid {pid} on {starts.get(r, {}).get('host', '?')})" for r, pid, _ in first)
        verb = "ended first" if len(first) == 1 else "ended first, together,"
        return (f"{who} {verb} without reporting an error (killed, or exited abruptly); mpiexec then stopped the "
                f"other ranks")
    if first_comm is not None:
        msg = first_comm["message"]
        return msg if msg.startswith(f"rank {first_comm['rank']}") else f"rank {first_comm['rank']}: {msg}"
    return f"the job exited with status {rc}"


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m mindlab.run",
                                     description="Run a Python script on N MPI ranks (wraps mpiexec).")
    parser.add_argument("-n", "-np", "--nprocs", dest="n", type=int, default=1, help="number of ranks (default 1)")
    parser.add_argument("--mpiexec", default=None, help="the mpiexec to use (default: next to this Python, or PATH)")
    parser.add_argument("--timeout", type=float, default=None,
                        help="seconds a rank waits in one collective before failing (MINDLAB_COMM_TIMEOUT)")
    parser.add_argument("target", nargs=argparse.REMAINDER, help="script.py [args...] or -m module [args...]")
    args = parser.parse_args(argv)
    if not args.target:
        parser.error("give a script to run (script.py [args...] or -m module [args...])")
    if args.n < 1:
        parser.error(f"-n must be at least 1, got {args.n}")
    if args.timeout is not None and args.timeout <= 0:
        parser.error(f"--timeout must be positive, got {args.timeout}")
    if args.target[0] != "-m" and not os.path.exists(args.target[0]):
        parser.error(f"no such script: {args.target[0]}")
    mpiexec = find_mpiexec(args.mpiexec)
    if mpiexec is None:
        sys.stderr.write("mindlab.run: no mpiexec found (looked next to this Python and on PATH). Install an MPI "
                         "runtime with: pip install 'mindlab[mpi]'  (mpi4py and mpich)\n")
        return 127
    run_dir = tempfile.mkdtemp(prefix="mindlab-run-")
    watcher = _Monitor(run_dir)
    env = dict(os.environ, MINDLAB_RUN_DIR=run_dir, MINDLAB_RUN_SOCKET=watcher.path, MINDLAB_COMM_BACKEND="mpi",
               PYTHONUNBUFFERED="1")
    if args.timeout is not None:
        env["MINDLAB_COMM_TIMEOUT"] = str(args.timeout)
    cmd = build_command(mpiexec, args.n, args.target)
    try:
        proc = subprocess.Popen(cmd, env=env)
        try:
            rc = proc.wait()
        except KeyboardInterrupt:
            proc.send_signal(signal.SIGINT)
            rc = proc.wait()
        watcher.stop()
        if rc != 0:
            sys.stderr.write(f"mindlab.run: {_explain(rc, watcher)}\n")
            sys.stderr.flush()
        return rc
    finally:
        watcher.stop()
        shutil.rmtree(run_dir, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
