"""JSON-RPC framing and the worker's answers, in process and through a worker's pipes."""

import io
import os
import subprocess
import sys
from pathlib import Path

import pytest

import frostline as fl
from frostline.toolchain.service import protocol as rpc
from frostline.toolchain.service.worker import handle

ROOT = str(Path(fl.__file__).resolve().parents[1])


def test_framing_round_trips():
    stream = io.BytesIO()
    messages = [rpc.request(1, "ping"), rpc.response(1, {"pid": 3}),
                rpc.error(None, rpc.PARSE_ERROR, "bad"), rpc.request(2, "compile", {"a": "é"})]
    for m in messages:
        rpc.write_message(stream, m)
    stream.seek(0)
    assert [rpc.read_message(stream) for _ in messages] == messages
    assert rpc.read_message(stream) is None


@pytest.mark.parametrize("raw, text", [
    (b"Content-Length: 5\r\n\r\n{oops", "not JSON"),
    (b"Content-Length: 10\r\n\r\n{}", "ended inside a message"),
    (b"Content-Length: x\r\n\r\n{}", "bad Content-Length"),
    (b"garbage\r\n\r\n", "not a header line"),
    (b"Other: 1\r\n\r\n", "needs a Content-Length"),
    (b"Content-Length: 2\r\n\r\n[]", "a JSON object"),
    (b"Content-Length: 99999999999\r\n\r\n", "needs a Content-Length"),
])
def test_garbage_is_a_protocol_error(raw, text):
    with pytest.raises(rpc.ProtocolError, match=text):
        rpc.read_message(io.BytesIO(raw))


@pytest.mark.parametrize("message, code", [
    ({"jsonrpc": "2.0", "id": 1, "method": "frobnicate"}, rpc.METHOD_NOT_FOUND),
    ({"jsonrpc": "1.0", "id": 1, "method": "ping"}, rpc.INVALID_REQUEST),
    ({"jsonrpc": "2.0", "id": 1}, rpc.INVALID_REQUEST),
    ({"jsonrpc": "2.0", "id": 1, "method": "ping", "params": [1]}, rpc.INVALID_PARAMS),
    ({"jsonrpc": "2.0", "id": 1, "method": "compile", "params": {"closure": 3}},
     rpc.INVALID_PARAMS),
])
def test_error_codes(message, code):
    reply, going = handle(message)
    assert reply["error"]["code"] == code and reply["id"] == 1 and going


def test_ping_and_shutdown():
    assert handle(rpc.request(4, "ping"))[0]["result"]["pid"] == os.getpid()
    assert handle(rpc.request(5, "shutdown")) == (rpc.response(5, None), False)


def test_a_worker_answers_garbage_with_a_parse_error_and_exits():
    stream = io.BytesIO()
    rpc.write_message(stream, rpc.request(1, "ping"))
    done = subprocess.run([sys.executable, "-m", "frostline.toolchain.service.worker"],
                          input=stream.getvalue() + b"junk\r\n\r\n", capture_output=True,
                          timeout=60, env={**os.environ, "PYTHONPATH": ROOT})
    out = io.BytesIO(done.stdout)
    assert rpc.read_message(out)["result"]["pid"] > 0
    assert rpc.read_message(out)["error"]["code"] == rpc.PARSE_ERROR
    assert rpc.read_message(out) is None and done.returncode == 0
