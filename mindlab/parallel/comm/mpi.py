"""The ``mpi`` backend: mpi4py over real processes, numpy buffers.

Start ranks with ``python -m mindlab.run -n 4 script.py`` (which wraps ``mpiexec``) or ``mpiexec`` directly; in the
script, ``mindlab.communication.init()`` (or ``MPICommunicator.world()``) gives the world communicator.

Never hanging: every collective is started non-blocking (``Iallreduce``, ``Iallgather``, ...) and completed in a
deadline loop that tests the request, checks every few hundred milliseconds that the group's peers on this host
are still running, and gives up after ``timeout`` seconds (``MINDLAB_COMM_TIMEOUT``, default 20 s) with a
``CommunicationError`` that says which ranks never arrived and where they are (each rank publishes what it is doing
in a small node-shared memory board). The few calls MPI has no non-blocking form for (creating sub-groups, the
first handshake) run under a watchdog that aborts the job with a clear message. Once a collective has failed the
communicator is broken: an unhandled exception on any rank prints its traceback tagged with the rank and calls
``MPI_Abort`` (so the other ranks stop instead of waiting for it), and a broken rank that exits aborts the job
instead of entering ``MPI_Finalize`` (which would wait for the dead rank forever).

When ``MINDLAB_RUN_DIR`` is set (the launcher sets it), each rank records its pid and host there at start and its
failure, if any, so the launcher can say which rank died and why.
"""
import atexit
import json
import math
import os
import socket
import sys
import threading
import time
import traceback
import zlib

import numpy as np

from .base import (Communicator, CommunicationError, DEFAULT_TIMEOUT, check_axis, check_reduce_op, chunks,
                   mean_of_sum)

__all__ = ["MPICommunicator", "mpi_available", "launched_by_mpi"]

_KINDS = ("idle", "all_reduce", "all_gather", "reduce_scatter", "all_to_all", "broadcast", "barrier", "send", "recv",
          "sub_group", "finalize")
_CODE = {k: i for i, k in enumerate(_KINDS)}
_IDLE, _IN, _DONE, _FAILED = 0, 1, 2, 3
_HEADER = 512          # bytes of the shape/dtype header that precedes a broadcast or a point-to-point message
_CHECK_EVERY = 0.2     # seconds between liveness checks of the peers while waiting


def mpi_available():
    """Whether mpi4py imports (an MPI library is present)."""
    try:
        import mpi4py  # noqa: F401
        return True
    except ImportError:
        return False


def launched_by_mpi():
    """Whether this process was started by an MPI launcher (mpiexec / mindlab.run) with more than one rank."""
    for key in ("PMI_SIZE", "OMPI_COMM_WORLD_SIZE", "PMIX_SIZE", "MPI_LOCALNRANKS"):
        if key in os.environ:
            try:
                return int(os.environ[key]) >= 1
            except ValueError:
                return True
    return "PMI_RANK" in os.environ or "MINDLAB_RUN_DIR" in os.environ


def _mpi():
    try:
        import mpi4py
    except ImportError:
        raise RuntimeError("the mpi backend needs mpi4py and an MPI library: pip install 'mindlab[mpi]' "
                           "(installs mpi4py and mpich)") from None
    if "mpi4py.MPI" not in sys.modules:
        mpi4py.rc.finalize = False      # we finalize ourselves, under a watchdog (see _World.finalize)
    from mpi4py import MPI
    return MPI


def _timeout_from_env():
    v = os.environ.get("MINDLAB_COMM_TIMEOUT")
    if v is None:
        return DEFAULT_TIMEOUT
    try:
        t = float(v)
        if t > 0:
            return t
    except ValueError:
        pass
    raise ValueError(f"MINDLAB_COMM_TIMEOUT must be a positive number of seconds, got {v!r}")


def _alive(pid):
    """Whether a process on this host is still running (a zombie counts as dead)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] not in ("Z", "X")
    except OSError:
        return True


class _Watchdog:
    """Aborts the MPI job with ``message`` if the block does not finish within ``seconds`` (for blocking calls
    that MPI has no non-blocking form of)."""

    def __init__(self, world, seconds, message):
        self.world, self.seconds, self.message = world, seconds, message

    def __enter__(self):
        self.timer = threading.Timer(self.seconds, self._fire)
        self.timer.daemon = True
        self.timer.start()
        return self

    def _fire(self):
        self.world.abort(f"{self.message} did not complete within {self.seconds:g} s")

    def __exit__(self, *exc):
        self.timer.cancel()
        return False


class _World:
    """Process-wide state of the MPI job: who is where (pids, hosts), the shared status board, broken flag."""

    _instance = None

    def __init__(self, timeout):
        MPI = self.MPI = _mpi()
        self.own_finalize = __import__("mpi4py").rc.finalize is False
        self.comm = MPI.COMM_WORLD
        self.comm.Set_errhandler(MPI.ERRORS_RETURN)
        self.rank, self.size = self.comm.Get_rank(), self.comm.Get_size()
        self.timeout = timeout
        self.host = socket.gethostname()
        self.broken = None
        self.aborting = False
        self._row = None
        self.groups = {}           # group id -> world ranks, for messages
        self._record_start()
        self._connect_launcher()
        with _Watchdog(self, max(timeout, 30.0), f"rank {self.rank}: the start-up handshake of {self.size} ranks"):
            who = self.comm.allgather((self.host, os.getpid()))
            self.hosts = [h for h, _ in who]
            self.pids = [p for _, p in who]
            self.board = self._make_board()
        self.local_ranks = [r for r in range(self.size) if self.hosts[r] == self.host]
        try:
            ncpu = len(os.sched_getaffinity(0))
        except AttributeError:
            ncpu = os.cpu_count() or 1
        self.spin = len(self.local_ranks) <= ncpu     # busy-poll only when every rank has a core of its own
        self._install_hooks()

    @classmethod
    def get(cls, timeout=None):
        if cls._instance is None:
            cls._instance = cls(timeout or _timeout_from_env())
        return cls._instance

    # ------------------------------------------------------------------------ status board
    def _make_board(self):
        """An (size, 8) int64 table in node-shared memory, one row per rank: pid, state, collective code, group id,
        sequence number, time (ms). Only when all ranks share this node; else None (messages say less)."""
        if len(set(self.hosts)) != 1:
            return None
        try:
            nbytes = 8 * 8 * self.size if self.rank == 0 else 0
            self._win = self.MPI.Win.Allocate_shared(nbytes, 8, comm=self.comm)
            buf, _ = self._win.Shared_query(0)
            board = np.ndarray(buffer=buf, dtype=np.int64, shape=(self.size, 8))
            board[self.rank] = 0
            board[self.rank, 0] = os.getpid()
            self._row = memoryview(board[self.rank]).cast("B").cast("q")     # plain stores, no numpy per call
            self.comm.Barrier()      # every row zeroed before anyone reads one
            return board
        except Exception:           # noqa: BLE001 — the board only improves messages
            return None

    def mark(self, state, kind, gid, seq):
        """Publish what this rank is doing (a few stores into its row of the shared board)."""
        mv = self._row
        if mv is not None:
            mv[2], mv[3], mv[4], mv[5] = _CODE[kind], gid, seq, int(time.time() * 1000)
            mv[1] = state

    def describe(self, r, gid, seq, kind):
        """Where rank ``r`` is, for a message about collective ``kind`` #``seq`` on group ``gid``."""
        if self.hosts[r] == self.host and not _alive(self.pids[r]):
            return f"rank {r} (pid {self.pids[r]} on {self.hosts[r]}) is no longer running"
        if self.board is None:
            return f"rank {r} (pid {self.pids[r]} on {self.hosts[r]}) did not arrive"
        _, state, code, g, s, t_ms = (int(v) for v in self.board[r][:6])
        ago = max(0.0, time.time() - t_ms / 1000.0) if t_ms else 0.0
        if state == _IDLE or not 0 <= code < len(_KINDS):
            return f"rank {r} (pid {self.pids[r]}) has not called any collective since start-up"
        if _KINDS[code] == "finalize":
            return f"rank {r} (pid {self.pids[r]}) finished its program and is waiting in MPI_Finalize"
        what = f"{_KINDS[code]} #{s} on group {self.group_name(g)}"
        if state == _IN:
            return f"rank {r} (pid {self.pids[r]}) is waiting in {what} (for {ago:.1f} s)"
        if state == _FAILED:
            return f"rank {r} (pid {self.pids[r]}) failed in {what}"
        return f"rank {r} (pid {self.pids[r]}) last finished {what} {ago:.1f} s ago and has not called {kind} #{seq}"

    def arrived(self, r, gid, seq, kind):
        if self.board is None:
            return False
        _, state, code, g, s = (int(v) for v in self.board[r][:5])
        return g == gid and s == seq and code == _CODE[kind] and state in (_IN, _DONE, _FAILED) \
            or (g == gid and s > seq)

    def group_name(self, gid):
        ranks = self.groups.get(gid)
        return f"[{', '.join(map(str, ranks))}]" if ranks is not None else f"#{gid:x}"

    def dead_peers(self, ranks):
        return [r for r in ranks if r != self.rank and self.hosts[r] == self.host and not _alive(self.pids[r])]

    # --------------------------------------------------------------------- failure handling
    def fail(self, message):
        """Mark the job broken and raise CommunicationError(message)."""
        self.broken = message
        if self.board is not None:
            self.board[self.rank, 1] = _FAILED
        self._record_error("CommunicationError", message, communication=True)
        raise CommunicationError(message)

    def abort(self, message, code=1):
        """Print ``message`` tagged with this rank and abort the whole MPI job."""
        try:
            sys.stderr.write(f"[mindlab rank {self.rank}/{self.size} pid {os.getpid()}] {message}; aborting the MPI "
                             f"job\n")
            sys.stderr.flush()
            self._record_error("Abort", message, communication=True)
        finally:
            self.aborting = True
            self.comm.Abort(code)
            os._exit(code)

    def _install_hooks(self):
        previous = sys.excepthook

        def excepthook(etype, value, tb):
            if self.size == 1:
                return previous(etype, value, tb)
            text = "".join(traceback.format_exception(etype, value, tb))
            tag = f"[mindlab rank {self.rank}/{self.size} pid {os.getpid()}] "
            tagged = "".join(tag + line + "\n" for line in text.rstrip("\n").split("\n"))
            if not issubclass(etype, CommunicationError):   # recorded first: mpiexec may drop our stderr
                self._record_error(etype.__name__, str(value), communication=False, traceback=tagged)
            sys.stderr.write(tagged)
            sys.stderr.flush()
            self.aborting = True
            self.comm.Abort(1)       # the other ranks would otherwise wait for this one
            os._exit(1)

        sys.excepthook = excepthook
        atexit.register(self.finalize)

    def finalize(self):
        """At exit: abort if the job is broken, else MPI_Finalize. Finalizing may wait for ranks that are still
        working (legitimately, e.g. rank 0 saving a checkpoint), so there is no deadline here; a watcher aborts
        only if a peer on this host died meanwhile (one elsewhere is the launcher's to notice)."""
        MPI = self.MPI
        if MPI.Is_finalized() or self.aborting:
            return
        if self.broken is not None and self.size > 1:
            self.abort(f"exiting after a communication failure ({self.broken.splitlines()[0]})")
        d = os.environ.get("MINDLAB_RUN_DIR")
        if d:
            _write_json(os.path.join(d, f"rank{self.rank}.exit.json"), {"rank": self.rank, "time": time.time()})
        self.mark(_IN, "finalize", 0, 0)
        if self.own_finalize and MPI.Is_initialized():
            done = threading.Event()

            def watch():
                while not done.wait(_CHECK_EVERY):
                    dead = self.dead_peers(range(self.size))
                    if dead:
                        self.abort(f"rank {self.rank}: MPI_Finalize waits for rank(s) {dead}, which are no longer "
                                   f"running")

            threading.Thread(target=watch, daemon=True).start()
            try:
                # the shared status board is not freed: MPI_Win_free is collective and would wait for every rank
                MPI.Finalize()
            finally:
                done.set()

    # ------------------------------------------------------------------- launcher records
    def _record_start(self):
        d = os.environ.get("MINDLAB_RUN_DIR")
        if d:
            _write_json(os.path.join(d, f"rank{self.rank}.json"),
                        {"rank": self.rank, "size": self.size, "pid": os.getpid(), "host": socket.gethostname()})

    def _connect_launcher(self):
        """Hold a connection to the launcher's socket for as long as this process lives (its closing tells the
        launcher this rank ended, even when it was killed)."""
        path = os.environ.get("MINDLAB_RUN_SOCKET")
        self._launcher = None
        if path:
            try:
                s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
                s.connect(path)
                s.sendall(f"{self.rank} {os.getpid()}\n".encode())
                self._launcher = s
            except OSError:
                pass          # launcher on another host, or gone: only the messages get less precise

    def _record_error(self, etype, message, communication, traceback=None):
        d = os.environ.get("MINDLAB_RUN_DIR")
        if d:
            path = os.path.join(d, f"rank{self.rank}.error.json")
            if not os.path.exists(path):
                _write_json(path, {"rank": self.rank, "type": etype, "message": message,
                                   "communication": communication, "time": time.time(),
                                   "traceback": traceback})


def _write_json(path, obj):
    try:
        tmp = path + ".tmp"
        with open(tmp, "w") as f:
            json.dump(obj, f)
        os.replace(tmp, path)
    except OSError:
        pass


def _contiguous(x):
    """``x`` as a C-contiguous array of its own shape (``np.ascontiguousarray`` turns 0-d arrays into 1-d ones)."""
    x = np.asarray(x)
    return np.ascontiguousarray(x).reshape(x.shape)


class MPICommunicator(Communicator):
    """An MPI communicator (a group of world ranks) with deadline-bounded collectives on numpy arrays."""

    backend = "mpi"

    def __init__(self, _comm=None, _ranks=None, timeout=None):
        self._world = _World.get(timeout)
        self._comm = _comm if _comm is not None else self._world.comm
        self._comm.Set_errhandler(self._world.MPI.ERRORS_RETURN)
        self._init_group(_ranks if _ranks is not None else range(self._world.size), self._comm.Get_rank(),
                         timeout if timeout is not None else self._world.timeout)
        self._gid = zlib.crc32(repr(self._ranks).encode()) & 0x7FFFFFFF
        self._world.groups[self._gid] = self._ranks
        self._seq = 0
        self._subs = {}
        self._buf = None

    @classmethod
    def world(cls, timeout=None):
        """The communicator over all ranks of the job (initializes MPI on first use)."""
        return cls(timeout=timeout)

    @property
    def mpi_comm(self):
        """The underlying mpi4py communicator."""
        return self._comm

    # ---------------------------------------------------------------------------- the wait loop
    def _start(self, kind):
        w = self._world
        if w.broken is not None:
            raise CommunicationError(f"rank {w.rank}: cannot start {kind}: the communicator is broken by an earlier "
                                     f"failure ({w.broken.splitlines()[0]})")
        seq = self._seq
        self._seq += 1
        w.mark(_IN, kind, self._gid, seq)
        return seq

    def _desc(self, kind, seq):
        return f"{kind} #{seq} on group {self._world.group_name(self._gid)}"

    def _wait(self, start, kind, seq):
        """Start the requests (``start()`` returns them) and complete them, or raise CommunicationError when a
        peer died or the deadline passed. MPI refusing to start them (an operation undefined for the dtype) is
        a TypeError, the same on every rank, and leaves the communicator usable."""
        w, MPI = self._world, self._world.MPI
        try:
            reqs = start()
        except MPI.Exception as e:
            w.mark(_DONE, kind, self._gid, seq)
            raise TypeError(f"rank {w.rank}: MPI cannot run {kind} on these arrays: "
                            f"{e.Get_error_string().splitlines()[0]}") from None
        testall = MPI.Request.Testall
        try:
            polls = 64 if w.spin else 1
            for _ in range(polls):          # the common case: done at once, or after a short spin
                if testall(reqs):
                    w.mark(_DONE, kind, self._gid, seq)
                    return
            t0 = time.monotonic()
            deadline = t0 + self._timeout
            next_check = t0 + _CHECK_EVERY
            while not testall(reqs):
                now = time.monotonic()
                if now >= next_check:
                    next_check = now + _CHECK_EVERY
                    dead = w.dead_peers(self._ranks)
                    if dead:
                        why = "; ".join(w.describe(r, self._gid, seq, kind) for r in dead)
                        w.fail(f"rank {w.rank}: {self._desc(kind, seq)} cannot complete: {why}")
                if now >= deadline:
                    missing = [r for r in self._ranks if r != w.rank and not w.arrived(r, self._gid, seq, kind)]
                    why = "; ".join(w.describe(r, self._gid, seq, kind) for r in missing) or \
                        "every rank arrived but the transfer did not finish"
                    w.fail(f"rank {w.rank}: {self._desc(kind, seq)} did not complete within {self._timeout:g} s "
                           f"(set MINDLAB_COMM_TIMEOUT to wait longer): {why}")
                if now - t0 < 0.05:
                    os.sched_yield()
                else:
                    time.sleep(0.001)
        except MPI.Exception as e:
            w.fail(f"rank {w.rank}: {self._desc(kind, seq)} failed in MPI: {e.Get_error_string()}")
        w.mark(_DONE, kind, self._gid, seq)

    # ---------------------------------------------------------------------------- collectives
    def _scratch(self, shape, dtype):
        """A receive buffer of ``shape`` in memory this communicator keeps (results are copied out of it): MPI
        works much faster on memory it has seen before (a fresh 2 MB buffer per all_reduce made it ~3x slower
        here, measured on 2 ranks)."""
        nbytes = math.prod(shape) * np.dtype(dtype).itemsize
        if self._buf is None or self._buf.nbytes < nbytes:
            self._buf = np.empty(max(nbytes, 64), dtype=np.uint8)
        return self._buf[:nbytes].view(dtype).reshape(shape)

    def _op(self, op, dtype):
        MPI = self._world.MPI
        if dtype == np.bool_:        # MPI has no arithmetic on C_BOOL: sum/max are "or", min/prod are "and"
            return MPI.LOR if op in ("sum", "max") else MPI.LAND
        return {"sum": MPI.SUM, "mean": MPI.SUM, "max": MPI.MAX, "min": MPI.MIN, "prod": MPI.PROD}[op]

    def all_reduce(self, x, op="sum"):
        check_reduce_op(op, "all_reduce")
        x = _contiguous(x)
        if op == "mean" and x.dtype == np.bool_:
            x = x.astype(np.float64)          # the fraction of ranks holding True
        out = self._scratch(x.shape, x.dtype)
        seq = self._start("all_reduce")
        self._wait(lambda: [self._comm.Iallreduce(x, out, op=self._op(op, x.dtype))], "all_reduce", seq)
        return mean_of_sum(out, self.size) if op == "mean" else out.copy()

    def all_gather(self, x, axis=0):
        x = np.asarray(x)
        axis = check_axis(x, axis, "all_gather")
        send = np.ascontiguousarray(np.moveaxis(x, axis, 0)) if x.ndim else x.reshape(1)
        recv = self._scratch((self.size,) + send.shape, x.dtype)
        seq = self._start("all_gather")
        self._wait(lambda: [self._comm.Iallgather(send, recv)], "all_gather", seq)
        if x.ndim == 0:
            return recv.reshape(self.size).copy()
        out = recv.reshape((self.size * send.shape[0],) + send.shape[1:])
        return np.moveaxis(out, 0, axis).copy()

    def reduce_scatter(self, x, axis=0, op="sum"):
        check_reduce_op(op, "reduce_scatter")
        if op == "mean" and np.asarray(x).dtype == np.bool_:
            x = np.asarray(x, dtype=np.float64)
        parts = chunks(x, axis, self.size, "reduce_scatter")
        send = np.ascontiguousarray(np.stack(parts))
        recv = self._scratch(parts[0].shape, send.dtype)
        seq = self._start("reduce_scatter")
        self._wait(lambda: [self._comm.Ireduce_scatter_block(send, recv, op=self._op(op, send.dtype))],
                   "reduce_scatter", seq)
        return mean_of_sum(recv, self.size) if op == "mean" else recv.copy()

    def all_to_all(self, x, split_axis=0, concat_axis=0):
        parts = chunks(x, split_axis, self.size, "all_to_all")
        check_axis(x, concat_axis, "all_to_all")
        send = np.ascontiguousarray(np.stack(parts))
        recv = self._scratch(send.shape, send.dtype)
        seq = self._start("all_to_all")
        self._wait(lambda: [self._comm.Ialltoall(send, recv)], "all_to_all", seq)
        return np.concatenate(list(recv), axis=concat_axis)

    def _header(self, x):
        h = np.zeros(_HEADER, dtype=np.uint8)
        if x is not None:
            text = json.dumps({"shape": list(x.shape), "dtype": x.dtype.str}).encode()
            if len(text) > _HEADER:
                raise ValueError(f"array of {x.ndim} dims is too large a header to send")
            h[:len(text)] = np.frombuffer(text, dtype=np.uint8)
        return h

    @staticmethod
    def _unheader(h):
        text = bytes(h).rstrip(b"\0").decode()
        meta = json.loads(text)
        return np.empty(meta["shape"], dtype=np.dtype(meta["dtype"]))

    def broadcast(self, x, root=0):
        self._check_peer("broadcast", "root", root)
        mine = self._rank == root
        if mine:
            if x is None:
                raise ValueError("broadcast: the root rank must pass an array")
            x = _contiguous(x)
        h = self._header(x if mine else None)
        seq = self._start("broadcast")
        self._wait(lambda: [self._comm.Ibcast(h, root=root)], "broadcast", seq)
        buf = x.copy() if mine else self._unheader(h)
        seq = self._start("broadcast")
        self._wait(lambda: [self._comm.Ibcast(buf, root=root)], "broadcast", seq)
        return buf

    def barrier(self):
        seq = self._start("barrier")
        self._wait(lambda: [self._comm.Ibarrier()], "barrier", seq)

    def send(self, x, dest, tag=0):
        self._check_peer("send", "dest", dest)
        x = _contiguous(x)
        seq = self._start("send")
        self._wait(lambda: [self._comm.Isend(self._header(x), dest, tag=2 * tag),
                    self._comm.Isend(x, dest, tag=2 * tag + 1)], "send", seq)

    def recv(self, source, tag=0):
        self._check_peer("recv", "source", source)
        h = np.zeros(_HEADER, dtype=np.uint8)
        seq = self._start("recv")
        self._wait(lambda: [self._comm.Irecv(h, source, tag=2 * tag)], "recv", seq)
        buf = self._unheader(h)
        self._wait(lambda: [self._comm.Irecv(buf, source, tag=2 * tag + 1)], "recv", seq)
        return buf

    # ----------------------------------------------------------------------------- sub-groups
    def sub_group(self, world_ranks):
        g = self._sub_group_ranks(world_ranks, self._ranks, f"members of {list(self._ranks)}")
        if g not in self._subs:
            positions = [self._ranks.index(r) for r in g]
            grp = self._comm.Get_group().Incl(positions)
            seq = self._start("sub_group")
            with _Watchdog(self._world, self._timeout,
                           f"rank {self._world.rank}: creating the sub-group {list(g)} (every member must call it)"):
                new = self._comm.Create_group(grp)
            self._world.mark(_DONE, "sub_group", self._gid, seq)
            grp.Free()
            self._subs[g] = MPICommunicator(new, g, self._timeout)
        return self._subs[g]
