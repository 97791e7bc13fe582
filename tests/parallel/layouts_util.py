"""Every layout of a tensor on a mesh (for exhaustive redistribution tests; also imported by mpi_worker.py)."""
import itertools

from mindlab.parallel import TensorLayout
from mindlab.parallel.layout import LayoutError


def all_layouts(mesh, shape, partial=True):
    """Every valid TensorLayout of ``shape`` on ``mesh``: each mesh axis unused, partial (when ``partial``), or
    splitting one dimension, in every major-to-minor order when several split the same dimension."""
    nd = len(shape)
    choices = ["none"] + (["partial"] if partial else []) + list(range(nd))
    seen = set()
    out = []
    for assign in itertools.product(choices, repeat=mesh.ndim):
        per_dim = [[a for a in range(mesh.ndim) if assign[a] == d] for d in range(nd)]
        part = [a for a in range(mesh.ndim) if assign[a] == "partial"]
        for orders in itertools.product(*(itertools.permutations(p) for p in per_dim)):
            try:
                lay = TensorLayout._make(mesh, shape, orders, part)
            except LayoutError:
                continue
            if lay not in seen:
                seen.add(lay)
                out.append(lay)
    return out
