"""Numbers in explanations: a comparison printed so that what a person reads agrees with what was compared."""

from __future__ import annotations


def distinct_figures(value: float, bound: float, digits: int = 2) -> tuple[str, str]:
    """``value`` and ``bound`` with the fewest decimals (at least ``digits``) at which they read differently.

    "confidence 0.996 is below 0.9963" printed with two decimals reads "1.00 is below 1.00"; here it reads
    "0.9960 is below 0.9963". The bound, usually a setting such as 0.5, loses its trailing zeros.
    """
    places = digits
    while places < 15 and f"{value:.{places}f}" == f"{bound:.{places}f}":
        places += 1
    return f"{value:.{places}f}", _trim(f"{bound:.{places}f}")


def _trim(figure: str) -> str:
    return figure.rstrip("0").rstrip(".") if "." in figure else figure
