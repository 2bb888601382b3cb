#!/bin/bash
# dynwork machine bootstrap, rendered by dynwork {{DYNWORK_VERSION}} from
# templates/userdata/bootstrap.sh. Runs once, as root, at first boot.
# It holds no secret: tokens are read from SSM Parameter Store into root-only
# files and handed to the service by systemd (LoadCredential).
# Log: /var/log/dynwork-bootstrap.log (also in the instance's console output).
set -euo pipefail
# Where this script reads and writes files: the machine's root. The tests run
# the rendered script with stand-in commands and a scratch directory here.
ROOT=''
exec > >(tee -a "$ROOT/var/log/dynwork-bootstrap.log" > "$ROOT/dev/console") 2>&1

ROLE={{ROLE}}
REGION={{REGION}}
# The exact build the deployer packed (npm-pack layout, under package/), and
# its SHA-256: nothing else is ever run here.
ARTIFACT_URL={{ARTIFACT_URL}}
ARTIFACT_SHA256={{ARTIFACT_SHA256}}
# "credential-name=/ssm/parameter" pairs, space separated.
TOKEN_PARAMETERS={{TOKEN_PARAMETERS}}
# Managers only: the EBS volume that holds this manager's queue, and the
# Elastic IP clients reach it on.
DATA_VOLUME={{DATA_VOLUME}}
ADDRESS_ALLOCATION={{ADDRESS_ALLOCATION}}
# The role's config (JSON, base64), with token file names in place of tokens.
CONFIG_B64={{CONFIG_B64}}

# One failure line, always starting "dynwork: boot failed: ", is what the
# deployer looks for in the console output to say why a machine never came
# up. `step` names what is being done; the EXIT trap reports it on any
# failure, so no `set -e` exit goes unexplained.
step="start"
reported=""
fail() {
  echo "dynwork: boot failed: $1" >&2
  reported=yes
  exit 1
}
on_exit() {
  local code=$?
  if [ "$code" -ne 0 ] && [ -z "$reported" ]; then
    echo "dynwork: boot failed: $step" >&2
  fi
}
trap on_exit EXIT

# Network steps meet a machine whose network, credentials or repositories are
# not quite there yet: retry with exponential backoff, bounded so a boot that
# cannot succeed says so instead of hanging. Waits are BASE, 2*BASE, … capped
# at MAX seconds. DYNWORK_BOOT_RETRY_BASE_S exists only for the tests (which
# set 0); a real boot never has it set and waits from 2 s.
retry_base=${DYNWORK_BOOT_RETRY_BASE_S:-2}
# retry WHAT ATTEMPTS MAX command…: on giving up, `step` says which step did.
retry() {
  local what=$1 attempts=$2 max=$3 n=1 delay=$retry_base
  shift 3
  until "$@"; do
    if [ "$n" -ge "$attempts" ]; then
      step="$what (gave up after $n attempts)"
      return 1
    fi
    # stderr: the command's stdout may be redirected to a file.
    echo "dynwork: $what failed (attempt $n of $attempts), retrying in ${delay}s" >&2
    sleep "$delay"
    n=$((n + 1))
    delay=$((delay * 2 > max ? max : delay * 2))
  done
}

echo "dynwork: bootstrapping a $ROLE"

# Sets INSTANCE_ID (not a command substitution: retry must run in this shell
# so that its `step` reaches the failure line).
instance_id() {
  local token
  token=$(curl -sSf --max-time 5 -X PUT http://169.254.169.254/latest/api/token \
    -H 'X-aws-ec2-metadata-token-ttl-seconds: 300') || return 1
  INSTANCE_ID=$(curl -sSf --max-time 5 -H "X-aws-ec2-metadata-token: $token" \
    http://169.254.169.254/latest/meta-data/instance-id) || return 1
  [ -n "$INSTANCE_ID" ]
}
INSTANCE_ID=""
retry "IMDS instance-id" 6 8 instance_id

# The package first, before anything is installed or started: a wrong or
# tampered build must leave the machine untouched.
step="prepare the download directory"
install -d -m 0700 "$ROOT/var/tmp/dynwork-boot"
tarball="$ROOT/var/tmp/dynwork-boot/dynwork.tgz"
fetch() {
  rm -f "$tarball"
  case "$ARTIFACT_URL" in
    # The instance role may read the cluster's own prefix of the bucket.
    s3://*) aws s3 cp --region "$REGION" --only-show-errors "$ARTIFACT_URL" "$tarball" ;;
    *) curl -fsSL --max-time 300 -o "$tarball" "$ARTIFACT_URL" ;;
  esac
}
retry "download $ARTIFACT_URL" 5 30 fetch
step="sha256sum of the package"
got=$(sha256sum "$tarball")
got=${got%% *}
[ "$got" = "$ARTIFACT_SHA256" ] ||
  fail "package checksum mismatch (expected $ARTIFACT_SHA256, got $got)"

if [ -n "$ADDRESS_ALLOCATION" ]; then
  # The manager's public address outlives this machine, like its queue: take
  # it over (from a predecessor too), so clients' URLs never change. Refused
  # while the instance profile's credentials are not there yet.
  associate() {
    aws ec2 associate-address --region "$REGION" --allocation-id "$ADDRESS_ALLOCATION" \
      --instance-id "$INSTANCE_ID" --allow-reassociation > /dev/null
  }
  # Peers and workers use the private address: the manager still serves.
  retry "associate-address $ADDRESS_ALLOCATION" 10 30 associate ||
    echo "dynwork: could not take Elastic IP $ADDRESS_ALLOCATION; clients cannot reach this manager" >&2
fi

# Node only: the package brings its code and, for workers, its dependencies;
# nothing is compiled here.
if [ "$ROLE" = manager ]; then
  retry "dnf install nodejs22" 5 30 dnf install -y nodejs22 nodejs22-npm
else
  retry "dnf install nodejs22" 5 30 dnf install -y nodejs22
fi
step="useradd dynwork"
id -u dynwork > /dev/null 2>&1 ||
  useradd --system --home-dir /var/lib/dynwork --shell /sbin/nologin dynwork

step="unpack the package into /opt/dynwork"
install -d -m 0755 "$ROOT/opt/dynwork"
# npm pack puts everything under package/; root-owned, modes from our umask.
tar -xzf "$tarball" -C "$ROOT/opt/dynwork" --strip-components=1 \
  --no-same-owner --no-same-permissions package
rm -rf "$ROOT/var/tmp/dynwork-boot"
[ -f "$ROOT/opt/dynwork/dist/bin/dynwork.js" ] ||
  fail "the package has no dist/bin/dynwork.js"

if [ "$ROLE" = manager ] || [ ! -d "$ROOT/opt/dynwork/node_modules" ]; then
  # The manager's store needs better-sqlite3, a native module: install the
  # shrinkwrapped dependencies without running anyone's scripts, then let
  # better-sqlite3 alone fetch its prebuilt binary. A worker does this only
  # for a --package build that brings no dependencies of its own.
  [ "$ROLE" = manager ] || retry "dnf install nodejs22-npm" 5 30 dnf install -y nodejs22-npm
  step="cd /opt/dynwork"
  export HOME="${HOME:-/root}"
  cd "$ROOT/opt/dynwork"
  retry "npm ci" 3 30 npm-22 ci --omit=dev --ignore-scripts --no-audit --no-fund
  [ "$ROLE" != manager ] || retry "npm rebuild better-sqlite3" 3 30 npm-22 rebuild better-sqlite3
  cd /
fi

# Tokens: root-only files, never on a command line or in the environment.
step="create /etc/dynwork"
umask 077
install -d -m 0700 "$ROOT/etc/dynwork" "$ROOT/etc/dynwork/credentials"
# read_token NAME PARAMETER: each attempt rewrites the file whole.
read_token() {
  aws ssm get-parameter --region "$REGION" --name "$2" --with-decryption \
    --query Parameter.Value --output text > "$ROOT/etc/dynwork/credentials/$1"
}
credentials=()
for pair in $TOKEN_PARAMETERS; do
  name=${pair%%=*}
  parameter=${pair#*=}
  retry "ssm get-parameter $parameter" 5 16 read_token "$name" "$parameter"
  credentials+=("LoadCredential=$name:/etc/dynwork/credentials/$name")
done

step="create /var/lib/dynwork"
install -d -m 0750 -o dynwork -g dynwork "$ROOT/var/lib/dynwork"
mounts=""
if [ -n "$DATA_VOLUME" ]; then
  # The queue outlives this machine: attach its volume, waiting (about 14
  # minutes) while a terminated predecessor still holds it.
  retry "attach-volume $DATA_VOLUME" 30 30 aws ec2 attach-volume --region "$REGION" \
    --volume-id "$DATA_VOLUME" --instance-id "$INSTANCE_ID" --device /dev/sdf > /dev/null
  step="find the device of data volume $DATA_VOLUME"
  # Nitro instances show the volume as NVMe, named by its id; Xen as xvdf.
  nvme="$ROOT/dev/disk/by-id/nvme-Amazon_Elastic_Block_Store_${DATA_VOLUME//-/}"
  device=""
  for _ in $(seq 1 120); do
    if [ -e "$nvme" ]; then device=$(readlink -f "$nvme"); break; fi
    if [ -e "$ROOT/dev/xvdf" ]; then device="$ROOT/dev/xvdf"; break; fi
    sleep 2
  done
  [ -n "$device" ] || fail "data volume $DATA_VOLUME never appeared"
  # Format only a volume blkid positively finds empty (exit 2): any other
  # error must never cost a queue.
  probe=0
  blkid "$device" > /dev/null || probe=$?
  if [ "$probe" -eq 2 ]; then
    step="mkfs.xfs data volume $DATA_VOLUME"
    mkfs.xfs -L dynwork-data "$device"
  elif [ "$probe" -ne 0 ]; then
    fail "blkid cannot read data volume $DATA_VOLUME (exit $probe)"
  fi
  uuid=$(blkid -s UUID -o value "$device" || true)
  # Without a UUID there is no fstab line, so no mount at the next boot: the
  # queue would silently start empty on the root disk.
  [ -n "$uuid" ] || fail "data volume $DATA_VOLUME has no filesystem UUID"
  step="add data volume $DATA_VOLUME to /etc/fstab"
  grep -q "^UUID=$uuid " "$ROOT/etc/fstab" ||
    echo "UUID=$uuid /var/lib/dynwork xfs defaults,nofail 0 2" >> "$ROOT/etc/fstab"
  step="mount /var/lib/dynwork"
  mount /var/lib/dynwork || mountpoint -q /var/lib/dynwork
  chown dynwork:dynwork "$ROOT/var/lib/dynwork"
  chmod 0750 "$ROOT/var/lib/dynwork"
  # fstab says nofail (the machine still boots for SSH); the service must not
  # start without the volume, or it would open an empty queue on the root disk.
  mounts="RequiresMountsFor=/var/lib/dynwork"
fi

step="write /etc/dynwork/config.json"
# Node edits the JSON: workers install nothing but Node.
printf '%s' "$CONFIG_B64" | base64 -d |
  INSTANCE_ID="$INSTANCE_ID" node-22 -e '
    const config = JSON.parse(require("fs").readFileSync(0, "utf8"));
    config.instanceId = process.env.INSTANCE_ID;
    process.stdout.write(JSON.stringify(config, null, 2) + "\n");
  ' > "$ROOT/etc/dynwork/config.json"
chown dynwork:dynwork "$ROOT/etc/dynwork" "$ROOT/etc/dynwork/config.json"
chmod 0600 "$ROOT/etc/dynwork/config.json"

# Managers always come back; a worker that exits cleanly (idle, lifetime)
# powers the machine off, which terminates it (shutdown behaviour).
if [ "$ROLE" = manager ]; then
  restart="Restart=always"
  after_exit=""
else
  restart="Restart=on-failure"
  after_exit=$'SuccessAction=poweroff\nFailureAction=poweroff'
fi

step="write the dynwork-$ROLE unit"
umask 022
cat > "$ROOT/etc/systemd/system/dynwork-$ROLE.service" <<UNIT
[Unit]
Description=dynwork $ROLE
After=network-online.target
Wants=network-online.target
$mounts
StartLimitIntervalSec=300
StartLimitBurst=10
$after_exit

[Service]
User=dynwork
Group=dynwork
ExecStart=/usr/bin/node-22 /opt/dynwork/dist/bin/dynwork.js $ROLE --config /etc/dynwork/config.json
$(printf '%s\n' "${credentials[@]}")
$restart
RestartSec=2
LimitNOFILE=65536
NoNewPrivileges=yes
ProtectSystem=full
PrivateTmp=yes

[Install]
WantedBy=multi-user.target
UNIT

step="systemctl enable --now dynwork-$ROLE"
systemctl daemon-reload
systemctl enable --now "dynwork-$ROLE.service"
echo "dynwork: $ROLE started"
