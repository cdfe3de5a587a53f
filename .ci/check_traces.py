"""Reads every trace the tests wrote (target/traces/*.pftrace) with Perfetto's own schema (the
`perfetto` package from PyPI) and checks what Perfetto's importer relies on, then the scripted
scenario's expected tracks, slices, flows and ordering.

Usage: python check_traces.py DIR
"""

import pathlib
import sys

from perfetto.protos.perfetto.trace import perfetto_trace_pb2 as pb

CLEARED = pb.TracePacket.SEQ_INCREMENTAL_STATE_CLEARED
NEEDS = pb.TracePacket.SEQ_NEEDS_INCREMENTAL_STATE
TE = pb.TrackEvent


def fail(path, msg):
    sys.exit(f"{path}: {msg}")


def check(path):
    trace = pb.Trace()
    trace.ParseFromString(path.read_bytes())
    if not trace.packet:
        fail(path, "no packets")
    tracks = {}
    names, frames, callstacks, functions = {}, {}, {}, set()
    arg_names, arg_values = {}, {}
    cleared = set()
    open_slices = {}
    last_ts = {}
    open_flows = set()
    events = []
    for i, p in enumerate(trace.packet):
        seq = p.trusted_packet_sequence_id
        if p.sequence_flags & CLEARED:
            cleared.add(seq)
            names.clear(), frames.clear(), callstacks.clear(), functions.clear()
            arg_names.clear(), arg_values.clear()
        if p.HasField("interned_data"):
            if seq not in cleared:
                fail(path, f"packet {i}: interned data before the state was cleared")
            d = p.interned_data
            for n in d.event_names:
                names[n.iid] = n.name
            for n in d.debug_annotation_names:
                arg_names[n.iid] = n.name
            for v in d.debug_annotation_string_values:
                arg_values[v.iid] = v.str.decode()
            for f in d.function_names:
                functions.add(f.iid)
            for f in d.frames:
                if f.function_name_id not in functions:
                    fail(path, f"packet {i}: frame {f.iid} uses an undefined function name")
                frames[f.iid] = f
            for c in d.callstacks:
                for fid in c.frame_ids:
                    if fid not in frames:
                        fail(path, f"packet {i}: callstack {c.iid} uses undefined frame {fid}")
                callstacks[c.iid] = c
        if p.HasField("track_descriptor"):
            t = p.track_descriptor
            if t.HasField("parent_uuid") and t.parent_uuid not in tracks:
                fail(path, f"packet {i}: parent track {t.parent_uuid} not defined before")
            tracks[t.uuid] = t
        if p.HasField("track_event"):
            e = p.track_event
            uses = (
                e.HasField("name_iid")
                or e.HasField("callstack_iid")
                or len(e.category_iids) > 0
                or any(a.HasField("name_iid") or a.HasField("string_value_iid") for a in e.debug_annotations)
            )
            if uses and not (p.sequence_flags & NEEDS and seq in cleared):
                fail(path, f"packet {i}: interned ids without SEQ_NEEDS_INCREMENTAL_STATE")
            if e.track_uuid not in tracks:
                fail(path, f"packet {i}: event on undefined track {e.track_uuid}")
            if e.HasField("name_iid") and e.name_iid not in names:
                fail(path, f"packet {i}: undefined event name {e.name_iid}")
            if e.HasField("callstack_iid") and e.callstack_iid not in callstacks:
                fail(path, f"packet {i}: undefined callstack {e.callstack_iid}")
            args = {}
            for a in e.debug_annotations:
                if a.HasField("name_iid") and a.name_iid not in arg_names:
                    fail(path, f"packet {i}: undefined argument name {a.name_iid}")
                if a.HasField("string_value_iid") and a.string_value_iid not in arg_values:
                    fail(path, f"packet {i}: undefined argument value {a.string_value_iid}")
                name = arg_names.get(a.name_iid, a.name)
                if a.HasField("string_value_iid"):
                    args[name] = arg_values[a.string_value_iid]
                elif a.HasField("string_value"):
                    args[name] = a.string_value
                else:
                    args[name] = a.int_value
            if p.timestamp < last_ts.get(e.track_uuid, 0):
                fail(path, f"packet {i}: track {e.track_uuid} goes back in time")
            last_ts[e.track_uuid] = p.timestamp
            stack = open_slices.setdefault(e.track_uuid, [])
            name = names.get(e.name_iid, e.name)
            if e.type == TE.TYPE_SLICE_BEGIN:
                stack.append(len(events))
            elif e.type == TE.TYPE_SLICE_END:
                if not stack:
                    fail(path, f"packet {i}: slice end with no slice open")
                events[stack.pop()]["end"] = p.timestamp
            for f in e.terminating_flow_ids:
                if f not in open_flows:
                    fail(path, f"packet {i}: flow {f} ends without a start")
                open_flows.remove(f)
            for f in e.flow_ids:
                if f in open_flows:
                    fail(path, f"packet {i}: flow {f} forks")
                open_flows.add(f)
            if e.type != TE.TYPE_SLICE_END:
                events.append(
                    {
                        "track": e.track_uuid,
                        "ts": p.timestamp,
                        "end": p.timestamp,
                        "type": e.type,
                        "name": name,
                        "args": args,
                        "out": list(e.flow_ids),
                        "in": list(e.terminating_flow_ids),
                    }
                )
    if open_flows:
        fail(path, f"flows never end: {sorted(open_flows)}")
    return tracks, events


def track_name(t):
    if t.HasField("thread"):
        return t.thread.thread_name
    return t.name


def check_scenario(path, tracks, events):
    by_name = {}
    for uuid, t in tracks.items():
        by_name.setdefault(track_name(t), []).append(uuid)

    def on(thread, name):
        return [e for e in events if e["track"] in by_name.get(thread, []) and e["name"] == name]

    waits = on("trace-b", "mutex wait")
    if len(waits) != 1 or waits[0]["args"].get("kind") != "mutex":
        fail(path, f"expected one mutex wait on trace-b, got {waits}")
    wait = waits[0]
    unlocks = on("trace-a", "unlock")
    acquired = on("trace-b", "acquired")
    if len(unlocks) != 1 or len(acquired) != 1:
        fail(path, "expected one unlock on trace-a and one acquisition on trace-b")
    if unlocks[0]["out"] != acquired[0]["in"] or not unlocks[0]["out"]:
        fail(path, "the unlock's flow does not end at the acquisition")
    if not (wait["ts"] < unlocks[0]["ts"] <= acquired[0]["ts"] == wait["end"]):
        fail(path, "wait, unlock and acquisition are out of order")
    if not on("trace-a", "hold"):
        fail(path, "no region 'hold' on trace-a")
    recvs = [e for e in events if e["name"] == "chan-recv wait"]
    if not recvs:
        fail(path, "no channel receive wait")
    sends = on("trace-b", "send")
    woken = [e for e in events if e["name"] == "woken" and e["track"] == recvs[0]["track"]]
    if len(sends) != 1 or len(woken) != 1 or sends[0]["out"] != woken[0]["in"] or not woken[0]["in"]:
        fail(path, "the send's arrow does not end at the receiver's wake-up")
    if not (recvs[0]["ts"] <= sends[0]["ts"] <= woken[0]["ts"] == recvs[0]["end"]):
        fail(path, "receive wait, send and wake-up are out of order")
    locks = [t for t in tracks.values() if t.name.startswith("mutex ") and t.name.endswith("trace.rs:" + wait["args"]["site"].split(":")[-1])]
    if not locks:
        fail(path, "no track for the lock")


def main():
    directory = pathlib.Path(sys.argv[1])
    files = sorted(directory.glob("*.pftrace"))
    if not files:
        sys.exit(f"no traces in {directory}")
    for path in files:
        tracks, events = check(path)
        if path.name == "scenario.pftrace":
            check_scenario(path, tracks, events)
        print(f"{path.name}: {len(tracks)} tracks, {len(events)} slices and instants: ok")


main()
