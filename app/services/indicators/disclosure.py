"""Statistical disclosure control for public figures.

The rule (stated in every public response and in the metadata): in public output, a cell of a
disaggregation whose count of people or answers is between 1 and 4 is suppressed (primary
suppression). When any cell of a breakdown is suppressed, further cells are suppressed, smallest
first, until at least two are and together they add up to 5 or more (complementary
suppression), so the total minus the cells shown never reveals a small cell; a breakdown with
too few cells for that is suppressed whole. Province totals are always shown (the province is
no small group) and so are zero cells. Staff of the office see every figure.
"""

from __future__ import annotations

THRESHOLD = 5

RULE = (
    "En la información pública se suprimen las celdas desagregadas con 1 a 4 personas o"
    " respuestas; si se suprime alguna, se suprimen también las más pequeñas de la misma"
    " desagregación hasta que haya al menos dos suprimidas que sumen 5 o más, para que el"
    " total no permita deducirlas; si no es posible, se suprime toda la desagregación. Los"
    " totales provinciales se publican siempre."
)


def small(count: int) -> bool:
    return 0 < count < THRESHOLD


def suppress(counts: dict[str, int]) -> set[str]:
    """The keys of a breakdown to suppress."""
    hidden = {k for k, v in counts.items() if small(v)}
    if not hidden:
        return hidden
    candidates = sorted((v, k) for k, v in counts.items() if k not in hidden and v > 0)
    while len(hidden) < 2 or sum(counts[k] for k in hidden) < THRESHOLD:
        if not candidates:
            return set(counts)
        hidden.add(candidates.pop(0)[1])
    return hidden
