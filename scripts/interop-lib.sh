# Sourced by scripts/interop.d/*.sh.
# need_pkgs PKG...: install Debian packages that are missing (apt-get update once per run).
need_pkgs() {
  local missing=()
  for p in "$@"; do
    dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p")
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  # One apt at a time (several scripts, or several checkouts, may install at
  # once); dpkg's own lock is waited for too instead of failing at once.
  (
    flock 9
    if [ ! -e /tmp/.dd-apt-updated ]; then
      apt-get update -qq >/dev/null && touch /tmp/.dd-apt-updated
    fi
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
      -o DPkg::Lock::Timeout=300 "${missing[@]}" >/dev/null
  ) 9>/tmp/.dd-apt.lock
}
# free_port: a free TCP port on 127.0.0.1.
free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'
}
# postfix_master_cf PORT [tls]: a minimal master.cf for a private Postfix
# instance: the smtpd listener on 127.0.0.1:PORT only, no chroot, the
# internal services it needs, and with "tls" the TLS session cache manager.
postfix_master_cf() {
  echo "127.0.0.1:$1 inet n - n - - smtpd"
  [ "${2:-}" = tls ] && echo "tlsmgr    unix  -       -       n       1000?   1       tlsmgr"
  cat <<'MASTER'
pickup    unix  n       -       n       60      1       pickup
cleanup   unix  n       -       n       -       0       cleanup
qmgr      unix  n       -       n       300     1       qmgr
rewrite   unix  -       -       n       -       -       trivial-rewrite
bounce    unix  -       -       n       -       0       bounce
defer     unix  -       -       n       -       0       bounce
trace     unix  -       -       n       -       0       bounce
verify    unix  -       -       n       -       1       verify
flush     unix  n       -       n       1000?   0       flush
proxymap  unix  -       -       n       -       -       proxymap
showq     unix  n       -       n       -       -       showq
error     unix  -       -       n       -       -       error
retry     unix  -       -       n       -       -       error
discard   unix  -       -       n       -       -       discard
local     unix  -       n       n       -       -       local
anvil     unix  -       -       n       -       1       anvil
scache    unix  -       -       n       -       1       scache
postlog   unix-dgram n  -       n       -       1       postlogd
MASTER
}
# need_postfix: install Postfix without configuring a system instance, and
# stop a system instance that runs from the default config, so nothing
# answers on port 25 by accident. The scripts run private instances.
need_postfix() {
  if ! command -v postfix >/dev/null 2>&1; then
    echo "postfix postfix/main_mailer_type select No configuration" | debconf-set-selections
    need_pkgs postfix
  fi
  if [ -f /etc/postfix/main.cf ] && postfix status >/dev/null 2>&1; then
    postfix stop >/dev/null 2>&1 || true
  fi
}
# postfix_start ETC PORT: start the private instance configured in ETC and
# wait (bounded) until its smtpd greets on 127.0.0.1:PORT; non-zero if not.
postfix_start() {
  local etc=$1 port=$2 i
  timeout 30 postfix -c "$etc" start >"$etc/start.log" 2>&1 || { cat "$etc/start.log" >&2; return 1; }
  for i in $(seq 1 100); do
    if python3 - "$port" <<'PY' 2>/dev/null; then return 0; fi
import socket, sys
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=1)
s.settimeout(2)
ok = s.recv(512).startswith(b"220")
s.sendall(b"QUIT\r\n")
s.close()
sys.exit(0 if ok else 1)
PY
    sleep 0.1
  done
  return 1
}
# postfix_stop ETC: stop the private instance configured in ETC (abort if
# it does not stop in time).
postfix_stop() {
  timeout 20 postfix -c "$1" stop >/dev/null 2>&1 ||
    timeout 10 postfix -c "$1" abort >/dev/null 2>&1 || true
}
# postfix_dirs DIR: the etc, spool and data directories of a private
# Postfix instance in DIR.
postfix_dirs() {
  mkdir -p "$1/etc" "$1/spool" "$1/data"
  chown postfix:postfix "$1/data"
}
# postfix_main_cf_base DIR: the main.cf lines every private instance in DIR
# shares: its own directories and log, loopback IPv4 only, no aliases, no
# biff. The scripts append what makes their instance what it is.
postfix_main_cf_base() {
  cat <<EOF
compatibility_level = 3.6
config_directory = $1/etc
queue_directory = $1/spool
data_directory = $1/data
mail_owner = postfix
setgid_group = postdrop
inet_interfaces = loopback-only
inet_protocols = ipv4
alias_maps =
alias_database =
biff = no
maillog_file = $1/maillog
EOF
}
# single_postfix NAME: the scaffolding of a script that runs one private
# Postfix instance configured in $work/etc: sets name, work (a fresh
# directory with etc, spool and data), port (free) and started (set it once
# postfix_start is called); defines fail MESSAGE (prints the instance's log
# tail, exits 1); and on exit stops the instance and removes $work.
single_postfix() {
  name=$1
  work=$(mktemp -d "/tmp/dd-$1.XXXXXX")
  chmod 755 "$work"
  started=""
  port=$(free_port)
  postfix_dirs "$work"
  trap '[ -n "$started" ] && postfix_stop "$work/etc"; rm -rf "$work"' EXIT
  fail() {
    echo "$name: FAIL: $*" >&2
    [ -f "$work/maillog" ] && tail -n 30 "$work/maillog" >&2
    exit 1
  }
}
