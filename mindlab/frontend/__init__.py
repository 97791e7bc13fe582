"""Python source -> graph IR (``parser``), and ``jit``, which compiles and caches per input signature."""
