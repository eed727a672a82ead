#!/usr/bin/env bash
# usage: .ci/start-moto.sh VENV STATE_DIR
#
# Starts moto's S3 server on a free 127.0.0.1 port with IAM auth ON: by default
# moto accepts any signature, which would let a broken signer pass the tests.
# With auth on, moto checks SigV4 against the keys of an IAM user created here.
# Writes STATE_DIR/moto.pid, STATE_DIR/moto.log and STATE_DIR/moto.env (the
# KLOSET_TEST_MOTO_* variables of the test server matrix, see tests/support).
# Stop: .ci/stop-moto.sh STATE_DIR
set -euo pipefail
VENV=${1:?usage: start-moto.sh VENV STATE_DIR}
STATE=${2:?usage: start-moto.sh VENV STATE_DIR}
# shellcheck source=.ci/lib.sh
. "$(dirname "$0")/lib.sh"
mkdir -p "$STATE"
# A failed start stops whatever it already started: no stray server.
trap '[ $? = 0 ] || "$(dirname "$0")/stop-moto.sh" "$STATE"' EXIT
LOG=$STATE/moto.log
PORT=$(free_port)

# With IAM auth on, moto lets this many requests through unauthenticated: the
# four IAM calls below that create the test user and its key. Every later
# request must be signed with that key.
INITIAL_NO_AUTH_ACTION_COUNT=4 nohup "$VENV/bin/moto_server" -H 127.0.0.1 -p "$PORT" >"$LOG" 2>&1 &
echo $! >"$STATE/moto.pid"
wait_until 60 "moto on 127.0.0.1:$PORT" "$!" "$LOG" curl -sf -o /dev/null "http://127.0.0.1:$PORT/moto-api/"

"$VENV/bin/python" - "$PORT" >"$STATE/moto.env" 2>>"$LOG" <<'PY' || { echo "error: moto: creating the IAM test user failed; see $LOG" >&2; exit 1; }
import json, sys
import boto3
port = sys.argv[1]
iam = boto3.client("iam", endpoint_url=f"http://127.0.0.1:{port}", region_name="us-east-1",
                   aws_access_key_id="bootstrap", aws_secret_access_key="bootstrap")
iam.create_user(UserName="kloset-test")
policy = iam.create_policy(PolicyName="s3-all", PolicyDocument=json.dumps({
    "Version": "2012-10-17",
    "Statement": [{"Effect": "Allow", "Action": "s3:*", "Resource": "*"}]}))
iam.attach_user_policy(UserName="kloset-test", PolicyArn=policy["Policy"]["Arn"])
key = iam.create_access_key(UserName="kloset-test")["AccessKey"]
print(f"KLOSET_TEST_MOTO_ENDPOINT=127.0.0.1:{port}")
print(f"KLOSET_TEST_MOTO_ACCESS_KEY={key['AccessKeyId']}")
print(f"KLOSET_TEST_MOTO_SECRET_KEY={key['SecretAccessKey']}")
PY
. "$STATE/moto.env"
check_sigv4 moto "$KLOSET_TEST_MOTO_ENDPOINT" "$KLOSET_TEST_MOTO_ACCESS_KEY" "$KLOSET_TEST_MOTO_SECRET_KEY"
echo "moto ready on 127.0.0.1:$PORT (pid $(cat "$STATE/moto.pid"), log $LOG)"
