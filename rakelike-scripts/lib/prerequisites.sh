# Shared by the rakelike scripts: makes sure the .NET SDK, the PostgreSQL server binaries, chromium (the
# dashboard's browser test drives it; never a downloaded browser) and redis-server (the shared-state tests start
# one on a loopback port) are here, installing what is missing from the OS packages when running as root, or
# saying exactly what to install.

pr_have_postgres_server() {
  if command -v initdb >/dev/null 2>&1 && command -v pg_ctl >/dev/null 2>&1; then return 0; fi
  for dir in /usr/lib/postgresql/*/bin; do
    if [ -x "$dir/initdb" ] && [ -x "$dir/pg_ctl" ] && [ -x "$dir/postgres" ]; then return 0; fi
  done
  return 1
}

# pr_install_or_explain PACKAGE WHY: installs the Debian package when running as root with apt-get, else says
# how to install it and exits.
pr_install_or_explain() {
  if [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null 2>&1; then
    echo "Installing $1 from the OS packages (apt-get install $1) $2..."
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$1" >/dev/null
  else
    echo "error: $1 is missing ($2)." >&2
    echo "       Install it with: sudo apt-get install -y $1" >&2
    exit 1
  fi
}

# pr_ensure_prerequisites [--with-browser] [--with-redis]: --with-browser also requires chromium, --with-redis
# redis-server (the test script passes both; the demo needs neither).
pr_ensure_prerequisites() {
  local with_browser="" with_redis=""
  for flag in "$@"; do
    case "$flag" in
      --with-browser) with_browser=1 ;;
      --with-redis) with_redis=1 ;;
    esac
  done
  if ! command -v dotnet >/dev/null 2>&1; then
    echo "error: the .NET SDK (10.0) is required: see https://learn.microsoft.com/dotnet/core/install/linux-debian" >&2
    exit 1
  fi
  if ! pr_have_postgres_server; then
    if [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null 2>&1; then
      echo "Installing the PostgreSQL server from the OS packages (apt-get install postgresql)..."
      apt-get update -qq
      DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >/dev/null
    else
      echo "error: the PostgreSQL server binaries (initdb, pg_ctl, postgres) are missing." >&2
      echo "       Install them with: sudo apt-get install -y postgresql" >&2
      exit 1
    fi
  fi
  if [ -n "$with_browser" ] && [ ! -x /usr/bin/chromium ]; then
    if [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null 2>&1; then
      echo "Installing chromium from the OS packages (apt-get install chromium) for the dashboard's browser test..."
      apt-get update -qq
      DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
    else
      echo "error: /usr/bin/chromium is missing (the dashboard's browser test drives it)." >&2
      echo "       Install it with: sudo apt-get install -y chromium" >&2
      exit 1
    fi
  fi
  if [ -n "$with_redis" ] && ! command -v redis-server >/dev/null 2>&1; then
    # The Debian package also starts a system service on 6379; the tests never use it (each starts its own).
    pr_install_or_explain redis-server "for the shared-state tests, which start their own on a loopback port"
  fi
  if [ "$(id -u)" = "0" ] && ! id postgres >/dev/null 2>&1; then
    # PostgreSQL refuses to run as root; the clusters run as this user.
    useradd --system --home-dir /var/lib/postgresql --shell /bin/bash postgres
  fi
  export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1 DOTNET_SKIP_FIRST_TIME_EXPERIENCE=1
}
