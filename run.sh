#!/usr/bin/env bash
# Runs the whole system: the Aspire AppHost with the dashboard, the API on http://localhost:3001
# (PORT), the worker, and the admin UI on http://localhost:3002.
# The broker: RABBIT_URL if set; else RabbitMQ in a container when Docker or Podman runs; else a
# private node of Debian's rabbitmq-server, which is installed here when missing.
set -euo pipefail
cd "$(dirname "$0")"

container_runtime() { { docker info >/dev/null 2>&1 || podman info >/dev/null 2>&1; }; }

if [ -z "${RABBIT_URL:-}" ] && ! container_runtime && [ ! -x /usr/lib/rabbitmq/bin/rabbitmq-server ]; then
  echo "run.sh: no RABBIT_URL, no container runtime and no rabbitmq-server: installing Debian's rabbitmq-server."
  sudo_cmd=""; [ "$(id -u)" -ne 0 ] && sudo_cmd="sudo"
  $sudo_cmd apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo_cmd apt-get install -y -qq rabbitmq-server >/dev/null
  $sudo_cmd service rabbitmq-server stop >/dev/null 2>&1 || true
fi

exec dotnet run --project UserQueues.AppHost --launch-profile http -- "$@"
