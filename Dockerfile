# Refund Desk: a static binary on an empty image.
#
#   docker build -t refunddesk .
#   docker run -d --name refunddesk -p 127.0.0.1:8080:8080 -v refunddesk-data:/data \
#     -e BASE_URL=https://refunds.example.com -e TRUSTED_PROXIES=172.17.0.1/32 refunddesk
#
# The build stage pulls the golang image. Where no image may be pulled,
# deploy/build-image.sh builds the binary on the host and the image from
# deploy/Dockerfile.scratch, which starts FROM scratch and pulls nothing.

FROM golang:1.26-alpine AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
# CGO_ENABLED=0: modernc.org/sqlite is pure Go, so the binary needs no libc.
RUN CGO_ENABLED=0 go build -trimpath -ldflags="-s -w" -o /out/refunddesk ./cmd/web \
 && mkdir -p /out/data

FROM scratch
# NeoX is called over TLS: the CA bundle is all the image needs besides the binary.
COPY --from=build /etc/ssl/certs/ca-certificates.crt /etc/ssl/certs/ca-certificates.crt
COPY --from=build /out/refunddesk /refunddesk
# The data directory belongs to the unprivileged user; a new named volume
# mounted here inherits that owner.
COPY --from=build --chown=10001:10001 /out/data /data
USER 10001:10001
ENV ADDR=0.0.0.0:8080 DATA_DIR=/data
VOLUME ["/data"]
EXPOSE 8080
# scratch has no curl: the binary checks itself (GET /healthz on ADDR).
HEALTHCHECK --interval=30s --timeout=5s --start-period=15s --retries=3 CMD ["/refunddesk", "healthcheck"]
ENTRYPOINT ["/refunddesk"]
