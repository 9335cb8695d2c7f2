# Shared by the rakelike scripts: makes sure the .NET SDK, the PostgreSQL server binaries and chromium (the
# dashboard's browser test drives it; never a downloaded browser) are here, installing what is missing from
# the OS packages when running as root, or saying exactly what to install.

pr_have_postgres_server() {
  if command -v initdb >/dev/null 2>&1 && command -v pg_ctl >/dev/null 2>&1; then return 0; fi
  for dir in /usr/lib/postgresql/*/bin; do
    if [ -x "$dir/initdb" ] && [ -x "$dir/pg_ctl" ] && [ -x "$dir/postgres" ]; then return 0; fi
  done
  return 1
}

# pr_ensure_prerequisites [--with-browser]: --with-browser also requires chromium (the test script passes it;
# the demo does not need a browser).
pr_ensure_prerequisites() {
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
  if [ "${1:-}" = "--with-browser" ] && [ ! -x /usr/bin/chromium ]; then
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
  if [ "$(id -u)" = "0" ] && ! id postgres >/dev/null 2>&1; then
    # PostgreSQL refuses to run as root; the clusters run as this user.
    useradd --system --home-dir /var/lib/postgresql --shell /bin/bash postgres
  fi
  export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1 DOTNET_SKIP_FIRST_TIME_EXPERIENCE=1
}
