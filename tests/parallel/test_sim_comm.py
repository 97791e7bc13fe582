"""The sim backend: list API and SPMD threads against numpy; failures are clear and never hang."""
import numpy as np
import pytest

from mindlab import communication
from mindlab.parallel import DeviceMesh, SimWorld, CommunicationError

from .mpi_worker import data, spmd_collectives


@pytest.fixture(autouse=True)
def _release():
    yield
    communication.release()


def test_list_api_against_numpy():
    w = SimWorld(4)
    xs = [data(r, (8, 3)) for r in range(4)]
    for out in w.all_reduce(xs):
        np.testing.assert_array_equal(out, sum(xs))
    for out in w.all_reduce(xs, op="max"):
        np.testing.assert_array_equal(out, np.maximum.reduce(xs))
    np.testing.assert_array_equal(w.all_reduce(xs, op="mean")[2], sum(xs) / 4)
    for out in w.all_gather(xs, axis=1):
        np.testing.assert_array_equal(out, np.concatenate(xs, axis=1))
    rs = w.reduce_scatter(xs, axis=0)
    for r in range(4):
        np.testing.assert_array_equal(rs[r], sum(xs)[2 * r:2 * r + 2])
    a2a = w.all_to_all(xs, split_axis=0, concat_axis=1)
    for r in range(4):
        np.testing.assert_array_equal(a2a[r], np.concatenate([x[2 * r:2 * r + 2] for x in xs], axis=1))
    bc = w.broadcast([None, xs[1], None, None], root=1)
    assert all(np.array_equal(b, xs[1]) for b in bc)
    # a sub-group, by world rank
    g = w.all_gather([xs[0], xs[2]], axis=0, group=(0, 2))
    np.testing.assert_array_equal(g[1], np.concatenate([xs[0], xs[2]]))
    w.send(xs[3], 3, 0, tag=5)
    np.testing.assert_array_equal(w.recv(3, 0, tag=5), xs[3])
    assert [e["kind"] for e in w.log][:3] == ["all_reduce", "all_reduce", "all_reduce"]


def test_list_api_errors():
    w = SimWorld(4)
    with pytest.raises(ValueError, match="3 arrays given for a group of 4 ranks"):
        w.all_reduce([np.ones(2)] * 3)
    with pytest.raises(ValueError, match=r"rank 2 gives float64\[3\] but rank 0 gives float64\[2\]"):
        w.all_reduce([np.ones(2), np.ones(2), np.ones(3), np.ones(2)])
    with pytest.raises(ValueError, match="length 6, which is not divisible by the group size 4"):
        w.reduce_scatter([np.ones(6)] * 4)
    with pytest.raises(ValueError, match="op must be one of"):
        w.all_reduce([np.ones(2)] * 4, op="avg")
    with pytest.raises(ValueError, match="group"):
        w.all_reduce([np.ones(2)] * 2, group=(0, 7))


def test_spmd_threads_run_every_collective():
    results = SimWorld(4).run(lambda: spmd_collectives(communication.get_comm()))
    assert len(results) == 4
    xs = [data(k, (8, 3)) for k in range(4)]
    np.testing.assert_array_equal(results[3]["all_reduce_sum"], sum(xs))


def test_spmd_communication_api_and_subgroups():
    mesh = DeviceMesh((2, 2), ("dp", "mp"))

    def fn():
        communication.init()                        # a no-op inside a sim rank
        comm = communication.get_comm()
        sub = comm.group_along(mesh, "mp")
        return (communication.get_rank(), communication.get_group_size(), sub.ranks,
                sub.all_reduce(np.array([comm.rank])))

    out = SimWorld(4).run(fn)
    assert [o[0] for o in out] == [0, 1, 2, 3] and all(o[1] == 4 for o in out)
    assert out[2][2] == (2, 3) and out[2][3].tolist() == [5]
    assert out[0][3].tolist() == [1]


def test_a_failing_rank_releases_the_others():
    def fn():
        comm = communication.get_comm()
        if comm.rank == 2:
            raise ValueError("rank 2 broke")
        return comm.all_reduce(np.ones(2))

    with pytest.raises(ValueError, match="rank 2 broke") as info:
        SimWorld(4).run(fn)
    assert any("raised on sim rank 2 of 4" in n for n in info.value.__notes__)


def test_a_rank_that_never_arrives_times_out_with_a_clear_message():
    def fn():
        comm = communication.get_comm()
        if comm.rank == 3:
            comm.barrier()                         # a different collective than the others' all_reduce...
            return None
        return comm.all_reduce(np.ones(2))

    with pytest.raises(CommunicationError, match="SPMD programs diverged"):
        SimWorld(4, timeout=2).run(fn)

    def skip():
        comm = communication.get_comm()
        if comm.rank != 1:
            return comm.all_gather(np.ones(2))     # rank 1 never calls it
        return None

    with pytest.raises(CommunicationError, match=r"did not complete within 0.5 s; never arrived: rank 1 \(finished"):
        SimWorld(3, timeout=0.5).run(skip)


def test_single_process_init():
    communication.init()
    assert communication.get_rank() == 0 and communication.get_group_size() == 1
    assert communication.get_comm().all_reduce(np.array([3.0])).tolist() == [3.0]
    with pytest.raises(RuntimeError, match="already initialized with backend 'sim'"):
        communication.init("mpi")
    communication.release()
    with pytest.raises(RuntimeError, match="call mindlab.communication.init\\(\\) first"):
        communication.get_rank()
    with pytest.raises(RuntimeError, match="'nccl' is not available"):
        communication.init("nccl")
    with pytest.raises(ValueError, match="backend_name must be one of"):
        communication.init("gloo")


def test_named_groups_in_sim_ranks():
    def fn():
        communication.create_group("upper", [2, 3])
        if communication.get_rank() < 2:
            with pytest.raises(ValueError, match="rank 0 is not a member of group 'upper'|rank 1 is not a member"):
                communication.get_comm("upper")
            return None
        comm = communication.get_comm("upper")
        return (communication.get_rank("upper"), communication.get_group_size("upper"),
                communication.get_world_rank_from_group_rank("upper", 1),
                communication.get_group_rank_from_world_rank(3, "upper"),
                comm.all_reduce(np.array([communication.get_rank()])).tolist())

    for _ in range(2):          # twice: a second run must not see the first run's communicators
        out = SimWorld(4).run(fn)
        assert out[:2] == [None, None]
        assert out[2] == (0, 2, 3, 1, [5]) and out[3] == (1, 2, 3, 1, [5])


def test_a_recv_that_gets_nothing_times_out_and_a_failure_releases_waiters():
    def lonely():
        comm = communication.get_comm()
        if comm.rank == 1:
            return comm.recv(0, tag=5)             # rank 0 never sends
        return None

    with pytest.raises(CommunicationError, match=r"rank 1: recv\(source=0, tag=5\) got no message within 0.5 s; "
                                                 r"rank 0 is .* \(for [0-9.]+ s\)"):
        SimWorld(2, timeout=0.5).run(lonely)

    released = []

    def broken():
        comm = communication.get_comm()
        if comm.rank == 0:
            raise ValueError("rank 0 broke")
        try:
            comm.recv(0) if comm.rank == 1 else comm.all_reduce(np.ones(2))
        except CommunicationError as e:
            released.append(str(e))

    with pytest.raises(ValueError, match="rank 0 broke"):
        SimWorld(3, timeout=20).run(broken)
    assert sorted(released) == [
        "rank 1: recv(source=0, tag=0) cannot complete: rank 0 failed with ValueError: rank 0 broke",
        "rank 2: all_reduce(op='sum') on group [0, 1, 2] cannot complete: rank 0 failed with ValueError: rank 0 broke"]
