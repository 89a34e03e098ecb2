"""A sweep's layer searches run in chains over neighbouring design points, each capped by the previous answer."""

from __future__ import annotations

from dataclasses import replace

import mapper.app.sweep.run as run
from cost_models.layer import LayerShape
from cost_models.rowstationary import DataRatios
from mapper.app.sweep.run import Task, chains, solve_chain
from mapper.search.cpsat import map_layer

CONV = LayerShape(1, 32, 16, 14, 14, 3, 3, pads=(1, 1, 1, 1))
FC = LayerShape(1, 10, 256, 1, 1, 1, 1, kind="fc")


def test_chains_group_each_layer_in_point_order_and_cut_at_the_chain_length(hw, monkeypatch):
    monkeypatch.setattr(run, "CHAIN_LENGTH", 3)
    points = [replace(hw, glb_banks=banks) for banks in (10, 12, 14, 16, 18)]
    tasks = [Task(layer, point, "energy", DataRatios(), None) for point in points for layer in (CONV, FC)]
    work = chains(tasks)
    assert [[(t.layer, t.hardware.glb_banks) for t in chain] for chain in work] == [
        [(CONV, 10), (CONV, 12), (CONV, 14)], [(CONV, 16), (CONV, 18)],
        [(FC, 10), (FC, 12), (FC, 14)], [(FC, 16), (FC, 18)]]
    assert sorted(map(id, (t for chain in work for t in chain))) == sorted(map(id, tasks))


def test_each_search_of_a_chain_starts_from_the_previous_answer_and_answers_as_alone(hw, monkeypatch):
    points = [replace(hw, glb_banks=banks) for banks in (12, 25, 40)]
    chain = tuple(Task(CONV, point, "energy", DataRatios(), None) for point in points)
    seen = []

    def recording(*args, known=None, **options):
        seen.append(known)
        return map_layer(*args, known=known, **options)

    monkeypatch.setattr(run, "map_layer", recording)
    results = solve_chain(chain)
    assert seen[0] is None and seen[1:] == [results[0].mapping, results[1].mapping]
    alone = [map_layer(CONV, point, "energy") for point in points]
    assert [(r.mapping, r.status, r.objective_value) for r in results] == \
        [(r.mapping, r.status, r.objective_value) for r in alone]
