#!/usr/bin/env bash
# Runs a command against a local-iot started for it, then stops local-iot:
#   scripts/with-local-iot.sh CDK_OUT STATE_DIR -- COMMAND [ARGS...]
# local-iot serves the cloud assembly CDK_OUT (synthesize it first: npx cdk synth --quiet) on a free port with
# its own STATE_DIR (outputs.json, connection.json, CA, logs), so it never disturbs a running `npm run local`;
# its output goes to STATE_DIR.log. The command runs once local-iot says it is serving (no fixed wait), with
# LOCAL_IOT_OUTPUTS set to STATE_DIR/outputs.json. Exit code: the command's, or 2 when local-iot did not start.
# ci.yml runs scripts/e2e-after-deploy.sh this way, and so does a Jest test.
set -euo pipefail

if [[ $# -lt 4 || "$3" != "--" ]]; then
  echo "usage: scripts/with-local-iot.sh CDK_OUT STATE_DIR -- COMMAND [ARGS...]" >&2
  exit 2
fi
cdk_out=$1
state_dir=$2
shift 3
if [[ ! -f "$cdk_out/manifest.json" ]]; then
  echo "with-local-iot: $cdk_out is not a cloud assembly (no manifest.json): run npx cdk synth --quiet --output $cdk_out first" >&2
  exit 2
fi
repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
mkdir -p "$(dirname "$state_dir")"
log="$state_dir.log"
: > "$log"

node "$repo/packages/local-iot/dist/cli.js" --cdk-out "$cdk_out" --state-dir "$state_dir" --port 0 >> "$log" 2>&1 &
pid=$!
stop() {
  # SIGTERM: local-iot closes its listeners and Lambda environments; wait so nothing outlives this script.
  kill -TERM "$pid" 2> /dev/null && wait "$pid" 2> /dev/null
  return 0
}
trap stop EXIT

# The line local-iot prints once outputs.json and connection.json are written and the gateway listens; tail
# follows the log until local-iot exits (--pid), so a failed start ends the wait at once.
if ! timeout 180 grep -q -m 1 '^local-iot is serving stack' <(tail -n +1 -f --pid="$pid" "$log"); then
  echo "with-local-iot: local-iot did not start (its output, $log, follows):" >&2
  cat "$log" >&2
  exit 2
fi

export LOCAL_IOT_OUTPUTS="$state_dir/outputs.json"
set +e
"$@"
status=$?
set -e
[[ $status -eq 0 ]] || echo "with-local-iot: '$*' exited $status; local-iot's output: $log" >&2
exit "$status"
