"""linalg composites (see package docstring): products (``outer``, ``dot``, ``inner``, ``mv``, ``bmm``,
``addmm``, ``baddbmm``, ``kron``, ``tensordot``, ``einsum``), norms (``norm``, ``vector_norm``) and pairwise
distances (``cdist``), written with matmul / batch_matmul, broadcast products and reductions."""
import math
from collections import Counter

import numpy as np

from ... import dtype as mdt
from ...errors import where
from .._api import as_tensor
from ..prims.array_ops import reshape, expand_dims, squeeze
from ..prims.linalg_ops import matmul, batch_matmul
from ..prims.logic_ops import select, cast, greater, not_equal
from ..prims.math_ops import add, sub, mul, abs as _abs, pow as _pow, sqrt, square
from ..prims.reduce_ops import sum as _sum, amax, amin
from .creation import _error, _is_int, _axes, _permuted, _diagonal, _broadcast

__all__ = ["outer", "dot", "inner", "mv", "bmm", "addmm", "baddbmm", "kron", "tensordot", "einsum", "norm",
           "vector_norm", "cdist"]


def _common(op, *tensors):
    """The tensors cast to their promoted dtype (MindSpore's rules); TypeError for bool tensors."""
    ts = [as_tensor(t) for t in tensors]
    for t in ts:
        if t.dtype.kind == "b":
            raise _error(op, "bool tensors are not supported", ts, TypeError)
    dt = ts[0].dtype
    for t in ts[1:]:
        dt = mdt.promote(dt, t.dtype)
    return [t if t.dtype == dt else cast(t, dt) for t in ts]


# ---------------------------------------------------------------- vector / matrix products
def outer(x, y):
    """The outer product of 1-D ``x`` (n,) and ``y`` (m,): the (n, m) matrix ``x[i] * y[j]`` (``torch.outer`` /
    ``mindspore.ops.outer``)."""
    a, b = as_tensor(x), as_tensor(y)
    if a.ndim != 1 or b.ndim != 1:
        raise _error("outer", f"both inputs must be 1-D, got shapes {list(a.shape)} and {list(b.shape)}", [a, b])
    return mul(reshape(a, (-1, 1)), reshape(b, (1, -1)))


def dot(x, y):
    """The dot product of two 1-D tensors of the same length, a 0-d tensor (``torch.dot`` /
    ``mindspore.ops.dot`` on vectors)."""
    a, b = as_tensor(x), as_tensor(y)
    if a.ndim != 1 or b.ndim != 1 or a.shape != b.shape:
        raise _error("dot", f"the inputs must be 1-D of the same length, got shapes {list(a.shape)} and "
                     f"{list(b.shape)}", [a, b])
    return _sum(mul(a, b))


def inner(x, y):
    """The inner product over the last dim: ``out[i..., j...] = sum_k x[i..., k] * y[j..., k]`` (shape
    ``x.shape[:-1] + y.shape[:-1]``; a 0-d operand multiplies) (``torch.inner`` / ``mindspore.ops.inner``)."""
    a, b = as_tensor(x), as_tensor(y)
    if a.ndim == 0 or b.ndim == 0:
        return mul(a, b)
    if a.shape[-1] != b.shape[-1]:
        raise _error("inner", f"the last dims differ: shapes {list(a.shape)} and {list(b.shape)}", [a, b])
    return _tensordot("inner", a, b, (a.ndim - 1,), (b.ndim - 1,))


def mv(mat, vec):
    """The product of the (n, m) matrix ``mat`` and the (m,) vector ``vec``, an (n,) vector (``torch.mv`` /
    ``mindspore.ops.mv``)."""
    a, v = as_tensor(mat), as_tensor(vec)
    if a.ndim != 2 or v.ndim != 1 or a.shape[1] != v.shape[0]:
        raise _error("mv", f"needs a 2-D matrix (n, m) and a 1-D vector (m,), got shapes {list(a.shape)} and "
                     f"{list(v.shape)}", [a, v])
    a, v = _common("mv", a, v)
    return reshape(matmul(a, reshape(v, (-1, 1))), (a.shape[0],))


def _check_bmm(op, a, b):
    if a.ndim != 3 or b.ndim != 3 or a.shape[0] != b.shape[0] or a.shape[2] != b.shape[1]:
        raise _error(op, f"needs 3-D tensors (b, n, m) and (b, m, p), got shapes {list(a.shape)} and "
                     f"{list(b.shape)}", [a, b])


def bmm(input, mat2):
    """Batched matrix product of the 3-D tensors ``input`` (b, n, m) and ``mat2`` (b, m, p): (b, n, p)
    (``torch.bmm`` / ``mindspore.ops.bmm``)."""
    a, b = as_tensor(input), as_tensor(mat2)
    _check_bmm("bmm", a, b)
    return batch_matmul(*_common("bmm", a, b))


def _add_scaled(op, input, prod, beta, alpha):
    """``beta * input + alpha * prod`` with ``input`` broadcast to ``prod``'s shape (beta = 0 ignores its
    values, like PyTorch)."""
    c = as_tensor(input)
    for name, v in (("beta", beta), ("alpha", alpha)):
        if isinstance(v, bool) or not isinstance(v, (int, float, np.integer, np.floating)):
            raise _error(op, f"{name} must be a number, got {type(v).__name__}", [c, prod], TypeError)
    if _broadcast(c.shape, prod.shape) != tuple(prod.shape):
        raise _error(op, f"input of shape {list(c.shape)} does not broadcast to the product's shape "
                     f"{list(prod.shape)}", [c, prod])
    out = prod if alpha == 1 else mul(prod, alpha)
    if beta == 0:
        return out
    return add(c if beta == 1 else mul(c, beta), out)


def addmm(input, mat1, mat2, beta=1, alpha=1):
    """``beta * input + alpha * (mat1 @ mat2)`` for 2-D ``mat1`` (n, m) and ``mat2`` (m, p), ``input``
    broadcasting to (n, p) (``torch.addmm`` / ``mindspore.ops.addmm``)."""
    a, b = as_tensor(mat1), as_tensor(mat2)
    if a.ndim != 2 or b.ndim != 2 or a.shape[1] != b.shape[0]:
        raise _error("addmm", f"needs 2-D matrices (n, m) and (m, p), got shapes {list(a.shape)} and "
                     f"{list(b.shape)}", [a, b])
    return _add_scaled("addmm", input, matmul(*_common("addmm", a, b)), beta, alpha)


def baddbmm(input, batch1, batch2, beta=1, alpha=1):
    """``beta * input + alpha * bmm(batch1, batch2)`` for 3-D ``batch1`` (b, n, m) and ``batch2`` (b, m, p),
    ``input`` broadcasting to (b, n, p) (``torch.baddbmm`` / ``mindspore.ops.baddbmm``)."""
    a, b = as_tensor(batch1), as_tensor(batch2)
    _check_bmm("baddbmm", a, b)
    return _add_scaled("baddbmm", input, batch_matmul(*_common("baddbmm", a, b)), beta, alpha)


def kron(input, other):
    """The Kronecker product: block (i, j, ...) of the output is ``input[i, j, ...] * other``; the operand of
    lower rank gets leading dims of size 1, the output has shape ``input.shape * other.shape`` dim by dim
    (``torch.kron`` / ``mindspore.ops.kron``; ``numpy.kron``)."""
    a, b = as_tensor(input), as_tensor(other)
    r = max(a.ndim, b.ndim)
    sa, sb = (1,) * (r - a.ndim) + tuple(a.shape), (1,) * (r - b.ndim) + tuple(b.shape)
    prod = mul(reshape(a, tuple(v for s in sa for v in (s, 1))), reshape(b, tuple(v for s in sb for v in (1, s))))
    return reshape(prod, tuple(p * q for p, q in zip(sa, sb)))


# ---------------------------------------------------------------- tensordot
def _tensordot(op, a, b, axes_a, axes_b):
    """Contract dims ``axes_a`` of ``a`` with ``axes_b`` of ``b`` (normalised, checked) as one 2-D matmul."""
    a, b = _common(op, a, b)
    free_a = [d for d in range(a.ndim) if d not in axes_a]
    free_b = [d for d in range(b.ndim) if d not in axes_b]
    k = math.prod([a.shape[d] for d in axes_a])
    a2 = reshape(_permuted(a, free_a + list(axes_a)), (math.prod([a.shape[d] for d in free_a]), k))
    b2 = reshape(_permuted(b, list(axes_b) + free_b), (k, math.prod([b.shape[d] for d in free_b])))
    return reshape(matmul(a2, b2), tuple(a.shape[d] for d in free_a) + tuple(b.shape[d] for d in free_b))


def tensordot(a, b, dims=2):
    """The sum of products over dims of ``a`` and ``b``: ``dims`` = n contracts the last n dims of ``a`` with the
    first n of ``b``; ``dims`` = (dims_a, dims_b) contracts those lists pairwise. The output holds ``a``'s free
    dims then ``b``'s (``torch.tensordot`` / ``mindspore.ops.tensor_dot``; ``numpy.tensordot``)."""
    x, y = as_tensor(a), as_tensor(b)
    if _is_int(dims):
        if not 0 <= dims <= min(x.ndim, y.ndim):
            raise _error("tensordot", f"dims={dims} must be in [0, {min(x.ndim, y.ndim)}] for shapes "
                         f"{list(x.shape)} and {list(y.shape)}", [x, y])
        da, db = tuple(range(x.ndim - dims, x.ndim)), tuple(range(dims))
    elif isinstance(dims, (tuple, list)) and len(dims) == 2:
        da = _axes("tensordot", dims[0], x.ndim, [x, y], "dims[0]")
        db = _axes("tensordot", dims[1], y.ndim, [x, y], "dims[1]")
        if len(da) != len(db):
            raise _error("tensordot", f"dims {dims} must list as many dims of a as of b", [x, y])
    else:
        raise _error("tensordot", f"dims must be an int or a pair of int lists, got {dims!r:.60}", [x, y], TypeError)
    for i, j in zip(da, db):
        if x.shape[i] != y.shape[j]:
            raise _error("tensordot", f"dim {i} of a (size {x.shape[i]}) and dim {j} of b (size {y.shape[j]}) "
                         f"differ", [x, y])
    return _tensordot("tensordot", x, y, da, db)


# ---------------------------------------------------------------- einsum
def _einsum_parse(equation, ts):
    if not isinstance(equation, str):
        raise _error("einsum", f"the equation must be a str, got {type(equation).__name__}", ts, TypeError)
    eq = "".join(equation.split())
    if "." in eq:
        raise NotImplementedError(f"einsum: ellipsis ('...') subscripts are not supported, got {equation!r}; "
                                  f"name every dim with a letter.{where()}")
    lhs, arrow, out = eq.partition("->")
    if "->" in out:
        raise _error("einsum", f"the equation {equation!r} has more than one '->'", ts)
    terms = lhs.split(",")
    if len(terms) != len(ts):
        raise _error("einsum", f"the equation {equation!r} names {len(terms)} operands, got {len(ts)}", ts)
    for t in terms + [out]:
        bad = [c for c in t if not (c.isascii() and c.isalpha())]
        if bad:
            raise _error("einsum", f"invalid subscript {bad[0]!r} in {equation!r} (letters a-z, A-Z only)", ts)
    sizes = {}
    for k, (t, x) in enumerate(zip(terms, ts)):
        if len(t) != x.ndim:
            raise _error("einsum", f"operand {k} has {x.ndim} dims (shape {list(x.shape)}) but subscripts "
                         f"{t!r} name {len(t)}", ts)
        for c, s in zip(t, x.shape):
            if sizes.setdefault(c, s) != s:
                raise _error("einsum", f"subscript {c!r} has size {sizes[c]} and size {s} (operand {k} of shape "
                             f"{list(x.shape)})", ts)
    if arrow:
        for c, n in Counter(out).items():
            if n > 1 or c not in sizes:
                raise _error("einsum", f"output subscript {c!r} in {equation!r} " +
                             ("appears more than once" if n > 1 else "names no input dim"), ts)
    else:   # implicit output: the subscripts that appear once, in alphabetical order (numpy)
        counts = Counter(lhs.replace(",", ""))
        out = "".join(sorted(c for c, n in counts.items() if n == 1))
    return terms, out


def _reduce_letters(x, term, letters):
    """Sum ``x`` over the dims of ``term`` named by ``letters``."""
    axes = tuple(i for i, c in enumerate(term) if c in letters)
    if not axes:
        return x, term
    return _sum(x, axes), "".join(c for c in term if c not in letters)


def _contract(a, ta, b, tb, keep):
    """``a`` (subscripts ``ta``) times ``b`` (``tb``), summing the shared subscripts not in ``keep``: one
    batch_matmul of (batch, a-only, summed) by (batch, summed, b-only)."""
    a, ta = _reduce_letters(a, ta, set(ta) - set(tb) - keep)
    b, tb = _reduce_letters(b, tb, set(tb) - set(ta) - keep)
    batch = [c for c in ta if c in tb and c in keep]
    summed = [c for c in ta if c in tb and c not in keep]
    la = [c for c in ta if c not in tb]
    lb = [c for c in tb if c not in ta]
    size = dict(zip(ta, a.shape))
    size.update(zip(tb, b.shape))
    n = [math.prod([size[c] for c in group]) for group in (batch, la, summed, lb)]
    a3 = reshape(_permuted(a, [ta.index(c) for c in batch + la + summed]), (n[0], n[1], n[2]))
    b3 = reshape(_permuted(b, [tb.index(c) for c in batch + summed + lb]), (n[0], n[2], n[3]))
    out = batch_matmul(a3, b3)
    term = batch + la + lb
    return reshape(out, tuple(size[c] for c in term)), "".join(term)


def einsum(equation, *operands):
    """Einstein summation: ``equation`` names each operand's dims with letters (``"ij,jk->ik"``); letters missing
    from the output (after ``->``; implicitly: the letters used once, sorted) are summed over, a letter repeated
    within an operand takes its diagonal (``"ii->i"``). The operands may also be given as one list. Ellipsis
    ('...') is not supported (``torch.einsum`` / ``mindspore.ops.einsum``; ``numpy.einsum``). Each operand's own
    summed dims are reduced first, then the operands are combined left to right with batch_matmul."""
    if len(operands) == 1 and isinstance(operands[0], (tuple, list)):
        operands = tuple(operands[0])
    ts = [as_tensor(t) for t in operands]
    if not ts:
        raise _error("einsum", "needs at least one operand", kind=TypeError)
    terms, out = _einsum_parse(equation, ts)
    ts = _common("einsum", *ts)
    for k, (x, t) in enumerate(zip(ts, terms)):   # repeated subscripts: take the diagonal (it moves last)
        while len(set(t)) != len(t):
            c = next(c for c in t if t.count(c) > 1)
            i = t.index(c)
            j = t.index(c, i + 1)
            x = _diagonal("einsum", x, 0, i, j)
            t = t[:i] + t[i + 1:j] + t[j + 1:] + c
        ts[k], terms[k] = x, t
    for k in range(len(ts)):   # subscripts of one operand only, not in the output: summed right away
        others = set(out).union(*(terms[j] for j in range(len(ts)) if j != k))
        ts[k], terms[k] = _reduce_letters(ts[k], terms[k], set(terms[k]) - others)
    x, t = ts[0], terms[0]
    for k in range(1, len(ts)):
        keep = set(out).union(*terms[k + 1:])
        x, t = _contract(x, t, ts[k], terms[k], keep)
    return _permuted(x, [t.index(c) for c in out])


# ---------------------------------------------------------------- norms and distances
def _float_input(op, x):
    if x.dtype.kind != "f":
        raise _error(op, f"needs a floating-point input, got {x.dtype}", [x], TypeError)


def _root(s, p):
    """``s ** (1 / p)`` for a sum of powers ``s`` >= 0, with value and gradient 0 where ``s`` is 0 (the
    subgradient PyTorch picks at a zero vector, where the root's own derivative is infinite)."""
    pos = greater(s, 0)
    safe = select(pos, s, 1)
    return select(pos, sqrt(safe) if p == 2 else _pow(safe, 1.0 / p), 0)


def _vector_norm(x, ord, axes, keepdim):
    a = _abs(x)
    if ord == math.inf:
        return amax(a, axes, keepdim)
    if ord == -math.inf:
        return amin(a, axes, keepdim)
    if ord == 0:
        return _sum(cast(not_equal(x, 0), x.dtype), axes, keepdim)
    if ord == 1:
        return _sum(a, axes, keepdim)
    if ord == 2:
        return _root(_sum(square(x), axes, keepdim), 2)
    return _root(_sum(_pow(a, float(ord)), axes, keepdim), float(ord))


def _check_ord(op, ord, x):
    if isinstance(ord, bool) or not isinstance(ord, (int, float, np.integer, np.floating)):
        raise _error(op, f"ord must be a number (int, float, inf or -inf), got {ord!r:.60}", [x], TypeError)
    return float(ord)


def vector_norm(input, ord=2, dim=None, keepdim=False):
    """The vector ``ord``-norm of ``input`` over ``dim`` (None: all dims, as one vector; an int or a tuple):
    ``sum(|x| ** ord) ** (1 / ord)``, with ``inf`` / ``-inf`` the largest / smallest ``|x|`` and 0 the number of
    nonzeros (``torch.linalg.vector_norm`` / ``mindspore.ops.vector_norm``). The 2-norm's gradient at a zero
    vector is 0."""
    x = as_tensor(input)
    _float_input("vector_norm", x)
    p = _check_ord("vector_norm", ord, x)
    axes = tuple(range(x.ndim)) if dim is None else _axes("vector_norm", dim, x.ndim, [x], "dim")
    return _vector_norm(x, p, axes, bool(keepdim))


def _matrix_norm(x, ord, axes, keepdim):
    if ord == "fro":
        return _vector_norm(x, 2, axes, keepdim)
    if ord == "nuc" or (not isinstance(ord, str) and abs(ord) == 2):
        raise NotImplementedError(f"norm: the matrix norm ord={ord!r} ({'nuclear' if ord == 'nuc' else 'spectral'}"
                                  f" norm) needs singular values, which mindlab does not compute; ord='fro', 1, -1, "
                                  f"inf and -inf are supported. Inputs: (Tensor{list(x.shape)})."
                                  f"{where()}")
    if isinstance(ord, str) or abs(ord) not in (1, math.inf):
        raise _error("norm", f"ord={ord!r} is not a matrix norm: use 'fro', 'nuc', 1, -1, 2, -2, inf or -inf", [x])
    d0, d1 = axes
    sums = _sum(_abs(x), d0 if abs(ord) == 1 else d1, True)   # column sums (ord ±1) or row sums (ord ±inf)
    pick = amax if ord > 0 else amin
    out = pick(sums, d1 if abs(ord) == 1 else d0, True)
    return out if keepdim else squeeze(out, tuple(axes))


def norm(input, ord=None, dim=None, keepdim=False):
    """A vector or matrix norm of ``input`` (``torch.linalg.norm`` / ``mindspore.ops.norm``): ``dim`` an int (or
    1-tuple): the vector ``ord``-norm along it (default 2; see ``vector_norm``); ``dim`` a 2-tuple: the matrix
    norm of those dims (default / ``'fro'``: Frobenius; 1 / -1: max / min column abs-sum; inf / -inf: max / min
    row abs-sum; ``'nuc'`` and 2 / -2 raise NotImplementedError); ``dim=None``: the 2-norm of the flattened
    input when ``ord`` is None, else ``input`` must be 1-D (vector norm) or 2-D (matrix norm)."""
    x = as_tensor(input)
    _float_input("norm", x)
    if dim is None:
        if ord is None:
            return _vector_norm(x, 2.0, tuple(range(x.ndim)), bool(keepdim))
        if x.ndim not in (1, 2):
            raise _error("norm", f"with dim=None and ord={ord!r} the input must be 1-D or 2-D, got shape "
                         f"{list(x.shape)}", [x])
        dim = tuple(range(x.ndim))
    axes = _axes("norm", dim, x.ndim, [x], "dim")
    if len(axes) == 1:
        if isinstance(ord, str):
            raise _error("norm", f"ord={ord!r} is a matrix norm: it needs a 2-tuple dim, got dim={dim!r}", [x])
        return _vector_norm(x, 2.0 if ord is None else _check_ord("norm", ord, x), axes, bool(keepdim))
    if len(axes) != 2:
        raise _error("norm", f"dim must be an int or a tuple of 1 or 2 ints, got {dim!r}", [x])
    if ord is None or isinstance(ord, str):
        if ord not in (None, "fro", "nuc"):
            raise _error("norm", f"ord={ord!r} is not a norm: use 'fro', 'nuc' or a number", [x])
        return _matrix_norm(x, "fro" if ord is None else ord, axes, bool(keepdim))
    return _matrix_norm(x, _check_ord("norm", ord, x), axes, bool(keepdim))


def cdist(x1, x2, p=2.0):
    """The ``p``-norm distances between the rows of ``x1`` (..., P, M) and of ``x2`` (..., R, M): an (..., P, R)
    tensor, the batch dims broadcasting (``torch.cdist`` / ``mindspore.ops.cdist``; scipy's ``cdist``). Computed
    from the broadcast differences, so values and gradients are exact (0 gradient at a zero distance)."""
    a, b = as_tensor(x1), as_tensor(x2)
    if a.ndim < 2 or b.ndim < 2 or a.shape[-1] != b.shape[-1]:
        raise _error("cdist", f"needs inputs (..., P, M) and (..., R, M) with the same M, got shapes "
                     f"{list(a.shape)} and {list(b.shape)}", [a, b])
    if _broadcast(a.shape[:-2], b.shape[:-2]) is None:
        raise _error("cdist", f"the batch dims of shapes {list(a.shape)} and {list(b.shape)} do not broadcast",
                     [a, b])
    for t in (a, b):
        _float_input("cdist", t)
    p = _check_ord("cdist", p, a)
    if p < 0:
        raise _error("cdist", f"p must be >= 0, got {p}", [a, b])
    a, b = _common("cdist", a, b)
    diff = sub(expand_dims(a, -2), expand_dims(b, -3))
    return _vector_norm(diff, p, (diff.ndim - 1,), False)
