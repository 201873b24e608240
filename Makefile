# The front door: `make run` and `make test` work on a fresh Debian 12 machine.
BUILD_DIR ?= build
DATA_DIR ?= ./data
LISTEN ?= 127.0.0.1:8080
CAPILLARY := $(BUILD_DIR)/capillary

.PHONY: all bootstrap build run test test-sanitize test-all bench clean

all: build

bootstrap:
	@scripts/bootstrap.sh

build: bootstrap
	@cmake -S . -B $(BUILD_DIR) -G Ninja -DCMAKE_BUILD_TYPE=Release >/dev/null
	@ninja -C $(BUILD_DIR)

run: build
	@echo "Capillary API on http://$(LISTEN) (data in $(DATA_DIR)); try: curl http://$(LISTEN)/v1/status"
	@echo "API reference: docs/api.md, docs/payments-api.md, docs/products-api.md. Stop with Ctrl-C."
	$(CAPILLARY) serve --listen $(LISTEN) --data $(DATA_DIR) --adjustable-clock

# Every test but the long crash run, then the unit tests again under the address and
# undefined-behaviour sanitizers; CI runs exactly this.
test: build
	@cd $(BUILD_DIR) && ctest --output-on-failure -j2
	@$(MAKE) --no-print-directory test-sanitize

SANITIZE_DIR ?= build-sanitize
SANITIZE_TESTS := ledger_test ledger_property_test journal_test engine_test json_codec_test payments_test channels_flow_test channels_router_test banksim_bank_test bank_sim_test credit_binning_test credit_logistic_test credit_discrimination_test credit_model_file_test credit_monotonic_test credit_uses_test auth_hmac_test auth_test notify_backoff_test notify_outbox_test notify_test risk_velocity_test risk_features_test risk_rules_test risk_engine_test risk_decision_test risk_generator_test load_test credit_api_test fund_calendar_test fund_income_test funds_test funds_crash_test wealth_admission_test wealth_interest_test wealth_market_test fund_register_test product_json_test table_test request_parser_test card_call_log_test card_retries_test chunked_test growing_index_test heap_warmer_test
test-sanitize: bootstrap
	@cmake -S . -B $(SANITIZE_DIR) -G Ninja -DCMAKE_BUILD_TYPE=Debug -DCAPILLARY_SANITIZE=ON >/dev/null
	@ninja -C $(SANITIZE_DIR) $(SANITIZE_TESTS)
	@cd $(SANITIZE_DIR) && ctest --output-on-failure -j2 -R '^($(subst $() ,|,$(SANITIZE_TESTS)))$$'

# Also the 25-kill crash run.
test-all: test
	python3 tests/crash_test.py $(CAPILLARY) --kills 25

bench: build
	@mkdir -p bench/out
	bench/ledger.sh
	bench/peers.sh
	bench/fund_peers.sh

clean:
	rm -rf $(BUILD_DIR) $(SANITIZE_DIR)
