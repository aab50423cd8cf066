# Two entry points: `make run` starts the app, `make test` runs the checks.
# Both create .venv (and install the project into it) on first use.
PY ?= python3
VENV := .venv
STAMP := $(VENV)/.installed

.PHONY: run test lint setup clean-venv install-desktop

$(STAMP): pyproject.toml
	test -x $(VENV)/bin/python || $(PY) -m venv $(VENV)
	$(VENV)/bin/python -m pip install --quiet --upgrade pip
	$(VENV)/bin/python -m pip install --quiet -e ".[dev]"
	touch $(STAMP)

setup: $(STAMP)

run: $(STAMP)
	$(VENV)/bin/python main.py $(ARGS)

test: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/python -m pytest

# Linux: a menu entry and icon for this clone's app (Exec points into .venv).
DESKTOP_DIR ?= $(HOME)/.local/share/applications
ICON_DIR ?= $(HOME)/.local/share/icons/hicolor/scalable/apps
install-desktop: $(STAMP)
	mkdir -p $(DESKTOP_DIR) $(ICON_DIR)
	cp digitgui/resources/digit-studio.svg $(ICON_DIR)/digit-studio.svg
	sed 's|^Exec=digit-studio|Exec=$(abspath $(VENV))/bin/digit-studio|' resources/digit-studio.desktop \
		> $(DESKTOP_DIR)/digit-studio.desktop

clean-venv:
	rm -rf $(VENV)
