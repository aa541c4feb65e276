#!/bin/sh
# Builds the Refund Desk image without pulling any base image: the static
# binary is built here with the host's Go, and the image starts FROM
# scratch (deploy/Dockerfile.scratch).
#
#   deploy/build-image.sh                 # image refunddesk:latest
#   IMAGE=registry.example.com/refunddesk:1.4 deploy/build-image.sh
#   GOARCH=arm64 deploy/build-image.sh    # for another architecture
#   deploy/build-image.sh -context DIR    # only prepare the build context in DIR (no docker needed)
set -eu

cd "$(dirname "$0")/.."
image=${IMAGE:-refunddesk:latest}
context=""
if [ "${1:-}" = "-context" ]; then
	context=${2:?"-context needs a directory"}
	mkdir -p "$context"
else
	context=$(mktemp -d)
	trap 'rm -rf "$context"' EXIT
fi

# The CA bundle NeoX's certificates are checked against: the host's.
ca=""
for f in /etc/ssl/certs/ca-certificates.crt /etc/pki/tls/certs/ca-bundle.crt /etc/ssl/cert.pem; do
	if [ -s "$f" ]; then ca=$f; break; fi
done
if [ -z "$ca" ]; then
	echo "build-image: no CA bundle found on this host (install ca-certificates)" >&2
	exit 1
fi

CGO_ENABLED=0 GOOS=linux GOARCH=${GOARCH:-$(go env GOARCH)} \
	go build -trimpath -ldflags="-s -w" -o "$context/refunddesk" ./cmd/web
cp "$ca" "$context/ca-certificates.crt"
mkdir -p "$context/data"
cp deploy/Dockerfile.scratch "$context/Dockerfile"

if [ "${1:-}" = "-context" ]; then
	echo "build context ready in $context; build it with: docker build -t $image $context"
	exit 0
fi
docker build -t "$image" "$context"
echo "built $image"
