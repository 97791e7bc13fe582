"""``Cell``: the base of every layer and network (MindSpore's ``nn.Cell``), and the containers ``SequentialCell`` and
``CellList``.

A Cell registers the Parameters and sub-Cells assigned to its attributes, in assignment order. Parameter names are
dotted attribute paths: assigning a Cell as ``self.fc1`` renames its parameters ``fc1.weight``, ``fc1.bias``
(``auto_prefix=True``, the default), so every parameter of a network has a unique, checkpoint-stable name.
Calling a Cell runs its ``construct``: eagerly in PYNATIVE_MODE; in GRAPH_MODE ``construct`` is parsed into a graph,
compiled once per input signature and run as a program (``mindlab.frontend.jit``).
"""
from collections import OrderedDict

from .. import dtype as mdt
from ..errors import where
from ..tensor import Tensor, Parameter, ParameterTuple
from ..context import _state as _ctx, GRAPH_MODE as _GRAPH_MODE
from ..ir.builder import _stack as _building

__all__ = ["Cell", "SequentialCell", "CellList"]


def _is_identifier(name):
    return name.isidentifier()


def construct_function(cell):
    """The plain function behind ``type(cell).construct``, also when it is decorated with ``@ms.jit`` (GRAPH_MODE
    compiles that function; the decorator only matters for PyNative calls)."""
    from ..frontend.jit import JitFunction
    fn = type(cell).construct
    while isinstance(fn, JitFunction):
        fn = fn.fn
    return fn


STRUCTURE = [0]   # bumped when a compiled Cell's Parameters or sub-Cells are replaced (a compile-cache key)
MODES = [0]       # bumped when any Cell's training flag or to_float dtype changes (jit re-reads its cells' modes)
_MISSING = object()


class _Registry(OrderedDict):
    """A Cell's Parameters or sub-Cells by name. Once compiled code has read the cell (``freeze_for_compile``),
    replacing, adding or removing an entry bumps ``STRUCTURE``: compiled programs hold the objects they were built
    with, so ``net.fc = nn.Dense(...)`` or ``net.w = Parameter(...)`` after a GRAPH_MODE call must recompile."""
    compiled = False

    def _changed(self):
        if self.compiled:
            STRUCTURE[0] += 1

    def __setitem__(self, key, value):
        if self.compiled and self.get(key, _MISSING) is not value:
            STRUCTURE[0] += 1
        super().__setitem__(key, value)

    def __delitem__(self, key):
        self._changed()
        super().__delitem__(key)

    def pop(self, *args):
        self._changed()
        return super().pop(*args)

    def popitem(self, last=True):
        self._changed()
        return super().popitem(last)

    def clear(self):
        self._changed()
        super().clear()

    def update(self, *args, **kwargs):
        self._changed()
        super().update(*args, **kwargs)

    def setdefault(self, key, default=None):
        if key not in self:
            self._changed()
        return super().setdefault(key, default)


_READ = []        # while a program is compiled: the cells it reads (see compiled_cells)


def freeze_for_compile(cell):
    """Mark ``cell`` and its sub-cells as read by compiled code (see ``_Registry``) and note them for the program
    being compiled (its modes are checked before each reuse: ``modes_of``)."""
    for _, c in cell.cells_and_names():
        d = c.__dict__
        d["_params"].compiled = d["_cells"].compiled = True
        if _READ:
            _READ[-1][id(c)] = c


class compiled_cells:
    """``with compiled_cells() as cells:`` — the cells (id -> Cell) that compiling the body reads."""

    def __enter__(self):
        _READ.append({})
        return _READ[-1]

    def __exit__(self, *exc):
        _READ.pop()


def modes_of(cells):
    """What of these cells a compiled program depends on besides their parameters: training flags, to_float."""
    return tuple((c.__dict__["training"], c.__dict__["_mixed_dtype"]) for c in cells)


class Cell:
    """Base class of all neural-network cells. Subclasses define ``construct(*inputs)``.

    ``auto_prefix``: prefix the parameter names of child cells with their attribute names (default True).
    ``flags``: extra attributes to set on the cell (``add_flags``).
    """

    def __init__(self, auto_prefix=True, flags=None):
        d = self.__dict__
        d["_params"] = _Registry()
        d["_cells"] = _Registry()
        d["_param_tuples"] = {}
        d["training"] = False
        d["requires_grad"] = False
        d["_auto_prefix"] = bool(auto_prefix)
        d["_mixed_dtype"] = None
        d["_unnamed"] = 0
        if flags:
            self.add_flags(**flags)

    # ------------------------------------------------------------------ running
    def construct(self, *inputs, **kwargs):
        """The computation of the cell; every subclass defines it."""
        raise NotImplementedError(f"{type(self).__name__} does not define construct(); a Cell subclass must define "
                                  f"construct(self, *inputs).{where()}")

    def __call__(self, *args, **kwargs):
        if "_params" not in self.__dict__:
            raise RuntimeError(f"{type(self).__name__}: Cell.__init__ was not called; call super().__init__() "
                               f"first in __init__.{where()}")
        if _ctx["mode"] == _GRAPH_MODE and not _building:
            return self._graph_call(args, kwargs)
        if self._mixed_dtype is None:
            return self.construct(*args, **kwargs)
        return self._run_mixed(args, kwargs)

    def _graph_call(self, args, kwargs):
        """GRAPH_MODE: compile ``construct`` (once per input signature and training flag) and run the graph."""
        return self._construct_jit()(*args, **kwargs)

    def _construct_jit(self):
        """This Cell's JitFunction of ``construct`` (made at the first GRAPH_MODE call, kept in the instance)."""
        fn = self.__dict__.get("_jit_construct")
        if fn is None:
            from ..frontend.jit import JitFunction
            fn = self.__dict__["_jit_construct"] = JitFunction(construct_function(self), self_obj=self)
        return fn

    def compiled(self, *args, **kwargs):
        """The compiled graph of ``construct`` for these inputs (graph as parsed, optimized graph, pass log)."""
        return self._construct_jit().compiled(*args, **kwargs)

    def shard(self, in_strategy, out_strategy=None, parameter_plan=None, device="Ascend", level=0):
        """MindSpore's ``Cell.shard``: fixed layouts (pieces per dim) for this cell's inputs (``None``: left to the
        planner), outputs and named parameters, kept by semi_auto / auto_parallel plans wherever the cell is
        called (``mindlab.parallel.cell_shard``). Returns self."""
        from ..parallel.cell_shard import configure
        return configure(self, in_strategy, out_strategy, parameter_plan, device, level)

    @property
    def parallel_plan(self):
        """The ``ParallelPlan`` of this cell's latest GRAPH_MODE call under a parallel auto-parallel context (None
        before one); ``parallel_program`` is the ``ParallelProgram`` that ran it."""
        prog = self.__dict__.get("_parallel_program")
        return prog.plan if prog is not None else None

    @property
    def parallel_program(self):
        return self.__dict__.get("_parallel_program")

    def _run_mixed(self, args, kwargs):
        """construct with float inputs and trainable float parameters cast to the ``to_float`` dtype (the casts are
        ops, so gradients flow back to the parameters in their own dtype)."""
        from ..ops import functional as F
        dt = self._mixed_dtype
        args = tuple(F.cast(a, dt) if isinstance(a, Tensor) and a.dtype.kind == "f" and a.dtype is not dt else a
                     for a in args)
        d, saved = self.__dict__, {}
        for name, p in self._params.items():
            if p is not None and p.requires_grad and p.dtype.kind == "f" and p.dtype is not dt and d.get(name) is p:
                saved[name] = p
                d[name] = F.cast(p, dt)
        try:
            return self.construct(*args, **kwargs)
        finally:
            d.update(saved)

    # ------------------------------------------------------------------ attribute registration
    def __setattr__(self, name, value):
        d = self.__dict__
        params, cells = d.get("_params"), d.get("_cells")
        if isinstance(value, Parameter):
            if params is None:
                raise AttributeError(f"{type(self).__name__}: cannot assign Parameter {name!r} before "
                                     f"Cell.__init__() is called.{where()}")
            if name in cells:
                raise TypeError(f"{type(self).__name__}: attribute {name!r} holds a Cell; cannot assign a "
                                f"Parameter to it.{where()}")
            self.insert_param_to_cell(name, value)
            d[name] = value
        elif isinstance(value, ParameterTuple):
            if params is None:
                raise AttributeError(f"{type(self).__name__}: cannot assign a ParameterTuple before "
                                     f"Cell.__init__() is called.{where()}")
            self._set_param_tuple(name, value)
        elif isinstance(value, Cell):
            if cells is None:
                raise AttributeError(f"{type(self).__name__}: cannot assign Cell {name!r} before Cell.__init__() "
                                     f"is called.{where()}")
            if name in params:
                raise TypeError(f"{type(self).__name__}: attribute {name!r} holds a Parameter; cannot assign a "
                                f"Cell to it.{where()}")
            self.insert_child_to_cell(name, value)
            d[name] = value
        elif params is not None and name in params:
            if value is None:
                params[name] = None
                d[name] = None
            elif isinstance(value, Tensor) and params[name] is not None:
                params[name].set_data(value)
            else:
                raise TypeError(f"{type(self).__name__}: attribute {name!r} holds a Parameter; assign a Parameter, "
                                f"a Tensor (new data) or None, not {type(value).__name__}.{where()}")
        elif cells is not None and name in cells:
            if value is not None:
                raise TypeError(f"{type(self).__name__}: attribute {name!r} holds a Cell; assign a Cell or None, "
                                f"not {type(value).__name__}.{where()}")
            cells[name] = None
            d[name] = None
        else:
            if name == "training":
                MODES[0] += 1
            elif cells is not None and cells.compiled and (isinstance(value, Tensor) or
                                                           isinstance(d.get(name), Tensor)):
                STRUCTURE[0] += 1   # a tensor attribute compiled code read as a constant was replaced
            object.__setattr__(self, name, value)

    def __getattr__(self, name):   # only reached when normal lookup fails (e.g. names that are not identifiers)
        d = self.__dict__
        if name in d.get("_params", ()):
            return d["_params"][name]
        if name in d.get("_cells", ()):
            return d["_cells"][name]
        raise AttributeError(f"'{type(self).__name__}' object has no attribute '{name}'")

    def __delattr__(self, name):
        d = self.__dict__
        if name in d["_params"]:
            del d["_params"][name]
        elif name in d["_cells"]:
            del d["_cells"][name]
        elif name in d["_param_tuples"]:
            for key in d["_param_tuples"].pop(name):
                d["_params"].pop(key, None)
        if name in d:
            object.__delattr__(self, name)

    def _set_param_tuple(self, name, value):
        """A ParameterTuple attribute (an optimizer's parameters or states): each element is registered under its
        own name (names may contain dots, e.g. ``moment1.fc1.weight``)."""
        d = self.__dict__
        for key in d["_param_tuples"].pop(name, ()):
            d["_params"].pop(key, None)
        keys, seen = [], set()
        for p in value:
            if id(p) in seen:
                continue
            seen.add(id(p))
            if p._auto_name and p.name == "Parameter":
                d["_unnamed"] += 1
                p.name = f"Parameter${d['_unnamed']}"
            if p.name in d["_params"] and d["_params"][p.name] is not p:
                raise ValueError(f"{type(self).__name__}: two different parameters in {name!r} are both named "
                                 f"{p.name!r}; parameter names must be unique.{where()}")
            self.insert_param_to_cell(p.name, p, check_name_contain_dot=False)
            keys.append(p.name)
        d["_param_tuples"][name] = keys
        d[name] = value

    def insert_param_to_cell(self, param_name, param, check_name_contain_dot=True):
        """Register ``param`` under ``param_name``; an auto-named Parameter takes ``param_name`` as its name."""
        if not isinstance(param_name, str) or not param_name:
            raise KeyError(f"{type(self).__name__}.insert_param_to_cell: the name must be a non-empty string, "
                           f"got {param_name!r}")
        if check_name_contain_dot and "." in param_name:
            raise KeyError(f"{type(self).__name__}.insert_param_to_cell: the name {param_name!r} must not "
                           f"contain '.'")
        if param is not None and not isinstance(param, Parameter):
            raise TypeError(f"{type(self).__name__}.insert_param_to_cell: expected a Parameter, got "
                            f"{type(param).__name__}")
        if param is not None and param._auto_name and param.name == "Parameter":
            param.name = param_name
            param._auto_name = False
        self._params[param_name] = param

    def insert_child_to_cell(self, child_name, child_cell):
        """Register ``child_cell`` under ``child_name`` (its parameters are renamed ``child_name.<path>``)."""
        if not isinstance(child_name, str) or not child_name or "." in child_name:
            raise KeyError(f"{type(self).__name__}.insert_child_to_cell: the name must be a non-empty string "
                           f"without '.', got {child_name!r}")
        if child_cell is not None and not isinstance(child_cell, Cell):
            raise TypeError(f"{type(self).__name__}.insert_child_to_cell: expected a Cell, got "
                            f"{type(child_cell).__name__}")
        if child_cell is not None and self._auto_prefix:
            child_cell.update_parameters_name(child_name + ".")
        self._cells[child_name] = child_cell

    def update_parameters_name(self, prefix="", recurse=True):
        """Rename every parameter ``prefix + <its attribute path>``."""
        if not isinstance(prefix, str):
            raise TypeError(f"update_parameters_name: prefix must be a str, got {type(prefix).__name__}")
        for path, p in self.parameters_and_names(expand=recurse):
            p.name = prefix + path
            p._auto_name = False

    # ------------------------------------------------------------------ the tree
    def parameters_and_names(self, name_prefix="", expand=True):
        """Yields ``(dotted path, Parameter)`` for this cell's parameters (and its sub-cells' with ``expand``), each
        parameter once."""
        cells = self.cells_and_names(name_prefix=name_prefix) if expand else [(name_prefix, self)]
        seen = set()
        for cell_name, cell in cells:
            for par_name, par in cell._params.items():
                if par is not None and id(par) not in seen:
                    seen.add(id(par))
                    yield (f"{cell_name}.{par_name}" if cell_name else par_name), par

    def get_parameters(self, expand=True):
        """Yields the parameters (of sub-cells too with ``expand``)."""
        for _, p in self.parameters_and_names(expand=expand):
            yield p

    def trainable_params(self, recurse=True):
        """The parameters with ``requires_grad=True``, in registration order."""
        return [p for p in self.get_parameters(expand=recurse) if p.requires_grad]

    def untrainable_params(self, recurse=True):
        """The parameters with ``requires_grad=False`` (e.g. BatchNorm's moving statistics)."""
        return [p for p in self.get_parameters(expand=recurse) if not p.requires_grad]

    def parameters_dict(self, recurse=True):
        """OrderedDict of parameter name -> Parameter."""
        return OrderedDict((p.name, p) for p in self.get_parameters(expand=recurse))

    def check_names(self):
        """Raise ValueError when two parameters share a name."""
        names = {}
        for path, p in self.parameters_and_names():
            if p.name in names:
                raise ValueError(f"parameters {names[p.name]!r} and {path!r} are both named {p.name!r}")
            names[p.name] = path

    def cells_and_names(self, cells=None, name_prefix=""):
        """Yields ``(dotted path, cell)`` for this cell (path ``name_prefix``) and every cell below it, each once."""
        seen = cells if cells is not None else set()
        if id(self) in seen:
            return
        seen.add(id(self))
        yield name_prefix, self
        for name, cell in self._cells.items():
            if cell is not None:
                yield from cell.cells_and_names(seen, f"{name_prefix}.{name}" if name_prefix else name)

    def name_cells(self):
        """OrderedDict of the immediate sub-cells by attribute name."""
        out, seen = OrderedDict(), set()
        for name, cell in self._cells.items():
            if cell is not None and id(cell) not in seen:
                seen.add(id(cell))
                out[name] = cell
        return out

    def cells(self):
        """The immediate sub-cells."""
        return self.name_cells().values()

    # ------------------------------------------------------------------ modes and flags
    def set_train(self, mode=True):
        """Training mode (``mode=True``: Dropout drops, BatchNorm uses batch statistics) for this cell and all
        sub-cells. Returns the cell."""
        for _, cell in self.cells_and_names():
            cell.__dict__["training"] = bool(mode)
        MODES[0] += 1
        return self

    def set_grad(self, requires_grad=True):
        """Marks the cell as one whose gradient is taken. Returns the cell."""
        self.__dict__["requires_grad"] = bool(requires_grad)
        return self

    def add_flags(self, **flags):
        """Set attributes from keyword flags. Returns the cell."""
        self.__dict__.setdefault("_flags", {}).update(flags)
        for k, v in flags.items():
            setattr(self, k, v)
        return self

    def add_flags_recursive(self, **flags):
        for _, cell in self.cells_and_names():
            cell.add_flags(**flags)
        return self

    def get_flags(self):
        return dict(self.__dict__.get("_flags", {}))

    def to_float(self, dst_type):
        """Run this cell and its sub-cells in ``dst_type`` (float16 or float32): float inputs and trainable float
        parameters are cast when the cell runs; the parameters themselves keep their dtype. Returns the cell."""
        dst = mdt.to_type(dst_type)
        if dst not in (mdt.float16, mdt.float32, mdt.float64):
            raise ValueError(f"to_float: dst_type must be float16, float32 or float64, got {dst_type}.{where()}")
        for _, cell in self.cells_and_names():
            cell.__dict__["_mixed_dtype"] = dst
        MODES[0] += 1
        return self

    # ------------------------------------------------------------------ printing
    def extend_repr(self):
        """Extra text shown inside ``Name<...>``; layers override it."""
        return ""

    def __repr__(self):
        extra = self.extend_repr()
        text = type(self).__name__ + "<"
        if self._cells:
            body = "\n"
            if extra:
                body += f"{extra}\n"
            for key, value in self._cells.items():
                body += f"({key}): {value!r}\n"
            text += body.replace("\n", "\n  ") + ">"
        else:
            text += extra + ">"
        return text

    def __str__(self):
        return self.__repr__()


def _check_cell(cell, where_from):
    if not isinstance(cell, Cell):
        raise TypeError(f"{where_from}: every element must be a Cell, got {type(cell).__name__}.{where()}")
    return cell


class SequentialCell(Cell):
    """Runs its cells in order, each one's output feeding the next.

    ``SequentialCell([c1, c2])`` (children named ``"0"``, ``"1"``), ``SequentialCell(OrderedDict(name=cell, ...))``
    or ``SequentialCell(c1, c2, ...)``.
    """

    def __init__(self, *args):
        super().__init__()
        if len(args) == 1 and isinstance(args[0], OrderedDict):
            for name, cell in args[0].items():
                self.insert_child_to_cell(name, _check_cell(cell, "SequentialCell"))
        elif len(args) == 1 and isinstance(args[0], (list, tuple)):
            for i, cell in enumerate(args[0]):
                self.insert_child_to_cell(str(i), _check_cell(cell, "SequentialCell"))
        else:
            for i, cell in enumerate(args):
                self.insert_child_to_cell(str(i), _check_cell(cell, "SequentialCell"))

    def __getitem__(self, index):
        cells = list(self._cells.values())
        if isinstance(index, slice):
            return SequentialCell(cells[index])
        return cells[self._index(index)]

    def _index(self, index):
        n = len(self._cells)
        if not isinstance(index, int) or not -n <= index < n:
            raise IndexError(f"SequentialCell index {index!r} is out of range for {n} cells")
        return index % n

    def __setitem__(self, index, cell):
        key = list(self._cells)[self._index(index)]
        self.insert_child_to_cell(key, _check_cell(cell, "SequentialCell"))

    def __delitem__(self, index):
        keys = list(self._cells)
        drop = keys[index] if isinstance(index, slice) else [keys[self._index(index)]]
        for k in drop:
            del self._cells[k]
        if all(k.isdigit() for k in keys):   # index-named children are renumbered 0..n-1
            cells = list(self._cells.values())
            self._cells.clear()
            for i, cell in enumerate(cells):
                self.insert_child_to_cell(str(i), cell)

    def __len__(self):
        return len(self._cells)

    def __iter__(self):
        return iter(self._cells.values())

    def append(self, cell):
        """Add ``cell`` at the end."""
        i = len(self._cells)
        while str(i) in self._cells:
            i += 1
        self.insert_child_to_cell(str(i), _check_cell(cell, "SequentialCell.append"))
        return self

    def construct(self, input_data):
        for cell in self._cells.values():
            input_data = cell(input_data)
        return input_data


class CellList(Cell):
    """A list of cells, registered as sub-cells ``"0"``, ``"1"``, ... (a container: iterate over it in the owning
    cell's construct)."""

    def __init__(self, *args, **kwargs):
        super().__init__(**kwargs)
        if len(args) > 1:
            raise TypeError(f"CellList takes one iterable of cells, got {len(args)} arguments.{where()}")
        if args:
            self.extend(args[0])

    def _index(self, index):
        n = len(self._cells)
        if not isinstance(index, int) or not -n <= index < n:
            raise IndexError(f"CellList index {index!r} is out of range for {n} cells")
        return index % n

    def _rebuild(self, cells):
        self._cells.clear()
        for i, cell in enumerate(cells):
            self.insert_child_to_cell(str(i), cell)

    def __getitem__(self, index):
        cells = list(self._cells.values())
        if isinstance(index, slice):
            return CellList(cells[index])
        return cells[self._index(index)]

    def __setitem__(self, index, cell):
        self.insert_child_to_cell(str(self._index(index)), _check_cell(cell, "CellList"))

    def __delitem__(self, index):
        cells = list(self._cells.values())
        if isinstance(index, slice):
            del cells[index]
        else:
            del cells[self._index(index)]
        self._rebuild(cells)

    def __len__(self):
        return len(self._cells)

    def __iter__(self):
        return iter(self._cells.values())

    def __iadd__(self, cells):
        return self.extend(cells)

    def index(self, cell):
        """Position of ``cell`` in the list (ValueError when absent)."""
        for i, c in enumerate(self._cells.values()):
            if c is cell:
                return i
        raise ValueError(f"CellList.index: {type(cell).__name__} is not in the list")

    def insert(self, index, cell):
        """Insert ``cell`` before position ``index``."""
        cells = list(self._cells.values())
        cells.insert(index, _check_cell(cell, "CellList.insert"))
        self._rebuild(cells)

    def extend(self, cells):
        """Append every cell of the iterable ``cells``."""
        cells = list(cells)
        for cell in cells:
            _check_cell(cell, "CellList.extend")
        for cell in cells:
            self.insert_child_to_cell(str(len(self._cells)), cell)
        return self

    def append(self, cell):
        """Append ``cell``."""
        self.insert_child_to_cell(str(len(self._cells)), _check_cell(cell, "CellList.append"))
        return self

    def construct(self, *inputs):
        raise NotImplementedError(f"CellList is a container and has no construct; call its cells from the owning "
                                  f"cell's construct.{where()}")
