# The two commands of the README: `make demo` and `make test`. Each does the whole set-up
# (Debian packages when missing, a .venv, the package in editable mode) and is idempotent.

PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp
TODAY  ?= 2018-07-08

.PHONY: demo test bench system-deps test-deps clean

demo: system-deps $(STAMP)
	$(BIN)/noticecast build --today $(TODAY)
	$(BIN)/noticecast publish --today $(TODAY)
	$(BIN)/noticecast board pack --area 什邡市/师古镇/马祖村 --date $(TODAY)
	$(BIN)/noticecast report compliance --month 2018-07 --today $(TODAY)
	$(BIN)/noticecast report project --today $(TODAY)
	@echo
	@echo "Outputs:   out/web/index.html (site), out/card/, out/newspaper/, out/ticker/, out/sms/, out/wechat/"
	@echo "Board:     out/board/<id>/sheet.pdf (公示栏 sheets), out/board/packs/ (a village's print pack)"
	@echo "Oversight: out/web/projects/, out/web/stats/, out/reports/compliance-2018-07.{html,xlsx,pdf}, out/reports/projects/"
	@echo "Delivered: out/channels/<channel>/ (local sinks; no credentials are configured)"
	@echo "Ledger:    .noticecast/ledger.sqlite  (.venv/bin/noticecast status)"
	@echo "Look:      .venv/bin/noticecast serve   or   .venv/bin/noticecast preview --today $(TODAY)"

test: test-deps $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/python -m pytest

bench: system-deps $(STAMP)
	$(BIN)/python -m bench run --json bench/results/latest.json

system-deps:
	@bash .ci/system-deps

test-deps:
	@bash .ci/system-deps --test
	@bash .ci/test-peers

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test]'
	touch $(STAMP)

clean:
	rm -rf out .pytest_cache .ruff_cache
