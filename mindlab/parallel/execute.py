"""Running a planned network on every device: ``ParallelProgram``.

``ParallelProgram(net, *example_args)`` compiles ``net`` (a Cell — a whole ``TrainOneStepCell`` training step — or
a function) as GRAPH_MODE does, plans it (``planner.plan``, options from ``set_auto_parallel_context`` or given),
and lowers the plan to the per-device SPMD graph (``spmd.lower``), compiled by the graph executor. Then:

* ``run_sim(*args)`` runs every rank on the ``sim`` backend (one thread per device of a ``SimWorld``): each rank
  gets its slices of the inputs, keeps its slices of the weights and optimizer state between calls (updated in
  place by the optimizer, as each device of a real cluster would), runs the program — the collectives between the
  ranks are real exchanges of arrays — and the per-rank outputs are assembled into full tensors (``rank_outputs``
  keeps what each rank returned);
* ``run(*args)`` is the same program as one rank of a real SPMD job (``mindlab.communication.init()`` under
  ``python -m mindlab.run -n 4 script.py``): this rank's slices, the collectives over MPI, and the full outputs
  gathered on every rank;
* ``sync_parameters()`` writes the devices' weights back into the network's Parameters (assembled from the slices;
  under MPI every rank must call it), so the result of distributed training can be compared with, saved or used
  like single-device training.

``parallel_mode="data_parallel"`` runs MindSpore's data parallelism (``spmd.lower_data_parallel``): the network
compiled for one device's share of the batch, gradients all-reduced before the optimizer (averaged with
``gradients_mean=True``, which makes the update equal to single-device training with a mean loss). Each rank's
outputs are its own: batch-shaped outputs are concatenated in rank order, scalars averaged (the global mean loss).
In the auto-parallel modes the plan keeps the step's global meaning (a mean loss is the mean over the whole
batch, a split reduction is all-reduced), so gradients come out exact and ``gradients_mean`` has nothing to do.

Random ops (dropout masks): in the auto-parallel modes every device draws the whole tensor's mask from the same
generator state and keeps its slice (``spmd.MASK_SLICE``), so training with dropout equals single-device training;
on the sim backend each rank thread draws from its own copy of the generators, and the real ones are then advanced
as one device would have. Data parallelism compiles the step for one device's share of the batch, so its masks are
drawn per device (they do not reproduce single-device masks).
"""
import numpy as np

from .. import device as _device
from ..tensor import Tensor, _wrap
from .redistribution import redistribute
from .layout import TensorLayout
from .spmd import rank_generators

__all__ = ["ParallelProgram", "parallelize"]


def _tensor_args(args, kwargs):
    from ..frontend.jit import _tensor_args as ta
    return ta(args, kwargs)


def _local_example(t, p):
    """A Tensor of ``t``'s dtype whose first dim is ``t``'s divided by ``p`` (for compiling one device's step)."""
    if t.ndim == 0:
        return t
    if t.shape[0] % p:
        raise ValueError(f"data_parallel: an input of shape {list(t.shape)} cannot be split along its batch dim "
                         f"over {p} devices ({t.shape[0]} is not divisible by {p})")
    return Tensor(np.zeros((t.shape[0] // p,) + tuple(t.shape[1:]), dtype=t.dtype.np))


class ParallelProgram:
    """A network planned for a device mesh and lowered to its SPMD program (see the module docstring)."""

    def __init__(self, target, *args, parallel_mode=None, search_mode=None, mesh=None, profile=None,
                 memory_limit=None, gradients_mean=None, fuse=False, inputs="batch", **kwargs):
        from .context import get_auto_parallel_context
        from .planner import plan, default_mesh, unfused_graph, _compile
        from .spmd import lower_data_parallel
        from ..nn.cell import Cell
        mode = parallel_mode or get_auto_parallel_context("parallel_mode")
        if mode == "stand_alone":
            mode = "auto_parallel"
        if gradients_mean is None:
            gradients_mean = get_auto_parallel_context("gradients_mean")
        self.parallel_mode, self.gradients_mean = mode, bool(gradients_mean)
        self.target = target
        if mode == "data_parallel":
            mesh = mesh if mesh is not None else default_mesh()
            if isinstance(mesh, (tuple, list, int)):
                from .mesh import DeviceMesh
                mesh = DeviceMesh(mesh)
            self.plan = plan(target, *args, mesh=mesh, profile=profile, memory_limit=memory_limit,
                             parallel_mode="data_parallel", inputs="batch", **kwargs)
            local = [_local_example(a, mesh.size) if isinstance(a, Tensor) and not _is_param(a) else a
                     for a in args]
            lkw = {k: _local_example(v, mesh.size) if isinstance(v, Tensor) and not _is_param(v) else v
                   for k, v in kwargs.items()}
            self.compiled = _compile(target, local, lkw)
            self.spmd = lower_data_parallel(unfused_graph(self.compiled), mesh, self.gradients_mean)
            if fuse:
                from ..passes.fusion import fuse_elementwise
                fuse_elementwise(self.spmd.graph)
        else:
            self.plan = plan(target, *args, mesh=mesh, search_mode=search_mode, profile=profile,
                             memory_limit=memory_limit, parallel_mode=mode, inputs=inputs, **kwargs)
            self.compiled = self.plan.compiled
            self.spmd = self.plan.lower(fuse=fuse)
        self.mesh = self.spmd.mesh
        self.program = self.spmd.program()
        self.rank_outputs = None
        self._state = {}
        self._is_cell = isinstance(target, Cell)

    # --------------------------------------------------------------------------------------- one rank
    def _run_rank(self, rank, inputs):
        state = self._state.setdefault(rank, {})
        arrays, it = [], iter(inputs)
        for i, (lay, default) in enumerate(zip(self.spmd.param_layouts, self.spmd.param_defaults)):
            if default is None:
                arrays.append(lay.local(next(it), rank))
            else:
                if i not in state:
                    state[i] = lay.local(_device.host(default._data), rank)
                arrays.append(state[i])
        out = self.program(*arrays)
        return tuple(out) if self.spmd.tuple_output else (out,)

    def _inputs(self, args, kwargs):
        ins = [_device.host(t._data) for t in _tensor_args(args, kwargs)]
        want = sum(1 for d in self.spmd.param_defaults if d is None)
        if len(ins) != want:
            raise ValueError(f"ParallelProgram: {len(ins)} tensor inputs given, the program takes {want}")
        layouts = [lay for lay, d in zip(self.spmd.param_layouts, self.spmd.param_defaults) if d is None]
        for lay, x in zip(layouts, ins):
            if tuple(x.shape) != lay.shape:
                raise ValueError(f"ParallelProgram: an input of shape {list(x.shape)} given where the plan was made "
                                 f"for {list(lay.shape)} (plan again for new shapes)")
        return ins

    def _rebuild(self, leaves_out):
        it = iter(_wrap(np.asarray(o)) for o in leaves_out)
        return self.compiled.rebuild([next(it) if isinstance(leaf, Tensor) else leaf for leaf in self.compiled.leaves])

    def _combine(self, k, pieces):
        """Output ``k`` from every device's piece (``pieces`` in mesh device order)."""
        lay = self.spmd.output_layouts[k]
        if lay is not None:
            return lay.assemble(pieces)
        first = np.asarray(pieces[0])
        if first.ndim == 0:
            return np.asarray(np.mean(np.stack(pieces)), dtype=first.dtype)
        return np.concatenate(pieces, axis=0)

    # ------------------------------------------------------------------------------------------- sim
    def run_sim(self, *args, world=None, **kwargs):
        """Run every rank on the sim backend; returns the network's outputs assembled from the ranks."""
        from .comm.sim import SimWorld
        from ..communication import get_comm
        ins = self._inputs(args, kwargs)
        devs = self.mesh.devices
        world = world or SimWorld(max(devs) + 1)
        self.world = world

        gens = {}

        def rank_fn():
            r = get_comm().world_rank
            if r not in devs:
                return None
            gens[r] = {}
            rank_generators(gens[r])        # each rank draws random masks from its own copy of the generators
            try:
                return self._run_rank(r, ins)
            finally:
                rank_generators(None)
        outs = world.run(rank_fn)
        for gen, twin in gens.get(devs[0], {}).values():     # advance the real generators as one device would
            gen.bit_generator.state = twin.bit_generator.state
        self.rank_outputs = {d: outs[d] for d in devs}
        n = len(self.spmd.output_layouts)
        return self._rebuild([self._combine(k, [outs[d][k] for d in devs]) for k in range(n)])

    def parameters_sim(self):
        """{Parameter name: full value} assembled from every device's slices (sim)."""
        out = {}
        devs = self.mesh.devices
        for i, (lay, default) in enumerate(zip(self.spmd.param_layouts, self.spmd.param_defaults)):
            if default is None or any(i not in self._state.get(d, {}) for d in devs):
                continue
            out[default.name] = lay.assemble([self._state[d][i] for d in devs])
        return out

    # ------------------------------------------------------------------------------------------- SPMD
    def run(self, *args, comm=None, gather=True, **kwargs):
        """Run this rank's part of the program over ``comm`` (default: ``mindlab.communication.get_comm()``); with
        ``gather`` every rank gets the full outputs (collectives), else this rank's pieces."""
        from ..communication import get_comm
        comm = comm or get_comm()
        ins = self._inputs(args, kwargs)
        r = comm.world_rank
        local = self._run_rank(r, ins)
        self.rank_outputs = {r: local}
        if not gather:
            return local
        full = []
        for k, x in enumerate(local):
            lay = self.spmd.output_layouts[k]
            if lay is None:
                x = np.asarray(x)
                full.append(comm.all_reduce(x, op="mean") if x.ndim == 0 else comm.all_gather(x, axis=0))
            else:
                full.append(redistribute(lay, TensorLayout.replicated(lay.mesh, lay.shape),
                                         np.asarray(x).dtype.itemsize).run(np.asarray(x), comm))
        return self._rebuild(full)

    def sync_parameters(self, comm=None):
        """Write the devices' weights and optimizer state back into the network's Parameters. On the sim backend
        (after ``run_sim``) they are assembled here; after ``run`` every rank must call it (collectives)."""
        if comm is None and self._state and all(d in self._state for d in self.mesh.devices) and \
                len(self._state) == self.mesh.size:
            values = self.parameters_sim()
            for default in self.spmd.param_defaults:
                if default is not None and default.name in values:
                    _write(default, values[default.name])
            return
        from ..communication import get_comm
        comm = comm or get_comm()
        state = self._state.get(comm.world_rank, {})
        for i, (lay, default) in enumerate(zip(self.spmd.param_layouts, self.spmd.param_defaults)):
            if default is None or i not in state:
                continue
            full = redistribute(lay, TensorLayout.replicated(lay.mesh, lay.shape),
                                state[i].dtype.itemsize).run(state[i], comm)
            _write(default, full)

    def __call__(self, *args, **kwargs):
        """``run_sim`` outside an SPMD job, ``run`` inside one (this process is an MPI rank)."""
        from ..communication import is_initialized, get_comm
        if is_initialized() and get_comm().size > 1:
            return self.run(*args, **kwargs)
        return self.run_sim(*args, **kwargs)

    def __repr__(self):
        return f"<ParallelProgram {self.parallel_mode} on {self.mesh}: {len(self.spmd.collectives)} collectives>"


def _is_param(t):
    from ..tensor import Parameter
    return isinstance(t, Parameter)


def _write(param, value):
    data = param._data
    value = np.asarray(value, dtype=data.dtype)
    if isinstance(data, np.ndarray) and data.flags.writeable and data.shape == value.shape:
        np.copyto(data, value)
    else:
        param._data = value.copy()


def parallelize(target, *args, **options):
    """``ParallelProgram(target, *args, **options)``: plan, lower and compile ``target`` for the device mesh."""
    return ParallelProgram(target, *args, **options)
