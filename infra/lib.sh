# Shared by infra/kafka.sh and infra/s3.sh (sourced): a server run in the background with a pid
# file. The sourcing script defines `log`.

# True while the process of pid file $1 runs.
pid_running() { [[ -f "$1" ]] && kill -0 "$(cat "$1")" 2>/dev/null; }

# stop_server NAME PID_FILE SECONDS: TERM, wait up to SECONDS for it to exit, then KILL; the pid
# file is removed.
stop_server() {
  local name="$1" pid_file="$2" secs="$3"
  if ! pid_running "$pid_file"; then log "not running"; rm -f "$pid_file"; return 0; fi
  local pid; pid="$(cat "$pid_file")"
  kill "$pid" 2>/dev/null || true
  for _ in $(seq 1 $((secs * 2))); do kill -0 "$pid" 2>/dev/null || break; sleep 0.5; done
  if kill -0 "$pid" 2>/dev/null; then log "$name did not stop in ${secs}s; killing"; kill -9 "$pid" 2>/dev/null || true; fi
  rm -f "$pid_file"
  log "stopped"
}

# refuse_taken_port NAME PORT...: fails (with a line saying so) when something already listens
# on one of the loopback PORTs while our server is not running. A stranger there (another
# checkout's broker, a leftover run) would otherwise answer in place of the server we start, and
# tests that stop "our" server would stop nothing.
refuse_taken_port() {
  local name="$1" port; shift
  for port in "$@"; do
    if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
      log "127.0.0.1:$port is taken by a process that is not this $name (another checkout's, a leftover); stop it or set another port"
      return 1
    fi
  done
}
