package reliability

// Test actions (kind python:3). The runtime runs main(args) in one long-lived process per
// container and sets __OW_ACTIVATION_ID for every activation.

// SinkAction reports its start and end to the Sink at args["sink"] and sleeps in between
// for as long as the sink answers (args["sleep"] seconds unless the activation is held).
const SinkAction = `
import os, time, urllib.request

def main(args):
    aid = os.environ.get("__OW_ACTIVATION_ID", "")
    sink = args.get("sink", "")
    sleep = float(args.get("sleep", 0))
    if sink:
        sleep = float(urllib.request.urlopen(f"{sink}/start?id={aid}&sleep={sleep}", timeout=10).read())
    time.sleep(sleep)
    if sink:
        urllib.request.urlopen(f"{sink}/end?id={aid}", timeout=10).read()
    return {"activation": aid, "slept": sleep}
`

// OOMAction allocates and touches args["mb"] MiB (default 1024).
const OOMAction = `
def main(args):
    chunks = []
    for _ in range(int(args.get("mb", 1024))):
        chunks.append(b"\x01" * (1 << 20))
    return {"allocated": len(chunks)}
`

// ForkCountAction tries args["n"] forks whose children sleep, then kills them and reports
// how many forks succeeded: a bounded probe of the pids limit that a host survives even
// without one.
const ForkCountAction = `
import os, signal, time

def main(args):
    n = int(args.get("n", 3000))
    kids, failed = [], 0
    for _ in range(n):
        try:
            pid = os.fork()
        except OSError:
            failed += 1
            continue
        if pid == 0:
            time.sleep(60)
            os._exit(0)
        kids.append(pid)
    for k in kids:
        os.kill(k, signal.SIGKILL)
    for k in kids:
        os.waitpid(k, 0)
    return {"forked": len(kids), "failed": failed}
`

// ForkBombAction forks without end: every process forks again, forever.
const ForkBombAction = `
import os

def main(args):
    while True:
        try:
            os.fork()
        except OSError:
            pass
`

// LogFloodAction prints args["lines"] lines of 1000 bytes (default 20000: 20 MB).
const LogFloodAction = `
def main(args):
    line = "x" * 999
    n = int(args.get("lines", 20000))
    for _ in range(n):
        print(line)
    return {"printed": n}
`

// SilentAction never answers.
const SilentAction = `
import time

def main(args):
    time.sleep(3600)
    return {}
`

// ExitAction exits its process in the middle of the activation.
const ExitAction = `
import os, sys

def main(args):
    print("leaving now", flush=True)
    os._exit(int(args.get("code", 3)))
`

// ProbeAction reports what the action's process may do: its capability sets, the
// no-new-privileges flag, its pids limit, whether a raw socket opens, whether the Docker
// socket is visible, and its mounts.
const ProbeAction = `
import os, socket

def main(args):
    status = {}
    for line in open("/proc/self/status"):
        k, _, v = line.partition(":")
        if k.startswith("Cap") or k in ("NoNewPrivs", "Seccomp"):
            status[k] = v.strip()
    try:
        socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_ICMP).close()
        raw = "opened"
    except OSError as e:
        raw = "refused: " + str(e)
    pids = ""
    for p in ("/sys/fs/cgroup/pids.max", "/sys/fs/cgroup/pids/pids.max"):
        try:
            pids = open(p).read().strip()
            break
        except OSError:
            pass
    sockets = [p for p in ("/var/run/docker.sock", "/run/docker.sock") if os.path.exists(p)]
    mounts = [l.split()[1] + " " + l.split()[2] for l in open("/proc/self/mounts")]
    return {"status": status, "rawSocket": raw, "pidsMax": pids, "dockerSockets": sockets, "mounts": mounts, "uid": os.getuid()}
`

// LeakyAction puts every secret it can reach where an invoker or controller might log it:
// user log lines (args["marker"], the API key, an init parameter), the result (all its
// parameters, the API key) and, with args["fail"], an error.
const LeakyAction = `
import os

def main(args):
    m = args.get("marker", "")
    print("LOG-" + m, flush=True)
    print("ENV " + os.environ.get("__OW_API_KEY", "") + " " + os.environ.get("INITSECRET", ""), flush=True)
    if args.get("fail"):
        raise Exception("ERROR-" + m)
    return {"echo": args, "out": "RESULT-" + m, "key": os.environ.get("__OW_API_KEY", ""), "init": os.environ.get("INITSECRET", "")}
`
