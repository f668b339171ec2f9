# codeartifact-operator: `make demo` runs the whole thing locally, `make test` runs every test.
SHELL := bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help

CP_DIR := tests/control-plane
# Python clients (pip, twine, boto3) used by the tests, in a venv inside target/ (never committed).
VENV ?= $(CURDIR)/target/pytools
export CODEARTIFACT_TEST_VENV := $(VENV)

.PHONY: help
help: ## list the targets
	@grep -hE '^[a-zA-Z_-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-20s %s\n", $$1, $$2}'

.PHONY: testenv
testenv: ## build (or reuse from the cache) etcd, kube-apiserver, kube-controller-manager, kubectl, helm
	@$(CP_DIR)/build.sh >/dev/null

.PHONY: pytools
pytools: $(VENV)/.stamp ## install pip, twine and boto3 into target/pytools
$(VENV)/.stamp: tests/python/requirements.txt
	python3 -m venv $(VENV)
	$(VENV)/bin/pip install --quiet --disable-pip-version-check -r $<
	touch $@

# A control plane for the shell, in a fixed folder so a second `make control-plane` finds it.
CONTROL_PLANE_DIR ?= $(or $(XDG_CACHE_HOME),$(HOME)/.cache)/codeartifact-operator/control-plane

.PHONY: control-plane
control-plane: ## start etcd, kube-apiserver, kube-controller-manager in the background; use: eval "$(make -s control-plane)"
	@$(CP_DIR)/up.sh --dir "$(CONTROL_PLANE_DIR)"

.PHONY: control-plane-down
control-plane-down: ## stop the control plane started by `make control-plane`
	@$(CP_DIR)/down.sh "$(CONTROL_PLANE_DIR)"
