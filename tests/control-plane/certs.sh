# shellcheck shell=bash
# Certificates and kubeconfigs for a throw-away control plane, made with the
# openssl CLI: a CA, the kube-apiserver serving certificate, client
# certificates for the admin and for kube-controller-manager, and the
# service-account signing key pair. Sourced by up.sh, never run.

# ECDSA P-256 keys are quick to generate and accepted by Go, rustls and curl;
# OpenSSL 3 writes them as PKCS#8 ("BEGIN PRIVATE KEY"), which Go and rustls read.
CP_EC_KEY=(-newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes)

# cp_client_cert NAME CN ORG writes NAME.crt and NAME.key signed by the CA.
cp_client_cert() {
  local name=$1 cn=$2 org=$3
  openssl req "${CP_EC_KEY[@]}" -keyout "$name.key" -out "$name.csr" -subj "/O=$org/CN=$cn" 2>/dev/null
  printf 'extendedKeyUsage=clientAuth\n' >client.ext
  openssl x509 -req -in "$name.csr" -CA ca.crt -CAkey ca.key -CAcreateserial -days 30 \
    -extfile client.ext -out "$name.crt" 2>/dev/null
  rm -f "$name.csr"
}

# cp_make_certs writes every certificate and key into the current folder.
cp_make_certs() {
  # The CA lives only as long as the folder, so a short validity is enough.
  openssl req -x509 "${CP_EC_KEY[@]}" -days 30 -keyout ca.key -out ca.crt -subj /CN=testenv-ca \
    -addext basicConstraints=critical,CA:TRUE \
    -addext keyUsage=critical,keyCertSign,cRLSign,digitalSignature 2>/dev/null
  openssl req "${CP_EC_KEY[@]}" -keyout apiserver.key -out apiserver.csr -subj /CN=kube-apiserver 2>/dev/null
  # rustls (kube-rs) checks the IP SAN when the server URL is an IP address.
  # 10.0.0.1 is the `kubernetes` Service's ClusterIP (the first address of
  # up.sh's --service-cluster-ip-range), which Pods on the node's network use,
  # as a real cluster's apiserver certificate names it. 10.88.0.1 is the node's
  # bridge address, where kube-apiserver listens when a node runs (node.sh).
  printf 'subjectAltName=IP:127.0.0.1,DNS:localhost,IP:10.0.0.1,IP:10.88.0.1,DNS:kubernetes.default.svc\nextendedKeyUsage=serverAuth\n' >server.ext
  openssl x509 -req -in apiserver.csr -CA ca.crt -CAkey ca.key -CAcreateserial -days 30 \
    -extfile server.ext -out apiserver.crt 2>/dev/null
  rm -f apiserver.csr
  # O=system:masters is the built-in superuser group, bound before RBAC is even bootstrapped.
  cp_client_cert admin admin system:masters
  # kube-controller-manager gets its own identity (so its requests are told
  # apart in managedFields and logs) but superuser rights: without
  # --use-service-account-credentials the garbage collector needs to list and
  # delete every resource, more than the bootstrap role of its user allows.
  cp_client_cert kcm system:kube-controller-manager system:masters
  # Service-account tokens are signed with RSA, the algorithm every verifier supports.
  openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out sa.key 2>/dev/null
  openssl pkey -in sa.key -pubout -out sa.pub
}

# cp_kubeconfig FILE HOST:PORT USER writes a kubeconfig for USER (USER.crt/.key)
# with every certificate embedded, so the file stays valid when copied.
cp_kubeconfig() {
  local file=$1 addr=$2 user=$3
  local b64='base64 -w0'
  cat >"$file" <<EOF
apiVersion: v1
kind: Config
clusters:
- name: testenv
  cluster:
    server: https://$addr
    certificate-authority-data: $($b64 <ca.crt)
users:
- name: $user
  user:
    client-certificate-data: $($b64 <"$user.crt")
    client-key-data: $($b64 <"$user.key")
contexts:
- name: testenv
  context:
    cluster: testenv
    user: $user
current-context: testenv
EOF
  chmod 600 "$file"
}
