# refloop: `make demo` to see it, `make test` to check it. Both install first.
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp
DAGSTER_HOME := $(CURDIR)/.dagster

.PHONY: install demo test browser java dagster dashboard lint lock screenshots clean

install: $(STAMP)

# The lock pins every package; the project itself installs editable on top.
$(STAMP): pyproject.toml requirements.lock
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -r requirements.lock
	$(BIN)/python -m pip install --quiet --no-deps -e .
	@touch $(STAMP)

$(DAGSTER_HOME)/dagster.yaml: dagster.yaml
	@mkdir -p $(DAGSTER_HOME)
	cp dagster.yaml $@

demo: install $(DAGSTER_HOME)/dagster.yaml
	DAGSTER_HOME=$(DAGSTER_HOME) $(BIN)/refloop demo --dagster-port 3000

# One pytest worker per CPU and one more: a worker often waits on a process
# it started (Spark's JVM, a dbt build, a browser), and a test file's tests
# share a worker. `make test WORKERS=1` runs them one file at a time.
WORKERS ?= $(shell echo $$(( $$(getconf _NPROCESSORS_ONLN) + 1 )))

test: install browser java
	$(BIN)/python -m pytest -n $(WORKERS) --dist loadfile

# The browser test drives Debian's chromium (Playwright's own download is not used).
browser:
	@command -v chromium >/dev/null 2>&1 || { \
	  if [ "$$(id -u)" = 0 ]; then apt-get update -qq && apt-get install -y -qq chromium; \
	  else echo "The browser test needs Debian's chromium: sudo apt-get install chromium" >&2; exit 1; fi; }

# The Spark test (and `refloop run --target spark`) needs a Java runtime (17 or newer).
java:
	@command -v java >/dev/null 2>&1 || { \
	  if [ "$$(id -u)" = 0 ]; then apt-get update -qq && apt-get install -y -qq openjdk-17-jre-headless; \
	  else echo "The Spark test needs Java 17: sudo apt-get install openjdk-17-jre-headless" >&2; exit 1; fi; }

dagster: install $(DAGSTER_HOME)/dagster.yaml
	DAGSTER_HOME=$(DAGSTER_HOME) $(BIN)/dagster dev -m pipelines.definitions --host 127.0.0.1 --port 3000

dashboard: install
	$(BIN)/refloop dashboard

lint: install
	$(BIN)/ruff check pipelines dashboards tests

# Re-resolve the lock from pyproject.toml (run after changing dependencies).
lock:
	rm -rf .venv-lock && $(PYTHON) -m venv .venv-lock
	.venv-lock/bin/python -m pip install --quiet --upgrade pip
	.venv-lock/bin/python -m pip install --quiet -e '.[test]'
	.venv-lock/bin/python -m pip freeze --exclude-editable | grep -v '^refloop' > requirements.lock
	rm -rf .venv-lock

# Refresh the README's screenshots from the browser test's run.
screenshots: test
	mkdir -p docs/screenshots && cp tests/artifacts/screenshots/*.png docs/screenshots/

clean:
	rm -rf $(VENV) .dagster dbt_project/target dbt_project/logs
