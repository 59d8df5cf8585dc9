#!/usr/bin/env python3
"""Drives the AgentOs HTTP API with Python's standard library only: nothing of the .NET SDK or the TypeScript client.

Usage: stdlib_client.py BASE_URL AGENT_TYPE [API_KEY]

Creates a session, streams its events as server-sent events while a prompt runs, drops the connection in the middle of
the stream and reconnects with Last-Event-ID, then checks that every seq arrived exactly once with no gap and that the
events equal the persisted history (NDJSON). Prints one line and exits 0 when all holds, 1 otherwise.
"""
import http.client
import json
import sys
import threading
import urllib.parse
import urllib.request
import uuid

BASE, AGENT = sys.argv[1].rstrip("/"), sys.argv[2]
KEY = sys.argv[3] if len(sys.argv) > 3 else None
HEADERS = {"Authorization": f"Bearer {KEY}"} if KEY else {}
VM = urllib.parse.quote(f"py-{uuid.uuid4().hex[:8]}/stdlib", safe="")  # a VM id with a '/', written %2F


def call(method, path, body=None, accept="application/json"):
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(BASE + path, data=data, method=method,
                                     headers={**HEADERS, "Content-Type": "application/json", "Accept": accept})
    with urllib.request.urlopen(request, timeout=60) as response:
        return response.status, response.read().decode()


def sse(path, last_event_id=None):
    """Yields (id, data) of each event of a server-sent event stream; comments are skipped."""
    url = urllib.parse.urlsplit(BASE + path)
    connection = http.client.HTTPConnection(url.hostname, url.port, timeout=60)
    headers = {**HEADERS, "Accept": "text/event-stream"}
    if last_event_id is not None:
        headers["Last-Event-ID"] = last_event_id
    connection.request("GET", url.path + ("?" + url.query if url.query else ""), headers=headers)
    response = connection.getresponse()
    assert response.status == 200, f"stream answered {response.status}: {response.read()!r}"
    assert response.getheader("Content-Type").startswith("text/event-stream")
    event_id, data = None, []
    try:
        while True:
            line = response.readline()
            if not line:
                return
            line = line.decode().rstrip("\r\n")
            if line == "":
                if data:
                    yield event_id, "\n".join(data)
                event_id, data = None, []
            elif line.startswith(":"):
                continue
            else:
                field, _, value = line.partition(":")
                value = value[1:] if value.startswith(" ") else value
                if field == "id":
                    event_id = value
                elif field == "data":
                    data.append(value)
    finally:
        connection.close()


def main():
    status, body = call("POST", f"/v1/vms/{VM}/sessions", {"agentType": AGENT})
    assert status == 201, body
    session = json.loads(body)["sessionId"]
    stream_path = f"/v1/vms/{VM}/sessions/{session}/events/stream"

    result = {}
    turn = threading.Thread(target=lambda: result.update(
        json.loads(call("POST", f"/v1/vms/{VM}/sessions/{session}/prompt", {"text": "chunks 3000"})[1])))

    delivered = []
    first = sse(stream_path)
    turn.start()
    for event_id, data in first:
        delivered.append((int(event_id), json.loads(data)))
        if len(delivered) == 1000:
            break
    first.close()  # the connection drops in the middle of the stream

    turn.join(timeout=60)
    last_seq = result["lastSeq"]
    for event_id, data in sse(stream_path, last_event_id=str(delivered[-1][0])):
        delivered.append((int(event_id), json.loads(data)))
        if delivered[-1][0] >= last_seq:
            break

    seqs = [seq for seq, _ in delivered]
    assert seqs == list(range(1, last_seq + 1)), f"seqs are not 1..{last_seq} exactly once: {seqs[:5]}…{seqs[-5:]}"
    assert all(event["seq"] == seq for seq, event in delivered), "id: is the seq"
    _, history = call("GET", f"/v1/vms/{VM}/sessions/{session}/events", accept="application/x-ndjson")
    stored = [json.loads(line) for line in history.splitlines() if line]
    assert [event for _, event in delivered] == stored, "delivered differs from persisted"
    chunks = [e for e in stored if e["event"]["method"] == "session/update"]
    assert len(chunks) == 3000, len(chunks)
    assert result["stopReason"] == "end_turn" and result["text"].startswith("c1 c2 "), result
    print(f"OK {len(delivered)} events, seq 1..{last_seq} exactly once across a reconnect, equal to the store")


if __name__ == "__main__":
    try:
        main()
    except Exception as error:  # one line, then exit 1
        print(f"FAILED: {type(error).__name__}: {error}")
        sys.exit(1)
