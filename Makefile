# The two commands of the README: `make run` and `make test`. Both set themselves up.
VENV   ?= .venv
PYTHON ?= python3
HOST   ?= 127.0.0.1
PORT   ?= 5000
BIN     = $(VENV)/bin
STAMP   = $(VENV)/.installed-$(shell sha1sum pyproject.toml | cut -c1-12)
BPMN_LINT ?= $(firstword $(wildcard ../shared/tools/bpmn_lint.py tools/bpmn_lint.py))

.PHONY: run test lint services browser bench clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --disable-pip-version-check -e '.[test]'
	rm -f $(VENV)/.installed-* && touch $(STAMP)

# GOV.UK Frontend for the web inbox, exactly as package-lock.json pins it.
ASSETS = node_modules/.installed-$(shell sha1sum package-lock.json | cut -c1-12)

$(ASSETS): package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error
	rm -f node_modules/.installed-* && touch $(ASSETS)

# Embedded default: SQLite in instance/, timers in-process, every pathway deployed.
run: $(STAMP) $(ASSETS)
	$(BIN)/pathways init-db
	$(BIN)/pathways deploy
	$(BIN)/pathways seed-demo
	$(BIN)/pathways serve --host $(HOST) --port $(PORT)

test: $(STAMP) $(ASSETS) services browser lint
	$(BIN)/python -m pytest -q $(PYTEST_ARGS)

lint:
	@if [ -n "$(BPMN_LINT)" ] && [ -d bpmn ]; then $(PYTHON) $(BPMN_LINT) bpmn; \
	else echo "bpmn_lint.py not found next to this checkout; diagrams not linted"; fi

# The integration tests use real PostgreSQL and Redis; start them if this machine has them stopped.
services:
	@pg_isready -q -h 127.0.0.1 -p 5432 || pg_ctlcluster --skip-systemctl-redirect $$(ls /etc/postgresql) main start
	@redis-cli -h 127.0.0.1 -p 6379 ping >/dev/null 2>&1 || redis-server --daemonize yes --bind 127.0.0.1 --port 6379 --save "" --appendonly no
	@for i in $$(seq 1 30); do pg_isready -q -h 127.0.0.1 -p 5432 && redis-cli -h 127.0.0.1 -p 6379 ping >/dev/null 2>&1 && exit 0; sleep 1; done; \
	echo "PostgreSQL or Redis did not start" >&2; exit 1

# The browser tests drive Debian's Chromium (never a downloaded browser).
browser:
	@test -x /usr/bin/chromium || (command -v apt-get >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -q chromium >/dev/null) \
	|| echo "Chromium could not be installed: the browser tests will be skipped"

bench: $(STAMP) services
	$(BIN)/python -m pytest -q -s tests/benchmarks -p no:cacheprovider -o addopts=""

clean:
	rm -rf $(VENV) instance node_modules
