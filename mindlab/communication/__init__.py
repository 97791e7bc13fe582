"""Collective communication, MindSpore's ``mindspore.communication`` API over mindlab's communicators.

>>> from mindlab.communication import init, get_rank, get_group_size
>>> init()                       # "mpi" under mpiexec / python -m mindlab.run, else a single-rank "sim" world
>>> get_rank(), get_group_size()
(0, 1)

Backends: ``"mpi"`` (mpi4py; start ranks with ``python -m mindlab.run -n 4 script.py``), ``"sim"`` (in-process
virtual devices; inside ``SimWorld.run`` every thread sees its own rank). ``init()`` without a name picks
``MINDLAB_COMM_BACKEND`` when set, else ``"mpi"`` when an MPI launcher started this process, else ``"sim"``.
``get_comm()`` returns the ``Communicator`` itself (all_reduce, all_gather, ...).
"""
import os
import socket
import weakref

from ..parallel.comm import (CommunicationError, MPICommunicator, SimWorld, current_comm, launched_by_mpi,
                             mpi_available)

__all__ = ["init", "release", "is_initialized", "get_rank", "get_group_size", "get_local_rank",
           "get_local_rank_size", "get_comm", "create_group", "destroy_group", "get_world_rank_from_group_rank",
           "get_group_rank_from_world_rank", "GlobalComm", "HCCL_WORLD_COMM_GROUP", "NCCL_WORLD_COMM_GROUP",
           "MCCL_WORLD_COMM_GROUP", "CommunicationError", "BACKENDS"]

BACKENDS = ("sim", "mpi")
_LATER = {"nccl": "it needs a CUDA GPU and cupy with NCCL (pip install 'mindlab[gpu]')",
          "hccl": "there is no Ascend hardware here (the Ascend simulator runs in one process: use 'sim')",
          "mccl": "mccl is MindSpore's CPU backend; mindlab's is 'mpi'"}

HCCL_WORLD_COMM_GROUP = "hccl_world_group"
NCCL_WORLD_COMM_GROUP = "nccl_world_group"
MCCL_WORLD_COMM_GROUP = "mccl_world_group"
_WORLD_NAMES = {None, "world", HCCL_WORLD_COMM_GROUP, NCCL_WORLD_COMM_GROUP, MCCL_WORLD_COMM_GROUP}


class GlobalComm:
    """The name of the world group and the backend in use (MindSpore's ``GlobalComm``)."""
    WORLD_COMM_GROUP = "world"
    BACKEND = None
    INITED = False


# comms: world communicator -> {group name: its sub-communicator}; weak, so a finished SimWorld.run's per-thread
# communicators (and their groups) go away with it
_state = {"backend": None, "world": None, "groups": {}, "comms": weakref.WeakKeyDictionary()}


def init(backend_name=None):
    """Initialize communication. ``backend_name``: ``"mpi"``, ``"sim"`` or None (see the module docstring).
    Calling it again with the same backend does nothing; with another backend raises RuntimeError. Inside
    ``SimWorld.run`` each thread already is a rank of that world: ``init()`` / ``init("sim")`` do nothing."""
    if current_comm() is not None and backend_name in (None, "sim"):
        return
    if backend_name is None:
        backend_name = os.environ.get("MINDLAB_COMM_BACKEND")
    if backend_name is None and launched_by_mpi():
        if not mpi_available():
            raise RuntimeError("init: an MPI launcher started this process but mpi4py is not installed: "
                               "pip install 'mindlab[mpi]' (or call init('sim') for one independent rank)")
        backend_name = "mpi"
    if backend_name is None:
        backend_name = "sim"
    nccl = backend_name == "nccl" and _nccl_available()   # GPUs: the nccl communicator (parallel/comm/nccl.py)
    if backend_name in _LATER and not nccl:
        raise RuntimeError(f"init: backend {backend_name!r} is not available: {_LATER[backend_name]}. "
                           f"Available: {list(BACKENDS)}")
    if backend_name not in BACKENDS and not nccl:
        raise ValueError(f"init: backend_name must be one of {list(BACKENDS)} or None, got {backend_name!r}")
    if _state["backend"] is not None:
        if _state["backend"] != backend_name:
            raise RuntimeError(f"init: communication is already initialized with backend {_state['backend']!r}; "
                               f"call release() before init({backend_name!r})")
        return
    if backend_name == "mpi":
        world = MPICommunicator.world()
    elif nccl:
        from ..parallel.comm.nccl import NCCLCommunicator
        world = NCCLCommunicator.world()
    else:
        world = SimWorld(1).comm(0)
    _state.update(backend=backend_name, world=world, groups={}, comms=weakref.WeakKeyDictionary())
    GlobalComm.BACKEND, GlobalComm.INITED = backend_name, True


def _nccl_available():
    from ..parallel.comm.nccl import nccl_available
    return nccl_available()


def release():
    """Forget the communication state (MPI itself is finalized when the process exits)."""
    _state.update(backend=None, world=None, groups={}, comms=weakref.WeakKeyDictionary())
    GlobalComm.BACKEND, GlobalComm.INITED = None, False


def is_initialized():
    """Whether ``init()`` ran (or this thread is a rank of ``SimWorld.run``)."""
    return current_comm() is not None or _state["backend"] is not None


def _world():
    c = current_comm()
    if c is not None:
        return c
    if _state["world"] is None:
        raise RuntimeError("communication is not initialized: call mindlab.communication.init() first")
    return _state["world"]


def get_comm(group=None):
    """The Communicator of ``group`` (None: the world) for this rank."""
    world = _world()
    if group in _WORLD_NAMES:
        return world
    if group not in _state["groups"]:
        raise ValueError(f"no communication group named {group!r}; create it with create_group(name, rank_ids) "
                         f"(groups: {sorted(_state['groups'])})")
    ranks = _state["groups"][group]
    if world.world_rank not in ranks:
        raise ValueError(f"rank {world.world_rank} is not a member of group {group!r} (ranks {list(ranks)})")
    subs = _state["comms"].setdefault(world, {})
    if group not in subs:
        subs[group] = world.sub_group(ranks)
    return subs[group]


def get_rank(group=None):
    """This process's rank in ``group`` (None: the world)."""
    return get_comm(group).rank


def get_group_size(group=None):
    """The number of ranks in ``group`` (None: the world)."""
    if group is not None and group not in _WORLD_NAMES and group in _state["groups"]:
        _world()
        return len(_state["groups"][group])
    return get_comm(group).size


def get_local_rank(group=None):
    """This rank's index among the group's ranks on this host."""
    comm = get_comm(group)
    return _local(comm)[0]


def get_local_rank_size(group=None):
    """How many of the group's ranks run on this host."""
    return _local(get_comm(group))[1]


def _local(comm):
    if comm.backend == "mpi":
        w = comm._world
        host = socket.gethostname()
        local = [r for r in comm.ranks if w.hosts[r] == host]
        return local.index(comm.world_rank), len(local)
    return comm.rank, comm.size       # sim: every virtual device is on this host


def create_group(group, rank_ids):
    """Create a named group of world ranks (every listed rank must call it; others may)."""
    if not isinstance(group, str) or not group or group in _WORLD_NAMES:
        raise ValueError(f"create_group: group must be a new non-empty name other than the world group's, got "
                         f"{group!r}")
    world = _world()
    ranks = tuple(int(r) for r in rank_ids)
    if len(ranks) < 1 or len(set(ranks)) != len(ranks) or any(not 0 <= r < world.size for r in ranks):
        raise ValueError(f"create_group: rank_ids must be distinct ranks of 0..{world.size - 1}, got {list(rank_ids)}")
    if group in _state["groups"] and _state["groups"][group] != ranks:
        raise ValueError(f"create_group: group {group!r} already exists with ranks {list(_state['groups'][group])}")
    _state["groups"][group] = ranks
    if world.world_rank in ranks:
        get_comm(group)


def destroy_group(group):
    if group not in _state["groups"]:
        raise ValueError(f"destroy_group: no group named {group!r}")
    del _state["groups"][group]
    for subs in list(_state["comms"].values()):
        subs.pop(group, None)


def get_world_rank_from_group_rank(group, group_rank_id):
    ranks = _group_ranks(group)
    if not 0 <= group_rank_id < len(ranks):
        raise ValueError(f"group {group!r} has ranks 0..{len(ranks) - 1}, got {group_rank_id}")
    return ranks[group_rank_id]


def get_group_rank_from_world_rank(world_rank_id, group):
    ranks = _group_ranks(group)
    if world_rank_id not in ranks:
        raise ValueError(f"world rank {world_rank_id} is not in group {group!r} (ranks {list(ranks)})")
    return ranks.index(world_rank_id)


def _group_ranks(group):
    if group in _WORLD_NAMES:
        return tuple(_world().ranks)
    if group not in _state["groups"]:
        raise ValueError(f"no communication group named {group!r}")
    return _state["groups"][group]
