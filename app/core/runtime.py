"""Process-wide tuning applied once start-up is over (API and worker)."""

from __future__ import annotations

import gc

# Allocations between two collections of the young generation (CPython's default: 700), and
# young collections between two of the middle one (default: 10). A batch of 500 integration
# items keeps tens of thousands of objects alive until it is written: at the defaults, each of
# them was walked again at every collection until it reached the old generation, 15 µs per
# expediente of the batch and pauses of up to 14 ms; at these, 4–6 µs and 2–3 ms. Objects that
# die young are freed by their reference count, whatever the thresholds; only cycles wait.
GC_THRESHOLDS = (10_000, 20, 20)


def freeze_startup_heap() -> None:
    """Moves everything alive after start-up (modules, routes, schemas, mappers, settings) out
    of the garbage collector's reach, and sets its thresholds (`GC_THRESHOLDS`).

    Those objects live as long as the process; left in the tracked generations, every full
    collection walks all of them again, which under load showed as pauses of over 100 ms. A
    collection first, so that start-up garbage is not frozen with them."""
    gc.collect()
    gc.freeze()
    gc.set_threshold(*GC_THRESHOLDS)
