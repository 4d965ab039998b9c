#!/usr/bin/env bash
# Runs every test of UserQueues: unit tests, and functional tests that start the real system
# (AppHost, API, worker, admin) on a private RabbitMQ node.
# The broker: Debian's rabbitmq-server as a private node (installed here when missing, as root or
# through sudo), or a container when rabbitmq-server is absent and Docker/Podman runs.
# USERQUEUES_TEST_BROKER_MODE=local|container chooses explicitly.
set -euo pipefail
cd "$(dirname "$0")"

container_runtime() { { docker info >/dev/null 2>&1 || podman info >/dev/null 2>&1; }; }

if [ -z "${USERQUEUES_TEST_BROKER_MODE:-}" ] && [ ! -x /usr/lib/rabbitmq/bin/rabbitmq-server ] && container_runtime; then
  echo "test.sh: rabbitmq-server is not installed but a container runtime answers: the tests run RabbitMQ in a container."
  export USERQUEUES_TEST_BROKER_MODE=container
fi

if [ "${USERQUEUES_TEST_BROKER_MODE:-local}" = "local" ] && [ ! -x /usr/lib/rabbitmq/bin/rabbitmq-server ]; then
  echo "test.sh: rabbitmq-server is not installed; installing Debian's package (apt-get install -y rabbitmq-server)."
  sudo_cmd=""; [ "$(id -u)" -ne 0 ] && sudo_cmd="sudo"
  $sudo_cmd apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo_cmd apt-get install -y -qq rabbitmq-server >/dev/null
  # The package's own service is not used: the tests run a private node of their own.
  $sudo_cmd service rabbitmq-server stop >/dev/null 2>&1 || true
fi

# The admin UI's browser tests drive Debian's Chromium through Playwright; Playwright's own browser
# download is never used.
if [ ! -x /usr/bin/chromium ]; then
  echo "test.sh: chromium is not installed; installing Debian's package (apt-get install -y chromium) for the browser tests."
  sudo_cmd=""; [ "$(id -u)" -ne 0 ] && sudo_cmd="sudo"
  $sudo_cmd apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo_cmd apt-get install -y -qq chromium >/dev/null
fi

dotnet test UserQueues.sln --configuration Release "$@"
