"""``python -m bench``: run the benchmarks and write docs/benchmarks.md (see bench/__init__.py)."""

from bench.run import main

raise SystemExit(main())
