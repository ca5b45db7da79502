# Two commands for a newcomer: `make run` (set up + chat UI) and `make test` (set up + whole suite).
SHELL := /bin/bash
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
Q := scripts/quiet
export HF_HUB_OFFLINE := 1
export GRADIO_ANALYTICS_ENABLED := False
export ANONYMIZED_TELEMETRY := False

.PHONY: run test install index lint browser eval bench screenshots clean

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(Q) python3 -m venv $(VENV)
	@$(Q) $(BIN)/pip install --upgrade pip
	@# torch first, pinned: the CPU build that lies on this machine's disk (a bare torch pulls CUDA).
	@$(Q) $(BIN)/pip install torch==2.13.0
	@echo "Installing the project (the first time compiles llama-cpp-python, about 8 minutes) ..."
	@$(Q) $(BIN)/pip install -e '.[local,dev]'
	@touch $(STAMP)

install: $(STAMP)

index: install
	@$(BIN)/assistant index > /dev/null

run: index
	@$(BIN)/python app.py

browser:
	@$(Q) scripts/install-chromium

test: install browser
	@$(BIN)/python -m pytest -q

lint: install
	@$(BIN)/ruff check assistant tests benchmarks app.py
	@$(BIN)/ruff format --check assistant tests benchmarks app.py
	@$(BIN)/mypy assistant

eval: index
	@$(BIN)/assistant eval eval/dev.jsonl

bench: index
	@$(BIN)/python benchmarks/run.py

# docs/ui.md's screenshots, taken by the browser tests (desktop with the real local model, the phone with the fake);
# each pair is the test's picture in tests/artifacts/ and its name in docs/screenshots/.
SHOTS := local-1-streaming:ui-desktop-streaming local-3-answer-and-source:ui-desktop-answer-and-source \
	phone-0-first-visit:ui-phone-first-visit phone-2-answer:ui-phone-answer

screenshots: install browser
	@$(BIN)/python -m pytest -q tests/test_browser.py -k "real_local_model or phone_shows_the_question_box"
	@for shot in $(SHOTS); do cp tests/artifacts/$${shot%%:*}.png docs/screenshots/$${shot##*:}.png; done

clean:
	rm -rf $(VENV) index/store index/store-* index/.build-* index/.old-*
