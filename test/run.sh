#!/usr/bin/env bash
# shellcheck disable=SC2317 # check functions are invoked indirectly, through run_check
# test/run.sh — THE test command of LGSP. CI (.ci/run), developers and the
# README all run exactly this.
#
# It first makes sure the machine has what the tests need (Go; a reachable
# MariaDB, installed and started if missing; later the Debian and npm tools of
# the interop tests), then runs every check:
#   gofmt -l (tracked Go files) · go vet ./... · CGO_ENABLED=0 go build ./...
#   · go test -race -count=1 -timeout 30m ./...
#
# Usage: ./test/run.sh [--quick]
#   --quick   prerequisites, then only `go test ./...` (no -race, no vet/build/gofmt)
#
# Environment:
#   LGSP_TEST_MYSQL_DSN  DSN of the MariaDB/MySQL the tests use (go-sql-driver
#                        form, no database); default root@tcp(127.0.0.1:3306)/.
#                        When the default is refused (a fresh Debian install lets
#                        root in over the unix socket only), this script creates
#                        the user lgsp/lgsp and exports
#                        LGSP_TEST_MYSQL_DSN='lgsp:lgsp@tcp(127.0.0.1:3306)/'.
#   LGSP_EXTERNAL_EDXML_SAMPLES  folder of the official edXML sample packets, a
#                        second test corpus that is not in the repository
#                        (.ci/run sets it). Unset: those tests alone are not
#                        run, and the summary says so in one line.
#
# Never skips silently: whatever it cannot provide makes it exit non-zero.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
REPO_ROOT=$(pwd)

START_SECONDS=$SECONDS
QUICK=0

usage() { sed -n '3,/^set -euo/p' "${BASH_SOURCE[0]}" | sed -e '$d' -e 's/^# \{0,1\}//'; }

for arg in "$@"; do
	case "$arg" in
	--quick) QUICK=1 ;;
	-h | --help) usage; exit 0 ;;
	*) echo "test/run.sh: unknown argument: $arg (try --help)" >&2; exit 2 ;;
	esac
done

# ---------------------------------------------------------------- helpers ---

phase() { printf '\n[%s +%ss] ==> %s\n' "$(date +%H:%M:%S)" "$((SECONDS - START_SECONDS))" "$*"; }
info() { printf '    %s\n' "$*"; }
die() {
	printf '\ntest/run.sh: ERROR: %s\n' "$*" >&2
	printf 'SUMMARY: FAIL (prerequisites) after %ss\n' "$((SECONDS - START_SECONDS))" >&2
	exit 1
}

# as_root runs a command as root: directly when we are root, else via sudo.
as_root() {
	if [[ $(id -u) -eq 0 ]]; then
		"$@"
	elif command -v sudo >/dev/null 2>&1; then
		sudo -n "$@"
	else
		die "need root (or sudo) to run: $*"
	fi
}

APT_UPDATED=0
# apt_install installs Debian packages in one apt-get call (with one
# `apt-get update` per run first).
apt_install() {
	command -v apt-get >/dev/null 2>&1 || die "apt-get not found; install by hand: $*"
	if [[ $APT_UPDATED -eq 0 ]]; then
		info "apt-get update"
		as_root apt-get update -q </dev/null || die "apt-get update failed"
		APT_UPDATED=1
	fi
	info "apt-get install -y $*"
	as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -q "$@" </dev/null ||
		die "apt-get install $* failed"
}

# deb_installed reports whether a Debian package is installed.
deb_installed() {
	[[ $(dpkg-query -W -f='${Status}' "$1" 2>/dev/null || true) == "install ok installed" ]]
}

# -------------------------------------------------------------------- Go ---

ensure_go() {
	phase "prerequisite: Go"
	if ! command -v go >/dev/null 2>&1 && [[ -x /usr/local/go/bin/go ]]; then
		export PATH="/usr/local/go/bin:$PATH"
	fi
	command -v go >/dev/null 2>&1 ||
		die "the go command is not on PATH (nor at /usr/local/go/bin/go); install Go $(sed -n 's/^go //p' go.mod) first"
	info "$(go version)"
	export CGO_ENABLED=0 # the binary is pure Go; only the -race run turns cgo on
}

# `go test -race` needs cgo and so a C compiler, whatever the binary uses.
ensure_race_toolchain() {
	local cc
	cc=$(CGO_ENABLED=1 go env CC)
	if ! command -v "${cc%% *}" >/dev/null 2>&1; then
		info "no C compiler ($cc) for -race; installing gcc"
		apt_install gcc libc6-dev
	fi
}

# --------------------------------------------------------------- MariaDB ---

DEFAULT_DSN='root@tcp(127.0.0.1:3306)/'
FALLBACK_DSN='lgsp:lgsp@tcp(127.0.0.1:3306)/'

# parse_dsn splits a go-sql-driver DSN ([user[:pass]@][tcp(host:port)|unix(path)]/[db][?params])
# into DB_USER, DB_PASS, DB_HOST, DB_PORT, DB_SOCKET.
parse_dsn() {
	local dsn=$1 userinfo rest addr
	DB_USER=root DB_PASS='' DB_HOST=127.0.0.1 DB_PORT=3306 DB_SOCKET=''
	if [[ $dsn == *@* ]]; then
		userinfo=${dsn%@*} # the driver too splits at the last '@'
		rest=${dsn##*@}
		DB_USER=${userinfo%%:*}
		[[ $userinfo == *:* ]] && DB_PASS=${userinfo#*:}
	else
		rest=$dsn
	fi
	if [[ $rest =~ ^tcp\(([^\)]*)\) ]]; then
		addr=${BASH_REMATCH[1]}
		if [[ $addr == *:* ]]; then
			DB_HOST=${addr%:*} DB_PORT=${addr##*:}
		else
			DB_HOST=$addr
		fi
		DB_HOST=${DB_HOST#[}
		DB_HOST=${DB_HOST%]}
	elif [[ $rest =~ ^unix\(([^\)]*)\) ]]; then
		DB_SOCKET=${BASH_REMATCH[1]}
	elif [[ $rest != /* ]]; then
		die "LGSP_TEST_MYSQL_DSN: cannot read the address in '$dsn' (want user:pass@tcp(host:port)/)"
	fi
	return 0
}

db_is_local() {
	[[ -n $DB_SOCKET || $DB_HOST == 127.* || $DB_HOST == localhost || $DB_HOST == ::1 ]]
}

db_client() { command -v mariadb 2>/dev/null || command -v mysql 2>/dev/null || true; }

# db_probe runs `select 1` as the DSN's user; its error text is left in DB_PROBE_ERR.
DB_PROBE_ERR=''
db_probe() {
	local client args
	client=$(db_client)
	[[ -n $client ]] || { DB_PROBE_ERR='no mariadb/mysql client'; return 1; }
	if [[ -n $DB_SOCKET ]]; then
		args=(--protocol=SOCKET "--socket=$DB_SOCKET")
	else
		args=(--protocol=TCP "-h$DB_HOST" "-P$DB_PORT")
	fi
	if DB_PROBE_ERR=$(MYSQL_PWD=$DB_PASS "$client" "${args[@]}" "-u$DB_USER" --connect-timeout=3 \
		-Nse 'select 1' </dev/null 2>&1); then
		return 0
	fi
	return 1
}

# db_refused reports whether the last probe reached a server that refused the
# user: 1045/1698 "Access denied" (wrong password, or root limited to the unix
# socket), or 1130 "Host ... is not allowed to connect" (no account for this
# host, as with skip-name-resolve and no root@127.0.0.1).
db_refused() {
	[[ $DB_PROBE_ERR == *"Access denied"* || $DB_PROBE_ERR == *"is not allowed to connect"* ]]
}

# db_listening reports whether something accepts connections at the address.
db_listening() {
	if [[ -n $DB_SOCKET ]]; then
		[[ -S $DB_SOCKET ]]
	else
		(exec 3<>"/dev/tcp/$DB_HOST/$DB_PORT") 2>/dev/null
	fi
}

# start_mariadb starts the local server and waits (polling, 60 s deadline)
# until it answers. First the way this machine kind starts it (start-stop-daemon
# on mariadbd; --user=mysql because we are root and Debian's default config may
# not say so), then, if that did not bring it up within 20 s, Debian's init
# script (`service mariadb start`, which runs mysqld_safe).
start_mariadb() {
	local deadline=$((SECONDS + 60))
	info "starting MariaDB (start-stop-daemon /usr/sbin/mariadbd)"
	as_root install -d -m 755 -o mysql -g root /run/mysqld 2>/dev/null || true
	as_root start-stop-daemon --start --oknodo --background --exec /usr/sbin/mariadbd -- --user=mysql </dev/null ||
		info "start-stop-daemon failed"
	wait_for_mariadb $((SECONDS + 20)) && return 0
	if command -v service >/dev/null 2>&1 && [[ -x /etc/init.d/mariadb ]]; then
		info "not up after 20 s; trying: service mariadb start"
		# Its own diagnostics (a full process listing) are noise here: keep them out of the log.
		as_root service mariadb start </dev/null >/dev/null 2>&1 || info "service mariadb start reported failure; still waiting"
	fi
	wait_for_mariadb "$deadline" ||
		die "MariaDB did not answer on ${DB_SOCKET:-$DB_HOST:$DB_PORT} within 60 s: ${DB_PROBE_ERR:-not listening} (see /var/log/mysql/error.log)"
}

# wait_for_mariadb DEADLINE polls until the server accepts connections and
# either answers a query or refuses our credentials (which means it is up).
wait_for_mariadb() {
	local deadline=$1
	while ((SECONDS < deadline)); do
		if db_listening && { db_probe || db_refused; }; then
			return 0
		fi
		sleep 1
	done
	return 1
}

# create_lgsp_user makes the dedicated test user, talking to the server over
# the unix socket as OS root (Debian's root@localhost uses unix_socket auth).
# It needs to create and drop databases lgsp_test_*; it gets ALL PRIVILEGES,
# like the root user it stands in for.
create_lgsp_user() {
	local client
	client=$(db_client)
	info "$DB_USER over TCP is refused; creating user lgsp@127.0.0.1 and lgsp@localhost (password lgsp) over the unix socket"
	as_root "$client" --protocol=SOCKET -uroot </dev/null -e "
		CREATE USER IF NOT EXISTS 'lgsp'@'127.0.0.1' IDENTIFIED BY 'lgsp';
		CREATE USER IF NOT EXISTS 'lgsp'@'localhost' IDENTIFIED BY 'lgsp';
		ALTER USER 'lgsp'@'127.0.0.1' IDENTIFIED BY 'lgsp';
		ALTER USER 'lgsp'@'localhost' IDENTIFIED BY 'lgsp';
		GRANT ALL PRIVILEGES ON *.* TO 'lgsp'@'127.0.0.1';
		GRANT ALL PRIVILEGES ON *.* TO 'lgsp'@'localhost';
		FLUSH PRIVILEGES;" ||
		die "could not create the MariaDB user lgsp over the unix socket as root"
}

ensure_mariadb() {
	phase "prerequisite: MariaDB"
	local dsn=${LGSP_TEST_MYSQL_DSN:-$DEFAULT_DSN}
	local user_chose=0
	# A DSN of one's own is used as given; only the default (or the fallback
	# this script exports) may be replaced by the lgsp user.
	[[ $dsn != "$DEFAULT_DSN" && $dsn != "$FALLBACK_DSN" ]] && user_chose=1
	parse_dsn "$dsn"
	info "DSN ${dsn/:*@/:***@}"

	# 1. Tools: a client to probe with; a server if the DSN points at this machine.
	local need=()
	[[ -n $(db_client) ]] || need+=(mariadb-client)
	if db_is_local && [[ ! -x /usr/sbin/mariadbd ]] && ! db_listening; then
		need+=(mariadb-server)
	fi
	if ((${#need[@]})); then
		info "missing: ${need[*]}"
		apt_install "${need[@]}"
	fi

	# 2. Already fine? (the usual case on a go-svc machine)
	if db_probe; then
		info "reachable as $DB_USER"
		export LGSP_TEST_MYSQL_DSN=$dsn
		return 0
	fi

	# 3. Not listening: start the local server and wait for it.
	if ! db_listening; then
		db_is_local || die "MariaDB at $DB_HOST:$DB_PORT (LGSP_TEST_MYSQL_DSN) is not reachable and is not on this machine: $DB_PROBE_ERR"
		[[ -x /usr/sbin/mariadbd ]] || apt_install mariadb-server mariadb-client
		start_mariadb
		if db_probe; then
			info "started; reachable as $DB_USER"
			export LGSP_TEST_MYSQL_DSN=$dsn
			return 0
		fi
	fi

	# 4. Up but refusing us.
	if ! db_refused; then
		die "MariaDB at ${DB_SOCKET:-$DB_HOST:$DB_PORT} does not answer: $DB_PROBE_ERR"
	fi
	if ((user_chose)); then
		die "MariaDB refused the user of LGSP_TEST_MYSQL_DSN ($DB_USER): $DB_PROBE_ERR"
	fi
	db_is_local || die "MariaDB at $DB_HOST refused $DB_USER and is not on this machine: $DB_PROBE_ERR"
	create_lgsp_user
	dsn=$FALLBACK_DSN
	parse_dsn "$dsn"
	db_probe || die "MariaDB still refuses the new user lgsp: $DB_PROBE_ERR"
	info "reachable as lgsp"
	export LGSP_TEST_MYSQL_DSN=$dsn
}

# ------------------------------------------------------ interop tooling ---

# ==== ensure_apt_tools ========================================================
# Debian packages the interop tests need (xmllint validates our edXML against
# xsd/edxml.xsd; xmlsec1 is the independent XML-DSig peer; python3-zeep is the
# independent SOAP client of adapters/soap, run with /usr/bin/python3;
# systemd gives systemd-analyze, which checks configs/lgsp.service; chromium
# is the headless browser of the console's browser tests, TestConsoleBrowser); they
# are installed in ONE apt-get call, and only when one of them is missing, so
# a prepared machine pays nothing.
APT_TOOLS=(libxml2-utils xmlsec1 python3-zeep python3-aiosmtpd systemd chromium)

ensure_apt_tools() {
	phase "prerequisite: Debian tools (${APT_TOOLS[*]:-none listed})"
	local pkg missing=()
	for pkg in "${APT_TOOLS[@]}"; do
		deb_installed "$pkg" || missing+=("$pkg")
	done
	if ((${#missing[@]} == 0)); then
		info "nothing missing"
		return 0
	fi
	apt_install "${missing[@]}"
}

# ==== ensure_client_toolchains ================================================
# Toolchains of the client libraries under clients/ (TestClientJava,
# TestClientCSharp, TestClientPython in ./test fail without them): the JDK
# (javac --release 8), Mono's C# compiler and runtime with the .NET 4.x
# System.Web.Extensions assembly, and python3. One apt-get call, only when one
# is missing.
CLIENT_TOOLS=(openjdk-17-jdk-headless mono-mcs mono-runtime libmono-system-web-extensions4.0-cil python3)

ensure_client_toolchains() {
	phase "prerequisite: client toolchains (${CLIENT_TOOLS[*]})"
	local pkg missing=()
	for pkg in "${CLIENT_TOOLS[@]}"; do
		deb_installed "$pkg" || missing+=("$pkg")
	done
	if ((${#missing[@]} == 0)); then
		info "nothing missing"
		return 0
	fi
	apt_install "${missing[@]}"
}

# ==== ensure_node_modules =====================================================
# npm packages of the interop tests (node-soap 1.13.0, pinned in
# test/interop/package.json and package-lock.json) live in test/interop; the
# adapters/soap tests run node_client.js and node_server.js from there and
# fail without them. `npm ci` (exactly the lock) runs when node_modules is
# missing or older than package.json or package-lock.json.
ensure_node_modules() {
	phase "prerequisite: node modules (test/interop)"
	local dir=$REPO_ROOT/test/interop
	[[ -f $dir/package.json ]] || die "test/interop/package.json is missing"
	command -v node >/dev/null 2>&1 || die "node (>= 20.19, for node-soap 1.13) is needed for test/interop but not found"
	command -v npm >/dev/null 2>&1 || die "npm is needed for test/interop but not found"
	if [[ -d $dir/node_modules && $dir/node_modules -nt $dir/package.json &&
		(! -f $dir/package-lock.json || $dir/node_modules -nt $dir/package-lock.json) ]]; then
		info "node_modules up to date"
		return 0
	fi
	if [[ -f $dir/package-lock.json ]]; then
		(cd "$dir" && npm ci --no-audit --no-fund </dev/null) || die "npm ci in test/interop failed"
	else
		(cd "$dir" && npm install --no-audit --no-fund </dev/null) || die "npm install in test/interop failed"
	fi
	touch "$dir/node_modules"
}

# ------------------------------------------------------------ the checks ---

PASSED=()
FAILED=()

# run_check NAME CMD... runs one check, records it under NAME, and goes on
# either way so that one run reports every failing check.
run_check() {
	local name=$1
	shift
	local shown=("$@")
	[[ ${shown[0]} == go_test || ${shown[0]} == check_gofmt ]] && shown=("${shown[@]:1}")
	[[ ${shown[0]:-} == env ]] && shown=("${shown[@]:1}")
	phase "$name${shown[*]:+: ${shown[*]}}"
	if "$@"; then
		PASSED+=("$name")
	else
		FAILED+=("$name")
		info "FAILED: $name"
	fi
}

check_gofmt() {
	local files=() f bad
	if git rev-parse --is-inside-work-tree >/dev/null 2>&1; then
		while IFS= read -r -d '' f; do
			[[ -f $f && $f != */testdata/* && $f != testdata/* ]] && files+=("$f")
		done < <(git ls-files -z -- '*.go')
	else
		while IFS= read -r -d '' f; do files+=("$f"); done < <(find . -name '*.go' -not -path '*/testdata/*' -not -path './.*' -print0)
	fi
	info "${#files[@]} tracked Go files"
	((${#files[@]})) || return 0
	bad=$(gofmt -l "${files[@]}") || return 1
	if [[ -n $bad ]]; then
		info "gofmt would reformat these (run gofmt -w on them):"
		while IFS= read -r f; do info "  $f"; done <<<"$bad"
		return 1
	fi
}

GO_TEST_LOG=$(mktemp)
trap 'rm -f "$GO_TEST_LOG"' EXIT

# go_test runs go test with its output both shown and kept for the summary.
go_test() {
	"$@" 2>&1 | tee "$GO_TEST_LOG"
}

# ------------------------------------------------------------------ main ---

ensure_go
ensure_mariadb
ensure_apt_tools
ensure_client_toolchains
ensure_node_modules

if ((QUICK)); then
	run_check test go_test go test ./...
else
	ensure_race_toolchain
	run_check gofmt check_gofmt
	run_check vet go vet ./...
	run_check build go build ./... # CGO_ENABLED=0, exported by ensure_go
	run_check test-race go_test env CGO_ENABLED=1 go test -race -count=1 -timeout 30m ./...
fi

EXTERNAL_NOTE=''
if [[ -z ${LGSP_EXTERNAL_EDXML_SAMPLES:-} ]]; then
	EXTERNAL_NOTE='NOTE: external edXML corpus not run (LGSP_EXTERNAL_EDXML_SAMPLES is unset; our own fixtures in bus/edxml/testdata/packets were run)'
fi

pkgs_ok=$(grep -c '^ok[[:space:]]' "$GO_TEST_LOG" || true)
pkgs_fail=$(grep -cE '^FAIL[[:space:]]+[^[:space:]]' "$GO_TEST_LOG" || true)
elapsed=$((SECONDS - START_SECONDS))
echo
[[ -n $EXTERNAL_NOTE ]] && echo "$EXTERNAL_NOTE"
if ((${#FAILED[@]} == 0)); then
	echo "SUMMARY: PASS in ${elapsed}s; checks passed: ${PASSED[*]}; go test packages: ${pkgs_ok} ok, ${pkgs_fail} failed"
	exit 0
fi
echo "SUMMARY: FAIL in ${elapsed}s; checks failed: ${FAILED[*]}; passed: ${PASSED[*]:-none}; go test packages: ${pkgs_ok} ok, ${pkgs_fail} failed"
exit 1
