"""The resident-data bookkeeping of round-based workloads, without MPI."""

import collections
import random

import numpy as np
import pytest

from hpcmicro.dataflow import INITIAL, Flow

import ringtoy


def _ring_needs(n):
    return [{(j - 1) % n, j, (j + 1) % n} for j in range(n)]


def _ring_outputs(n, j, x):
    return [(k % n, j, x) for k in (j - 1, j, j + 1)]


def _initial(n):
    return lambda items: {j: {k % n: float(k % n) for k in (j - 1, j, j + 1)} for j in items}


def test_a_task_is_ready_once_all_its_pieces_are_in():
    n = 4
    f = Flow(n, 3, _ring_needs(n), rank=1)
    sends, ready = f.place(0, [1, 1, 2, 2], np.full(n, 0.5), _initial(n))
    assert sends == {} and ready == [(0, 0.5), (1, 0.5)]
    f.take(0)
    sends, ready = f.finished(0, _ring_outputs(n, 0, 10.0), 0.25)
    # item 0's value goes to items 3 (rank 2), 0 and 1 (here): nothing complete yet
    assert sends == {2: [(1, 3, 0, 10.0)]} and ready == []
    f.take(1)
    sends, ready = f.finished(1, _ring_outputs(n, 1, 11.0), 0.25)
    assert sends == {2: [(1, 2, 1, 11.0)]} and ready == []
    _, ready = f.add([(1, 0, 3, 13.0)])               # item 3's value, from rank 2
    assert ready == [(n + 0, 0.25)], "the measured seconds are the next estimate"
    _, ready = f.add([(1, 1, 2, 12.0)])
    assert ready == [(n + 1, 0.25)]
    assert f.take(n + 1) == {0: 10.0, 1: 11.0, 2: 12.0}


def test_the_last_round_sends_nothing():
    f = Flow(3, 1, _ring_needs(3), rank=1)
    f.place(0, [1, 1, 1], np.ones(3), _initial(3))
    assert f.finished(0, _ring_outputs(3, 0, 1.0), 0.1) == ({}, [])


def test_a_stolen_item_takes_its_later_pieces_and_the_victim_forwards_new_ones():
    n = 4
    victim, thief = Flow(n, 4, _ring_needs(n), 1), Flow(n, 4, _ring_needs(n), 2)
    for f in (victim, thief):
        f.place(0, [1, 1, 2, 2], np.ones(n), _initial(n))
    # round 1 of item 0 is queued at the victim; a piece of its round 2 is here already
    victim.pieces[(1, 0)] = {3: 3.0, 0: 0.0, 1: 1.0}
    victim.pieces[(2, 0)] = {3: 30.0}
    payload = victim.export_task(n + 0, thief=2)
    assert set(payload) == {1, 2} and 0 not in victim.held and victim.owner[0] == 2
    assert thief.import_task(n + 0, payload, 0.5) == []       # round 2 still incomplete
    assert 0 in thief.held and thief.take(n + 0) == {3: 3.0, 0: 0.0, 1: 1.0}
    # a rank that still thinks the victim holds item 0 sends it a piece: forwarded
    sends, ready = victim.add([(2, 0, 1, 21.0)])
    assert sends == {2: [(2, 0, 1, 21.0)]} and ready == [] and victim.forwarded == 1
    _, ready = thief.add(sends[2] + [(2, 0, 0, 20.0)])
    assert ready == [(2 * n + 0, 0.5)]


def test_a_barrier_holds_the_next_round_until_it_is_placed_and_moves_items():
    n = 4
    f = Flow(n, 3, _ring_needs(n), rank=1)
    f.place(0, [1, 1, 2, 2], np.ones(n), _initial(n), barrier=True)
    _, ready = f.add([(1, 0, 3, 3.0), (1, 0, 0, 0.0), (1, 0, 1, 1.0),
                      (1, 1, 0, 0.0), (1, 1, 1, 1.0)])
    assert ready == [] and f.held_back == [(1, 0)], "round 1 is not placed yet"
    # round 1: item 0 stays, item 1 moves to rank 2 with its pieces, item 2 comes here
    sends, ready = f.place(1, [1, 2, 1, 2], np.full(n, 0.3), barrier=True)
    assert ready == [(n + 0, 0.3)] and f.held_back == []
    assert sends == {2: [(1, 1, 0, 0.0), (1, 1, 1, 1.0)]}
    assert f.held == {0, 2}


def test_a_piece_twice_or_for_an_unknown_item_is_an_error():
    f = Flow(3, 3, _ring_needs(3), rank=1)
    f.place(0, [1, 1, 1], np.ones(3), _initial(3))
    f.add([(1, 0, 0, 1.0)])
    with pytest.raises(RuntimeError, match="twice"):
        f.add([(1, 0, 0, 1.0)])
    g = Flow(3, 3, _ring_needs(3), rank=1)
    g.place(0, [2, 2, 2], np.ones(3), _initial(3))
    g.owner[0] = 1                                 # a broken belief: it would loop
    with pytest.raises(RuntimeError, match="neither holds nor gave away"):
        g.add([(1, 0, 0, 1.0)])


def test_a_failed_task_gets_its_inputs_back_for_the_retry():
    f = Flow(3, 2, _ring_needs(3), rank=1)
    f.place(0, [1, 1, 1], np.ones(3), _initial(3))
    inputs = f.take(2)
    f.restore(2, inputs)
    assert f.take(2) == {INITIAL: {1: 1.0, 2: 2.0, 0: 0.0}}


@pytest.mark.parametrize("seed", range(20))
@pytest.mark.parametrize("barrier", [False, True])
def test_random_delivery_and_steals_compute_the_serial_ring(seed, barrier):
    """Workers as Flow objects; messages in per-pair order but otherwise in
    random order; random steals of queued tasks (with their pieces); every
    task runs exactly once and the values equal the serial loop's."""
    rng = random.Random(seed)
    n, rounds, ranks = 9, 6, [1, 2, 3]
    flows = {r: Flow(n, rounds, _ring_needs(n), r) for r in ranks}
    queues = {r: collections.deque() for r in ranks}
    links = collections.defaultdict(collections.deque)      # (src, dest) -> messages
    values, runs = {}, collections.Counter()

    def route(src, sends, ready):
        for dest, entries in sends.items():
            links[(src, dest)].append(("data", entries))
        queues[src].extend(tid for tid, _ in ready)

    def place(r, runners, first):
        for w in ranks:
            init = _initial(n) if first else None
            route(w, *flows[w].place(r, runners, np.ones(n), init, barrier))

    place(0, np.array([rng.choice(ranks) for _ in range(n)]), True)
    placed = 0
    while len(values) < n * rounds:
        moves = [("run", w) for w in ranks if queues[w]]
        moves += [("deliver", k) for k, q in links.items() if q]
        moves += [("steal", w, v) for w in ranks for v in ranks if w != v and queues[v]]
        if barrier and placed < rounds - 1 and all(
                (placed * n + j) in values for j in range(n)):
            moves.append(("place",))
        assert moves, "deadlock: tasks left but nothing can move"
        move = rng.choice(moves)
        if move[0] == "run":
            w = move[1]
            tid = queues[w].popleft()
            r, j = divmod(tid, n)
            v = flows[w].take(tid)
            v = v.get(INITIAL, v)
            x = 0.5 * v[j] + 0.25 * (v[(j - 1) % n] + v[(j + 1) % n]) + r
            values[tid] = x
            runs[tid] += 1
            route(w, *flows[w].finished(tid, _ring_outputs(n, j, x), 1.0))
        elif move[0] == "deliver":
            src, dest = move[1]
            kind, body = links[move[1]].popleft()
            if kind == "data":
                route(dest, *flows[dest].add(body))
            else:                                   # a stolen task with its pieces
                tid, payload = body
                queues[dest].append(tid)
                route(dest, {}, flows[dest].import_task(tid, payload, 1.0))
        elif move[0] == "steal":
            w, v = move[1], move[2]
            tid = queues[v].pop()
            links[(v, w)].append(("task", (tid, flows[v].export_task(tid, w))))
        else:
            placed += 1
            place(placed, np.array([rng.choice(ranks) for _ in range(n)]), False)
    assert max(runs.values()) == 1
    got = np.array([values[t] for t in range(n * rounds)])
    assert np.array_equal(got, ringtoy.serial(n, rounds))
