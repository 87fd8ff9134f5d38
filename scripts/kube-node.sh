#!/usr/bin/env bash
# A real one-machine Kubernetes node for the tests that need running pods: the kube-apiserver of
# scripts/kube-apiserver.sh (the shared ../shared/tools/kube-apiserver-up.sh, run from there,
# WITHOUT its fake kubelet) plus containerd, runc, a CNI bridge, kubelet, kube-scheduler,
# kube-proxy (iptables mode) and a kube-controller-manager with the controllers a node needs
# (deployment, replicaset, endpoints, endpoint slices, node lifecycle, pod GC, ...).
#
#   scripts/kube-node.sh start DIR    # prints `export KUBECONFIG=DIR/kubeconfig` once the node is Ready
#   scripts/kube-node.sh images DIR   # builds OCI images from this project's own binaries, imports
#                                     # them into the node's containerd (nothing is pulled) and prints,
#                                     # on one line, the full_tour options that run the tour on the node
#   scripts/kube-node.sh stop DIR     # stops everything by PID and removes what start added
#   scripts/kube-node.sh build        # only builds (and caches) kubelet, kube-scheduler, kube-proxy
#
# kubelet, kube-scheduler and kube-proxy are built once from the same Debian bookworm source
# package and recipe as the shared tool's kube-apiserver (GOPATH mode, Go 1.19, v1.20.2; about 4
# minutes on 2 cores) and cached beside its binaries in K8S_BIN_DIR.
#
# What start adds to the machine, and stop removes again:
# - processes (by PID, files DIR/*.pid): etcd, kube-apiserver, kube-controller-manager, containerd
#   (own config, root, state and socket under DIR; not systemd; restrict_oom_score_adj = true as
#   the machine lacks CAP_SYS_RESOURCE), kubelet, kube-scheduler, kube-proxy;
# - the bridge kn0 (10.88.0.1/24) that every pod is attached to (CNI bridge + host-local, state
#   under DIR, no gateway for the pods and no masquerading: pods reach the bridge only), and a
#   route of the Service range 10.96.0.0/24 to that bridge, so a ClusterIP never routes to the
#   machine's default gateway, with or without kube-proxy's rules;
# - kube-proxy's and kubelet's iptables chains (KUBE-*), a KNODE-ISOLATE chain that drops what
#   pods send anywhere but the bridge;
# - the kernel settings kubelet and kube-proxy change (found values saved in DIR/sysctl.found and
#   written back by stop), the kubepods cgroups, the network namespaces and mounts of the pods.
#
# Env: SHARED (the shared folder, as for scripts/kube-apiserver.sh), K8S_BIN_DIR (binary cache),
#      KNODE_PORT_BASE (default 26400: API = base+43, etcd = base+79..81, kubelet = base+50, ...),
#      KNODE_READY_TIMEOUT (seconds, default 180).
set -euo pipefail
CMD="${1:?start|stop|images|build}"
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
BIN="${K8S_BIN_DIR:-/var/cache/keptn-k8s-v1.20.2}"
BASE="${KNODE_PORT_BASE:-26400}"
API_PORT=$((BASE + 43))
ETCD_PORT=$((BASE + 79))
KCM_PORT=$((BASE + 57))
SCHED_PORT=$((BASE + 59))
KUBELET_PORT=$((BASE + 50))
KUBELET_HEALTHZ=$((BASE + 48))
PROXY_HEALTHZ=$((BASE + 56))
PROXY_METRICS=$((BASE + 49))
BRIDGE=kn0
NET=10.88.0
GATEWAY="$NET.1"
POD_CIDR="$NET.0/24"
# the Service range of the shared tool's kube-apiserver (--service-cluster-ip-range)
SVC_CIDR=10.96.0.0/24
NODE_NAME="$(hostname)"
PAUSE_IMAGE=keptn-rs.local/pause:1.0
# kernel settings kubelet (setupKernelTunables) and kube-proxy (route_localnet) may change
SYSCTLS=(vm.overcommit_memory vm.panic_on_oom kernel.panic kernel.panic_on_oops
  kernel.keys.root_maxkeys kernel.keys.root_maxbytes net.ipv4.conf.all.route_localnet
  net.ipv4.ip_forward net.bridge.bridge-nf-call-iptables)

log() { echo "[kube-node] $*" >&2; }
die() { echo "[kube-node] error: $*" >&2; exit 1; }
running() { [ -f "$1" ] && kill -0 "$(cat "$1")" 2>/dev/null; }

install_deps() {
  local missing=()
  command -v containerd >/dev/null || missing+=(containerd)
  command -v runc >/dev/null || missing+=(runc)
  [ -x /usr/lib/cni/bridge ] || missing+=(containernetworking-plugins)
  command -v iptables >/dev/null || missing+=(iptables)
  command -v conntrack >/dev/null || missing+=(conntrack)
  command -v ip >/dev/null || missing+=(iproute2)
  command -v gcc >/dev/null || missing+=(gcc)
  [ -f /usr/lib/x86_64-linux-gnu/libc.a ] || missing+=(libc6-dev)
  if [ "${#missing[@]}" -gt 0 ]; then
    log "installing ${missing[*]}"
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null \
      || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null; }
  fi
}

# kubelet, kube-scheduler and kube-proxy from Debian's kubernetes source, the shared tool's recipe
build_node() {
  if [ -x "$BIN/kubelet" ] && [ -x "$BIN/kube-scheduler" ] && [ -x "$BIN/kube-proxy" ]; then
    return 0
  fi
  local tools="${SHARED:?SHARED must point at the shared folder}/tools"
  # the shared tool enables deb-src and installs Go; K8S_WITH_KCM=1: we run our own controller-manager
  (cd "$tools" && K8S_WITH_KCM=1 ./kube-apiserver-up.sh build) >&2
  local W t0 c
  W="$(mktemp -d /tmp/k8s-node-build.XXXXXX)"
  (cd "$W" && apt-get source --download-only kubernetes >/dev/null 2>&1) || die "apt-get source kubernetes failed"
  tar xzf "$W"/kubernetes_*.orig.tar.gz -C "$W"
  mkdir -p "$W/gopath/src/k8s.io"
  mv "$W"/kubernetes-1.20.* "$W/gopath/src/k8s.io/kubernetes"
  local V=k8s.io/kubernetes/vendor/k8s.io
  local LDF="-s -w -X $V/component-base/version.gitVersion=v1.20.2 -X $V/component-base/version.gitMajor=1 -X $V/component-base/version.gitMinor=20 -X $V/component-base/version.gitTreeState=clean -X $V/client-go/pkg/version.gitVersion=v1.20.2"
  mkdir -p "$BIN"
  for c in kubelet kube-scheduler kube-proxy; do
    [ -x "$BIN/$c" ] && continue
    log "go build $c"
    t0=$(date +%s)
    (cd "$W/gopath/src/k8s.io/kubernetes" \
      && GOPATH="$W/gopath" GO111MODULE=off GOFLAGS= CGO_ENABLED=0 GOCACHE="$W/gocache" \
        go build -p 2 -ldflags "$LDF" -o "$BIN/$c.tmp" "./cmd/$c") && mv "$BIN/$c.tmp" "$BIN/$c"
    log "$c built in $(($(date +%s) - t0)) s"
  done
  rm -rf "$W"
}

kctl() { kubectl --kubeconfig "$DIR/kubeconfig" "$@"; }
ctr_() { ctr --address "$DIR/containerd/containerd.sock" -n k8s.io "$@"; }

sha() { sha256sum "$1" | cut -d' ' -f1; }
size() { stat -c %s "$1"; }

# oci_archive OUT LAYER_TAR then lines "REF|ENTRYPOINT_JSON" on stdin: one OCI image layout
# (written here, no tool) holding one image per line, all sharing the one layer.
oci_archive() {
  local out="$1" layer="$2" lay ldig diffid manifests="" ref cmd cfg cdig m mdig
  lay="$(mktemp -d)"
  mkdir -p "$lay/blobs/sha256"
  diffid="$(sha "$layer")"
  ldig="$diffid" # uncompressed layer: digest = diff id
  cp "$layer" "$lay/blobs/sha256/$ldig"
  while IFS='|' read -r ref cmd; do
    [ -n "$ref" ] || continue
    cfg="$lay/cfg.json"
    printf '{"architecture":"amd64","os":"linux","config":{"Entrypoint":%s,"Env":["PATH=/"],"WorkingDir":"/","User":"65534:65534"},"rootfs":{"type":"layers","diff_ids":["sha256:%s"]},"history":[{"created_by":"keptn-rs scripts/kube-node.sh images"}]}' \
      "$cmd" "$diffid" >"$cfg"
    cdig="$(sha "$cfg")"
    cp "$cfg" "$lay/blobs/sha256/$cdig"
    m="$lay/m.json"
    printf '{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"sha256:%s","size":%s},"layers":[{"mediaType":"application/vnd.oci.image.layer.v1.tar","digest":"sha256:%s","size":%s}]}' \
      "$cdig" "$(size "$cfg")" "$ldig" "$(size "$layer")" >"$m"
    mdig="$(sha "$m")"
    cp "$m" "$lay/blobs/sha256/$mdig"
    manifests="$manifests${manifests:+,}{\"mediaType\":\"application/vnd.oci.image.manifest.v1+json\",\"digest\":\"sha256:$mdig\",\"size\":$(size "$m"),\"annotations\":{\"io.containerd.image.name\":\"$ref\",\"org.opencontainers.image.ref.name\":\"${ref##*:}\"}}"
    rm -f "$cfg" "$m"
  done
  printf '{"schemaVersion":2,"manifests":[%s]}' "$manifests" >"$lay/index.json"
  printf '{"imageLayoutVersion":"1.0.0"}' >"$lay/oci-layout"
  tar --sort=name --owner=0 --group=0 --numeric-owner --mtime=@0 -C "$lay" -cf "$out" .
  rm -rf "$lay"
}

# layer_of ROOTFS OUT: a reproducible tar of ROOTFS
layer_of() {
  tar --sort=name --owner=0 --group=0 --numeric-owner --mtime=@0 -C "$1" -cf "$2" .
}

# copy_program SRC ROOTFS NAME: the program and the shared libraries it loads
copy_program() {
  local src="$1" rootfs="$2" lib
  install -D -m 0755 "$src" "$rootfs/$3"
  for lib in $(ldd "$src" 2>/dev/null | grep -o '/[^ ]*' | sort -u); do
    [ -f "$lib" ] && cp -L --parents "$lib" "$rootfs/"
  done
}

# The pod sandbox image: a tiny static program of ours that waits for a signal and reaps children
pause_image() {
  ctr_ images ls -q 2>/dev/null | grep -qx "$PAUSE_IMAGE" && return 0
  local w; w="$(mktemp -d)"
  cat >"$w/pause.c" <<'C'
/* keptn-rs pod sandbox: hold the pod's namespaces until told to stop; reap orphans. */
#include <signal.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>
static void stop(int sig) { (void)sig; _exit(0); }
static void reap(int sig) { (void)sig; while (waitpid(-1, NULL, WNOHANG) > 0) {} }
int main(void) {
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = stop;
  sigaction(SIGINT, &sa, NULL);
  sigaction(SIGTERM, &sa, NULL);
  sa.sa_handler = reap;
  sa.sa_flags = SA_NOCLDSTOP;
  sigaction(SIGCHLD, &sa, NULL);
  for (;;) pause();
}
C
  mkdir -p "$w/rootfs"
  gcc -static -O2 -o "$w/rootfs/pause" "$w/pause.c"
  layer_of "$w/rootfs" "$w/layer.tar"
  echo "$PAUSE_IMAGE|[\"/pause\"]" | oci_archive "$w/pause.tar" "$w/layer.tar"
  ctr_ images import "$w/pause.tar" >/dev/null
  rm -rf "$w"
}

save_sysctls() {
  local k v
  : >"$DIR/sysctl.found"
  for k in "${SYSCTLS[@]}"; do
    v="$(sysctl -n "$k" 2>/dev/null)" || continue
    echo "$k=$v" >>"$DIR/sysctl.found"
  done
}

start() {
  mkdir -p "$DIR"
  DIR="$(cd "$DIR" && pwd)"
  install_deps
  build_node
  if running "$DIR/kubelet.pid"; then
    log "already running"
    echo "export KUBECONFIG=$DIR/kubeconfig"
    return 0
  fi
  if ip link show "$BRIDGE" >/dev/null 2>&1; then
    die "a network interface $BRIDGE exists already (another node running? scripts/kube-node.sh stop DIR)"
  fi
  if [ -d /sys/fs/cgroup/cpu/kubepods ] || [ -d /sys/fs/cgroup/unified/kubepods ]; then
    die "kubepods cgroups exist already: another kubelet runs on this machine"
  fi
  local t0; t0=$(date +%s%N)
  [ -f "$DIR/sysctl.found" ] || save_sysctls
  ls /run/netns 2>/dev/null >"$DIR/netns.found" || true
  [ -d /var/lib/cni ] && touch "$DIR/varlibcni.found"
  [ -d /run/containerd ] && touch "$DIR/runcontainerd.found"

  # 1. the API server of scripts/kube-apiserver.sh, no fake kubelet, no controller-manager
  #    (ours below runs all the controllers a node needs, on its own port)
  K8S_API_PORT="$API_PORT" K8S_ETCD_PORT="$ETCD_PORT" K8S_WITH_KCM=0 KUBE_FAKE_KUBELET=0 \
    "$ROOT/scripts/kube-apiserver.sh" start "$DIR" >/dev/null
  if ! running "$DIR/node-kcm.pid"; then
    nohup "$BIN/kube-controller-manager" --kubeconfig="$DIR/kubeconfig" \
      --authentication-kubeconfig="$DIR/kubeconfig" --authorization-kubeconfig="$DIR/kubeconfig" \
      --bind-address=127.0.0.1 --secure-port="$KCM_PORT" --port=0 --leader-elect=false \
      --service-account-private-key-file="$DIR/pki/sa.key" --root-ca-file="$DIR/pki/apiserver.crt" \
      --use-service-account-credentials=false \
      --controllers=deployment,replicaset,namespace,garbagecollector,serviceaccount,serviceaccount-token,endpoint,endpointslice,nodelifecycle,podgc \
      --node-monitor-grace-period=40s --pod-eviction-timeout=5m \
      >"$DIR/node-kcm.log" 2>&1 &
    echo $! >"$DIR/node-kcm.pid"
  fi

  # 2. the pods' bridge and the Service range routed to it (never to the default gateway)
  ip link add "$BRIDGE" type bridge
  ip addr add "$GATEWAY/24" dev "$BRIDGE"
  ip link set "$BRIDGE" up
  ip route add "$SVC_CIDR" dev "$BRIDGE" src "$GATEWAY"
  # pods may talk to the bridge (this host) and to each other, never beyond
  iptables -N KNODE-ISOLATE
  iptables -A KNODE-ISOLATE -i "$BRIDGE" -o "$BRIDGE" -j RETURN
  iptables -A KNODE-ISOLATE -i "$BRIDGE" -j DROP
  iptables -I FORWARD 1 -j KNODE-ISOLATE
  mkdir -p "$DIR/cni/net.d" "$DIR/cni/ipam"
  cat >"$DIR/cni/net.d/10-keptn-node.conflist" <<EOF
{"cniVersion": "0.4.0", "name": "keptn-node", "plugins": [
  {"type": "bridge", "bridge": "$BRIDGE", "isGateway": false, "ipMasq": false, "hairpinMode": false,
   "ipam": {"type": "host-local", "dataDir": "$DIR/cni/ipam",
            "ranges": [[{"subnet": "$POD_CIDR", "rangeStart": "$NET.10", "rangeEnd": "$NET.250"}]]}}
]}
EOF

  # 3. containerd, everything under DIR
  mkdir -p "$DIR/containerd"
  cat >"$DIR/containerd/config.toml" <<EOF
version = 2
root = "$DIR/containerd/root"
state = "$DIR/containerd/state"
disabled_plugins = ["io.containerd.internal.v1.tracing", "io.containerd.snapshotter.v1.btrfs", "io.containerd.snapshotter.v1.zfs", "io.containerd.snapshotter.v1.devmapper", "io.containerd.snapshotter.v1.aufs"]
[grpc]
  address = "$DIR/containerd/containerd.sock"
[ttrpc]
  address = "$DIR/containerd/containerd.sock.ttrpc"
[debug]
  address = ""
[metrics]
  address = ""
[plugins."io.containerd.internal.v1.opt"]
  path = "$DIR/containerd/opt"
[plugins."io.containerd.grpc.v1.cri"]
  sandbox_image = "$PAUSE_IMAGE"
  restrict_oom_score_adj = true
  disable_apparmor = true
  stream_server_address = "127.0.0.1"
  stream_server_port = "0"
  [plugins."io.containerd.grpc.v1.cri".cni]
    bin_dir = "/usr/lib/cni"
    conf_dir = "$DIR/cni/net.d"
  [plugins."io.containerd.grpc.v1.cri".containerd]
    snapshotter = "overlayfs"
    default_runtime_name = "runc"
    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
      runtime_type = "io.containerd.runc.v2"
      [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]
        SystemdCgroup = false
        Root = "$DIR/containerd/runc"
EOF
  nohup containerd --config "$DIR/containerd/config.toml" >"$DIR/containerd.log" 2>&1 &
  echo $! >"$DIR/containerd.pid"
  for _ in $(seq 1 100); do [ -S "$DIR/containerd/containerd.sock" ] && ctr_ version >/dev/null 2>&1 && break; sleep 0.1; done
  ctr_ version >/dev/null 2>&1 || { tail -20 "$DIR/containerd.log" >&2; die "containerd did not start"; }
  pause_image

  # 4. kubelet: containerd, cgroupfs, swap allowed, the real hostname, the bridge address as node IP;
  #    serving on 127.0.0.1 (the API server reaches it through the node name, which resolves here)
  mkdir -p "$DIR/kubelet"
  : >"$DIR/kubelet/resolv.conf" # pods get no name servers: nothing of theirs leaves the machine
  cat >"$DIR/kubelet/config.yaml" <<EOF
apiVersion: kubelet.config.k8s.io/v1beta1
kind: KubeletConfiguration
address: 127.0.0.1
port: $KUBELET_PORT
readOnlyPort: 0
healthzBindAddress: 127.0.0.1
healthzPort: $KUBELET_HEALTHZ
authentication:
  anonymous: {enabled: true}
  webhook: {enabled: false}
authorization: {mode: AlwaysAllow}
cgroupDriver: cgroupfs
failSwapOn: false
makeIPTablesUtilChains: false
resolvConf: $DIR/kubelet/resolv.conf
serializeImagePulls: false
imageGCHighThresholdPercent: 100
imageGCLowThresholdPercent: 99
evictionHard: {memory.available: "100Mi", nodefs.available: "2%", imagefs.available: "2%"}
syncFrequency: 10s
fileCheckFrequency: 10s
nodeStatusUpdateFrequency: 5s
EOF
  nohup "$BIN/kubelet" --kubeconfig="$DIR/kubeconfig" --config="$DIR/kubelet/config.yaml" \
    --root-dir="$DIR/kubelet/root" --cert-dir="$DIR/kubelet/pki" \
    --container-runtime=remote --container-runtime-endpoint="unix://$DIR/containerd/containerd.sock" \
    --image-service-endpoint="unix://$DIR/containerd/containerd.sock" \
    --pod-infra-container-image="$PAUSE_IMAGE" --node-ip="$GATEWAY" --hostname-override="$NODE_NAME" \
    --v=1 >"$DIR/kubelet.log" 2>&1 &
  echo $! >"$DIR/kubelet.pid"

  # 5. kube-proxy (iptables) and kube-scheduler, metrics and health on loopback only
  nohup "$BIN/kube-proxy" --kubeconfig="$DIR/kubeconfig" --proxy-mode=iptables \
    --hostname-override="$NODE_NAME" --bind-address="$GATEWAY" --cluster-cidr="$POD_CIDR" \
    --healthz-bind-address="127.0.0.1:$PROXY_HEALTHZ" --metrics-bind-address="127.0.0.1:$PROXY_METRICS" \
    --nodeport-addresses="$GATEWAY/32" --conntrack-max-per-core=0 \
    --conntrack-tcp-timeout-established=0 --conntrack-tcp-timeout-close-wait=0 \
    --iptables-sync-period=30s --iptables-min-sync-period=0s \
    >"$DIR/kube-proxy.log" 2>&1 &
  echo $! >"$DIR/kube-proxy.pid"
  nohup "$BIN/kube-scheduler" --kubeconfig="$DIR/kubeconfig" \
    --authentication-kubeconfig="$DIR/kubeconfig" --authorization-kubeconfig="$DIR/kubeconfig" \
    --bind-address=127.0.0.1 --secure-port="$SCHED_PORT" --port=0 --leader-elect=false \
    >"$DIR/kube-scheduler.log" 2>&1 &
  echo $! >"$DIR/kube-scheduler.pid"

  # 6. wait for the node to be Ready
  local ready="" p
  for _ in $(seq 1 $((${KNODE_READY_TIMEOUT:-180} * 2))); do
    ready="$(kctl get node "$NODE_NAME" -o 'jsonpath={.status.conditions[?(@.type=="Ready")].status}' 2>/dev/null || true)"
    [ "$ready" = True ] && break
    for p in containerd kubelet kube-proxy kube-scheduler node-kcm; do
      running "$DIR/$p.pid" || { tail -20 "$DIR/$p.log" >&2; die "$p exited during start (log: $DIR/$p.log)"; }
    done
    sleep 0.5
  done
  [ "$ready" = True ] || { tail -20 "$DIR/kubelet.log" >&2; die "node $NODE_NAME is not Ready (log: $DIR/kubelet.log)"; }
  log "node $NODE_NAME Ready after $((($(date +%s%N) - t0) / 1000000)) ms (node IP $GATEWAY, pods $POD_CIDR, Services $SVC_CIDR)"
  echo "export KUBECONFIG=$DIR/kubeconfig"
}

images() {
  DIR="$(cd "$DIR" && pwd)"
  running "$DIR/containerd.pid" || die "the node is not running (scripts/kube-node.sh start $DIR)"
  local t0 w carts
  t0=$(date +%s%N)
  (cd "$ROOT" && cargo build -q --locked -p keptn-examples --example carts) >&2
  carts="$ROOT/target/debug/examples/carts"
  w="$(mktemp -d)"
  mkdir -p "$w/rootfs"
  copy_program "$carts" "$w/rootfs" carts
  # reqwest's TLS set-up (rustls with the platform's roots) refuses to build a client without
  # a CA bundle, even for plain-http flag reads: ship Debian's
  install -D -m 0644 /etc/ssl/certs/ca-certificates.crt "$w/rootfs/etc/ssl/certs/ca-certificates.crt"
  layer_of "$w/rootfs" "$w/layer.tar"
  # our sample service under names that say so; the version is the image tag and the argument
  {
    for v in 0.11.1 0.11.2 0.11.3; do
      echo "keptn-rs.local/sample-carts:$v|[\"/carts\",\"--listen\",\"0.0.0.0\",\"--port\",\"8080\",\"--version\",\"$v\"]"
    done
    echo "keptn-rs.local/sample-carts-db:0.1.0|[\"/carts\",\"--db\",\"--listen\",\"0.0.0.0\",\"--port\",\"27017\",\"--version\",\"0.1.0\"]"
    # faults for the tests: exits at once (a bad argument: crash loop), and serves only inside
    # its pod (127.0.0.1), so the readiness probe never passes
    echo "keptn-rs.local/sample-carts-crashing:0.0.1|[\"/carts\",\"--port\",\"not-a-port\"]"
    echo "keptn-rs.local/sample-carts-unready:0.0.1|[\"/carts\",\"--listen\",\"127.0.0.1\",\"--port\",\"8080\",\"--version\",\"0.0.1\"]"
  } | oci_archive "$w/images.tar" "$w/layer.tar"
  ctr_ images import "$w/images.tar" >/dev/null
  rm -rf "$w"
  log "images built and imported in $((($(date +%s%N) - t0) / 1000000)) ms"
  echo "--carts-image keptn-rs.local/sample-carts --carts-db-image keptn-rs.local/sample-carts-db:0.1.0 --kube-reach cluster-ip --kube-flags-listen $GATEWAY"
}

stop_pid() { # name
  local f="$DIR/$1.pid" p
  if running "$f"; then
    p="$(cat "$f")"
    kill "$p" 2>/dev/null || true
    for _ in $(seq 1 100); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
    kill -0 "$p" 2>/dev/null && kill -9 "$p" 2>/dev/null
  fi
  rm -f "$f"
}

# rmdir_tree DIR: removes an (empty of processes) cgroup directory tree, deepest first
rmdir_tree() {
  [ -d "$1" ] || return 0
  find "$1" -depth -type d -exec rmdir {} \; 2>/dev/null || true
}

stop() {
  [ -d "$DIR" ] || { log "nothing to stop in $DIR"; return 0; }
  DIR="$(cd "$DIR" && pwd)"
  # pods first, while kubelet and containerd still run: kubelet stops them and tears their
  # network down (CNI DEL, netns removed)
  if running "$DIR/kubelet.pid" && [ -f "$DIR/kubeconfig" ]; then
    kctl delete pods --all-namespaces --all --grace-period=1 --wait=false >/dev/null 2>&1 || true
    kctl delete deploy,rs --all-namespaces --all --wait=false >/dev/null 2>&1 || true
    for _ in $(seq 1 60); do
      [ -z "$(kctl get pods --all-namespaces -o name 2>/dev/null)" ] && break
      sleep 0.5
    done
  fi
  stop_pid kube-scheduler
  stop_pid node-kcm
  stop_pid kubelet
  stop_pid kube-proxy
  # what is left of the pods: the shims of our containerd (and their containers)
  local p
  for p in $(pgrep -f "containerd-shim-runc-v2 .*-address $DIR/containerd/containerd.sock" || true); do
    kill -9 "$p" 2>/dev/null || true
  done
  stop_pid containerd
  for p in $(pgrep -f "containerd-shim-runc-v2 .*-address $DIR/containerd/containerd.sock" || true); do
    kill -9 "$p" 2>/dev/null || true
  done
  # kube-proxy's rules, then every KUBE-*/KNODE-* chain left (kubelet's, kube-proxy's)
  [ -x "$BIN/kube-proxy" ] && "$BIN/kube-proxy" --cleanup >/dev/null 2>&1 || true
  local table chain rule
  for table in filter nat mangle; do
    while read -r rule; do
      [ -n "$rule" ] && eval "iptables -t $table ${rule/-A /-D }" 2>/dev/null || true
    done < <(iptables -t "$table" -S 2>/dev/null | grep -E '^-A [A-Z]+ .*-j (KUBE|KNODE)-' | grep -vE '^-A (KUBE|KNODE)-' || true)
    for chain in $(iptables -t "$table" -S 2>/dev/null | awk '/^-N (KUBE|KNODE)-/ {print $2}'); do
      iptables -t "$table" -F "$chain" 2>/dev/null || true
    done
    for chain in $(iptables -t "$table" -S 2>/dev/null | awk '/^-N (KUBE|KNODE)-/ {print $2}'); do
      iptables -t "$table" -X "$chain" 2>/dev/null || true
    done
  done
  # mounts under DIR (deepest first) and the pods' network namespaces created since start
  local m
  for m in $(awk -v d="$DIR/" 'index($2, d) == 1 {print $2}' /proc/self/mounts | sort -r); do
    umount -l "$m" 2>/dev/null || true
  done
  if [ -d /run/netns ]; then
    for m in $(ls /run/netns); do
      grep -qx "$m" "$DIR/netns.found" 2>/dev/null && continue
      case "$m" in cni-*) umount -l "/run/netns/$m" 2>/dev/null || true; rm -f "/run/netns/$m" ;; esac
    done
    [ -s "$DIR/netns.found" ] || rmdir /run/netns 2>/dev/null || true
  fi
  rm -rf /var/lib/cni/results/keptn-node-* 2>/dev/null || true
  [ -f "$DIR/varlibcni.found" ] || rm -rf /var/lib/cni
  [ -f "$DIR/runcontainerd.found" ] || rm -rf /run/containerd
  rm -f "$DIR/varlibcni.found" "$DIR/runcontainerd.found" "$DIR/netns.found"
  ip link del "$BRIDGE" 2>/dev/null || true # its addresses and the Service route go with it
  # the pods' cgroups
  local c
  for c in /sys/fs/cgroup/*/kubepods /sys/fs/cgroup/unified/kubepods; do rmdir_tree "$c"; done
  # kernel settings back to the values found at start
  if [ -f "$DIR/sysctl.found" ]; then
    while IFS='=' read -r k v; do
      [ "$(sysctl -n "$k" 2>/dev/null)" = "$v" ] || sysctl -qw "$k=$v" >/dev/null 2>&1 || log "cannot restore $k=$v"
    done <"$DIR/sysctl.found"
    rm -f "$DIR/sysctl.found"
  fi
  K8S_API_PORT="$API_PORT" K8S_ETCD_PORT="$ETCD_PORT" K8S_WIPE=1 "$ROOT/scripts/kube-apiserver.sh" stop "$DIR"
  rm -rf "$DIR/containerd/root" "$DIR/containerd/state" "$DIR/kubelet/root" "$DIR/cni/ipam"
  log "stopped; $DIR keeps the logs"
}

case "$CMD" in
  build) install_deps; build_node ;;
  start) DIR="${2:?DIR}"; start ;;
  images) DIR="${2:?DIR}"; images ;;
  stop) DIR="${2:?DIR}"; stop ;;
  *) echo "usage: $0 start DIR | images DIR | stop DIR | build" >&2; exit 2 ;;
esac
