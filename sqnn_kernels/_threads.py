"""When a ``parallel=True`` kernel may run: numba's threading layers, Python threads and ``fork``.

numba runs ``prange`` loops on one of three threading layers, and two of them have a limit:

- ``omp`` with GNU OpenMP (numba's choice on Linux when TBB is absent) is not fork-safe: a child process
  forked after the parent ran a parallel kernel is killed by numba as soon as it launches one, and a
  ``multiprocessing.Pool`` then waits forever for the lost task. Here a process forked after a parallel
  launch on ``omp`` runs every kernel through its serial build instead (same results: each row's result
  depends only on that row); the processes are then the parallelism.
- ``workqueue`` (numba's fallback, and macOS's default) is not thread-safe: two Python threads launching
  parallel kernels at once abort the process. Here parallel launches are serialised by a lock unless the
  layer in use is known to be thread-safe (``omp``, ``tbb``); serial builds still run concurrently
  (``nogil``).

Processes started with the ``spawn`` or ``forkserver`` methods never share threads with their parent: they
load the kernels from the disk cache and run in parallel as usual.
"""

from __future__ import annotations

import os
import threading

_launch_lock = threading.Lock()
_layer: str | None = None  # numba's threading layer once a parallel kernel ran in this process
_serial_only = False  # set in a child forked after a parallel launch on a layer that is not fork-safe

THREAD_SAFE_LAYERS = ("omp", "tbb")
FORK_SAFE_LAYERS = ("tbb", "workqueue")


def serial_only() -> bool:
    """Whether this process must not launch parallel kernels (forked after OpenMP threads started)."""
    return _serial_only


def _after_fork_in_child() -> None:
    global _serial_only, _launch_lock
    _launch_lock = threading.Lock()  # the parent's lock may have been held by another thread
    layer = _current_layer()  # also counts parallel code of other libraries run by the parent
    if layer is not None and layer not in FORK_SAFE_LAYERS:
        _serial_only = True


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork_in_child)


def _current_layer() -> str | None:
    import numba

    try:
        return numba.threading_layer()
    except ValueError:  # no parallel kernel ran yet
        return None


def sleeping_threads() -> None:
    """``OMP_WAIT_POLICY=PASSIVE`` unless the user set it: idle OpenMP threads sleep between parallel kernels.

    GNU OpenMP keeps idle threads spinning by default, and on a machine busier than its cores the spinning
    threads take the cores the working thread needs: the fused engine on 2 threads (45x8-64-64-1, 20,000
    rows per call, 6 other busy processes on 2 cores) ran at a median 0.4-0.5 M events/s spinning against
    4.8-5.8 M sleeping, and a fit epoch 3x slower. OpenMP reads the variable when it starts, so this acts
    only before the process's first parallel kernel (:func:`launch` calls it then).
    """
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")


def launch(kernel, *args):
    """Run the ``parallel=True`` build ``kernel(*args)``, holding a lock unless the layer is thread-safe."""
    global _layer
    if _layer in THREAD_SAFE_LAYERS:
        return kernel(*args)
    if _layer is None:
        sleeping_threads()
    with _launch_lock:
        result = kernel(*args)
        _layer = _current_layer()
    return result
