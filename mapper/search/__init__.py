"""The search: which mapping each layer gets, and the proof that it is the best.

``space`` (the variables' ranges), ``symbolic`` (the cost model's arithmetic as
CP-SAT constraints), ``cpsat`` (``map_layer``: one layer), ``exhaustive`` (the
numpy enumerator, the test oracle) and ``network`` (``map_network``: every
layer of a graph, batch choice, latency budgets).  Depends on ``cost_models``
and OR-tools only; nothing here knows about bitstreams, files or terminals.
"""
