"""Run by tests/parallel/test_mpi.py under mpiexec: ``mpi_worker.py MODE [args]``; every rank checks its own
results against numpy and prints ``OK rank R ...``; failures raise (the mpi backend then aborts the job).

Modes:
  collectives        every collective of the Communicator interface, world and sub-groups, against numpy
  all                collectives, sim_equal, redistribute 2x2 4 in one job
  redistribute SHAPE.. every pair of layouts of a (4, 4) tensor on mesh SHAPE (e.g. 2x2), run SPMD, checked exactly
  sim_equal          the same SPMD function on the sim backend and on MPI gives the same results
  hello              prints rank and group size through mindlab.communication
  die                the last rank prints READY <pid> and sleeps; the others wait in an all_reduce (a test kills it)
  straggle           the last rank sleeps instead of joining an all_reduce (the others must time out)
  early_exit         the last rank's program ends without joining an all_reduce (the others must time out)
  vanish             the last rank exits with status 0 in the middle; the others wait in an all_reduce
  raise              rank 1 raises ValueError; the others wait in an all_reduce
  calibrate          calibrate() over the ranks; rank 0 prints the profile as JSON
"""
import json
import os
import sys
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))

from mindlab import communication  # noqa: E402
from mindlab.parallel import DeviceMesh, SimWorld, calibrate, redistribute  # noqa: E402


def data(rank, shape, dtype=np.float64, seed=0):
    """A deterministic array for ``rank`` (integer-valued, so sums are exact)."""
    rng = np.random.default_rng(seed * 1000 + rank)
    return rng.integers(-50, 50, size=shape).astype(dtype)


def check(name, got, want):
    if not (np.shape(got) == np.shape(want) and np.array_equal(got, want)):
        raise AssertionError(f"{name}: got {got!r}, want {want!r}")


def spmd_collectives(comm):
    """Every collective on ``comm`` (an SPMD communicator); returns the results for cross-backend comparison."""
    r, p = comm.rank, comm.size
    xs = [data(k, (p * 2, 3)) for k in range(p)]
    x = xs[r]
    out = {}
    for op, fn in (("sum", sum), ("max", lambda a: np.maximum.reduce(a)), ("min", lambda a: np.minimum.reduce(a)),
                   ("prod", lambda a: np.multiply.reduce(a)), ("mean", lambda a: sum(a) / p)):
        got = comm.all_reduce(x, op=op)
        check(f"all_reduce {op}", got, fn(xs))
        out[f"all_reduce_{op}"] = got
    for axis in (0, 1):
        got = comm.all_gather(x, axis=axis)
        check(f"all_gather axis {axis}", got, np.concatenate(xs, axis=axis))
        out[f"all_gather_{axis}"] = got
    got = comm.reduce_scatter(x, axis=0)
    check("reduce_scatter", got, np.split(sum(xs), p, axis=0)[r])
    out["reduce_scatter"] = got
    got = comm.all_to_all(x, split_axis=0, concat_axis=1)
    check("all_to_all", got, np.concatenate([np.split(xs[k], p, axis=0)[r] for k in range(p)], axis=1))
    out["all_to_all"] = got
    got = comm.broadcast(x if r == p - 1 else None, root=p - 1)
    check("broadcast", got, xs[p - 1])
    out["broadcast"] = got
    i32 = comm.all_reduce(np.arange(4, dtype=np.int32) * (r + 1))
    check("all_reduce int32", i32, np.arange(4, dtype=np.int32) * sum(range(1, p + 1)))
    if i32.dtype != np.int32:
        raise AssertionError(f"all_reduce changed int32 to {i32.dtype}")
    bs = [xk > 0 for xk in xs]
    check("all_reduce bool sum (or)", comm.all_reduce(bs[r]), np.logical_or.reduce(bs))
    check("all_reduce bool min (and)", comm.all_reduce(bs[r], op="min"), np.logical_and.reduce(bs))
    check("all_reduce bool mean", comm.all_reduce(bs[r], op="mean"), sum(b.astype(np.float64) for b in bs) / p)
    out["bool_mean"] = comm.all_reduce(bs[r], op="mean")
    check("all_reduce int32 mean (floor)", comm.all_reduce(np.array([r, 7 * r + 1], np.int32), op="mean"),
          np.array([sum(range(p)) // p, sum(7 * k + 1 for k in range(p)) // p], np.int32))
    argument_errors(comm)
    # point to point: a ring shift
    comm.send(x * 10, (r + 1) % p, tag=7)
    got = comm.recv((r - 1) % p, tag=7)
    check("send/recv", got, xs[(r - 1) % p] * 10)
    out["sendrecv"] = got
    comm.barrier()
    return out


def expect_error(fn, *parts):
    """``fn()`` raises a ValueError whose message contains every one of ``parts``."""
    try:
        fn()
    except ValueError as exc:
        if not all(part in str(exc) for part in parts):
            raise AssertionError(f"error message {str(exc)!r} lacks one of {parts}") from None
        return
    raise AssertionError(f"no ValueError (wanted one naming {parts})")


def argument_errors(comm):
    """The checks every backend shares (base.Communicator): refused on the calling rank before any traffic, so
    the group stays usable."""
    p = comm.size
    expect_error(lambda: comm.broadcast(np.zeros(2), root=p), f"broadcast: root {p} is not a rank of a group of {p}")
    expect_error(lambda: comm.send(np.zeros(2), -1), f"send: dest -1 is not a rank of a group of {p}")
    expect_error(lambda: comm.recv(p + 3), f"recv: source {p + 3} is not a rank of a group of {p}")
    others = [k for k in comm.ranks if k != comm.world_rank]
    expect_error(lambda: comm.sub_group(others), f"sub_group: rank {comm.world_rank} calls sub_group",
                 "but is not a member")
    expect_error(lambda: comm.sub_group([comm.world_rank, comm.world_rank]), "sub_group:", "must list distinct")
    expect_error(lambda: comm.all_reduce(np.zeros(2), op="median"), "all_reduce: op must be one of")
    if p > 1:
        expect_error(lambda: comm.reduce_scatter(np.zeros((p + 1, 2))), "reduce_scatter: dim 0 of shape",
                     f"has length {p + 1}, which is not divisible by the group size {p}")
    comm.barrier()


def mode_collectives():
    communication.init()
    comm = communication.get_comm()
    spmd_collectives(comm)
    # sub-groups along the axes of a 2 x (p/2) mesh
    p = comm.size
    mesh = DeviceMesh((2, p // 2), ("a", "b"))
    for axis in ("a", "b"):
        sub = comm.group_along(mesh, axis)
        group = mesh.group_of(comm.rank, axis)
        if sub.ranks != group or sub.rank != group.index(comm.rank):
            raise AssertionError(f"group_along {axis}: {sub.ranks} rank {sub.rank}, want {group}")
        got = sub.all_gather(np.array([comm.rank]))
        check(f"sub-group {axis} all_gather", got, np.array(group))
    communication.create_group("evens", [r for r in range(p) if r % 2 == 0])
    if comm.rank % 2 == 0:
        check("named group", communication.get_comm("evens").all_reduce(np.array([1])), np.array([(p + 1) // 2]))
        if communication.get_rank("evens") != comm.rank // 2:
            raise AssertionError("get_rank(group)")
    print(f"OK rank {comm.rank} collectives", flush=True)


def mode_redistribute(*shape_texts):
    for text in shape_texts:
        redistribute_all_pairs(text)


def redistribute_all_pairs(shape_text):
    from layouts_util import all_layouts
    communication.init()
    comm = communication.get_comm()
    mesh = DeviceMesh(tuple(int(s) for s in shape_text.split("x")))
    if mesh.size != comm.size:
        raise AssertionError(f"mesh {mesh} needs {mesh.size} ranks, have {comm.size}")
    shape = (4, 4)
    full = np.arange(16, dtype=np.float64).reshape(shape)
    layouts = all_layouts(mesh, shape)
    pairs = 0
    for src in layouts:
        local = src.local(full, comm.rank)
        for dst in layouts:
            out = redistribute(src, dst).run(local, comm)
            got = comm.all_gather(out[None], axis=0)            # every piece, to assemble the tensor
            check(f"{src!r} -> {dst!r}", dst.assemble(list(got)), full)
            pairs += 1
    print(f"OK rank {comm.rank} redistribute {shape_text}: {pairs} pairs", flush=True)


def mode_sim_equal():
    communication.init()
    comm = communication.get_comm()
    mine = spmd_collectives(comm)
    sims = SimWorld(comm.size).run(lambda: spmd_collectives(communication.get_comm()))
    for key, val in mine.items():
        check(f"sim vs mpi {key}", sims[comm.rank][key], val)
    print(f"OK rank {comm.rank} sim_equal {len(mine)}", flush=True)


def mode_all():
    """collectives, sim_equal and redistribute 2x2 4 in one job (one start-up instead of four)."""
    mode_collectives()
    mode_sim_equal()
    mode_redistribute("2x2", "4")


def mode_hello():
    communication.init()
    print(f"hello from rank {communication.get_rank()} of {communication.get_group_size()}", flush=True)


def _one_rank_then_all_reduce(misbehave, rank=-1):
    """The failure modes: every rank meets at a barrier, then rank ``rank`` (-1: the last) calls ``misbehave()``
    (which may never return; returning "leave" ends that rank's program) and the ranks join an all_reduce."""
    communication.init()
    comm = communication.get_comm()
    comm.barrier()
    if comm.rank == rank % comm.size and misbehave() == "leave":
        return comm
    comm.all_reduce(np.ones(3))
    return comm


def mode_die():
    def ready_then_sleep():
        print(f"READY {os.getpid()}", flush=True)
        time.sleep(120)
    comm = _one_rank_then_all_reduce(ready_then_sleep)
    print(f"rank {comm.rank} finished although a rank was killed", flush=True)


def mode_straggle():
    _one_rank_then_all_reduce(lambda: time.sleep(120))


def mode_early_exit():
    _one_rank_then_all_reduce(lambda: "leave")     # the last rank's program ends without joining the all_reduce


def mode_vanish():
    _one_rank_then_all_reduce(lambda: os._exit(0))  # leaves without a word (and with a success status, so mpiexec
                                                    # keeps the others)


def mode_raise():
    def boom():
        raise ValueError("boom on purpose")
    _one_rank_then_all_reduce(boom, rank=1)


def mode_calibrate():
    communication.init()
    comm = communication.get_comm()
    prof = calibrate(comm, repeats=3)
    if comm.rank == 0:
        print("PROFILE " + json.dumps(prof.to_json()), flush=True)


if __name__ == "__main__":
    mode = sys.argv[1]
    globals()[f"mode_{mode}"](*sys.argv[2:])
