#!/usr/bin/env bash
# The checks that follow a deploy, against whatever an outputs file describes: a real stack (the file
# `cdk deploy --outputs-file` wrote) or local-iot (its outputs.json, with the connection.json beside it that
# every client command reads). .github/workflows/e2e-aws.yml runs it after `cdk deploy`, ci.yml against
# local-iot on every push (scripts/with-local-iot.sh), and a Jest test does the same, so the steps that run on
# AWS are exercised on every push.
#   scripts/e2e-after-deploy.sh OUTPUTS_FILE [STACK_NAME]
# Needs jq and the repository's node_modules; run from anywhere. Exit 0 when every step passed, else the exit
# code of the first failing one, with the step named on stderr. No secret is put on a command line.
set -euo pipefail

if [[ $# -lt 1 || $# -gt 2 || "$1" == -* ]]; then
  echo "usage: scripts/e2e-after-deploy.sh OUTPUTS_FILE [STACK_NAME]" >&2
  echo "  OUTPUTS_FILE: cdk-outputs.json from \`npx cdk deploy --outputs-file\`, or local-iot's outputs.json" >&2
  exit 2
fi
if [[ ! -f "$1" || ! -r "$1" ]]; then
  echo "e2e-after-deploy: cannot read the outputs file $1: deploy first (npx cdk deploy --outputs-file $1) or start local-iot" >&2
  exit 2
fi
outputs=$(realpath "$1")
command -v jq > /dev/null || { echo "e2e-after-deploy: jq is missing: install it (apt-get install -y jq)" >&2; exit 2; }
repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$repo"

# Every client command gets the same target: the outputs file, and the stack in it when one is named.
target=(--outputs "$outputs")
[[ $# -eq 2 ]] && target+=(--stack-name "$2")
# Unique per run, so device ids and client ids of two runs (or of a re-run on one stack) never collide.
run_id=${GITHUB_RUN_ID:-local}-${GITHUB_RUN_ATTEMPT:-$$}
step=0

# Prints a GitHub Actions log group around each step (plain lines elsewhere) and names a failing step.
begin() { step=$((step + 1)); if [[ -n "${GITHUB_ACTIONS:-}" ]]; then echo "::group::$step. $*"; else echo "--- $step. $*"; fi; }
end() { [[ -n "${GITHUB_ACTIONS:-}" ]] && echo "::endgroup::"; return 0; }
fail() { end; echo "e2e-after-deploy: step $step failed: $*" >&2; exit 1; }

# The client's commands, quiet (-s): npm's banner would otherwise come first on stdout and break the JSON.
client() { npm run -s "$1" -w client -- "${@:2}"; }

# TestInvokeAuthorizer on the unsigned authorizer with a fresh device's own credentials: authenticated, and
# the two policy documents the Lambda returns (connect, own topics).
smoke_test_invoke() {
  begin "TestInvokeAuthorizer smoke check (unsigned authorizer)"
  local device password username result
  device=$(client device create "test-smoke-$run_id" --json "${target[@]}") || fail "device create"
  password=$(jq -r .password <<< "$device")
  username=$(jq -r .username <<< "$device")
  [[ -n "${GITHUB_ACTIONS:-}" ]] && echo "::add-mask::$password"
  result=$(IOT_CUSTOM_AUTH_PASSWORD=$password NODE_NO_WARNINGS=1 npx --no -- tsx scripts/test-invoke-authorizer.ts \
    "${target[@]}" --username "$username" --client-id "$username") || fail "TestInvokeAuthorizer call"
  jq -e '.isAuthenticated == true and (.policyDocuments | length) == 2' <<< "$result" > /dev/null \
    || fail "expected isAuthenticated and 2 policy documents, got: $result"
  echo "TestInvokeAuthorizer: authenticated, $(jq '.policyDocuments | length' <<< "$result") policy documents"
  end
}

# expect_connect TRANSPORT [client flags...]: a connect that succeeds (CONNACK 0) over TRANSPORT (mqtt or
# websockets, as the client's --json reports it).
expect_connect() {
  local transport=$1; shift
  begin "connect over $transport $*"
  local result
  result=$(client connect --json "${target[@]}" "$@") || fail "connect $* exited $?: $result"
  echo "$result"
  jq -e --arg t "$transport" '.ok == true and .transport == $t and .connack.reasonCode == 0' <<< "$result" > /dev/null \
    || fail "expected a CONNACK 0 over $transport"
  end
}

# expect_refusal CAUSE [client flags...]: a connect refused (exit 1) and explained, from the records of that
# attempt (CloudWatch Logs on AWS, local-iot's logs API offline), as CAUSE of protocol's CONNECT_REFUSALS.
expect_refusal() {
  local cause=$1; shift
  begin "refusal $cause: $*"
  local result status
  set +e; result=$(client connect --json --explain-wait 60 "${target[@]}" "$@"); status=$?; set -e
  echo "$result"
  [[ $status -eq 1 ]] || fail "expected exit code 1 (refused), got $status"
  jq -e --arg c "$cause" '.ok == false and .explanation.found == true and .explanation.cause == $c' <<< "$result" > /dev/null \
    || fail "expected the refusal explained as $cause"
  echo "explained: $(jq -r '.explanation.reason' <<< "$result")"
  end
}

# expect_diagnose [client flags...]: every check of a connect passes, through the real connect.
expect_diagnose() {
  begin "diagnose $*"
  local result
  result=$(client diagnose --json "${target[@]}" "$@") || fail "diagnose $* exited $?: $result"
  echo "$result"
  jq -e '.ok == true and ([.checks[].check] | index("connect")) != null' <<< "$result" > /dev/null \
    || fail "expected every check, the connect included, to pass"
  end
}

# ---- The steps, one line each, in order. ----
smoke_test_invoke
# The connect matrix: direct MQTT/TLS and WebSockets x unsigned and signed authorizer.
expect_connect mqtt
expect_connect mqtt --signed
expect_connect websockets --use_websockets true
expect_connect websockets --use_websockets true --signed
# Refusals: a wrong password; a device's own valid credentials with a client id outside the prefix; valid
# credentials with another device's client id.
IOT_CUSTOM_AUTH_PASSWORD=not-the-password expect_refusal NOT_AUTHENTICATED --client_id "test-e2e-password-$run_id"
expect_refusal CONNECT_NOT_ALLOWED --client_id "prod-e2e-$run_id" --custom_auth_username "test-e2e-device-$run_id"
expect_refusal CONNECT_NOT_ALLOWED --client_id "test-e2e-victim-$run_id" --custom_auth_username "test-e2e-attacker-$run_id"
expect_diagnose
expect_diagnose --signed --use_websockets true
# Issue 11 (mTLS, CUSTOM_AUTH_X509 on the X509Endpoint): the demo certificate (.keys/, from the synth) admitted
# with its subject CN as client id; with another client id the X.509 authorizer refuses it (0x86).
expect_connect mqtt --mtls
expect_refusal NOT_AUTHENTICATED --mtls --client_id "test-e2e-not-the-cn-$run_id"
# ---- End of the steps. ----

echo "e2e-after-deploy: all $step steps passed against $outputs"
