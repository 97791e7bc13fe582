"""Text dump of a graph, MindSpore-IR-like: one node per line with its abstract value and source line.

    # graph construct_1(%x: Float32[2, 3], %fc.weight: Float32[4, 3] = Parameter) -> Float32[2, 4]
      %5 = matmul(%x, %fc.weight) {transpose_a=False, transpose_b=True} : Float32[2, 4]   # net.py:9  x = self.fc(x)
      return %5
"""
import os

import numpy as np

from .anf import Apply, Constant, Param, Graph


def _const_text(value):
    if isinstance(value, Graph):
        return f"@{value.name}"
    arr = np.asarray(value)
    if arr.size == 1:
        return repr(arr.item())
    if arr.size <= 6:
        return np.array2string(arr, separator=",").replace("\n", "")
    return f"<const {list(arr.shape)}>"


def node_ref(node, names):
    if isinstance(node, Constant):
        return _const_text(node.value)
    return names.get(id(node), f"%{node.id}")


def _attr_text(attrs):
    shown = {k: v for k, v in attrs.items() if not isinstance(v, Graph)}
    graphs = {k: v for k, v in attrs.items() if isinstance(v, Graph)}
    parts = [f"{k}={v!r}" for k, v in shown.items()] + [f"{k}=@{g.name}" for k, g in graphs.items()]
    return " {" + ", ".join(parts) + "}" if parts else ""


def _src_text(source):
    if source is None:
        return ""
    text = f"  # {os.path.basename(source.file)}:{source.line}"
    return text + (f"  {source.text}" if source.text else "")


def dump_graph(graph, names=None):
    names = {} if names is None else names
    for p in graph.params:
        names[id(p)] = f"%{p.name}"
    params = ", ".join(f"%{p.name}: {p.abstract}" + (" = Parameter" if p.default is not None else "")
                       for p in graph.params)
    out_abs = graph.output.abstract if graph.output is not None else None
    lines = [f"# graph {graph.name}({params}) -> {out_abs}"]
    for n in graph.nodes:
        args = ", ".join(node_ref(i, names) for i in n.inputs)
        lines.append(f"  %{n.id} = {n.op_name}({args}){_attr_text(n.attrs)} : {n.abstract}{_src_text(n.source)}")
    if graph.output is not None:
        lines.append(f"  return {node_ref(graph.output, names)}")
    return "\n".join(lines)


def dump(graph):
    """The whole program: the graph, then every subgraph it uses (branches, loop bodies, callees)."""
    names = {}
    return "\n\n".join(dump_graph(g, names) for g in graph.all_graphs())
