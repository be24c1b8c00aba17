#!/usr/bin/env python3
"""Measure a simulated compound: N gates, P people, one office, a real Mosquitto on localhost.

Every step is the product's own (init, join, admit, install; the office's sealed, signed,
numbered changes; each gate's StoreGate applying them to its own encrypted store in one
transaction each, signing its answers; the on-disk event outbox). Only the doors are missing:
the gates are in this one process (threads), their stores in a temporary folder.

    PYTHONPATH=daemon python scripts/compound_scale.py --gates 20 --people 5000 --json out.json

Phases: (1) every gate online but one, which connected once and then stopped (a gate that is
away for the day); the office enrols P people to every gate; (2) the away gate comes back and
catches up; (3) each gate sends E events at once (a burst); (4) W people are withdrawn
everywhere and the receipts counted. Prints and writes the timings, sizes and the broker's
memory.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from facegate.compound.office import person_bundle
from facegate.compound.sim import SimCompound


def rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


def wait(check, timeout: float, what: str) -> float:  # type: ignore[no-untyped-def]
    start = time.perf_counter()
    while not check():
        if time.perf_counter() - start > timeout:
            sys.exit(f"timed out: {what}")
        time.sleep(0.5)
    return time.perf_counter() - start


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--gates", type=int, default=20)
    parser.add_argument("--people", type=int, default=5000)
    parser.add_argument("--templates", type=int, default=5, help="per person (enrolment frames)")
    parser.add_argument("--events", type=int, default=500, help="per gate, in one burst")
    parser.add_argument("--withdraw", type=int, default=100)
    parser.add_argument("--timeout", type=float, default=3600)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    rng = np.random.default_rng(19)
    result: dict[str, object] = {
        "gates": args.gates,
        "people": args.people,
        "templates_per_person": args.templates,
        "cpus": os.cpu_count(),
    }
    with tempfile.TemporaryDirectory(prefix="facegate-scale-") as tmp:
        compound = SimCompound(Path(tmp))
        devices = [f"gate-{i:02d}" for i in range(1, args.gates + 1)]
        t = time.perf_counter()
        compound.create(devices)
        result["setup_s"] = round(time.perf_counter() - t, 2)
        compound.start_broker()
        assert compound.broker is not None and compound.broker.proc is not None
        broker_pid = compound.broker.proc.pid
        try:
            for gate in compound.gates.values():
                gate.start(compound.name, compound.port)
            office = compound.start_office()
            gates = list(compound.gates.values())
            wait(lambda: all(g.link and g.link.connected.is_set() for g in gates), 60, "connect")
            away = gates[-1]
            away.stop()  # its persistent session stays at the broker
            result["broker_rss_idle_kib"] = rss_kib(broker_pid)

            # (1) enrol P people at every gate.
            people = [f"p-{i:016x}" for i in range(1, args.people + 1)]
            t = time.perf_counter()
            for pseudonym in people:
                rows = rng.normal(size=(args.templates, 128)).astype(np.float32)
                bundle = person_bundle(
                    rows,
                    "dlib_resnet_v1",
                    gates=devices,
                    method="paper form",
                    notice_version="v1",
                    taken_by="office",
                )
                office.enrol(pseudonym, bundle)
            office_s = time.perf_counter() - t
            sizes = [len(p) for p in office.registry.changes_after(devices[0], args.people - 100)]
            online = args.people * (args.gates - 1)
            total_s = office_s + wait(
                lambda: office.registry.unanswered() <= args.people, args.timeout, "enrolment"
            )
            result |= {
                "change_bytes_mean": round(float(np.mean(sizes))),
                "office_send_s": round(office_s, 1),
                "office_ms_per_change": round(1000 * office_s / (args.people * args.gates), 3),
                "enrol_all_online_gates_s": round(total_s, 1),
                "changes_applied_online": online,
                "changes_per_s": round(online / total_s),
                "broker_rss_with_backlog_kib": rss_kib(broker_pid),
            }
            print(json.dumps(result), flush=True)

            # (2) the gate that was away catches up.
            away.start(compound.name, compound.port)
            catch_up = wait(lambda: office.registry.unanswered() == 0, args.timeout, "catch-up")
            result |= {"catch_up_changes": args.people, "catch_up_s": round(catch_up, 1)}
            assert away.store is not None
            result["away_gate_people"] = away.store.count_people_with_face()
            print(json.dumps(result), flush=True)

            # (3) a burst of events from every gate.
            before = len(office.registry.events())
            for gate in gates:
                assert gate.link is not None
                for n in range(args.events):
                    gate.link.offer(
                        {
                            "kind": "decision",
                            "door": "main",
                            "granted": True,
                            "method": "face",
                            "reason": "granted",
                            "subject": None,
                            "score": 0.95,
                            "at": float(n),
                        }
                    )
            want = before + args.events * args.gates
            events_s = wait(lambda: len(office.registry.events()) >= want, args.timeout, "events")
            result |= {
                "events_sent": args.events * args.gates,
                "events_delivered_s": round(events_s, 2),
                "events_per_s": round(args.events * args.gates / events_s),
            }

            # (4) withdraw W people everywhere.
            t = time.perf_counter()
            for pseudonym in people[: args.withdraw]:
                office.withdraw(pseudonym)
            wait(
                lambda: all(
                    len(office.deletion_status(p).deleted) == args.gates
                    for p in people[: args.withdraw]
                ),
                args.timeout,
                "withdrawal",
            )
            withdraw_s = time.perf_counter() - t
            result |= {
                "withdrawn": args.withdraw,
                "withdraw_all_receipts_s": round(withdraw_s, 1),
                "receipts": sum(
                    len(office.deletion_status(p).receipts) for p in people[: args.withdraw]
                ),
                "gate_store_mib": round(
                    sum(f.stat().st_size for f in gates[0].state.iterdir() if f.is_file()) / 2**20,
                    1,
                ),
                "broker_rss_end_kib": rss_kib(broker_pid),
            }
        finally:
            compound.close()
    print(json.dumps(result, indent=2))
    if args.json:
        args.json.write_text(json.dumps(result, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
