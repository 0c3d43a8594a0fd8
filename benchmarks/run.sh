#!/usr/bin/env bash
# make bench: the published benchmarks, on this machine, into benchmarks/results/.
#
#   1. The trace experiment: the same Azure trace (Freyr's 60-minute sample of the 2019
#      trace, 10 functions), same seed, replayed by owreplay against owstandalone with two
#      invokers, three times, one configuration after the other:
#        none              profiles and CPU quotas, nothing lent (--measure)
#        harvest           harvesting on, OpenWhisk's sharding balancer
#        harvest+balancer  harvesting on, the harvest-aware balancer (--policy harvest)
#      → results/trace/{none,harvest,harvest-balancer}.csv, table.md, *.png
#   2. Micro-benchmarks (go test -bench) against real Kafka, pouchdb-server and Docker
#      → results/micro/bench.txt, bench.md
#   3. Idle resident memory of owstandalone and owinvoker → results/idle-rss.md
#   4. results/README.md putting it together.
#
# Knobs (environment): BENCH_SEED (1), BENCH_COMPRESS (12: 60 trace minutes in 5),
# BENCH_MINUTES (60), BENCH_MEMORY (user memory per invoker, 4096 MB), BENCH_CPUS (cores per
# invoker, default twice the host's: each invoker models a host of its own, 1 millicore per MB),
# BENCH_SKIP_TRACE / BENCH_SKIP_MICRO (1 to skip a part), BENCH_OUT (results dir).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
out=${BENCH_OUT:-$root/benchmarks/results}
seed=${BENCH_SEED:-1}
compress=${BENCH_COMPRESS:-12}
minutes=${BENCH_MINUTES:-60}
memory=${BENCH_MEMORY:-4096}
invokers=2
cores=$(nproc)
cpus=${BENCH_CPUS:-$((cores * 2))}
trace_spec=libra:benchmarks/trace/testdata/freyr-60min/exp_openwhisk
work=$(mktemp -d /tmp/owbench.XXXXXX)
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
  rm -rf "$work"
}
trap cleanup EXIT
start_time=$(date +%s)

mkdir -p "$out/trace" "$out/micro" bin
for c in owstandalone owreplay owreport owinvoker; do
  CGO_ENABLED=0 go build -trimpath -o "bin/$c" "./cmd/$c"
done

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

# standalone LABEL FLAGS...: starts owstandalone in the background; sets api and sa_pid.
standalone() {
  local label=$1; shift
  local port; port=$(free_port)
  api=http://127.0.0.1:$port
  bin/owstandalone --data-dir "$work/$label" --listen "127.0.0.1:$port" --invokers $invokers \
    --user-memory "$memory" --cpus "$cpus" --invokes-per-minute 100000 --concurrent-invokes 10000 --container-prefix "wskbench${label//[^a-z]/}" "$@" >"$work/$label.out" 2>&1 &
  sa_pid=$!
  pids+=("$sa_pid")
  for _ in $(seq 1 120); do
    if curl -fsS "$api/" >/dev/null 2>&1; then return 0; fi
    if ! kill -0 "$sa_pid" 2>/dev/null; then cat "$work/$label.out" >&2; echo "run.sh: owstandalone ($label) died" >&2; exit 1; fi
    sleep 0.5
  done
  echo "run.sh: owstandalone ($label) did not answer on $api" >&2; exit 1
}
stop_standalone() {
  kill -TERM "$sa_pid"; wait "$sa_pid" || true
}

if [ "${BENCH_SKIP_TRACE:-0}" != 1 ]; then
  trace_start=$(date +%s)
  runs=()
  for cfg in none harvest harvest-balancer; do
    case $cfg in
      none) flags=(--measure --policy sharding); label=none ;;
      harvest) flags=(--harvest --policy sharding); label=harvest ;;
      harvest-balancer) flags=(--harvest --policy harvest); label=harvest+balancer ;;
    esac
    echo "== trace replay: $label"
    standalone "$cfg" "${flags[@]}"
    bin/owreplay --apihost "$api" --trace "$trace_spec" --seed "$seed" --compress "$compress" --minutes "$minutes" \
      --wait-invokers $invokers --capacity-cores "$cores" --capacity-memory $((memory * invokers)) \
      --label "$label" --out "$out/trace/$cfg.csv" --summary-json "$out/trace/$cfg.summary.json" --clean --quiet
    stop_standalone
    runs+=("$label=$out/trace/$cfg.csv")
  done
  bin/owreport --out "$out/trace" --cores "$cores" --memory $((memory * invokers)) "${runs[@]}"
  echo $(( $(date +%s) - trace_start )) >"$out/trace/took"
fi

if [ "${BENCH_SKIP_MICRO:-0}" != 1 ]; then
  echo "== micro-benchmarks"
  eval "$(deploy/dev/services.sh up)"
  go test -run '^$' -bench . -benchtime "${BENCH_TIME:-2s}" -timeout 20m \
    ./invoker ./sandbox ./sandbox/actionproxy ./controller-plugin/balancer ./controller-plugin/controller \
    ./invoker/message ./harvest ./harvest/predict ./harvest/profile ./memfs 2>&1 | tee "$out/micro/bench.txt"
  bin/owreport --out "$out/micro" --bench "$out/micro/bench.txt"

  echo "== idle resident memory"
  standalone idle
  sleep 15
  sa_rss=$(awk '/VmRSS/ {print $2}' "/proc/$sa_pid/status")
  stop_standalone
  {
    echo "| process | idle RSS |"
    echo "|---|---|"
    echo "| owstandalone (controller, invoker, embedded broker and store), 15 s after start | $((sa_rss / 1024)) MiB |"
  } >"$out/idle-rss.md"
fi

{
  echo "# Benchmark results"
  echo
  echo "Produced by \`make bench\` (benchmarks/run.sh) on $(date -u +%Y-%m-%d), $(nproc) cores, $(awk '/MemTotal/ {printf "%.0f GiB", $2/1048576}' /proc/meminfo), kernel $(uname -r)."
  echo
  echo "## Trace replay: harvesting against no harvesting"
  echo
  echo "Freyr's 60-minute sample of the Azure Functions 2019 trace (10 functions, seed $seed), $minutes trace minutes"
  echo "compressed ${compress}×, replayed open loop by owreplay against owstandalone with $invokers invokers of"
  echo "$memory MB and $cpus cores each, sharing this host's $cores (CPU quotas in proportion to memory). Declared limits: 60 % of the"
  echo "functions over-provisioned, 20 % under, 20 % right-sized (benchmarks/trace). Ratios are against \`none\`."
  echo "The namespace limits are raised (--invokes-per-minute, --concurrent-invokes) so that no request is refused"
  echo "with 429: the compressed trace passes OpenWhisk's default of 60 per minute."
  echo
  echo "Latency is client-side, request to result. An OOM kill fails fast, so the all-requests CDF and p50 flatter"
  echo "a configuration with more kills; the successes-only columns compare like with like."
  echo
  [ -f "$out/trace/table.md" ] && cat "$out/trace/table.md"
  echo
  echo "![latency CDF](trace/latency-cdf.png)"
  echo "![CPU utilisation](trace/cpu-utilisation.png)"
  echo "![per-function speed-up](trace/speedup.png)"
  echo
  echo "Per-invocation rows: trace/none.csv, trace/harvest.csv, trace/harvest-balancer.csv."
  echo
  echo "## Micro-benchmarks"
  echo
  [ -f "$out/micro/bench.md" ] && cat "$out/micro/bench.md"
  echo
  [ -f "$out/idle-rss.md" ] && cat "$out/idle-rss.md"
  echo
  echo "Scratch I/O (in-memory vs overlay): [scratch/README.md](scratch/README.md)."
  echo
  echo "## Data"
  echo
  echo "The trace is derived from the Microsoft Azure Functions Trace 2019 (CC-BY 4.0): M. Shahrad et al.,"
  echo "\"Serverless in the Wild: Characterizing and Optimizing the Serverless Workload at a Large Cloud"
  echo "Provider\", USENIX ATC 2020; the sample is the one published with Freyr (IntelliSys-Lab/Freyr-WWW22)."
  echo
  echo "Rerun: \`make bench\`$( [ -f "$out/trace/took" ] && echo " (the trace replay took $(( $(cat "$out/trace/took") / 60 )) minutes)")."
} >"$out/README.md"
echo "run.sh: results in $out (took $(( $(date +%s) - start_time )) s)"
