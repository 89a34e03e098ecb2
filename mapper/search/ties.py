"""What decides between mappings tied on the objective, in order: the search and its oracle share it.

Issue 30: under ``--objective latency`` ResNet-18's conv17 took a mapping with
5 % more energy for no latency gain.  A tie goes to energy, then latency;
EDP's ties go to energy first and then latency (EDP is a floor of a scaled
product, so fixing it and energy does not fix latency).  The last word is the
lexicographically smallest mapping (n, e, p, q, r, t, g, m_per_pt), which makes
the answer unique.
"""

TIES: dict[str, tuple[str, ...]] = {"energy": ("latency",), "latency": ("energy",), "edp": ("energy", "latency")}
