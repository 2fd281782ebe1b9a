#!/usr/bin/env bash
# An S3-compatible object store (s3proxy 4.1.0, filesystem backend, loopback only) for livelake's
# tests and local runs against `--lake s3://...`.
#
#   infra/s3.sh up       download the s3proxy jar (once), start it, wait, create the bucket
#   infra/s3.sh down     stop it (waits for it to exit)
#   infra/s3.sh status   print "running <endpoint>" or "stopped"; exit 0 / 1
#   infra/s3.sh env      print the AWS_* settings that reach it, and where its objects are stored
#                        (for `eval "$(infra/s3.sh env)"`)
#   infra/s3.sh wipe     stop and delete the stored objects (the jar is kept)
#   infra/s3.sh create-bucket NAME
#
# s3proxy 4.x checks `If-None-Match: *` atomically, which is what Delta Lake commits on S3 rely on
# (a commit file is created only if no other writer created it first). Everything lives under
# $LIVELAKE_S3_HOME (default: <repo>/.cache/s3). `up` twice is harmless.
# Settings: S3_PORT (19000), S3_BUCKET (livelake), S3_HEAP (256m).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
# shellcheck source=infra/lib.sh
source "$ROOT/infra/lib.sh"
HOME_DIR="${LIVELAKE_S3_HOME:-$ROOT/.cache/s3}"
VERSION=4.1.0
JAR="$HOME_DIR/s3proxy-$VERSION-jar-with-dependencies.jar"
DATA="$HOME_DIR/data"
CONF="$HOME_DIR/s3proxy.conf"
PID_FILE="$HOME_DIR/s3proxy.pid"
LOG_FILE="$HOME_DIR/s3proxy.out"
PORT="${S3_PORT:-19000}"
ENDPOINT="http://127.0.0.1:$PORT"
BUCKET="${S3_BUCKET:-livelake}"
# Test credentials of a loopback-only server; nothing else accepts them.
KEY_ID=livelake
SECRET=livelake-test-secret
REGION=us-east-1

log() { echo "s3.sh: $*" >&2; }

fetch_jar() {
  [[ -f "$JAR" ]] && return 0
  log "fetching org.gaul:s3proxy:$VERSION (jar-with-dependencies) from Maven Central"
  mkdir -p "$HOME_DIR"
  mvn -q -B dependency:copy -Dartifact="org.gaul:s3proxy:$VERSION:jar:jar-with-dependencies" \
    -DoutputDirectory="$HOME_DIR" >&2
}

write_config() {
  mkdir -p "$DATA"
  cat > "$CONF" <<PROPS
s3proxy.endpoint=$ENDPOINT
s3proxy.authorization=aws-v2-or-v4
s3proxy.identity=$KEY_ID
s3proxy.credential=$SECRET
jclouds.provider=filesystem-nio2
jclouds.filesystem.basedir=$DATA
PROPS
}

running() { pid_running "$PID_FILE"; }

# A signed request (SigV4) with curl: method, path.
s3_request() {
  curl -s -o /dev/null -w '%{http_code}' --aws-sigv4 "aws:amz:$REGION:s3" --user "$KEY_ID:$SECRET" \
    -H 'x-amz-content-sha256: UNSIGNED-PAYLOAD' -X "$1" "$ENDPOINT$2"
}

wait_ready() {
  local deadline=$((SECONDS + ${S3_START_TIMEOUT:-60}))
  until [[ "$(s3_request GET / 2>/dev/null)" == 200 ]]; do
    if ! running; then log "s3proxy exited during start; last lines of $LOG_FILE:"; tail -n 30 "$LOG_FILE" >&2; return 1; fi
    if (( SECONDS > deadline )); then log "s3proxy not ready after ${S3_START_TIMEOUT:-60}s"; tail -n 30 "$LOG_FILE" >&2; return 1; fi
    sleep 0.5
  done
}

create_bucket() {
  local code
  code="$(s3_request PUT "/$1")"
  case "$code" in
    200|409) ;;
    *) log "creating bucket $1 failed: HTTP $code"; return 1 ;;
  esac
}

up() {
  # Ours already (or still starting): wait until it answers.
  if running; then log "already running on $ENDPOINT (pid $(cat "$PID_FILE"))"; wait_ready; create_bucket "$BUCKET"; return 0; fi
  refuse_taken_port s3proxy "$PORT"
  fetch_jar
  write_config
  log "starting s3proxy on $ENDPOINT"
  nohup java -Xms64m -Xmx"${S3_HEAP:-256m}" -jar "$JAR" --properties "$CONF" >"$LOG_FILE" 2>&1 < /dev/null &
  echo $! > "$PID_FILE"
  wait_ready
  create_bucket "$BUCKET"
  log "ready: $ENDPOINT, bucket $BUCKET"
}

down() { stop_server s3proxy "$PID_FILE" 20; }

case "${1:-}" in
  up) up ;;
  down) down ;;
  status) if running; then echo "running $ENDPOINT"; else echo "stopped"; exit 1; fi ;;
  env)
    # LIVELAKE_S3_DATA: where the filesystem backend keeps the objects (key = path below the
    # bucket's folder), so tests can check a lake on S3 with plain file reads.
    echo "export AWS_ENDPOINT_URL=$ENDPOINT AWS_REGION=$REGION AWS_ACCESS_KEY_ID=$KEY_ID AWS_SECRET_ACCESS_KEY=$SECRET AWS_ALLOW_HTTP=true LIVELAKE_S3_BUCKET=$BUCKET LIVELAKE_S3_DATA=$DATA"
    ;;
  create-bucket) create_bucket "${2:?bucket name}" ;;
  wipe) down; rm -rf "$DATA" ;;
  *) sed -n '2,14p' "$0" | sed 's/^# \{0,1\}//'; exit 2 ;;
esac
