#!/usr/bin/env bash
# Starts the real Kubernetes API server for keptn-deploy's integration tests, using the shared
# ../shared/tools/kube-apiserver-up.sh (run from there, never copied): kube-apiserver v1.20 + etcd
# + kube-controller-manager on loopback, built once from Debian's source package (cached in
# /var/cache), plus its fake-kubelet loop so pods become Ready and rollouts complete.
#
#   scripts/kube-apiserver.sh start DIR   # prints `export KUBECONFIG=...` and the fake-kubelet pid line
#   scripts/kube-apiserver.sh stop DIR
#
# Env: SHARED (the shared folder), K8S_API_PORT / K8S_ETCD_PORT / K8S_WITH_KCM (passed through),
#      KUBE_FAKE_KUBELET=0 starts no fake kubelet (scripts/kube-node.sh runs a real one).
set -euo pipefail
CMD="${1:?start|stop}"
DIR="${2:?DIR}"
SHARED="${SHARED:?SHARED must point at the shared folder}"
TOOLS="$SHARED/tools"

case "$CMD" in
  start)
    command -v kubectl >/dev/null || {
      echo "kube-apiserver: kubectl (>= 1.24, for pods/status patches) is needed by the fake kubelet" >&2
      exit 1
    }
    mkdir -p "$DIR"
    # build is a no-op when the binaries are cached; the first one takes ~6-8 minutes
    (cd "$TOOLS" && ./kube-apiserver-up.sh build) >&2
    (cd "$TOOLS" && ./kube-apiserver-up.sh up "$DIR") >&2
    if [ "${KUBE_FAKE_KUBELET:-1}" != 0 ]; then
      (cd "$TOOLS" && exec ./kube-apiserver-up.sh fake-kubelet "$DIR") >"$DIR/fake-kubelet.log" 2>&1 &
      echo "$!" >"$DIR/fake-kubelet.pid"
    fi
    echo "export KUBECONFIG=$DIR/kubeconfig"
    ;;
  stop)
    if [ -f "$DIR/fake-kubelet.pid" ]; then
      kill "$(cat "$DIR/fake-kubelet.pid")" 2>/dev/null || true
      rm -f "$DIR/fake-kubelet.pid"
    fi
    (cd "$TOOLS" && ./kube-apiserver-up.sh down "$DIR") >&2
    ;;
  *) echo "usage: $0 start|stop DIR" >&2; exit 2 ;;
esac
