#!/bin/sh
# SPDX-License-Identifier: MIT
#
# tls_fixture.sh DIR: make the test certificates for test_tls in DIR with the
# openssl CLI (fails loudly when openssl is missing: make deps installs it).
#
#   ca.crt ca.key        "ringmta test CA" (EC P-256, CA:TRUE)
#   mx.crt mx.key        mx.test.example signed by the test CA (RSA 2048),
#                        mx-chain.crt = mx.crt followed by ca.crt
#   self.crt self.key    mx.test.example, self-signed (EC P-256)
#   ec.crt ec.key        mx.test.example signed by the test CA (EC P-256),
#                        ec-chain.crt = ec.crt followed by ca.crt
#
# Every file is regenerated on each run; nothing outside DIR is touched.  A
# private openssl.cnf keeps the result independent of the system config.
set -eu
[ $# -eq 1 ] || { echo "usage: $0 DIR" >&2; exit 2; }
dir=$1
command -v openssl >/dev/null 2>&1 || { echo "$0: openssl not found" >&2; exit 1; }
mkdir -p "$dir"
cd "$dir"

cat >openssl.cnf <<'CNF'
[req]
distinguished_name = dn
prompt = no
[dn]
[v3_ca]
basicConstraints = critical, CA:TRUE
keyUsage = critical, keyCertSign, cRLSign
subjectKeyIdentifier = hash
[v3_leaf]
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature, keyEncipherment
extendedKeyUsage = serverAuth
subjectAltName = DNS:mx.test.example
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
[v3_self]
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature
extendedKeyUsage = serverAuth
subjectAltName = DNS:mx.test.example
CNF
export OPENSSL_CONF="$PWD/openssl.cnf"
days=3650

openssl req -x509 -config openssl.cnf -extensions v3_ca \
	-newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes \
	-keyout ca.key -out ca.crt -days "$days" \
	-subj "/O=ringmta tests/CN=ringmta test CA" 2>/dev/null

openssl req -new -config openssl.cnf -newkey rsa:2048 -nodes \
	-keyout mx.key -out mx.csr -subj "/CN=mx.test.example" 2>/dev/null
openssl x509 -req -in mx.csr -CA ca.crt -CAkey ca.key -set_serial 2 \
	-days "$days" -extfile openssl.cnf -extensions v3_leaf \
	-out mx.crt 2>/dev/null
cat mx.crt ca.crt >mx-chain.crt

openssl req -new -config openssl.cnf \
	-newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes \
	-keyout ec.key -out ec.csr -subj "/CN=mx.test.example" 2>/dev/null
openssl x509 -req -in ec.csr -CA ca.crt -CAkey ca.key -set_serial 3 \
	-days "$days" -extfile openssl.cnf -extensions v3_leaf \
	-out ec.crt 2>/dev/null
cat ec.crt ca.crt >ec-chain.crt

openssl req -x509 -config openssl.cnf -extensions v3_self \
	-newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes \
	-keyout self.key -out self.crt -days "$days" \
	-subj "/CN=mx.test.example" 2>/dev/null

rm -f mx.csr ec.csr
openssl verify -CAfile ca.crt mx.crt ec.crt >/dev/null
