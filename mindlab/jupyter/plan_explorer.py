"""The plan explorer: an ipywidget that re-plans a network live as the device count, mesh shape, search mode and
memory limit change, and shows the plan (its plan JSON renderer, or text) and a matplotlib cost breakdown.

>>> explorer = plan_explorer(step, x, y)          # a Cell (e.g. a TrainOneStepCell) or function + sample inputs
>>> explorer                                      # in a notebook: the controls, the plan and the cost plot

Every change calls ``mindlab.parallel.plan`` with the chosen options (nothing else decides a plan), so the numbers
shown are the ``parallel`` API's. The cost plot has two panels: per device, the modelled compute and communication
time of one step, and the memory, for the chosen search mode and the alternatives (every search mode and plain
data parallelism on the same mesh), with the memory limit drawn as a line. A limit no plan fits shows the error and
the smallest plan found instead of a plan.
"""
import math

from ..parallel.planner import SEARCH_MODES

__all__ = ["PlanExplorer", "plan_explorer", "mesh_shapes", "MODES"]

MODES = SEARCH_MODES + ("data_parallel",)
DEVICE_COUNTS = (2, 4, 8, 16, 32, 64)


def _factorizations(n, largest=None):
    """Ordered factorizations of ``n`` into factors >= 2 (as tuples), each non-increasing."""
    largest = largest or n
    out = [(n,)] if n <= largest else []
    for f in range(min(n - 1, largest), 1, -1):
        if n % f == 0:
            out += [(f,) + rest for rest in _factorizations(n // f, f)]
    return out


def mesh_shapes(n):
    """Mesh shapes offered for ``n`` devices: 1-D first, then 2-D and deeper factorizations (largest axis first)."""
    if n == 1:
        return [(1,)]
    return sorted(_factorizations(n), key=lambda s: (len(s), [-x for x in s]))


class PlanExplorer:
    """Controls + plan + cost plot for ``target`` called with ``args`` (see the module docstring).

    ``explorer.plan`` is the current ``ParallelPlan`` (None when the last re-plan failed, then ``explorer.error``
    holds the error); ``explorer.costs`` maps each mode shown in the plot to its cost dict (``total``, ``compute``,
    ``communication``, ``memory``); ``explorer.replans`` counts the re-plans; ``explorer.figure`` is the plot."""

    def __init__(self, target, *args, device_num=4, mesh_shape=None, search_mode="dynamic_programming",
                 memory_limit=None, profile=None, compare=True, device_counts=DEVICE_COUNTS, **kwargs):
        import ipywidgets as W
        self.target, self.args, self.kwargs, self.profile = target, args, kwargs, profile
        self.plan = self.error = self.figure = None
        self.costs, self.replans, self.shown = {}, 0, None
        counts = sorted(set(device_counts) | {device_num})
        self.device_num = W.Dropdown(options=counts, value=device_num, description="devices")
        shapes = mesh_shapes(device_num)
        self.mesh_shape = W.Dropdown(options=[(" x ".join(map(str, s)), s) for s in shapes],
                                     value=tuple(mesh_shape) if mesh_shape else shapes[0], description="mesh")
        self.search_mode = W.Dropdown(options=list(MODES), value=search_mode, description="search")
        self.memory_limit = W.BoundedFloatText(value=(memory_limit or 0) / 1e3, min=0, max=1e12, step=1,
                                               description="limit (KB)",
                                               tooltip="memory per device the plan must fit; 0: no limit")
        self.compare = W.Checkbox(value=compare, description="compare modes", indent=False)
        self.status = W.Label()
        self.plan_out, self.cost_out = W.Output(), W.Output()
        for w in (self.mesh_shape, self.search_mode, self.memory_limit, self.compare):
            w.observe(self._changed, names="value")
        self.device_num.observe(self._devices_changed, names="value")
        controls = W.HBox([self.device_num, self.mesh_shape, self.search_mode, self.memory_limit, self.compare])
        self.widget = W.VBox([controls, self.status, W.HBox([self.plan_out, self.cost_out])])
        self.replan()

    # ------------------------------------------------------------------------------------------ events
    def _devices_changed(self, change):
        shapes = mesh_shapes(change["new"])
        self._quiet = True
        try:
            self.mesh_shape.options = [(" x ".join(map(str, s)), s) for s in shapes]
            self.mesh_shape.value = shapes[0]
        finally:
            self._quiet = False
        self.replan()

    def _changed(self, change):
        if not getattr(self, "_quiet", False):
            self.replan()

    # ------------------------------------------------------------------------------------------ planning
    def options(self):
        """The current options as keyword arguments of ``mindlab.parallel.plan``."""
        mode = self.search_mode.value
        limit = int(self.memory_limit.value * 1e3) or None
        opts = {"mesh": tuple(self.mesh_shape.value), "memory_limit": limit, "profile": self.profile}
        if mode == "data_parallel":
            opts["parallel_mode"] = "data_parallel"
        else:
            opts.update(parallel_mode="auto_parallel", search_mode=mode)
        return opts

    def _plan(self, **opts):
        from ..parallel import plan
        return plan(self.target, *self.args, **opts, **self.kwargs)

    def replan(self):
        """Plan with the current options (and the alternatives when comparing), then redraw."""
        from ..parallel import PlanError
        self.replans += 1
        opts = self.options()
        self.plan = self.error = None
        try:
            self.plan = self._plan(**opts)
        except PlanError as err:
            self.error = err
        chosen = self.search_mode.value
        self.costs = {}
        if self.plan is not None:
            self.costs[chosen] = dict(self.plan.cost)
        if self.compare.value:
            for mode in MODES:
                if mode == chosen:
                    continue
                alt = dict(opts, parallel_mode="data_parallel") if mode == "data_parallel" else \
                    dict(opts, parallel_mode="auto_parallel", search_mode=mode)
                alt.pop("search_mode", None) if mode == "data_parallel" else None
                try:
                    self.costs[mode] = dict(self._plan(**alt).cost)
                except PlanError:
                    pass          # over the memory limit: not drawn
        self._show()

    # ------------------------------------------------------------------------------------------ views
    def _show(self):
        from IPython.display import display
        mesh = " x ".join(map(str, self.mesh_shape.value))
        if self.plan is not None:
            c = self.plan.cost
            self.status.value = (f"{self.search_mode.value} on mesh {mesh}: {c['total'] * 1e6:.1f} us per step "
                                 f"(compute {c['compute'] * 1e6:.1f}, communication {c['communication'] * 1e6:.1f}),"
                                 f" {c['memory'] / 1e3:.1f} KB per device")
            self.shown = self.plan._repr_mimebundle_()
        else:
            first = str(self.error).splitlines()[-1]
            self.status.value = f"no plan: {first}"
            self.shown = {"text/plain": str(self.error)}
        self.plan_out.clear_output(wait=True)
        with self.plan_out:
            display(self.shown, raw=True)
        self.figure = self.cost_figure()
        self.cost_out.clear_output(wait=True)
        with self.cost_out:
            display(self.figure)

    def cost_figure(self):
        """The matplotlib figure: time per step (compute + communication, stacked) and memory per device, per mode."""
        from matplotlib.figure import Figure
        fig = Figure(figsize=(7.5, 2.8), layout="constrained")
        ax_t, ax_m = fig.subplots(1, 2)
        modes = list(self.costs)
        xs = range(len(modes))
        comp = [self.costs[m]["compute"] * 1e6 for m in modes]
        comm = [self.costs[m]["communication"] * 1e6 for m in modes]
        mem = [self.costs[m]["memory"] / 1e3 for m in modes]
        chosen = self.search_mode.value
        edge = ["black" if m == chosen else "none" for m in modes]
        ax_t.bar(xs, comp, label="compute", color="#4c78a8", edgecolor=edge)
        ax_t.bar(xs, comm, bottom=comp, label="communication", color="#f58518", edgecolor=edge)
        ax_t.set_ylabel("us per step (per device)")
        ax_t.legend(fontsize=7)
        ax_m.bar(xs, mem, color="#54a24b", edgecolor=edge)
        ax_m.set_ylabel("KB per device")
        limit = self.options()["memory_limit"]
        if limit:
            ax_m.axhline(limit / 1e3, color="red", linestyle="--", label="memory limit")
            ax_m.legend(fontsize=7)
        labels = [m.replace("sharding_propagation", "propagation").replace("dynamic_programming", "DP")
                  .replace("data_parallel", "data par.") for m in modes]
        for ax in (ax_t, ax_m):
            ax.set_xticks(list(xs), labels, fontsize=7)
        fig.suptitle(f"{len(self.mesh_shape.value) and math.prod(self.mesh_shape.value)} devices, mesh "
                     f"{' x '.join(map(str, self.mesh_shape.value))}", fontsize=9)
        return fig

    def _ipython_display_(self):
        from IPython.display import display
        display(self.widget)

    def __repr__(self):
        return f"<PlanExplorer {self.options()}: {self.plan!r}>"


def plan_explorer(target, *args, **options):
    """``PlanExplorer(target, *args, **options)``: the live plan explorer widget for a network and sample inputs."""
    return PlanExplorer(target, *args, **options)
