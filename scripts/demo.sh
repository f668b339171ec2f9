#!/usr/bin/env bash
# `make demo`: the whole product on one machine. Starts a real control plane and
# the CodeArtifact emulator, runs the operator (strict tenancy), applies the platform's
# deploy/platform/acme.yaml and the team's deploy/examples/basic.yaml,
# waits for Ready, shows the generated pip.conf (token masked), uploads a package
# with twine and installs it with pip through the Secret. `make demo-down` cleans up.
#
# Where a node can run (root, cgroup v1, tests/control-plane/node.sh), the
# control plane gets one: the operator is `helm install`ed and runs as a Pod of
# its image, and the last step is a Pod that pip-installs through the mounted
# Secret, shown with `kubectl logs`. Elsewhere (DEMO_NODE=0 forces it) the
# operator runs as a host process and pip runs on the host.
set -euo pipefail
cd "$(dirname "$0")/.."

DEMO_DIR=${DEMO_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/codeartifact-operator/demo}
CP_DIR=${CONTROL_PLANE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/codeartifact-operator/control-plane}
VENV=${VENV:-$PWD/target/pytools}
NS=demo
STEP="starting"
TOTAL=9
n=0
# The real path (a node) when this machine can run one.
if [[ -z ${DEMO_NODE:-} ]]; then
  if [[ $(id -u) == 0 && -d /sys/fs/cgroup/memory ]]; then DEMO_NODE=1; else DEMO_NODE=0; fi
fi

step() { n=$((n + 1)); STEP=$1; printf '\n\033[1m==> [%d/%d] %s\033[0m\n' "$n" "$TOTAL" "$1"; }
fail() {
  printf '\n\033[31mdemo failed at step "%s"\033[0m\n' "$STEP" >&2
  [[ -f "$DEMO_DIR/operator.log" ]] && { echo "--- operator log (last 20 lines):" >&2; tail -20 "$DEMO_DIR/operator.log" >&2; }
  [[ -f "$DEMO_DIR/emulator.log" ]] && { echo "--- emulator log (last 10 lines):" >&2; tail -10 "$DEMO_DIR/emulator.log" >&2; }
  echo "Clean up with: make demo-down" >&2
}
trap fail ERR
mkdir -p "$DEMO_DIR"

step "building the operator and the emulator"
cargo build --locked --quiet -p codeartifact-operator -p codeartifact-emulator --bins
BIN=$PWD/target/debug

step "building or reusing the control-plane binaries and the Python clients"
TESTENV_BIN_DIR=$(tests/control-plane/build.sh)
make --no-print-directory -s pytools
export PATH="$TESTENV_BIN_DIR:$PATH"

if [[ $DEMO_NODE == 1 ]]; then
  step "starting the control plane and a node (etcd, kube-apiserver, kube-controller-manager, kube-scheduler, containerd, kubelet, kube-proxy)"
  eval "$(tests/control-plane/up.sh --dir "$CP_DIR" --bin-dir "$TESTENV_BIN_DIR" --node)"
  kubectl get nodes -o wide | sed 's/^/    /'
else
  step "starting the control plane (etcd, kube-apiserver, kube-controller-manager)"
  eval "$(tests/control-plane/up.sh --dir "$CP_DIR" --bin-dir "$TESTENV_BIN_DIR")"
fi
kubectl version | sed 's/^/    /'

step "starting the CodeArtifact emulator with a local stand-in for public PyPI"
"$VENV/bin/python" tests/python/make_dist.py requests-lite 2.0.0 "$DEMO_DIR/public-pypi" >/dev/null
[[ -f "$DEMO_DIR/emulator.pid" ]] && kill "$(cat "$DEMO_DIR/emulator.pid")" 2>/dev/null || true
"$BIN/codeartifact-emulator" --listen 127.0.0.1:0 --credentials AKIDDEMO:demo-secret:111122223333 \
  --public-pypi-dir "$DEMO_DIR/public-pypi" > "$DEMO_DIR/emulator.log" 2>&1 &
echo $! > "$DEMO_DIR/emulator.pid"
for _ in $(seq 50); do grep -q listening "$DEMO_DIR/emulator.log" && break; sleep 0.1; done
EMULATOR_URL=$(sed -n 's/.*listening on \(http[^ ]*\).*/\1/p' "$DEMO_DIR/emulator.log")
[[ -n "$EMULATOR_URL" ]] || { echo "the emulator did not start"; false; }
echo "    $EMULATOR_URL"

if [[ $DEMO_NODE == 1 ]]; then
  step "helm install of the operator: its image built locally, running as a Pod on the node"
  "$BIN/codeartifact-operator" crd >/dev/null  # fail early on a broken build
  helm uninstall codeartifact-operator -n codeartifact-operator --wait >/dev/null 2>&1 || true
  AWS_ACCESS_KEY_ID=AKIDDEMO AWS_SECRET_ACCESS_KEY=demo-secret tests/control-plane/install-operator.sh \
    "$CP_DIR" codeartifact-operator codeartifact-operator "$BIN/codeartifact-operator" "$EMULATOR_URL" \
    --set clusterName=demo --set aws.region=us-west-2 >/dev/null
  touch "$DEMO_DIR/helm-release"
  kubectl get pods -n codeartifact-operator -o wide | sed 's/^/    /'
else
step "installing the CRD and starting the operator"
kubectl apply --server-side -f crds/ >/dev/null
kubectl wait --for=condition=Established crd/pypirepositories.codeartifact-operator.dev \
  crd/codeartifactdomains.codeartifact-operator.dev --timeout=60s >/dev/null
[[ -f "$DEMO_DIR/operator.pid" ]] && kill "$(cat "$DEMO_DIR/operator.pid")" 2>/dev/null || true
AWS_ACCESS_KEY_ID=AKIDDEMO AWS_SECRET_ACCESS_KEY=demo-secret AWS_REGION=us-west-2 AWS_EC2_METADATA_DISABLED=true \
  "$BIN/codeartifact-operator" run --codeartifact-endpoint "$EMULATOR_URL" --listen 127.0.0.1:0 \
  --cluster-name demo > "$DEMO_DIR/operator.log" 2>&1 &
echo $! > "$DEMO_DIR/operator.pid"
echo "    operator pid $(cat "$DEMO_DIR/operator.pid"), log $DEMO_DIR/operator.log"
fi

step "declaring domain acme (deploy/platform/acme.yaml), admitting namespace $NS, applying deploy/examples/basic.yaml there and waiting for Ready"
kubectl apply -f deploy/platform/acme.yaml
kubectl wait --for=condition=Ready cadomain/acme --timeout=120s
kubectl create namespace "$NS" --dry-run=client -o yaml | kubectl apply -f - >/dev/null
kubectl label namespace "$NS" pypi.acme.example/access=manage --overwrite >/dev/null
kubectl get cadomain
kubectl apply -n "$NS" -f deploy/examples/basic.yaml
kubectl wait -n "$NS" --for=condition=Ready pypirepo/python-packages --timeout=120s
kubectl get -n "$NS" pypirepo

step "the generated Secret (token masked)"
SECRET_DIR="$DEMO_DIR/secret"
rm -rf "$SECRET_DIR" && mkdir -p "$SECRET_DIR"
kubectl get secret -n "$NS" python-packages-pypi -o json | "$VENV/bin/python" -c '
import base64, json, os, sys
d = sys.argv[1]
for k, v in json.load(sys.stdin)["data"].items():
    open(os.path.join(d, k), "wb").write(base64.b64decode(v))
' "$SECRET_DIR"
echo "    keys: $(ls -A "$SECRET_DIR" | tr '\n' ' ')"
echo "    pip.conf:"
sed -E 's/(aws:)[^@]+@/\1****@/' "$SECRET_DIR/pip.conf" | sed 's/^/      /'

step "uploading a package with twine through the Secret's .pypirc"
"$VENV/bin/python" tests/python/make_dist.py demo-hello 1.0.0 "$DEMO_DIR/dist" --sdist >/dev/null
"$VENV/bin/twine" upload --config-file "$SECRET_DIR/.pypirc" --repository codeartifact \
  --non-interactive --disable-progress-bar "$DEMO_DIR"/dist/* 2>&1 | sed 's/^/    /' 

if [[ $DEMO_NODE == 1 ]]; then
  step "a Pod pip-installs through the Secret mounted as a directory (PIP_CONFIG_FILE)"
  read -r WORKLOAD_TAR WORKLOAD < <(tests/control-plane/images/build.sh workload)
  "$(cat "$CP_DIR/node-bin-dir")/ctr" --address "$CP_DIR/node/containerd/containerd.sock" -n k8s.io \
    images import "$WORKLOAD_TAR" >/dev/null 2>&1
  kubectl delete pod -n "$NS" pip-demo --ignore-not-found --wait >/dev/null
  kubectl apply -n "$NS" -f - <<EOF
apiVersion: v1
kind: Pod
metadata: {name: pip-demo}
spec:
  hostNetwork: true   # the emulator listens on the host's 127.0.0.1
  restartPolicy: Never
  containers:
    - name: pip
      image: $WORKLOAD
      imagePullPolicy: Never
      command: ["sh", "-c", "pip install --no-input --target /tmp/site demo-hello requests-lite && PYTHONPATH=/tmp/site python3 -c 'import demo_hello, requests_lite; print(\"imported demo_hello\", demo_hello.VERSION, \"(uploaded) and requests_lite\", requests_lite.VERSION, \"(public, via the external connection)\")'"]
      env:
        - {name: PIP_CONFIG_FILE, value: /etc/codeartifact/pip.conf}
        - {name: PIP_DISABLE_PIP_VERSION_CHECK, value: "1"}
        - {name: HOME, value: /tmp}
      volumeMounts:
        - {name: codeartifact, mountPath: /etc/codeartifact, readOnly: true}
  volumes:
    - name: codeartifact
      secret: {secretName: python-packages-pypi}
EOF
  kubectl wait -n "$NS" --for=jsonpath='{.status.phase}'=Succeeded pod/pip-demo --timeout=180s >/dev/null ||
    { kubectl logs -n "$NS" pip-demo >&2; false; }
  echo "    \$ kubectl logs -n $NS pip-demo"
  kubectl logs -n "$NS" pip-demo | sed 's/^/    /'
else
step "installing with pip through the Secret's pip.conf"
rm -rf "$DEMO_DIR/site"
PIP_CONFIG_FILE="$SECRET_DIR/pip.conf" PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1 \
  "$VENV/bin/pip" install --quiet --target "$DEMO_DIR/site" demo-hello requests-lite
PYTHONPATH="$DEMO_DIR/site" "$VENV/bin/python" -c 'import demo_hello, requests_lite; print("    imported demo_hello", demo_hello.VERSION, "(uploaded) and requests_lite", requests_lite.VERSION, "(public, via the external connection)")'
fi

trap - ERR
cat <<DONE

Done. The control plane keeps running; to use it:
  export KUBECONFIG=$CP_DIR/kubeconfig PATH=$TESTENV_BIN_DIR:\$PATH
  kubectl get pypirepo -A
Clean up:
  make demo-down           # stops the operator (or uninstalls its release) and the emulator
  make control-plane-down  # stops etcd, kube-apiserver, kube-controller-manager (and the node)
DONE
