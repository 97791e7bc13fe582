"""Run one generated program in PyNative and GRAPH_MODE (and, for parallel programs, under an auto-parallel plan on
the sim mesh) and compare values and gradients.

``check(program, directory)`` writes the program's source to a .py file in ``directory`` (GRAPH_MODE compiles from
source), imports it and returns ``None`` when every value and gradient agrees to ``TOL``, else a text naming what
differed (or which mode crashed, with the error). Functions run as ``f(*xs)`` / ``ms.jit(f)(*xs)`` and
``ms.grad(f, grad_position=all)``; Cells as ``net(*xs)`` and ``ms.value_and_grad(net, all, net.trainable_params())``.
"""
import hashlib
import importlib.util
import os
import sys
import traceback

import numpy as np

import mindlab as ms
from mindlab import nn, ops, Tensor
from tests.gpu.conftest import on

TOL = dict(rtol=1e-5, atol=1e-5)


def load(program, directory):
    digest = hashlib.sha1(program.source.encode()).hexdigest()[:12]
    name = f"fuzzprog_{digest}"
    path = os.path.join(directory, name + ".py")
    with open(path, "w") as f:
        f.write(program.source)
    spec = importlib.util.spec_from_file_location(name, path)
    mod = importlib.util.module_from_spec(spec)
    sys.modules[name] = mod
    spec.loader.exec_module(mod)
    return mod


def inputs(program):
    rng = np.random.default_rng(program.seed)
    return [Tensor(rng.uniform(-1.0, 1.0, s).astype(program.dtype)) for s in program.inputs]


def _flat(x, out):
    if isinstance(x, (tuple, list)):
        for v in x:
            _flat(v, out)
    elif x is not None:
        out.append(x.asnumpy() if hasattr(x, "asnumpy") else np.asarray(x))
    return out


class GradNet(nn.Cell):
    """(loss, weight gradients) of a net, as one Cell (so that a parallel plan covers forward and backward)."""

    def __init__(self, net):
        super().__init__()
        self.net = net
        self.grad_fn = ms.value_and_grad(net, grad_position=None, weights=net.trainable_params())

    def construct(self, *xs):
        return self.grad_fn(*xs)


def run(program, mod, mode):
    """[value, gradients...] as numpy arrays, computed in ``mode``."""
    ms.set_context(mode=mode)
    xs = inputs(program)
    pos = tuple(range(len(xs)))
    graph = mode == ms.GRAPH_MODE
    if program.kind == "function":
        value = (ms.jit(mod.f) if graph else mod.f)(*xs)
        value2, grads = ms.value_and_grad(mod.f, grad_position=pos)(*xs)
        # GRAPH_MODE also compiles the gradient function itself (jit(value_and_grad(f)), as JAX's jit(grad(f)))
        value3, grads3 = ms.jit(ms.value_and_grad(mod.f, grad_position=pos))(*xs) if graph else (value2, grads)
        # and the gradient of the compiled function, in both modes (JAX's grad(jit(f)))
        value4, grads4 = ms.value_and_grad(ms.jit(mod.f), grad_position=pos)(*xs)
        return _flat([value, value2, grads, value3, grads3, value4, grads4], [])
    else:
        net = mod.Net()
        value = net(*xs)
        params = net.trainable_params()
        vg = ms.value_and_grad(net, grad_position=pos if pos else None, weights=params)
        value2, grads = vg(*xs)
        value3, grads3 = ms.jit(vg)(*xs) if graph else (value2, grads)
    return _flat([value, value2, grads, value3, grads3], [])


OPTIMIZERS = ("Momentum", "SGD", "Adam", "AdamWeightDecay")


def _optimizer(name, params):
    if name == "Momentum":
        return nn.Momentum(params, learning_rate=0.05, momentum=0.9)
    if name == "SGD":
        return nn.SGD(params, learning_rate=0.05, weight_decay=0.01)
    if name == "Adam":
        return nn.Adam(params, learning_rate=0.01)
    return nn.AdamWeightDecay(params, learning_rate=0.01, weight_decay=0.1)


def run_train(program, mod, mode, optimizer, steps=3):
    """[losses..., final parameters...] of ``steps`` calls of TrainOneStepCell(Net, optimizer), in ``mode``: the loss is
    the Net's output, scaled down so that no step moves a weight far."""
    ms.set_context(mode=mode)
    xs = inputs(program)
    net = mod.Net()
    params = net.trainable_params()
    step = nn.TrainOneStepCell(_Scaled(net), _optimizer(optimizer, params))
    losses = [step(*xs) for _ in range(steps)]
    return _flat([losses, list(net.get_parameters())], [])   # (batch norm's moving statistics too)


class _Scaled(nn.Cell):
    def __init__(self, net):
        super().__init__()
        self.net = net

    def construct(self, *xs):
        return self.net(*xs) * 0.01


def _hvp_fn(f, n, vs):
    """x -> grad of <grad f(x), v> (a Hessian-vector product: differentiates the gradient program)."""
    first = ms.grad(f, grad_position=tuple(range(n)))

    def gv(*xs):
        gs = first(*xs)
        total = ops.sum(gs[0] * vs[0])
        for k in range(1, n):
            total = total + ops.sum(gs[k] * vs[k])
        return total
    return ms.grad(gv, grad_position=tuple(range(n)))


def run_second_order(program, mod, mode):
    """The Hessian-vector product of a function program along a fixed random direction, in ``mode``."""
    ms.set_context(mode=mode)
    xs = inputs(program)
    rng = np.random.default_rng(program.seed + 1)
    vs = [Tensor(rng.uniform(-1.0, 1.0, x.shape).astype(program.dtype)) for x in xs]
    return _flat(_hvp_fn(mod.f, len(xs), vs)(*xs), [])


def run_parallel(program, mod, device_num, search_mode):
    """[loss, weight gradients...] of GradNet(Net) in GRAPH_MODE, planned on ``device_num`` sim devices."""
    ms.set_context(mode=ms.GRAPH_MODE)
    ms.set_auto_parallel_context(parallel_mode="auto_parallel", device_num=device_num, search_mode=search_mode)
    try:
        return _flat(GradNet(mod.Net())(*inputs(program)), [])
    finally:
        ms.reset_auto_parallel_context()


def _compare(ref, got, what):
    if len(ref) != len(got):
        return f"{what}: {len(got)} results, expected {len(ref)}"
    for k, (r, g) in enumerate(zip(ref, got)):
        if r.shape != g.shape:
            return f"{what}: result {k} has shape {g.shape}, expected {r.shape}"
        if not np.allclose(g, r, **TOL, equal_nan=True):
            err = np.max(np.abs(g - r) / (TOL["atol"] + TOL["rtol"] * np.abs(r)))
            return f"{what}: result {k} differs (max error {err:.3g} x tolerance)\n  expected {r}\n  got      {g}"
    return None


def _crash(what):
    return f"{what} raised:\n" + "".join(traceback.format_exc(limit=-6))


def _modes_agree(compute, what, crash_suffix=""):
    """None when ``compute(mode)`` gives the same results in PyNative and GRAPH_MODE; else the mismatch, or which
    mode crashed (with the error)."""
    results = []
    for name, mode in (("PyNative", ms.PYNATIVE_MODE), ("GRAPH_MODE", ms.GRAPH_MODE)):
        try:
            results.append(compute(mode))
        except Exception:
            return _crash(name + crash_suffix)
    return _compare(*results, what)


def check(program, directory, parallel=None, second_order=False, reference_device=None, train=None):
    """None when the modes agree; else a description of the mismatch. ``parallel``: (device_num, search_mode)
    to also run the program under an auto-parallel plan (parallel programs only); ``second_order``: also compare
    a Hessian-vector product (function programs); ``reference_device``: also compare PyNative on the current
    device_target with PyNative on this one (``--device GPU`` of benchmarks/fuzz_programs.py: the GPU against
    the CPU); ``train``: an optimizer name (``OPTIMIZERS``): Cells with Parameters also compare three training
    steps (losses and final weights)."""
    mode = ms.get_context("mode")
    try:
        mod = load(program, directory)
        bad = _modes_agree(lambda m: run(program, mod, m), "GRAPH_MODE vs PyNative")
        if bad:
            return bad
        if reference_device is not None:
            here = ms.get_context("device_target")
            try:
                ref = on(reference_device, lambda: run(program, mod, ms.PYNATIVE_MODE))
                got = run(program, mod, ms.PYNATIVE_MODE)
            except Exception:
                return _crash(f"PyNative on {reference_device} and {here}")
            bad = _compare(ref, got, f"{here} vs {reference_device} (PyNative)")
            if bad:
                return bad
        if second_order and program.kind == "function":
            bad = _modes_agree(lambda m: run_second_order(program, mod, m),
                               "GRAPH_MODE vs PyNative, Hessian-vector product", " (second order)")
            if bad:
                return bad
        if train is not None and program.kind == "cell" and "parameter" in program.features:
            bad = _modes_agree(lambda m: run_train(program, mod, m, train), f"GRAPH_MODE vs PyNative, 3 steps of {train}",
                               f" (training with {train})")
            if bad:
                return bad
        if parallel is None:
            return None
        try:
            ms.set_context(mode=ms.GRAPH_MODE)
            single = _flat(GradNet(mod.Net())(*inputs(program)), [])
            par = run_parallel(program, mod, *parallel)
        except Exception:
            return _crash(f"auto_parallel {parallel}")
        return _compare(single, par, f"auto_parallel {parallel} vs one device")
    finally:
        ms.set_context(mode=mode)
