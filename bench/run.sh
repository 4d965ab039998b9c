#!/usr/bin/env bash
# Runs the bench end to end on this machine: builds Release, starts the AppHost with a private
# RabbitMQ node (Messaging:Mode=local) in a fresh data folder on its own ports, waits for the API,
# runs UserQueues.Bench against it (arguments after run.sh go to the bench), then stops the AppHost
# with SIGTERM and checks that its broker node is gone.
#
#   bench/run.sh                                   # the full default run (10,000 queues: minutes)
#   bench/run.sh --messages 5000 --queues 2000     # smaller
#
# Ports (42000-42999 by default, so a bench never collides with ./run.sh's 3001/3002/15080...):
# BENCH_API_PORT, BENCH_ADMIN_PORT, BENCH_DASHBOARD_PORT, BENCH_OTLP_PORT, BENCH_RESOURCE_PORT.
set -euo pipefail
cd "$(dirname "$0")/.."

api_port=${BENCH_API_PORT:-42301}
admin_port=${BENCH_ADMIN_PORT:-42302}
dashboard_port=${BENCH_DASHBOARD_PORT:-42310}
otlp_port=${BENCH_OTLP_PORT:-42311}
resource_port=${BENCH_RESOURCE_PORT:-42312}
data_dir=${BENCH_DATA_DIR:-/tmp/uq-bench-data}
log_dir=${BENCH_LOG_DIR:-/tmp/uq-bench-logs}

if [ ! -x /usr/lib/rabbitmq/bin/rabbitmq-server ]; then
  echo "bench/run.sh: installing Debian's rabbitmq-server (the AppHost runs a private node of it)."
  sudo_cmd=""; [ "$(id -u)" -ne 0 ] && sudo_cmd="sudo"
  $sudo_cmd apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo_cmd apt-get install -y -qq rabbitmq-server >/dev/null
  $sudo_cmd service rabbitmq-server stop >/dev/null 2>&1 || true
fi

dotnet build UserQueues.AppHost -c Release -v q -nologo
dotnet build bench/UserQueues.Bench -c Release -v q -nologo

# A fresh broker and registry: queues of an earlier run would still be consumed and counted.
rm -rf "$data_dir"
mkdir -p "$data_dir" "$log_dir"

echo "bench/run.sh: starting the AppHost (API http://localhost:$api_port, log $log_dir/apphost.log)"
ASPNETCORE_URLS="http://localhost:$dashboard_port" \
ASPIRE_DASHBOARD_OTLP_HTTP_ENDPOINT_URL="http://localhost:$otlp_port" \
ASPIRE_RESOURCE_SERVICE_ENDPOINT_URL="http://localhost:$resource_port" \
ASPIRE_ALLOW_UNSECURED_TRANSPORT=true \
DOTNET_ENVIRONMENT=Development \
  dotnet run --project UserQueues.AppHost -c Release --no-build --no-launch-profile -- \
    --Messaging:Mode=local --PORT="$api_port" --ADMIN_PORT="$admin_port" --DataDirectory="$data_dir" \
    --Delivery:AllowedNetworks:0=127.0.0.1/32 --RateLimit:PermitsPerSecond=1000000 --RateLimit:Burst=1000000 \
    >"$log_dir/apphost.log" 2>&1 &
apphost=$!

stop_apphost() {
  if kill -0 "$apphost" 2>/dev/null; then
    echo "bench/run.sh: stopping the AppHost (SIGTERM)"
    kill -TERM "$apphost"
    for _ in $(seq 1 60); do kill -0 "$apphost" 2>/dev/null || break; sleep 1; done
  fi
  # The orchestrator (DCP) stops the services and the broker node after the AppHost is gone.
  if [ -n "${node:-}" ]; then
    for _ in $(seq 1 60); do pgrep -f "$node" >/dev/null || break; sleep 1; done
    if pgrep -f "$node" >/dev/null; then
      echo "bench/run.sh: WARNING: broker node $node still runs: pgrep -af $node"
    fi
  fi
}
trap stop_apphost EXIT

conf=""
for _ in $(seq 1 180); do
  conf=$(ls "$data_dir"/rabbitmq/*/rabbitmq.conf 2>/dev/null | head -1 || true)
  if [ -n "$conf" ] && curl -sf -o /dev/null "http://localhost:$api_port/health"; then break; fi
  kill -0 "$apphost" 2>/dev/null || { echo "bench/run.sh: the AppHost stopped; see $log_dir/apphost.log"; exit 1; }
  sleep 1
done
curl -sf -o /dev/null "http://localhost:$api_port/health" || { echo "bench/run.sh: the API did not become healthy in 180 s; see $log_dir/apphost.log"; exit 1; }
node=$(basename "$(dirname "$conf")")
amqp_port=$(awk -F' = ' '/^listeners.tcp.default/ {print $2}' "$conf")
echo "bench/run.sh: API healthy; broker node $node on AMQP port $amqp_port"

dotnet bench/UserQueues.Bench/bin/Release/net10.0/UserQueues.Bench.dll \
  --api "http://localhost:$api_port" --amqp "amqp://guest:guest@localhost:$amqp_port" \
  --data-directory "$data_dir" --results bench/results "$@"
