#!/usr/bin/env bash
# Apache Kafka (KRaft, one node: broker + controller) on 127.0.0.1 for development and tests.
#   deploy/dev/kafka.sh start   fetch the jars from Maven Central if needed, format, start, wait;
#                               prints the bootstrap address (host:port) on stdout
#   deploy/dev/kafka.sh stop    stop the broker this script started
#   deploy/dev/kafka.sh addr    print the address of the running broker
# Idempotent: start on a running broker only prints its address.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
. "$here/lib.sh"
dir=$state/kafka
libs=$repo_root/.cache/kafka-libs
pidfile=$dir/kafka.pid

fetch_jars() {
  [ -f "$libs/.complete" ] && return 0
  command -v mvn >/dev/null || { echo "kafka.sh: mvn is needed to fetch Kafka's jars" >&2; exit 1; }
  command -v java >/dev/null || { echo "kafka.sh: java (17+) is needed to run Kafka" >&2; exit 1; }
  echo "kafka.sh: fetching Kafka jars from Maven Central into $libs" >&2
  rm -rf "$libs"; mkdir -p "$libs"
  mvn -q -B -f "$here/kafka/pom.xml" dependency:copy-dependencies \
    -DoutputDirectory="$libs" -DincludeScope=runtime >&2
  touch "$libs/.complete"
}

do_start() {
  mkdir -p "$dir"
  if running "$pidfile" && [ -f "$dir/addr" ] && port_answers 127.0.0.1 "$(cut -d: -f2 "$dir/addr")"; then
    cat "$dir/addr"; return 0
  fi
  stop_pid "$pidfile"
  fetch_jars
  local port cport
  port=$(free_port); cport=$(free_port)
  while [ "$cport" = "$port" ]; do cport=$(free_port); done
  rm -rf "$dir/data"; mkdir -p "$dir/data"
  cat >"$dir/server.properties" <<PROPS
process.roles=broker,controller
node.id=1
controller.quorum.voters=1@127.0.0.1:$cport
listeners=PLAINTEXT://127.0.0.1:$port,CONTROLLER://127.0.0.1:$cport
advertised.listeners=PLAINTEXT://127.0.0.1:$port
controller.listener.names=CONTROLLER
listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT
inter.broker.listener.name=PLAINTEXT
log.dirs=$dir/data
num.partitions=1
offsets.topic.replication.factor=1
offsets.topic.num.partitions=4
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
group.initial.rebalance.delay.ms=0
auto.create.topics.enable=true
# OpenWhisk's invoker topics carry up to a few MB per activation message.
message.max.bytes=5242880
replica.fetch.max.bytes=5242880
PROPS
  cat >"$dir/log4j.properties" <<'PROPS'
log4j.rootLogger=WARN, stdout
log4j.appender.stdout=org.apache.log4j.ConsoleAppender
log4j.appender.stdout.layout=org.apache.log4j.PatternLayout
log4j.appender.stdout.layout.ConversionPattern=[%d] %p %m (%c)%n
log4j.logger.kafka=INFO
PROPS
  local cp="$libs/*" jopts="-Xms256m -Xmx512m -XX:+UseSerialGC -XX:TieredStopAtLevel=1 -Djava.awt.headless=true"
  java $jopts -cp "$cp" -Dlog4j.configuration="file:$dir/log4j.properties" kafka.tools.StorageTool format \
    -t "$(java -cp "$cp" kafka.tools.StorageTool random-uuid 2>/dev/null | tail -1)" \
    -c "$dir/server.properties" >"$dir/format.log" 2>&1 || { cat "$dir/format.log" >&2; exit 1; }
  echo "kafka.sh: starting Kafka on 127.0.0.1:$port (log $dir/kafka.log)" >&2
  nohup java $jopts -cp "$cp" -Dlog4j.configuration="file:$dir/log4j.properties" \
    kafka.Kafka "$dir/server.properties" >"$dir/kafka.log" 2>&1 </dev/null &
  echo $! >"$pidfile"
  for _ in $(seq 1 240); do
    if ! running "$pidfile"; then echo "kafka.sh: Kafka exited; log:" >&2; tail -30 "$dir/kafka.log" >&2; exit 1; fi
    if port_answers 127.0.0.1 "$port" && grep -q 'Kafka Server started\|\[KafkaRaftServer nodeId=1\] Kafka Server started' "$dir/kafka.log"; then
      echo "127.0.0.1:$port" >"$dir/addr"
      cat "$dir/addr"; return 0
    fi
    sleep 0.5
  done
  echo "kafka.sh: Kafka did not start in 120 s; log:" >&2; tail -30 "$dir/kafka.log" >&2; exit 1
}

case "${1:-start}" in
  start) with_lock kafka do_start ;;
  stop) stop_pid "$pidfile"; rm -f "$dir/addr" ;;
  addr) running "$pidfile" && cat "$dir/addr" ;;
  *) echo "usage: $0 start|stop|addr" >&2; exit 2 ;;
esac
