"""``python -m mindlab run -n 4 script.py``: the mindlab command line (``run`` is ``mindlab.run``)."""
import sys


def main(argv=None):
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or argv[0] in ("-h", "--help"):
        print("usage: python -m mindlab run -n N script.py [args...]   (run a script on N MPI ranks)")
        return 0 if argv else 2
    if argv[0] == "run":
        from .run import main as run_main
        return run_main(argv[1:])
    sys.stderr.write(f"mindlab: unknown command {argv[0]!r}; commands: run\n")
    return 2


if __name__ == "__main__":
    sys.exit(main())
