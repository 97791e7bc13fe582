"""ipywidgets for mindlab: a PyNative / Graph mode toggle that follows ``set_context`` both ways."""
import weakref

from .. import context

_MODES = [("PyNative", context.PYNATIVE_MODE), ("Graph", context.GRAPH_MODE)]


def mode_toggle():
    """A ``ToggleButtons`` widget showing the global mode: clicking sets it (``set_context(mode=...)``), and
    ``set_context`` calls elsewhere move it."""
    import ipywidgets as widgets
    toggle = widgets.ToggleButtons(options=_MODES, value=context.get_context("mode"), description="mindlab mode",
                                   tooltips=["eager: ops run one by one", "Cells and jit functions compile to graphs"])

    def set_mode(change):
        if context.get_context("mode") != change["new"]:
            context.set_context(mode=change["new"])

    toggle.observe(set_mode, names="value")
    ref = weakref.ref(toggle)

    def follow(state):
        w = ref()
        if _alive(w) and w.value != state["mode"]:
            w.value = state["mode"]

    follow.toggle = ref
    # drop the followers of toggles closed or collected since (not while set_context iterates over them)
    context._listeners[:] = [fn for fn in context._listeners
                             if not hasattr(fn, "toggle") or _alive(fn.toggle())]
    context._listeners.append(follow)
    return toggle


def _alive(widget):
    return widget is not None and widget.comm is not None
