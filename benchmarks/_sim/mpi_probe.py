"""Run under ``mpiexec -n 2``: message latency, bandwidth and intake cost.

Rank 0 and rank 1 exchange hpcmicro's own message records exactly as
:class:`hpcmicro.transport.MPITransport` does (pickled ``isend``, received
with ``improbe`` + ``recv``), but spinning instead of sleeping between polls,
so the figures are the wire + pickle cost without the poll back-off (which the
simulator models separately).  Rank 0 writes a JSON file:

* ``latency``: one-way time of a small message (half the ping-pong round trip);
  every figure is the minimum over a few repeats (the least disturbed by other
  processes on a shared machine);
* ``bandwidth``: bytes/s of the extra payload of a 100,000-task StealReply;
* ``recv``: {k: seconds}: receiver's cost per ``Results`` message of k tasks,
  drained from a burst that was already sent (improbe + recv + unpickle);
* ``send``: {k: seconds}: sender's cost per ``Assign`` of k tasks (isend call).
"""

from __future__ import annotations

import json
import sys
import time

import numpy as np
from mpi4py import MPI

from hpcmicro import messages as m

comm = MPI.COMM_WORLD
rank = comm.Get_rank()
STATUS = MPI.Status()


def recv_spin():
    while True:
        msg = comm.improbe(source=MPI.ANY_SOURCE, tag=1, status=STATUS)
        if msg is not None:
            return msg.recv()


def pingpong(msg, n):
    comm.Barrier()
    t = time.perf_counter()
    for _ in range(n):
        if rank == 0:
            comm.isend(msg, dest=1, tag=1).wait()
            recv_spin()
        else:
            recv_spin()
            comm.isend(msg, dest=0, tag=1).wait()
    return (time.perf_counter() - t) / n / 2


def results_msg(k):
    rng = np.random.default_rng(k)
    return m.Results(ids=rng.integers(0, 10**7, k), start=rng.random(k), stop=rng.random(k),
                     stolen=np.zeros(k, np.uint8),
                     values={"duration": rng.random(k), "planned": rng.random(k)},
                     busy=1.0)


def burst_recv(k, n):
    """Receiver cost per message of a burst of n Results(k) already sent."""
    msg = results_msg(k)
    reqs = []
    if rank == 0:
        reqs = [comm.isend(msg, dest=1, tag=1) for _ in range(n)]
    comm.Barrier()
    dt = 0.0
    if rank == 1:
        time.sleep(0.05)          # let eager messages land
        t = time.perf_counter()
        for _ in range(n):
            recv_spin()
        dt = (time.perf_counter() - t) / n
    MPI.Request.Waitall(reqs)
    comm.Barrier()
    return dt


def send_cost(k, n):
    """Sender cost per isend of an Assign of k tasks."""
    msg = m.Assign(np.arange(k, dtype=np.int64), np.ones(k))
    dt = 0.0
    comm.Barrier()
    if rank == 0:
        t = time.perf_counter()
        reqs = [comm.isend(msg, dest=1, tag=1) for _ in range(n)]
        dt = (time.perf_counter() - t) / n
        MPI.Request.Waitall(reqs)
    else:
        for _ in range(n):
            recv_spin()
    comm.Barrier()
    return dt


def main(out, quick=False):
    r = 5 if quick else 1            # divide the repeat counts in a quick run
    small = m.StealRequest(1, 0.25)
    pingpong(small, 200 // r)
    lat = float(np.min([pingpong(small, 500 // r) for _ in range(5)]))
    k_big = 100_000
    big = m.StealReply(1, np.arange(k_big, dtype=np.int64), np.ones(k_big))
    pingpong(big, 3)
    t_big = float(np.min([pingpong(big, 10) for _ in range(3)]))
    bw = 16 * k_big / max(t_big - lat, 1e-9)
    recv = {k: float(np.min([burst_recv(k, n // r) for _ in range(3)]))
            for k, n in ((1, 2000), (64, 2000), (1024, 500), (4096, 200))}
    send = {k: float(np.min([send_cost(k, n // r) for _ in range(3)]))
            for k, n in ((1, 2000), (64, 2000), (1024, 500), (16384, 100))}
    if rank == 0:
        lib = MPI.Get_library_version().strip().splitlines()[0]
        with open(out, "w") as f:
            json.dump({"latency": lat, "bandwidth": bw, "recv": recv, "send": send,
                       "mpi_library": lib}, f)
    # rank 1 computed recv; send it to rank 0's file via a gather
    allrecv = comm.gather(recv, root=0)
    if rank == 0:
        data = json.load(open(out))
        data["recv"] = allrecv[1]
        with open(out, "w") as f:
            json.dump(data, f, indent=1)


if __name__ == "__main__":
    main(sys.argv[1], quick=len(sys.argv) > 2 and sys.argv[2] == "quick")
