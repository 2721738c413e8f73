#!/usr/bin/env bash
# The demo walkthrough: run it in a second terminal while `cargo xtask demo` serves.
# Needs curl and python3 (for reading JSON fields).
set -u
# The demo app's client id and secret, which `cargo xtask demo` got from the management API.
CREDENTIALS="$(dirname "$0")/../target/demo-credentials.env"
[ -r "$CREDENTIALS" ] || { echo "run cargo xtask demo first ($CREDENTIALS is missing)"; exit 1; }
. "$CREDENTIALS"
T=http://127.0.0.1:8080/t/demo
CLIENT=(-d client_id="$DEMO_APP_ID" -d client_secret="$DEMO_APP_SECRET")
field() { python3 -c "import sys, json; print(json.load(sys.stdin).get('$1', ''))"; }
claims() { python3 -c "import sys, json, base64; p = sys.stdin.read().strip().split('.')[1]; print(json.dumps(json.loads(base64.urlsafe_b64decode(p + '=' * (-len(p) % 4))), indent=2))"; }

echo "== 1. Password grant with offline_access (rules run with protocol oauth2-password)"
LOGIN=$(curl -s $T/oauth/token "${CLIENT[@]}" -d grant_type=password -d username=alice@demo.test \
  -d password=alice-demo-password -d audience=https://api.demo.test/ \
  -d 'scope=openid profile email offline_access read:reports write:reports')
echo "$LOGIN"
RT1=$(echo "$LOGIN" | field refresh_token)

echo; echo "== 2. The claims the rules added (write:reports was narrowed away: alice is a viewer)"
echo "$LOGIN" | field access_token | claims

echo; echo "== 3. Refresh with rotation: a new refresh token, rules rerun with oauth2-refresh-token"
REFRESH=$(curl -s $T/oauth/token "${CLIENT[@]}" -d grant_type=refresh_token -d refresh_token="$RT1")
echo "$REFRESH"
RT2=$(echo "$REFRESH" | field refresh_token)
echo "$REFRESH" | field access_token | claims | grep protocol

echo; echo "== 4. Retrying the old token inside the 10 s overlap window returns the same successor"
curl -s $T/oauth/token "${CLIENT[@]}" -d grant_type=refresh_token -d refresh_token="$RT1" | field refresh_token
echo "(expected $RT2)"

echo; echo "== 5. Rotate again, then reuse the first token: reuse detection revokes the whole family"
RT3=$(curl -s $T/oauth/token "${CLIENT[@]}" -d grant_type=refresh_token -d refresh_token="$RT2" | field refresh_token)
curl -s -w ' (HTTP %{http_code})\n' $T/oauth/token "${CLIENT[@]}" -d grant_type=refresh_token -d refresh_token="$RT1"
echo "and the newest token of the family is dead too:"
curl -s -w ' (HTTP %{http_code})\n' $T/oauth/token "${CLIENT[@]}" -d grant_type=refresh_token -d refresh_token="$RT3"

echo; echo "== 6. Revocation (RFC 7009): always 200, the family is dead"
RT4=$(curl -s $T/oauth/token "${CLIENT[@]}" -d grant_type=password -d username=alice@demo.test \
  -d password=alice-demo-password -d audience=https://api.demo.test/ -d 'scope=openid offline_access' | field refresh_token)
curl -s -w 'HTTP %{http_code}\n' $T/oauth/revoke "${CLIENT[@]}" -d token="$RT4"
curl -s -w ' (HTTP %{http_code})\n' $T/oauth/token "${CLIENT[@]}" -d grant_type=refresh_token -d refresh_token="$RT4"

echo; echo "== 7. A rule refusing the refresh of a blocked user (deny-blocked-on-refresh); login still works"
RT5=$(curl -s $T/oauth/token "${CLIENT[@]}" -d grant_type=password -d username=mallory@demo.test \
  -d password=mallory-demo-password -d 'scope=openid offline_access' | field refresh_token)
curl -s -w ' (HTTP %{http_code})\n' $T/oauth/token "${CLIENT[@]}" -d grant_type=refresh_token -d refresh_token="$RT5"

echo; echo "== 8. Discovery and keys"
curl -s $T/.well-known/openid-configuration; echo
curl -s $T/.well-known/jwks.json; echo
