#!/usr/bin/env bash
# Apache Kafka (KRaft, single node, loopback only) for livelake's tests and local runs.
#
#   infra/kafka.sh up       download the broker jars (once), format storage (once), start, wait, create topics
#   infra/kafka.sh down     stop the broker (waits for it to exit)
#   infra/kafka.sh status   print "running <bootstrap>" or "stopped"; exit 0 / 1
#   infra/kafka.sh topics   create the topics of docs/events.md (idempotent)
#   infra/kafka.sh wipe     stop and delete the broker's data (jars are kept)
#   infra/kafka.sh create-topic NAME [PARTITIONS]
#
# Everything lives under $LIVELAKE_KAFKA_HOME (default: <repo>/.cache/kafka). `up` twice is harmless.
# Settings: KAFKA_PORT (19092), KAFKA_CONTROLLER_PORT (19093), KAFKA_HEAP (512m), KAFKA_PARTITIONS (3).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
# shellcheck source=infra/lib.sh
source "$ROOT/infra/lib.sh"
HOME_DIR="${LIVELAKE_KAFKA_HOME:-$ROOT/.cache/kafka}"
LIBS="$HOME_DIR/libs"
CONF="$HOME_DIR/config"
DATA="$HOME_DIR/data"
PID_FILE="$HOME_DIR/broker.pid"
LOG_FILE="$HOME_DIR/broker.out"
PORT="${KAFKA_PORT:-19092}"
CPORT="${KAFKA_CONTROLLER_PORT:-19093}"
BOOTSTRAP="127.0.0.1:$PORT"
PARTITIONS="${KAFKA_PARTITIONS:-3}"
TOPICS=(livelake.player.v1 livelake.commerce.v1 livelake.deadletter.v1)
LIVE_TOPIC=livelake.live.v1
POM="$ROOT/infra/kafka/pom.xml"

log() { echo "kafka.sh: $*" >&2; }

java_run() { java -Xms128m -Xmx"${KAFKA_HEAP:-512m}" -Dlog4j2.configurationFile="$CONF/log4j2.properties" \
  -Dkafka.logs.dir="$HOME_DIR/logs" -cp "$LIBS/*" "$@"; }

fetch_jars() {
  local stamp="$LIBS/.pom.sha256" want
  want="$(sha256sum "$POM" | cut -d' ' -f1)"
  if [[ -f "$stamp" && "$(cat "$stamp")" == "$want" ]]; then return 0; fi
  log "resolving broker jars from Maven Central ($POM)"
  rm -rf "$LIBS"; mkdir -p "$LIBS"
  mvn -q -B -f "$POM" dependency:copy-dependencies -DincludeScope=runtime -DoutputDirectory="$LIBS"
  echo "$want" > "$stamp"
}

write_config() {
  mkdir -p "$CONF" "$DATA" "$HOME_DIR/logs"
  cat > "$CONF/server.properties" <<PROPS
process.roles=broker,controller
node.id=1
controller.quorum.voters=1@127.0.0.1:$CPORT
listeners=PLAINTEXT://127.0.0.1:$PORT,CONTROLLER://127.0.0.1:$CPORT
advertised.listeners=PLAINTEXT://127.0.0.1:$PORT
listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT
controller.listener.names=CONTROLLER
inter.broker.listener.name=PLAINTEXT
log.dirs=$DATA
num.partitions=$PARTITIONS
offsets.topic.replication.factor=1
offsets.topic.num.partitions=3
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
share.coordinator.state.topic.replication.factor=1
share.coordinator.state.topic.min.isr=1
group.initial.rebalance.delay.ms=0
auto.create.topics.enable=false
log.retention.hours=168
log.segment.bytes=268435456
PROPS
  cat > "$CONF/log4j2.properties" <<PROPS
status = warn
appender.file.type = File
appender.file.name = file
appender.file.fileName = $HOME_DIR/logs/server.log
appender.file.layout.type = PatternLayout
appender.file.layout.pattern = [%d] %p %m (%c)%n
rootLogger.level = info
rootLogger.appenderRef.file.ref = file
logger.kafka.name = kafka
logger.kafka.level = warn
logger.apache.name = org.apache.kafka
logger.apache.level = warn
PROPS
}

running() { pid_running "$PID_FILE"; }

topics_cmd() { java_run org.apache.kafka.tools.TopicCommand --bootstrap-server "$BOOTSTRAP" "$@"; }

wait_ready() {
  local deadline=$((SECONDS + ${KAFKA_START_TIMEOUT:-120}))
  until topics_cmd --list >/dev/null 2>&1; do
    if ! running; then log "broker exited during start; last lines of $LOG_FILE:"; tail -n 30 "$LOG_FILE" >&2; return 1; fi
    if (( SECONDS > deadline )); then log "broker not ready after ${KAFKA_START_TIMEOUT:-120}s"; tail -n 30 "$LOG_FILE" >&2; return 1; fi
    sleep 1
  done
}

create_topics() {
  for t in "${TOPICS[@]}"; do
    topics_cmd --create --if-not-exists --topic "$t" --partitions "$PARTITIONS" --replication-factor 1 >/dev/null
  done
  # The live board's topic keeps the last row of each stream/region/minute (compacted).
  topics_cmd --create --if-not-exists --topic "$LIVE_TOPIC" --partitions "$PARTITIONS" --replication-factor 1 \
    --config cleanup.policy=compact >/dev/null
  log "topics ready: ${TOPICS[*]} $LIVE_TOPIC (compacted)"
}

up() {
  # Ours already (or still starting): wait until it answers.
  if running; then log "already running on $BOOTSTRAP (pid $(cat "$PID_FILE"))"; wait_ready; create_topics; return 0; fi
  refuse_taken_port broker "$PORT" "$CPORT"
  fetch_jars
  write_config
  if [[ ! -f "$DATA/meta.properties" ]]; then
    local cluster_id
    cluster_id="$(java_run kafka.tools.StorageTool random-uuid 2>/dev/null | tail -n1)"
    java_run kafka.tools.StorageTool format -t "$cluster_id" -c "$CONF/server.properties" >/dev/null
    log "formatted KRaft storage (cluster $cluster_id)"
  fi
  log "starting broker on $BOOTSTRAP"
  nohup bash -c "exec java -Xms128m -Xmx${KAFKA_HEAP:-512m} -Dlog4j2.configurationFile='$CONF/log4j2.properties' \
      -Dkafka.logs.dir='$HOME_DIR/logs' -cp '$LIBS/*' kafka.Kafka '$CONF/server.properties'" \
      >"$LOG_FILE" 2>&1 < /dev/null &
  echo $! > "$PID_FILE"
  wait_ready
  create_topics
  log "ready: KAFKA_BOOTSTRAP=$BOOTSTRAP"
}

down() { stop_server broker "$PID_FILE" 30; }

case "${1:-}" in
  up) up ;;
  down) down ;;
  status) if running; then echo "running $BOOTSTRAP"; else echo "stopped"; exit 1; fi ;;
  topics) create_topics ;;
  bootstrap) echo "$BOOTSTRAP" ;;
  create-topic) topics_cmd --create --if-not-exists --topic "$2" --partitions "${3:-$PARTITIONS}" --replication-factor 1 >/dev/null ;;
  wipe) down; rm -rf "$DATA" "$HOME_DIR/logs" ;;
  *) echo "usage: $0 up|down|status|topics|bootstrap|create-topic|wipe" >&2; exit 2 ;;
esac
