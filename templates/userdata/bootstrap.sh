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
PACKAGE_SPEC={{PACKAGE_SPEC}}
# "credential-name=/ssm/parameter" pairs, space separated.
TOKEN_PARAMETERS={{TOKEN_PARAMETERS}}
# Managers only: the EBS volume that holds this manager's queue, and the
# Elastic IP clients reach it on.
DATA_VOLUME={{DATA_VOLUME}}
ADDRESS_ALLOCATION={{ADDRESS_ALLOCATION}}
# The role's config (JSON, base64), with token file names in place of tokens.
CONFIG_B64={{CONFIG_B64}}

echo "dynwork: bootstrapping a $ROLE"

imds() {
  local token
  token=$(curl -sf --max-time 5 -X PUT http://169.254.169.254/latest/api/token \
    -H 'X-aws-ec2-metadata-token-ttl-seconds: 300')
  curl -sf --max-time 5 -H "X-aws-ec2-metadata-token: $token" \
    "http://169.254.169.254/latest/meta-data/$1"
}
INSTANCE_ID=$(imds instance-id)

if [ -n "$ADDRESS_ALLOCATION" ]; then
  # The manager's public address outlives this machine, like its queue: take
  # it over (from a predecessor too), so clients' URLs never change.
  associated=""
  for _ in $(seq 1 30); do
    if aws ec2 associate-address --region "$REGION" --allocation-id "$ADDRESS_ALLOCATION" \
      --instance-id "$INSTANCE_ID" --allow-reassociation > /dev/null; then
      associated=yes
      break
    fi
    sleep 5
  done
  # Peers and workers use the private address: the manager still serves.
  [ -n "$associated" ] || echo "dynwork: could not take Elastic IP $ADDRESS_ALLOCATION; clients cannot reach this manager" >&2
fi

dnf install -y nodejs22 nodejs22-npm gcc-c++ make python3 jq
id -u dynwork > /dev/null 2>&1 ||
  useradd --system --home-dir /var/lib/dynwork --shell /sbin/nologin dynwork

install -d -m 0755 "$ROOT/opt/dynwork"
npm-22 install --prefix "$ROOT/opt/dynwork" --omit=dev --no-audit --no-fund "$PACKAGE_SPEC"

# Tokens: root-only files, never on a command line or in the environment.
umask 077
install -d -m 0700 "$ROOT/etc/dynwork" "$ROOT/etc/dynwork/credentials"
credentials=()
for pair in $TOKEN_PARAMETERS; do
  name=${pair%%=*}
  parameter=${pair#*=}
  aws ssm get-parameter --region "$REGION" --name "$parameter" --with-decryption \
    --query Parameter.Value --output text > "$ROOT/etc/dynwork/credentials/$name"
  credentials+=("LoadCredential=$name:/etc/dynwork/credentials/$name")
done

install -d -m 0750 -o dynwork -g dynwork "$ROOT/var/lib/dynwork"
if [ -n "$DATA_VOLUME" ]; then
  # The queue outlives this machine: attach its volume, waiting while a
  # terminated predecessor still holds it.
  for _ in $(seq 1 90); do
    if aws ec2 attach-volume --region "$REGION" --volume-id "$DATA_VOLUME" \
      --instance-id "$INSTANCE_ID" --device /dev/sdf > /dev/null; then
      break
    fi
    sleep 10
  done
  # Nitro instances show the volume as NVMe, named by its id; Xen as xvdf.
  nvme="$ROOT/dev/disk/by-id/nvme-Amazon_Elastic_Block_Store_${DATA_VOLUME//-/}"
  device=""
  for _ in $(seq 1 120); do
    if [ -e "$nvme" ]; then device=$(readlink -f "$nvme"); break; fi
    if [ -e "$ROOT/dev/xvdf" ]; then device="$ROOT/dev/xvdf"; break; fi
    sleep 2
  done
  if [ -z "$device" ]; then
    echo "dynwork: data volume $DATA_VOLUME never appeared" >&2
    exit 1
  fi
  blkid "$device" > /dev/null || mkfs.xfs -L dynwork-data "$device"
  uuid=$(blkid -s UUID -o value "$device")
  grep -q "$uuid" "$ROOT/etc/fstab" ||
    echo "UUID=$uuid /var/lib/dynwork xfs defaults,nofail 0 2" >> "$ROOT/etc/fstab"
  mount /var/lib/dynwork || mountpoint -q /var/lib/dynwork
  chown dynwork:dynwork "$ROOT/var/lib/dynwork"
  chmod 0750 "$ROOT/var/lib/dynwork"
fi

printf '%s' "$CONFIG_B64" | base64 -d |
  jq --arg id "$INSTANCE_ID" '.instanceId = $id' > "$ROOT/etc/dynwork/config.json"
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

umask 022
cat > "$ROOT/etc/systemd/system/dynwork-$ROLE.service" <<UNIT
[Unit]
Description=dynwork $ROLE
After=network-online.target
Wants=network-online.target
StartLimitIntervalSec=300
StartLimitBurst=10
$after_exit

[Service]
User=dynwork
Group=dynwork
ExecStart=/usr/bin/node-22 /opt/dynwork/node_modules/dynwork/dist/bin/dynwork.js $ROLE --config /etc/dynwork/config.json
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

systemctl daemon-reload
systemctl enable --now "dynwork-$ROLE.service"
echo "dynwork: $ROLE started"
