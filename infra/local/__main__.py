"""``python -m infra.local``: run the local stack (see :mod:`infra.local.server`).

Worker processes are spawned, and spawn re-imports the parent's ``__main__``: nothing may run
here at import time, hence the guard and the import inside it.
"""

if __name__ == "__main__":
    import sys

    from infra.local.server import main

    sys.exit(main())
