"""Launcher of the python image: loads the action once, then answers one JSON request line
from stdin with one JSON result line on fd 3, for as long as the proxy keeps it."""
import glob
import importlib.util
import json
import os
import sys
import traceback

RESULTS_FD = 3


def _send(out, obj):
    try:
        text = json.dumps(obj, ensure_ascii=False, separators=(",", ":"))
    except (TypeError, ValueError) as e:
        text = json.dumps({"error": f"The action returned a value that is not JSON: {e}"})
    # What the action printed must reach the log before the proxy writes the sentinels.
    sys.stdout.flush()
    sys.stderr.flush()
    out.write(text.encode("utf-8") + b"\n")
    out.flush()


def _env_text(v):
    if isinstance(v, str):
        return v
    if v is None:
        return ""
    return json.dumps(v, separators=(",", ":"))


def _load(entry, main, src):
    sys.path.insert(0, src)
    # A zipped action may bring its packages in virtualenv/.
    for site in glob.glob(os.path.join(src, "virtualenv", "lib", "python3*", "site-packages")):
        sys.path.insert(1, site)
    spec = importlib.util.spec_from_file_location("main__", entry)
    mod = importlib.util.module_from_spec(spec)
    sys.modules["main__"] = mod
    spec.loader.exec_module(mod)
    fn = getattr(mod, main, None)
    if not callable(fn):
        raise NameError(f"Action entrypoint '{main}' is not a function.")
    return fn


def serve(entry, main, src):
    out = os.fdopen(RESULTS_FD, "wb")
    ack = bool(os.environ.get("__OW_WAIT_FOR_ACK"))
    try:
        fn = _load(entry, main, src)
    except BaseException as e:  # SyntaxError, ImportError, SystemExit, ...
        traceback.print_exc()
        if ack:
            _send(out, {"error": f"Initialization has failed: {type(e).__name__}: {e}"})
        sys.exit(1)
    if ack:
        _send(out, {"ok": True})

    stdin = sys.stdin.buffer
    while True:
        line = stdin.readline()
        if not line:
            return
        if not line.strip():
            continue
        try:
            req = json.loads(line)
        except ValueError as e:
            _send(out, {"error": f"invalid request: {e}"})
            continue
        for k, v in req.items():
            if k != "value":
                os.environ["__OW_" + k.upper()] = _env_text(v)
        try:
            res = fn(req.get("value", {}))
        except Exception as e:
            traceback.print_exc()
            res = {"error": str(e)}
        _send(out, res)
