"""The graph IR: ANF graphs (anf), building them from mindlab ops (builder), and views of them (printer)."""
