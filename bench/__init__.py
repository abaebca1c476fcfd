"""Benchmarks of the series: how fast it runs and how good its VAE is, beside a reference.

README
======

``make bench`` (or ``.venv/bin/python -m bench``) measures, on this machine, and writes
``docs/benchmarks.md`` with its figures (``docs/benchmarks_*.png``) from scratch:

* **runtime** (``bench/runtime.py``): every notebook executed top to bottom in a fresh kernel
  (nbclient) on a scratch copy, in order; wall seconds and the peak RSS of the kernel's process
  tree per notebook, and the total; the median of up to three passes over the series.
* **quality** (``bench/quality.py``): notebook 06's recipe (``helpers.recipes.VAE_32D`` trained by
  ``helpers.recipes.train_recipe``) beside the PyTorch examples VAE (784-400-20, Adam 1e-3, batch
  128), trained for the same wall-clock budgets (15, 30, 60, 120 s) in one process on the same
  50,000 training images and threads; −ELBO and the IWAE (K = 1000) estimate of −log p(x) on the
  fixed-binarized validation images for every comparison, and how long the reference needs to
  reach our 60-second result; the test set is scored once, for the headline models.
* **overhead** (``bench/overhead.py``): one epoch of notebook 06's recipe through the training
  loop against the same number of optimizer steps on one fixed batch; what batch selection,
  dynamic binarization, bookkeeping and the progress bar cost (budget: 15 %).
* **widgets** (``bench/widgets.py``): kernel-side milliseconds from a slider event to new PNG
  bytes, median and p95, for the 2-D and the main model of notebook 07.
* **install** (``bench/install.py``): seconds from a fresh ``git clone`` to a working environment
  with ``make setup`` (the set-up step of ``make lab``), with pip's warm download cache.

The report starts with the machine (CPU, cores, memory, torch version and threads, the git
commit, the load average at start and end: a busy machine inflates every timing).

Usage::

    python -m bench                        # everything (40-50 minutes on 2 idle cores)
    python -m bench --only quality         # one part; --only takes a comma-separated list
    python -m bench --smoke --out /tmp/b.md   # tiny budgets: checks the scripts in seconds
    python -m bench.quality --budgets 30,60 # each script also runs alone, with its own options

Benchmarks are not tests: nothing fails on a slow machine. ``tests/test_bench.py`` runs every
script with ``--smoke`` (one notebook, budgets under a second, a few IWAE samples on a few
hundred images, no install) so the scripts cannot rot; a failed measurement (a notebook that
raises, a widget that does not redraw) is shown in the report and makes the exit code 1.
Scratch copies live in ``bench/.work/`` (ignored by git) and are removed after each run.
"""
